/**
 * `npm run redirect-urls -- list|add <url>…|update <id> <url>|delete <id>|create-client …`: manage the redirect URLs
 * of an integrated application through Creatio's OAuthConfigService (seed 004), as a technical user that is a system
 * administrator (CREATIO_ADMIN_CLIENT_ID / CREATIO_ADMIN_CLIENT_SECRET, a client-credentials application). Reads .env
 * like `npm start`. Exit code 0 done, 1 refused or failed, 2 wrong usage; never a stack trace.
 */
import { config as loadDotenv } from 'dotenv';
import { ConfigError, isLoopbackHost } from '../../server/config.ts';
import { loadRedirectUrlsSettings, runRedirectUrls, USAGE } from './commands.ts';

const out = {
  line: (text: string) => process.stdout.write(`${text}\n`),
  error: (text: string) => process.stderr.write(`${text}\n`),
};

export async function redirectUrlsCli(args: readonly string[]): Promise<number> {
  loadDotenv({ quiet: true });
  if (args.length === 0 || args[0] === 'help' || args.includes('--help')) {
    out.line(USAGE);
    return args.length === 0 ? 2 : 0;
  }
  let settings: ReturnType<typeof loadRedirectUrlsSettings>;
  try {
    settings = loadRedirectUrlsSettings(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const issue of error.issues) out.error(issue);
    return 1;
  }
  const { protocol, hostname } = new URL(settings.identityServiceUrl);
  if (protocol === 'http:' && !isLoopbackHost(hostname)) {
    out.error(
      `⚠ IDENTITY_SERVICE_URL uses plain http to ${hostname}: the admin client secret travels unencrypted.`,
    );
  }
  try {
    return await runRedirectUrls(args, settings, out);
  } catch (error) {
    out.error(`❌ redirect-urls failed: ${(error as Error).message}`);
    return 1;
  }
}
