// The project loader: a project written the way ObjectStack projects are,
// the create-objectstack blank template, every refusal, and the project as
// the file layer of a service (the ADR's migration phase 1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMetadataError } from '@objectstack/metadata-wasm';
import { PROJECT_TYPES, formatRefusal, loadProject } from '@objectstack/metadata-wasm/project';
import {
  HELPDESK_COUNTS, blankTemplate, countByType, helpdesk, root, tempDir, workspaceModules, writeProject,
} from './project-fixtures.mjs';

const nodePaths = [workspaceModules];

const rejectsWith = (promise, code, check = () => true) =>
  assert.rejects(promise, (e) => {
    assert.ok(e instanceof Error, 'a real Error');
    assert.ok(isMetadataError(e), `${e.name}: ${e.message}`);
    assert.equal(e.code, code, e.message);
    return check(e) !== false;
  });

const find = (result, type, name) => result.definitions.find((d) => d.type === type && d.name === name);
// Refusals without their messages, for exact comparison.
const shapes = (result) => result.refusals.map(({ file, export: exported, name, path, code }) => ({ file, export: exported, name, path, code }));

test('the helpdesk fixture: every definition its files export, by type', async () => {
  const result = await loadProject(helpdesk);
  assert.deepEqual(result.refusals, [], result.refusals.map(formatRefusal).join('\n'));
  assert.deepEqual(countByType(result.definitions), HELPDESK_COUNTS);
  assert.equal(result.definitions.length, 31);
  const names = (type) => result.definitions.filter((d) => d.type === type).map((d) => d.name);
  assert.deepEqual(names('object'), [
    'hd_agent', 'hd_customer', 'hd_knowledge_article', 'hd_product', 'hd_sla_policy', 'hd_team', 'hd_ticket', 'hd_ticket_comment',
  ]);
  // View containers have no name of their own: named after the object they list.
  assert.deepEqual(names('view'), ['hd_agent', 'hd_customer', 'hd_sla_policy', 'hd_ticket']);
  assert.deepEqual(names('permission'), ['hd_agent_access', 'hd_supervisor_access']);

  // Several per file, and where each came from.
  const ticket = find(result, 'object', 'hd_ticket');
  assert.equal(ticket.file, 'src/objects/ticket.object.ts');
  assert.equal(ticket.export, 'Ticket');
  assert.equal(find(result, 'object', 'hd_ticket_comment').file, 'src/objects/ticket.object.ts');
  assert.equal(find(result, 'permission', 'hd_agent_access').export, 'permissionSets.agent');
  assert.equal(find(result, 'app', 'hd_agent_console').export, 'default');
  // Exported twice (named and default): one definition.
  assert.equal(result.definitions.filter((d) => d.name === 'hd_sla_policy' && d.type === 'object').length, 1);
  // The list of actions holds the same objects as the named exports.
  assert.deepEqual(names('action').length, 5);
  assert.equal(find(result, 'action', 'hd_escalate_ticket').export, 'EscalateTicket');

  // Split across files: fields from a shared module, spread into two objects.
  const email = find(result, 'object', 'hd_customer').data.fields.email;
  assert.equal(email.type, 'email');
  assert.equal(email.label, 'Email');
  assert.equal(email.required, true);
  assert.deepEqual(find(result, 'object', 'hd_agent').data.fields.email, email);
  assert.deepEqual(ticket.data.fields.priority, find(result, 'object', 'hd_sla_policy').data.fields.priority);
  // What the builder made of the source (its schema fills in defaults), as JSON.
  assert.equal(ticket.data.fields.customer.reference, 'hd_customer');
  assert.equal(ticket.data.fields.customer.searchable, false);
  assert.equal(ticket.text, JSON.stringify(ticket.data));

  // JSON and YAML files beside the modules, named by their file names.
  const product = find(result, 'object', 'hd_product');
  assert.equal(product.file, 'src/objects/hd_product.object.yml');
  assert.equal(product.export, null);
  assert.equal(product.data.fields.sku.unique, true);
  assert.equal(find(result, 'view', 'hd_sla_policy').file, 'src/views/hd_sla_policy.view.json');

  // Never read: the stack config, tests, build output, shared helpers.
  const read = result.files.map((f) => f.file);
  assert.ok(!read.some((f) => f.startsWith('test/') || f.startsWith('dist/') || f.includes('.test.') || f.endsWith('index.ts') || f.includes('shared/')), read.join(', '));
  assert.deepEqual(result.ignored.map((i) => i.file), ['objectstack.config.ts']);
  assert.deepEqual(result.skipped, []);
  assert.equal(result.files.length, 22);
});

