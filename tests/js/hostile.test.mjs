// Hostile JavaScript values reach the module only through guarded calls:
// a throwing getter, a revoked Proxy, a hostile thenable or an error whose
// properties throw becomes a coded rejection of that call alone, and the
// module's task runner goes on serving every other call.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { runInNewContext } from 'node:vm';
import { MetadataService, isMetadataError } from '@objectstack/metadata-wasm';

const uncaught = [];
const onUncaught = (e) => uncaught.push(e);
process.on('uncaughtException', onUncaught);
process.on('unhandledRejection', onUncaught);
after(() => {
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
});

function revokedProxy() {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

// The hostile answers a host callback (or sync's fetch) can give.
const HOSTILE = {
  'a revoked Proxy': () => revokedProxy(),
  'an object whose then getter throws': () => Object.defineProperty({}, 'then', { get() { throw new Error('then getter'); } }),
  'a thenable whose then throws': () => ({ then() { throw new Error('then threw'); } }),
  'a thenable that never calls back but throws later': () => ({ then(_, reject) { reject(revokedProxy()); } }),
  'a throw of an Error whose message getter throws': () => {
    const e = new Error('x');
    Object.defineProperty(e, 'message', { get() { throw new Error('message getter'); } });
    throw e;
  },
  'a throw of a revoked Proxy': () => { throw revokedProxy(); },
  'a rejection with an Error whose name getter throws': () => {
    const e = new Error('x');
    Object.defineProperty(e, 'name', { get() { throw new Error('name getter'); } });
    return Promise.reject(e);
  },
};

// A key-value host over a Map whose `get` answers `hostile()`.
function hostileHost(hostile) {
  const map = new Map();
  return {
    get: () => hostile(),
    put: (k, v) => { map.set(k, v); },
    delete: (k) => { map.delete(k); },
    list: () => [],
  };
}

const settles = (promise) => promise.then(() => 'resolved', (e) => e);

for (const [name, hostile] of Object.entries(HOSTILE)) {
  test(`a host callback answering ${name} rejects that call with HOST_CALLBACK_FAILED`, async () => {
    const svc = await MetadataService.create({ store: hostileHost(hostile) });
    const e = await settles(svc.load('view', 'a'));
    assert.ok(isMetadataError(e), String(e));
    assert.equal(e.code, 'HOST_CALLBACK_FAILED');
    assert.equal(e.operation, 'get');
    assert.deepEqual(uncaught, []);
  });

  test(`sync's fetch answering ${name} rejects the sync with HOST_CALLBACK_FAILED`, async () => {
    const svc = await MetadataService.create();
    const manifest = [{ type: 'view', name: 'a', version: 1, checksum: '0'.repeat(32) }];
    const e = await settles(svc.sync(manifest, hostile));
    assert.ok(isMetadataError(e), String(e));
    assert.equal(e.code, 'HOST_CALLBACK_FAILED');
    assert.equal((await svc.query({})).total, 0, 'nothing was written');
    assert.deepEqual(uncaught, []);
  });
}

test('create() options with a throwing getter or a revoked Proxy reject with VALIDATION', async () => {
  const getter = Object.defineProperty({}, 'tenant', { enumerable: true, get() { throw new Error('getter'); } });
  for (const options of [getter, revokedProxy(), { tenant: revokedProxy() }, new Proxy({}, { ownKeys() { throw new Error('ownKeys'); } })]) {
    const e = await settles(MetadataService.create(options));
    assert.ok(isMetadataError(e), String(e));
    assert.equal(e.code, 'VALIDATION');
  }
  // A store whose getters throw: the store is read through guarded calls.
  const store = new Proxy({}, { get() { throw new Error('trap'); }, has() { throw new Error('trap'); } });
  const e = await settles(MetadataService.create({ store }));
  assert.ok(isMetadataError(e), String(e));
  assert.deepEqual(uncaught, []);
});

test('several hostile calls at once, then other services still settle', async () => {
  const bystander = await MetadataService.create({ tenant: 'other' });
  const calls = [];
  for (const hostile of Object.values(HOSTILE)) {
    const svc = await MetadataService.create({ store: hostileHost(hostile) });
    calls.push(settles(svc.load('view', 'a')), settles(svc.save('view', 'a', { v: 1 })));
    calls.push(settles(bystander.sync([{ type: 'view', name: 'x', version: 1, checksum: '0'.repeat(32) }], hostile)));
  }
  calls.push(settles(MetadataService.create(revokedProxy())));
  const outcomes = await Promise.all(calls);
  for (const e of outcomes) assert.ok(isMetadataError(e), String(e));
  // Unrelated services created before and after are served as usual.
  await bystander.save('view', 'after', { ok: true });
  assert.deepEqual(await bystander.load('view', 'after'), { ok: true });
  const fresh = await MetadataService.create();
  await fresh.save('view', 'fresh', { ok: 1 });
  assert.equal((await fresh.history('view', 'fresh')).length, 1);
  assert.equal((await fresh.query({})).total, 1);
  assert.deepEqual(uncaught, []);
});

test('an unsubscribe function called twice does nothing the second time', async () => {
  const svc = await MetadataService.create();
  const heard = [];
  const stop = svc.subscribe((e) => heard.push(e.name));
  const stopReplay = svc.subscribe((e) => heard.push(`replay:${e.name}`), { since: 0 });
  await svc.save('view', 'a', { v: 1 });
  await new Promise((resolve) => setTimeout(resolve, 10));
  stop();
  stop();
  stopReplay();
  stopReplay();
  await svc.save('view', 'b', { v: 1 });
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(heard.sort(), ['a', 'replay:a']);
});

test('isMetadataError never throws, whatever it is given', async () => {
  const { proxy, revoke } = Proxy.revocable(new Error('x'), {});
  assert.equal(isMetadataError(proxy), false);
  revoke();
  assert.equal(isMetadataError(proxy), false);
  const hostileError = new Proxy(new Error('x'), { get() { throw new Error('trap'); }, getPrototypeOf() { throw new Error('trap'); } });
  assert.equal(isMetadataError(hostileError), false);
  // An Error's Proxy whose property reads throw.
  assert.equal(isMetadataError(new Proxy(new Error('x'), { get() { throw new Error('trap'); } })), false);
  const ours = await MetadataService.create().then((s) => s.load('Bad', 'x')).catch((e) => e);
  assert.equal(isMetadataError(new Proxy(ours, {})), true);
  assert.equal(isMetadataError(revokedProxy()), false);
  for (const v of [null, undefined, 1, 'MetadataError', Symbol('s'), 1n, {}]) assert.equal(isMetadataError(v), false);
});

test('a freed service refuses every method with STORAGE_UNAVAILABLE; free() twice does nothing', async () => {
  const svc = await MetadataService.create();
  await svc.save('view', 'a', { v: 1 });
  const derived = svc.derive({ tenant: 'acme' });
  svc.free();
  svc.free();
  const freed = (e) => isMetadataError(e) && e.code === 'STORAGE_UNAVAILABLE' && /freed/.test(e.message);
  for (const call of [
    () => svc.save('view', 'a', { v: 2 }),
    () => svc.load('view', 'a'),
    () => svc.history('view', 'a'),
    () => svc.query({}),
    () => svc.sync([], () => []),
  ]) {
    await assert.rejects(call(), freed);
  }
  for (const call of [() => svc.derive(), () => svc.subscribe(() => {}), () => svc.storeKind, () => svc.tenant]) {
    assert.throws(call, freed);
  }
  // Another service on the same store is not affected.
  assert.deepEqual(await derived.load('view', 'a'), { v: 1 });
  derived[Symbol.dispose]();
  await assert.rejects(derived.load('view', 'a'), freed);
});

// Nesting: 127 levels of objects and arrays are taken on every path that
// takes a definition, 128 are refused on each with the same error, whether
// JavaScript's walk, the module's reader of values or of text finds it.
test('every path takes 127 levels of nesting and refuses 128 with one message', async () => {
  const { checksum, canonicalize, contentHash } = await import('@objectstack/metadata-wasm');
  const svc = await MetadataService.create({ store: 'memory' });
  const nested = (levels) => {
    let v = 1;
    for (let i = 1; i < levels; i++) v = [v];
    return { a: v };
  };
  const paths = (levels, n) => {
    const data = nested(levels);
    const text = JSON.stringify(data);
    return {
      save: () => svc.save('view', `s${n}`, data),
      saveJson: () => svc.saveJson('view', `j${n}`, text),
      saveMany: () => svc.saveMany([{ type: 'view', name: `m${n}`, data }]),
      saveManyJson: () => svc.saveManyJson(`[{"type":"view","name":"t${n}","data":${text}}]`),
      checksum: () => checksum(data),
      contentHash: () => contentHash(data),
      canonicalize: () => canonicalize(data),
    };
  };
  // Text with an escaped surrogate pair goes to another reader.
  const surrogate = (levels) => `{"a":${'['.repeat(levels - 1)}"\\ud83d\\ude00"${']'.repeat(levels - 1)}}`;
  // Copies of a record of that depth into other services: lists of
  // records and items, whose own levels do not count.
  const copies = async (levels, n) => {
    const source = await MetadataService.create({ store: 'memory' });
    await source.saveJson('view', 'deep', JSON.stringify(nested(Math.min(levels, 127))));
    let record = await source.loadRecord('view', 'deep');
    if (levels > 127) record = { ...record, data: nested(levels) };
    const manifest = [{ type: 'view', name: 'deep', version: record.version, checksum: record.checksum }];
    const item = { type: 'view', name: 'deep', data: record.data };
    const target = () => MetadataService.create({ store: 'memory' });
    return {
      mirror: async () => (await target()).mirror([record]),
      replicate: async () => (await target()).replicate(await source.manifest(), () => [record]),
      sync: async () => (await target()).sync(manifest, () => [item]),
      applyFetched: async () => (await target()).applyFetched(manifest, [item]),
      saveJsonSurrogate: () => svc.saveJson('view', `u${n}`, surrogate(levels)),
    };
  };
  for (const [name, run] of Object.entries({ ...paths(127, 127), ...(await copies(127, 127)) })) {
    await assert.doesNotReject(async () => run(), name);
  }
  // A record of 127 levels served by a host store that answers objects.
  const rows = new Map();
  const host = await MetadataService.create({
    store: {
      get: (k) => (rows.has(k) ? structuredClone(rows.get(k)) : null),
      put: (k, v) => void rows.set(k, structuredClone(v)),
      delete: (k) => void rows.delete(k),
      list: (p) => [...rows].filter(([k]) => k.startsWith(p)).map(([, v]) => structuredClone(v)),
    },
    cache: false,
  });
  await host.save('view', 'deep', nested(127));
  await host.save('view', 'deep', { shallow: true });
  assert.deepEqual(await host.load('view', 'deep'), { shallow: true });
  assert.deepEqual((await host.history('view', 'deep'))[0].data, nested(127));
  assert.deepEqual(await svc.load('view', 's127'), nested(127));
  assert.deepEqual(await svc.load('view', 't127'), nested(127));
  for (const [name, run] of Object.entries({ ...paths(128, 128), ...(await copies(128, 128)) })) {
    await assert.rejects(async () => run(), (e) => {
      // A fetch's answer too (replicate, sync): the caller's bad data.
      assert.equal(e.code, 'VALIDATION', `${name}: ${e.message}`);
      assert.match(e.message, /nesting deeper than 127 levels of arrays and objects/, name);
      return true;
    });
  }
  // Nothing refused was written.
  assert.equal((await svc.loadMany('view')).length, 5);
});

test('options given as a list or another non-object are refused with VALIDATION and change nothing', async () => {
  const svc = await MetadataService.create();
  await svc.save('view', 'a', { v: 1 });
  // A list was read as the options' members in order: [1] as the first.
  const refusals = [
    () => svc.save('view', 'a', { v: 2 }, [1]),
    () => svc.save('view', 'b', { v: 1 }, ['x']),
    () => svc.saveJson('view', 'a', '{"v":3}', [1]),
    () => svc.delete('view', 'a', ['me']),
    () => svc.rollback('view', 'a', 1, [1]),
    () => svc.changes([0]),
    () => svc.changes('0'),
    () => svc.query([{}]),
    () => svc.save('view', 'a', { v: 2 }, 5),
    () => svc.save('view', 'a', { v: 2 }, 'me'),
  ];
  for (const call of refusals) {
    const e = await settles(Promise.resolve().then(call));
    assert.ok(isMetadataError(e), `${call}: ${e}`);
    assert.equal(e.code, 'VALIDATION', `${call}`);
    assert.match(e.message, /must be an object/, `${call}`);
  }
  // What JSON makes of the options decides, not what the value claims to
  // be: a toJSON answering a list, a Date (its text).
  for (const options of [{ toJSON: () => [1] }, new Date(0)]) {
    const e = await settles(svc.save('view', 'a', { v: 2 }, options));
    assert.ok(isMetadataError(e) && e.code === 'VALIDATION' && /must be an object/.test(e.message), `${options}: ${e}`);
  }
  for (const since of [[0], 0, 'x', true, { toJSON: () => [0] }]) {
    assert.throws(() => svc.subscribe(() => {}, since), (e) => isMetadataError(e) && e.code === 'VALIDATION' && /must be an object/.test(e.message), String(since));
  }
  // A revoked Proxy as options is refused like any value that cannot be
  // read: Array.isArray threw through the module (an uncaught TypeError).
  for (const call of [
    () => svc.save('view', 'a', { v: 2 }, revokedProxy()),
    () => svc.saveJson('view', 'a', '{"v":2}', revokedProxy()),
    () => svc.delete('view', 'a', revokedProxy()),
    () => svc.changes(revokedProxy()),
    () => svc.query(revokedProxy()),
    () => svc.mirror([], revokedProxy()),
  ]) {
    const e = await settles(Promise.resolve().then(call));
    assert.ok(isMetadataError(e) && e.code === 'VALIDATION', `${call}: ${e}`);
  }
  assert.throws(() => svc.subscribe(() => {}, revokedProxy()), (e) => isMetadataError(e) && e.code === 'VALIDATION');
  assert.throws(() => svc.derive(revokedProxy()), (e) => isMetadataError(e) && e.code === 'VALIDATION');
  // An item's options too (saveMany, and the server's batch route).
  const e = await settles(svc.saveMany([{ type: 'view', name: 'a', data: { v: 2 }, options: [1] }]));
  assert.ok(isMetadataError(e) && e.code === 'VALIDATION' && /must be an object/.test(e.message), String(e));
  assert.equal(e.index, 0);
  // Nothing was written.
  assert.deepEqual(await svc.load('view', 'a'), { v: 1 });
  assert.equal(await svc.load('view', 'b'), null);
  assert.equal((await svc.history('view', 'a')).length, 1);
  // Objects whose contents are not their members (JSON makes them {}, or a
  // boxed string's characters): refused, where they had been read as no
  // options, and the write made without its guard.
  // So are objects of other kinds without members of their own, which JSON
  // makes {} too: a Promise not awaited, a Proxy of a Map, a RegExp.
  for (const options of [new Map([['expectedVersion', 9]]), new Set(['x']), Object(5), Object('ab'), Object(true), Promise.resolve({ expectedVersion: 9 }), new Proxy(new Map([['expectedVersion', 9]]), {}), /x/]) {
    for (const call of [
      () => svc.save('view', 'a', { v: 2 }, options),
      () => svc.saveJson('view', 'a', '{"v":2}', options),
      () => svc.delete('view', 'a', options),
      () => svc.query(options),
    ]) {
      const e = await settles(Promise.resolve().then(call));
      assert.ok(isMetadataError(e) && e.code === 'VALIDATION' && /must be a plain object, not (a Map|a Set|a boxed value|an object of another kind without members)$/.test(e.message), `${call} ${options}: ${e}`);
    }
    // A batch item's: the item is named, nothing is written.
    const batch = await settles(svc.saveMany([{ type: 'view', name: 'b', data: { v: 1 } }, { type: 'view', name: 'a', data: { v: 9 }, options }]));
    assert.ok(isMetadataError(batch) && batch.code === 'VALIDATION', String(batch));
    assert.deepEqual([batch.index, batch.field, batch.key?.name], [1, 'options', 'a'], batch.message);
    assert.match(batch.message, /^batch item 1 \(view\/a\) failed: invalid options: must be a plain object/);
    // create()'s options too.
    await assert.rejects(MetadataService.create(options), (e) => isMetadataError(e) && e.code === 'VALIDATION' && /plain object/.test(e.message));
  }
  assert.equal(await svc.load('view', 'b'), null);
  // create() takes no list or Date for options either (they had been its
  // defaults).
  for (const options of [[], new Date(0), [{ tenant: 'x' }]]) {
    await assert.rejects(MetadataService.create(options), (e) => isMetadataError(e) && e.code === 'VALIDATION' && /must be an object/.test(e.message), String(options));
  }
  // Options given by a getter are judged as they are read (a Map had passed
  // as {}, the guard dropped), whether the list was walked as it is or
  // copied (a toJSON elsewhere in it).
  for (const other of [{ type: 'view', name: 'b', data: { v: 1 } }, { type: 'view', name: 'b', data: { v: 1, d: new Date(0) } }]) {
    const getter = await settles(svc.saveMany([other, { type: 'view', name: 'a', data: { v: 9 }, get options() { return new Map([['expectedVersion', 99]]); } }]));
    assert.ok(isMetadataError(getter) && getter.code === 'VALIDATION' && getter.index === 1, String(getter));
  }
  // The first item that cannot be stored is named, whichever check refuses
  // it.
  for (const [items, index] of [
    [[{ type: 'view', name: 'x', data: { f() {} } }, { type: 'view', name: 'y', data: {}, options: new Set() }], 0],
    [[{ type: 'view', name: 'x', data: {}, options: new Set() }, { type: 'view', name: 'y', data: { f() {} } }], 0],
    // What the core refuses (a missing definition, options that are a
    // list) comes before a later item's options, whichever side judges
    // them.
    [[{ type: 'view', name: 'x' }, { type: 'view', name: 'y', data: {}, options: new Set() }], 0],
    [[{ type: 'view', name: 'x', data: {}, options: [] }, { type: 'view', name: 'y', data: {}, options: new Set() }], 0],
    [[{ type: 'view', name: 'x' }, { type: 'view', name: 'y', data: {}, options: [] }], 0],
    [[{ type: 'view', name: 'x', data: {} }, { type: 'view', name: 'y', data: {}, options: new Map() }, { type: 'view', name: 'z' }], 1],
  ]) {
    const e = await settles(svc.saveMany(items));
    assert.ok(isMetadataError(e) && e.code === 'VALIDATION', String(e));
    assert.equal(e.index, index, e.message);
  }
  // Where the walk copied the list (a Date elsewhere in it), the options
  // are judged as the walk read them, not read again: an inherited getter
  // is no member, and a getter's first answer is the one written.
  class Item {
    constructor(name, data) { Object.assign(this, { type: 'view', name, data }); }
    get options() { return new Set(); }
  }
  for (const [i, other] of [{ type: 'view', name: 'c0', data: {} }, { type: 'view', name: 'c1', data: { at: new Date(0) } }].entries()) {
    const out = await svc.saveMany([new Item(`item${i}`, { v: 1 }), other]);
    assert.deepEqual(out.map((o) => [o.record.name, o.operation]), [[`item${i}`, 'create'], [other.name, 'create']]);
    let reads = 0;
    const flipping = { type: 'view', name: 'a', data: { v: 9 }, get options() { reads += 1; return reads === 1 ? new Map([['expectedVersion', 99]]) : {}; } };
    const e = await settles(svc.saveMany([{ ...other, name: 'd', data: { at: new Date(0) } }, flipping]));
    assert.ok(isMetadataError(e) && e.code === 'VALIDATION' && e.index === 1, String(e));
  }
  assert.equal(await svc.load('view', 'd'), null);
  // Options are judged by what JSON makes of them, on every path: a
  // toJSON's answer (a class with private fields) is the options, and a
  // toJSON answering a Map is refused.
  class SaveOptions {
    #version;
    constructor(version) { this.#version = version; }
    toJSON() { return { expectedVersion: this.#version }; }
  }
  const hidden = { toJSON: () => new Map([['expectedVersion', 99]]) };
  for (const save of [
    (options) => svc.save('view', 'a', { v: 9 }, options),
    (options) => svc.saveMany([{ type: 'view', name: 'a', data: { v: 9 }, options }]),
    // The walk of the list fails at item 1: item 0's options judged alike.
    (options) => svc.saveMany([{ type: 'view', name: 'a', data: { v: 9 }, options }, { type: 'view', name: 'b', data: { f() {} } }]),
  ]) {
    const guarded = await settles(save(new SaveOptions(99)));
    assert.ok(isMetadataError(guarded) && ['CONFLICT', 'VALIDATION'].includes(guarded.code), String(guarded));
    if (guarded.code === 'VALIDATION') assert.equal(guarded.index, 1, guarded.message);
    const refused = await settles(save(hidden));
    assert.ok(isMetadataError(refused) && refused.code === 'VALIDATION' && /not a Map/.test(refused.message), String(refused));
  }
  // A toJSON is asked once, by the walk, with the key JSON gives it: where
  // a later item fails, item 0's options are judged as that same reading.
  const byKey = { toJSON: (key) => (key === '' ? new Map([['expectedVersion', 99]]) : { tags: ['t'] }) };
  const laterFails = await settles(svc.saveMany([{ type: 'view', name: 'a', data: { v: 9 }, options: byKey }, { type: 'view', name: 'b', data: { f() {} } }]));
  assert.ok(isMetadataError(laterFails) && laterFails.index === 1 && /function/.test(laterFails.message), String(laterFails));
  // An item's toJSON too is asked with the key the list gives it, when a
  // later item fails as when none does.
  const keyed = { toJSON: (key) => ({ type: 'view', name: 'c', data: {}, options: key === '1' ? new Map([['expectedVersion', 1]]) : {} }) };
  for (const tail of [[], [{ type: 'view', name: 'b', data: { f() {} } }]]) {
    const e = await settles(svc.saveMany([{ type: 'view', name: 'ok', data: {} }, keyed, ...tail]));
    assert.ok(isMetadataError(e) && e.index === 1 && /not a Map/.test(e.message), String(e));
  }
  // A toJSON answering an object with a toJSON of its own: JSON would not
  // ask the second; save and saveMany refuse it alike.
  const nested = { toJSON: () => ({ toJSON: () => ({ expectedVersion: 99 }) }) };
  for (const e of [await settles(svc.save('view', 'a', { v: 9 }, nested)), await settles(svc.saveMany([{ type: 'view', name: 'a', data: { v: 9 }, options: nested }]))]) {
    assert.ok(isMetadataError(e) && e.code === 'VALIDATION', String(e));
  }
  // A toJSON answering null or nothing is no options, for save as for a
  // batch item (save had refused what saveMany took).
  for (const options of [{ toJSON: () => null }, { toJSON: () => undefined }]) {
    for (const save of [
      () => svc.save('view', 'nothing', { v: 1 }, options),
      () => svc.saveMany([{ type: 'view', name: 'nothing', data: { v: 1 }, options }]),
      () => svc.delete('view', 'nothing', options),
    ]) {
      assert.equal(await settles(save()), 'resolved', String(save));
    }
  }
  // Plain objects of another realm are plain objects.
  for (const options of [runInNewContext('({})'), runInNewContext('JSON.parse(\'{"expectedVersion": 99}\')')]) {
    const e = await settles(svc.save('view', 'realm', { v: 9 }, options));
    assert.ok(e === 'resolved' ? Object.keys(options).length === 0 : e.code === 'CONFLICT', String(e));
  }
  const other = await MetadataService.create(runInNewContext('({ tenant: "realm" })'));
  assert.equal(other.tenant, 'realm');
  other.free();
  assert.equal(await svc.load('view', 'b'), null);
  // Objects whose members are the options, whatever their prototype or
  // Symbol.toStringTag says: their guard holds.
  class Tagged { constructor(options) { Object.assign(this, options); } get [Symbol.toStringTag]() { return 'SaveOptions'; } }
  for (const options of [new Tagged({ expectedVersion: 7 }), Object.assign(Object.create(null), { expectedVersion: 7 }), { expectedVersion: 7, [Symbol.toStringTag]: 'Map' }]) {
    const e = await settles(svc.save('view', 'a', { v: 9 }, options));
    assert.ok(isMetadataError(e) && e.code === 'CONFLICT', String(e));
    const batch = await settles(svc.saveMany([{ type: 'view', name: 'a', data: { v: 9 }, options }]));
    assert.ok(isMetadataError(batch) && batch.code === 'CONFLICT', String(batch));
  }
  // Objects, undefined and null are options as before.
  const before = (await svc.changes({ since: 0 })).length;
  await svc.save('view', 'a', { v: 2 }, undefined);
  await svc.save('view', 'a', { v: 3 }, null);
  await svc.save('view', 'a', { v: 4 }, { expectedVersion: 3 });
  assert.equal((await svc.changes({ since: 0 })).length, before + 3);
  svc.subscribe(() => {}, { since: 0 })();
  svc.free();
});
