// One truth under concurrency, as users meet it: concurrent writers through
// one service, two services on one store, two Node processes on one SQLite
// file, a read in flight while a save commits, a write that lands and then
// fails, and a change stream resumed after a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MetadataService } from '@objectstack/metadata-wasm';
import { openSqliteStore } from '@objectstack/metadata-wasm/sqlite';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const fixture = (name) => join(here, 'fixtures', name);
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

// An asynchronous key-value host over a Map, as a database client is: each
// call answers on a later turn. `commit` checks the ops' expectations.
function asyncHost({ atomic }) {
  const map = new Map();
  const gates = [];
  const later = async (f) => { await tick(); return f(); };
  const host = {
    kind: 'async-map',
    map,
    // Holds the next `get` of `key` until the returned function is called.
    hold(key) {
      let release;
      const gate = new Promise((resolve) => { release = resolve; });
      gates.push({ key, gate });
      return release;
    },
    async get(k) {
      const i = gates.findIndex((g) => g.key === k);
      if (i >= 0) {
        const value = map.has(k) ? structuredClone(map.get(k)) : null;
        const [{ gate }] = gates.splice(i, 1);
        await gate;
        return value;
      }
      return later(() => (map.has(k) ? structuredClone(map.get(k)) : null));
    },
    put: (k, v) => later(() => { map.set(k, structuredClone(v)); }),
    delete: (k) => later(() => { map.delete(k); }),
    list: (p) => later(() => [...map].filter(([k]) => k.startsWith(p)).map(([, v]) => structuredClone(v))),
  };
  if (atomic) {
    host.commit = (ops) => later(() => {
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
  return host;
}

for (const atomic of [true, false]) {
  const label = atomic ? 'with commit' : 'without commit';

  test(`async host ${label}: 20 concurrent plain saves get distinct versions and lose nothing`, async () => {
    const svc = await MetadataService.create({ store: asyncHost({ atomic }), cache: false });
    await svc.save('view', 'hot', { n: 0 });
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => svc.save('view', 'hot', { n: i + 1 })));
    assert.deepEqual(outcomes.map((o) => o.record.version).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 2));
    const history = await svc.history('view', 'hot');
    assert.equal(history.length, 21);
    assert.deepEqual(history.map((h) => h.data.n).sort((a, b) => a - b), Array.from({ length: 21 }, (_, i) => i));
    assert.deepEqual(history.map((h) => h.seq), Array.from({ length: 21 }, (_, i) => i + 1));
  });

  test(`async host ${label}: 200 concurrent plain saves through one service all land, as versions 2..201`, async () => {
    // More writers than the rounds a write may lose without progress (64):
    // a round lost to a writer that got through is not counted.
    const svc = await MetadataService.create({ store: asyncHost({ atomic }), cache: false });
    await svc.save('view', 'busy', { n: 0 });
    const outcomes = await Promise.all(Array.from({ length: 200 }, (_, i) => svc.save('view', 'busy', { n: i + 1 })));
    assert.deepEqual(outcomes.map((o) => o.record.version).sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => i + 2));
    assert.equal((await svc.history('view', 'busy')).length, 201);
  });

  test(`async host ${label}: 20 concurrent guarded saves have exactly one winner`, async () => {
    const svc = await MetadataService.create({ store: asyncHost({ atomic }), cache: false });
    await svc.save('view', 'g', { n: 0 });
    await svc.save('view', 'g', { n: 1 });
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => svc.save('view', 'g', { n: 100 + i }, { expectedVersion: 2 })));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results.filter((x) => x.status === 'rejected')) {
      assert.equal(r.reason.code, 'CONFLICT');
      assert.equal(r.reason.expected, 'version 2');
    }
    assert.equal((await svc.history('view', 'g')).length, 3);
  });

  test(`async host ${label}: two services on one store, 10 concurrent creates, one winner`, async () => {
    const store = asyncHost({ atomic });
    const a = await MetadataService.create({ store, actor: 'a', cache: false });
    const b = await MetadataService.create({ store, actor: 'b', cache: false });
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).save('view', 'once', { by: i }, { expectedVersion: 0 })));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    assert.equal((await a.history('view', 'once')).length, 1);
  });
}

test('a read in flight while a save commits never leaves the old value in the read cache', async () => {
  const store = asyncHost({ atomic: true });
  const svc = await MetadataService.create({ store });
  await svc.save('view', 'v', { n: 1 });
  svc.invalidate();
  const release = store.hold('r/*/view/v');
  const reading = svc.load('view', 'v');
  await tick();
  await svc.save('view', 'v', { n: 2 });
  release();
  // The read began before the commit: it may answer either value...
  assert.ok([1, 2].includes((await reading).n));
  // ...but the next one answers the committed value.
  assert.deepEqual(await svc.load('view', 'v'), { n: 2 });
  assert.equal((await svc.resolve('view', 'v')).fromCache, true);
});

