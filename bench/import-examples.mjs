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
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadProject } from '@objectstack/metadata-wasm/project';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'pkg', 'cli.js');
const modules = join(root, 'node_modules');
const examples = process.env.OBJECTSTACK_EXAMPLES;
const ROUNDS = 5;

if (!examples) {
  console.log('skipped: set OBJECTSTACK_EXAMPLES to the examples folder of a local copy of upstream ObjectStack');
  process.exit(0);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function timeCli(args) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, NODE_PATH: modules } });
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

const scratch = mkdtempSync(join(tmpdir(), 'osm-bench-import-'));
const rows = [];
try {
  const baseline = await measure(() => timeCli(['--help']));
  for (const app of ['app-crm', 'app-showcase', 'app-todo']) {
    const dir = join(examples, app);
    if (!existsSync(dir)) continue;
    let n = 0;
    const args = ['--skip-invalid', '--quiet', '--json'];
    const fresh = await measure(() => timeCli(['import', dir, '--db', join(scratch, `${app}-${n++}.db`), ...args]));
    const db = join(scratch, `${app}-0.db`);
    const again = await measure(() => timeCli(['import', dir, '--db', db, ...args]));
    const dry = await measure(() => timeCli(['import', dir, '--db', db, ...args, '--dry-run']));
    const loader = await measure(async () => {
      const t0 = performance.now();
      await loadProject(dir, { nodePaths: [modules] });
      return { ms: performance.now() - t0 };
    });
    const report = fresh.last.report;
    rows.push({
      app, files: report.metadataFiles, records: report.records, refused: report.refused.length,
      fresh, again, dry, loader, unchanged: again.last.report.unchanged,
    });
  }
  console.log(`node ${process.version}; CLI start-up alone (--help): ${baseline.ms.toFixed(0)} ms\n`);
  console.log('| app | metadata files | records | refused | import, fresh db | re-import (unchanged) | dry run | loader alone |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const f = (m) => `${m.ms.toFixed(0)} ms (${m.min.toFixed(0)}-${m.max.toFixed(0)})`;
    console.log(`| ${r.app} | ${r.files} | ${r.records} | ${r.refused} | ${f(r.fresh)} | ${f(r.again)}, ${r.unchanged} unchanged | ${f(r.dry)} | ${f(r.loader)} |`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
