// The static dashboard (issue 14): `GET /` answers the built index.html and `GET /assets/<file>`
// the bundle esbuild wrote to dist/dashboard/ (src/dashboard/build.ts). Only the files listed
// in that directory when the server started are served, so no path can reach anything else;
// no token is needed (the page asks for one and sends it on every /v1 call).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { NotFoundError } from '../errors.js';

/** What the page may load: its own origin only (inline styles for uPlot and the SVG's badges). */
export const DASHBOARD_CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dashboard not built — leasehold</title></head>
<body style="font-family: system-ui, sans-serif; margin: 3rem; color: #1e293b">
<h1>The dashboard is not built</h1>
<p>Run <code>npm run build</code> in the leasehold package, then reload this page.</p>
<p>The HTTP API under <code>/v1</code> works without it.</p>
</body></html>
`;

/** The package root: the nearest folder above this module whose package.json is leasehold's (works from src/ under tsx and from dist/src/). */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (manifest.name === 'leasehold') return dir;
    } catch {
      // No package.json here (or not JSON): keep walking up.
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/** Where `npm run build` writes the bundle. */
export function defaultDashboardDir(): string | undefined {
  const root = packageRoot();
  return root && join(root, 'dist', 'dashboard');
}

/** The built files by name (read once): index.html plus the assets. Empty when not built. */
function builtFiles(dir: string | undefined): Map<string, { body: Buffer; type: string }> {
  const files = new Map<string, { body: Buffer; type: string }>();
  if (!dir) return files;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return files;
  }
  for (const name of names) {
    const type = TYPES[extname(name)];
    const path = join(dir, name);
    if (type && statSync(path).isFile()) files.set(name, { body: readFileSync(path), type });
  }
  return files;
}

function secure(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', DASHBOARD_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer');
}

export function registerDashboard(app: FastifyInstance, dir: string | undefined) {
  const files = builtFiles(dir);
  const index = files.get('index.html');
  app.get('/', { config: { who: 'none' } }, (_request, reply) => {
    if (!index) return secure(reply).code(503).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT);
    // index.html names the hashed bundle: always revalidated, so a rebuild is picked up.
    return secure(reply).type(index.type).header('cache-control', 'no-cache').send(index.body);
  });
  app.get<{ Params: { file: string } }>('/assets/:file', { config: { who: 'none' } }, (request, reply) => {
    const name = request.params.file;
    const file = name === 'index.html' ? undefined : files.get(name);
    if (!file) throw new NotFoundError(`no dashboard asset ${JSON.stringify(name)}`);
    // Hashed names change with their content; an unhashed one (app.js) is revalidated.
    const cache = /-[A-Z0-9]{8,}\.\w+$/i.test(name) ? 'public, max-age=31536000, immutable' : 'no-cache';
    return secure(reply).type(file.type).header('cache-control', cache).send(file.body);
  });
}
