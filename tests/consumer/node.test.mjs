// Node, as an installed dependency: ES module import, require() from
// CommonJS, the SQLite store over better-sqlite3 (the project's own), and the
// command-line tool through npx.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ok, project, run } from './lib.mjs';

const dir = project('node');
const node = (...args) => ok(process.execPath, args, { cwd: dir });
const json = (r) => JSON.parse(r.out);
const cli = (...args) => run('npx', ['--no-install', 'objectstack-metadata', ...args], { cwd: dir });

test('ES module: import, save, load, checksum and a MetadataError', async () => {
  const r = json(await node('esm.mjs'));
  assert.equal(r.kind, 'memory');
  assert.equal(r.version, 1);
  assert.match(r.checksum, /^[0-9a-f]{32}$/);
  assert.equal(r.checksum, r.expected);
  assert.deepEqual(r.loaded, { label: 'All accounts' });
  assert.equal(r.conflict, 'CONFLICT');
});

test('CommonJS: require() of the package and of its SQLite entry', async () => {
  const r = json(await node('cjs.cjs'));
  assert.equal(r.version, 1);
  assert.equal(r.checksum, r.expected);
  assert.equal(r.sqlite, 'function');
});

test('SQLite store: saves in one process are read back in another', async () => {
  const db = join(dir, 'persisted.db');
  assert.deepEqual(json(await node('sqlite-write.mjs', db, 'First')), { kind: 'sqlite', version: 1 });
  assert.deepEqual(json(await node('sqlite-write.mjs', db, 'Second')), { kind: 'sqlite', version: 2 });
  assert.deepEqual(json(await node('sqlite-read.cjs', db)), {
    data: { label: 'Second' },
    versions: [[1, 'create'], [2, 'update']],
  });
});

test('command line through npx: import, history, verify, and a usage error', async () => {
  const db = join(dir, 'cli.db');
  const imported = await cli('import', 'metadata', '--db', db, '--actor', 'ci');
  assert.equal(imported.code, 0, imported.err);
  assert.match(imported.out, /imported 2 records from 2 files: 2 created/);

  const history = await cli('history', 'object', 'account', '--db', db, '--json');
  assert.equal(history.code, 0, history.err);
  const entries = JSON.parse(history.out);
  assert.deepEqual(entries.map((e) => [e.version, e.operation, e.actor]), [[1, 'import', 'ci']]);
  assert.equal(entries[0].data.label, 'Account');

  const verified = await cli('verify', '--db', db, '--json');
  assert.equal(verified.code, 0, verified.err);
  // Two heads; a create writes no history row.
  assert.deepEqual(JSON.parse(verified.out), { checked: 2, mismatches: [] });

  const usage = await cli('frobnicate');
  assert.equal(usage.code, 2);
  assert.match(usage.err, /usage: objectstack-metadata/);
});
