// Host-callback storage: synchronous and Promise-returning callbacks, with
// and without an atomic commit, and callbacks that throw or reject.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetadataService, isMetadataError } from '@objectstack/metadata-wasm';

// A host store over a Map. `mode` picks sync or async callbacks; `fail`
// names a callback that fails (throws or rejects) on its `failOn`-th call.
function mapStore({ async = false, atomic = false } = {}) {
  const map = new Map();
  const calls = {};
  const failures = { name: null, failOn: 0, reject: false };
  const wrap = (name, fn) => (...args) => {
    calls[name] = (calls[name] ?? 0) + 1;
    const failing = failures.name === name && calls[name] === failures.failOn;
    if (failing && !failures.reject) throw new Error(`${name} exploded`);
    if (async || failing) {
      return new Promise((resolve, reject) => setTimeout(() => {
        if (failing) reject(new TypeError(`${name} rejected`));
        else resolve(fn(...args));
      }, 0));
    }
    return fn(...args);
  };
  const store = {
    kind: async ? 'async-map' : 'map',
    get: wrap('get', (k) => (map.has(k) ? structuredClone(map.get(k)) : null)),
    put: wrap('put', (k, v) => void map.set(k, structuredClone(v))),
    delete: wrap('delete', (k) => void map.delete(k)),
    list: wrap('list', (p) => [...map].filter(([k]) => k.startsWith(p)).map(([, v]) => structuredClone(v))),
  };
  if (atomic) {
    store.commit = wrap('commit', (ops) => {
      for (const op of ops) {
        if (!('expect' in op)) continue;
        const found = map.has(op.key) ? map.get(op.key).version : null;
        if (found !== op.expect) return { conflict: op.key };
      }
      for (const op of ops) {
        if (op.op === 'put') map.set(op.key, structuredClone(op.value));
        else map.delete(op.key);
      }
    });
  }
  const failNext = (name, { reject = false } = {}) => {
    failures.name = name;
    failures.reject = reject;
    failures.failOn = (calls[name] ?? 0) + 1;
  };
  return { store, map, calls, failNext };
}

const snapshot = (map) => JSON.stringify([...map].sort());

for (const async of [false, true]) {
  for (const atomic of [false, true]) {
    const label = `${async ? 'async' : 'sync'} callbacks, ${atomic ? 'with' : 'without'} commit`;

    test(`${label}: the full API works over the host`, async () => {
      const { store, map, calls } = mapStore({ async, atomic });
      const svc = await MetadataService.create({ store, tenant: 'acme', cache: false });
      assert.equal(svc.storeKind, store.kind);
      await svc.save('view', 'b', { n: 2 });
      await svc.save('view', 'a', { n: 1 });
      await svc.save('view', 'a', { n: 11 });
      assert.deepEqual(await svc.loadMany('view'), [{ n: 11 }, { n: 2 }]);
      assert.deepEqual((await svc.history('view', 'a')).map((h) => h.version), [1, 2]);
      await svc.delete('view', 'b');
      await svc.purge('view', 'a');
      assert.equal(await svc.load('view', 'a'), null);
      // Heads under r/, the versions they superseded under h/ (with the
      // purge's tombstone), the scope's change counter, the layout marker.
      assert.deepEqual([...map.keys()].sort(), [
        'h/acme/view/a#00000000000000000001',
        'h/acme/view/a#00000000000000000002',
        'h/acme/view/a#00000000000000000003',
        'h/acme/view/b#00000000000000000001',
        'm/layout',
        'r/acme/view/b',
        's/acme/',
      ]);
      assert.deepEqual(map.get('s/acme/'), { version: 5 });
      assert.ok(atomic ? calls.commit > 0 && !calls.put : calls.put > 0);
    });

    for (const op of atomic ? ['get', 'list', 'commit'] : ['get', 'list', 'put', 'delete']) {
      for (const reject of [false, true]) {
        test(`${label}: a ${op} that ${reject ? 'rejects' : 'throws'} is HOST_CALLBACK_FAILED and loses nothing`, async () => {
          const { store, map, failNext } = mapStore({ async, atomic });
          const svc = await MetadataService.create({ store, cache: false });
          await svc.save('view', 'keep', { v: 1 });
          await svc.save('view', 'gone', { v: 1 });
          const before = snapshot(map);
          failNext(op, { reject });
          const attempts = {
            get: () => svc.save('view', 'keep', { v: 2 }),
            list: () => svc.loadMany('view'),
            put: () => svc.saveMany([{ type: 'view', name: 'n1', data: {} }, { type: 'view', name: 'keep', data: { v: 3 } }]),
            delete: () => svc.purge('view', 'gone'),
            commit: () => svc.saveMany([{ type: 'view', name: 'n1', data: {} }, { type: 'view', name: 'keep', data: { v: 3 } }]),
          };
          await assert.rejects(attempts[op](), (e) => {
            assert.equal(e.code, 'HOST_CALLBACK_FAILED', e.message);
            assert.equal(e.operation, op);
            // A batch's write failed as a whole: no item is to blame (the
            // first had been named).
            assert.equal(e.index, undefined, e.message);
            assert.doesNotMatch(e.message, /batch item/);
            assert.match(e.message, reject ? /rejected/ : /exploded/);
            return true;
          });
          assert.equal(snapshot(map), before, 'the store holds what it held before');
          // And the service is consistent and usable afterwards.
          assert.deepEqual(await svc.load('view', 'keep'), { v: 1 });
          assert.equal((await svc.history('view', 'keep')).length, 1);
          assert.equal((await svc.save('view', 'keep', { v: 4 })).record.version, 2);
        });
      }
    }
  }
}

