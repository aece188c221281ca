// The metadata server over HTTP on loopback: the ADR's routes, tokens and
// the access policy, the change stream (resumed after a dropped connection
// with no gap and no duplicate), hostile requests, the CLI's `serve`, and
// the handler mounted in Hono.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import { MetadataService } from '@objectstack/metadata-wasm';
import { createHandler, listen } from '@objectstack/metadata-wasm/server';
import { openSqliteStore } from '@objectstack/metadata-wasm/sqlite';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TOKENS = {
  'admin-token-0001': { actor: 'ada', roles: ['admin'] },
  'reader-token-001': { actor: 'rita', roles: ['reader'] },
  'acme-token-00001': { actor: 'alice', roles: ['admin'], tenant: 'acme' },
  'globex-token-001': { actor: 'gus', roles: ['admin'], tenant: 'globex' },
};
const POLICY = { roles: { admin: { '*': ['admin'] }, reader: { '*': ['read'] } } };

let dir;
let store;
let server;
let base;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'osm-server-'));
  store = await openSqliteStore(join(dir, 'server.db'));
  const service = await MetadataService.create({ store, actor: 'server', policy: POLICY });
  server = await listen(createHandler({ service, tokens: TOKENS, limits: { body: 64 * 1024, batch: 256 * 1024, heartbeatMs: 200 } }), {
    headersTimeoutMs: 1000,
    requestTimeoutMs: 2000,
  });
  base = `${server.url}/api/v1/metadata`;
});

