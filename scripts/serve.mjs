// The demo: the metadata server on SQLite (a file in a data folder, seeded
// with the platform objects on first start) and the demo page, on
// 127.0.0.1. The page keeps an IndexedDB cache of the server and follows
// its change stream, so windows editing the same record see each other's
// changes live.
//
// `node scripts/serve.mjs [port]` (default 8080; 0 picks a free port);
// DATA_DIR picks the data folder (default ./data).
import { createServer } from 'node:http';
import { mkdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, resolve as resolvePath, sep } from 'node:path';
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

function fileFor(urlPath, mounts) {
  let path;
  try {
    path = decodeURIComponent(urlPath.split('?')[0]);
  } catch {
    return null;
  }
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
 * A listener serving the static folders of `mounts`; `csp: false` leaves
 * the policy out (pages of others, with inline scripts).
 */
function staticFiles(mounts, { csp = true } = {}) {
  return async (req, res) => {
    const file = fileFor(req.url ?? '/', mounts);
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
  };
}

function listenOn(server, port) {
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok(`http://127.0.0.1:${server.address().port}/`));
  });
}

/**
 * Serves the static folders only (the benchmarks' and consumer tests'
 * pages); `extra` mounts more folders ([urlPrefix, folder] pairs, checked
 * before the defaults). Resolves to { server, url }.
 */
export async function startServer(port = 8080, extra = [], { csp = true } = {}) {
  const server = createServer(staticFiles([...extra, ...MOUNTS], { csp }));
  return { server, url: await listenOn(server, port) };
}

/** The platform objects and two views, the demo's first content. */
function seedItems() {
  const corpus = JSON.parse(readFileSync(join(root, 'tests', 'data', 'platform-objects.json'), 'utf8'));
  return [
    ...corpus.map((o) => ({ type: o.type, name: o.name, data: o.data, options: { source: 'migration', tags: ['platform'] } })),
    { type: 'view', name: 'all_accounts', data: { label: 'All accounts', object: 'sys_account', columns: ['provider_id', 'user_id'] }, options: { tags: ['crm'] } },
    { type: 'view', name: 'recent_sessions', data: { label: 'Recent sessions', object: 'sys_session', sort: [{ field: 'created_at', order: 'desc' }] } },
  ];
}

/**
 * The demo: the metadata server on SQLite in `dataDir` (seeded on first
 * start) under /api/, and the page. Resolves to { url, close() }.
 */
export async function startDemo({ port = 8080, dataDir = join(root, 'data') } = {}) {
  const [{ MetadataService }, { createHandler, nodeListener }, { openSqliteStore }] = await Promise.all([
    import('../pkg/index.node.js'),
    import('../pkg/server.js'),
    import('../pkg/sqlite.js'),
  ]);
  mkdirSync(dataDir, { recursive: true });
  const store = await openSqliteStore(join(dataDir, 'metadata.db'));
  const service = await MetadataService.create({ store, actor: 'server' });
  if ((await service.lastSequence()) === 0) await service.saveMany(seedItems());
  const handler = createHandler({ service });
  const api = nodeListener(handler);
  const files = staticFiles(MOUNTS);
  const server = createServer((req, res) => ((req.url ?? '').startsWith('/api/') ? api(req, res) : files(req, res)));
  server.headersTimeout = 10_000;
  const url = await listenOn(server, port);
  return {
    url,
    dataDir: resolvePath(dataDir),
    close: () => new Promise((done) => {
      server.closeAllConnections();
      server.close(() => {
        handler.close();
        store.close();
        done();
      });
    }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] ?? process.env.PORT ?? 8080);
  const demo = await startDemo({ port, dataDir: process.env.DATA_DIR ?? join(root, 'data') });
  console.log(`metadata server on SQLite (${join(demo.dataDir, 'metadata.db')}), development mode: no tokens, loopback only`);
  console.log(`demo: ${demo.url}  (open it in two windows; Ctrl-C to stop)`);
  const stop = async () => {
    await demo.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