test('the helpdesk fixture type-checks against @objectstack/spec', () => {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', join(helpdesk, 'tsconfig.json')], { encoding: 'utf8' });
});

test('the blank template of create-objectstack 17.4', async (t) => {
  const dir = blankTemplate(t);
  const result = await loadProject(dir, { nodePaths });
  assert.deepEqual(result.refusals, [], result.refusals.map(formatRefusal).join('\n'));
  assert.deepEqual(countByType(result.definitions), { object: 1 });
  const [note] = result.definitions;
  assert.equal(note.name, 'blank_note');
  assert.equal(note.file, 'src/objects/note.object.ts');
  assert.deepEqual(Object.keys(note.data.fields), ['title', 'body']);
  // The stack config and the template manifest are not metadata files.
  assert.deepEqual(result.ignored.map((i) => i.file).sort(), ['objectstack.config.ts', 'objectstack.manifest.json']);
});

test('a function inside a definition is refused with file, export and JSON path; the rest of the file loads', async (t) => {
  const dir = writeProject(t, {
    'src/objects/ticket.object.ts': `
      export const Ticket = { name: 'ticket', fields: { subject: { type: 'text', validate: (v: string) => v.length > 0 } } };
      export const Note = { name: 'note', fields: { body: { type: 'text' } } };
    `,
  });
  const result = await loadProject(dir);
  assert.deepEqual(shapes(result), [
    { file: 'src/objects/ticket.object.ts', export: 'Ticket', name: 'ticket', path: '$.fields.subject.validate', code: 'NOT_JSON' },
  ]);
  assert.match(result.refusals[0].message, /function \(validate\)/);
  assert.match(formatRefusal(result.refusals[0]), /^src\/objects\/ticket\.object\.ts export Ticket \(object ticket\) at \$\.fields\.subject\.validate: NOT_JSON: /);
  assert.deepEqual(result.definitions.map((d) => d.name), ['note']);
});

test('every value JSON cannot carry is refused at its path; undefined members are absent', async (t) => {
  const cases = {
    undefinedInArray: ['{ name: "a1", list: [1, undefined] }', '$.list[1]', /undefined in an array/],
    hole: ['{ name: "a2", list: [1, , 3] }', '$.list[1]', /hole/],
    classInstance: ['{ name: "a3", price: new (class Money { v = 3 })() }', '$.price', /instance of Money/],
    date: ['{ name: "a4", at: { when: new Date(0) } }', '$.at.when', /instance of Date/],
    map: ['{ name: "a5", index: new Map() }', '$.index', /instance of Map/],
    cycle: ['(() => { const o: any = { name: "a6", child: {} }; o.child.parent = o; return o; })()', '$.child.parent', /cycle back to \$/],
    nan: ['{ name: "a7", "odd key": [NaN] }', '$["odd key"][0]', /NaN is not a finite number/],
    bigint: ['{ name: "a8", n: 10n }', '$.n', /BigInt/],
    symbol: ['{ name: "a9", s: Symbol("x") }', '$.s', /symbol/],
    symbolKey: ['{ name: "a10", [Symbol("brand")]: true }', '$', /symbol-keyed/],
  };
  const source = Object.entries(cases).map(([exp, [value]]) => `export const ${exp} = ${value};`).join('\n');
  const dir = writeProject(t, {
    'src/objects/bad.object.ts': `${source}\nexport const fine = { name: 'fine', label: undefined, ok: [true] };\n`,
  });
  const result = await loadProject(dir);
  const byExport = Object.fromEntries(result.refusals.map((r) => [r.export, r]));
  for (const [exp, [, path, message]] of Object.entries(cases)) {
    assert.equal(byExport[exp]?.code, 'NOT_JSON', exp);
    assert.equal(byExport[exp].path, path, exp);
    assert.match(byExport[exp].message, message, exp);
  }
  assert.equal(result.refusals.length, Object.keys(cases).length);
  assert.deepEqual(result.definitions.map((d) => [d.name, d.data]), [['fine', { name: 'fine', ok: [true] }]]);
});