after(async () => {
  await server.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const as = (token) => ({ authorization: `Bearer ${token}` });
const ADMIN = as('admin-token-0001');

async function call(method, path, { token = 'admin-token-0001', body, headers = {} } = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? as(token) : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

test('records: create, read with ETag and 304, conditional update, 412 on a stale ETag, delete', async () => {
  let r = await call('PUT', '/view/all_accounts', { body: { label: 'All accounts', columns: ['name'] } });
  assert.equal(r.status, 201);
  assert.equal(r.body.record.version, 1);
  const first = r.body.record.checksum;
  assert.equal(r.headers.get('etag'), `"${first}"`);

  r = await call('GET', '/view/all_accounts');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.data, { label: 'All accounts', columns: ['name'] });
  assert.equal(r.body.owner, 'ada');
  assert.equal(r.headers.get('etag'), `"${first}"`);
  assert.equal((await call('GET', '/view/all_accounts', { headers: { 'if-none-match': `"${first}"` } })).status, 304);
  // Plural paths of the ADR for built-in types.
  assert.equal((await call('GET', '/views/all_accounts')).body.checksum, first);

  r = await call('PUT', '/view/all_accounts', { body: { label: 'Renamed' }, headers: { 'if-match': `"${first}"` } });
  assert.equal(r.status, 200);
  assert.equal(r.body.record.version, 2);
  // The first ETag is stale now: refused, nothing written.
  r = await call('PUT', '/view/all_accounts', { body: { label: 'Lost update' }, headers: { 'if-match': `"${first}"` } });
  assert.equal(r.status, 412);
  assert.equal(r.body.code, 'CONFLICT');
  assert.equal((await call('GET', '/view/all_accounts')).body.data.label, 'Renamed');
  // If-None-Match: * creates only.
  assert.equal((await call('PUT', '/view/all_accounts', { body: {}, headers: { 'if-none-match': '*' } })).status, 412);
  // A quoted "*" is a tag no record has, not "any": it had let a guarded
  // write through.
  assert.equal((await call('PUT', '/view/all_accounts', { body: { label: 'Starred' }, headers: { 'if-match': '"*"' } })).status, 412);
  assert.equal((await call('GET', '/view/all_accounts')).body.data.label, 'Renamed');
  assert.equal((await call('GET', '/view/all_accounts', { headers: { 'if-none-match': '"*"' } })).status, 200);

  const current = (await call('GET', '/view/all_accounts')).body.checksum;
  assert.equal((await call('DELETE', '/view/all_accounts', { headers: { 'if-match': `"${first}"` } })).status, 412);
  r = await call('DELETE', '/view/all_accounts', { headers: { 'if-match': `"${current}"` } });
  assert.equal(r.status, 200);
  assert.equal(r.body.record.is_active, false);
  assert.equal((await call('GET', '/view/all_accounts')).status, 404);
  r = await call('GET', '/view/all_accounts/history');
  assert.deepEqual(r.body.map((h) => h.operation), ['create', 'update', 'delete']);
});

test('If-Match: * holds only on a record with a current version (RFC 9110): 412 and nothing written otherwise', async () => {
  const ANY = { 'if-match': '*' };
  // A record that does not exist: not created (412). Where the answer
  // without the condition is 404 (a delete, restore, purge or rollback of
  // nothing), the condition is ignored, as RFC 9110 13.2.1 asks.
  for (const [method, path, body, status] of [
    ['PUT', '/view/star_missing', { label: 'created?' }, 412],
    ['DELETE', '/view/star_missing', undefined, 404],
    ['POST', '/view/star_missing/restore', undefined, 404],
    ['POST', '/view/star_missing/purge', undefined, 404],
    ['POST', '/view/star_missing/rollback', { version: 1 }, 404],
    ['GET', '/view/star_missing', undefined, 404],
  ]) {
    const r = await call(method, path, { body, headers: ANY });
    assert.deepEqual([r.status, r.body.code], [status, status === 412 ? 'CONFLICT' : 'NOT_FOUND'], `${method} ${path}`);
  }
  assert.equal((await call('GET', '/view/star_missing')).status, 404);
  assert.equal((await call('GET', '/view/star_missing/history')).body.length, 0);

  // A record that exists: any version matches.
  assert.equal((await call('PUT', '/view/star', { body: { label: 'one' } })).status, 201);
  let r = await call('PUT', '/view/star', { body: { label: 'two' }, headers: ANY });
  assert.equal(r.status, 200);
  assert.equal(r.body.record.version, 2);
  // With an explicit expectedVersion too, that one is the guard.
  assert.equal((await call('PUT', '/view/star?expectedVersion=1', { body: { label: 'three' }, headers: ANY })).status, 412);
  assert.equal((await call('DELETE', '/view/star', { headers: ANY })).status, 200);
  // Deleted: no current version, so no update; a second delete is the
  // 404 it is without the condition (RFC 9110 13.2.1).
  assert.equal((await call('PUT', '/view/star', { body: { label: 'back?' }, headers: ANY })).status, 412);
  assert.equal((await call('DELETE', '/view/star', { headers: ANY })).status, 404);
  assert.equal((await call('DELETE', '/view/star')).status, 404);
  r = await call('GET', '/view/star/history');
  assert.deepEqual(r.body.map((h) => h.operation), ['create', 'update', 'delete']);
});

test('conditions as RFC 9110 has them: tag lists, weak tags, If-None-Match tags, and a create never updates', async () => {
  let r = await call('PUT', '/view/cond', { body: { n: 1 } });
  const v1 = `"${r.body.record.checksum}"`;
  r = await call('PUT', '/view/cond', { body: { n: 2 } });
  const v2 = `"${r.body.record.checksum}"`;
  const status = async (method, path, headers, body) => (await call(method, path, { body, headers })).status;
  // A create with expectedVersion other than 0 had updated the record.
  assert.equal(await status('POST', '/view?expectedVersion=2', {}, { name: 'cond', n: 9 }), 400);
  assert.equal(await status('POST', '/view?expectedVersion=2', { 'if-none-match': '*' }, { name: 'cond', n: 9 }), 400);
  assert.equal(await status('PUT', '/view/cond?expectedVersion=2', { 'if-none-match': '*' }, { n: 9 }), 412);
  assert.equal(await status('PUT', '/view/cond?expectedVersion=0', { 'if-none-match': '*' }, { n: 9 }), 412);
  // If-Match compares strongly: a weak tag matches nothing.
  assert.equal(await status('PUT', '/view/cond', { 'if-match': `W/${v2}` }, { n: 9 }), 412);
  // A list holds when one of its tags is current.
  assert.equal(await status('PUT', '/view/cond', { 'if-match': `${v1}, "0123"` }, { n: 9 }), 412);
  // If-None-Match with tags: refused when one is current.
  assert.equal(await status('PUT', '/view/cond', { 'if-none-match': `"0123", ${v2}` }, { n: 9 }), 412);
  assert.equal(await status('DELETE', '/view/cond', { 'if-none-match': `W/${v2}` }), 412);
  // A header with no tag, or a star among tags, is not a condition.
  assert.equal(await status('PUT', '/view/cond', { 'if-match': ',' }, { n: 9 }), 400);
  assert.equal(await status('PUT', '/view/cond', { 'if-match': `*, ${v2}` }, { n: 9 }), 400);
  assert.equal(await status('PUT', '/view/cond', { 'if-none-match': ' , ' }, { n: 9 }), 400);
  // A misspelt or repeated guard in the query is refused, not a write
  // without one; a batch takes no query and no conditions (its items'
  // options hold their guards).
  for (const [path, headers] of [['/_batch?expectedVerison=1', {}], ['/_batch?x=1', {}], ['/_batch', { 'if-match': '"stale"' }], ['/_batch', { 'if-none-match': '*' }]]) {
    assert.equal(await status('POST', path, headers, [{ type: 'view', name: 'cond', data: { n: 9 } }]), 400, path);
  }
  // expectedVersion up to 2^53-1 is the core's guard; past it, refused.
  assert.equal(await status('PUT', `/view/cond?expectedVersion=${Number.MAX_SAFE_INTEGER}`, {}, { n: 9 }), 409);
  assert.equal(await status('PUT', `/view/cond?expectedVersion=${2 ** 53}`, {}, { n: 9 }), 400);
  assert.equal(await status('PUT', '/view/cond?expectedVerison=1', {}, { n: 9 }), 400);
  assert.equal(await status('PUT', '/view/cond?expectedVersion=1&expectedVersion=2', {}, { n: 9 }), 400);
  assert.equal(await status('DELETE', '/view/cond?expected_checksum=x'), 400);
  assert.equal(await status('POST', '/view?expectedVersio=0', {}, { name: 'cond2' }), 400);
  // A rollback whose body is not an object: 400, not a server error.
  assert.equal(await status('POST', '/view/cond/rollback', {}, null), 400);
  r = await call('GET', '/view/cond');
  assert.deepEqual([r.body.version, r.body.data], [2, { n: 2 }]);
  assert.equal((await call('GET', '/view/cond/history')).body.length, 2);
  // The conditions that hold let the write through.
  r = await call('PUT', '/view/cond', { body: { n: 3 }, headers: { 'if-match': `"0123", ${v2}` } });
  assert.deepEqual([r.status, r.body.record.version], [200, 3]);
  const v3 = `"${r.body.record.checksum}"`;
  r = await call('PUT', '/view/cond', { body: { n: 4 }, headers: { 'if-none-match': `${v1}, ${v2}` } });
  assert.deepEqual([r.status, r.body.record.version], [200, 4]);
  assert.equal(await status('PUT', '/view/cond', { 'if-match': v3 }, { n: 5 }), 412);
  await call('POST', '/view/cond/purge');
});

test('a deleted record has no current version: If-Match fails on its checksum, If-None-Match: * writes over it', async () => {
  let r = await call('PUT', '/view/gone', { body: { n: 1 } });
  const tag = `"${r.body.record.checksum}"`;
  await call('DELETE', '/view/gone');
  const status = async (method, path, headers, body) => (await call(method, path, { body, headers })).status;
  // The deleted record's own checksum: a single tag had gone to the core's
  // guard, which matched it and revived the record (200).
  assert.equal(await status('PUT', '/view/gone', { 'if-match': tag }, { n: 2 }), 412);
  assert.equal(await status('POST', '/view/gone/restore', { 'if-match': tag }), 412);
  assert.equal(await status('POST', '/view/gone/purge', { 'if-match': tag }), 412);
  // A read or a second delete of it is 404, whatever the conditions (RFC
  // 9110 13.2.1).
  assert.equal(await status('DELETE', '/view/gone', { 'if-match': tag }), 404);
  assert.equal(await status('GET', '/view/gone', { 'if-match': tag }), 404);
  assert.deepEqual((await call('GET', '/view/gone/history')).body.map((h) => h.operation), ['create', 'delete']);
  // A create still finds it there (409); If-None-Match: * holds (no
  // current version) and the write revives it, as a save does.
  assert.equal(await status('POST', '/view', { 'if-none-match': '*' }, { name: 'gone', n: 3 }), 409);
  r = await call('PUT', '/view/gone', { body: { n: 3 }, headers: { 'if-none-match': '*' } });
  assert.deepEqual([r.status, r.body.record.version, r.body.operation], [200, 3, 'restore']);
  assert.equal(await status('PUT', '/view/gone', { 'if-none-match': '*' }, { n: 4 }), 412);
  // The core's own guard as a query parameter: the stored checksum, a
  // deleted record's too, as a local service applies it.
  await call('DELETE', '/view/gone');
  const deleted = (await call('GET', '/view/gone/history')).body.at(-1).checksum;
  assert.equal(await status('POST', `/view/gone/restore?expectedChecksum=${encodeURIComponent('"x"')}`), 409);
  r = await call('POST', `/view/gone/restore?expectedChecksum=${deleted}`);
  assert.deepEqual([r.status, r.body.record.is_active], [200, true]);
  // Conditions checked on one version, a write asked of another: 412.
  const now = r.body.record;
  assert.equal(await status('PUT', `/view/gone?expectedVersion=${now.version - 1}`, { 'if-match': `"${now.checksum}"` }, { n: 9 }), 412);
  r = await call('PUT', `/view/gone?expectedVersion=${now.version}`, { body: { n: 9 }, headers: { 'if-match': `"${now.checksum}"` } });
  assert.equal(r.status, 200);
  // After a purge a rollback makes the record again from its history: its
  // conditions count (they had been ignored, the record rewritten).
  await call('POST', '/view/gone2/purge');
  await call('PUT', '/view/gone2', { body: { n: 1 } });
  await call('PUT', '/view/gone2', { body: { n: 2 } });
  await call('POST', '/view/gone2/purge');
  assert.equal(await status('POST', '/view/gone2/rollback', { 'if-match': '"bogus"' }, { version: 1 }), 412);
  assert.equal(await status('POST', '/view/gone2/rollback', { 'if-match': '*' }, { version: 1 }), 412);
  assert.equal(await status('GET', '/view/gone2'), 404);
  const back = await call('POST', '/view/gone2/rollback', { body: { version: 1 } });
  assert.deepEqual([back.status, back.body.record.data], [200, { n: 1 }]);
  await call('POST', '/view/gone2/purge');
  // A read's If-Match: 412 unless it names what there is.
  assert.equal(await status('GET', '/view/gone', { 'if-match': tag }), 412);
  assert.equal(await status('GET', '/view/gone', { 'if-match': `"${r.body.record.checksum}"` }), 200);
  await call('POST', '/view/gone/purge');
});

test('POST with If-Match: 412 when it fails, 409 when it held and the record exists; If-None-Match: * stays 412', async () => {
  const created = await call('POST', '/app', { body: { name: 'pinned', label: 'P' } });
  assert.equal(created.status, 201);
  const tag = `"${created.body.record.checksum}"`;
  // A stale tag, or any tag on a record that does not exist: the condition failed.
  assert.equal((await call('POST', '/app', { body: { name: 'pinned', label: 'x' }, headers: { 'if-match': '"0123456789abcdef0123456789abcdef"' } })).status, 412);
  assert.equal((await call('POST', '/app', { body: { name: 'unborn', label: 'x' }, headers: { 'if-match': tag } })).status, 412);
  assert.equal((await call('POST', '/app', { body: { name: 'unborn', label: 'x' }, headers: { 'if-match': '*' } })).status, 412);
  assert.equal((await call('GET', '/app/unborn')).status, 404);
  // The tag held: the create fails because the record exists.
  assert.equal((await call('POST', '/app', { body: { name: 'pinned', label: 'x' }, headers: { 'if-match': tag } })).status, 409);
  assert.equal((await call('POST', '/app', { body: { name: 'pinned', label: 'x' }, headers: { 'if-match': '*' } })).status, 409);
  assert.equal((await call('POST', '/app', { body: { name: 'pinned', label: 'x' }, headers: { 'if-none-match': '*' } })).status, 412);
  assert.equal((await call('POST', '/app', { body: { name: 'pinned', label: 'x' }, headers: { 'if-match': tag, 'if-none-match': '*' } })).status, 412);
  // If-None-Match with tags: 412 when one is current, else the create's 409.
  assert.equal((await call('POST', '/app', { body: { name: 'pinned', label: 'x' }, headers: { 'if-none-match': tag } })).status, 412);
  assert.equal((await call('POST', '/app', { body: { name: 'pinned', label: 'x' }, headers: { 'if-none-match': '"0123"' } })).status, 409);
  assert.equal((await call('GET', '/app/pinned')).body.data.label, 'P');
  await call('POST', '/app/pinned/purge');
});

test('records: POST creates (409 if it exists), restore, rollback, purge, queries and paging', async () => {
  let r = await call('POST', '/app', { body: { name: 'crm', label: 'CRM' } });
  assert.equal(r.status, 201);
  assert.equal(r.body.record.name, 'crm');
  assert.equal((await call('POST', '/app', { body: { name: 'crm', label: 'again' } })).status, 409);
  assert.equal((await call('POST', '/app', { body: { label: 'no name' } })).status, 400);
  await call('PUT', '/app/crm?tags=sales,core', { body: { label: 'CRM 2' } });
  await call('DELETE', '/app/crm');
  r = await call('POST', '/app/crm/restore');
  assert.equal(r.body.record.is_active, true);
  r = await call('POST', '/app/crm/rollback', { body: { version: 1 } });
  assert.equal(r.body.record.data.label, 'CRM');
  assert.equal(r.body.operation, 'rollback');
  for (let i = 0; i < 5; i++) await call('PUT', `/app/a${i}`, { body: { i } });
  r = await call('GET', '/app?offset=1&limit=2');
  assert.deepEqual([r.body.total, r.body.items.map((x) => x.name)], [6, ['a1', 'a2']]);
  r = await call('GET', '/app?tags=sales');
  assert.deepEqual(r.body.items.map((x) => x.name), ['crm']);
  assert.equal((await call('GET', '/app?frobnicate=1')).status, 400);
  r = await call('POST', '/app/crm/purge');
  assert.equal(r.status, 200);
  assert.equal(r.body.operation, 'purge');
  assert.equal((await call('GET', '/app/crm')).status, 404);
});

test('an error answered before the body is read closes the connection: the next request on it is not reset', async (t) => {
  const svc = await MetadataService.create({ actor: 'server' });
  const running = await listen(createHandler({ service: svc, limits: { body: 4 * 1024 * 1024, batch: 4 * 1024 * 1024 } }));
  t.after(() => running.close());
  const body = JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) });
  const seen = [];
  for (let i = 0; i < 6; i++) {
    for (const [method, path] of [['POST', '/_batch?expectedVersion=1'], ['PUT', '/view/v?bogus=1']]) {
      // Every other one had failed with ECONNRESET: the unread body stayed
      // on the kept-alive connection.
      const r = await fetch(`${running.url}/api/v1/metadata${path}`, { method, body, headers: { 'content-type': 'application/json' } })
        .then(async (response) => { await response.text(); return response.status; }, (e) => e.cause?.code ?? e.message);
      seen.push(r);
    }
  }
  assert.deepEqual(seen, Array(12).fill(400));
});