test('a change by another service on the same store reaches this service\'s read cache', async () => {
  const store = asyncHost({ atomic: true });
  const a = await MetadataService.create({ store });
  const b = await MetadataService.create({ store });
  await a.save('view', 'v', { n: 1 });
  assert.deepEqual(await b.load('view', 'v'), { n: 1 });
  await a.save('view', 'v', { n: 2 });
  assert.deepEqual(await b.load('view', 'v'), { n: 2 });
});

test('a put that lands and then fails is undone: the record stays at its version', async () => {
  const store = asyncHost({ atomic: false });
  const svc = await MetadataService.create({ store, cache: false });
  await svc.save('view', 'v', { n: 1 });
  const put = store.put;
  let failed = false;
  store.put = async (k, v) => {
    await put(k, v);
    // The head's write lands, then its answer times out (once).
    if (k.startsWith('r/') && !failed) {
      failed = true;
      throw new Error('timeout after the write');
    }
  };
  await assert.rejects(svc.save('view', 'v', { n: 2 }), (e) => e.code === 'HOST_CALLBACK_FAILED' && /timeout after the write/.test(e.message));
  store.put = put;
  const record = await svc.loadRecord('view', 'v');
  assert.equal(record.version, 1);
  assert.deepEqual(record.data, { n: 1 });
  assert.deepEqual((await svc.history('view', 'v')).map((h) => h.version), [1]);
  assert.equal(await svc.lastSequence(), 1);
  // And the next save works.
  assert.equal((await svc.save('view', 'v', { n: 3 })).record.version, 2);
});

test('saveMany refuses unknown item fields like save refuses unknown options', async () => {
  const svc = await MetadataService.create();
  await assert.rejects(svc.saveMany([{ type: 'view', name: 'a', data: {}, optoins: {} }]), (e) => e.code === 'VALIDATION' && /optoins/.test(e.message));
  assert.equal(await svc.load('view', 'a'), null);
});

test('register is checked against the access policy', async () => {
  const policy = { roles: { reader: { '*': ['read'] } } };
  const svc = await MetadataService.create({ roles: ['reader'], policy });
  await assert.rejects(svc.register('view', 'home', { label: 'x' }), (e) => e.code === 'FORBIDDEN' && e.operation === 'register');
  assert.equal(await svc.load('view', 'home'), null);
});

test('two Node processes on one SQLite file: no version is won twice, history equals the wins', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'osm-two-processes-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'shared.db');
  const store = await openSqliteStore(path);
  const svc = await MetadataService.create({ store });
  await svc.save('view', 'contended', { by: 'setup' });
  store.close();
  const rounds = 150;
  const outputs = await Promise.all(['alpha', 'beta'].map((who) => run(process.execPath, [fixture('sqlite-writer.mjs'), path, who, String(rounds), 'guarded'])));
  const results = outputs.map((o) => JSON.parse(o.stdout));
  const wins = results.flatMap((r) => r.won);
  assert.equal(new Set(wins).size, wins.length, 'a version reported as won by both processes');
  const check = await openSqliteStore(path);
  const reader = await MetadataService.create({ store: check, cache: false });
  const history = await reader.history('view', 'contended');
  check.close();
  assert.deepEqual(history.map((h) => h.version), [1, ...wins.sort((a, b) => a - b)]);
  assert.equal(history.length, 1 + wins.length);
  for (const r of results) assert.equal(r.won.length + r.conflicts, rounds);
  assert.deepEqual(history.map((h) => h.seq), history.map((_, i) => i + 1));
});

test('two Node processes doing plain saves on one SQLite file lose no update', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'osm-two-processes-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'shared.db');
  const store = await openSqliteStore(path);
  await (await MetadataService.create({ store })).save('view', 'contended', { by: 'setup' });
  store.close();
  const outputs = await Promise.all(['alpha', 'beta'].map((who) => run(process.execPath, [fixture('sqlite-writer.mjs'), path, who, '100', 'plain'])));
  const results = outputs.map((o) => JSON.parse(o.stdout));
  for (const r of results) assert.equal(r.won.length, 100);
  const wins = results.flatMap((r) => r.won).sort((a, b) => a - b);
  assert.deepEqual(wins, Array.from({ length: 200 }, (_, i) => i + 2));
  const check = await openSqliteStore(path);
  const history = await (await MetadataService.create({ store: check })).history('view', 'contended');
  check.close();
  assert.equal(history.length, 201);
});

