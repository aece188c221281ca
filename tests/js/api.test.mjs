// The JavaScript API as a user calls it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetadataService, isMetadataError, checksum, jsonText } from '@objectstack/metadata-wasm';

const rejectsWith = (promise, code, check = () => true) =>
  assert.rejects(promise, (e) => {
    assert.ok(e instanceof Error, 'a real Error');
    assert.equal(e.name, 'MetadataError');
    assert.equal(e.code, code, e.message);
    assert.ok(isMetadataError(e));
    return check(e) !== false;
  });

test('save, load, loadRecord, loadMany', async () => {
  const svc = await MetadataService.create({ tenant: 'acme', actor: 'alice' });
  assert.equal(svc.storeKind, 'memory');
  assert.equal(svc.tenant, 'acme');
  assert.equal(svc.actor, 'alice');
  const data = { label: 'All accounts', columns: ['name'], nested: { n: 1.5, z: null } };
  const out = await svc.save('view', 'all_accounts', data, { tags: ['crm'] });
  assert.equal(out.changed, true);
  assert.equal(out.operation, 'create');
  assert.equal(out.record.version, 1);
  assert.equal(out.record.checksum, checksum(data));
  assert.equal(out.record.tenant_id, 'acme');
  assert.deepEqual(out.record.tags, ['crm']);
  assert.equal(out.record.owner, 'alice');
  assert.match(out.record.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.deepEqual(await svc.load('view', 'all_accounts'), data);
  assert.deepEqual((await svc.loadRecord('view', 'all_accounts')).data, data);
  assert.equal(await svc.load('view', 'missing'), null);
  assert.equal(await svc.loadRecord('view', 'missing'), null);
  await svc.save('view', 'b_view', { b: 1 });
  await svc.save('object', 'account', { o: 1 });
  assert.deepEqual(await svc.loadMany('view'), [data, { b: 1 }]);
  // A returned object is the caller's own: mutating it changes nothing stored.
  const loaded = await svc.load('view', 'b_view');
  loaded.b = 99;
  assert.deepEqual(await svc.load('view', 'b_view'), { b: 1 });
});

test('jsonText: the text a save stores, in the author\'s key order, refusing what JSON cannot carry', async () => {
  const svc = await MetadataService.create();
  const data = { b: 1, a: [new String('xy'), { toJSON: (key) => `at ${key}` }], skip: undefined };
  const text = jsonText(data);
  assert.equal(text, '{"b":1,"a":[{"0":"x","1":"y"},"at 1"]}');
  await svc.save('view', 'v', data);
  assert.equal(JSON.stringify(await svc.load('view', 'v')), text);
  assert.equal((await svc.loadRecord('view', 'v')).checksum, checksum(JSON.parse(text)));
  for (const bad of [{ n: NaN }, { f() {} }, undefined, 10n]) {
    assert.throws(() => jsonText(bad), (e) => isMetadataError(e) && e.code === 'VALIDATION' && e.field === 'data', String(bad));
  }
});

test('no-op saves, versions, concurrency', async () => {
  const svc = await MetadataService.create();
  await svc.save('view', 'v', { a: 1, b: 2 });
  const same = await svc.save('view', 'v', { b: 2, a: 1 });
  assert.equal(same.changed, false);
  assert.equal(same.record.version, 1);
  const next = await svc.save('view', 'v', { a: 2 }, { expectedVersion: 1 });
  assert.equal(next.record.version, 2);
  await rejectsWith(svc.save('view', 'v', { a: 3 }, { expectedVersion: 1 }), 'CONFLICT', (e) => {
    assert.equal(e.actualVersion, 2);
    assert.deepEqual(e.key, { tenantId: null, type: 'view', name: 'v' });
  });
  await rejectsWith(svc.save('view', 'v', { a: 3 }, { expectedVersion: 0 }), 'CONFLICT');
  await rejectsWith(svc.save('view', 'v', { a: 3 }, { expectedChecksum: checksum({ a: 1 }) }), 'CONFLICT');
  // A version no JavaScript number says exactly is refused, as the server
  // and a cache of it refuse it; the largest safe one is a conflict.
  await rejectsWith(svc.save('view', 'v', { a: 3 }, { expectedVersion: Number.MAX_SAFE_INTEGER }), 'CONFLICT');
  for (const expectedVersion of [2 ** 53, 2 ** 60]) {
    await rejectsWith(svc.save('view', 'v', { a: 3 }, { expectedVersion }), 'VALIDATION', (e) => assert.equal(e.field, 'expectedVersion'));
    await rejectsWith(svc.delete('view', 'v', { expectedVersion }), 'VALIDATION');
    await rejectsWith(svc.saveMany([{ type: 'view', name: 'v', data: { a: 3 }, options: { expectedVersion } }]), 'VALIDATION');
  }
  assert.deepEqual(await svc.load('view', 'v'), { a: 2 });
  assert.equal((await svc.history('view', 'v')).length, 2);
});

test('delete, restore, purge, history, rollback', async () => {
  const svc = await MetadataService.create({ actor: 'bob' });
  for (const step of [1, 2, 3]) await svc.save('flow', 'f', { step });
  const del = await svc.delete('flow', 'f');
  assert.equal(del.record.is_active, false);
  assert.equal(await svc.load('flow', 'f'), null);
  await rejectsWith(svc.delete('flow', 'f'), 'NOT_FOUND');
  assert.equal((await svc.restore('flow', 'f')).record.version, 5);
  const rb = await svc.rollback('flow', 'f', 1);
  assert.equal(rb.operation, 'rollback');
  assert.deepEqual(rb.record.data, { step: 1 });
  await rejectsWith(svc.rollback('flow', 'f', 42), 'NOT_FOUND');
  await svc.purge('flow', 'f');
  assert.equal(await svc.loadRecord('flow', 'f'), null);
  const history = await svc.history('flow', 'f');
  assert.deepEqual(history.map((h) => h.operation), ['create', 'update', 'update', 'delete', 'restore', 'rollback', 'purge']);
  assert.deepEqual(history.map((h) => h.version), [1, 2, 3, 4, 5, 6, 7]);
  assert.ok(history.every((h) => h.actor === 'bob' && h.checksum === checksum(h.data)));
});

test('query and saveMany', async () => {
  const svc = await MetadataService.create();
  const outs = await svc.saveMany([
    { type: 'view', name: 'a', data: {}, options: { tags: ['crm'] } },
    { type: 'view', name: 'b', data: { x: 1 }, options: { source: 'api' } },
    { type: 'app', name: 'c', data: {} },
  ]);
  assert.deepEqual(outs.map((o) => o.record.version), [1, 1, 1]);
  const page = await svc.query({ type: 'view', limit: 1, offset: 1 });
  assert.equal(page.total, 2);
  assert.deepEqual(page.items.map((r) => r.name), ['b']);
  assert.deepEqual((await svc.query({ tags: ['crm'] })).items.map((r) => r.name), ['a']);
  assert.deepEqual((await svc.query({ source: 'api' })).items.map((r) => r.name), ['b']);
  // All or nothing, and the error names the item.
  await rejectsWith(
    svc.saveMany([{ type: 'view', name: 'd', data: {} }, { type: 'view', name: 'Bad Name', data: {} }]),
    'VALIDATION',
    (e) => assert.equal(e.index, 1),
  );
  assert.equal(await svc.load('view', 'd'), null);
  // An item of the wrong shape is named too, with no position in a text
  // the caller never saw.
  const items = () => Array.from({ length: 300 }, (_, i) => ({ type: 'view', name: `w${i}`, data: { i } }));
  const wrong = [
    [(a) => { a[123].name = 5; }, /w?.*string/],
    [(a) => { a[123] = null; }, /./],
    [(a) => { a[123].tag = 1; }, /unknown field `tag`/],
    [(a) => { delete a[123].data; }, /missing field `data`/],
    // A list is not an item: serde had read it as the members in order.
    [(a) => { a[123] = ['view', 'w123', { i: 123 }]; }, /invalid type: sequence, expected an object/],
  ];
  for (const [spoil, message] of wrong) {
    const a = items();
    spoil(a);
    // As objects and as the server's JSON text.
    for (const save of [() => svc.saveMany(a), () => svc.saveManyJson(JSON.stringify(a))]) {
      await rejectsWith(save(), 'VALIDATION', (e) => {
        assert.equal(e.index, 123);
        assert.match(e.message, message);
        assert.doesNotMatch(e.message, /line \d+ column/);
      });
    }
  }
  assert.equal(await svc.load('view', 'w0'), null);
  // So is an item whose definition has no JSON form, or throws while it is
  // read, with its key.
  const unreadable = [
    [(a) => { Object.defineProperty(a[123].data, 'g', { enumerable: true, get() { throw new Error('boom'); } }); }, /: boom$/],
    [(a) => { a[123].data.n = 1n; }, /"n": BigInt values have no JSON form/],
    [(a) => { a[123].data = { toJSON() { throw new RangeError('no JSON today'); } }; }, /no JSON today/],
    [(a) => { a[123].data.list = [1, () => 2]; }, /"list": \[1\]: a function has no JSON form/],
  ];
  for (const [spoil, message] of unreadable) {
    const a = items();
    spoil(a);
    await rejectsWith(svc.saveMany(a), 'VALIDATION', (e) => {
      assert.equal(e.index, 123);
      assert.deepEqual(e.key, { tenantId: null, type: 'view', name: 'w123' });
      assert.match(e.message, message);
    });
  }
  // Holes and undefined items are null in the list (and refused later as
  // items of the wrong shape): the item to blame is the one that fails.
  const bigint = { type: 'view', name: 'b2', data: { f: 1n } };
  for (const list of [[, { type: 'view', name: 'ok', data: {} }, bigint], [undefined, bigint, null], [{ toJSON() {} }, bigint]]) {
    await rejectsWith(svc.saveMany(list), 'VALIDATION', (e) => {
      assert.equal(e.index, list.indexOf(bigint));
      assert.equal(e.key.name, 'b2');
      assert.match(e.message, /"f": BigInt values have no JSON form/);
    });
  }
  // A list too large only as a whole names no item, and its items are not
  // walked again to look for one (each walk reads every getter).
  const huge = Array.from({ length: 3 }, (_, i) => ({ type: 'view', name: `h${i}`, data: { s: 'x'.repeat(30 * 2 ** 20) } }));
  await rejectsWith(svc.saveMany([, ...huge]), 'VALIDATION', (e) => {
    assert.equal(e.index, undefined);
    assert.match(e.message, /larger than/);
  });
  let reads = 0;
  const shared = { type: 'view', name: 'same', data: { s: 'x'.repeat(2 ** 20), get t() { reads += 1; return 1; } } };
  await rejectsWith(svc.saveMany(new Array(100).fill(shared)), 'VALIDATION', (e) => {
    assert.equal(e.index, undefined);
    assert.match(e.message, /larger than/);
  });
  // Two walks up to the limit (64 items of 1 MiB), not a third of all 100.
  assert.ok(reads <= 2 * 65, `${reads} reads`);
  // Whatever the list's own getters throw, the item named is a real one.
  for (let throwOn = 1; throwOn <= 4; throwOn++) {
    let n = 0;
    const list = [];
    Object.defineProperty(list, 0, {
      enumerable: true,
      get() {
        n += 1;
        if (n === throwOn) throw { itemIndex: 5, type: 'evil', name: 'smuggled', message: 'hi' };
        return { type: 'view', name: 'g', data: { f: 1n } };
      },
    });
    await rejectsWith(svc.saveMany(list), 'VALIDATION', (e) => {
      assert.notEqual(e.index, 5);
      assert.notEqual(e.key?.type, 'evil');
    });
  }
  assert.equal((await svc.query({ type: 'view' })).items.some((r) => /^[wh]\d/.test(r.name)), false);
});

test('saveMany reads each item as JSON.stringify prints the list', async () => {
  const svc = await MetadataService.create();
  const item = (name, data) => ({ type: 'view', name, data });
  // Items whose definition JSON.stringify leaves out: none, undefined,
  // inherited, or not enumerable. Each is an item without one.
  class Inherits {
    constructor(name) {
      this.type = 'view';
      this.name = name;
    }

    get data() {
      return { from: 'the prototype' };
    }
  }
  const hidden = { type: 'view', name: 'x' };
  Object.defineProperty(hidden, 'data', { value: { hidden: true }, enumerable: false });
  class Throws {
    constructor(name) {
      this.type = 'view';
      this.name = name;
    }

    get data() {
      throw new Error('an inherited member is never read');
    }
  }
  const own = JSON.parse('{"type":"view","name":"x","data":{},"__proto__":{"polluted":true}}');
  const cases = [
    [{ type: 'view', name: 'x' }, /missing field `data`/],
    [item('x', undefined), /missing field `data`/],
    [new Inherits('x'), /missing field `data`/],
    [new Throws('x'), /missing field `data`/],
    [hidden, /missing field `data`/],
    [own, /unknown field `__proto__`/],
    [item('x', null), /./],
  ];
  for (const [bad, message] of cases) {
    await rejectsWith(svc.saveMany([item('ok', {}), bad]), 'VALIDATION', (e) => {
      assert.equal(e.index, 1, e.message);
      assert.match(e.message, message);
    });
  }
  assert.equal(await svc.load('view', 'ok'), null);
  // A `data` accessor on Object.prototype is not called on the way.
  let called = 0;
  Object.defineProperty(Object.prototype, 'data', { configurable: true, get() { called += 1; }, set() { called += 1; } });
  try {
    const [saved] = await svc.saveMany([item('polluted', { p: 1 })]);
    assert.equal(saved.record.checksum, checksum({ p: 1 }));
  } finally {
    delete Object.prototype.data;
  }
  assert.equal(called, 0);
  // What JSON.stringify prints of an item is what is saved: a toJSON of
  // the item, a proxy, a definition that prints as its toJSON says, text
  // beyond Latin-1 and a lone surrogate.
  const data = { s: 'caf\u00e9 \u2014 \u4e2d\u6587 \ud83d\ude00', lone: '\ud800x', when: new Date(0) };
  const outcomes = await svc.saveMany([
    { toJSON: () => item('by_to_json', { a: 1 }) },
    new Proxy(item('proxied', { b: 2 }), {}),
    item('texts', data),
    item('empty', {}),
  ]);
  assert.deepEqual(outcomes.map((o) => o.record.name), ['by_to_json', 'proxied', 'texts', 'empty']);
  assert.deepEqual(await svc.load('view', 'by_to_json'), { a: 1 });
  assert.deepEqual(await svc.load('view', 'proxied'), { b: 2 });
  assert.deepEqual(await svc.load('view', 'texts'), JSON.parse(JSON.stringify(data)));
  assert.equal(outcomes[2].record.checksum, checksum(data));
  assert.deepEqual(outcomes[2].record.data, JSON.parse(JSON.stringify(data)));
  // The list's size is counted as one text's, to the byte: a list of
  // exactly the limit is taken, one byte more refused.
  const limit = 64 * 2 ** 20;
  // (Nine definitions: each may take 8 MiB.)
  const sized = (extra) => {
    const list = Array.from({ length: 9 }, (_, i) => item(`big${i}`, { s: '' }));
    const room = limit + extra - JSON.stringify(list).length;
    list.forEach((it, i) => { it.data.s = 'x'.repeat(Math.floor(room / 9) + (i < room % 9 ? 1 : 0)); });
    assert.equal(JSON.stringify(list).length, limit + extra);
    return list;
  };
  await rejectsWith(svc.saveMany(sized(1)), 'VALIDATION', (e) => assert.match(e.message, /larger than/));
  const big = await svc.saveMany(sized(0));
  assert.equal(big.length, 9);
  // The same items as one JSON text: the same records.
  const again = await MetadataService.create();
  const fromText = await again.saveManyJson(JSON.stringify([item('texts', data)]));
  assert.equal(fromText[0].record.checksum, outcomes[2].record.checksum);
});

test('the chain: registry and files below the database, with diagnostics', async () => {
  const svc = await MetadataService.create({
    files: { 'views/home.view.yaml': 'label: Home (file)\n', 'apps/crm.app.json': '{"label": "CRM"}' },
  });
  let r = await svc.resolve('view', 'home');
  assert.equal(r.layer, 'filesystem');
  assert.deepEqual(r.data, { label: 'Home (file)' });
  assert.equal(r.record, null);
  await svc.register('view', 'home', { label: 'Home (code)' });
  assert.equal((await svc.resolve('view', 'home')).layer, 'registry');
  await svc.save('view', 'home', { label: 'Home (db)' });
  r = await svc.resolve('view', 'home');
  assert.equal(r.layer, 'database');
  assert.equal(r.record.version, 1);
  assert.deepEqual(r.degraded, []);
  assert.equal((await svc.resolve('view', 'home')).fromCache, true);
  assert.deepEqual(await svc.loadMany('app'), [{ label: 'CRM' }]);
  await rejectsWith(MetadataService.create({ files: { 'views/x.view.json': '{oops' } }), 'VALIDATION');
});

test('create options: a misspelt or misplaced option is refused, not ignored', async () => {
  await rejectsWith(MetadataService.create({ stor: 'memory' }), 'VALIDATION', (e) => /stor/.test(e.message));
  await rejectsWith(MetadataService.create({ store: 'disk' }), 'VALIDATION', (e) => /unknown store/.test(e.message));
  // A storage bucket holds IndexedDB only, and its name follows the API's rule.
  await rejectsWith(MetadataService.create({ store: 'memory', bucket: 'meta' }), 'VALIDATION', (e) => /bucket/.test(e.message));
  for (const bucket of ['Meta', '', { name: 'meta', quota: 0 }, { name: 'meta', size: 1 }, 42]) {
    await rejectsWith(MetadataService.create({ store: 'indexeddb', bucket }), 'VALIDATION', (e) => /bucket/.test(e.message));
  }
  // Node has no IndexedDB: said plainly, and 'auto' says what it fell back to.
  await rejectsWith(MetadataService.create({ store: 'indexeddb', bucket: 'meta' }), 'STORAGE_UNAVAILABLE');
  const auto = await MetadataService.create({ store: 'auto', bucket: 'meta' });
  assert.equal(auto.storeKind, 'memory');
  assert.match(auto.storeNote, /^memory \(auto\): nothing persists; IndexedDB unavailable: .*storage bucket/);
});

test('tenants see their own records and global ones, never each other', async () => {
  const records = new Map();
  const host = {
    get: (k) => records.get(k),
    put: (k, v) => void records.set(k, v),
    delete: (k) => void records.delete(k),
    list: (p) => [...records].filter(([k]) => k.startsWith(p)).map(([, v]) => v),
  };
  const global = await MetadataService.create({ store: host });
  const acme = await MetadataService.create({ store: host, tenant: 'acme' });
  const globex = await MetadataService.create({ store: host, tenant: 'globex' });
  await global.save('view', 'home', { who: 'global' });
  await acme.save('view', 'home', { who: 'acme' });
  await acme.save('view', 'secret', { who: 'acme' });
  assert.deepEqual(await acme.load('view', 'home'), { who: 'acme' });
  assert.deepEqual(await globex.load('view', 'home'), { who: 'global' });
  assert.equal(await globex.load('view', 'secret'), null);
  assert.deepEqual(await globex.loadMany('view'), [{ who: 'global' }]);
});

test('access policy: FORBIDDEN names the operation and type', async () => {
  const policy = { roles: { designer: { view: ['read', 'write'] }, admin: { '*': ['admin'] } } };
  const dan = await MetadataService.create({ actor: 'dan', roles: ['designer'], policy });
  await dan.save('view', 'v', {});
  await rejectsWith(dan.save('object', 'o', {}), 'FORBIDDEN', (e) => {
    assert.equal(e.operation, 'save');
    assert.equal(e.type, 'object');
    assert.equal(e.permission, 'write');
    assert.equal(e.actor, 'dan');
  });
  await rejectsWith(dan.purge('view', 'v'), 'FORBIDDEN', (e) => assert.equal(e.operation, 'purge'));
  await rejectsWith(dan.load('object', 'o'), 'FORBIDDEN');
});

test('changes with a limit count what the actor may read, reading past what it may not', async () => {
  const policy = { roles: { designer: { view: ['read', 'write'] }, admin: { '*': ['admin'] } } };
  const admin = await MetadataService.create({ actor: 'ann', roles: ['admin'], policy });
  for (let i = 0; i < 3; i++) await admin.save('flow', `f${i}`, { i });
  await admin.save('view', 'v0', {});
  for (let i = 3; i < 6; i++) await admin.save('flow', `f${i}`, { i });
  await admin.save('view', 'v1', {});
  const dan = admin.derive({ actor: 'dan', roles: ['designer'] });
  const seqs = async (query) => (await dan.changes(query)).map((e) => `${e.name}#${e.sequence}`);
  assert.deepEqual(await seqs({ since: 0, limit: 1 }), ['v0#4']);
  assert.deepEqual(await seqs({ since: 4, limit: 1 }), ['v1#8']);
  assert.deepEqual(await seqs({ since: 0, limit: 5 }), ['v0#4', 'v1#8']);
  assert.deepEqual(await seqs({ since: 8, limit: 1 }), []);
  assert.deepEqual(await seqs({ since: 0 }), ['v0#4', 'v1#8']);
  assert.equal((await admin.changes({ since: 0, limit: 2 })).length, 2);
});

test('subscribe: every committed change, nothing for no-ops or refusals', async () => {
  const svc = await MetadataService.create();
  const events = [];
  const unsubscribe = svc.subscribe((e) => events.push(e));
  svc.subscribe(() => { throw new Error('a broken listener'); });
  await svc.save('view', 'v', { a: 1 });
  await svc.save('view', 'v', { a: 1 });
  await svc.save('view', 'v', { a: 2 }, { expectedVersion: 7 }).catch(() => {});
  await svc.delete('view', 'v');
  unsubscribe();
  await svc.restore('view', 'v');
  assert.deepEqual(events.map((e) => [e.sequence, e.operation, e.version]), [[1, 'create', 1], [2, 'delete', 2]]);
  assert.equal(events[0].checksum, checksum({ a: 1 }));
  assert.equal(events[0].type, 'view');
});

test('no bad call kills the module', async () => {
  const svc = await MetadataService.create();
  const deep = [];
  let cur = deep;
  for (let i = 0; i < 10000; i++) { const next = []; cur.push(next); cur = next; }
  const cyclic = {};
  cyclic.self = cyclic;
  const bad = [
    () => svc.save(), () => svc.save(1, 2, 3), () => svc.save('view', 'v', null), () => svc.save('view', 'v', [1]),
    () => svc.save('view', 'v', 'text'), () => svc.save('view', 'v', { n: NaN }), () => svc.save('view', 'v', { d: deep }),
    () => svc.save('view', 'v', cyclic), () => svc.save('view', 'v', { b: 10n }), () => svc.save('view', 'v', {}, 'opts'),
    () => svc.save('view', 'v', {}, { expectedVersion: -1 }), () => svc.save('view', 'v', {}, { expectedVersion: 1.5 }),
    () => svc.save('view', 'v', {}, { tags: 'crm' }), () => svc.save('view', 'v', {}, { nope: 1 }),
    () => svc.save('view', '__proto__', {}), () => svc.save('view', 'x'.repeat(10000), {}), () => svc.save('View', 'v', {}),
    () => svc.load(null, undefined), () => svc.loadMany({}), () => svc.query({ updatedSince: 'yesterday' }),
    () => svc.query({ limit: -1 }), () => svc.query('everything'), () => svc.rollback('view', 'v', 'one'),
    () => svc.rollback('view', 'v', 0), () => svc.rollback('view', 'v', 2 ** 60), () => svc.saveMany('nope'),
    () => svc.saveMany([{ type: 'view' }]), () => svc.register('view', 'v', 5), () => svc.history('view', ''),
    () => MetadataService.create({ store: 42 }), () => MetadataService.create({ tenant: '' }),
    () => MetadataService.create({ policy: { roles: { r: { view: ['fly'] } } } }), () => MetadataService.create('x'),
    () => MetadataService.create({ mode: 'sideways' }),
    // Lists where objects belong: serde had read them as members in order
    // (this policy as allowAll: true, this manifest as a record to fetch).
    () => MetadataService.create({ policy: [true] }), () => svc.diff([['view', 'v', 1, '0'.repeat(32)]]),
    () => svc.mirror([], { gone: [[null, 'view', 'v']] }),
  ];
  for (const [i, call] of bad.entries()) {
    await assert.rejects(Promise.resolve().then(call), (e) => {
      assert.equal(e.name, 'MetadataError', `call ${i}: ${e}`);
      assert.ok(['VALIDATION', 'NOT_FOUND'].includes(e.code), `call ${i}: ${e.code} ${e.message}`);
      return true;
    });
  }
  assert.throws(() => svc.subscribe('not a function'), (e) => e.code === 'VALIDATION');
  // A path is said in full up to eight steps, in a batch as alone.
  const eight = { k0: { k1: { k2: { k3: { k4: { k5: { k6: 1n } } } } } } };
  await assert.rejects(svc.save('view', 'v', eight), (e) => e.message === 'invalid data: "k0": "k1": "k2": "k3": "k4": "k5": "k6": BigInt values have no JSON form');
  await assert.rejects(svc.saveMany([{ type: 'view', name: 'v', data: eight }]), (e) => e.index === 0 && e.message.endsWith('failed: invalid item: "data": "k0": "k1": "k2": "k3": "k4": "k5": "k6": BigInt values have no JSON form'));
  // A cycle's path is said in a few steps, not one per level.
  await assert.rejects(svc.save('view', 'v', { a: [cyclic] }), (e) => {
    assert.match(e.message, /^invalid data: "a": \[0\]: "self": "self": "self": "self": \(119 more\): "self": "self": nesting deeper than 127 levels/);
    return e.code === 'VALIDATION';
  });
  // Still alive and correct.
  const out = await svc.save('view', 'alive', { ok: true });
  assert.equal(out.record.version, 1);
  assert.deepEqual(await svc.load('view', 'alive'), { ok: true });
  assert.equal(checksum({ b: 1, a: 2 }), '620a7530f307c3f3f111d443a4109815');
});

test('checksum sync: diff a manifest, fetch only what changed, apply in one go', async () => {
  const server = await MetadataService.create();
  const client = await MetadataService.create();
  for (const [name, data] of [['a', { v: 1 }], ['b', { v: 1 }], ['c', { v: 1 }]]) {
    await server.save('view', name, data);
    await client.save('view', name, data);
  }
  await server.save('view', 'b', { v: 2 });
  await server.save('view', 'd', { v: 1 });
  await client.save('view', 'local', {});
  const manifest = (await server.query({ active: true })).items.map((r) => ({ type: r.type, name: r.name, version: r.version, checksum: r.checksum }));

  const plan = await client.diff(manifest);
  assert.deepEqual(plan.stale.map((e) => e.name), ['b']);
  assert.deepEqual(plan.missing.map((e) => e.name), ['d']);
  assert.deepEqual(plan.extra.map((e) => e.name), ['local']);
  assert.equal(plan.unchanged, 2);

  const asked = [];
  const fetch = async (entries) => {
    asked.push(...entries.map((e) => e.name));
    return Promise.all(entries.map(async (e) => ({ type: e.type, name: e.name, data: await server.load(e.type, e.name) })));
  };
  const result = await client.sync(manifest, fetch);
  assert.deepEqual(asked.sort(), ['b', 'd'], 'only what changed is fetched');
  assert.equal(result.applied.length, 2);
  assert.deepEqual(await client.load('view', 'b'), { v: 2 });
  assert.equal((await client.diff(manifest)).unchanged, 4);
  // A second sync fetches nothing.
  const again = await client.sync(manifest, () => { throw new Error('must not be called'); });
  assert.equal(again.applied.length, 0);
  // A body that does not match its checksum is refused, nothing applied.
  await server.save('view', 'a', { v: 3 });
  const manifest2 = (await server.query({ active: true })).items.map((r) => ({ type: r.type, name: r.name, checksum: r.checksum }));
  await assert.rejects(client.sync(manifest2, (entries) => entries.map((e) => ({ type: e.type, name: e.name, data: { forged: true } }))), (e) => e.code === 'VALIDATION');
  assert.deepEqual(await client.load('view', 'a'), { v: 1 });
  await assert.rejects(client.sync(manifest2, () => { throw new Error('offline'); }), (e) => e.code === 'HOST_CALLBACK_FAILED' && e.operation === 'fetch');
  // An answer that is not data is the caller's bad data too, not a failed
  // callback: nested too deep, NaN, a function, not a list.
  let deep = {};
  for (let i = 0; i < 200; i++) deep = { deep };
  for (const answer of [
    (entries) => entries.map((e) => ({ type: e.type, name: e.name, data: deep })),
    (entries) => entries.map((e) => ({ type: e.type, name: e.name, data: { v: NaN } })),
    async (entries) => entries.map((e) => ({ type: e.type, name: e.name, data: { f() {} } })),
    () => 'records',
  ]) {
    await assert.rejects(client.sync(manifest2, answer), (e) => e.code === 'VALIDATION' && e.field === 'fetched', String(answer));
  }
  assert.deepEqual(await client.load('view', 'a'), { v: 1 });
});

test('limits and offsets take any non-negative integer; Number.MAX_SAFE_INTEGER means no limit', async () => {
  const svc = await MetadataService.create();
  for (const name of ['a', 'b', 'c']) await svc.save('view', name, { name });
  // Counts past 2^32 - 1 were refused in WebAssembly ("expected usize").
  for (const limit of [2 ** 32, Number.MAX_SAFE_INTEGER, 1e21]) {
    assert.equal((await svc.changes({ since: 0, limit })).length, 3, String(limit));
    const page = await svc.query({ type: 'view', limit });
    assert.deepEqual(page.items.map((r) => r.name), ['a', 'b', 'c'], String(limit));
    // The page says the count it was given (it had said 2^32 - 1 for any
    // past it); 1e21 is past what a count holds.
    if (limit <= Number.MAX_SAFE_INTEGER) assert.equal(page.limit, limit);
  }
  const far = await svc.query({ type: 'view', offset: 2 ** 32 });
  assert.deepEqual([far.items.length, far.offset, far.total], [0, 2 ** 32, 3]);
  assert.equal((await svc.query({ type: 'view', offset: Number.MAX_SAFE_INTEGER })).offset, Number.MAX_SAFE_INTEGER);
  assert.equal((await svc.query({ type: 'view', offset: 1, limit: 1 })).items[0].name, 'b');
  for (const bad of [-1, 1.5, '2', true]) {
    for (const call of [() => svc.changes({ since: 0, limit: bad }), () => svc.query({ limit: bad }), () => svc.query({ offset: bad })]) {
      await assert.rejects(call(), (e) => e.code === 'VALIDATION' && /a non-negative integer/.test(e.message), `${bad} ${call}`);
    }
  }
  svc.free();
});