test('batch: all or nothing, the failing item named', async () => {
  const items = [
    { type: 'page', name: 'p1', data: { n: 1 } },
    { type: 'page', name: 'p2', data: { n: 2 } },
    { type: 'page', name: 'Bad Name', data: {} },
  ];
  let r = await call('POST', '/_batch', { body: items });
  assert.equal(r.status, 400);
  assert.equal(r.body.index, 2);
  assert.equal((await call('GET', '/page/p1')).status, 404);
  r = await call('POST', '/_batch', { body: items.slice(0, 2) });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.map((o) => o.record.version), [1, 1]);
});

test('manifest and fetch: what a cache replicates by', async () => {
  await call('PUT', '/object/account', { body: { label: 'Account' } });
  const r = await call('GET', '/_manifest?type=object');
  assert.match(r.body.position, /^\d+$/);
  const entry = r.body.items.find((e) => e.name === 'account');
  assert.deepEqual(Object.keys(entry).sort(), ['checksum', 'name', 'tenant_id', 'type', 'version']);
  const fetched = await call('POST', '/_fetch', { body: [{ tenant_id: null, type: 'object', name: 'account' }, { tenant_id: null, type: 'object', name: 'none' }] });
  assert.equal(fetched.body.length, 1);
  assert.equal(fetched.body[0].checksum, entry.checksum);
});

