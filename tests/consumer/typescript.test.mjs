// TypeScript users: `tsc --noEmit` on a typed usage of the whole API
// (tests/js/typed-usage.ts), on wrong calls the types must refuse, and on a
// CommonJS file, under the configurations people have: nodenext and bundler
// resolution, with and without skipLibCheck, with TypeScript 7 (what
// `npm install typescript` gives) and 5.9; and with lib esnext plus
// @types/node, where `using` must work. The bundler configuration is the
// shape of Vite's template (lib es2022 + dom). Every configuration but the
// last sets `types: []`: @types/node, installed in the project for that one,
// would otherwise be included everywhere and declare Symbol.dispose itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { project, run } from './lib.mjs';

const dir = project('typescript');
const COMPILERS = ['typescript', 'typescript-5'];
const CONFIGS = ['nodenext', 'nodenext-skiplibcheck', 'bundler', 'bundler-skiplibcheck', 'esnext-node'];

for (const compiler of COMPILERS) {
  const tsc = join(dir, 'node_modules', compiler, 'bin', 'tsc');
  const { version } = JSON.parse(readFileSync(join(dir, 'node_modules', compiler, 'package.json'), 'utf8'));
  for (const config of CONFIGS) {
    test(`tsc ${version} --noEmit -p tsconfig.${config}.json`, async () => {
      const r = await run(process.execPath, [tsc, '--noEmit', '-p', `tsconfig.${config}.json`], { cwd: dir });
      assert.equal(r.code, 0, `tsc reported:\n${r.out}${r.err}`);
    });
  }
}
