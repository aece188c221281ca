// Caches synced to a server (`MetadataService.create({ remote })`), as app
// instances use them: replicated at start, following the change stream,
// writes pinned to the cached version, reads offline, resumed after the
// server comes back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetadataService } from '@objectstack/metadata-wasm';
import { createHandler, listen } from '@objectstack/metadata-wasm/server';
import { openSqliteStore } from '@objectstack/metadata-wasm/sqlite';

const TOKENS = {
  'root-token-00001': { actor: 'root', roles: [] },
  'acme-token-00001': { actor: 'alice', roles: [], tenant: 'acme' },
};

async function startServer(path, port = 0) {
  const store = await openSqliteStore(path);
  const service = await MetadataService.create({ store, actor: 'server' });
  const running = await listen(createHandler({ service, tokens: TOKENS, limits: { heartbeatMs: 100 } }), { port });
  return { ...running, async stop() { await running.close(); store.close(); } };
}

async function until(check, what) {
  for (let i = 0; i < 1500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** A server on a SQLite file of its own, stopped and removed after `t`. */
async function serverFor(t) {
  const dir = mkdtempSync(join(tmpdir(), 'osm-remote-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const server = await startServer(join(dir, 'metadata.db'));
  t.after(() => server.stop());
  return server;
}

const cacheOf = (url, token = 'root-token-00001') => MetadataService.create({ store: 'memory', remote: { url, token } });

test('two caches of one server: a change through one reaches the other, with the server\'s versions', async (t) => {
  const server = await serverFor(t);
  const a = await cacheOf(server.url);
  const b = await cacheOf(server.url);
  t.after(() => { a.close(); b.close(); });
  const heard = [];
  b.subscribe((e) => heard.push(e));
  const out = await a.save('view', 'shared', { label: 'from a' });
  assert.equal(out.record.version, 1);
  await until(async () => (await b.load('view', 'shared'))?.label === 'from a', 'b to hear of a\'s save');
  assert.equal((await b.loadRecord('view', 'shared')).checksum, out.record.checksum);
  assert.ok(heard.some((e) => e.name === 'shared' && e.remote === true));
  await a.save('view', 'shared', { label: 'again' });
  await until(async () => (await b.loadRecord('view', 'shared'))?.version === 2, 'version 2 in b');
  // Deletes and purges follow too.
  await a.delete('view', 'shared');
  await until(async () => (await b.load('view', 'shared')) === null, 'the delete in b');
  await a.save('view', 'other', { n: 1 });
  await until(async () => (await b.load('view', 'other')) !== null, 'other in b');
  await a.purge('view', 'other');
  await until(async () => (await b.loadOwnRecord('view', 'other')) === null, 'the purge in b');
  assert.deepEqual((await b.history('view', 'shared')).map((h) => h.operation), ['create', 'update', 'delete']);
});

test('conflicting edits: the second is refused with CONFLICT, and its cache holds the server\'s version', async (t) => {
  const server = await serverFor(t);
  const a = await cacheOf(server.url);
  const b = await cacheOf(server.url);
  t.after(() => { a.close(); b.close(); });
  await a.save('object', 'account', { label: 'v1' });
  await until(async () => (await b.load('object', 'account')) !== null, 'b to have v1');
  // b stops hearing, so it edits what it holds: version 1.
  b.close();
  await a.save('object', 'account', { label: 'a wins' });
  await assert.rejects(b.save('object', 'account', { label: 'b loses' }), (e) => e.code === 'CONFLICT');
  assert.equal((await b.load('object', 'account')).label, 'a wins');
  assert.equal((await b.loadRecord('object', 'account')).version, 2);
});

test('offline: reads are served from the cache; writes say the server is unreachable; the cache resumes where it left off', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'osm-remote-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'o.db');
  let server = await startServer(path);
  const port = Number(new URL(server.url).port);
  const cache = await cacheOf(server.url);
  t.after(() => cache.close());
  const statuses = [];
  cache.onStatus((s) => statuses.push(s.online));
  await cache.save('app', 'crm', { label: 'CRM' });
  await server.stop();
  await until(() => cache.online === false, 'the cache to notice');
  assert.deepEqual(await cache.load('app', 'crm'), { label: 'CRM' });
  assert.deepEqual((await cache.loadMany('app')).map((d) => d.label), ['CRM']);
  await assert.rejects(cache.save('app', 'crm', { label: 'offline' }), (e) => e.code === 'STORAGE_UNAVAILABLE');
  // Changes made while it was away (straight into the database)...
  const store = await openSqliteStore(path);
  const direct = await MetadataService.create({ store, actor: 'elsewhere' });
  await direct.save('app', 'crm', { label: 'changed while away' });
  await direct.save('app', 'erp', { label: 'ERP' });
  store.close();
  // ...reach it once the server is back on the same address.
  server = await startServer(path, port);
  t.after(() => server.stop());
  await until(async () => (await cache.load('app', 'erp')) !== null, 'the cache to catch up');
  assert.equal((await cache.load('app', 'crm')).label, 'changed while away');
  assert.equal(cache.online, true);
  assert.deepEqual([...new Set(statuses)].sort(), [false, true]);
});

test('a tenant\'s cache: its own records and the global ones, as the server resolves them', async (t) => {
  const server = await serverFor(t);
  const root = await cacheOf(server.url);
  t.after(() => root.close());
  await root.save('view', 'home', { who: 'global' });
  await root.save('view', 'shared', { who: 'global' });
  const acme = await cacheOf(server.url, 'acme-token-00001');
  t.after(() => acme.close());
  assert.equal(acme.tenant, 'acme', 'the server says whose the token is');
  assert.equal((await acme.load('view', 'home')).who, 'global');
  const own = await acme.save('view', 'home', { who: 'acme' });
  assert.equal(own.record.tenant_id, 'acme');
  assert.equal((await acme.load('view', 'home')).who, 'acme');
  await root.save('view', 'shared', { who: 'global, changed' });
  await until(async () => (await acme.load('view', 'shared'))?.who === 'global, changed', 'the global change in the tenant cache');
  assert.equal((await root.load('view', 'home')).who, 'global');
});

test('a record deleted on the server is saved again through a cache, as a local service revives it', async (t) => {
  const server = await serverFor(t);
  const a = await cacheOf(server.url);
  t.after(() => a.close());
  await a.save('view', 'v', { n: 1 });
  await a.delete('view', 'v');
  // The cache holds the deleted record: its save is pinned to that version
  // (a deleted record's checksum is no current version to match).
  let out = await a.save('view', 'v', { n: 2 });
  assert.deepEqual([out.record.version, out.record.is_active, out.operation], [3, true, 'restore']);
  await a.delete('view', 'v');
  // A cache that has not caught up with the deletion: its pin names a
  // version the server no longer has current, and it learns the deletion.
  const b = await cacheOf(server.url);
  t.after(() => b.close());
  await a.save('view', 'w', { n: 1 });
  await until(async () => (await b.loadOwnRecord('view', 'w'))?.version === 1, 'the second cache to hold w');
  b.close();
  await a.delete('view', 'w');
  const late = await cacheOf(server.url);
  t.after(() => late.close());
  out = await late.save('view', 'w', { n: 3 });
  assert.deepEqual([out.record.version, out.record.data], [3, { n: 3 }]);
});

test('a cache deletes only what it holds: a record it has not seen is a conflict, and then it holds it', async (t) => {
  const server = await serverFor(t);
  const a = await cacheOf(server.url);
  t.after(() => a.close());
  const b = await cacheOf(server.url);
  t.after(() => b.close());
  b.close();
  await a.save('view', 'unseen', { n: 1 });
  // b stopped following before it heard of the record: its delete had
  // gone through with no condition at all.
  assert.equal(await b.loadOwnRecord('view', 'unseen'), null);
  await assert.rejects(b.delete('view', 'unseen'), (e) => e.code === 'CONFLICT');
  const fresh = await cacheOf(server.url);
  t.after(() => fresh.close());
  assert.deepEqual([(await fresh.loadRecord('view', 'unseen'))?.version, (await fresh.loadRecord('view', 'unseen'))?.is_active], [1, true]);
  // The conflict brought it into b: now its delete is pinned and goes through.
  assert.equal((await b.loadOwnRecord('view', 'unseen'))?.version, 1);
  assert.equal((await b.delete('view', 'unseen')).record.is_active, false);
});

test('a cache writes a definition as a local service reads it: what JSON cannot carry is refused, boxed values are objects', async (t) => {
  const server = await serverFor(t);
  const cache = await cacheOf(server.url);
  t.after(() => cache.close());
  const local = await MetadataService.create();
  const settle = (p) => p.then((o) => ({ ok: Array.isArray(o) ? o.map((x) => x.record.data) : o.record.data }), (e) => ({ code: e.code, field: e.field, message: e.message }));
  // JSON.stringify had sent NaN as null, left the function out and
  // unwrapped the boxed string: the cache stored other data than a local
  // service stores, or refuses.
  let n = 0;
  for (const data of [{ n: NaN }, { n: 1, f() {} }, { s: new String('ab') }, { big: Infinity }, { nested: [{ x: -Infinity }] }, { ok: true }]) {
    n += 1;
    const one = (s) => settle(s.save('view', `one_${n}`, data));
    const many = (s) => settle(s.saveMany([{ type: 'view', name: `ok_${n}`, data: { fine: 1 } }, { type: 'view', name: `many_${n}`, data }]));
    for (const write of [one, many]) {
      const [mine, cached] = [await write(local), await write(cache)];
      assert.deepEqual(cached, mine, `${write === one ? 'save' : 'saveMany'} of ${Object.keys(data)}`);
    }
  }
  // Nothing refused reached the server.
  assert.deepEqual((await cache.query({ type: 'view' })).items.map((r) => r.name).sort(), ['many_3', 'many_6', 'ok_3', 'ok_6', 'one_3', 'one_6']);
  // Items' options as the local service reads them, in the items' order:
  // an expectedVersion of NaN had gone out as null (no guard); options the
  // body carries as they are (a checksum with a comma, an empty tag) had
  // been refused by the rules of headers; a toJSON's answer had its own
  // toJSON asked too.
  for (const items of [
    [{ type: 'view', name: 'g', data: {}, options: { expectedVersion: NaN } }],
    [{ type: 'view', name: 'g', data: {}, options: { expectedChecksum: 'a,b' } }],
    [{ type: 'view', name: 'g', data: {}, options: { tags: [''] } }],
    [{ type: 'view', name: 'g', data: {}, options: { expectedVersion: 2 ** 53 } }],
    [{ type: 'view', name: 'g', data: { toJSON: () => ({ a: 1, toJSON: () => ({ b: 2 }) }) } }],
    [{ type: 'view', name: 'g', data: {}, options: { bogus: 1 } }, { type: 'view', name: 'h', data: { n: NaN } }],
  ]) {
    const [mine, cached] = [await settle(local.saveMany(items)), await settle(cache.saveMany(items))];
    assert.deepEqual(cached, mine, JSON.stringify(items));
  }
  // So do a single save's: its options first, then its data; an empty
  // source or owner had been left out.
  for (const [data, options] of [[{ n: NaN }, { bogus: 1 }], [{ n: 1 }, { source: '' }], [{ n: 1 }, { owner: '' }]]) {
    const [mine, cached] = [await settle(local.save('view', 'g', data, options)), await settle(cache.save('view', 'g', data, options))];
    // (The local message says where in the options' text serde stopped.)
    assert.deepEqual([cached.code, cached.field], [mine.code, mine.field], JSON.stringify(options));
    assert.equal(mine.code, 'VALIDATION');
  }
  assert.equal(await cache.load('view', 'g'), null);
  // Explicit guards are the core's, as on a local service: a deleted
  // record's checksum matches them (they had gone as If-Match, which no
  // deleted record meets), and any checksum can be asked for.
  for (const s of [local, cache]) {
    await s.save('view', 'del', { n: 1 });
    await s.delete('view', 'del');
  }
  const gone = async (s) => (await s.history('view', 'del')).at(-1).checksum;
  for (const [what, call] of [
    ['restore', (s, c) => s.restore('view', 'del', { expectedChecksum: c })],
    ['save stale', (s) => s.save('view', 'del', { n: 2 }, { expectedChecksum: 'a,b "c"' })],
    ['save', (s, c) => s.save('view', 'del', { n: 2 }, { expectedChecksum: c })],
    // A lone surrogate, which the local service refuses, had travelled as
    // U+FFFD; a version of 16 digits had been refused by the server.
    ['lone surrogate', (s) => s.save('view', 'del', { n: 3 }, { expectedChecksum: '\ud800' })],
    ['16 digits', (s) => s.delete('view', 'del', { expectedVersion: Number.MAX_SAFE_INTEGER })],
    // Arguments the local service refuses: a boxed number or a BigInt had
    // gone out as a version (or thrown a TypeError); names that cannot
    // travel in a URL as they are had been a URIError or another route.
    ['boxed version', (s) => s.rollback('view', 'del', new Number(1))],
    ['BigInt version', (s) => s.rollback('view', 'del', 1n)],
    ['dot name', (s) => s.purge('.', 'del')],
    ['dot-dot name', (s) => s.restore('view', '..')],
    ['lone surrogate name', (s) => s.rollback('view', 'd\ud800', 1)],
    // Two bad arguments: the one the local service names first.
    ['name and version', (s) => s.rollback('view', '..', 0)],
    ['version and options', (s) => s.rollback('view', 'del', 0, { bogus: 1 })],
    ['name and options', (s) => s.save('view', '..', {}, { bogus: 1 })],
    ['name and data', (s) => s.save('view', '..', { n: NaN })],
    ['delete name and options', (s) => s.delete('view', '..', { bogus: 1 })],
  ]) {
    const [mine, cached] = [await settle(call(local, await gone(local))), await settle(call(cache, await gone(cache)))];
    assert.deepEqual([cached.code, cached.field, cached.ok], [mine.code, mine.field, mine.ok], what);
  }
});

test('a cache\'s writes refuse options that are not an object or that they do not take, as a local service does', async (t) => {
  const server = await serverFor(t);
  const a = await cacheOf(server.url);
  t.after(() => a.close());
  await a.save('view', 'v', { n: 1 });
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  // These had been ignored: the write went through without its guard.
  for (const call of [
    () => a.save('view', 'v', { n: 2 }, [1]),
    () => a.save('view', 'v', { n: 2 }, { expectedVerison: 1 }),
    () => a.save('view', 'v', { n: 2 }, 5),
    () => a.save('view', 'v', { n: 2 }, proxy),
    () => a.delete('view', 'v', ['me']),
    () => a.delete('view', 'v', { tags: ['x'] }),
    () => a.restore('view', 'v', [1]),
    () => a.rollback('view', 'v', 1, { expected: 1 }),
    () => a.purge('view', 'v', 'all'),
    // Members the local service refuses: they had become other guards
    // (true: version 1; []: none may exist) or a TypeError.
    () => a.save('view', 'v', { n: 2 }, { expectedVersion: '1' }),
    () => a.save('view', 'v', { n: 2 }, { expectedVersion: true }),
    () => a.save('view', 'v', { n: 2 }, { expectedVersion: [] }),
    () => a.save('view', 'v', { n: 2 }, { expectedChecksum: 5 }),
    () => a.save('view', 'v', { n: 2 }, { tags: 'abc' }),
    () => a.save('view', 'v', { n: 2 }, { owner: 5 }),
    () => a.delete('view', 'v', { expectedVersion: -1 }),
    // Past the largest safe integer: the local service refuses it too.
    () => a.save('view', 'v', { n: 2 }, { expectedVersion: 2 ** 53 }),
    // Objects whose contents are not their members: they had been read as
    // no options at all.
    () => a.save('view', 'v', { n: 2 }, new Map([['expectedVersion', 9]])),
    () => a.delete('view', 'v', new Set([1])),
    () => a.save('view', 'v', { n: 2 }, Object(5)),
    // A tag with a comma had been saved as two tags.
    () => a.save('view', 'v', { n: 2 }, { tags: ['crm,sales'] }),
    // An empty tag, which the local service refuses, had cleared the tags.
    () => a.save('view', 'v', { n: 2 }, { tags: [''] }),
    () => a.save('view', 'v', { n: 2 }, { tags: ['a', ''] }),
    () => a.save('view', 'v', { n: 2 }, new Date(0)),
    () => a.save('view', 'v', { n: 2 }, Promise.resolve({ expectedVersion: 9 })),
    () => a.delete('view', 'v', new Proxy(new Map(), {})),
  ]) {
    await assert.rejects(call(), (e) => e.name === 'MetadataError' && e.code === 'VALIDATION' && e.field === 'options', String(call));
  }
  // Any checksum can be asked for (it travels as a query parameter, where
  // a line break had failed the request as "server unreachable"): one no
  // record has is a conflict, as on a local service.
  for (const call of [
    () => a.save('view', 'v', { n: 2 }, { expectedChecksum: 'abc\ndef' }),
    () => a.delete('view', 'v', { expectedChecksum: 'a"b' }),
    () => a.save('view', 'v', { n: 2 }, { expectedChecksum: 'a,b' }),
  ]) {
    await assert.rejects(call(), (e) => e.name === 'MetadataError' && e.code === 'CONFLICT', String(call));
  }
  // The batch too: options JSON would make {} of had gone to the server
  // as no options; data JSON cannot carry was a bare TypeError.
  await assert.rejects(a.saveMany([{ type: 'view', name: 'v', data: { n: 2 } }, { type: 'view', name: 'w', data: {}, options: new Map([['expectedVersion', 9]]) }]),
    (e) => e.name === 'MetadataError' && e.code === 'VALIDATION' && e.index === 1 && e.field === 'options' && /not a Map/.test(e.message));
  await assert.rejects(a.saveMany([{ type: 'view', name: 'v', data: { n: 2n } }]), (e) => e.name === 'MetadataError' && e.code === 'VALIDATION');
  // The options judged are the ones sent: an item's toJSON answering a Map,
  // and a toJSON answering by its key (judged with "options", as sent).
  const hidden = new Map([['expectedVersion', 9]]);
  for (const items of [
    [{ toJSON: () => ({ type: 'view', name: 'w', data: {}, options: hidden }) }],
    [{ type: 'view', name: 'w', data: {}, options: { toJSON: (key) => (key === 'options' ? hidden : {}) } }],
  ]) {
    await assert.rejects(a.saveMany(items), (e) => e.name === 'MetadataError' && e.code === 'VALIDATION' && e.index === 0 && /not a Map/.test(e.message));
  }
  // Whatever is thrown while the items or options are read is VALIDATION.
  const throwsSymbol = { toJSON() { throw Symbol('no'); } };
  const throwsBare = { toJSON() { throw Object.create(null); } };
  for (const call of [
    () => a.saveMany([{ type: 'view', name: 'w', data: {}, options: throwsSymbol }]),
    () => a.saveMany([{ type: 'view', name: 'w', data: throwsBare }]),
    () => a.save('view', 'v', { n: 2 }, throwsSymbol),
    () => a.save('view', 'v', { n: 2 }, throwsBare),
  ]) {
    await assert.rejects(call(), (e) => e.name === 'MetadataError' && e.code === 'VALIDATION', String(call));
  }
  // An item that throws as it is read: which one JSON does not say, so
  // none is named (not the one before it).
  await assert.rejects(a.saveMany([{ type: 'view', name: 'w', data: {} }, { toJSON() { throw new Error('boom'); } }]),
    (e) => e.name === 'MetadataError' && e.code === 'VALIDATION' && e.index === undefined && /boom/.test(e.message));
  // Options JSON does not carry (inherited) are not judged.
  const inherited = Object.assign(Object.create({ options: hidden }), { type: 'view', name: 'inherits', data: { n: 1 } });
  assert.deepEqual((await a.saveMany([inherited])).map((o) => o.record.name), ['inherits']);
  // A checksum of "*" is one no record has (it had gone out as a bare
  // star, "any version", and the guarded write through).
  await assert.rejects(a.save('view', 'v', { n: 2 }, { expectedChecksum: '*' }), (e) => e.code === 'CONFLICT');
  // Nothing reached the server.
  const head = await (await fetch(`${server.url}/api/v1/metadata/view/v`, { headers: { authorization: 'Bearer root-token-00001' } })).json();
  assert.deepEqual([head.version, head.data], [1, { n: 1 }]);
  // Options it takes still work; null is no guard, as for a local service
  // (it had been read as "must not exist" and "checksum null").
  // Objects whose members are the options, whatever they are called.
  class Tagged { constructor(options) { Object.assign(this, options); } get [Symbol.toStringTag]() { return 'SaveOptions'; } }
  await assert.rejects(a.save('view', 'v', { n: 2 }, new Tagged({ expectedVersion: 7 })), (e) => e.code === 'CONFLICT');
  await assert.rejects(a.save('view', 'v', { n: 2 }, { toJSON: () => ({ expectedVersion: 7 }) }), (e) => e.code === 'CONFLICT');
  const out = await a.save('view', 'v', { n: 2 }, Object.assign(Object.create(null), { expectedVersion: 1, tags: ['t'] }));
  assert.deepEqual([out.record.version, out.record.tags], [2, ['t']]);
  const unguarded = await a.save('view', 'v', { n: 3 }, { expectedVersion: null, expectedChecksum: null });
  assert.equal(unguarded.record.version, 3);
  await a.save('view', 'v', { n: 2 }, { expectedVersion: 3 });
  await a.delete('view', 'v', { expectedVersion: 4 });
  await a.restore('view', 'v', undefined);
});