test('a host returning JSON text works like one returning objects', async () => {
  const map = new Map();
  const store = {
    get: (k) => map.get(k) ?? null,
    put: (k, v) => void map.set(k, JSON.stringify(v)),
    delete: (k) => void map.delete(k),
    list: async (p) => [...map].filter(([k]) => k.startsWith(p)).map(([, v]) => v),
  };
  const svc = await MetadataService.create({ store, cache: false });
  await svc.save('view', 'v', { a: [1, 2] });
  assert.deepEqual(await svc.load('view', 'v'), { a: [1, 2] });
  assert.equal(typeof map.get('r/*/view/v'), 'string');
});

test('a host returning garbage is CORRUPTED or HOST_CALLBACK_FAILED, never served', async () => {
  const store = {
    get: (k) => (k.startsWith('r/') ? { type: 'view', name: 'other' } : null),
    put: () => {},
    delete: () => {},
    list: () => 'not an array',
  };
  const svc = await MetadataService.create({ store });
  // The plain reads refuse to call a failed read "not found"...
  await assert.rejects(svc.loadRecord('view', 'v'), (e) => e.code === 'CORRUPTED' && e.layer === 'database');
  await assert.rejects(svc.load('view', 'v'), (e) => e.code === 'CORRUPTED');
  // ...and resolve tells the whole story.
  const r = await svc.resolve('view', 'v');
  assert.equal(r.data, null);
  assert.equal(r.degraded[0].layer, 'database');
  assert.equal(r.degraded[0].code, 'CORRUPTED');
  await assert.rejects(svc.loadMany('view'), (e) => e.code === 'HOST_CALLBACK_FAILED' && e.operation === 'list');
  await assert.rejects(svc.query({}), (e) => e.code === 'HOST_CALLBACK_FAILED');
});

