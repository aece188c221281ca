// Host stores for the store contract suite in Node (tests/wasm_node.rs):
// key-value hosts over a Map (callbacks answering at once or with a
// Promise, with and without an atomic `commit`) and the SQLite record host,
// each with faults that fire before a write, or after it landed.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const WRITES = new Set(['put', 'delete', 'commit']);

// Wraps a host's write functions so that an armed fault fires on the n-th
// write call: before it (nothing lands) or after it landed.
function faulty(host) {
  const state = { calls: 0, at: 0, after: false };
  const out = Object.create(null);
  for (const [name, value] of Object.entries(host)) {
    if (typeof value !== 'function' || !WRITES.has(name)) {
      out[name] = value;
      continue;
    }
    // Answers as the wrapped function does: at once, or with a Promise.
    out[name] = (...args) => {
      state.calls += 1;
      const firing = state.at === state.calls;
      if (firing && !state.after) throw new Error(`${name} refused (fault before the write)`);
      const result = value.apply(host, args);
      if (!firing) return result;
      const lost = () => { throw new Error(`${name} lost its connection after the write landed`); };
      if (result && typeof result.then === 'function') return result.then(lost);
      return lost();
    };
  }
  const arm = (kind, n) => {
    state.calls = 0;
    state.at = kind === 'off' ? 0 : n;
    state.after = kind === 'after';
  };
  return { host: out, arm };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

// A key-value host over `map` (shared between store objects opened on it).
export function mapHost(map, asynchronous, atomic) {
  const answer = asynchronous ? async (f) => { await tick(); return f(); } : (f) => f();
  const clone = (v) => (v === undefined ? null : structuredClone(v));
  const host = {
    kind: `map(${asynchronous ? 'async' : 'sync'}${atomic ? ', commit' : ''})`,
    get: (k) => answer(() => clone(map.get(k))),
    put: (k, v) => answer(() => { map.set(k, structuredClone(v)); }),
    delete: (k) => answer(() => { map.delete(k); }),
    list: (p) => answer(() => [...map].filter(([k]) => k.startsWith(p)).map(([, v]) => structuredClone(v))),
  };
  if (atomic) {
    host.commit = (ops) => answer(() => {
      for (const op of ops) {
        if (!('expect' in op)) continue;
        const found = map.has(op.key) ? map.get(op.key).version : null;
        if (found !== op.expect) return { conflict: op.key };
      }
      for (const op of ops) {
        if (op.op === 'put') map.set(op.key, structuredClone(op.value));
        else map.delete(op.key);
      }
      return undefined;
    });
  }
  return faulty(host);
}

export function newMap() {
  return new Map();
}

let sqlite;
// A SQLite record host on a fresh file (or `path`, another connection to
// an existing one).
export async function sqliteHost(path) {
  sqlite ??= await import(pathToFileURL(join(process.cwd(), 'pkg', 'sqlite.js')).href);
  const file = path ?? join(mkdtempSync(join(tmpdir(), 'osm-contract-')), 'metadata.db');
  const store = await sqlite.openSqliteStore(file);
  const wrapped = faulty(store);
  wrapped.path = file;
  return wrapped;
}

// PostgreSQL: the throwaway cluster's URL, passed in by the test command
// (scripts/test), which also sets METADATA_TEST_POSTGRES=required so that a
// missing URL fails there instead of skipping.
export function postgresUrl() {
  return process.env.METADATA_TEST_DATABASE_URL || null;
}

export function postgresRequired() {
  return process.env.METADATA_TEST_POSTGRES === 'required';
}

let postgres;
let subjects = 0;
const open = [];
// A PostgreSQL record host in a fresh, empty schema (or in `schema`,
// another connection to an existing one). A new subject closes the stores
// of the one before: the suite runs one subject at a time.
export async function postgresHost(schema) {
  postgres ??= await import(pathToFileURL(join(process.cwd(), 'pkg', 'postgres.js')).href);
  if (!schema) {
    await Promise.all(open.splice(0).map((s) => s.close()));
    schema = `contract_${process.pid}_${++subjects}`;
  }
  const store = await postgres.openPostgresStore(postgresUrl(), { schema, max: 4 });
  open.push(store);
  const wrapped = faulty(store);
  wrapped.schema = schema;
  return wrapped;
}

// A line on the runner's standard error, which it does not capture.
export function note(message) {
  process.stderr.write(`${message}\n`);
}
