// HTTP benchmark, side by side in one run: this package's metadata server
// (SQLite store) against upstream ObjectStack 17.4's own server stack
// (runtime + rest + metadata-protocol + objectql + driver-sqlite-wasm +
// plugin-hono-server, identity stubbed), on the same workload:
//
//   PUT /api/v1/meta/object/<name>   a real definition from the platform-objects
//                                    corpus (5 KB on average), its label changed
//                                    on every request so every save writes
//   GET /api/v1/meta/object/<name>
//
// at 1, 8 and 64 concurrent keep-alive clients on 127.0.0.1. Each server runs
// in its own child process (bench/http/*-server.mjs) on a fresh database in a
// temporary folder; the load runs here. Each cell is bounded by a request
// count AND a time, after a warm-up at the same concurrency. Every answer is
// checked (200, a `sha256:` version for a save; for reads, every 8th body is
// compared with the last save of that name); a cell with any error is
// reported with its error rate instead of figures.
//
//   node bench/http-bench.mjs [--runs 3] [--seconds 3] [--max 4000]
//                             [--warmup-ms 500] [--clients 1,8,64]
//                             [--servers ours,upstream] [--keep]
//
// --keep leaves the temporary folder (databases, each server's log) in place.

import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const corpusFile = join(root, 'tests', 'data', 'platform-objects.json');

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '3' },
    max: { type: 'string', default: '4000' },
    'warmup-ms': { type: 'string', default: '500' },
    clients: { type: 'string', default: '1,8,64' },
    servers: { type: 'string', default: 'ours,upstream' },
    keep: { type: 'boolean', default: false },
  },
});
const RUNS = Number(opts.runs);
const CELL_MS = Number(opts.seconds) * 1000;
const CELL_MAX = Number(opts.max);
const WARMUP_MS = Number(opts['warmup-ms']);
const CLIENTS = opts.clients.split(',').map(Number);
const SERVERS = opts.servers.split(',');
const REQUEST_TIMEOUT_MS = 30_000;
const CHECK_EVERY = 8;

// --- the workload ------------------------------------------------------------
// The corpus holds upstream's own platform objects (sys_user, ...); the
// benchmark saves copies under its own names so that it never overwrites an
// object either server's stack uses itself.
const corpus = JSON.parse(readFileSync(corpusFile, 'utf8')).filter((o) => o.type === 'object');
const docs = corpus.map((o) => {
  const name = `bench_${o.name.replace(/^sys_/, '')}`;
  return { name, data: { ...o.data, name } };
});
const N = docs.length;
const bodyOf = (i, label) => JSON.stringify({ ...docs[i].data, label });
const TOKEN = randomBytes(24).toString('hex');

const SERVER_SCRIPTS = {
  ours: (dir) => [join(here, 'http', 'ours-server.mjs'), [join(dir, 'ours.db'), TOKEN]],
  upstream: (dir) => [join(here, 'http', 'upstream-server.mjs'), [join(dir, 'upstream.db'), corpusFile]],
};

async function startServer(kind, dir) {
  const [script, args] = SERVER_SCRIPTS[kind](dir);
  const log = openSync(join(dir, `${kind}.log`), 'a');
  const t0 = performance.now();
  const child = fork(script, args, { cwd: dir, stdio: ['ignore', log, log, 'ipc'] });
  closeSync(log);
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} server did not start within 60 s (log: ${join(dir, `${kind}.log`)})`)), 60_000);
    child.once('message', (m) => { clearTimeout(timer); resolve(m.port); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${kind} server exited (${code}) before listening (log: ${join(dir, `${kind}.log`)})`)); });
  });
  return { kind, child, port, bootMs: performance.now() - t0 };
}

// The server's CPU time so far (user + system, ms), asked over IPC.
function serverCpu(server) {
  return new Promise((resolve) => {
    server.child.once('message', (m) => resolve((m.cpu.user + m.cpu.system) / 1000));
    server.child.send('cpu');
  });
}

