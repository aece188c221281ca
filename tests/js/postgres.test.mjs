// The PostgreSQL store as users meet it: its schema queried with SQL, the
// platform objects and every canonical vector surviving jsonb, and one
// database shared by several Node processes: changes reaching the other
// process's read cache and subscribers, guarded and plain writes racing
// across processes, a writer killed in the middle of a batch, a lost
// listening connection. Runs on the cluster the test command starts
// (METADATA_TEST_DATABASE_URL); each test works in a schema of its own.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { MetadataService, checksum } from '@objectstack/metadata-wasm';
import { openPostgresStore } from '@objectstack/metadata-wasm/postgres';

const here = dirname(fileURLToPath(import.meta.url));
const url = process.env.METADATA_TEST_DATABASE_URL;
if (!url && process.env.METADATA_TEST_POSTGRES === 'required') {
  throw new Error('METADATA_TEST_DATABASE_URL is not set, and the test command requires PostgreSQL');
}
const skip = url ? false : 'set METADATA_TEST_DATABASE_URL (./scripts/test starts a cluster and sets it)';
if (skip) console.log(`SKIPPED the PostgreSQL tests: ${skip}`);

let schemas = 0;
const fresh = () => `js_${process.pid}_${++schemas}`;
const opened = [];
async function open(schema, options = {}) {
  const store = await openPostgresStore(url, { schema, max: 4, ...options });
  opened.push(store);
  return store;
}
const admin = url ? new pg.Pool({ connectionString: url, max: 2 }) : null;
after(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await admin?.end();
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Waits until `check()` is true, for at most `ms`; the wait bounds the test,
// it measures nothing.
async function until(check, ms = 10000, what = 'the condition') {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

// A worker process (fixtures/pg-worker.mjs): its output lines, a promise of
// its exit, and `go()` once it printed "ready".
function worker(schema, mode, n, who) {
  const child = spawn(process.execPath, [join(here, 'fixtures', 'pg-worker.mjs'), url, schema, mode, String(n), who], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines = [];
  let stderr = '';
  let onReady;
  const ready = new Promise((resolve) => { onReady = resolve; });
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line === 'ready') onReady();
    else lines.push(line);
  });
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
  return {
    child,
    lines,
    ready,
    exited,
    go: () => child.stdin.end('go\n'),
    result: async () => {
      const { code, stderr: err } = await exited;
      assert.equal(code, 0, `worker ${who} failed: ${err}`);
      return JSON.parse(lines.at(-1));
    },
  };
}

test('the schema: sys_metadata with real columns and the ADR\'s indexes, queryable and joinable with SQL', { skip }, async () => {
  const schema = fresh();
  const store = await open(schema);
  const svc = await MetadataService.create({ store, tenant: 'acme', actor: 'alice' });
  await svc.save('object', 'account', { label: 'Account', fields: { name: { type: 'text' } } }, { tags: ['crm', 'core'] });
  await svc.save('view', 'all_accounts', { label: 'All accounts', object: 'account' }, { tags: ['crm'] });
  await svc.save('view', 'all_accounts', { label: 'Every account', object: 'account' });

  const columns = await admin.query(
    `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'sys_metadata'`,
    [schema],
  );
  const type = Object.fromEntries(columns.rows.map((r) => [r.column_name, r.data_type]));
  assert.equal(type.data, 'jsonb');
  assert.equal(type.tags, 'ARRAY');
  assert.equal(type.created_at, 'timestamp with time zone');
  assert.equal(type.updated_at, 'timestamp with time zone');
  assert.equal(type.is_active, 'boolean');
  assert.equal(type.version, 'bigint');
  const indexes = await admin.query('SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1', [schema]);
  const defs = Object.fromEntries(indexes.rows.map((r) => [r.indexname, r.indexdef]));
  assert.match(defs.sys_metadata_tenant_type_name, /UNIQUE INDEX .* \(COALESCE\(tenant_id, ''::text\), type, name\)/);
  assert.match(defs.sys_metadata_type_active, /\(type, is_active\)/);
  assert.match(defs.sys_metadata_tenant_type, /\(tenant_id, type\)/);
  assert.match(defs.sys_metadata_history_version, /UNIQUE/);
  assert.deepEqual((await admin.query(`SELECT version FROM "${schema}".sys_metadata_schema`)).rows, [{ version: 1 }]);

  // Metadata is data: JSON operators, array containment, a join.
  const q = await admin.query(`
    SELECT v.name AS view, v.data->>'label' AS label, o.data->'fields'->'name'->>'type' AS name_type, v.version
    FROM "${schema}".sys_metadata v
    JOIN "${schema}".sys_metadata o ON o.tenant_id = v.tenant_id AND o.type = 'object' AND o.name = v.data->>'object'
    WHERE v.type = 'view' AND v.is_active AND v.tags @> ARRAY['crm'] AND v.tenant_id = 'acme'`);
  assert.deepEqual(q.rows, [{ view: 'all_accounts', label: 'Every account', name_type: 'text', version: '2' }]);
  const h = await admin.query(`SELECT version, data->>'label' AS label, actor FROM "${schema}".sys_metadata_history WHERE name = 'all_accounts'`);
  assert.deepEqual(h.rows, [{ version: '1', label: 'All accounts', actor: 'alice' }]);
  const counter = await admin.query(`SELECT scope, seq FROM "${schema}".sys_metadata_sequence`);
  assert.deepEqual(counter.rows, [{ scope: 'acme', seq: '3' }]);
});

