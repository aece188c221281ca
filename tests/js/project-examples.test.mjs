// Upstream ObjectStack's example apps (app-crm, app-showcase, app-todo),
// read from a local copy that is never part of this repository:
//   OBJECTSTACK_EXAMPLES=<upstream checkout>/examples node --test tests/js/project-examples.test.mjs
// They import @objectstack/spec, resolved from the apps' own node_modules,
// then from this workspace's dev dependency (17.4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { formatRefusal, loadProject } from '@objectstack/metadata-wasm/project';
import { openSqliteStore } from '@objectstack/metadata-wasm/sqlite';
import { cli, countByType, tempDir, workspaceModules } from './project-fixtures.mjs';

const examples = process.env.OBJECTSTACK_EXAMPLES;
const skip = examples
  ? false
  : 'skipped: OBJECTSTACK_EXAMPLES is not set (the examples folder of a local copy of upstream ObjectStack)';
const APPS = ['app-crm', 'app-showcase', 'app-todo'];

function run(...args) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, NODE_PATH: workspaceModules } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

async function checksums(db) {
  const store = await openSqliteStore(db, { readonly: true });
  try {
    return Object.fromEntries(store.db.prepare('SELECT type, name, checksum FROM sys_metadata').all().map((r) => [`${r.type}/${r.name}`, r.checksum]));
  } finally {
    store.close();
  }
}

for (const app of APPS) {
  test(`upstream example ${app}: every metadata file loads or is refused with a reason; export and re-import change nothing`, { skip }, async (t) => {
    const dir = join(examples, app);
    if (!existsSync(dir)) {
      t.skip(`skipped: ${dir} does not exist`);
      return;
    }
    const loaded = await loadProject(dir, { nodePaths: [workspaceModules] });
    t.diagnostic(`${app}: ${loaded.files.length} metadata files, ${loaded.definitions.length} definitions ${JSON.stringify(countByType(loaded.definitions))}`);
    for (const r of loaded.refusals) t.diagnostic(`refused: ${formatRefusal(r)}`);
    for (const s of loaded.skipped) t.diagnostic(`skipped: ${s.file} ${s.export}: ${s.reason}`);
    assert.ok(loaded.definitions.length > 0);
    // Nothing vanishes: every metadata file gave definitions, was refused, or
    // had its exports listed as no definitions.
    for (const f of loaded.files) {
      const accounted = f.definitions > 0 || f.refused > 0 || loaded.skipped.some((s) => s.file === f.file);
      assert.ok(accounted, `${f.file} gave nothing and no reason`);
    }
    // A hook's handler is a function: refused at its path, never dropped.
    for (const f of loaded.files.filter((x) => x.file.endsWith('.hook.ts'))) {
      assert.ok(loaded.refusals.some((r) => r.file === f.file && r.code === 'NOT_JSON' && r.path.startsWith('$.')), f.file);
    }

    const scratch = tempDir(t);
    const db = join(scratch, 'm.db');
    let r = run('import', dir, '--db', db, '--skip-invalid', '--quiet', '--json');
    assert.equal(r.code, loaded.refusals.length > 0 ? 1 : 0, r.err);
    const report = JSON.parse(r.out);
    assert.equal(report.records, loaded.definitions.length);
    assert.equal(report.created, loaded.definitions.length);
    const original = await checksums(db);
    for (const d of loaded.definitions) assert.ok(original[`${d.type}/${d.name}`], `${d.type}/${d.name}`);

    r = run('import', dir, '--db', db, '--skip-invalid', '--quiet', '--json');
    assert.equal(JSON.parse(r.out).unchanged, loaded.definitions.length);
    for (const format of ['typescript', 'yaml']) {
      const out = join(scratch, `out-${format}`);
      assert.equal(run('export', out, '--db', db, '--format', format, '--quiet').code, 0);
      r = run('import', out, '--db', db, '--quiet', '--json');
      assert.equal(r.code, 0, r.err);
      assert.equal(JSON.parse(r.out).unchanged, loaded.definitions.length, format);
      assert.deepEqual(await checksums(db), original);
    }
  });
}