async function stopServer(server) {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

// --- one request ----------------------------------------------------------------
function send(agent, port, method, path, body) {
  return new Promise((resolve) => {
    const headers = { authorization: `Bearer ${TOKEN}`, accept: 'application/json' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    const t0 = performance.now();
    const req = httpRequest({ agent, host: '127.0.0.1', port, method, path, headers, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, chunks, ms: performance.now() - t0 }));
      res.on('error', (e) => resolve({ status: 0, error: e.message, ms: performance.now() - t0 }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, error: e.message, ms: performance.now() - t0 }));
    req.end(body);
  });
}

const text = (r) => (r.chunks ? Buffer.concat(r.chunks).toString('utf8') : '');
const path = (i) => `/api/v1/meta/object/${docs[i].name}`;

// What a save answers on both servers: { success: true, version: "sha256:…" }.
function checkSave(r) {
  if (r.status !== 200) return `status ${r.status}${r.error ? ` (${r.error})` : ''}`;
  const body = JSON.parse(text(r));
  if (body.success !== true || !/^sha256:[0-9a-f]{64}$/.test(body.version ?? '')) return 'save answer without success and a sha256 version';
  return null;
}

// A read answers { type, name, item }: the item must be the last save of that
// name (upstream adds its system fields to `fields`, so those are a superset).
function checkRead(r, i, label, full) {
  if (r.status !== 200) return `status ${r.status}${r.error ? ` (${r.error})` : ''}`;
  if (!full) return null;
  const body = JSON.parse(text(r));
  const item = body.item;
  if (body.name !== docs[i].name || item?.name !== docs[i].name) return 'read answered another name';
  if (item.label !== label) return 'read did not answer the last save';
  for (const field of Object.keys(docs[i].data.fields)) {
    if (!item.fields || !(field in item.fields)) return `read lost field ${field}`;
  }
  return null;
}

// --- one cell: an operation at a concurrency --------------------------------
// Workers share one counter; request k goes to document k mod N. The cell
// warms up for WARMUP_MS, then records requests started in the next CELL_MS,
// at most CELL_MAX of them; requests still in flight then are awaited.
async function cell(server, op, clients, state) {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  let k = 0;
  let recorded = 0;
  let warmups = 0;
  let compared = 0;
  const latencies = [];
  const errors = new Map();
  let tStart = Infinity;
  let tEnd = 0;
  const warmUntil = performance.now() + WARMUP_MS;
  let stopAt = Infinity;
  let cpuAtStart = null;
  async function worker() {
    for (;;) {
      const now = performance.now();
      const measuring = now >= warmUntil;
      if (measuring) {
        if (stopAt === Infinity) { stopAt = now + CELL_MS; tStart = now; cpuAtStart = Promise.all([serverCpu(server), process.cpuUsage()]); }
        if (now >= stopAt || recorded >= CELL_MAX) return;
        recorded++;
      }
      const n = k++;
      const i = n % N;
      let r;
      let problem;
      if (op === 'PUT') {
        const label = `${docs[i].data.label} #${state.seq++}`;
        r = await send(agent, server.port, 'PUT', path(i), bodyOf(i, label));
        try { problem = checkSave(r); } catch (e) { problem = `unparsable answer (${e.message})`; }
      } else {
        r = await send(agent, server.port, 'GET', path(i));
        if (n % CHECK_EVERY === 0) compared++;
        try { problem = checkRead(r, i, state.labels[i], n % CHECK_EVERY === 0); } catch (e) { problem = `unparsable answer (${e.message})`; }
      }
      if (measuring) {
        latencies.push(r.ms);
        tEnd = Math.max(tEnd, performance.now());
        if (problem) errors.set(problem, (errors.get(problem) ?? 0) + 1);
      } else {
        warmups++;
        if (problem) errors.set(`warm-up: ${problem}`, (errors.get(`warm-up: ${problem}`) ?? 0) + 1);
      }
    }
  }
  await Promise.all(Array.from({ length: clients }, worker));
  const [serverCpuStart, loadCpuStart] = await cpuAtStart;
  const serverCpuMs = (await serverCpu(server)) - serverCpuStart;
  const loadCpu = process.cpuUsage(loadCpuStart);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
  return {
    count: latencies.length,
    warmups,
    compared,
    rps: latencies.length / ((tEnd - tStart) / 1000),
    p50: q(0.5),
    p99: q(0.99),
    // CPU per request (ms): the server's, and this load generator's.
    serverCpu: serverCpuMs / latencies.length,
    loadCpu: (loadCpu.user + loadCpu.system) / 1000 / latencies.length,
    errors: errorCount,
    errorKinds: [...errors.entries()].map(([what, n]) => `${what} ×${n}`),
  };
}