test('a second opening finds the schema; a newer schema version is refused and left alone; read-only opens create nothing', { skip }, async () => {
  const schema = fresh();
  await assert.rejects(open(schema, { readonly: true }), (e) => e.code === 'UNSUPPORTED' && /holds no metadata tables/.test(e.message));
  assert.equal((await admin.query('SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1', [schema])).rows[0].n, 0);
  const store = await open(schema);
  const svc = await MetadataService.create({ store });
  await svc.save('view', 'v', { n: 1 });
  const again = await open(schema);
  assert.deepEqual(await (await MetadataService.create({ store: again })).load('view', 'v'), { n: 1 });
  const ro = await open(schema, { readonly: true });
  const reader = await MetadataService.create({ store: ro });
  assert.deepEqual(await reader.load('view', 'v'), { n: 1 });
  await assert.rejects(reader.save('view', 'v', { n: 2 }), (e) => e.code === 'HOST_CALLBACK_FAILED' && /read-only/.test(e.message));
  await admin.query(`UPDATE "${schema}".sys_metadata_schema SET version = 99`);
  await assert.rejects(open(schema), (e) => e.code === 'UNSUPPORTED' && /version 99/.test(e.message));
  assert.equal((await admin.query(`SELECT version FROM "${schema}".sys_metadata_schema`)).rows[0].version, 99);
  await assert.rejects(openPostgresStore(url, { schema: 'bad name' }), (e) => e.code === 'VALIDATION');
  await assert.rejects(openPostgresStore(url, { shcema: 'x' }), (e) => e.code === 'VALIDATION' && /shcema/.test(e.message));
  await assert.rejects(openPostgresStore('postgres://nobody@127.0.0.1:1/none'), (e) => e.code === 'STORAGE_UNAVAILABLE');
  // A sys_metadata table of someone else's is not taken over.
  const foreign = fresh();
  await admin.query(`CREATE SCHEMA ${foreign}; CREATE TABLE ${foreign}.sys_metadata (id int)`);
  await assert.rejects(open(foreign), (e) => e.code === 'UNSUPPORTED' && /did not create/.test(e.message));
  assert.equal((await admin.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1`, [foreign])).rows[0].n, 1);
});

test('the platform objects survive jsonb: same data, same checksums, verified on every read', { skip }, async () => {
  const corpus = JSON.parse(readFileSync(join(here, '..', 'data', 'platform-objects.json'), 'utf8'));
  const schema = fresh();
  const svc = await MetadataService.create({ store: await open(schema) });
  const saved = await svc.saveMany(corpus.map((o) => ({ type: o.type, name: o.name, data: o.data })));
  assert.equal(saved.length, corpus.length);
  // Another store object, no cache: every record is read back from the
  // database and checked against its checksum by the core.
  const reader = await MetadataService.create({ store: await open(schema), cache: false });
  for (const o of corpus) {
    const record = await reader.loadRecord(o.type, o.name);
    assert.deepEqual(record.data, o.data, o.name);
    assert.equal(record.checksum, checksum(o.data), o.name);
  }
  assert.equal((await reader.loadMany('object')).length, corpus.length);
  // Every row's stored checksum, recomputed from its jsonb text.
  let rows = 0;
  for await (const row of (await open(schema)).scan()) {
    rows += 1;
    assert.equal(checksum(JSON.parse(row.data)), row.checksum, row.name);
  }
  assert.equal(rows, corpus.length);
});

test('every canonical vector that is a definition survives jsonb (big numbers, -0, escapes, U+0000)', { skip }, async () => {
  const vectors = readFileSync(join(here, '..', 'data', 'canonical.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const schema = fresh();
  const writer = await MetadataService.create({ store: await open(schema) });
  const cases = [];
  for (const [i, v] of vectors.entries()) {
    if (v.md5 === undefined) continue;
    const data = JSON.parse(v.input);
    if (data === null || typeof data !== 'object' || Array.isArray(data)) continue;
    cases.push({ name: `v${i}`, data, md5: v.md5, text: v.input });
  }
  assert.ok(cases.length > 150, `only ${cases.length} object vectors`);
  const withNul = cases.filter((c) => /\\u0000/.test(c.text));
  assert.ok(withNul.length > 0, 'the vectors hold U+0000 cases');
  for (const c of cases) await writer.save('vector', c.name, c.data);
  const reader = await MetadataService.create({ store: await open(schema), cache: false });
  for (const c of cases) {
    const record = await reader.loadRecord('vector', c.name);
    assert.equal(record.checksum, c.md5, c.name);
    assert.equal(checksum(record.data), c.md5, c.name);
  }
  // Where jsonb cannot hold U+0000, SQL sees U+FFFD; the exact text is kept beside it.
  const { rows } = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".sys_metadata WHERE data_json IS NOT NULL`);
  assert.ok(rows[0].n >= withNul.length);
  assert.ok(rows[0].n < cases.length);
});

test('a change made by one process reaches the other process\'s subscribers and read cache', { skip }, async () => {
  const schema = fresh();
  const svc = await MetadataService.create({ store: await open(schema) });
  await svc.save('view', 'shared', { n: 0 });
  const follower = worker(schema, 'follow', 3, 'follower');
  await follower.ready;
  const sent = [];
  for (let i = 1; i <= 3; i++) {
    sent.push(performance.timeOrigin + performance.now());
    await svc.save('view', 'shared', { n: i });
    // Each change is read back before the next one is made.
    await until(() => follower.lines.length === i, 10000, `the follower to hear change ${i}`);
  }
  const { code, stderr } = await follower.exited;
  assert.equal(code, 0, stderr);
  const heard = follower.lines.map((l) => JSON.parse(l));
  assert.deepEqual(heard.map((e) => [e.sequence, e.version, e.remote]), [[2, 2, true], [3, 3, true], [4, 4, true]]);
  // The follower's read of view/shared after hearing a change answers the
  // changed data, though it had read (and cached) the one before.
  assert.deepEqual(heard.map((e) => e.data), [{ n: 1 }, { n: 2 }, { n: 3 }]);
  const latencies = heard.map((e, i) => (e.at - sent[i]).toFixed(1));
  console.log(`propagation (save call to the other process's subscriber and re-read): ${latencies.join(', ')} ms`);
});

test('30 concurrent guarded saves spread over two processes: exactly one winner, 29 conflicts', { skip }, async () => {
  const schema = fresh();
  const svc = await MetadataService.create({ store: await open(schema) });
  await svc.save('view', 'contended', { by: 'setup' });
  const workers = ['alpha', 'beta'].map((who) => worker(schema, 'guarded', 15, who));
  await Promise.all(workers.map((w) => w.ready));
  workers.forEach((w) => w.go());
  const results = await Promise.all(workers.map((w) => w.result()));
  const wins = results.flatMap((r) => r.won);
  const codes = results.flatMap((r) => r.codes);
  assert.equal(wins.length, 1, JSON.stringify(results));
  assert.equal(codes.length, 29);
  assert.ok(codes.every((c) => c === 'CONFLICT'), codes.join());
  const history = await svc.history('view', 'contended');
  assert.deepEqual(history.map((h) => [h.version, h.seq]), [[1, 1], [2, 2]]);
  assert.deepEqual(wins, [{ version: 2, seq: 2 }]);
});

test('20 concurrent plain saves spread over two processes: all succeed, all in history, strictly increasing sequence numbers', { skip }, async () => {
  const schema = fresh();
  const svc = await MetadataService.create({ store: await open(schema) });
  await svc.save('view', 'contended', { by: 'setup' });
  const workers = ['alpha', 'beta'].map((who) => worker(schema, 'plain', 10, who));
  await Promise.all(workers.map((w) => w.ready));
  workers.forEach((w) => w.go());
  const results = await Promise.all(workers.map((w) => w.result()));
  for (const r of results) assert.deepEqual(r.codes, []);
  const wins = results.flatMap((r) => r.won);
  assert.equal(wins.length, 20);
  assert.deepEqual(wins.map((w) => w.version).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 2));
  const history = await svc.history('view', 'contended');
  assert.equal(history.length, 21);
  assert.deepEqual(history.map((h) => h.seq), Array.from({ length: 21 }, (_, i) => i + 1));
  assert.deepEqual(history.map((h) => h.version), Array.from({ length: 21 }, (_, i) => i + 1));
  // Every process's saves, each once.
  const by = history.slice(1).map((h) => `${h.data.by}:${h.data.i}`).sort();
  assert.deepEqual(by, [...Array.from({ length: 10 }, (_, i) => `alpha:${i}`), ...Array.from({ length: 10 }, (_, i) => `beta:${i}`)].sort());
});

