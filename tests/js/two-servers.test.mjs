// Two metadata servers (`objectstack-metadata serve --database-url`, two
// processes) on one PostgreSQL database, reached over HTTP as many app
// instances would reach them: a change through one is served by the
// other's reads within a second; conditional writes spread over both have
// exactly one winner; plain writes over both all land, in history, with
// strictly increasing sequence numbers; a server killed (SIGKILL) during a
// 1,000-record batch leaves all of it or none. Runs on the cluster the test
// command starts (METADATA_TEST_DATABASE_URL), in a database of its own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const here = dirname(fileURLToPath(import.meta.url));
const url = process.env.METADATA_TEST_DATABASE_URL;
if (!url && process.env.METADATA_TEST_POSTGRES === 'required') {
  throw new Error('METADATA_TEST_DATABASE_URL is not set, and the test command requires PostgreSQL');
}
const skip = url ? false : 'set METADATA_TEST_DATABASE_URL (./scripts/test starts a cluster and sets it)';
if (skip) console.log(`SKIPPED the two-server tests: ${skip}`);

const cli = join(here, '..', '..', 'pkg', 'cli.js');
const database = `servers_${process.pid}`;
let target;
let admin;
let rows;
const servers = [];

// A server process on `target`; resolves once it listens.
function start() {
  const { DATABASE_URL: _, ...env } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'serve', '--port', '0', '--database-url', target], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    const collect = (d) => {
      out += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve({ child, base: `${m[1]}/api/v1/metadata` });
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', (d) => { out += d; });
    child.once('exit', (code, signal) => reject(new Error(`serve exited (${code ?? signal}) before listening: ${out}`)));
    servers.push(child);
  });
}

before(async () => {
  if (skip) return;
  admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const u = new URL(url);
  u.pathname = `/${database}`;
  target = u.href;
  rows = new pg.Client({ connectionString: target });
});

after(async () => {
  if (skip) return;
  await Promise.all(servers.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise((resolve) => {
    c.once('exit', resolve);
    c.kill('SIGTERM');
  })));
  await rows.end().catch(() => {});
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const put = (base, path, body, headers = {}) => fetch(`${base}/${path}`, { method: 'PUT', body: JSON.stringify(body), headers });

let pair;
async function twoServers() {
  if (!pair) {
    pair = await Promise.all([start(), start()]);
    await rows.connect();
  }
  return pair;
}

test('a change through one server is served by the other\'s reads within a second, every time, in both directions', { skip }, async () => {
  const [a, b] = await twoServers();
  assert.equal((await put(a.base, 'view/shared', { n: 0 })).status, 201);
  for (let n = 1; n <= 20; n++) {
    const [writer, reader] = n % 2 ? [a, b] : [b, a];
    // The reader holds the previous version in its read cache.
    const before = await (await fetch(`${reader.base}/view/shared`)).json();
    assert.equal(before.data.n, n - 1);
    const response = await put(writer.base, 'view/shared', { n });
    assert.equal(response.status, 200);
    const committed = Date.now();
    // A deadline, not a measurement: the change must be visible within 1 s.
    for (;;) {
      const r = await (await fetch(`${reader.base}/view/shared`)).json();
      if (r.data.n === n) break;
      assert.ok(Date.now() - committed < 1000, `change ${n} not served by the other server within a second`);
      await sleep(5);
    }
  }
});

test('30 concurrent conditional writes over both servers: exactly one winner, 29 refused, nothing else written', { skip }, async () => {
  const [a, b] = await twoServers();
  const created = await put(a.base, 'view/guarded', { round: 0 });
  assert.equal(created.status, 201);
  const tag = created.headers.get('etag');
  assert.ok(tag, 'a write answers with the ETag of what it wrote');
  const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) =>
    put(i % 2 ? a.base : b.base, 'view/guarded', { round: 1, writer: i }, { 'if-match': tag }).then(async (r) => {
      await r.arrayBuffer();
      return r.status;
    })));
  assert.equal(statuses.filter((s) => s === 200).length, 1, `statuses: ${statuses}`);
  assert.equal(statuses.filter((s) => s === 409 || s === 412).length, 29, `statuses: ${statuses}`);
  for (const server of [a, b]) {
    const history = await (await fetch(`${server.base}/view/guarded/history`)).json();
    assert.deepEqual(history.map((h) => h.version).sort(), [1, 2]);
  }
  const { rows: [row] } = await rows.query("SELECT version FROM sys_metadata WHERE type = 'view' AND name = 'guarded'");
  assert.equal(Number(row.version), 2);
});

