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
  for (const c of ['type', 'name', 'data', 'version', 'checksum', 'source', 'is_active', 'owner', 'tenant_id', 'tags', 'created_at', 'updated_at', 'updated_by', 'seq', 'operation']) {
    assert.ok(columns.includes(c), `column ${c}`);
  }
  const indexes = Object.fromEntries(store.db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").all().map((r) => [r.name, r.sql]));
  assert.match(indexes.sys_metadata_tenant_type_name, /UNIQUE INDEX .*\(ifnull\(tenant_id, ''\), type, name\)/s);
  assert.match(indexes.sys_metadata_type_active, /\(type, is_active\)/);
  assert.match(indexes.sys_metadata_tenant_type, /\(tenant_id, type\)/);
  assert.match(indexes.sys_metadata_change_log, /\(ifnull\(tenant_id, ''\), seq\)/);
  assert.match(indexes.sys_metadata_history_version, /UNIQUE INDEX .*\(ifnull\(tenant_id, ''\), type, name, version\)/s);
  assert.ok(store.db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sys_metadata_history'").get());
  assert.ok(store.db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sys_metadata_sequence'").get());
  assert.equal(store.db.pragma('user_version', { simple: true }), 2);
  // The unique index holds even for global (NULL tenant) rows.
  const row = { tenant_id: null, type: 'view', name: 'v', data: '{}', version: 1, checksum: 'x', source: 'api', is_active: 1, owner: 'o', tags: '[]', created_at: 't', updated_at: 't', seq: 1, operation: 'create' };
  const insert = store.db.prepare('INSERT INTO sys_metadata (tenant_id, type, name, data, version, checksum, source, is_active, owner, tags, created_at, updated_at, seq, operation) VALUES (@tenant_id, @type, @name, @data, @version, @checksum, @source, @is_active, @owner, @tags, @created_at, @updated_at, @seq, @operation)');
  insert.run(row);
  assert.throws(() => insert.run(row), /UNIQUE/);
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

test('a database written by schema version 1 is upgraded in place, once', async () => {
  const { path, done } = scratch();
  try {
    // Version 1's tables: rows under a storage key, each head's own version
    // in history too, no sequence numbers.
    const Database = (await import('better-sqlite3')).default;
    const raw = new Database(path);
    raw.exec(`
      CREATE TABLE sys_metadata (key TEXT PRIMARY KEY, tenant_id TEXT, type TEXT NOT NULL, name TEXT NOT NULL,
        data TEXT NOT NULL, version INTEGER NOT NULL, checksum TEXT NOT NULL, source TEXT NOT NULL,
        is_active INTEGER NOT NULL, owner TEXT NOT NULL, tags TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL, updated_by TEXT);
      CREATE UNIQUE INDEX sys_metadata_tenant_type_name ON sys_metadata (ifnull(tenant_id, ''), type, name);
      CREATE INDEX sys_metadata_type_active ON sys_metadata (type, is_active);
      CREATE INDEX sys_metadata_tenant_type ON sys_metadata (tenant_id, type);
      CREATE TABLE sys_metadata_history (key TEXT PRIMARY KEY, tenant_id TEXT, type TEXT NOT NULL, name TEXT NOT NULL,
        version INTEGER NOT NULL, operation TEXT NOT NULL, checksum TEXT NOT NULL, actor TEXT NOT NULL,
        timestamp TEXT NOT NULL, is_active INTEGER NOT NULL, data TEXT NOT NULL);
      CREATE INDEX sys_metadata_history_record ON sys_metadata_history (tenant_id, type, name, version);
    `);
    const { checksum } = await import('@objectstack/metadata-wasm');
    const head = raw.prepare(`INSERT INTO sys_metadata VALUES (@key, @tenant_id, 'view', @name, @data, @version, @checksum, 'database', 1, 'alice', '[]', '2026-01-01T00:00:00.000Z', @at, 'alice')`);
    const entry = raw.prepare(`INSERT INTO sys_metadata_history VALUES (@key, @tenant_id, 'view', @name, @version, @operation, @checksum, 'alice', @at, @active, @data)`);
    const row = (tenant, name, version, at, operation, active = 1) => {
      const data = JSON.stringify({ name, version });
      return { key: `${tenant ?? '*'}/view/${name}`, tenant_id: tenant, name, data, version, checksum: checksum(JSON.parse(data)), at, operation, active };
    };
    const h = (r) => ({ ...r, key: `${r.key}#${String(r.version).padStart(20, '0')}` });
    const a1 = row('acme', 'a', 1, '2026-01-01T00:00:01.000Z', 'create');
    const a2 = row('acme', 'a', 2, '2026-01-01T00:00:03.000Z', 'update');
    const b1 = row('acme', 'b', 1, '2026-01-01T00:00:02.000Z', 'create');
    const g1 = row(null, 'g', 1, '2026-01-01T00:00:01.000Z', 'import');
    for (const r of [a2, b1, g1]) head.run(r);
    for (const r of [a1, a2, b1, g1]) entry.run(h(r));
    raw.close();

    const store = await openSqliteStore(path);
    assert.equal(store.db.pragma('user_version', { simple: true }), 2);
    const acme = await MetadataService.create({ store, tenant: 'acme' });
    assert.deepEqual((await acme.history('view', 'a')).map((e) => [e.version, e.seq, e.operation]), [[1, 1, 'create'], [2, 3, 'update']]);
    assert.deepEqual((await acme.changes()).map((e) => [e.sequence, e.name]), [[1, 'a'], [2, 'b'], [3, 'a']]);
    assert.equal((await acme.loadRecord('view', 'a')).operation, 'update');
    const global = await MetadataService.create({ store });
    assert.equal((await global.loadRecord('view', 'g')).operation, 'import');
    assert.equal(await global.lastSequence(), 1);
    // New writes continue the numbering.
    const out = await acme.save('view', 'b', { name: 'b', version: 2 });
    assert.deepEqual([out.record.version, out.record.seq], [2, 4]);
    assert.equal(store.db.prepare("SELECT count(*) FROM sqlite_master WHERE name LIKE '%_v1'").pluck().get(), 0);
    store.close();
    // Opening again changes nothing.
    const again = await openSqliteStore(path);
    assert.equal((await (await MetadataService.create({ store: again, tenant: 'acme' })).lastSequence()), 4);
    again.close();
  } finally {
    done();
  }
});

test('processes that open one new file at the same moment all open it', async (t) => {
  const { execFile } = await import('node:child_process');
  const dir = mkdtempSync(join(tmpdir(), 'osm-sqlite-race-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Both switch the new file to WAL and make its schema: the switch was
  // refused at once with "database is locked", and the second to make the
  // schema found it made and upgraded it again as an earlier version's.
  const child = `import { openSqliteStore } from '@objectstack/metadata-wasm/sqlite';
try { await openSqliteStore(process.argv[1]); console.log('opened'); } catch (e) { console.log('failed: ' + e.message); }`;
  const open = (file) => new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', child, file], (e, out) => resolve(out.trim()));
  });
  for (let round = 0; round < 10; round++) {
    const file = join(dir, `race${round}.db`);
    assert.deepEqual(await Promise.all([open(file), open(file)]), ['opened', 'opened'], `round ${round}`);
    const store = await openSqliteStore(file);
    const svc = await MetadataService.create({ store });
    await svc.save('view', 'a', { n: 1 });
    assert.equal((await svc.loadRecord('view', 'a')).version, 1);
    svc.free();
    store.close();
  }
});

test('a guarded write refused for a change another service made on the same store: the next read sees that change', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'osm-sqlite-conflict-'));
  const store = await openSqliteStore(join(dir, 'shared.db'));
  t.after(() => { store.close(); rmSync(dir, { recursive: true, force: true }); });
  const services = await Promise.all([0, 1, 2].map((i) => MetadataService.create({ store, actor: `s${i}` })));
  // Three services each save a record and then add one to a shared
  // counter, read-modify-write with a guard, retrying on CONFLICT with no
  // timer between tries. A conflict's read had answered the version the
  // service's cache held before, and the retries spun on it.
  const refusedReads = [];
  await Promise.all(services.map(async (svc, i) => {
    for (let k = 0; k < 5; k++) {
      await svc.save('view', 'shared', { i, k });
      for (let tries = 0; ; tries++) {
        const cur = await svc.loadRecord('view', 'counter');
        try {
          await svc.save('view', 'counter', { n: (cur?.data.n ?? 0) + 1 }, { expectedVersion: cur?.version ?? 0 });
          break;
        } catch (e) {
          if (e.code !== 'CONFLICT' || tries >= 10) {
            refusedReads.push(`${i}/${k}: read ${cur?.version}, ${e.message}`);
            return;
          }
        }
      }
    }
  }));
  assert.deepEqual(refusedReads, []);
  const counter = await services[0].loadRecord('view', 'counter');
  assert.deepEqual([counter.data.n, counter.version], [15, 15]);
  for (const svc of services) svc.free();
});
