// Node benchmark on the platform-objects corpus, in one run: this package's
// save / load / loadMany / checksum against upstream ObjectStack's
// InMemoryRepository put / get / list and hashSpec, plus the boundary
// probes (JSON text vs serde-wasm-bindgen, cached text). `scripts/bench`
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { MetadataService, checksum, contentHash, canonicalize } from '@objectstack/metadata-wasm';
import { InMemoryRepository, hashSpec } from '@objectstack/metadata-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const corpus = JSON.parse(readFileSync(join(root, 'tests', 'data', 'platform-objects.json'), 'utf8'));
const docs = corpus.map((o) => o.data);
const N = docs.length;
const variant = docs.map((d) => ({ ...d, bench_revision: 1 }));

// Runs `pass` (which handles all N documents) for at least `ms`; returns
// documents per second.
async function rate(pass, setup, ms = 250) {
  let docsDone = 0;
  let elapsed = 0;
  while (elapsed < ms) {
    const state = setup ? await setup() : undefined;
    const t0 = performance.now();
    await pass(state);
    elapsed += performance.now() - t0;
    docsDone += N;
  }
  return (docsDone / elapsed) * 1000;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ROUNDS = 7;

// Ours and theirs in alternating rounds (the first warms both up and is not
// counted), so both see the same machine: the ratio is the median of the
// per-round ratios, with their spread.
async function compare(ours, theirs, { oursSetup, theirsSetup } = {}) {
  const o = [];
  const t = [];
  for (let round = 0; round <= ROUNDS; round++) {
    let a;
    let b;
    if (round % 2) {
      b = await rate(theirs, theirsSetup);
      a = await rate(ours, oursSetup);
    } else {
      a = await rate(ours, oursSetup);
      b = await rate(theirs, theirsSetup);
    }
    if (round > 0) {
      o.push(a);
      t.push(b);
    }
  }
  const ratios = o.map((x, i) => x / t[i]);
  return { ours: median(o), theirs: median(t), ratio: median(ratios), lo: Math.min(...ratios), hi: Math.max(...ratios) };
}

// Rates of one pass alone (the boundary probes), median of the rounds.
async function measure(pass) {
  const rounds = [];
  for (let round = 0; round <= ROUNDS; round++) {
    const r = await rate(pass);
    if (round > 0) rounds.push(r);
  }
  return median(rounds);
}

const rows = [];
function row(what, result, note = '') {
  rows.push({ what, ...result, note });
}

const refOf = (i) => ({ type: 'object', name: corpus[i].name });
let previous = null;
async function freshService() {
  previous?.free();
  previous = await MetadataService.create();
  return previous;
}

// --- checksums -------------------------------------------------------------
row('checksum (MD5) vs hashSpec (SHA-256)', await compare(
  () => { for (const d of docs) checksum(d); },
  () => { for (const d of docs) hashSpec(d); }));
row('contentHash (SHA-256) vs hashSpec', await compare(
  () => { for (const d of docs) contentHash(d); },
  () => { for (const d of docs) hashSpec(d); }));

// --- save: create ------------------------------------------------------------
// Services hold wasm memory, which JS garbage collection does not see
// promptly: each pass frees the previous one (outside the timing).
row('save (create) vs put (new)', await compare(
  async (svc) => { for (let i = 0; i < N; i++) await svc.save('object', corpus[i].name, docs[i]); },
  async (repo) => { for (let i = 0; i < N; i++) await repo.put(refOf(i), docs[i], { parentVersion: null }); },
  { oursSetup: freshService, theirsSetup: () => new InMemoryRepository() }));

// --- save from JSON text (a request body: the server's path) ---------------
const texts = docs.map((d) => JSON.stringify(d));
row('save from JSON text (saveJson) vs JSON.parse + put (new)', await compare(
  async (svc) => { for (let i = 0; i < N; i++) await svc.saveJson('object', corpus[i].name, texts[i]); },
  async (repo) => { for (let i = 0; i < N; i++) await repo.put(refOf(i), JSON.parse(texts[i]), { parentVersion: null }); },
  { oursSetup: freshService, theirsSetup: () => new InMemoryRepository() }));

// --- save: update (every save a real change) --------------------------------
{
  const svc = await MetadataService.create();
  const repo = new InMemoryRepository();
  const versions = [];
  for (let i = 0; i < N; i++) {
    await svc.save('object', corpus[i].name, docs[i]);
    versions.push((await repo.put(refOf(i), docs[i], { parentVersion: null })).version);
  }
  let flipOurs = 0;
  let flipTheirs = 0;
  row('save (update) vs put (parentVersion)', await compare(
    async () => {
      flipOurs ^= 1;
      const set = flipOurs ? variant : docs;
      for (let i = 0; i < N; i++) await svc.save('object', corpus[i].name, set[i]);
    },
    async () => {
      flipTheirs ^= 1;
      const set = flipTheirs ? variant : docs;
      for (let i = 0; i < N; i++) versions[i] = (await repo.put(refOf(i), set[i], { parentVersion: versions[i] })).version;
    }),
    'history grows in both');
  row('save (no-op, same data) vs put (same body)', await compare(
    async () => { const set = flipOurs ? variant : docs; for (let i = 0; i < N; i++) await svc.save('object', corpus[i].name, set[i]); },
    async () => { const set = flipTheirs ? variant : docs; for (let i = 0; i < N; i++) versions[i] = (await repo.put(refOf(i), set[i], { parentVersion: versions[i] })).version; }),
    'nothing written in either');

  // --- load --------------------------------------------------------------------
  row('load (cached chain) vs get', await compare(
    async () => { for (let i = 0; i < N; i++) await svc.load('object', corpus[i].name); },
    async () => { for (let i = 0; i < N; i++) await repo.get(refOf(i)); }),
    'both return a fresh copy (upstream: JSON round trip)');
  const uncached = await MetadataService.create({ cache: false });
  for (let i = 0; i < N; i++) await uncached.save('object', corpus[i].name, docs[i]);
  row('load (no read cache) vs get', await compare(
    async () => { for (let i = 0; i < N; i++) await uncached.load('object', corpus[i].name); },
    async () => { for (let i = 0; i < N; i++) await repo.get(refOf(i)); }));

  // --- loadMany ------------------------------------------------------------------
  const listBodies = async () => {
    const out = [];
    for await (const header of repo.list({ type: 'object' })) out.push((await repo.get(header.ref)).body);
    return out;
  };
  const listHeaders = async () => { const out = []; for await (const h of repo.list({ type: 'object' })) out.push(h); return out; };
  if ((await listBodies()).length !== N || (await svc.loadMany('object')).length !== N) throw new Error('loadMany / list disagree on the count');
  const loadMany = async () => { await svc.loadMany('object'); };
  row('loadMany vs list + get (bodies)', await compare(loadMany, listBodies));
  row('loadMany vs list (headers only)', await compare(loadMany, listHeaders), 'upstream list returns no bodies');
}

// --- boundary probes -----------------------------------------------------------
let probe = null;
try {
  probe = await import(join(root, 'target', 'probe', 'objectstack_metadata.js'));
} catch {
  console.error('(boundary probe build not found: run scripts/bench)');
}
const probeRows = [];
if (probe) {
  const held = docs.map((d) => probe.probeHold(d));
  const p = async (what, pass) => probeRows.push({ what, rate: await measure(pass) });
  await p('JS -> wasm: JSON.stringify + serde_json Value', () => { for (const d of docs) probe.probeInJson(d); });
  await p('JS -> wasm: serde-wasm-bindgen walk', () => { for (const d of docs) probe.probeInSerde(d); });
  await p('wasm -> JS: serde_json text of a Value + JSON.parse', () => { for (const h of held) probe.probeOutJson(h); });
  await p('wasm -> JS: kept text + JSON.parse (package: definitions keep their text)', () => { for (const h of held) probe.probeOutCachedText(h); });
  await p('wasm -> JS: serde-wasm-bindgen (json_compatible)', () => { for (const h of held) probe.probeOutSerde(h); });
  await p('JS only: JSON.parse(JSON.stringify(doc))', () => { for (const d of docs) JSON.parse(JSON.stringify(d)); });
  await p('JS only: structuredClone(doc)', () => { for (const d of docs) structuredClone(d); });
}

// --- what a checksum of a JS value costs at least ------------------------------
// Its parts measured alone: the text JSON.stringify gives (where every
// checksum of a value starts), MD5 of text already canonical (native, the
// fastest MD5 here), and both together (no key put in order): against
// ours and hashSpec, in the same run.
const canonicalBytes = docs.map((d) => Buffer.from(canonicalize(d)));
const floorRows = [];
{
  const f = async (what, pass) => floorRows.push({ what, rate: await measure(pass) });
  await f('JSON.stringify(doc) alone', () => { for (const d of docs) JSON.stringify(d); });
  await f('MD5 of the canonical text alone (node:crypto, UTF-8 bytes)', () => { for (const b of canonicalBytes) createHash('md5').update(b).digest('hex'); });
  await f('JSON.stringify + node:crypto MD5 of that text (keys left unordered)', () => { for (const d of docs) createHash('md5').update(JSON.stringify(d)).digest('hex'); });
  await f('ours: checksum(doc)', () => { for (const d of docs) checksum(d); });
  await f('upstream: hashSpec(doc)', () => { for (const d of docs) hashSpec(d); });
}

const fmt = (n) => (n >= 1000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(0));
console.log(`\nplatform-objects corpus: ${N} object definitions, ${(JSON.stringify(docs).length / N / 1024).toFixed(1)} KB on average; Node ${process.version}`);
console.log(`${ROUNDS} alternating rounds of at least 250 ms each; medians, and the spread of the per-round ratios`);
console.log('\n| operation (ours vs upstream) | ours docs/s | upstream docs/s | ours / upstream | spread | note |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.what} | ${fmt(r.ours)} | ${fmt(r.theirs)} | ${r.ratio.toFixed(2)}x | ${r.lo.toFixed(2)}-${r.hi.toFixed(2)}x | ${r.note} |`);
{
  const upstream = floorRows[floorRows.length - 1].rate;
  console.log(`\nWhat a checksum of a JS value costs at least (median of ${ROUNDS} rounds; the 1.3x target is ${(1e6 / (upstream * 1.3)).toFixed(1)} µs a document in this run)`);
  console.log('\n| part | docs/s | per doc | hashSpec / this |');
  console.log('|---|---|---|---|');
  for (const r of floorRows) console.log(`| ${r.what} | ${fmt(r.rate)} | ${(1e6 / r.rate).toFixed(1)} µs | ${(r.rate / upstream).toFixed(2)}x |`);
}
if (probeRows.length) {
  console.log('\n| boundary probe | docs/s | per doc |');
  console.log('|---|---|---|');
  for (const r of probeRows) console.log(`| ${r.what} | ${fmt(r.rate)} | ${(1e6 / r.rate).toFixed(1)} µs |`);
}
