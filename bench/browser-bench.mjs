// Runs bench/browser/bench.js in headless Chromium and prints the table.
// `node bench/browser-bench.mjs` (after scripts/build-pkg).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../scripts/serve.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const { server, url } = await startServer(0, [
  ['/bench/', join(root, 'bench', 'browser')],
  ['/data/', join(root, 'tests', 'data')],
  ['/vendor/dexie/', join(root, 'node_modules', 'dexie', 'dist')],
  ['/vendor/idb-keyval/', join(root, 'node_modules', 'idb-keyval', 'dist')],
], { csp: false }); // the bench page runs an inline module script
const profile = mkdtempSync(join(tmpdir(), 'osm-bench-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
});
try {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  page.on('crash', () => console.error('page crashed'));
  page.on("console", (m) => console.error("page:", m.text()));
  await page.goto(`${url}bench/index.html${process.env.BENCH_QUERY ?? ""}`);
  await page.waitForSelector('body[data-ready="true"]');
  const r = await page.evaluate((n) => window.runBench(n), Number(process.env.BENCH_ROUNDS ?? 3));
  const s = r.summary;
  const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(1) : ms.toFixed(3));
  console.log(`\n${r.userAgent}\n${r.records} records, hydrate ${r.hydrated}, ${r.rounds} rounds, the order turned each round (ms: medians; ratio = peer / ours in each round, its median and range; above 1: we are faster)\n`);
  console.log('| operation | ours | Dexie | idb-keyval | Dexie / ours | idb-keyval / ours |');
  console.log('|---|---|---|---|---|---|');
  const ratio = (q) => `${q.median.toFixed(2)}x (${q.lo.toFixed(2)}-${q.hi.toFixed(2)})`;
  const row = (what, key, unit = 'ms') =>
    console.log(`| ${what} | ${fmt(s.ours[key])} ${unit} | ${fmt(s.dexie[key])} ${unit} | ${fmt(s.idbKeyval[key])} ${unit} | ${ratio(s.ratios.dexie[key])} | ${ratio(s.ratios.idbKeyval[key])} |`);
  row(`bulk save of ${r.records} (saveMany / bulkPut / setMany)`, 'save');
  row(`cold hydrate of ${r.hydrated}, median of ${r.hydrates} a round (loadMany / where().toArray / getMany)`, 'hydrate');
  row('single load (ours: cached; peers: a read)', 'load');
  console.log(`\nIndexedDB alone on our layout (the ${r.records} rows our save wrote, put by plain JS into the same schema, one transaction): ${fmt(s.floor)} ms`);
  console.log(`ours, the same saveMany into the memory store (validation, checksums, rows; no IndexedDB): ${fmt(r.memory)} ms`);
  const c = await page.evaluate((n) => window.runCorpusBench(n), Number(process.env.BENCH_ROUNDS ?? 3));
  const cs = c.summary;
  console.log(`\nReal metadata: ${c.records} definitions of tests/data/platform-objects.json (cycled, ${(c.bytes / 1e6).toFixed(1)} MB of JSON), ${c.rounds} rounds, a pause before each save\n`);
  console.log('| operation | ours | Dexie | Dexie / ours |');
  console.log('|---|---|---|---|');
  const corpusRow = (what, key) =>
    console.log(`| ${what} | ${fmt(cs.ours[key])} ms | ${fmt(cs.dexie[key])} ms | ${ratio(cs.ratios[key])} |`);
  corpusRow(`bulk save of ${c.records} (saveMany / bulkPut)`, 'save');
  corpusRow(`cold hydrate of ${c.records}, median of 5 a round (loadMany / where().toArray)`, 'hydrate');
} finally {
  await context.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