// Saves every document once, one at a time, with a known label; the reads
// that follow check against these.
async function settle(server, state, label) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < N; i++) {
    state.labels[i] = `${docs[i].data.label} (${label})`;
    const r = await send(agent, server.port, 'PUT', path(i), bodyOf(i, state.labels[i]));
    const problem = checkSave(r);
    if (problem) throw new Error(`${server.kind}: saving ${docs[i].name} (${label}): ${problem}: ${text(r).slice(0, 500)}`);
  }
  agent.destroy();
}

async function runServer(kind, dir) {
  const server = await startServer(kind, dir);
  const results = {};
  try {
    const state = { seq: 0, labels: [] };
    const t0 = performance.now();
    await settle(server, state, 'created');
    const createMs = (performance.now() - t0) / N;
    for (const c of CLIENTS) results[`PUT ${c}`] = await cell(server, 'PUT', c, state);
    await settle(server, state, 'settled');
    for (const c of CLIENTS) results[`GET ${c}`] = await cell(server, 'GET', c, state);
    return { results, bootMs: server.bootMs, createMs };
  } finally {
    await stopServer(server);
  }
}

// --- report ----------------------------------------------------------------------
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
const fmtRate = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const fmtMs = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

// One server's figures for a cell over all runs: medians, with the range of
// the throughput when there are several runs; or its error rate.
function figures(cells) {
  const failed = cells.filter((c) => c.errors > 0);
  if (failed.length > 0) {
    const rate = failed.reduce((a, c) => a + c.errors, 0) / cells.reduce((a, c) => a + c.count + c.warmups, 0);
    const kinds = [...new Set(failed.flatMap((c) => c.errorKinds))].slice(0, 3).join('; ');
    return { valid: false, text: [`errors ${(rate * 100).toFixed(2)}% (${kinds})`, '', ''] };
  }
  const rates = cells.map((c) => c.rps);
  const range = cells.length > 1 ? ` (${fmtRate(Math.min(...rates))}-${fmtRate(Math.max(...rates))})` : '';
  return {
    valid: true,
    rps: median(rates),
    text: [`${fmtRate(median(rates))}${range}`, fmtMs(median(cells.map((c) => c.p50))), fmtMs(median(cells.map((c) => c.p99)))],
  };
}

function version(pkg) {
  try {
    return JSON.parse(readFileSync(join(root, 'node_modules', ...pkg.split('/'), 'package.json'), 'utf8')).version;
  } catch {
    return '?';
  }
}

const runs = [];
for (let run = 0; run < RUNS; run++) {
  // Alternate which server goes first, so drift on a busy machine is shared.
  const order = run % 2 === 0 ? SERVERS : [...SERVERS].reverse();
  const dir = mkdtempSync(join(tmpdir(), 'http-bench-'));
  const out = {};
  let failed = false;
  try {
    for (const kind of order) out[kind] = await runServer(kind, dir);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    if (failed || opts.keep) console.error(`(databases and server logs kept in ${dir})`);
    else rmSync(dir, { recursive: true, force: true });
  }
  runs.push(out);
  const line = (kind) => `${kind}: boot ${(out[kind].bootMs / 1000).toFixed(1)} s, first save ${out[kind].createMs.toFixed(1)} ms each; `
    + Object.entries(out[kind].results).map(([key, r]) => `${key} ${fmtRate(r.rps)}/s${r.errors ? ` (${r.errors} errors)` : ''}`).join(', ');
  console.error(`run ${run + 1}/${RUNS}: ${SERVERS.map(line).join(' | ')}`);
}

