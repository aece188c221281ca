// `objectstack-metadata import <project>`: a project written the way
// ObjectStack projects are, the create-objectstack blank template, dry runs,
// refusals, and export / re-import round trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSqliteStore } from '@objectstack/metadata-wasm/sqlite';
import {
  HELPDESK_COUNTS, blankTemplate, cli, helpdesk, tempDir, workspaceModules, writeProject,
} from './project-fixtures.mjs';

// Throwaway projects outside the workspace find @objectstack/spec through
// NODE_PATH, as Node itself would.
function run(...args) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NODE_PATH: workspaceModules },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// The CLI in a Node where `import('esbuild')` fails, as without the optional peer.
function runWithoutEsbuild(...args) {
  const hooks = `export async function resolve(specifier, context, next) {
    if (specifier === 'esbuild') throw Object.assign(new Error("Cannot find package 'esbuild'"), { code: 'ERR_MODULE_NOT_FOUND' });
    return next(specifier, context);
  }`;
  const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});`;
  const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, cli, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function runJson(...args) {
  const r = run(...args, '--json');
  let report;
  try {
    report = JSON.parse(r.out);
  } catch {
    assert.fail(`not JSON (exit ${r.code}): ${r.out}\n${r.err}`);
  }
  return { ...r, report };
}

// Every stored row of both tables: equal dumps mean nothing was written.
async function dump(db) {
  const store = await openSqliteStore(db, { readonly: true });
  try {
    return {
      records: store.db.prepare('SELECT * FROM sys_metadata ORDER BY tenant_id, type, name').all(),
      history: store.db.prepare('SELECT * FROM sys_metadata_history ORDER BY tenant_id, type, name, version').all(),
    };
  } finally {
    store.close();
  }
}

const checksums = (d) => Object.fromEntries(d.records.map((r) => [`${r.type}/${r.name}`, r.checksum]));
const recordsByType = (types) => Object.fromEntries(Object.entries(types).map(([t, s]) => [t, s.records]));

test('a project imports in one run, with progress and a per-type summary; re-importing writes nothing', async (t) => {
  const dir = tempDir(t);
  const db = join(dir, 'm.db');
  let r = run('import', helpdesk, '--db', db);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^imported 31 records from 27 files: 31 created, 0 updated, 0 unchanged$/m);
  assert.match(r.out, /^ {2}object +8 {2}\(8 created, 0 updated, 0 unchanged\)$/m);
  assert.match(r.out, /^ {2}permission +2 {2}\(2 created, 0 updated, 0 unchanged\)$/m);
  assert.match(r.err, /^\[1\/22\] src\/actions\/customer\.action\.ts: 1 action$/m);
  assert.match(r.err, /^\[\d+\/22\] src\/objects\/ticket\.object\.ts: 2 objects$/m);
  assert.match(r.err, /writing 31 records in one transaction/);

  const first = await dump(db);
  assert.equal(first.records.length, 31);
  assert.ok(first.records.every((row) => row.source === 'migration' && row.version === 1));
  const ticket = first.records.find((row) => row.type === 'object' && row.name === 'hd_ticket');
  assert.equal(JSON.parse(ticket.data).label, 'Ticket');
  const history = runJson('history', 'view', 'hd_ticket', '--db', db).report;
  assert.deepEqual(history.map((h) => h.operation), ['import']);

  r = runJson('import', helpdesk, '--db', db);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.report.records, 31);
  assert.equal(r.report.unchanged, 31);
  assert.equal(r.report.created + r.report.updated, 0);
  assert.deepEqual(recordsByType(r.report.types), HELPDESK_COUNTS);
  assert.deepEqual(await dump(db), first);
});

test('--dry-run reports created, updated and unchanged by checksum and writes nothing', async (t) => {
  const dir = tempDir(t);
  const db = join(dir, 'm.db');
  // On a database that does not exist yet: everything would be created, and no file appears.
  let r = run('import', helpdesk, '--db', db, '--dry-run');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^would import 31 records from 27 files: 31 created, 0 updated, 0 unchanged \(dry run: nothing written\)$/m);
  assert.equal(existsSync(db), false);

  // A copy of the project, changed: one definition edited, one added.
  const project = join(dir, 'helpdesk-app');
  cpSync(helpdesk, project, { recursive: true });
  assert.equal(run('import', project, '--db', db).code, 0);
  const before = await dump(db);
  const objectFile = join(project, 'src', 'objects', 'knowledge-article.object.ts');
  writeFileSync(objectFile, readFileSync(objectFile, 'utf8').replace("label: 'Knowledge Article'", "label: 'Article'"));
  writeFileSync(join(project, 'src', 'pages', 'faq.page.ts'), [
    "import { definePage } from '@objectstack/spec/ui';",
    "export const Faq = definePage({ name: 'hd_faq', label: 'FAQ', type: 'home', template: 'header-sidebar-main', kind: 'full', regions: [] });",
    '',
  ].join('\n'));

  const dry = runJson('import', project, '--db', db, '--dry-run');
  assert.equal(dry.code, 0, dry.err);
  assert.equal(dry.report.dryRun, true);
  assert.deepEqual([dry.report.created, dry.report.updated, dry.report.unchanged], [1, 1, 30]);
  assert.deepEqual(dry.report.types.object, { records: 8, created: 0, updated: 1, unchanged: 7 });
  assert.deepEqual(dry.report.types.page, { records: 3, created: 1, updated: 0, unchanged: 2 });
  assert.deepEqual(await dump(db), before);

  // The real run does what the dry run said.
  const real = runJson('import', project, '--db', db);
  assert.equal(real.code, 0, real.err);
  assert.equal(real.report.dryRun, false);
  assert.deepEqual(real.report.types, dry.report.types);
  const after = await dump(db);
  assert.equal(after.records.length, 32);
  assert.equal(after.records.find((row) => row.name === 'hd_knowledge_article').version, 2);
});

test('export, then re-import, changes no checksum (json, yaml, typescript)', async (t) => {
  const dir = tempDir(t);
  const db = join(dir, 'm.db');
  assert.equal(run('import', helpdesk, '--db', db).code, 0);
  const original = await dump(db);
  for (const format of ['json', 'yaml', 'typescript']) {
    const out = join(dir, `out-${format}`);
    let r = run('export', out, '--db', db, '--format', format);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /exported 31 records/);
    // Into the same database: nothing changes, nothing is written.
    r = runJson('import', out, '--db', db);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual([r.report.created, r.report.updated, r.report.unchanged], [0, 0, 31], format);
    assert.deepEqual(await dump(db), original);
    // Into a fresh one: the same checksums.
    const fresh = join(dir, `fresh-${format}.db`);
    assert.equal(run('import', out, '--db', fresh).code, 0);
    assert.deepEqual(checksums(await dump(fresh)), checksums(original), format);
  }
});

test('without esbuild: modules are UNSUPPORTED, data files and the TypeScript export still import', async (t) => {
  const dir = tempDir(t);
  const db = join(dir, 'm.db');
  let r = runWithoutEsbuild('import', helpdesk, '--db', db, '--quiet');
  assert.equal(r.code, 1);
  assert.match(r.err, /^error: UNSUPPORTED: .*needs the esbuild package .*npm install esbuild/m);
  assert.equal(existsSync(db), false);

  assert.equal(run('import', helpdesk, '--db', db, '--quiet').code, 0);
  const original = await dump(db);
  const out = join(dir, 'out');
  assert.equal(run('export', out, '--db', db, '--format', 'typescript', '--quiet').code, 0);
  r = runWithoutEsbuild('import', out, '--db', db, '--quiet');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /0 created, 0 updated, 31 unchanged/);
  assert.deepEqual(await dump(db), original);
});

test('the create-objectstack blank template imports, exports and re-imports unchanged', async (t) => {
  const project = blankTemplate(t);
  const dir = tempDir(t);
  const db = join(dir, 'm.db');
  let r = runJson('import', project, '--db', db);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(recordsByType(r.report.types), { object: 1 });
  assert.deepEqual(r.report.refused, []);
  assert.deepEqual(r.report.ignored.map((i) => i.file).sort(), ['objectstack.config.ts', 'objectstack.manifest.json']);
  const original = await dump(db);
  assert.equal(original.records[0].name, 'blank_note');
  const out = join(dir, 'out');
  assert.equal(run('export', out, '--db', db, '--format', 'typescript').code, 0);
  assert.ok(existsSync(join(out, 'objects', 'blank_note.object.ts')));
  r = runJson('import', out, '--db', db);
  assert.deepEqual([r.report.created, r.report.updated, r.report.unchanged], [0, 0, 1]);
  assert.deepEqual(await dump(db), original);
});

function refusingProject(t) {
  return writeProject(t, {
    'src/objects/customer.object.ts': "export const Customer = { name: 'customer', label: 'Customer' };",
    'src/objects/order.object.ts': "export const Order = { name: 'order', label: 'Order' };\nexport const Dup = { name: 'customer', label: 'Client' };",
    'src/hooks/audit.hook.ts': "export const Audit = { name: 'audit', object: 'order', events: ['afterInsert'], handler: async () => {} };",
    'src/pages/boom.page.ts': "throw new Error('needs a database at load time');",
    'src/flows/forever.flow.ts': "await new Promise(() => {});\nexport const F = { name: 'forever' };",
    'src/views/order.view.ts': "export default { list: { type: 'grid', data: { provider: 'object', object: 'order' }, columns: ['label'] } };",
  });
}

test('refused definitions: nothing is written, each refusal names file, export and path', async (t) => {
  const project = refusingProject(t);
  const dir = tempDir(t);
  const db = join(dir, 'm.db');
  const r = run('import', project, '--db', db, '--timeout', '2000');
  assert.equal(r.code, 1);
  assert.equal(existsSync(db), false);
  assert.match(r.err, /^refused: src\/hooks\/audit\.hook\.ts export Audit \(hook audit\) at \$\.handler: NOT_JSON: a function/m);
  assert.match(r.err, /^refused: src\/pages\/boom\.page\.ts: LOAD_FAILED: loading it threw: needs a database at load time$/m);
  assert.match(r.err, /^refused: src\/flows\/forever\.flow\.ts: TIMEOUT: did not finish loading within 2000 ms/m);
  assert.match(r.err, /^refused: src\/objects\/customer\.object\.ts export Customer \(object customer\) at \$\.name: DUPLICATE: /m);
  assert.match(r.err, /^refused: src\/objects\/order\.object\.ts export Dup \(object customer\) at \$\.name: DUPLICATE: /m);
  assert.match(r.err, /^error: VALIDATION: 5 definition\(s\) or file\(s\) refused in .*; nothing was written/m);

  // Into an existing database: it stays as it was.
  assert.equal(run('import', helpdesk, '--db', db).code, 0);
  const before = await dump(db);
  assert.equal(run('import', project, '--db', db, '--timeout', '2000').code, 1);
  assert.deepEqual(await dump(db), before);
});

test('--skip-invalid imports the rest, lists what was refused and exits 1', async (t) => {
  const project = refusingProject(t);
  const dir = tempDir(t);
  const db = join(dir, 'm.db');
  const r = runJson('import', project, '--db', db, '--timeout', '2000', '--skip-invalid');
  assert.equal(r.code, 1);
  assert.deepEqual(recordsByType(r.report.types), { object: 1, view: 1 });
  assert.deepEqual(
    r.report.refused.map((x) => [x.file, x.export, x.path, x.code]),
    [
      ['src/flows/forever.flow.ts', null, null, 'TIMEOUT'],
      ['src/hooks/audit.hook.ts', 'Audit', '$.handler', 'NOT_JSON'],
      ['src/pages/boom.page.ts', null, null, 'LOAD_FAILED'],
      ['src/objects/customer.object.ts', 'Customer', '$.name', 'DUPLICATE'],
      ['src/objects/order.object.ts', 'Dup', '$.name', 'DUPLICATE'],
    ],
  );
  const stored = await dump(db);
  assert.deepEqual(stored.records.map((row) => `${row.type}/${row.name}`), ['object/order', 'view/order'].sort());
  const text = run('import', project, '--db', db, '--timeout', '2000', '--skip-invalid');
  assert.equal(text.code, 1);
  assert.match(text.out, /^imported 2 records from \d+ files: 0 created, 0 updated, 2 unchanged$/m);
  assert.match(text.out, /^refused 5 \(not imported; listed on stderr\)$/m);
});

test('what a project prints while loading goes to stderr, never into the output', async (t) => {
  const project = writeProject(t, {
    'src/objects/noisy.object.ts': "console.log('{ not json');\nexport const N = { name: 'noisy' };",
  });
  const r = runJson('import', project, '--db', join(tempDir(t), 'm.db'));
  assert.equal(r.code, 0, r.err);
  assert.equal(r.report.records, 1);
  assert.match(r.err, /\{ not json/);
});

test('import options are checked', (t) => {
  const db = join(tempDir(t), 'm.db');
  assert.equal(run('import', helpdesk, '--db', db, '--timeout', 'soon').code, 2);
  assert.equal(run('import', helpdesk, '--db', db, '--timeout', '0').code, 2);
  const r = run('import', helpdesk, '--db', db, '--types', 'Not-A-Type');
  assert.equal(r.code, 1);
  assert.match(r.err, /VALIDATION: types must be/);
  assert.equal(run('import', join(tempDir(t), 'missing'), '--db', db).code, 1);
  assert.equal(existsSync(db), false);
});
