// Serves the demo page and the built package on 127.0.0.1.
// `node scripts/serve.mjs [port]` (default 8080; 0 picks a free port).
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
};
// The page runs under a strict Content Security Policy: scripts only from
// this origin, WebAssembly compiled, nothing evaluated from strings (no
// eval, no new Function): the package must work that way.
export const CSP = "script-src 'self' 'wasm-unsafe-eval'";

// URL prefix -> folder. Nothing outside these folders is served.
const MOUNTS = [
  ['/pkg/', join(root, 'pkg')],
  ['/data/', join(root, 'tests', 'data')],
  ['/', join(root, 'www')],
];

function resolve(urlPath, mounts) {
  const path = decodeURIComponent(urlPath.split('?')[0]);
  for (const [prefix, dir] of mounts) {
    if (!path.startsWith(prefix)) continue;
    const rel = path.slice(prefix.length) || 'index.html';
    const file = normalize(join(dir, rel));
    if (file !== dir && !file.startsWith(dir + sep)) return null;
    return file;
  }
  return null;
}

/**
 * Starts the server; resolves to { server, url }. `extra` mounts more
 * folders ([urlPrefix, folder] pairs, checked before the defaults);
 * `csp: false` leaves the policy out (pages of others, with inline scripts).
 */
export function startServer(port = 8080, extra = [], { csp = true } = {}) {
  const mounts = [...extra, ...MOUNTS];
  const server = createServer(async (req, res) => {
    const file = resolve(req.url ?? '/', mounts);
    if (!file || req.method !== 'GET') {
      res.writeHead(file ? 405 : 404).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
        ...(csp ? { 'content-security-policy': CSP } : {}),
      });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => {
      ok({ server, url: `http://127.0.0.1:${server.address().port}/` });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] ?? process.env.PORT ?? 8080);
  const { url } = await startServer(port);
  console.log(`demo: ${url}  (Ctrl-C to stop)`);
}
