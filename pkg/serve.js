// `objectstack-metadata serve`: the metadata server on the SQLite store
// (the embedded default) or PostgreSQL (--database-url, or DATABASE_URL),
// with bearer tokens and an access policy from
// files, until SIGINT or SIGTERM.

import { readFile } from 'node:fs/promises';
import { MetadataService } from './index.node.js';
import { createHandler, listen } from './server.js';
import { openStore } from './open-store.js';

async function readJsonFile(path, what) {
  let text;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    const error = new Error(`cannot read the ${what} file ${path}: ${cause.message}`);
    error.code = 'VALIDATION';
    throw error;
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    const error = new Error(`the ${what} file ${path} is not JSON: ${cause.message}`);
    error.code = 'VALIDATION';
    throw error;
  }
}

/**
 * Starts the server; resolves to `{ url, stop() }` once it accepts
 * connections. `options`: db or database-url, port, host, tokens (file),
 * policy (file).
 */
export async function startServer(options, { log = console.log } = {}) {
  const tokens = options.tokens ? await readJsonFile(options.tokens, 'tokens') : null;
  const policy = options.policy ? await readJsonFile(options.policy, 'policy') : undefined;
  const store = await openStore({ db: options.db, databaseUrl: options['database-url'] });
  let service;
  let running;
  try {
    service = await MetadataService.create({ store, actor: 'server', ...(policy ? { policy } : {}) });
    const handler = createHandler({ service, tokens });
    const port = options.port === undefined ? 3000 : Number(options.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      const error = new Error(`--port must be 0-65535, not ${JSON.stringify(options.port)}`);
      error.code = 'VALIDATION';
      throw error;
    }
    running = await listen(handler, { port, host: options.host ?? '127.0.0.1' });
    if (handler.development) {
      log('development mode: no --tokens, so every request acts as one anonymous developer with every permission (loopback only)');
    }
    log(`listening on ${running.url}`);
    return {
      url: running.url,
      async stop() {
        await running.close();
        handler.close();
        await store.close();
      },
    };
  } catch (error) {
    await running?.close();
    await store.close();
    throw error;
  }
}

/** The command: serves until a signal, then stops cleanly. */
export async function serveCommand(options) {
  const server = await startServer(options);
  await new Promise((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.stop();
  return 0;
}
