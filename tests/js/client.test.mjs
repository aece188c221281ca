// The real @objectstack/client 17.4 against the server's /api/v1/meta
// routes: every meta method of the protocol, tokens, and withMetadataCache
// (reads from a cache synced to the server, writes pinned to the cached
// version, reads still answered with the server stopped).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObjectStackClient } from '@objectstack/client';
import { MetadataService, contentHash } from '@objectstack/metadata-wasm';
import { withMetadataCache } from '@objectstack/metadata-wasm/client';
import { createHandler, listen } from '@objectstack/metadata-wasm/server';
import { openSqliteStore } from '@objectstack/metadata-wasm/sqlite';

const TOKENS = {
  'designer-token-01': { actor: 'dana', roles: ['designer'] },
  'viewer-token-001': { actor: 'vic', roles: ['viewer'] },
};
const POLICY = { roles: { designer: { '*': ['read', 'write', 'delete'] }, viewer: { '*': ['read'] } } };
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

let dir;
let store;
let server;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'osm-client-'));
  store = await openSqliteStore(join(dir, 'server.db'));
  const service = await MetadataService.create({ store, actor: 'server', policy: POLICY });
  server = await listen(createHandler({ service, tokens: TOKENS }));
});

after(async () => {
  await server?.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const clientFor = (token) => new ObjectStackClient({ baseUrl: server.url, token, logger: quiet });

test('every meta method of the protocol, through the real client', async () => {
  const client = clientFor('designer-token-01');
  // Discovery is optional; it answers without a token.
  const discovered = await client.connect();
  assert.equal(discovered.routes.metadata, '/api/v1/meta');

  const types = await client.meta.getTypes();
  assert.ok(types.types.includes('object'));

  const account = { name: 'account', label: 'Account', fields: { name: { type: 'text' } } };
  const saved = await client.meta.saveItem('object', 'account', account);
  assert.equal(saved.success, true);
  assert.equal(saved.state, 'active');
  assert.equal(saved.version, contentHash(account), 'the version is upstream\'s hashSpec of the body');
  assert.ok(saved.seq > 0);

  const got = await client.meta.getItem('object', 'account');
  assert.deepEqual(got, { type: 'object', name: 'account', item: account });
  const items = await client.meta.getItems('object');
  assert.deepEqual(items.type, 'object');
  assert.deepEqual(items.items.map((i) => i.name), ['account']);

  // Pinned to the version read: goes through; pinned to a stale one: 409.
  const renamed = { ...account, label: 'Accounts' };
  const second = await client.meta.saveItem('object', 'account', renamed, { ifMatch: saved.version });
  assert.ok(second.seq > saved.seq);
  await assert.rejects(client.meta.saveItem('object', 'account', { ...account, label: 'Lost' }, { ifMatch: saved.version }),
    (e) => e.httpStatus === 409 && e.code === 'METADATA_CONFLICT' && e.message.includes(saved.version));
  assert.equal((await client.meta.getItem('object', 'account')).item.label, 'Accounts');
  // Saving the same body again is a no-op: same version, same seq.
  const again = await client.meta.saveItem('object', 'account', renamed, { ifMatch: second.version });
  assert.deepEqual([again.version, again.seq], [second.version, second.seq]);

  // getCached: the ETag is the version token; If-None-Match (as the client
  // sends etag.value back, unquoted) gives 304, which the client delivers
  // as a rejection with httpStatus 304.
  const cached = await client.meta.getCached('account');
  assert.deepEqual(cached.data.item, renamed);
  assert.equal(cached.etag.value, second.version);
  await assert.rejects(client.meta.getCached('account', { ifNoneMatch: cached.etag.value }), (e) => e.httpStatus === 304);
  await assert.rejects(client.meta.getCached('account', { ifNoneMatch: `"${cached.etag.value}"` }), (e) => e.httpStatus === 304);
  assert.deepEqual((await client.meta.getCached('account', { ifNoneMatch: saved.version })).data.item, renamed);

  // History: create, update, delete, with sinceSeq exclusive and limit.
  await assert.rejects(client.meta.deleteItem('object', 'account', { ifMatch: saved.version }), (e) => e.httpStatus === 409);
  const deleted = await client.meta.deleteItem('object', 'account', { ifMatch: second.version });
  assert.equal(deleted.success, true);
  assert.equal(deleted.reset, true);
  assert.ok(deleted.seq > second.seq);
  const history = await client.meta.getHistory('object', 'account');
  assert.deepEqual(history.events.map((e) => e.op), ['create', 'update', 'delete']);
  assert.deepEqual(history.events.map((e) => e.hash), [saved.version, second.version, null]);
  assert.deepEqual(history.events.map((e) => e.parentHash), [null, saved.version, second.version]);
  assert.ok(history.events.every((e) => e.ref.type === 'object' && e.ref.name === 'account' && typeof e.ts === 'string'));
  const page = await client.meta.getHistory('object', 'account', { sinceSeq: saved.seq, limit: 1 });
  assert.deepEqual(page.events.map((e) => e.seq), [second.seq]);

  await assert.rejects(client.meta.getItem('object', 'account'), (e) => e.httpStatus === 404 && e.code === 'RESOURCE_NOT_FOUND');
  assert.equal((await client.meta.getItems('object')).items.length, 0);
  const nothing = await client.meta.deleteItem('object', 'account');
  assert.deepEqual([nothing.success, nothing.reset], [true, false]);
  // A new lineage after the delete.
  const reborn = await client.meta.saveItem('object', 'account', account);
  const lineage = await client.meta.getHistory('object', 'account', { sinceSeq: deleted.seq });
  assert.deepEqual(lineage.events.map((e) => [e.op, e.parentHash]), [['create', null]]);
  assert.equal(lineage.events[0].hash, reborn.version);
});

test('upstream bodies: the {item} wrapper is the document it wraps', async () => {
  const client = clientFor('designer-token-01');
  const response = await fetch(`${server.url}/api/v1/meta/view/wrapped`, {
    method: 'PUT',
    headers: { authorization: 'Bearer designer-token-01', 'content-type': 'application/json' },
    body: JSON.stringify({ item: { label: 'Wrapped' } }),
  });
  assert.equal(response.status, 200);
  assert.deepEqual((await client.meta.getItem('view', 'wrapped')).item, { label: 'Wrapped' });
});

test('401 without a token, 403 for a read-only token', async () => {
  const anonymous = new ObjectStackClient({ baseUrl: server.url, logger: quiet });
  await assert.rejects(anonymous.meta.getTypes(), (e) => e.httpStatus === 401 && e.code === 'UNAUTHENTICATED');
  await assert.rejects(anonymous.meta.saveItem('view', 'v', {}), (e) => e.httpStatus === 401);
  const viewer = clientFor('viewer-token-001');
  await clientFor('designer-token-01').meta.saveItem('view', 'readable', { label: 'R' });
  assert.equal((await viewer.meta.getItem('view', 'readable')).item.label, 'R');
  await assert.rejects(viewer.meta.saveItem('view', 'readable', { label: 'no' }), (e) => e.httpStatus === 403 && e.code === 'FORBIDDEN');
  await assert.rejects(viewer.meta.deleteItem('view', 'readable'), (e) => e.httpStatus === 403);
  assert.equal((await viewer.meta.getItem('view', 'readable')).item.label, 'R');
});

test('withMetadataCache: reads from the synced cache, writes pinned to the cached version, reads offline', async () => {
  const designer = clientFor('designer-token-01');
  await designer.meta.saveItem('app', 'crm', { label: 'CRM' });
  const cached = await withMetadataCache(clientFor('designer-token-01'), { store: 'memory' }).ready;
  assert.deepEqual(await cached.meta.getItem('app', 'crm'), { type: 'app', name: 'crm', item: { label: 'CRM' } });
  // A change through another client reaches the cache by the change stream.
  await designer.meta.saveItem('app', 'crm', { label: 'CRM v2' });
  const cache = await cached.cache;
  for (let i = 0; i < 100 && (await cache.load('app', 'crm')).label !== 'CRM v2'; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal((await cached.meta.getItem('app', 'crm')).item.label, 'CRM v2');
  // A write through the wrapper is pinned to what the cache holds.
  const out = await cached.meta.saveItem('app', 'crm', { label: 'CRM v3' });
  assert.equal(out.success, true);
  assert.equal((await cached.meta.getItem('app', 'crm')).item.label, 'CRM v3');
  // Another writer first, before the cache heard of it: refused, and the
  // cache is brought to the server's version.
  const stale = await cache.loadOwnRecord('app', 'crm');
  cache.close();
  await designer.meta.saveItem('app', 'crm', { label: 'theirs' });
  assert.equal((await cache.loadOwnRecord('app', 'crm')).checksum, stale.checksum);
  await assert.rejects(cached.meta.saveItem('app', 'crm', { label: 'mine' }), (e) => e.httpStatus === 409);
  assert.equal((await cached.meta.getItem('app', 'crm')).item.label, 'theirs');
  // Everything else is the client's own.
  assert.ok((await cached.meta.getTypes()).types.includes('app'));
  // With the server gone, reads still come from the cache.
  await server.close();
  server = null;
  assert.equal((await cached.meta.getItem('app', 'crm')).item.label, 'theirs');
  assert.deepEqual((await cached.meta.getItems('app')).items, [{ label: 'theirs' }]);
});
