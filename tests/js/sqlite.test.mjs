// The SQLite store: schema and indexes, persistence, transactions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetadataService } from '@objectstack/metadata-wasm';
import { openSqliteStore } from '@objectstack/metadata-wasm/sqlite';

const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), 'osm-sqlite-'));
  return { path: join(dir, 'metadata.db'), done: () => rmSync(dir, { recursive: true, force: true }) };
};

test('creates the ADR table, its indexes and the history table on first use', async () => {
  const store = await openSqliteStore(':memory:');
  const columns = store.db.prepare('PRAGMA table_info(sys_metadata)').all().map((c) => c.name);
  for (const c of ['type', 'name', 'data', 'version', 'checksum', 'source', 'is_active', 'owner', 'tenant_id', 'tags', 'created_at', 'updated_at', 'updated_by']) {
    assert.ok(columns.includes(c), `column ${c}`);
  }
  const indexes = Object.fromEntries(store.db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").all().map((r) => [r.name, r.sql]));
  assert.match(indexes.sys_metadata_tenant_type_name, /UNIQUE INDEX .*\(ifnull\(tenant_id, ''\), type, name\)/s);
  assert.match(indexes.sys_metadata_type_active, /\(type, is_active\)/);
  assert.match(indexes.sys_metadata_tenant_type, /\(tenant_id, type\)/);
  assert.ok(store.db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sys_metadata_history'").get());
  // The unique index holds even for global (NULL tenant) rows.
  const row = { tenant_id: null, type: 'view', name: 'v', data: '{}', version: 1, checksum: 'x', source: 'api', is_active: 1, owner: 'o', tags: '[]', created_at: 't', updated_at: 't' };
  const insert = store.db.prepare('INSERT INTO sys_metadata (key, tenant_id, type, name, data, version, checksum, source, is_active, owner, tags, created_at, updated_at) VALUES (@key, @tenant_id, @type, @name, @data, @version, @checksum, @source, @is_active, @owner, @tags, @created_at, @updated_at)');
  insert.run({ ...row, key: 'a' });
  assert.throws(() => insert.run({ ...row, key: 'b' }), /UNIQUE/);
  store.close();
});

test('records and history persist across reopening the file', async () => {
  const { path, done } = scratch();
  try {
    let store = await openSqliteStore(path);
    let svc = await MetadataService.create({ store, tenant: 'acme', actor: 'alice' });
    await svc.save('view', 'v', { step: 1 }, { tags: ['crm', 'sales'] });
    await svc.save('view', 'v', { step: 2 });
    await svc.save('object', 'o', { label: 'O', weird: { __proto__: null, 'é😀': [1.5, -0, 1e21] } });
    store.close();

    store = await openSqliteStore(path);
    svc = await MetadataService.create({ store, tenant: 'acme', actor: 'alice' });
    const rec = await svc.loadRecord('view', 'v');
    assert.equal(rec.version, 2);
    assert.deepEqual(rec.data, { step: 2 });
    assert.deepEqual(rec.tags, ['crm', 'sales']);
    assert.equal(rec.is_active, true);
    assert.equal(rec.tenant_id, 'acme');
    assert.deepEqual((await svc.history('view', 'v')).map((h) => [h.version, h.operation]), [[1, 'create'], [2, 'update']]);
    assert.deepEqual(await svc.load('object', 'o'), { label: 'O', weird: { 'é😀': [1.5, 0, 1e21] } });
    const other = await MetadataService.create({ store, tenant: 'globex' });
    assert.equal(await other.load('view', 'v'), null);
    store.close();
  } finally {
    done();
  }
});

test('a batch that fails inside SQLite leaves nothing behind', async () => {
  const store = await openSqliteStore(':memory:');
  const svc = await MetadataService.create({ store, cache: false });
  await svc.save('view', 'keep', { v: 1 });
  // A trigger makes the database itself refuse one row in the middle of the batch.
  store.db.exec("CREATE TRIGGER refuse BEFORE INSERT ON sys_metadata WHEN NEW.name = 'poison' BEGIN SELECT RAISE(ABORT, 'poison refused'); END");
  const count = () => store.db.prepare('SELECT (SELECT count(*) FROM sys_metadata) + (SELECT count(*) FROM sys_metadata_history) AS n').get().n;
  const before = count();
  await assert.rejects(
    svc.saveMany([
      { type: 'view', name: 'first', data: {} },
      { type: 'view', name: 'keep', data: { v: 2 } },
      { type: 'view', name: 'poison', data: {} },
      { type: 'view', name: 'last', data: {} },
    ]),
    (e) => e.code === 'HOST_CALLBACK_FAILED' && e.operation === 'commit' && /poison refused/.test(e.message),
  );
  assert.equal(count(), before);
  assert.deepEqual(await svc.load('view', 'keep'), { v: 1 });
  assert.equal(await svc.load('view', 'first'), null);
  store.close();
});

test('a missing or unwritable database is a clear STORAGE_UNAVAILABLE', async () => {
  await assert.rejects(openSqliteStore('/nonexistent-dir/x/metadata.db'), (e) => e.code === 'STORAGE_UNAVAILABLE');
  await assert.rejects(openSqliteStore('/nonexistent.db', { readonly: true }), (e) => e.code === 'STORAGE_UNAVAILABLE');
});