const cpu = cpus()[0]?.model?.trim() ?? 'unknown CPU';
console.log(`\nHTTP on 127.0.0.1: ${N} object definitions of the platform-objects corpus (${(docs.reduce((a, d) => a + JSON.stringify(d.data).length, 0) / N / 1024).toFixed(1)} KB on average), `
  + `keep-alive clients; per cell a ${WARMUP_MS} ms warm-up, then at most ${CELL_MAX} requests or ${CELL_MS / 1000} s; `
  + `${RUNS} run${RUNS > 1 ? 's (medians, req/s range in brackets)' : ''}. Node ${process.version}, ${cpus().length} × ${cpu}.`);
console.log(`ours: @objectstack/metadata-wasm ${version('@objectstack/metadata-wasm')} (SQLite store, better-sqlite3); `
  + `upstream: @objectstack/runtime ${version('@objectstack/runtime')}, rest ${version('@objectstack/rest')}, driver-sqlite-wasm ${version('@objectstack/driver-sqlite-wasm')}, plugin-hono-server ${version('@objectstack/plugin-hono-server')}.`);
const has = (kind) => SERVERS.includes(kind);
console.log('\n| operation | clients | ours req/s | ours p50 ms | ours p99 ms | upstream req/s | upstream p50 ms | upstream p99 ms | ours / upstream |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const op of ['PUT', 'GET']) {
  for (const c of CLIENTS) {
    const key = `${op} ${c}`;
    const ours = has('ours') ? figures(runs.map((r) => r.ours.results[key])) : { valid: false, text: ['-', '-', '-'] };
    const theirs = has('upstream') ? figures(runs.map((r) => r.upstream.results[key])) : { valid: false, text: ['-', '-', '-'] };
    const ratio = ours.valid && theirs.valid ? `${(ours.rps / theirs.rps).toFixed(1)}x` : '-';
    console.log(`| ${op} | ${c} | ${ours.text.join(' | ')} | ${theirs.text.join(' | ')} | ${ratio} |`);
  }
}
// Every answer was checked; say how many, and how many failed.
for (const kind of SERVERS) {
  const cells = runs.flatMap((r) => Object.values(r[kind].results));
  const total = cells.reduce((a, c) => a + c.count + c.warmups, 0);
  const bad = cells.reduce((a, c) => a + c.errors, 0);
  const compared = cells.reduce((a, c) => a + c.compared, 0);
  console.log(`${kind}: ${bad} errors in ${total} answers (warm-ups included; ${compared} read bodies compared with the last save)`);
}

// Where the time went: CPU per request of each server process, and of this
// load generator (the two share the machine's cores).
console.log('\n| operation | clients | ours server CPU ms/req | upstream server CPU ms/req | upstream / ours | load generator CPU ms/req (ours, upstream) |');
console.log('|---|---|---|---|---|---|');
for (const op of ['PUT', 'GET']) {
  for (const c of CLIENTS) {
    const key = `${op} ${c}`;
    const cpu = (kind, what) => (has(kind) ? median(runs.map((r) => r[kind].results[key][what])) : NaN);
    const [o, u] = [cpu('ours', 'serverCpu'), cpu('upstream', 'serverCpu')];
    const show = (x) => (Number.isNaN(x) ? '-' : fmtMs(x));
    console.log(`| ${op} | ${c} | ${show(o)} | ${show(u)} | ${Number.isNaN(o / u) ? '-' : `${(u / o).toFixed(1)}x`} | ${show(cpu('ours', 'loadCpu'))}, ${show(cpu('upstream', 'loadCpu'))} |`);
  }
}
const boot = (kind) => (has(kind) ? `${kind} ${(median(runs.map((r) => r[kind].bootMs)) / 1000).toFixed(1)} s to listen, first save of each document ${median(runs.map((r) => r[kind].createMs)).toFixed(1)} ms` : null);
console.log(`\n${['ours', 'upstream'].map(boot).filter(Boolean).join('; ')} (one at a time).`);
