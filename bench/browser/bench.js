// Browser benchmark, one page, one Chromium: this package on IndexedDB
// against Dexie (bulkPut / toArray / get) and idb-keyval (setMany / getMany /
// get) on the same rows.
import { MetadataService } from '/pkg/index.web.js';
import Dexie from '/vendor/dexie/dexie.mjs';
import * as keyval from '/vendor/idb-keyval/index.js';

const VIEWS = Number(new URLSearchParams(location.search).get("views") ?? 9000);
const APPS = Number(new URLSearchParams(location.search).get("apps") ?? 1000);

function rows() {
  const out = [];
  for (let i = 0; i < VIEWS + APPS; i++) {
    const type = i < VIEWS ? 'view' : 'app';
    out.push({
      type,
      name: `${type}_${String(i).padStart(5, '0')}`,
      data: {
        label: `${type} ${i}`,
        object: 'sys_account',
        columns: ['name', 'owner', 'created_at', `field_${i % 17}`],
        filters: [{ field: 'status', op: 'eq', value: i % 3 }],
        pageSize: 25 + (i % 4) * 25,
      },
    });
  }
  return out;
}

async function deleteDb(name) {
  await new Promise((resolve, reject) => {
    const r = indexedDB.deleteDatabase(name);
    let timer;
    r.onsuccess = () => { clearTimeout(timer); resolve(); };
    r.onerror = () => { clearTimeout(timer); reject(r.error); };
    // "blocked" also comes while a connection closed a moment ago finishes
    // its last transaction, and the deletion then goes on. A connection
    // left open would hold it, and every later open, for ever: say so
    // after five seconds rather than hang.
    r.onblocked = () => {
      timer = setTimeout(() => reject(new Error(`deleting ${name}: a connection is still open`)), 5000);
    };
  });
}

const settle = (request) => new Promise((ok, ko) => { request.onsuccess = () => ok(request.result); request.onerror = () => ko(request.error); });

/**
 * IndexedDB alone on our layout: the exact rows our store wrote (a create
 * writes one head row; history holds superseded versions only), read back
 * and written by plain JavaScript into a fresh database of the same schema,
 * in one transaction. What a save of these rows costs before any
 * validation, checksum or boundary crossing.
 */
async function layoutFloor() {
  const source = await settle(indexedDB.open('objectstack-metadata/bench'));
  const tx = source.transaction(['records', 'history', 'counters']);
  const [records, history, counters] = await Promise.all(['records', 'history', 'counters'].map((s) => settle(tx.objectStore(s).getAll())));
  source.close();
  await deleteDb('bench-floor');
  const open = indexedDB.open('bench-floor', 1);
  open.onupgradeneeded = () => {
    const db = open.result;
    const r = db.createObjectStore('records', { keyPath: 'key' });
    r.createIndex('tenant_seq', ['tenant', 'seq']);
    db.createObjectStore('history', { keyPath: 'key' }).createIndex('tenant_seq', ['tenant', 'seq']);
    db.createObjectStore('counters', { keyPath: 'key' });
  };
  const db = await settle(open);
  const save = await time(() => new Promise((ok, ko) => {
    const w = db.transaction(['records', 'history', 'counters'], 'readwrite');
    for (const row of records) w.objectStore('records').put(row);
    for (const row of history) w.objectStore('history').put(row);
    for (const row of counters) w.objectStore('counters').put(row);
    w.oncomplete = ok;
    w.onabort = () => ko(w.error);
  }));
  db.close();
  await deleteDb('bench-floor');
  return { save, rows: records.length + history.length };
}

