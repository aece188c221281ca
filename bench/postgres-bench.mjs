// PostgreSQL against SQLite, in one run (`scripts/bench` starts a throwaway
// cluster; alone: METADATA_BENCH_DATABASE_URL=postgres://... node
// bench/postgres-bench.mjs):
//   - save and load throughput of MetadataService on each store, on the
//     platform-objects corpus (52 documents, 1-17 KB);
//   - propagation latency: a save on one instance (process) to the moment
//     another instance's subscriber has re-read the record through its read
//     cache and got the new version, p50 / p99 over 1,000 changes on
//     PostgreSQL (LISTEN / NOTIFY), 200 on SQLite (its watch polls).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { MetadataService } from '@objectstack/metadata-wasm';
import { openPostgresStore } from '@objectstack/metadata-wasm/postgres';
import { openSqliteStore } from '@objectstack/metadata-wasm/sqlite';

const here = dirname(fileURLToPath(import.meta.url));
const now = () => performance.timeOrigin + performance.now();

// A store of either kind in a fresh place.
let places = 0;
let dir = null;
async function openFresh(kind, url) {
  dir ??= mkdtempSync(join(tmpdir(), 'osm-pg-bench-'));
  places += 1;
  if (kind === 'postgres') {
    const schema = `bench_${process.pid}_${places}`;
    return { store: await openPostgresStore(url, { schema }), where: schema };
  }
  const path = join(dir, `bench-${places}.db`);
  return { store: await openSqliteStore(path), where: path };
}
const openAgain = (kind, url, where) => (kind === 'postgres' ? openPostgresStore(url, { schema: where }) : openSqliteStore(where));

// The other instance: subscribes, and on each change re-reads the record
// through its (invalidated) read cache; prints when it has the new version.
if (process.argv[2] === 'follow') {
  const [, , , kind, url, where] = process.argv;
  const store = await openAgain(kind, url, where);
  const svc = await MetadataService.create({ store });
  let stop;
  const done = new Promise((resolve) => { stop = resolve; });
  svc.subscribe(async (e) => {
    if (e.name === 'stop') return stop();
    const record = await svc.loadRecord(e.type, e.name);
    const at = now();
    console.log(JSON.stringify({ sequence: e.sequence, version: record.version, expected: e.version, at }));
  });
  console.log('ready');
  const keep = setInterval(() => {}, 1000);
  await done;
  clearInterval(keep);
  await store.close();
  process.exit(0);
}

const url = process.env.METADATA_BENCH_DATABASE_URL;
if (!url) {
  console.error('set METADATA_BENCH_DATABASE_URL (./scripts/bench starts a throwaway cluster and sets it)');
  process.exit(2);
}
const corpus = JSON.parse(readFileSync(join(here, '..', 'tests', 'data', 'platform-objects.json'), 'utf8'));
const docs = corpus.map((o) => o.data);
const N = docs.length;

// Runs `pass` (all N documents) for at least `ms` per round, six rounds, the
// first to warm up; the median in documents per second.
async function measure(what, pass, { ms = 400, setup } = {}) {
  process.stderr.write(`  ${what}\n`);
  const rounds = [];
  for (let r = 0; r < 6; r++) {
    let done = 0;
    let elapsed = 0;
    while (elapsed < ms) {
      const state = setup ? await setup() : undefined;
      const t0 = performance.now();
      await pass(state);
      elapsed += performance.now() - t0;
      done += N;
    }
    if (r > 0) rounds.push((done / elapsed) * 1000);
  }
  rounds.sort((a, b) => a - b);
  return rounds[Math.floor(rounds.length / 2)];
}

const rows = [];
const opened = [];
async function service(kind, options = {}) {
  const { store, where } = await openFresh(kind, url);
  opened.push(store);
  return { svc: await MetadataService.create({ store, ...options }), store, where };
}

// Creates into an empty scope: each pass a service for a tenant of its own,
// on one store per kind (no schema or file set up per pass).
// The one before is freed: each listens to the store's changes.
let tenants = 0;
let last = null;
const scoped = (base) => () => {
  last?.free();
  last = base.derive({ tenant: `t${++tenants}` });
  return { svc: last };
};

for (const kind of ['sqlite', 'postgres']) {
  const { svc } = await service(kind);
  const create = await measure(`${kind} create`, async ({ svc: s }) => {
    for (let i = 0; i < N; i++) await s.save('object', corpus[i].name, docs[i]);
  }, { setup: scoped(svc) });
  for (let i = 0; i < N; i++) await svc.save('object', corpus[i].name, docs[i]);
  let flip = 0;
  const update = await measure(`${kind} update`, async () => {
    flip += 1;
    for (let i = 0; i < N; i++) await svc.save('object', corpus[i].name, { ...docs[i], bench_revision: flip });
  });
  const many = await measure(`${kind} many`, async ({ svc: s }) => {
    await s.saveMany(corpus.map((o) => ({ type: o.type, name: o.name, data: o.data })));
  }, { setup: scoped(svc) });
  const { svc: uncached } = await service(kind, { cache: false });
  await uncached.saveMany(corpus.map((o) => ({ type: o.type, name: o.name, data: o.data })));
  const load = await measure(`${kind} load`, async () => {
    for (let i = 0; i < N; i++) await uncached.load('object', corpus[i].name);
  });
  const loadMany = await measure(`${kind} loadMany`, async () => { await uncached.loadMany('object'); });
  const cached = await measure(`${kind} cached`, async () => {
    for (let i = 0; i < N; i++) await svc.load('object', corpus[i].name);
  });
  rows.push({ kind, create, update, many, load, loadMany, cached });
}

