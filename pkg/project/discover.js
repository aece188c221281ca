// Which files of a project folder hold metadata, and how each is read.

import { readFile, readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { parseMetadataFile, renderMetadataFile } from '../node/objectstack_metadata.js';

/**
 * The metadata types ObjectStack finds by file suffix (`<file>.<suffix>.ts`):
 * the `filePatterns` of `DEFAULT_METADATA_TYPE_REGISTRY` in
 * `@objectstack/spec` 17.4. Kebab-case suffixes (`email-template`) name the
 * snake_case type (`email_template`).
 */
export const PROJECT_TYPES = Object.freeze([
  'object', 'field', 'hook', 'seed', 'mapping', 'view', 'page', 'dashboard', 'app',
  'action', 'report', 'dataset', 'flow', 'job', 'datasource', 'external_catalog', 'api',
  'translation', 'email_template', 'book', 'permission', 'position', 'capability',
  'agent', 'tool', 'skill',
]);

const MODULE_EXTENSIONS = new Set(['ts', 'mts', 'cts', 'js', 'mjs', 'cjs']);
const DATA_EXTENSIONS = new Set(['json', 'yaml', 'yml']);
// Dependencies, build output and tests; hidden folders and files too.
const SKIPPED_FOLDERS = new Set(['node_modules', 'dist', 'build', 'out', 'coverage', 'test', 'tests', '__tests__', 'e2e']);
const TEST_FILE = /\.(?:test|spec)\.[^.]+$/;
const DECLARATION_FILE = /\.d\.[cm]?ts$/;

/** True when (type, name) is an identity, by the core's own rules. */
export function isIdentity(type, name) {
  if (/[/\\]/.test(name) || /[/\\]/.test(type)) return false;
  const parsed = parseMetadataFile(`${type}/${name}.${type}.json`, '{}');
  return parsed !== null && parsed.type === type && parsed.name === name;
}

// True when the core reads `file` as `<name>.<type>.<ext>` (on the path alone).
function isIdentityPath(file) {
  return parseMetadataFile(file.replace(/\.[^./]+$/, '.json'), '{}') !== null;
}

const folders = new Map();
// True when `file` lies in the folder this package exports `type` to
// (`widgets/` for `widget`).
function inTypeFolder(file, type) {
  if (!folders.has(type)) {
    let folder = null;
    try {
      folder = renderMetadataFile(type, 'x', {}, 'json').path.split('/')[0];
    } catch {
      // Not a type name at all.
    }
    folders.set(type, folder);
  }
  const parts = file.split('/');
  return parts.length > 1 && parts[parts.length - 2] === folders.get(type);
}

async function isExportedForm(root, file, type) {
  try {
    const parsed = parseMetadataFile(file, await readFile(join(root, file), 'utf8'));
    return parsed !== null && parsed.type === type;
  } catch {
    return false;
  }
}

async function isFile(path) {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

// Every file under root (relative, with '/'), sorted, without dependencies,
// build output, tests and hidden entries. Symbolic links are not followed:
// nothing outside the folder is read.
async function listFiles(root) {
  const files = [];
  async function walk(dir) {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      if (entry.isDirectory()) {
        if (!SKIPPED_FOLDERS.has(entry.name)) await walk(join(dir, entry.name));
      } else if (entry.isFile() && !TEST_FILE.test(entry.name) && !DECLARATION_FILE.test(entry.name)) {
        files.push(relative(root, join(dir, entry.name)).split(sep).join('/'));
      }
    }
  }
  await walk(root);
  return files;
}

// `<stem>.<suffix>.<ext>` -> { ext, suffix, type (null when the suffix names
// no known type) }, or null for any other file name.
function suffixOf(file, types) {
  const parts = file.slice(file.lastIndexOf('/') + 1).split('.');
  if (parts.length < 3) return null;
  const ext = parts[parts.length - 1];
  if (!MODULE_EXTENSIONS.has(ext) && !DATA_EXTENSIONS.has(ext)) return null;
  const suffix = parts[parts.length - 2];
  const type = suffix.replace(/-/g, '_');
  return { ext, suffix, type: types.has(type) ? type : null };
}

/**
 * The metadata files of `root`, in path order, each as
 * `{ file, type, kind: 'module' | 'data', lenient }` (`data`: read by the
 * core without running anything), and the files shaped
 * like metadata files that are not read (`ignored`).
 *
 * Files with a known type suffix are metadata everywhere. In a project (a
 * folder with a package.json), other types are metadata only as data files
 * in their type's folder, as this package exports them
 * (`widgets/home.widget.json`); in a plain folder every
 * `<name>.<type>.<json|yaml|yml|ts>` file is, as the core reads files.
 */
export async function discover(root, types) {
  const files = await listFiles(root);
  const isProject = await isFile(join(root, 'package.json'));
  const work = [];
  const ignored = [];
  for (const file of files) {
    const shape = suffixOf(file, types);
    if (shape === null) continue;
    const isData = DATA_EXTENSIONS.has(shape.ext);
    if (shape.type !== null) {
      // A .ts file in the `export default { <JSON> };` form this package
      // exports is data: read by the core, never run (and esbuild is not needed).
      const kind = isData || (shape.ext === 'ts' && (await isExportedForm(root, file, shape.type))) ? 'data' : 'module';
      work.push({ file, type: shape.type, kind, lenient: false });
    } else if ((isData || shape.ext === 'ts') && (!isProject || inTypeFolder(file, shape.suffix))) {
      // Named by its file name, as the core reads it; a file name that is no
      // identity makes no metadata file. In a project, a .ts file that turns
      // out not to be in the exported form is some other module
      // (`extensions/account.extension.ts`): left alone, not refused.
      if (isIdentityPath(file)) work.push({ file, type: null, kind: 'data', lenient: isProject && shape.ext === 'ts' });
    } else {
      ignored.push({ file, reason: `".${shape.suffix}" names no metadata type (PROJECT_TYPES, or the types option, list them)` });
    }
  }
  return { scanned: files.length, work, ignored };
}