test('tokens: 401 without or with an unknown token, 403 naming the permission, tenants from the token only', async () => {
  for (const token of [null, 'not-a-known-token']) {
    const r = await call('GET', '/view', { token });
    assert.equal(r.status, 401);
    assert.equal(r.body.code, 'UNAUTHENTICATED');
    assert.equal(r.headers.get('www-authenticate'), 'Bearer');
  }
  assert.equal((await call('GET', '/object/account', { token: 'reader-token-001' })).status, 200);
  const r = await call('PUT', '/object/account', { token: 'reader-token-001', body: { label: 'x' } });
  assert.equal(r.status, 403);
  assert.equal(r.body.code, 'FORBIDDEN');
  assert.equal(r.body.permission, 'write');

  await call('PUT', '/view/home', { token: 'acme-token-00001', body: { who: 'acme' } });
  // A header naming another tenant changes nothing: the token decides.
  const globex = await call('GET', '/view/home', { token: 'globex-token-001', headers: { 'x-tenant-id': 'acme', 'x-environment-id': 'acme' } });
  assert.equal(globex.status, 404);
  const acme = await call('GET', '/view/home', { token: 'acme-token-00001' });
  assert.equal(acme.body.tenant_id, 'acme');
  // The global record is visible to tenants, not writable in their name.
  await call('PUT', '/view/shared', { body: { who: 'global' } });
  assert.equal((await call('GET', '/view/shared', { token: 'globex-token-001' })).body.tenant_id, null);
  const own = await call('PUT', '/view/shared', { token: 'globex-token-001', body: { who: 'globex' } });
  assert.equal(own.body.record.tenant_id, 'globex');
  assert.equal((await call('GET', '/view/shared')).body.data.who, 'global');
  assert.deepEqual((await call('GET', '/_identity', { token: 'acme-token-00001' })).body, { actor: 'alice', roles: ['admin'], tenant: 'acme', development: false });
  // A tenant's conditions name what it read: the global record where it
  // has none of its own (they had been 412 whatever the tag).
  const seen = await call('GET', '/view/shared', { token: 'acme-token-00001' });
  assert.equal(seen.body.tenant_id, null);
  const acmeWrite = (headers, body = { who: 'acme' }) => call('PUT', '/view/shared', { token: 'acme-token-00001', body, headers });
  assert.equal((await acmeWrite({ 'if-match': '"0123"' })).status, 412);
  let w = await acmeWrite({ 'if-match': seen.headers.get('etag') });
  assert.deepEqual([w.status, w.body.record.tenant_id, w.body.record.version], [201, 'acme', 1]);
  // Its own row now answers: the global tag is stale for it.
  assert.equal((await acmeWrite({ 'if-match': seen.headers.get('etag') }, { who: 'acme 2' })).status, 412);
  w = await acmeWrite({ 'if-match': '*' }, { who: 'acme 2' });
  assert.deepEqual([w.status, w.body.record.version], [200, 2]);
  // A tenant's create weighs its conditions the same way.
  await call('PUT', '/view/shared2', { body: { who: 'global' } });
  const g = (await call('GET', '/view/shared2', { token: 'acme-token-00001' })).headers.get('etag');
  const acmeCreate = (headers) => call('POST', '/view', { token: 'acme-token-00001', body: { name: 'shared2', who: 'acme' }, headers });
  assert.equal((await acmeCreate({ 'if-none-match': g })).status, 412);
  assert.equal((await acmeCreate({ 'if-match': '"0123"' })).status, 412);
  w = await acmeCreate({ 'if-match': g });
  assert.deepEqual([w.status, w.body.record.tenant_id], [201, 'acme']);
  assert.equal((await acmeCreate({ 'if-match': g })).status, 412);
  assert.equal((await acmeCreate({})).status, 409);
  // Nothing of its own to delete or roll back: 404, whatever its conditions
  // (its history lists the global record's versions, which its rollback
  // does not reach).
  await call('PUT', '/view/shared3', { body: { who: 'global' } });
  for (const headers of [{}, { 'if-match': '"x"' }, { 'if-match': '*' }, { 'if-none-match': (await call('GET', '/view/shared3')).headers.get('etag') }]) {
    assert.equal((await call('DELETE', '/view/shared3', { token: 'acme-token-00001', headers })).status, 404);
    assert.equal((await call('POST', '/view/shared3/rollback', { token: 'acme-token-00001', headers, body: { version: 1 } })).status, 404);
  }
  assert.equal((await call('GET', '/view/shared3')).body.is_active, true);
  assert.equal((await call('GET', '/view/shared')).body.data.who, 'global');
});