async function time(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// The record each library stores: what our store keeps, so all three write
// the same information.
function asRecord(item, i) {
  const now = new Date(1_700_000_000_000 + i).toISOString();
  return {
    key: `*/${item.type}/${item.name}`,
    type: item.type,
    name: item.name,
    data: item.data,
    version: 1,
    source: 'database',
    is_active: true,
    owner: 'bench',
    tenant_id: null,
    tags: [],
    created_at: now,
    updated_at: now,
  };
}

// Cold hydrates per round and library: one alone swung from 0.4x to 1.5x
// between rounds (the first read after a bulk write shares the machine
// with IndexedDB's own clean-up), so each round takes the median of these.
const HYDRATES = 5;

/** The median time of HYDRATES cold hydrates, each checked for its count. */
async function coldHydrates(once, lib, count = APPS) {
  const times = [];
  for (let i = 0; i < HYDRATES; i++) {
    const [ms, hydrated] = await once();
    if (hydrated.length !== count) throw new Error(`${lib} hydrated ${hydrated.length}`);
    times.push(ms);
  }
  return median(times);
}

async function ours(items, appNames) {
  await deleteDb('objectstack-metadata/bench');
  let svc = await MetadataService.create({ store: 'indexeddb', namespace: 'bench', broadcast: false });
  const save = await time(() => svc.saveMany(items));
  svc.free();
  // Cold: a new service (empty cache, new connection) over the stored rows.
  const hydrate = await coldHydrates(async () => {
    const cold = await MetadataService.create({ store: 'indexeddb', namespace: 'bench', broadcast: false });
    let hydrated;
    const ms = await time(async () => { hydrated = await cold.loadMany('app'); });
    cold.free();
    return [ms, hydrated];
  }, 'ours');
  svc = await MetadataService.create({ store: 'indexeddb', namespace: 'bench', broadcast: false });
  await svc.loadMany('app');
  const load = await time(async () => { for (const n of appNames) await svc.load('app', n); });
  svc.free();
  const floor = await layoutFloor();
  if (floor.rows !== items.length) throw new Error(`floor wrote ${floor.rows} rows`);
  return { save, hydrate, load: load / appNames.length, floor: floor.save };
}

// Dexie keeps one index besides the key, the one its hydrate reads
// (`type`), as our store keeps one (the change log's): each side writes
// what its own reads need. Until our store dropped its unused (type,
// active) index, Dexie had a second, [type+name], that no read used.
async function dexie(records, appNames) {
  const { save, hydrate } = await dexieSaveAndHydrate('bench-dexie', records, 'app', APPS, false);
  const db = new Dexie('bench-dexie');
  db.version(1).stores({ items: 'key, type' });
  await db.open();
  const load = await time(async () => { for (const n of appNames) await db.items.get(`*/app/${n}`); });
  db.close();
  return { save, hydrate, load: load / appNames.length };
}

/** Dexie's bulkPut of `records` into a new database, then its cold hydrates of `type`. */
async function dexieSaveAndHydrate(name, records, type, count, pause) {
  await deleteDb(name);
  const db = new Dexie(name);
  db.version(1).stores({ items: 'key, type' });
  await db.open();
  if (pause) await settleDown();
  const save = await time(() => db.items.bulkPut(records));
  db.close();
  const hydrate = await coldHydrates(async () => {
    const cold = new Dexie(name);
    cold.version(1).stores({ items: 'key, type' });
    let hydrated;
    const ms = await time(async () => { hydrated = await cold.items.where('type').equals(type).toArray(); });
    cold.close();
    return [ms, hydrated];
  }, 'dexie', count);
  return { save, hydrate };
}

async function idbKeyval(records, appNames) {
  await deleteDb('bench-keyval');
  let store = keyval.createStore('bench-keyval', 'items');
  const save = await time(() => keyval.setMany(records.map((r) => [r.key, r]), store));
  await store('readonly', (s) => s.transaction.db.close());
  const keys = appNames.map((n) => `*/app/${n}`);
  const hydrate = await coldHydrates(async () => {
    const cold = keyval.createStore('bench-keyval', 'items');
    let hydrated;
    const ms = await time(async () => { hydrated = await keyval.getMany(keys, cold); });
    await cold('readonly', (s) => s.transaction.db.close());
    return [ms, hydrated];
  }, 'idb-keyval');
  store = keyval.createStore('bench-keyval', 'items');
  await keyval.get(keys[0], store);
  const load = await time(async () => { for (const k of keys) await keyval.get(k, store); });
  // idb-keyval keeps its connection for the page's life: close it, as the
  // other two do, so the next round can delete the database.
  await store('readonly', (s) => s.transaction.db.close());
  return { save, hydrate, load: load / keys.length };
}

/** saveMany of the same rows into the memory store: the part that is not IndexedDB. */
export async function computeOnly() {
  const svc = await MetadataService.create({ store: 'memory' });
  const items = rows();
  const t = await time(() => svc.saveMany(items));
  svc.free();
  return t;
}

// Real metadata: the platform object definitions of the test corpus
// (5 KB of JSON each), cycled under distinct names. The gaps to a peer
// are not those of the small rows above: a definition costs its checksum
// and its trip through the module by the byte.
const CORPUS = Number(new URLSearchParams(location.search).get('corpus') ?? 2000);

async function corpusItems() {
  const docs = await (await fetch('/data/platform-objects.json')).json();
  return Array.from({ length: CORPUS }, (_, i) => ({
    type: 'object',
    name: `${docs[i % docs.length].name}_${String(i).padStart(5, '0')}`,
    data: docs[i % docs.length].data,
  }));
}

// A pause before each timed save: the deletion and bulk write before it
// leave IndexedDB cleaning up in the background, which on two cores
// otherwise lands on whichever library comes next (the corpus saves drift
// from 350 to 1,000 ms over ten rounds without it).
const settleDown = () => new Promise((resolve) => setTimeout(resolve, 1500));

async function oursCorpus(items) {
  await deleteDb('objectstack-metadata/bench-corpus');
  const svc = await MetadataService.create({ store: 'indexeddb', namespace: 'bench-corpus', broadcast: false });
  await settleDown();
  const save = await time(() => svc.saveMany(items));
  svc.free();
  const hydrate = await coldHydrates(async () => {
    const cold = await MetadataService.create({ store: 'indexeddb', namespace: 'bench-corpus', broadcast: false });
    let hydrated;
    const ms = await time(async () => { hydrated = await cold.loadMany('object'); });
    cold.free();
    return [ms, hydrated];
  }, 'ours', items.length);
  return { save, hydrate };
}

const dexieCorpus = (records) => dexieSaveAndHydrate('bench-dexie-corpus', records, 'object', records.length, true);

/** Bulk save and cold hydrate of corpus definitions, ours against Dexie. */
export async function runCorpus(rounds = 3) {
  const items = await corpusItems();
  const records = items.map(asRecord);
  const results = { ours: [], dexie: [] };
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? ['dexie', 'ours'] : ['ours', 'dexie'];
    for (const lib of order) {
      results[lib].push(await (lib === 'ours' ? oursCorpus(items) : dexieCorpus(records)));
      console.log(`corpus round ${r} ${lib} ${JSON.stringify(results[lib].at(-1))}`);
    }
  }
  const ops = ['save', 'hydrate'];
  const summary = {};
  for (const [lib, runs] of Object.entries(results)) {
    summary[lib] = Object.fromEntries(ops.map((op) => [op, median(runs.map((x) => x[op]))]));
  }
  summary.ratios = Object.fromEntries(ops.map((op) => {
    const ratios = results.dexie.map((x, i) => x[op] / results.ours[i][op]);
    return [op, { median: median(ratios), lo: Math.min(...ratios), hi: Math.max(...ratios) }];
  }));
  const bytes = items.reduce((n, i) => n + JSON.stringify(i.data).length, 0);
  return { records: items.length, bytes, rounds, summary };
}

