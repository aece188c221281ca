// Shared by the project loader tests: the fixture project, throwaway
// projects written on the fly, and the create-objectstack blank template.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cli = join(root, 'pkg', 'cli.js');
/** Where the throwaway projects resolve @objectstack/spec from (the workspace's dev dependency). */
export const workspaceModules = join(root, 'node_modules');
/** A helpdesk written the way ObjectStack projects are (tests/fixtures/helpdesk-app). */
export const helpdesk = join(root, 'tests', 'fixtures', 'helpdesk-app');

/** What the helpdesk's files export, counted by hand from its sources. */
export const HELPDESK_COUNTS = {
  action: 5, app: 2, dashboard: 2, dataset: 1, flow: 2, object: 8, page: 2, permission: 2, report: 3, view: 4,
};

export function tempDir(t, prefix = 'osm-project-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A project folder holding `files` (path -> text) and a package.json, one
 * level down in a temporary folder (its parent is scratch space too).
 */
export function writeProject(t, files) {
  const dir = join(tempDir(t), 'project');
  const all = { 'package.json': '{ "name": "scratch", "private": true, "type": "module" }\n', ...files };
  for (const [path, text] of Object.entries(all)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

/**
 * The blank template create-objectstack 17.4 ships (installed from npm as a
 * dev dependency, never committed), copied out as `npm create objectstack`
 * would scaffold it.
 */
export function blankTemplate(t) {
  const dir = join(tempDir(t, 'osm-blank-'), 'my-app');
  cpSync(join(workspaceModules, 'create-objectstack', 'dist', 'templates', 'blank'), dir, { recursive: true });
  return dir;
}

export function countByType(definitions) {
  const counts = {};
  for (const d of definitions) counts[d.type] = (counts[d.type] ?? 0) + 1;
  return counts;
}