// Reads a change stream until `count` events arrived; then drops it.
async function readStream(headers, count, query = '') {
  const controller = new AbortController();
  const response = await fetch(`${base}/_changes${query}`, { headers: { ...ADMIN, accept: 'text/event-stream', ...headers }, signal: controller.signal });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type'), /^text\/event-stream/);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const events = [];
  while (events.length < count) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
      if (fields.event === 'change') events.push({ id: fields.id, ...JSON.parse(fields.data) });
    }
  }
  controller.abort();
  // What a client that dropped after `count` events had seen.
  return events.slice(0, count);
}

test('change stream: replays from a position, goes live, resumes after a dropped connection with no gap and no duplicate', async () => {
  const start = Number((await call('GET', '/_manifest')).body.position);
  const writes = async (names) => {
    for (const n of names) await call('PUT', `/dashboard/${n}`, { body: { n } });
  };
  await writes(['d1', 'd2', 'd3']);
  // From the position before the writes: the three, replayed.
  const first = await readStream({}, 3, `?since=${start}`);
  assert.deepEqual(first.map((e) => e.name), ['d1', 'd2', 'd3']);
  assert.deepEqual(first.map((e) => e.sequence), [start + 1, start + 2, start + 3]);
  // Dropped after two; three more writes while away; resumed by
  // Last-Event-ID: exactly what came after the second.
  const two = await readStream({}, 2, `?since=${start}`);
  await writes(['d4', 'd5', 'd6']);
  const resumed = readStream({ 'last-event-id': two[1].id }, 5);
  await new Promise((resolve) => setTimeout(resolve, 200));
  await writes(['d7']);
  const rest = await resumed;
  assert.deepEqual(rest.map((e) => e.name), ['d3', 'd4', 'd5', 'd6', 'd7']);
  const all = [...two, ...rest].map((e) => e.sequence);
  assert.deepEqual(all, all.map((_, i) => start + 1 + i), 'no gap, no duplicate');
  assert.equal((await call('GET', '/_changes?since=x.y.z')).status, 400);
});