// A 1,000-record saveMany by a worker process whose commit is made to wait
// for the scope's counter row (held here); `interrupt(worker)` strikes
// while it waits; then the row is let go. Answers what the database holds.
async function interruptedBatch(interrupt) {
  const schema = fresh();
  const store = await open(schema);
  const svc = await MetadataService.create({ store, cache: false });
  await svc.save('view', 'before', { n: 1 });
  const holder = await admin.connect();
  await holder.query('BEGIN');
  await holder.query(`SELECT seq FROM "${schema}".sys_metadata_sequence WHERE scope = '' FOR UPDATE`);
  const victim = worker(schema, 'batch', 1000, 'victim');
  await victim.ready;
  victim.go();
  await until(async () => {
    const { rows } = await admin.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'osm-test victim' AND wait_event_type = 'Lock'`,
    );
    return rows[0].n > 0;
  }, 20000, 'the batch\'s commit to wait for the counter row');
  await interrupt(victim);
  await holder.query('COMMIT');
  holder.release();
  const exit = await victim.exited;
  // The next commit waits until the interrupted one has ended, either way.
  const after = await svc.save('view', 'after', { n: 2 });
  const { rows: [{ n }] } = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".sys_metadata WHERE name LIKE 'batch_%'`);
  const last = await svc.lastSequence();
  const log = await svc.changes({ since: 0 });
  return { n, exit, after, last, log };
}

test('kill -9 of a process whose 1,000-record saveMany is committing leaves all or nothing', { skip }, async () => {
  const { n, exit, after, last, log } = await interruptedBatch(async (victim) => {
    victim.child.kill('SIGKILL');
    await victim.exited;
  });
  assert.equal(exit.signal, 'SIGKILL');
  // The statement was on its way: the server finishes it whole or not at all.
  assert.ok(n === 0 || n === 1000, `${n} of 1000 records were written`);
  assert.equal(after.record.seq, last);
  assert.equal(last, n === 0 ? 2 : 1002);
  assert.deepEqual(log.map((e) => e.sequence), Array.from({ length: last }, (_, i) => i + 1));
  console.log(`killed while committing: ${n} of 1000 records written`);
});

test('a connection lost while a 1,000-record saveMany commits leaves nothing, and the writer is told', { skip }, async () => {
  const { n, exit, after, last, log } = await interruptedBatch(async () => {
    const { rows } = await admin.query(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'osm-test victim' AND wait_event_type = 'Lock'`,
    );
    assert.deepEqual(rows, [{ ok: true }]);
  });
  assert.equal(n, 0);
  assert.notEqual(exit.code, 0);
  assert.match(exit.stderr, /HOST_CALLBACK_FAILED|terminat/);
  assert.equal(after.record.seq, 2);
  assert.equal(last, 2);
  assert.deepEqual(log.map((e) => e.sequence), [1, 2]);
});

test('after a lost listening connection, the store listens again and catches up from the change log', { skip }, async () => {
  const schema = fresh();
  const watched = await open(schema, { applicationName: `osm-lost-${schema}`, reconnectMs: 400 });
  const svc = await MetadataService.create({ store: watched });
  const other = await MetadataService.create({ store: await open(schema) });
  const heard = [];
  svc.subscribe((e) => heard.push([e.sequence, e.name, e.remote]));
  await other.save('view', 'v', { n: 0 });
  await until(() => heard.length === 1, 10000, 'the first change');
  assert.deepEqual(await svc.load('view', 'v'), { n: 0 });
  heard.length = 0;
  const { rows } = await admin.query(
    'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1',
    [`osm-lost-${schema} listener`],
  );
  assert.deepEqual(rows, [{ ok: true }]);
  // Committed while nobody listens (the store waits 400 ms before it
  // listens again): only the change log can tell of these.
  await other.save('view', 'v', { n: 1 });
  await other.save('view', 'w', { n: 1 });
  await until(() => heard.length >= 2, 10000, 'the changes made while disconnected');
  await other.save('view', 'x', { n: 1 });
  await until(() => heard.length >= 3, 10000, 'a change after listening again');
  assert.deepEqual(heard, [[2, 'v', true], [3, 'w', true], [4, 'x', true]]);
  assert.deepEqual(await svc.load('view', 'v'), { n: 1 });
});

test('a store object does not hear its own changes twice; two store objects each hear the other\'s once', { skip }, async () => {
  const schema = fresh();
  const a = await MetadataService.create({ store: await open(schema) });
  const b = await MetadataService.create({ store: await open(schema) });
  const heardA = [];
  const heardB = [];
  a.subscribe((e) => heardA.push([e.sequence, e.remote === true]));
  b.subscribe((e) => heardB.push([e.sequence, e.remote === true]));
  await a.save('view', 'one', {});
  await a.saveMany([{ type: 'view', name: 'two', data: {} }, { type: 'view', name: 'three', data: {} }]);
  await b.save('view', 'four', {});
  // Notifications arrive in commit order: once b's change reached a, a's
  // own would have too.
  await until(() => heardA.length >= 4 && heardB.length >= 4, 10000, 'every change');
  await a.save('view', 'five', {});
  await until(() => heardB.length >= 5, 10000, 'the last change');
  assert.deepEqual(heardA, [[1, false], [2, false], [3, false], [4, true], [5, false]]);
  assert.deepEqual(heardB, [[1, true], [2, true], [3, true], [4, false], [5, true]]);
});

test('tenants and the global scope count on their own, in the database as in the log', { skip }, async () => {
  const schema = fresh();
  const store = await open(schema);
  const global = await MetadataService.create({ store });
  const acme = await MetadataService.create({ store, tenant: 'acme' });
  await global.save('view', 'shared', { g: 1 });
  await acme.save('view', 'own', { a: 1 });
  await acme.save('view', 'shared', { a: 2 });
  assert.deepEqual(await acme.load('view', 'shared'), { a: 2 });
  assert.deepEqual(await global.load('view', 'shared'), { g: 1 });
  assert.equal(await acme.lastSequence(), 2);
  assert.equal(await global.lastSequence(), 1);
  const { rows } = await admin.query(`SELECT tenant_id, name, seq::int FROM "${schema}".sys_metadata ORDER BY tenant_id NULLS FIRST, name`);
  assert.deepEqual(rows, [
    { tenant_id: null, name: 'shared', seq: 1 },
    { tenant_id: 'acme', name: 'own', seq: 1 },
    { tenant_id: 'acme', name: 'shared', seq: 2 },
  ]);
});

test('the store does not keep Node running, watched or not, and close() ends its connections', { skip }, async () => {
  const schema = fresh();
  await open(schema);
  const script = `
    import { MetadataService } from '@objectstack/metadata-wasm';
    import { openPostgresStore } from '@objectstack/metadata-wasm/postgres';
    const store = await openPostgresStore(process.argv[1], { schema: process.argv[2], applicationName: 'osm-exit' });
    const svc = await MetadataService.create({ store });
    svc.subscribe(() => {});
    await svc.save('view', 'v', { n: 1 });
    if (process.argv[3] === 'close') { await store.close(); console.log('closed'); }
    else console.log('left open');
  `;
  for (const how of ['close', 'open']) {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, url, schema, how], { cwd: join(here, '..', '..') });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
    const [code, signal] = await new Promise((resolve) => child.on('exit', (c, s) => resolve([c, s])));
    clearTimeout(timer);
    assert.equal(signal, null, `${how}: the process had to be killed`);
    assert.equal(code, 0);
    assert.equal(out.trim(), how === 'close' ? 'closed' : 'left open');
  }
  await until(async () => (await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'osm-exit%'`)).rows[0].n === 0, 10000, 'the connections to end');
});

test('a pool given to the store stays open after close(); the store refuses writes once closed', { skip }, async () => {
  const pool = new pg.Pool({ connectionString: url, max: 3 });
  const store = await openPostgresStore(pool, { schema: fresh() });
  const svc = await MetadataService.create({ store });
  await svc.save('view', 'v', { n: 1 });
  await store.close();
  assert.equal((await pool.query('SELECT 1 AS one')).rows[0].one, 1);
  await assert.rejects(svc.save('view', 'v', { n: 2 }), (e) => e.code === 'HOST_CALLBACK_FAILED' && /closed/.test(e.message));
  await pool.end();
});

test('the command line on PostgreSQL: import, export, history and verify with --database-url or DATABASE_URL', { skip }, async (t) => {
  const { renderMetadataFile } = await import('@objectstack/metadata-wasm');
  const { mkdtempSync, mkdirSync, writeFileSync, readdirSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { spawnSync } = await import('node:child_process');
  const cli = join(here, '..', '..', 'pkg', 'cli.js');
  const database = `cli_${process.pid}`;
  await admin.query(`CREATE DATABASE ${database}`);
  const dbUrl = new URL(url);
  dbUrl.pathname = `/${database}`;
  const target = dbUrl.href;
  const dir = mkdtempSync(join(tmpdir(), 'osm-pg-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const corpus = JSON.parse(readFileSync(join(here, '..', 'data', 'platform-objects.json'), 'utf8'));
  for (const o of corpus) {
    const { path, text } = renderMetadataFile(o.type, o.name, o.data, 'json');
    mkdirSync(dirname(join(dir, 'in', path)), { recursive: true });
    writeFileSync(join(dir, 'in', path), text);
  }
  const { DATABASE_URL: _, ...env } = process.env;
  const run = (args, extra = {}) => {
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...env, ...extra } });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const count = async () => {
    const client = new pg.Client({ connectionString: target });
    await client.connect();
    try {
      const { rows } = await client.query("SELECT to_regclass('public.sys_metadata') IS NOT NULL AS t");
      return rows[0].t ? (await client.query('SELECT count(*)::int AS n FROM sys_metadata')).rows[0].n : null;
    } finally {
      await client.end();
    }
  };

  let r = run(['import', join(dir, 'in'), '--dry-run', '--database-url', target, '--quiet']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /would import 52 records .* 52 created, 0 updated, 0 unchanged \(dry run: nothing written\)/);
  assert.equal(await count(), null, 'a dry run created the tables');
  r = run(['import', join(dir, 'in'), '--database-url', target, '--quiet']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /imported 52 records .* 52 created/);
  assert.equal(await count(), 52);
  // DATABASE_URL stands for --database-url when no --db is given.
  r = run(['import', join(dir, 'in'), '--quiet'], { DATABASE_URL: target });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /0 created, 0 updated, 52 unchanged/);
  r = run(['export', join(dir, 'out'), '--format', 'yaml', '--quiet'], { DATABASE_URL: target });
  assert.equal(r.code, 0, r.err);
  assert.equal(readdirSync(join(dir, 'out', 'objects')).length, 52);
  r = run(['history', 'object', 'sys_account', '--database-url', target]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^v1\timport\t[0-9a-f]{32}\t/);
  r = run(['verify', '--database-url', target]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /verified 52 rows: 0 mismatch/);
  // A row changed behind the store's back.
  const client = new pg.Client({ connectionString: target });
  await client.connect();
  await client.query(`UPDATE sys_metadata SET data = jsonb_set(data, '{label}', '"Tampered"') WHERE name = 'sys_account'`);
  await client.end();
  r = run(['verify', '--database-url', target, '--json']);
  assert.equal(r.code, 1);
  const report = JSON.parse(r.out);
  assert.deepEqual(report.mismatches.map((m) => [m.table, m.name]), [['sys_metadata', 'sys_account']]);
  // Two databases named, or a URL that is not PostgreSQL's: usage errors.
  r = run(['verify', '--db', join(dir, 'x.db'), '--database-url', target]);
  assert.equal(r.code, 2);
  assert.match(r.err, /give one/);
  r = run(['verify', '--database-url', 'mysql://x']);
  assert.equal(r.code, 2);
  // --db wins over DATABASE_URL: the SQLite file, not PostgreSQL.
  r = run(['import', join(dir, 'in'), '--db', join(dir, 'local.db'), '--quiet'], { DATABASE_URL: target });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /52 created/);
  await admin.query(`DROP DATABASE ${database}`);
});