test('a change stream whose log cannot be read reads it again at the next change, instead of ending', async () => {
  const { store, calls, failNext } = mapStore();
  const svc = await MetadataService.create({ store });
  await svc.save('view', 'a', { n: 1 });
  await svc.save('view', 'b', { n: 2 });
  // The next listing (the stream's first read of the log) fails.
  failNext('list');
  const failing = (calls.list ?? 0) + 1;
  const events = [];
  const errors = [];
  const stop = svc.subscribe((e) => events.push(`${e.name}#${e.sequence}`), {
    since: 0,
    // Told of the failure (a throw of its own changes nothing).
    onError: (e) => {
      errors.push(e);
      throw new Error('a listener that throws');
    },
  });
  for (let i = 0; i < 20 && (calls.list ?? 0) < failing; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(calls.list, failing, 'the failing read was made');
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(events, []);
  assert.equal(errors.length, 1);
  assert.ok(isMetadataError(errors[0]));
  assert.equal(errors[0].code, 'HOST_CALLBACK_FAILED');
  assert.equal(errors[0].operation, 'list');
  // A change announced: the stream reads the log again, from where it was.
  await svc.save('view', 'c', { n: 3 });
  for (let i = 0; i < 50 && events.length < 3; i++) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(events, ['a#1', 'b#2', 'c#3']);
  assert.equal(errors.length, 1);
  stop();
  svc.free();
});

test('a change log that goes on past a change it lacks is told to onError, not waited on in silence', async () => {
  const { store, map } = mapStore();
  const svc = await MetadataService.create({ store, cache: false });
  for (const n of ['a', 'b', 'c']) await svc.save('view', n, { n });
  // b's row, damaged: it says it was the fifth change, and there is no second.
  map.set('r/*/view/b', { ...map.get('r/*/view/b'), seq: 5 });
  const events = [];
  const errors = [];
  const stop = svc.subscribe((e) => events.push(e.sequence), { since: 0, onError: (e) => errors.push(e) });
  for (let i = 0; i < 50 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(events, [1]);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 'CORRUPTED');
  assert.match(errors[0].message, /holds no change 2, and goes on at 3/);
  stop();
  // The log read as a list says so too; filtered by type or name, it
  // has gaps by design and says nothing.
  // (The log holds 1 and 3, up to its counter, 3; b's 5 lies beyond it.)
  for (const since of [0, 1]) {
    await assert.rejects(svc.changes({ since }), (e) => e.code === 'CORRUPTED' && /no change 2, and goes on at 3/.test(e.message));
  }
  assert.deepEqual((await svc.changes({ since: 2 })).map((e) => e.sequence), [3]);
  assert.deepEqual((await svc.changes({ since: 0, type: 'view' })).map((e) => e.sequence), [1, 3]);
  svc.free();
});

test('a key-value store read while saves land answers a change log without gaps, and loses nothing', async () => {
  // Listings of heads taken when asked and answered later, as over a
  // network: the heads and the archived versions are read at two moments.
  const map = new Map();
  const later = (value) => new Promise((resolve) => setTimeout(() => resolve(value), 30));
  const store = {
    get: (k) => (map.has(k) ? structuredClone(map.get(k)) : null),
    put: (k, v) => void map.set(k, structuredClone(v)),
    delete: (k) => void map.delete(k),
    list: (p) => {
      const found = [...map].filter(([k]) => k.startsWith(p)).map(([, v]) => structuredClone(v));
      return p.startsWith('r/') ? later(found) : found;
    },
  };
  const svc = await MetadataService.create({ store, cache: false });
  await svc.save('view', 'x', { n: 1 });
  let seen = 0;
  const polled = [];
  for (let round = 0; round < 4; round++) {
    // A read, and saves landing while it is under way (after its first
    // listing was taken).
    const read = svc.changes({ since: seen });
    await new Promise((resolve) => setTimeout(resolve, 5));
    await svc.save('view', `z${round}`, { round });
    await svc.save('view', 'y', { round, at: 1 });
    await svc.save('view', 'y', { round, at: 2 });
    const events = await read;
    polled.push(...events.map((e) => e.sequence));
    if (events.length) seen = events.at(-1).sequence;
  }
  polled.push(...(await svc.changes({ since: seen })).map((e) => e.sequence));
  const last = await svc.lastSequence();
  assert.deepEqual(polled, Array.from({ length: last }, (_, i) => i + 1));
  svc.free();
});

test('a change stream whose service is freed before it starts ends as it starts, and tells nothing', async () => {
  const { store, failNext } = mapStore({ async: true });
  const svc = await MetadataService.create({ store });
  const other = svc.derive({});
  await svc.save('view', 'a', { n: 1 });
  const events = [];
  const errors = [];
  // Its first read fails, after the service is freed.
  failNext('list');
  svc.subscribe((e) => events.push(e.name), { since: 1, onError: (e) => errors.push(e) });
  // Its first read succeeds, after the service is freed.
  svc.subscribe((e) => events.push(e.name), { since: 1, onError: (e) => errors.push(e) });
  svc.free();
  await new Promise((r) => setTimeout(r, 30));
  await other.save('view', 'b', { n: 2 });
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(events, []);
  assert.deepEqual(errors, []);
  other.free();
});

test('a change stream freed while a read of its log is under way tells nothing of that read', async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const map = new Map();
  const state = { lists: 0, down: false };
  const store = {
    get: async (k) => { await sleep(10); return map.has(k) ? structuredClone(map.get(k)) : null; },
    put: (k, v) => void map.set(k, structuredClone(v)),
    delete: (k) => void map.delete(k),
    list: async (p) => {
      state.lists += 1;
      await sleep(10);
      if (state.down) throw new Error('list down');
      return [...map].filter(([k]) => k.startsWith(p)).map(([, v]) => structuredClone(v));
    },
  };
  const svc = await MetadataService.create({ store });
  for (let i = 0; i < 3; i++) await svc.save('view', `a${i}`, { i });
  const errors = [];
  const from = state.lists;
  svc.subscribe(() => {}, { since: 1, onError: (e) => errors.push(e) });
  // Its start reads the change at 1 (two listings); the catch-up read
  // after it lists again.
  for (let i = 0; i < 200 && state.lists - from < 3; i++) await sleep(2);
  assert.ok(state.lists - from >= 3, 'the catch-up read is under way');
  state.down = true;
  svc.free();
  await sleep(100);
  assert.deepEqual(errors, []);
});