test('change stream of a tenant: its own scope and the global one, with a two-part position', async () => {
  const token = 'acme-token-00001';
  const position = (await call('GET', '/_manifest', { token })).body.position;
  assert.match(position, /^\d+\.\d+$/);
  const controller = new AbortController();
  const response = await fetch(`${base}/_changes?since=${position}`, { headers: { ...as(token), accept: 'text/event-stream' }, signal: controller.signal });
  const reader = response.body.getReader();
  await call('PUT', '/view/acme_only', { token, body: {} });
  await call('PUT', '/view/global_one', { body: {} });
  await call('PUT', '/view/globex_only', { token: 'globex-token-001', body: {} });
  let text = '';
  while ((text.match(/event: change/g) ?? []).length < 2) text += new TextDecoder().decode((await reader.read()).value);
  controller.abort();
  assert.match(text, /"name":"acme_only"/);
  assert.match(text, /"name":"global_one"/);
  assert.doesNotMatch(text, /globex_only/);
});

test('hostile requests: clear JSON errors, nothing written', async () => {
  // Over the size limit, by Content-Length: refused before the body is read.
  let r = await call('PUT', '/view/huge', { body: JSON.stringify({ big: 'x'.repeat(100 * 1024) }) });
  assert.equal(r.status, 413);
  assert.equal(r.body.code, 'PAYLOAD_TOO_LARGE');
  // ...and without one (a chunked stream): refused once it passes the limit.
  const chunks = new ReadableStream({
    pull(c) {
      c.enqueue(new TextEncoder().encode(`{"big":"${'y'.repeat(40 * 1024)}`));
      if (++this.n > 3) c.close();
    },
    n: 0,
  });
  const streamed = await fetch(`${base}/view/huge`, { method: 'PUT', headers: ADMIN, body: chunks, duplex: 'half' }).catch((e) => e);
  if (!(streamed instanceof Error)) assert.equal(streamed.status, 413);
  assert.equal((await call('GET', '/view/huge')).status, 404);
  // Invalid JSON, a non-object, an invalid name or type.
  for (const [path, body] of [['/view/x', '{"unclosed":'], ['/view/x', '[1,2]'], ['/view/Bad%20Name', '{}'], ['/Not-A-Type/x', '{}']]) {
    r = await call('PUT', path, { body });
    assert.equal(r.status, 400, `${path} ${body}`);
    assert.equal(r.body.code, 'VALIDATION');
  }
  // Unknown routes, wrong methods.
  assert.equal((await call('GET', '/view/x/frobnicate')).status, 404);
  assert.equal((await fetch(`${server.url}/not/api`)).status, 404);
  r = await call('PATCH', '/view/x', { body: '{}' });
  assert.equal(r.status, 405);
  assert.equal(r.headers.get('allow'), 'GET, PUT, DELETE');
  assert.equal((await call('GET', '/%E0%A4%A')).status, 400);
  // Nothing of the above was written.
  assert.equal((await call('GET', '/view/x')).status, 404);
});

