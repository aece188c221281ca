// The project as the file layer of a service: the ADR's migration phase 1
// (read from both, the database first, the project's files second).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetadataService, isMetadataError } from '@objectstack/metadata-wasm';
import { loadProject, loadProjectFiles, projectFiles } from '@objectstack/metadata-wasm/project';
import { helpdesk, writeProject } from './project-fixtures.mjs';

const rejectsWith = (promise, code, check = () => true) =>
  assert.rejects(promise, (e) => {
    assert.ok(e instanceof Error, 'a real Error');
    assert.ok(isMetadataError(e), `${e.name}: ${e.message}`);
    assert.equal(e.code, code, e.message);
    return check(e) !== false;
  });

test('the database first, the project second', async () => {
  const svc = await MetadataService.create({ actor: 'migrator', files: { project: helpdesk } });
  assert.ok(svc instanceof MetadataService);
  let r = await svc.resolve('object', 'hd_ticket');
  assert.equal(r.layer, 'filesystem');
  assert.equal(r.data.label, 'Ticket');
  assert.equal((await svc.loadMany('view')).length, 4);
  assert.equal((await svc.loadMany('object')).length, 8);

  // Saved in the database, the definition wins over the project's file.
  await svc.save('object', 'hd_ticket', { ...r.data, label: 'Support ticket' });
  r = await svc.resolve('object', 'hd_ticket');
  assert.equal(r.layer, 'database');
  assert.equal(r.data.label, 'Support ticket');
  assert.equal((await svc.resolve('object', 'hd_customer')).layer, 'filesystem');
  assert.equal((await svc.loadMany('object')).length, 8);

  // The same texts, by hand.
  const files = projectFiles(await loadProject(helpdesk));
  assert.equal(Object.keys(files).length, 31);
  assert.deepEqual(await loadProjectFiles({ project: helpdesk }), files);
});

test('a service over a project with refusals fails unless told to skip them', async (t) => {
  const dir = writeProject(t, {
    'src/hooks/audit.hook.ts': "export const Audit = { name: 'audit', object: 'ticket', handler: async () => {} };",
    'src/objects/ticket.object.ts': "export const Ticket = { name: 'ticket', label: 'Ticket' };",
  });
  await rejectsWith(MetadataService.create({ files: { project: dir } }), 'VALIDATION', (e) => {
    assert.equal(e.refusals.length, 1);
    assert.equal(e.refusals[0].path, '$.handler');
    assert.match(e.message, /src\/hooks\/audit\.hook\.ts export Audit \(hook audit\) at \$\.handler: NOT_JSON/);
  });
  const svc = await MetadataService.create({ files: { project: dir, skipInvalid: true } });
  assert.deepEqual(await svc.load('object', 'ticket'), { name: 'ticket', label: 'Ticket' });
  assert.equal(await svc.load('hook', 'audit'), null);
});

test('files.project is checked like any option', async () => {
  await rejectsWith(MetadataService.create({ files: { project: helpdesk, 'objects/a.object.json': '{}' } }), 'VALIDATION');
  await rejectsWith(MetadataService.create({ files: { project: helpdesk, skipInvalid: 'yes' } }), 'VALIDATION');
  await rejectsWith(MetadataService.create({ files: { project: '' } }), 'VALIDATION');
  // Plain path -> text files work as before.
  const svc = await MetadataService.create({ files: { 'views/all.view.json': '{ "label": "All" }' } });
  assert.deepEqual(await svc.load('view', 'all'), { label: 'All' });
});
