// The project loader (Node): reads the metadata of an ObjectStack project
// folder, the way such projects are written: TypeScript / JavaScript modules
// against @objectstack/spec (`src/objects/account.object.ts` exporting
// `ObjectSchema.create({ name: 'account', ... })`), and JSON / YAML files.
//
// Modules are bundled with esbuild (an optional peer dependency) against the
// project's own installed packages, then evaluated in a worker thread with a
// time limit per file. Every exported definition must be JSON: anything
// else, and two different definitions of one (type, name), is refused with
// the file, the export and the JSON path, never dropped.
//
// project/discover.js  which files are metadata
// project/bundle.js    esbuild, packages resolved from the project
// project/runner.js    the worker and its time limit; project/worker.js runs there
// project/read.js      one file into definitions and refusals

import { realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { checksum } from './node/objectstack_metadata.js';
import { bundle, loadEsbuild } from './project/bundle.js';
import { PROJECT_TYPES, discover, isIdentity } from './project/discover.js';
import { metadataError, refusal, refusalError } from './project/errors.js';
import { readDataFile, readModuleFile } from './project/read.js';
import { ModuleRunner } from './project/runner.js';

export { PROJECT_TYPES } from './project/discover.js';
export { formatRefusal, refusalError } from './project/errors.js';

export const DEFAULT_TIMEOUT_MS = 10_000;

const OPTIONS = new Set(['timeoutMs', 'types', 'nodePaths', 'onProgress']);

function checkOptions(dir, options) {
  if (typeof dir !== 'string' || dir.length === 0) {
    throw metadataError('VALIDATION', 'the project folder must be a non-empty string', { field: 'project' });
  }
  if (options === null || typeof options !== 'object') {
    throw metadataError('VALIDATION', 'options must be an object', { field: 'options' });
  }
  for (const key of Object.keys(options)) {
    if (!OPTIONS.has(key)) {
      throw metadataError('VALIDATION', `unknown option ${JSON.stringify(key)} (expected one of ${[...OPTIONS].join(', ')})`, { field: key });
    }
  }
  const { timeoutMs = DEFAULT_TIMEOUT_MS, types = [], nodePaths = [], onProgress } = options;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 2 ** 31 - 1) {
    throw metadataError('VALIDATION', `timeoutMs must be a whole number of milliseconds from 1, not ${String(timeoutMs)}`, { field: 'timeoutMs' });
  }
  if (!Array.isArray(types) || types.some((t) => typeof t !== 'string' || !isIdentity(t, 'x'))) {
    throw metadataError('VALIDATION', 'types must be an array of metadata type names (lower snake case)', { field: 'types' });
  }
  if (!Array.isArray(nodePaths) || nodePaths.some((p) => typeof p !== 'string' || p.length === 0)) {
    throw metadataError('VALIDATION', 'nodePaths must be an array of folder paths', { field: 'nodePaths' });
  }
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw metadataError('VALIDATION', 'onProgress must be a function', { field: 'onProgress' });
  }
  return { timeoutMs, types: new Set([...PROJECT_TYPES, ...types]), nodePaths: nodePaths.map((p) => resolve(p)), onProgress };
}

async function projectRoot(dir) {
  let root;
  try {
    root = await realpath(resolve(dir));
  } catch (error) {
    throw metadataError('NOT_FOUND', `cannot read the project folder ${dir}: ${error.message}`, { field: 'project' });
  }
  if (!(await stat(root)).isDirectory()) {
    throw metadataError('VALIDATION', `${dir} is not a folder`, { field: 'project' });
  }
  return root;
}