test('two different definitions of one type and name are both refused; the same one twice is kept once', async (t) => {
  const dir = writeProject(t, {
    'src/objects/a.object.ts': "export const A = { name: 'ticket', label: 'Ticket' };\nexport const Same = { name: 'shared', label: 'S' };",
    'src/objects/b.object.ts': "export const B = { name: 'ticket', label: 'Case' };\nexport const Same = { name: 'shared', label: 'S' };",
    // Same name, another type: no clash.
    'src/views/ticket.view.ts': "export default { name: 'ticket', columns: ['subject'] };",
  });
  const result = await loadProject(dir);
  assert.deepEqual(shapes(result), [
    { file: 'src/objects/a.object.ts', export: 'A', name: 'ticket', path: '$.name', code: 'DUPLICATE' },
    { file: 'src/objects/b.object.ts', export: 'B', name: 'ticket', path: '$.name', code: 'DUPLICATE' },
  ]);
  assert.match(result.refusals[0].message, /object\/ticket is also defined, differently, by src\/objects\/b\.object\.ts \(export B\)/);
  assert.deepEqual(result.definitions.map((d) => `${d.type}/${d.name}`), ['object/shared', 'view/ticket']);
  assert.deepEqual(result.skipped, [{ file: 'src/objects/b.object.ts', export: 'Same', reason: 'the same definition as src/objects/a.object.ts (export Same)' }]);
});

