#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks for the test suite: Chromium (browser tests), redis-server (the
# shared session store's tests), nginx (the tested deployment example in deploy/), glewlwyd (a second,
# independent OpenID provider for the interop suite) and xmllint (libxml2-utils: validates the doctor's JUnit report
# against test/support/junit.xsd). Idempotent; needs root or sudo for apt-get.
set -euo pipefail

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ -x /usr/sbin/nginx ] || need+=(nginx)
[ -x /usr/bin/glewlwyd ] || need+=(glewlwyd)
command -v xmllint >/dev/null 2>&1 || need+=(libxml2-utils)
command -v openssl >/dev/null 2>&1 || need+=(openssl) # a throw-away certificate for the rediss:// (TLS) test

if [ ${#need[@]} -gt 0 ]; then
  echo "Installing: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# Browser tests must never be skipped silently: fail here, loudly, if Chromium is still missing.
if [ ! -x /usr/bin/chromium ]; then
  echo "ERROR: /usr/bin/chromium is missing after install; the browser tests cannot run." >&2
  exit 1
fi
if ! command -v redis-server >/dev/null 2>&1; then
  echo "ERROR: redis-server is missing after install; the Redis session-store tests cannot run." >&2
  exit 1
fi
for bin in /usr/sbin/nginx /usr/bin/glewlwyd /usr/bin/xmllint; do
  if [ ! -x "$bin" ]; then
    echo "ERROR: $bin is missing after install; the deployment, interop and JUnit-report tests cannot run." >&2
    exit 1
  fi
done
echo "System dependencies OK: $(/usr/bin/chromium --version 2>/dev/null | head -1), $(redis-server --version | cut -d' ' -f1-3)"