// One definition per (type, name): the same definition found twice (a file
// re-exporting another's) is kept once; two different ones are all refused,
// each naming the others.
function settleDuplicates(found, refusals, skipped) {
  const byKey = new Map();
  for (const d of found) {
    const key = `${d.type}/${d.name}`;
    if (!byKey.has(key)) byKey.set(key, []);
    byKey.get(key).push(d);
  }
  const where = (d) => (d.export === null ? d.file : `${d.file} (export ${d.export})`);
  const definitions = [];
  for (const [key, list] of byKey) {
    if (list.length === 1 || new Set(list.map((d) => checksum(d.data))).size === 1) {
      definitions.push(list[0]);
      for (const d of list.slice(1)) skipped.push({ file: d.file, export: d.export, reason: `the same definition as ${where(list[0])}` });
      continue;
    }
    for (const d of list) {
      refusals.push(refusal(d.file, {
        export: d.export,
        type: d.type,
        name: d.name,
        path: '$.name',
        code: 'DUPLICATE',
        message: `${key} is also defined, differently, by ${list.filter((o) => o !== d).map(where).join(', ')}`,
      }));
    }
  }
  return definitions.sort((a, b) => (a.type === b.type ? (a.name < b.name ? -1 : 1) : a.type < b.type ? -1 : 1));
}

/**
 * Loads every metadata definition of a project folder. Never throws for
 * what the files hold: problems come back in `refusals` (see `refusalError`).
 * Throws a MetadataError for bad arguments (`VALIDATION`), a missing folder
 * (`NOT_FOUND`) or a missing esbuild when modules need it (`UNSUPPORTED`).
 */
export async function loadProject(dir, options = {}) {
  const { timeoutMs, types, nodePaths, onProgress } = checkOptions(dir, options);
  const root = await projectRoot(dir);
  const { scanned, work, ignored } = await discover(root, types);
  const sink = { found: [], refusals: [], skipped: [] };
  const files = [];

  const modules = work.filter((item) => item.kind === 'module');
  const esbuild = modules.length > 0 ? await loadEsbuild() : null;
  // Every bundle starts now: esbuild works in parallel while modules run.
  const bundles = new Map(modules.map((item) => [item.file, bundle(esbuild, root, item.file, nodePaths)]));
  let running = null;
  const runner = new ModuleRunner(timeoutMs, (message) => {
    sink.refusals.push(refusal(running, {
      code: 'LOAD_FAILED',
      message: `an error was thrown outside the module's evaluation (by a timer or promise of this or an earlier file): ${message}`,
    }));
  });
  try {
    for (const [i, item] of work.entries()) {
      const before = sink.refusals.length;
      running = item.kind === 'module' ? item.file : running;
      const definitions = item.kind === 'data'
        ? await readDataFile(root, item, sink)
        : await readModuleFile(item, sink, bundles.get(item.file), runner);
      if (definitions === null) {
        ignored.push({ file: item.file, reason: 'names no metadata type and is not in the `export default { <JSON> };` form' });
        continue;
      }
      const entry = { file: item.file, type: item.type, definitions, refused: sink.refusals.length - before };
      files.push(entry);
      onProgress?.({ index: i + 1, total: work.length, ...entry });
    }
  } finally {
    await runner.close();
  }
  const definitions = settleDuplicates(sink.found, sink.refusals, sink.skipped);
  return { root, scanned, files, definitions, refusals: sink.refusals, skipped: sink.skipped, ignored };
}

/**
 * The definitions of a loaded project as the `files` option of
 * `MetadataService.create` takes them: path -> JSON text.
 */
export function projectFiles(result) {
  const files = {};
  for (const d of result.definitions) files[`${d.type}/${d.name}.${d.type}.json`] = d.text;
  return files;
}

/**
 * Loads a project for the file layer (`files: { project, ... }`): rejects
 * with `refusalError` unless `skipInvalid` is set.
 */
export async function loadProjectFiles(spec) {
  const { project, skipInvalid = false, ...options } = spec;
  if (typeof skipInvalid !== 'boolean') {
    throw metadataError('VALIDATION', 'files.skipInvalid must be a boolean', { field: 'skipInvalid' });
  }
  const result = await loadProject(project, options);
  if (result.refusals.length > 0 && !skipInvalid) throw refusalError(result);
  return projectFiles(result);
}