test('a file that throws while loading (or later, from a timer) is refused with its error; builder validation errors keep their paths', async (t) => {
  const dir = writeProject(t, {
    'src/objects/a_ok.object.ts': "export const Ok = { name: 'ok' };",
    'src/objects/boom.object.ts': "throw new Error('cannot reach the license server');",
    'src/objects/rating.object.ts': `
      import { ObjectSchema, Field } from '@objectstack/spec/data';
      export const Bad = ObjectSchema.create({ name: 'bad', label: 'Bad', sharingModel: 'private', fields: { stars: Field.rating({ label: 'Stars' } as any) } });
    `,
    'src/objects/exits.object.ts': 'process.exit(7);',
    'src/objects/late.object.ts': [
      "setTimeout(() => { throw new Error('thrown by a timer'); }, 10);",
      'await new Promise((resolve) => setTimeout(resolve, 50));',
      "export const Late = { name: 'late' };",
    ].join('\n'),
    'src/objects/z_after.object.ts': "export const After = { name: 'after' };",
  });
  const result = await loadProject(dir, { nodePaths });
  assert.deepEqual(shapes(result), [
    { file: 'src/objects/boom.object.ts', export: null, name: null, path: null, code: 'LOAD_FAILED' },
    { file: 'src/objects/exits.object.ts', export: null, name: null, path: null, code: 'LOAD_FAILED' },
    { file: 'src/objects/late.object.ts', export: null, name: null, path: null, code: 'LOAD_FAILED' },
    { file: 'src/objects/rating.object.ts', export: null, name: null, path: null, code: 'LOAD_FAILED' },
  ]);
  assert.match(result.refusals[0].message, /threw: cannot reach the license server/);
  assert.match(result.refusals[1].message, /exit code 7/);
  assert.match(result.refusals[2].message, /outside the module's evaluation .*: thrown by a timer$/);
  assert.match(result.refusals[3].message, /fields\.stars\.max: /);
  // A refusal of the file blocks an import; the definition itself was read.
  assert.deepEqual(result.definitions.map((d) => d.name), ['after', 'late', 'ok']);
});

test('a file that never finishes loading is stopped at the time limit; the next file still loads', async (t) => {
  const dir = writeProject(t, {
    'src/objects/a_waits.object.ts': "await new Promise(() => {});\nexport const W = { name: 'waits' };",
    'src/objects/b_spins.object.ts': "while (true) {}\nexport const S = { name: 'spins' };",
    'src/objects/c_fine.object.ts': "export const F = { name: 'fine' };",
  });
  const result = await loadProject(dir, { timeoutMs: 3000 });
  assert.deepEqual(shapes(result), [
    { file: 'src/objects/a_waits.object.ts', export: null, name: null, path: null, code: 'TIMEOUT' },
    { file: 'src/objects/b_spins.object.ts', export: null, name: null, path: null, code: 'TIMEOUT' },
  ]);
  assert.match(result.refusals[0].message, /within 3000 ms/);
  assert.deepEqual(result.definitions.map((d) => d.name), ['fine']);
});

test('files that do not compile, import what is missing or reach outside the folder are refused', async (t) => {
  const dir = writeProject(t, {
    'src/objects/syntax.object.ts': "export const S = { name: 's' ;",
    'src/objects/missing.object.ts': "import { x } from 'no-such-package';\nexport const M = { name: 'm', x };",
    'src/objects/outside.object.ts': "import { secret } from '../../../secret';\nexport const O = { name: 'o', secret };",
    'src/objects/bad_name.object.ts': "export const N = { name: 'Not-A-Name' };",
    'src/objects/broken.object.yml': 'label: [unclosed\n',
  });
  writeFileSync(join(dir, '..', 'secret.ts'), "export const secret = 'outside';\n");
  const result = await loadProject(dir);
  const byFile = Object.fromEntries(result.refusals.map((r) => [r.file.split('/').pop(), r]));
  assert.equal(byFile['syntax.object.ts'].code, 'BUNDLE_FAILED');
  assert.match(byFile['syntax.object.ts'].message, /syntax\.object\.ts:1:\d+: Expected "}"/);
  assert.equal(byFile['missing.object.ts'].code, 'BUNDLE_FAILED');
  assert.match(byFile['missing.object.ts'].message, /Could not resolve "no-such-package"/);
  assert.equal(byFile['outside.object.ts'].code, 'BUNDLE_FAILED');
  assert.match(byFile['outside.object.ts'].message, /outside the project folder/);
  assert.equal(byFile['bad_name.object.ts'].code, 'INVALID_NAME');
  assert.equal(byFile['bad_name.object.ts'].export, 'N');
  assert.equal(byFile['broken.object.yml'].code, 'PARSE_FAILED');
  assert.equal(result.refusals.length, 5);
  assert.deepEqual(result.definitions, []);
});

test('which files are metadata: known suffixes, data in a type folder, anything in a plain folder', async (t) => {
  const files = {
    'src/widgets/home.widget.ts': "export const Home = { name: 'home', size: 2 };",
    'src/email/welcome.email-template.ts': "export const Welcome = { name: 'welcome', subject: 'Hi' };",
    'widgets/side.widget.json': '{ "size": 1 }',
    'objectstack.manifest.json': '{ "name": "x" }',
    'src/objects/line-item.object.yml': 'name: line_item\nlabel: Line\n',
    'src/objects/nameless-thing.object.yml': 'label: No name\n',
    'src/helpers.ts': "throw new Error('not a metadata file');",
  };
  const project = writeProject(t, files);
  let result = await loadProject(project);
  assert.deepEqual(result.definitions.map((d) => `${d.type}/${d.name}`), ['email_template/welcome', 'object/line_item', 'widget/side']);
  assert.deepEqual(shapes(result), [{ file: 'src/objects/nameless-thing.object.yml', export: null, name: null, path: '$.name', code: 'INVALID_NAME' }]);
  assert.deepEqual(result.ignored.map((i) => i.file), ['objectstack.manifest.json', 'src/widgets/home.widget.ts']);
  result = await loadProject(project, { types: ['widget'] });
  assert.deepEqual(result.definitions.map((d) => `${d.type}/${d.name}`), ['email_template/welcome', 'object/line_item', 'widget/home', 'widget/side']);
  assert.ok(PROJECT_TYPES.includes('email_template'));

  // Without a package.json, every <name>.<type>.<ext> data file, as before.
  const plain = tempDir(t);
  writeFileSync(join(plain, 'objectstack.manifest.json'), '{ "name": "x" }');
  result = await loadProject(plain);
  assert.deepEqual(result.definitions.map((d) => `${d.type}/${d.name}`), ['manifest/objectstack']);
});

test('bad arguments are typed errors', async (t) => {
  const file = join(tempDir(t), 'file.txt');
  writeFileSync(file, 'x');
  await rejectsWith(loadProject(''), 'VALIDATION');
  await rejectsWith(loadProject(42), 'VALIDATION');
  await rejectsWith(loadProject(join(file, '..', 'missing')), 'NOT_FOUND');
  await rejectsWith(loadProject(file), 'VALIDATION');
  await rejectsWith(loadProject(helpdesk, { timeoutMs: 0 }), 'VALIDATION', (e) => e.field === 'timeoutMs');
  await rejectsWith(loadProject(helpdesk, { timeoutMs: 1.5 }), 'VALIDATION');
  await rejectsWith(loadProject(helpdesk, { timout: 5 }), 'VALIDATION', (e) => /unknown option "timout"/.test(e.message));
  await rejectsWith(loadProject(helpdesk, { types: ['Widget'] }), 'VALIDATION');
  await rejectsWith(loadProject(helpdesk, { nodePaths: 'x' }), 'VALIDATION');
});
