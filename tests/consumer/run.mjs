#!/usr/bin/env node
// Consumer tests: the package as its users get it. Packs pkg/ with `npm pack`
// (exactly what `npm publish` would upload), installs the tarball into small
// projects in a temporary folder outside the repository (Node, TypeScript,
// Vite, webpack, esbuild), then runs tests/consumer/*.test.mjs against them.
// The folder is removed afterwards.
//
//   node tests/consumer/run.mjs                  # every project
//   node tests/consumer/run.mjs vite typescript  # some of them (the tarball is always checked)
//   node tests/consumer/run.mjs --keep           # keep the folder to look into a failure
//
// Needs a built package (./scripts/build-pkg). Installs go through the
// ordinary npm cache (--prefer-offline), so a second run downloads nothing.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const fixtures = join(here, 'fixtures');

const PROJECTS = ['node', 'typescript', 'vite', 'webpack', 'esbuild'];
// Files shared between fixtures: [from (repository-relative), to (project-relative)].
const SHARED = {
  typescript: [['tests/js/typed-usage.ts', 'usage.ts']],
  vite: [['tests/consumer/fixtures/web-app', '.']],
  webpack: [['tests/consumer/fixtures/web-app', '.']],
  esbuild: [['tests/consumer/fixtures/web-app', '.']],
};

const args = process.argv.slice(2);
const keep = args.includes('--keep');
const asked = args.filter((a) => !a.startsWith('--'));
const unknown = asked.filter((a) => !PROJECTS.includes(a));
if (unknown.length) {
  console.error(`unknown project(s): ${unknown.join(', ')}; choose from ${PROJECTS.join(', ')}`);
  process.exit(2);
}
const projects = asked.length ? PROJECTS.filter((p) => asked.includes(p)) : PROJECTS;

// Run from inside `npm run`, the environment carries the repository's
// package, lifecycle and prefix settings: the projects do without them, as a
// user's shell would. npm settings such as the cache or the registry stay.
const cleanEnv = Object.fromEntries(Object.entries(process.env)
  .filter(([k]) => !/^npm_(package_|lifecycle_|config_(local_)?prefix$)/i.test(k)));

function exec(cmd, argv, { cwd, env = cleanEnv, quiet = true } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd, env, stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    let out = '';
    child.stdout?.on('data', (d) => { out += d; });
    child.stderr?.on('data', (d) => { out += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(Object.assign(new Error(`${cmd} ${argv.join(' ')} (in ${cwd}) exited with ${code ?? signal}\n${out}`), { code }));
    });
  });
}

const seconds = (t0) => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;

const work = mkdtempSync(join(tmpdir(), 'osm-consumer-'));
let cleaned = false;
function cleanUp() {
  if (cleaned) return;
  cleaned = true;
  if (keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    cleanUp();
    process.exit(130);
  });
}

let status = 1;
try {
  const start = performance.now();
  let t0 = performance.now();
  const packed = JSON.parse(await exec('npm', ['pack', join(root, 'pkg'), '--pack-destination', work, '--json'], { cwd: work }))[0];
  // A fixed name, so fixtures can depend on "file:../package.tgz".
  cpSync(join(work, packed.filename), join(work, 'package.tgz'));
  rmSync(join(work, packed.filename));
  writeFileSync(join(work, 'pack.json'), JSON.stringify(packed, null, 2));
  console.log(`== npm pack: ${packed.id}, ${packed.entryCount} files, ${kb(packed.size)} packed, ${kb(packed.unpackedSize)} unpacked (${seconds(t0)})`);
  for (const f of packed.files) console.log(`   ${String(f.size).padStart(8)}  ${f.path}`);

  for (const name of projects) {
    t0 = performance.now();
    const dir = join(work, name);
    mkdirSync(dir);
    for (const [from, to] of SHARED[name] ?? []) cpSync(join(root, from), join(dir, to), { recursive: true });
    cpSync(join(fixtures, name), dir, { recursive: true }); // a fixture's own files win
    await exec('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd: dir });
    const installed = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')).packages;
    const versions = Object.keys(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).dependencies)
      .map((dep) => `${dep}@${installed[`node_modules/${dep}`]?.version}`);
    console.log(`== npm install (${name}): ${versions.join(', ')} (${seconds(t0)})`);
  }

  t0 = performance.now();
  const scratch = join(work, 'tmp'); // Chromium's profiles and temp files
  mkdirSync(scratch);
  const files = ['package', ...projects].map((p) => join(here, `${p}.test.mjs`));
  try {
    await exec(process.execPath, ['--test', '--test-reporter=spec', '--test-concurrency=1', ...files], {
      cwd: root,
      env: { ...cleanEnv, CONSUMER_DIR: work, TMPDIR: scratch },
      quiet: false,
    });
    status = 0;
  } catch (e) {
    console.error(`consumer tests failed: ${e.message.split('\n')[0]}`);
  }
  console.log(`== consumer tests: ${status ? 'FAILED' : 'passed'} (tests ${seconds(t0)}, all ${seconds(start)})`);
} catch (e) {
  console.error(e.message);
} finally {
  cleanUp();
}
process.exit(status);
