// The command-line tool and the SQLite store on the wrong files, the wrong
// names and damaged rows: clear errors, nothing created, nothing written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MetadataService } from '@objectstack/metadata-wasm';
import { openSqliteStore } from '@objectstack/metadata-wasm/sqlite';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'pkg', 'cli.js');

function run(...args) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function scratch(t) {
  const dir = mkdtempSync(join(tmpdir(), 'osm-cli-hard-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// A database with two records saved through the API (source: api).
async function seeded(dir) {
  const db = join(dir, 'a.db');
  const store = await openSqliteStore(db);
  const svc = await MetadataService.create({ store, actor: 'alice' });
  await svc.save('view', 'all_accounts', { label: 'All', columns: ['name'] });
  await svc.save('object', 'account', { label: 'Account', fields: { name: { type: 'text' } } });
  svc.free();
  store.close();
  return db;
}

test('reading commands serve a VACUUM INTO backup and a rollback-journal file, and change neither', async (t) => {
  const dir = scratch(t);
  const db = await seeded(dir);
  const backup = join(dir, 'backup.db');
  let store = await openSqliteStore(db);
  store.db.exec(`VACUUM INTO '${backup.replaceAll("'", "''")}'`);
  // The original as another tool would leave it: a rollback journal, not WAL.
  store.db.pragma('journal_mode = DELETE');
  store.close();
  const Database = (await import('better-sqlite3')).default;
  const mode = (file) => {
    const raw = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return raw.pragma('journal_mode', { simple: true });
    } finally {
      raw.close();
    }
  };
  const before = { [db]: mode(db), [backup]: mode(backup) };
  assert.equal(before[db], 'delete');
  for (const file of [db, backup]) {
    let r = run('verify', '--db', file);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /verified 2 rows: 0 mismatch/);
    r = run('history', 'view', 'all_accounts', '--db', file);
    assert.equal(r.code, 0, r.err);
    r = run('export', join(dir, 'out'), '--db', file);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /exported 2 records/);
    assert.equal(mode(file), before[file], `${file}: a reading command changed its journal mode`);
  }
  // A read-only opening serves the service and writes nothing.
  store = await openSqliteStore(db, { readonly: true });
  const svc = await MetadataService.create({ store });
  assert.deepEqual(await svc.load('view', 'all_accounts'), { label: 'All', columns: ['name'] });
  await assert.rejects(svc.save('view', 'x', { a: 1 }), (e) => e.code === 'HOST_CALLBACK_FAILED' || e.code === 'STORAGE_UNAVAILABLE' || e.code === 'STORAGE_ERROR');
  svc.free();
  store.close();
  assert.equal(mode(db), 'delete');
});

test('a mistyped --db is an error for every command that reads, and no file is created', async (t) => {
  const dir = scratch(t);
  const missing = join(dir, 'typo.db');
  for (const args of [['export', join(dir, 'out')], ['history', 'view', 'a'], ['verify']]) {
    const r = run(...args, '--db', missing);
    assert.equal(r.code, 1, `${args[0]}: ${r.out}${r.err}`);
    assert.match(r.err, /typo\.db/);
    assert.ok(!existsSync(missing), `${args[0]} created ${missing}`);
  }
  assert.deepEqual(readdirSync(dir), []);
});

test('only real commands are commands: constructor, toString and __proto__ are usage errors', () => {
  for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    const r = run(name);
    assert.equal(r.code, 2, `${name}: ${r.out}${r.err}`);
    assert.match(r.err, /usage: objectstack-metadata/);
    assert.doesNotMatch(r.err, /takes/);
  }
});

test('a stored row whose JSON is malformed is CORRUPTED, never HOST_CALLBACK_FAILED', async (t) => {
  const dir = scratch(t);
  const db = await seeded(dir);
  const store = await openSqliteStore(db);
  store.db.prepare("UPDATE sys_metadata SET data = '{not json' WHERE name = 'all_accounts'").run();
  store.db.prepare("UPDATE sys_metadata SET tags = '[oops' WHERE name = 'account'").run();
  const svc = await MetadataService.create({ store });
  for (const call of [() => svc.load('view', 'all_accounts'), () => svc.loadRecord('object', 'account'), () => svc.history('view', 'all_accounts')]) {
    await assert.rejects(call(), (e) => e.code === 'CORRUPTED');
  }
  svc.free();
  store.close();
  const r = run('verify', '--db', db);
  assert.equal(r.code, 1);
  assert.match(r.out, /MISMATCH sys_metadata view\/all_accounts/);
});

test('re-importing an export of records created through the API writes nothing', async (t) => {
  const dir = scratch(t);
  const db = await seeded(dir);
  const out = join(dir, 'out');
  let r = run('export', out, '--db', db);
  assert.equal(r.code, 0, r.err);
  r = run('import', out, '--db', db, '--dry-run');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /0 created, 0 updated, 2 unchanged/);
  r = run('import', out, '--db', db);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /0 created, 0 updated, 2 unchanged/);
  const store = await openSqliteStore(db, { readonly: true });
  const rows = store.db.prepare('SELECT name, version, source FROM sys_metadata ORDER BY name').all();
  store.close();
  assert.deepEqual(rows, [
    { name: 'account', version: 1, source: 'database' },
    { name: 'all_accounts', version: 1, source: 'database' },
  ]);
});

test('history() refuses a tampered entry as CORRUPTED, as rollback and verify do', async (t) => {
  const dir = scratch(t);
  const db = join(dir, 'h.db');
  const store = await openSqliteStore(db);
  const svc = await MetadataService.create({ store });
  await svc.save('view', 'a', { v: 1 });
  await svc.save('view', 'a', { v: 2 });
  store.db.prepare(`UPDATE sys_metadata_history SET data = '{"v":666}' WHERE name = 'a' AND version = 1`).run();
  await assert.rejects(svc.history('view', 'a'), (e) => e.code === 'CORRUPTED' && /version 1/.test(e.message));
  await assert.rejects(svc.rollback('view', 'a', 1), (e) => e.code === 'CORRUPTED');
  svc.free();
  store.close();
  const r = run('verify', '--db', db);
  assert.equal(r.code, 1);
  assert.match(r.out, /MISMATCH sys_metadata_history view\/a v1/);
});