test('20 concurrent plain writes over both servers all land, in history with strictly increasing sequence numbers', { skip }, async () => {
  const [a, b] = await twoServers();
  const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) =>
    put(i % 2 ? a.base : b.base, 'view/plain', { writer: i }).then(async (r) => {
      await r.arrayBuffer();
      return r.status;
    })));
  assert.equal(statuses.filter((s) => s === 200 || s === 201).length, 20, `statuses: ${statuses}`);
  assert.equal(statuses.filter((s) => s === 201).length, 1, 'one of them created the record');
  for (const server of [a, b]) {
    const history = await (await fetch(`${server.base}/view/plain/history`)).json();
    assert.equal(history.length, 20);
    const ordered = [...history].sort((x, y) => x.version - y.version);
    assert.deepEqual(ordered.map((h) => h.version), Array.from({ length: 20 }, (_, i) => i + 1));
    for (let i = 1; i < ordered.length; i++) assert.ok(ordered[i].seq > ordered[i - 1].seq, 'sequence numbers increase with versions');
    // Every writer's data is one of the versions: nothing was lost.
    assert.deepEqual(ordered.map((h) => h.data.writer).sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i));
  }
});

// Waits until no other session of the database is inside a statement or a
// transaction. A killed server's COMMIT, sent before it died, completes on
// the database's own time (and a transaction it left open is rolled back
// once its session sees the connection gone): counting before then could
// see none of a batch that then lands.
async function settled() {
  for (let i = 0; i < 250; i++) {
    const { rows: [{ busy }] } = await rows.query(`SELECT count(*)::int AS busy FROM pg_stat_activity
      WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
        AND (state = 'active' OR state LIKE 'idle in transaction%')`);
    if (busy === 0) return;
    await sleep(20);
  }
  throw new Error('a session of the database stayed busy for 5 s');
}

test('a server killed (SIGKILL) during a 1,000-record batch leaves all of the batch or none of it', { skip }, async () => {
  const [a] = await twoServers();
  const outcomes = [];
  for (const [trial, delay] of [5, 20, 40, 80, 150, 300].entries()) {
    const victim = await start();
    const type = `batch_${trial}`;
    const items = Array.from({ length: 1000 }, (_, i) => ({ type, name: `item_${i}`, data: { i, label: `Item ${i}`, text: 'x'.repeat(200) } }));
    const sent = fetch(`${victim.base}/_batch`, { method: 'POST', body: JSON.stringify(items) }).then((r) => r.status, () => 'cut');
    await sleep(delay);
    const exited = new Promise((resolve) => victim.child.once('exit', resolve));
    victim.child.kill('SIGKILL');
    await exited;
    await settled();
    const answer = await sent;
    const { rows: [{ count }] } = await rows.query('SELECT count(*)::int AS count FROM sys_metadata WHERE type = $1', [type]);
    assert.ok(count === 0 || count === 1000, `trial ${trial} (killed after ${delay} ms): ${count} of 1000 records written`);
    if (answer === 200) assert.equal(count, 1000, 'an acknowledged batch is all there');
    // The other server agrees with the database.
    const listed = await (await fetch(`${a.base}/${type}?limit=1`)).json();
    assert.equal(listed.total, count);
    outcomes.push(`${delay} ms: ${count === 0 ? 'none' : 'all'} (${answer})`);
  }
  console.log(`kill -9 during a 1,000-record batch: ${outcomes.join('; ')}`);
});
