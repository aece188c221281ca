// Import time for upstream ObjectStack's example apps, through the command
// line as a user runs it: `objectstack-metadata import <app>` into a fresh
// SQLite database, then the same again into the filled one (nothing to
// write), and a dry run; plus the project loader alone, in process.
//
//   OBJECTSTACK_EXAMPLES=<upstream checkout>/examples node bench/import-examples.mjs
//
// The apps import @objectstack/spec; it is resolved from the apps' own
// node_modules, then from this workspace's (NODE_PATH), where 17.4 is a dev
// dependency. Medians of five runs after a warm-up run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadProject } from '@objectstack/metadata-wasm/project';
import { bundle, loadEsbuild } from '../pkg/project/bundle.js';
import { PROJECT_TYPES, discover } from '../pkg/project/discover.js';
import { ModuleRunner } from '../pkg/project/runner.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'pkg', 'cli.js');
const nodeModules = join(root, 'node_modules');
const examples = process.env.OBJECTSTACK_EXAMPLES;
const ROUNDS = 5;

if (!examples) {
  console.log('skipped: set OBJECTSTACK_EXAMPLES to the examples folder of a local copy of upstream ObjectStack');
  process.exit(0);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function timeCli(args) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, NODE_PATH: nodeModules } });
  const ms = performance.now() - t0;
  if (r.status !== 0 && r.status !== 1) throw new Error(`${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return { ms, report: args.includes('--json') ? JSON.parse(r.stdout) : null };
}

async function measure(run) {
  await run(); // warm-up: file cache, esbuild's binary
  const times = [];
  let last;
  for (let i = 0; i < ROUNDS; i++) {
    last = await run();
    times.push(last.ms);
  }
  return { ms: median(times), min: Math.min(...times), max: Math.max(...times), last };
}

// Where the loader's time goes, one cold run: finding the files, bundling
// every module (esbuild, in parallel), the worker's start, the first module
// (it imports @objectstack/spec), the other modules.
async function breakdown(dir) {
  const esbuild = await loadEsbuild();
  let t0 = performance.now();
  const { work } = await discover(dir, new Set(PROJECT_TYPES));
  const discoverMs = performance.now() - t0;
  const modules = work.filter((w) => w.kind === 'module');
  t0 = performance.now();
  const built = await Promise.all(modules.map((m) => bundle(esbuild, dir, m.file, [nodeModules])));
  const bundleMs = performance.now() - t0;
  const runner = new ModuleRunner(10_000, () => {});
  try {
    t0 = performance.now();
    await runner.run('object', 'export {};');
    const startMs = performance.now() - t0;
    const ok = modules.map((m, i) => [m, built[i]]).filter(([, b]) => b.code !== undefined);
    t0 = performance.now();
    await runner.run(ok[0][0].type, ok[0][1].code);
    const firstMs = performance.now() - t0;
    t0 = performance.now();
    for (const [m, b] of ok.slice(1)) await runner.run(m.type, b.code);
    const restMs = performance.now() - t0;
    return { modules: modules.length, discoverMs, bundleMs, startMs, firstMs, restMs };
  } finally {
    await runner.close();
  }
}

const scratch = mkdtempSync(join(tmpdir(), 'osm-bench-import-'));
const rows = [];
try {
  const baseline = await measure(() => timeCli(['--help']));
  for (const app of ['app-crm', 'app-showcase', 'app-todo']) {
    if (!existsSync(join(examples, app))) continue;
    const dir = realpathSync(join(examples, app));
    let n = 0;
    const args = ['--skip-invalid', '--quiet', '--json'];
    const fresh = await measure(() => timeCli(['import', dir, '--db', join(scratch, `${app}-${n++}.db`), ...args]));
    const db = join(scratch, `${app}-0.db`);
    const again = await measure(() => timeCli(['import', dir, '--db', db, ...args]));
    const dry = await measure(() => timeCli(['import', dir, '--db', db, ...args, '--dry-run']));
    const loader = await measure(async () => {
      const t0 = performance.now();
      await loadProject(dir, { nodePaths: [nodeModules] });
      return { ms: performance.now() - t0 };
    });
    const report = fresh.last.report;
    rows.push({
      app, files: report.metadataFiles, records: report.records, refused: report.refused.length,
      fresh, again, dry, loader, unchanged: again.last.report.unchanged, parts: await breakdown(dir),
    });
  }
  console.log(`node ${process.version}; CLI start-up alone (--help): ${baseline.ms.toFixed(0)} ms\n`);
  console.log('| app | metadata files | records | refused | import, fresh db | re-import (unchanged) | dry run | loader alone |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const f = (m) => `${m.ms.toFixed(0)} ms (${m.min.toFixed(0)}-${m.max.toFixed(0)})`;
    console.log(`| ${r.app} | ${r.files} | ${r.records} | ${r.refused} | ${f(r.fresh)} | ${f(r.again)}, ${r.unchanged} unchanged | ${f(r.dry)} | ${f(r.loader)} |`);
  }
  console.log('\n| app | modules | find files | bundle all (esbuild) | worker start | first module (imports the spec) | other modules |');
  console.log('|---|---|---|---|---|---|---|');
  for (const { app, parts: p } of rows) {
    const f = (ms) => `${ms.toFixed(0)} ms`;
    console.log(`| ${app} | ${p.modules} | ${f(p.discoverMs)} | ${f(p.bundleMs)} | ${f(p.startMs)} | ${f(p.firstMs)} | ${f(p.restMs)} |`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
