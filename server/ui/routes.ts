/**
 * The browser UI: the pages rendered from views/. The pages hold no data; their scripts (public/js/) fetch it
 * through /api/odata with `X-CSRF: 1`, so the browser never sees a token and the server never renders one.
 */
import { type RequestHandler, Router } from 'express';
import type { Config } from '../config.ts';
import { BffError, ErrorCode } from '../errors.ts';
import { requireSessionOrSignIn } from '../security/require-session.ts';
import { setPageLocals } from './locals.ts';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface UiDeps {
  readonly config: Config;
}

/** Pages show who is signed in, so no shared cache may keep them. */
const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  next();
};

export function createUiRouter({ config }: UiDeps): Router {
  // What the home page says it is connected to; computed once, not per request.
  const connection = Object.freeze({
    creatioUrl: config.creatioUrl,
    sandbox: config.sandbox,
  });

  const router = Router();
  router.use(setPageLocals, noStore);
  router.get('/', (_req, res) => res.render('home', { title: 'Home', connection }));
  router.get('/accounts', requireSessionOrSignIn, (_req, res) =>
    res.render('accounts', { title: 'Accounts' }),
  );
  router.get('/accounts/:id', requireSessionOrSignIn, (req, res, next) => {
    // Only a GUID reaches the page (and from there the OData key): anything else is a page that does not exist.
    const id = String(req.params.id);
    if (!GUID.test(id)) return next(new BffError(ErrorCode.NotFound, { logDetail: `account page ${id}` }));
    res.render('account', { title: 'Account', accountId: id.toLowerCase() });
  });
  router.get('/explorer', requireSessionOrSignIn, (_req, res) =>
    res.render('explorer', { title: 'OData explorer' }),
  );
  router.get('/account/sessions', requireSessionOrSignIn, (_req, res) =>
    res.render('sessions', { title: 'Your sessions' }),
  );
  return router;
}
