/**
 * Bench child: the naive BFF the issue compares against, written the way a first BFF usually is — express,
 * express-session with its MemoryStore, and fetch. It checks X-CSRF and the session like ours, keeps the access
 * token in the session, and streams the answer back. Sign-in is replaced by `POST /bench/session` (the bench hands
 * it a token), since only the proxied call is measured.
 */
import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import express from 'express';
import session from 'express-session';
import { serveAsChild } from './children.ts';

/** The naive BFF keeps the token in the session object itself. */
type NaiveSession = { accessToken?: string };

const creatioUrl = process.env.CREATIO_URL ?? '';
const app = express();
app.use(
  session({
    secret: 'naive-bff-bench-secret-naive-bff-bench-secret',
    resave: false,
    saveUninitialized: false,
    rolling: true,
    cookie: { httpOnly: true, sameSite: 'lax', maxAge: 30 * 60_000 },
  }),
);
app.post('/bench/session', express.json(), (req, res) => {
  (req.session as NaiveSession).accessToken = (req.body as { accessToken: string }).accessToken;
  res.sendStatus(204);
});
app.use('/api/odata', async (req, res) => {
  if (req.get('x-csrf') !== '1') {
    res.status(403).json({ error: 'csrf_header_missing' });
    return;
  }
  const token = (req.session as NaiveSession).accessToken;
  if (!token) {
    res.status(401).json({ error: 'unauthenticated' });
    return;
  }
  const upstream = await fetch(`${creatioUrl}/0/odata${req.url}`, {
    method: req.method,
    headers: { authorization: `Bearer ${token}`, accept: req.get('accept') ?? 'application/json' },
  });
  res.status(upstream.status);
  const type = upstream.headers.get('content-type');
  if (type) res.setHeader('content-type', type);
  if (!upstream.body) {
    res.end();
    return;
  }
  Readable.fromWeb(upstream.body as WebReadableStream).pipe(res);
});

const server = createServer(app);
serveAsChild(server);