test('a stalled client is dropped by the server timeouts', async () => {
  const { port } = new URL(server.url);
  const started = Date.now();
  const closed = await new Promise((resolve) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write('GET /api/v1/metadata HTTP/1.1\r\nHost: x\r\n'));
    let answer = '';
    socket.on('data', (d) => { answer += d; });
    socket.on('close', () => resolve(answer));
    socket.on('error', () => {});
    setTimeout(() => { socket.destroy(); resolve(null); }, 10_000).unref();
  });
  assert.notEqual(closed, null, 'the server never dropped a client that sent half its headers');
  assert.match(closed, /^HTTP\/1\.1 408 /);
});

test('many concurrent connections are all answered', async () => {
  await call('PUT', '/view/busy', { body: { ok: true } });
  const results = await Promise.all(Array.from({ length: 200 }, () => fetch(`${base}/view/busy`, { headers: ADMIN }).then((r) => r.status)));
  assert.deepEqual([...new Set(results)], [200]);
});

test('development mode: no tokens, one anonymous developer, loopback only', async () => {
  const service = await MetadataService.create();
  const handler = createHandler({ service });
  assert.equal(handler.development, true);
  await assert.rejects(listen(handler, { host: '0.0.0.0' }), (e) => e.code === 'VALIDATION' && /loopback/.test(e.message));
  const dev = await listen(handler);
  try {
    const r = await fetch(`${dev.url}/api/v1/metadata/view/v`, { method: 'PUT', body: '{"a":1}' });
    assert.equal(r.status, 201);
    assert.equal((await r.json()).record.owner, 'developer');
  } finally {
    await dev.close();
  }
});