test('a change stream that cannot read its starting point tells onError and ends', async () => {
  const { store, failNext } = mapStore();
  const svc = await MetadataService.create({ store });
  await svc.save('view', 'a', { n: 1 });
  await svc.save('view', 'b', { n: 2 });
  // From 1: the stream reads the change at 1 first (what tells a log made
  // anew later), and that read fails.
  failNext('list');
  const events = [];
  const errors = [];
  svc.subscribe((e) => events.push(e.name), { since: 1, onError: (e) => errors.push(e) });
  for (let i = 0; i < 50 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 'HOST_CALLBACK_FAILED');
  await svc.save('view', 'c', { n: 3 });
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(events, []);
  assert.equal(errors.length, 1);
  // onError must be a function; the options keep refusing what they do not
  // know, and what reading them throws (a getter, a proxy's trap) is
  // refused too, the service untouched (it can still be freed).
  const throwing = { since: 0, onError: () => {}, get other() { throw new Error('a getter'); } };
  const trap = new Proxy({ since: 0, onError: () => {} }, { ownKeys() { throw new Error('a trap'); } });
  for (const options of [{ since: 0, onError: 1 }, { since: 0, onError: null }, { since: 0, onError: () => {}, other: 1 }, throwing, trap]) {
    assert.throws(() => svc.subscribe(() => {}, options), (e) => e.code === 'VALIDATION');
  }
  // Live only (no since): nothing is read, and onError is taken.
  const live = [];
  const stop = svc.subscribe((e) => live.push(e.name), { onError: () => {} });
  await svc.save('view', 'd', { n: 4 });
  assert.deepEqual(live, ['d']);
  stop();
  svc.free();
});

test('changes with a limit reads past hidden changes in a few reads of the store, not one a limit apart', async () => {
  const { store, calls } = mapStore({ atomic: true });
  const policy = { roles: { designer: { view: ['read', 'write'] }, admin: { '*': ['admin'] } } };
  const admin = await MetadataService.create({ store, actor: 'ann', roles: ['admin'], policy });
  for (let b = 0; b < 6; b++) {
    await admin.saveMany(Array.from({ length: 50 }, (_, i) => ({ type: 'flow', name: `f${b}_${i}`, data: { i } })));
  }
  await admin.save('view', 'v', {});
  const dan = admin.derive({ actor: 'dan', roles: ['designer'] });
  const before = calls.list ?? 0;
  const got = await dan.changes({ since: 0, limit: 1 });
  assert.deepEqual(got.map((e) => `${e.name}#${e.sequence}`), ['v#301']);
  // Pages of 1, 2, 4 ... 256 changes: nine reads of the log (two listings
  // each), where pages of one change took 301.
  assert.ok(calls.list - before <= 2 * 10, `${calls.list - before} listings`);
});
