// Child process of bench/http-bench.mjs: this package's metadata server on
// the SQLite store, as the README mounts it (createHandler + listen), with
// one bearer token. Tells the parent its port over IPC; stops on SIGTERM.
//
//   node bench/http/ours-server.mjs <database file> <token>

import { MetadataService } from '@objectstack/metadata-wasm';
import { createHandler, listen } from '@objectstack/metadata-wasm/server';
import { openSqliteStore } from '@objectstack/metadata-wasm/sqlite';

const [dbFile, token] = process.argv.slice(2);
const store = await openSqliteStore(dbFile);
const service = await MetadataService.create({ store, actor: 'server' });
// No policy: every token may do everything (an administrator).
const handler = createHandler({ service, tokens: { [token]: { actor: 'bench', roles: ['admin'] } } });
const running = await listen(handler, { port: 0, host: '127.0.0.1' });

process.once('SIGTERM', async () => {
  await running.close();
  handler.close();
  store.close();
  process.exit(0);
});
// The parent asks for this process's CPU time around each measurement.
process.on('message', (m) => {
  if (m === 'cpu') process.send({ cpu: process.cpuUsage() });
});
process.send({ port: Number(new URL(running.url).port) });
