/**
 * Bench child: a Creatio stand-in that costs as little as possible, so the benchmark measures the proxy and not the
 * sandbox's OData engine. Answers any bearer request with a fixed OData page, after `latency` ms (set over IPC);
 * `/0/odata/Big?bytes=N` streams N bytes with backpressure. It checks only that a bearer token came along.
 */
import { createServer } from 'node:http';
import { serveAsChild } from './children.ts';

const page = Buffer.from(
  JSON.stringify({
    '@odata.context': 'http://creatio/0/odata/$metadata#Account(Id,Name)',
    value: Array.from({ length: 10 }, (_, i) => ({
      Id: `c4ed336c-3e9b-40fe-8b82-5632476472b${i}`,
      Name: `Account number ${i} with a name of ordinary length`,
    })),
  }),
);
const pageHeaders = {
  'content-type': 'application/json; odata.metadata=minimal; odata.streaming=true',
  'odata-version': '4.0',
  'content-length': String(page.length),
};
const chunk = Buffer.alloc(64 * 1024, 120);
let latencyMs = 0;

const server = createServer((req, res) => {
  req.resume();
  if (!req.headers.authorization?.startsWith('Bearer ')) {
    res.writeHead(401, { 'www-authenticate': 'Bearer' });
    res.end();
    return;
  }
  if (req.url?.startsWith('/0/odata/Big')) {
    let left = Number(new URL(req.url, 'http://x').searchParams.get('bytes') ?? 0);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(left) });
    const pump = () => {
      while (left > 0) {
        const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= piece.length;
        if (!res.write(piece)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
    return;
  }
  if (latencyMs > 0) {
    setTimeout(() => {
      res.writeHead(200, pageHeaders);
      res.end(page);
    }, latencyMs);
  } else {
    res.writeHead(200, pageHeaders);
    res.end(page);
  }
});
server.keepAliveTimeout = 60_000;

serveAsChild(server, {
  commands: {
    latency(message) {
      latencyMs = typeof message.ms === 'number' ? message.ms : 0;
      process.send?.({ cmd: 'latency', ok: true });
    },
  },
});