export async function run(rounds = 3) {
  const items = rows();
  const records = items.map(asRecord);
  const appNames = items.filter((i) => i.type === 'app').map((i) => i.name);
  const results = { ours: [], dexie: [], idbKeyval: [] };
  const runners = {
    ours: () => ours(items, appNames),
    dexie: () => dexie(records, appNames),
    idbKeyval: () => idbKeyval(records, appNames),
  };
  for (let r = 0; r < rounds; r++) {
    // The order turns every round, so a slow stretch of the machine does
    // not always fall on the same library.
    const order = r % 2 ? ['idbKeyval', 'dexie', 'ours'] : ['ours', 'dexie', 'idbKeyval'];
    for (const lib of order) {
      results[lib].push(await runners[lib]());
      console.log(`round ${r} ${lib} ${JSON.stringify(results[lib].at(-1))}`);
    }
  }
  const ops = ['save', 'hydrate', 'load'];
  const summary = {};
  for (const [lib, runs] of Object.entries(results)) {
    summary[lib] = Object.fromEntries(ops.map((op) => [op, median(runs.map((x) => x[op]))]));
  }
  // Peer time / our time in each round: the median and the range.
  summary.ratios = {};
  for (const peer of ['dexie', 'idbKeyval']) {
    summary.ratios[peer] = Object.fromEntries(ops.map((op) => {
      const ratios = results[peer].map((x, i) => x[op] / results.ours[i][op]);
      return [op, { median: median(ratios), lo: Math.min(...ratios), hi: Math.max(...ratios) }];
    }));
  }
  summary.floor = median(results.ours.map((x) => x.floor));
  const memory = await computeOnly();
  return { records: items.length, hydrated: APPS, hydrates: HYDRATES, rounds, summary, memory, userAgent: navigator.userAgent };
}
