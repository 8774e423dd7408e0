/**
 * The route pattern a request was served by — `/auth/sessions/:handle`, `/api/odata/*` — for log lines and metric
 * labels. Never the raw path: that would carry record ids and OData queries into the logs and make metric series
 * unbounded.
 *
 * Express knows the matched route (`req.route.path`) but not, after an error has left the router, where that
 * router was mounted; so the full patterns are listed once from the app's routers (router's `listRoutes()`), and a
 * request's route is looked up among them. Paths served by middleware rather than a route (the proxy, static
 * files) are named by their mount prefix; anything else is `(unmatched)`.
 */
import type { Express, Request } from 'express';

export const UNMATCHED = '(unmatched)';

interface ListedRoute {
  readonly path: string | RegExp;
  readonly router?: RouterLike;
}
interface RouterLike {
  listRoutes?(): ListedRoute[];
}
interface Mounted {
  readonly mount: string;
  readonly pattern: string;
}

function join(mount: string, path: string): string {
  if (path === '/' && mount !== '') return mount;
  return `${mount}${path}`.replace(/\/{2,}/g, '/');
}

function collect(router: RouterLike, mount: string, into: Map<string, Mounted[]>): void {
  for (const { path, router: child } of router.listRoutes?.() ?? []) {
    if (typeof path !== 'string') continue;
    if (child) {
      collect(child, path === '/' ? mount : join(mount, path), into);
    } else {
      const list = into.get(path) ?? [];
      list.push({ mount, pattern: join(mount, path) });
      into.set(path, list);
    }
  }
}

function pathOf(req: Request): string {
  const url = req.originalUrl;
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

const under = (path: string, prefix: string): boolean =>
  prefix === '' || path === prefix || path.startsWith(`${prefix}/`);

/**
 * `prefixes` name the mounts served without a route (e.g. `/api/odata`, `/static`); the longest that matches wins.
 * The app's routes are listed on the first call, when every router is mounted.
 */
export function createRoutePatterns(app: Express, prefixes: readonly string[]): (req: Request) => string {
  let routes: Map<string, Mounted[]> | undefined;
  const byLength = [...prefixes].sort((a, b) => b.length - a.length);

  return function routePattern(req) {
    const routePath = req.route?.path;
    if (typeof routePath === 'string') {
      routes ??= collectRoutes(app);
      const candidates = routes.get(routePath);
      if (candidates?.length === 1) return candidates[0]!.pattern;
      if (candidates) {
        const path = pathOf(req);
        let best: Mounted | undefined;
        for (const c of candidates)
          if (under(path, c.mount) && (!best || c.mount.length > best.mount.length)) best = c;
        if (best) return best.pattern;
      }
      return join(req.baseUrl, routePath);
    }
    const path = pathOf(req);
    for (const prefix of byLength) if (under(path, prefix)) return `${prefix}/*`;
    return UNMATCHED;
  };
}

function collectRoutes(app: Express): Map<string, Mounted[]> {
  const routes = new Map<string, Mounted[]>();
  collect((app as unknown as { router: RouterLike }).router, '', routes);
  return routes;
}