test('subscribe with since, in a restarted process, replays exactly the changes it missed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'osm-resume-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'log.db');
  let store = await openSqliteStore(path);
  let svc = await MetadataService.create({ store, tenant: 'acme' });
  for (let i = 1; i <= 3; i++) await svc.save('view', `v${i}`, { i });
  const seen = await svc.lastSequence();
  assert.equal(seen, 3);
  // While the subscriber is down: changes of its scope, and of another.
  await svc.save('view', 'v1', { i: 11 });
  await svc.delete('view', 'v2');
  await svc.purge('view', 'v3');
  const other = await MetadataService.create({ store, tenant: 'globex' });
  await other.save('view', 'elsewhere', {});
  store.close();
  // A new process subscribes from what it had seen.
  const { stdout } = await run(process.execPath, [fixture('subscriber.mjs'), path, String(seen), '3', 'acme']);
  const events = stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(events.map((e) => [e.sequence, e.name, e.operation]), [[4, 'v1', 'update'], [5, 'v2', 'delete'], [6, 'v3', 'purge']]);
  // And it goes live after the replay: a change made while it listens.
  store = await openSqliteStore(path);
  svc = await MetadataService.create({ store, tenant: 'acme' });
  const child = run(process.execPath, [fixture('subscriber.mjs'), path, '4', '3', 'acme']);
  await new Promise((resolve) => setTimeout(resolve, 700));
  await svc.save('view', 'v4', { i: 4 });
  const live = (await child).stdout.trim().split('\n').map((l) => JSON.parse(l));
  store.close();
  assert.deepEqual(live.map((e) => e.sequence), [5, 6, 7]);
  assert.equal(live[2].name, 'v4');
});

test('SQLite: 200 concurrent plain saves through one service all land, as versions 1..200', async () => {
  const store = await openSqliteStore(':memory:');
  const svc = await MetadataService.create({ store, cache: false });
  const outcomes = await Promise.all(Array.from({ length: 200 }, (_, i) => svc.save('view', 'busy', { n: i })));
  assert.deepEqual(outcomes.map((o) => o.record.version).sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => i + 1));
  const changes = await svc.changes({ since: 0 });
  assert.deepEqual(changes.map((c) => c.sequence), Array.from({ length: 200 }, (_, i) => i + 1));
  svc.free();
  store.close();
});

test('without commit: a save whose undo fails half-way still puts back every key it can, and the record takes writes again', async () => {
  const host = asyncHost({ atomic: false });
  const svc = await MetadataService.create({ store: host, cache: false });
  await svc.save('view', 'w', { v: 1 });
  await svc.save('view', 'w', { v: 2 });
  // The first put of the next save lands; every put after it fails
  // (deletes still work), so the undo cannot put the head back.
  const put = host.put;
  let puts = 0;
  host.put = (k, v) => (++puts > 1 ? Promise.reject(new Error('disk gone')) : put(k, v));
  await assert.rejects(svc.save('view', 'w', { v: 3 }), (e) => e.code === 'STORAGE_ERROR' && /undoing the partial write also failed/.test(e.message));
  host.put = put;
  const fresh = await MetadataService.create({ store: host, cache: false });
  assert.deepEqual((await fresh.load('view', 'w')), { v: 2 });
  assert.deepEqual((await fresh.history('view', 'w')).map((h) => h.version), [1, 2]);
  assert.equal((await fresh.save('view', 'w', { v: 4 })).record.version, 3);
});

test('a key-value commit that answers neither nothing nor { conflict: key } is HOST_CALLBACK_FAILED, and the version is not handed out', async () => {
  for (const answer of [42, 'not json', [1, 2], { foo: 1 }, { conflict: 5 }, { firstSeq: 7 }, true]) {
    const host = asyncHost({ atomic: true });
    const commit = host.commit;
    const svc = await MetadataService.create({ store: host, cache: false });
    await svc.save('view', 'c', { v: 1 });
    host.commit = async () => answer;
    await assert.rejects(svc.save('view', 'c', { v: 2 }), (e) => e.code === 'HOST_CALLBACK_FAILED', JSON.stringify(answer));
    host.commit = commit;
    assert.equal((await svc.save('view', 'c', { v: 3 })).record.version, 2, JSON.stringify(answer));
  }
});

test('saveMany takes what save takes: lone surrogates and definitions nested 127 levels', async () => {
  const nest = (n) => { let v = {}; for (let i = 1; i < n; i++) v = { a: v }; return v; };
  for (const data of [{ a: '\ud800' }, { '\udfff': 1 }, nest(126), nest(127)]) {
    const one = await MetadataService.create();
    const many = await MetadataService.create();
    const saved = await one.save('view', 'x', data);
    const [batch] = await many.saveMany([{ type: 'view', name: 'x', data }]);
    assert.equal(batch.record.checksum, saved.record.checksum);
  }
});