// PostgreSQL with every commit flushed to disk before it answers
// (synchronous_commit on, the server's default), on this machine's disk.
let durable;
{
  const store = await openPostgresStore({ connectionString: url, options: '-c synchronous_commit=on' }, { schema: `bench_${process.pid}_durable` });
  opened.push(store);
  const svc = await MetadataService.create({ store });
  for (let i = 0; i < N; i++) await svc.save('object', corpus[i].name, docs[i]);
  let flip = 0;
  durable = await measure('postgres update, synchronous_commit on', async () => {
    flip += 1;
    for (let i = 0; i < N; i++) await svc.save('object', corpus[i].name, { ...docs[i], bench_revision: flip });
  });
}

// Propagation: one instance here, the other in its own process.
async function propagation(kind, changes) {
  process.stderr.write(`  ${kind} propagation over ${changes} changes\n`);
  const { store, where } = await openFresh(kind, url);
  opened.push(store);
  const svc = await MetadataService.create({ store });
  const names = Array.from({ length: 10 }, (_, i) => `p${i}`);
  for (const name of names) await svc.save('view', name, { n: 0 });
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'follow', kind, url, where], { stdio: ['ignore', 'pipe', 'inherit'] });
  const waiting = new Map();
  const arrived = new Map();
  let onReady;
  const ready = new Promise((resolve) => { onReady = resolve; });
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line === 'ready') return onReady();
    const e = JSON.parse(line);
    if (e.version !== e.expected) throw new Error(`the other instance read version ${e.version}, not ${e.expected}`);
    // It may have heard the change before the save answered here.
    if (waiting.has(e.sequence)) waiting.get(e.sequence)(e.at);
    else arrived.set(e.sequence, e.at);
  });
  await ready;
  const total = [];
  const saves = [];
  for (let i = 1; i <= changes; i++) {
    const name = names[i % names.length];
    const t0 = now();
    const out = await svc.save('view', name, { n: i });
    const t1 = now();
    const seq = out.record.seq;
    const seen = arrived.get(seq) ?? await new Promise((resolve) => waiting.set(seq, resolve));
    waiting.delete(seq);
    arrived.delete(seq);
    total.push(seen - t0);
    saves.push(t1 - t0);
  }
  await svc.save('view', 'stop', {});
  await new Promise((resolve) => child.on('exit', resolve));
  const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
  return { kind, changes, p50: pct(total, 50), p99: pct(total, 99), save50: pct(saves, 50) };
}
const latencies = [await propagation('postgres', 1000), await propagation('sqlite', 200)];

await Promise.all(opened.map((s) => s.close()));
if (dir) rmSync(dir, { recursive: true, force: true });

const f = (x) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));
const by = Object.fromEntries(rows.map((r) => [r.kind, r]));
console.log(`\nPostgreSQL against SQLite: MetadataService on the platform-objects corpus (${N} documents), documents per second, median of 5 rounds`);
console.log('| operation | SQLite | PostgreSQL | PostgreSQL / SQLite |');
console.log('|---|---:|---:|---:|');
for (const [key, label] of [
  ['create', 'save (create), one at a time'],
  ['update', 'save (update, a real change), one at a time'],
  ['many', `saveMany (${N} in one transaction)`],
  ['load', 'load, read cache off (every read from the database)'],
  ['loadMany', 'loadMany, read cache off (documents per second)'],
  ['cached', 'load through the read cache'],
]) {
  console.log(`| ${label} | ${f(by.sqlite[key])} | ${f(by.postgres[key])} | ${(by.postgres[key] / by.sqlite[key]).toFixed(2)} |`);
}
console.log(`| save (update), PostgreSQL with synchronous_commit on (each commit flushed to disk) | | ${f(durable)} | ${(durable / by.sqlite.update).toFixed(2)} |`);
console.log('\nPropagation: save on one instance -> the other instance (another process) has re-read the new version through its read cache, ms');
console.log('| store | how changes reach the other instance | changes | p50 | p99 | the save alone, p50 |');
console.log('|---|---|---:|---:|---:|---:|');
for (const l of latencies) {
  const how = l.kind === 'postgres' ? 'LISTEN / NOTIFY' : 'watch polls data_version every 100 ms';
  console.log(`| ${l.kind === 'postgres' ? 'PostgreSQL' : 'SQLite'} | ${how} | ${l.changes} | ${l.p50.toFixed(2)} | ${l.p99.toFixed(2)} | ${l.save50.toFixed(2)} |`);
}
