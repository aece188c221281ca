// The tarball `npm pack` makes (what `npm publish` uploads): every file an
// entry point reaches is in it, and nothing else is.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { ok, workDir } from './lib.mjs';

const unpacked = join(workDir, 'unpacked');
const packed = JSON.parse(readFileSync(join(workDir, 'pack.json'), 'utf8'));
let files; // paths inside the package, '/'-separated

before(async () => {
  mkdirSync(unpacked);
  await ok('tar', ['-xzf', join(workDir, 'package.tgz'), '-C', unpacked]);
  files = new Set(packed.files.map((f) => f.path));
});

const at = (path) => join(unpacked, 'package', path);

/** Every string target of package.json's exports, types, main and bin. */
function entryPoints(manifest) {
  const out = [];
  const walk = (v) => {
    if (typeof v === 'string') out.push(v);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk([manifest.exports, manifest.types, manifest.main, manifest.bin]);
  return [...new Set(out.map((p) => posix.normalize(p)))];
}

// What a file refers to, relative to itself: static and dynamic imports,
// re-exports, assets taken with new URL(..., import.meta.url), the
// declaration file a module names for itself, and triple-slash references.
const REFERENCES = [
  /\b(?:import|export)\s[^'";]*?\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]/g,
  /\bimport\s*['"](\.{1,2}\/[^'"]+)['"]/g,
  /\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g,
  /\bnew URL\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url\s*\)/g,
  /@ts-self-types="([^"]+)"/g,
  /\/\/\/\s*<reference\s+path="([^"]+)"/g,
];

function references(path) {
  const text = readFileSync(at(path), 'utf8');
  const out = [];
  for (const pattern of REFERENCES) {
    for (const m of text.matchAll(pattern)) {
      let target = posix.normalize(posix.join(posix.dirname(path), m[1]));
      // A declaration file's './x.js' is './x.d.ts'.
      if (path.endsWith('.d.ts') && target.endsWith('.js')) target = target.replace(/\.js$/, '.d.ts');
      out.push(target);
    }
  }
  return out;
}

/** Files reached from the entry points, and references to files that are not there. */
function reach() {
  const manifest = JSON.parse(readFileSync(at('package.json'), 'utf8'));
  const reached = new Set(['package.json']);
  const missing = [];
  const queue = entryPoints(manifest).map((p) => [p, 'package.json']);
  while (queue.length) {
    const [path, from] = queue.shift();
    if (reached.has(path)) continue;
    if (!existsSync(at(path))) {
      missing.push(`${path} (referenced by ${from})`);
      continue;
    }
    reached.add(path);
    if (/\.(m?js|cjs|d\.ts)$/.test(path)) for (const r of references(path)) queue.push([r, path]);
  }
  return { reached, missing };
}

test('the tarball holds every file the entry points reach', () => {
  const { reached, missing } = reach();
  assert.deepEqual(missing, []);
  for (const path of reached) assert.ok(files.has(path), `${path} is reached but not in the tarball`);
  // What the walk found is what the package promises: both builds, their
  // JS glue snippets, the types and the command-line tool.
  for (const needed of ['index.node.js', 'index.web.js', 'index.d.ts', 'sqlite.js', 'sqlite.d.ts', 'cli.js',
    'node/objectstack_metadata_bg.wasm', 'web/objectstack_metadata_bg.wasm', 'node/objectstack_metadata.d.ts']) {
    assert.ok(reached.has(needed), `${needed} is not reached from package.json`);
  }
  assert.ok([...reached].some((p) => /^web\/snippets\/.+\/glue\.js$/.test(p)), 'the web build\'s glue snippet');
  assert.ok([...reached].some((p) => /^node\/snippets\/.+\/glue\.js$/.test(p)), 'the Node build\'s glue snippet');
});

test('the tarball holds nothing the entry points do not reach', () => {
  const { reached } = reach();
  const extra = [...files].filter((p) => !reached.has(p) && !/^(README|LICEN[CS]E)/i.test(p));
  assert.deepEqual(extra, []);
  assert.deepEqual([...files].filter((p) => /(^|\/)(tests?|bench(es)?)\/|\.test\.|\.map$/.test(p)), []);
});