test('the handler mounts in Hono', async () => {
  const service = await MetadataService.create();
  const handler = createHandler({ service });
  const app = new Hono();
  app.all('/api/*', (c) => handler.fetch(c.req.raw));
  let r = await app.fetch(new Request('http://app.test/api/v1/metadata/view/v', { method: 'PUT', body: '{"via":"hono"}' }));
  assert.equal(r.status, 201);
  r = await app.fetch(new Request('http://app.test/api/v1/meta/view/v'));
  assert.deepEqual((await r.json()).item, { via: 'hono' });
});

test('objectstack-metadata serve: prints where it listens, serves, stops on SIGTERM', async (t) => {
  const tokens = join(dir, 'tokens.json');
  writeFileSync(tokens, JSON.stringify({ 'cli-token-00001': { actor: 'cli-user', roles: [] } }));
  const child = spawn(process.execPath, [join(root, 'pkg', 'cli.js'), 'serve', '--port', '0', '--db', join(dir, 'cli.db'), '--tokens', tokens], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill());
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
  assert.equal((await fetch(`${url}/api/v1/metadata`)).status, 401);
  assert.equal((await fetch(`${url}/api/v1/metadata`, { headers: as('cli-token-00001') })).status, 200);
  const code = await new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
  assert.equal(code, 0);
});

test('counts in query strings are non-negative integers; anything else is 400, never a silent default', async () => {
  for (let i = 0; i < 3; i++) await call('PUT', `/report/r${i}`, { body: { i } });
  // A count past what the store can hold means as many as there are.
  let r = await call('GET', '/report?limit=9007199254740991');
  assert.deepEqual([r.status, r.body.items.map((x) => x.name)], [200, ['r0', 'r1', 'r2']]);
  r = await call('GET', '/report?offset=99999999999999999999');
  assert.deepEqual([r.status, r.body.items.length], [200, 0]);
  // limit=0 asks for none: it had meant the default page of 1,000.
  r = await call('GET', '/_changes?since=0&limit=0', { headers: { accept: 'application/json' } });
  assert.deepEqual([r.status, r.body], [200, []]);
  r = await call('GET', '/_changes?since=0&limit=2', { headers: { accept: 'application/json' } });
  assert.equal(r.body.length, 2);
  r = await call('GET', `/report?limit=${'9'.repeat(30)}`);
  assert.deepEqual([r.status, r.body.items.length], [200, 3]);
  for (const path of [
    '/report?limit=-1', '/report?offset=1.5', '/report?limit=', '/report?limit=1e3',
    '/_changes?since=0&limit=abc', '/_changes?since=0&limit=-1', '/_changes?since=0&limit=2.5',
    // Given twice, whichever comes first: the first had decided on one
    // route and the other been checked alone on another.
    '/report?limit=1&limit=x', '/report?limit=x&limit=1', '/report?limit=1&limit=2',
    '/_changes?since=0&limit=1&limit=x',
  ]) {
    r = await call('GET', path, { headers: { accept: 'application/json' } });
    assert.deepEqual([r.status, r.body.code], [400, 'VALIDATION'], path);
    assert.match(r.body.error, /is a non-negative integer/, path);
  }
  // Upstream's history route: these had answered 200 with no events.
  const history = (query) => fetch(`${server.url}/api/v1/meta/report/r0/history${query}`, { headers: ADMIN });
  for (const query of ['?limit=abc', '?limit=-1', '?sinceSeq=abc', '?sinceSeq=-1', '?limit=1.5']) {
    const response = await history(query);
    const body = await response.json();
    assert.deepEqual([response.status, body.code], [400, 'VALIDATION'], query);
  }
  const response = await history('?limit=1');
  assert.equal((await response.json()).events.length, 1);
  // Upstream's write routes: an If-Match naming no version is a conflict,
  // not a write without a condition (it had written).
  for (const method of ['PUT', 'DELETE']) {
    const r = await fetch(`${server.url}/api/v1/meta/report/r0`, {
      method, headers: { ...ADMIN, 'if-match': ',', 'content-type': 'application/json' }, body: method === 'PUT' ? '{"changed":true}' : undefined,
    });
    assert.deepEqual([r.status, (await r.json()).code], [409, 'METADATA_CONFLICT'], method);
  }
  assert.equal((await call('GET', '/report/r0')).body.is_active, true);
  assert.equal((await call('GET', '/report/r0/history')).body.length, 1);
});