// The first `count` change events of a server's SSE stream.
async function changeStream(address, count) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 15000);
  const response = await fetch(address, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
  assert.equal(response.status, 200);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const events = [];
  try {
    while (events.length < count) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
        if (fields.event === 'change') events.push(JSON.parse(fields.data));
      }
    }
  } catch (error) {
    if (error.name !== 'AbortError') throw error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return events;
}

test('objectstack-metadata serve --database-url: two servers on one database, a change through one is read and streamed by the other', { skip }, async (t) => {
  const database = `serve_${process.pid}`;
  await admin.query(`CREATE DATABASE ${database}`);
  const target = new URL(url);
  target.pathname = `/${database}`;
  const cli = join(here, '..', '..', 'pkg', 'cli.js');
  const { DATABASE_URL: _, ...env } = process.env;
  const start = () => new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'serve', '--port', '0', '--database-url', target.href], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve({ child, base: `${m[1]}/api/v1/metadata` });
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
  const [a, b] = [await start(), await start()];
  t.after(() => { a.child.kill(); b.child.kill(); });
  // b has read (and cached) the absence, and streams its changes from the
  // start of an empty log; then a creates and changes the record.
  assert.equal((await fetch(`${b.base}/view/shared`)).status, 404);
  const streamed = changeStream(`${b.base}/_changes?since=0`, 2);
  assert.equal((await fetch(`${a.base}/view/shared`, { method: 'PUT', body: '{"n":1}' })).status, 201);
  const read = async (n) => {
    const r = await fetch(`${b.base}/view/shared`);
    return r.status === 200 && (await r.json()).data.n === n;
  };
  await until(() => read(1), 10000, 'the other server to serve the new record');
  assert.equal((await fetch(`${a.base}/view/shared`, { method: 'PUT', body: '{"n":2}' })).status, 200);
  await until(() => read(2), 10000, 'the other server to serve the change');
  // b's change stream, opened before either change, carried both: live.
  assert.deepEqual((await streamed).map((e) => [e.sequence, e.name, e.version]), [[1, 'shared', 1], [2, 'shared', 2]]);
  const rows = await new pg.Client({ connectionString: target.href });
  await rows.connect();
  const { rows: [row] } = await rows.query(`SELECT version, data->>'n' AS n FROM sys_metadata WHERE name = 'shared'`);
  await rows.end();
  assert.deepEqual(row, { version: '2', n: '2' });
  for (const s of [a, b]) {
    const code = await new Promise((resolve) => { s.child.once('exit', resolve); s.child.kill('SIGTERM'); });
    assert.equal(code, 0);
  }
  await admin.query(`DROP DATABASE ${database}`);
});
