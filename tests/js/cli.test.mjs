// The command-line tool: import / export / import round trips in every
// format, history, verify, exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderMetadataFile } from '@objectstack/metadata-wasm';
import { openSqliteStore } from '@objectstack/metadata-wasm/sqlite';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'pkg', 'cli.js');
const corpus = JSON.parse(readFileSync(join(root, 'tests', 'data', 'platform-objects.json'), 'utf8'));

function run(...args) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

async function checksums(db) {
  const store = await openSqliteStore(db, { readonly: true });
  try {
    return Object.fromEntries(store.db.prepare('SELECT type, name, checksum, version FROM sys_metadata ORDER BY type, name').all().map((r) => [`${r.type}/${r.name}`, r]));
  } finally {
    store.close();
  }
}

function files(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push([p.slice(dir.length + 1), readFileSync(p, 'utf8')]);
    }
  };
  walk(dir);
  return out;
}

test('import, export, import again changes no checksum, in every format', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'osm-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Source files: the corpus, half JSON and half YAML, plus a file that is not metadata.
  const src = join(dir, 'src');
  for (const [i, o] of corpus.entries()) {
    const f = renderMetadataFile(o.type, o.name, o.data, i % 2 ? 'json' : 'yaml');
    mkdirSync(dirname(join(src, f.path)), { recursive: true });
    writeFileSync(join(src, f.path), f.text);
  }
  writeFileSync(join(src, 'README.md'), 'not metadata');
  const db = join(dir, 'a.db');
  let r = run('import', src, '--db', db);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /imported 52 records from 53 files: 52 created, 0 updated, 0 unchanged/);
  const original = await checksums(db);
  assert.equal(Object.keys(original).length, 52);
  const history = JSON.parse(run('history', 'object', 'sys_account', '--db', db, '--json').out);
  assert.equal(history[0].operation, 'import');

  for (const format of ['json', 'yaml', 'typescript']) {
    const out = join(dir, `out-${format}`);
    r = run('export', out, '--db', db, '--format', format);
    assert.equal(r.code, 0, r.err);
    const written = files(out);
    assert.equal(written.length, 52);
    const ext = { json: 'json', yaml: 'yaml', typescript: 'ts' }[format];
    assert.ok(written.every(([p]) => p.startsWith(`objects${'/'}`) && p.endsWith(`.object.${ext}`)), written[0][0]);
    // Deterministic: a second export is byte-identical.
    const again = join(dir, `again-${format}`);
    assert.equal(run('export', again, '--db', db, '--format', format).code, 0);
    assert.deepEqual(files(again), written);
    // Re-importing the export into the same database changes nothing...
    r = run('import', out, '--db', db);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /0 created, 0 updated, 52 unchanged/);
    assert.deepEqual(await checksums(db), original);
    // ...and into a fresh one gives the same checksums.
    const fresh = join(dir, `fresh-${format}.db`);
    assert.equal(run('import', out, '--db', fresh).code, 0);
    const copied = await checksums(fresh);
    for (const key of Object.keys(original)) assert.equal(copied[key].checksum, original[key].checksum, key);
  }

  // The TypeScript export is TypeScript that tsc accepts.
  const tsDir = join(dir, 'out-typescript');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const tsFiles = files(tsDir).map(([p]) => join(tsDir, p));
  execFileSync(process.execPath, [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'es2022', '--moduleResolution', 'bundler', ...tsFiles], { encoding: 'utf8' });
});

test('history, verify and exit codes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'osm-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const src = join(dir, 'src');
  mkdirSync(join(src, 'views'), { recursive: true });
  writeFileSync(join(src, 'views', 'all.view.json'), '{"label": "All"}');
  const db = join(dir, 'm.db');
  assert.equal(run('import', src, '--db', db, '--tenant', 'acme').code, 0);
  writeFileSync(join(src, 'views', 'all.view.json'), '{"label": "All, renamed"}');
  assert.match(run('import', src, '--db', db, '--tenant', 'acme').out, /0 created, 1 updated/);

  let r = run('history', 'view', 'all', '--db', db, '--tenant', 'acme');
  assert.equal(r.code, 0);
  assert.match(r.out, /^v1\timport\t[0-9a-f]{32}\t/m);
  assert.match(r.out, /^v2\timport\t/m);
  assert.equal(run('history', 'view', 'none', '--db', db).code, 1);

  r = run('verify', '--db', db);
  assert.equal(r.code, 0, r.out + r.err);
  // The head (v2) and the version it superseded.
  assert.match(r.out, /verified 2 rows: 0 mismatch/);

  // Tamper with the stored data behind the library's back.
  const store = await openSqliteStore(db);
  store.db.prepare(`UPDATE sys_metadata SET data = json_set(data, '$.label', 'tampered')`).run();
  store.close();
  r = run('verify', '--db', db, '--json');
  assert.equal(r.code, 1);
  const report = JSON.parse(r.out);
  assert.equal(report.mismatches.length, 1);
  assert.equal(report.mismatches[0].name, 'all');

  // Broken input: nothing is written, exit 1, the file is named.
  writeFileSync(join(src, 'views', 'broken.view.yaml'), 'label: [unclosed\n');
  r = run('import', src, '--db', db, '--tenant', 'acme');
  assert.equal(r.code, 1);
  assert.match(r.err, /VALIDATION: .*broken\.view\.yaml/);

  // Usage errors.
  assert.equal(run().code, 2);
  assert.equal(run('export').code, 2);
  assert.equal(run('export', dir, '--format', 'xml', '--db', db).code, 2);
  assert.equal(run('frobnicate').code, 2);
  assert.equal(run('--nope').code, 2);
  assert.equal(run('--help').code, 0);
});
