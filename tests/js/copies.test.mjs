// What a service hands back is the caller's own: every load a fresh object
// (also once the service keeps parsed objects to copy from), a save's
// record.data parsed on first read and then an ordinary property.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetadataService } from '@objectstack/metadata-wasm';

const definition = () => ({
  name: 'account',
  label: 'Account',
  fields: { name: { type: 'text', required: true }, tags: { type: 'select', options: ['a', 'b'] } },
  list: [1, 2.5, null, true, 'x', [], {}],
});

test('every load is a fresh object, on the first read and on every read after', async () => {
  const svc = await MetadataService.create();
  await svc.save('object', 'account', definition());
  const seen = [];
  for (let i = 0; i < 5; i++) {
    const got = await svc.load('object', 'account');
    assert.deepEqual(got, definition());
    for (const other of seen) {
      assert.notEqual(got, other);
      assert.notEqual(got.fields, other.fields);
      assert.notEqual(got.list[6], other.list[6]);
    }
    // The caller's changes stay the caller's.
    got.label = `changed ${i}`;
    got.fields.name.required = false;
    got.list.push('extra');
    seen.push(got);
  }
  const many = await svc.loadMany('object');
  assert.deepEqual(many, [definition()]);
  many[0].fields.tags.options.push('c');
  assert.deepEqual(await svc.loadMany('object'), [definition()]);
  assert.deepEqual(await svc.load('object', 'account'), definition());
});

test('a load after a change answers the new definition, never a kept copy of the old one', async () => {
  const svc = await MetadataService.create();
  const other = svc.derive({ actor: 'bob' });
  await svc.save('view', 'v', { n: 1 });
  for (let i = 0; i < 3; i++) assert.deepEqual(await svc.load('view', 'v'), { n: 1 });
  await other.save('view', 'v', { n: 2 });
  assert.deepEqual(await svc.load('view', 'v'), { n: 2 });
  await svc.rollback('view', 'v', 1);
  assert.deepEqual(await svc.load('view', 'v'), { n: 1 });
  await svc.delete('view', 'v');
  assert.equal(await svc.load('view', 'v'), null);
});

test('a __proto__ key survives as an own property in copies, and sets no prototype', async () => {
  const svc = await MetadataService.create();
  const data = JSON.parse('{"name":"p","__proto__":{"polluted":true},"nested":{"__proto__":[1]}}');
  await svc.save('object', 'p', data);
  for (let i = 0; i < 3; i++) {
    const got = await svc.load('object', 'p');
    assert.equal(Object.getPrototypeOf(got), Object.prototype);
    assert.ok(Object.hasOwn(got, '__proto__'));
    assert.deepEqual(Object.getOwnPropertyDescriptor(got, '__proto__').value, { polluted: true });
    assert.equal(got.polluted, undefined);
    assert.deepEqual(Object.getOwnPropertyDescriptor(got.nested, '__proto__').value, [1]);
  }
  assert.equal({}.polluted, undefined);
});

test('a save answers with the record it wrote; its data is the definition, as read back, on first read', async () => {
  const svc = await MetadataService.create();
  const given = definition();
  const outcome = await svc.save('object', 'account', given);
  assert.equal(outcome.changed, true);
  assert.deepEqual(Object.keys(outcome.record).at(-1), 'data');
  assert.deepEqual(outcome.record.data, given);
  assert.notEqual(outcome.record.data, given, 'a copy, not the argument');
  // Read once, it is an ordinary property: the same object on every read.
  assert.equal(outcome.record.data, outcome.record.data);
  outcome.record.data.label = 'mine';
  assert.equal(outcome.record.data.label, 'mine');
  assert.deepEqual(await svc.load('object', 'account'), given);
  // Serialising, spreading and cloning a record not yet read include it.
  const fresh = (await svc.save('object', 'other', { a: 1 })).record;
  assert.deepEqual(JSON.parse(JSON.stringify(fresh)).data, { a: 1 });
  assert.deepEqual({ ...(await svc.save('object', 'third', { b: 2 })).record }.data, { b: 2 });
  assert.deepEqual(structuredClone((await svc.save('object', 'fourth', { c: 3 })).record).data, { c: 3 });
  // Assigning before reading replaces it.
  const assigned = (await svc.save('object', 'fifth', { d: 4 })).record;
  assigned.data = 'replaced';
  assert.equal(assigned.data, 'replaced');
  // A frozen record still answers its data.
  const frozen = Object.freeze((await svc.save('object', 'sixth', { e: 5 })).record);
  assert.deepEqual(frozen.data, { e: 5 });
  assert.deepEqual(frozen.data, { e: 5 });
  // The same object on every read, as a member: changes to it stay.
  assert.equal(frozen.data, frozen.data);
  frozen.data.e = 6;
  assert.deepEqual(frozen.data, { e: 6 });
  // The text behind it is in no string key, and no copy carries it.
  const plainKeys = (await svc.save('object', 'seventh', { f: 6 })).record;
  assert.deepEqual(Object.getOwnPropertyNames(plainKeys), Object.keys(plainKeys));
  assert.equal(Object.getOwnPropertySymbols({ ...plainKeys }).length, 0);
  assert.equal(Object.getOwnPropertySymbols(structuredClone(plainKeys)).length, 0);
  // Read through a proxy (as reactive frameworks hold state), with or
  // without a trap that passes the receiver on.
  const proxied = (await svc.save('object', 'ninth', { h: 8 })).record;
  assert.deepEqual(new Proxy(proxied, {}).data, { h: 8 });
  const reactive = new Proxy((await svc.save('object', 'tenth', { i: 9 })).record, { get: (t, k, r) => Reflect.get(t, k, r) });
  assert.deepEqual(JSON.parse(JSON.stringify(reactive)).data, { i: 9 });
  assert.deepEqual({ ...reactive }.data, { i: 9 });
  assert.deepEqual(reactive.data, { i: 9 });
  // A proxy that refuses to take the parsed value still answers it.
  const refusing = new Proxy((await svc.save('object', 'twelfth', { k: 11 })).record, { defineProperty: () => false });
  assert.deepEqual(refusing.data, { k: 11 });
  assert.deepEqual(refusing.data, { k: 11 });
  const throwing = new Proxy((await svc.save('object', 'thirteenth', { l: 12 })).record, {
    defineProperty: () => { throw new Error('no'); },
  });
  assert.deepEqual(throwing.data, { l: 12 });
  // Assigning through an object inheriting from the record gives it its
  // own data, as with an ordinary member; the record keeps its own.
  const parent = (await svc.save('object', 'fourteenth', { m: 13 })).record;
  const child = Object.create(parent);
  child.data = 'mine';
  assert.ok(Object.hasOwn(child, 'data'));
  assert.equal(child.data, 'mine');
  assert.deepEqual(parent.data, { m: 13 });
  // The getter called on something else answers undefined, also on a
  // proxy whose prototype chain never ends.
  const getter = Object.getOwnPropertyDescriptor((await svc.save('object', 'fifteenth', {})).record, 'data').get;
  const endless = new Proxy({}, { getPrototypeOf: () => endless });
  assert.equal(getter.call(endless), undefined);
  assert.equal(getter.call({}), undefined);
  // Its members copied with their descriptors, the copy answers too.
  const source = (await svc.save('object', 'eleventh', { j: 10 })).record;
  const copied = Object.defineProperties({}, Object.getOwnPropertyDescriptors(source));
  assert.deepEqual(copied.data, { j: 10 });
  // Reached through an object that inherits from the record, the getter
  // answers the record's data and settles it on the record.
  const base = (await svc.save('object', 'eighth', { g: 7 })).record;
  const heir = Object.create(base);
  assert.deepEqual(heir.data, { g: 7 });
  assert.ok(Object.hasOwn(base, 'data'));
  assert.equal(Object.getOwnPropertyDescriptor(base, 'data').value, heir.data);
});

test('a save that changes nothing answers the stored version, its data as given (the same checksum)', async () => {
  const svc = await MetadataService.create();
  await svc.save('view', 'ordered', { a: 1, b: { c: 2, d: 3 } });
  // The same text again: the same definition.
  const same = await svc.save('view', 'ordered', { a: 1, b: { c: 2, d: 3 } });
  assert.equal(same.changed, false);
  assert.equal(same.record.version, 1);
  // Another key order has the same checksum: nothing is written.
  const reordered = await svc.save('view', 'ordered', { b: { d: 3, c: 2 }, a: 1 });
  assert.equal(reordered.changed, false);
  assert.equal(reordered.record.version, 1);
  assert.equal(reordered.record.checksum, same.record.checksum);
  assert.deepEqual(Object.keys(reordered.record.data), ['b', 'a']);
  // The stored text is untouched.
  assert.deepEqual(Object.keys(await svc.load('view', 'ordered')), ['a', 'b']);
  // saveJson: the same rules for a body given as text.
  const text = await svc.saveJson('view', 'ordered', '{"b":{"d":3,"c":2},"a":1}');
  assert.equal(text.changed, false);
  assert.deepEqual(Object.keys(text.record.data), ['b', 'a']);
  const changed = await svc.saveJson('view', 'ordered', '{"a":2}');
  assert.equal(changed.changed, true);
  assert.deepEqual(changed.record.data, { a: 2 });
  assert.equal((await svc.history('view', 'ordered')).length, 2);
});

test('a bulk save answers every outcome in order with its record and data, also past a mebibyte of answer', async () => {
  const svc = await MetadataService.create();
  // About 3 MB of answer: the module hands it over in pieces.
  const items = Array.from({ length: 600 }, (_, i) => ({
    type: 'view',
    name: `v${String(i).padStart(4, '0')}`,
    data: { i, text: 'é'.repeat(2000 + (i % 7)), __proto__: null, nested: { ['__proto__']: [i] } },
  }));
  const outcomes = await svc.saveMany(items);
  assert.equal(outcomes.length, items.length);
  // Before its data is read, a record keeps its definition's text, in a
  // buffer of its own: not a view of the answer's shared pieces, which
  // would keep a mebibyte alive with every record kept.
  const kept = (record) => Object.getOwnPropertySymbols(record).map((k) => record[k]);
  for (const o of [outcomes[0], outcomes[300], outcomes.at(-1)]) {
    const [text] = kept(o.record);
    assert.ok(text instanceof Uint8Array);
    assert.equal(text.buffer.byteLength, text.byteLength);
  }
  // A frozen record answers the same parsed object on every read, and
  // refuses an assignment as a frozen object does; a sealed one takes it;
  // one that only stops new members makes `data` a member as usual.
  const data = (i) => JSON.parse(JSON.stringify(items[i].data));
  const [frozen, sealed, closed] = [2, 3, 4].map((i) => outcomes[i].record);
  Object.freeze(frozen);
  Object.seal(sealed);
  Object.preventExtensions(closed);
  assert.equal(frozen.data, frozen.data);
  assert.deepEqual(frozen.data, data(2));
  frozen.data.i = 'changed';
  assert.equal(frozen.data.i, 'changed');
  assert.throws(() => { frozen.data = {}; }, TypeError);
  assert.equal(sealed.data, sealed.data);
  assert.deepEqual(sealed.data, data(3));
  sealed.data = { mine: true };
  assert.deepEqual(sealed.data, { mine: true });
  assert.deepEqual(closed.data, data(4));
  assert.deepEqual(Object.getOwnPropertyDescriptor(closed, 'data').value, data(4));
  // Through a proxy that says it defined `data` and has not, every read
  // still answers (the text is kept until `data` is really the value).
  const liar = new Proxy(outcomes[1].record, { defineProperty: () => true });
  assert.deepEqual(liar.data, JSON.parse(JSON.stringify(items[1].data)));
  assert.deepEqual(liar.data, JSON.parse(JSON.stringify(items[1].data)));
  assert.deepEqual(outcomes[1].record.data, JSON.parse(JSON.stringify(items[1].data)));
  outcomes.forEach((o, i) => {
    assert.equal(o.changed, true);
    assert.equal(o.operation, 'create');
    assert.equal(o.record.name, items[i].name);
    assert.equal(o.record.version, 1);
    assert.deepEqual(Object.keys(o.record).at(-1), 'data');
    if (i !== 2 && i !== 3) assert.deepEqual(o.record.data, JSON.parse(JSON.stringify(items[i].data)));
  });
  // Once read, the data is an ordinary member, and the text is let go.
  // (A frozen or sealed record keeps its text: it cannot be changed.)
  assert.deepEqual(outcomes.map((o) => kept(o.record).filter((t) => t !== undefined).length), outcomes.map((_, i) => (i === 2 || i === 3 ? 1 : 0)));
  // Each record's data is its own object.
  outcomes[0].record.data.i = 'mine';
  assert.equal(outcomes[1].record.data.i, 1);
  assert.deepEqual(await svc.load('view', items[0].name), JSON.parse(JSON.stringify(items[0].data)));
  // The same through saveManyJson, and an empty batch.
  const again = await svc.saveManyJson(JSON.stringify(items.slice(0, 3).map((it) => ({ ...it, data: { ...it.data, i: -1 } }))));
  assert.deepEqual(again.map((o) => [o.record.name, o.record.version, o.record.data.i]), [['v0000', 2, -1], ['v0001', 2, -1], ['v0002', 2, -1]]);
  assert.deepEqual(await svc.saveMany([]), []);
});

test('loadMany answers fresh objects in name order whether each is parsed, parsed and kept, or copied', async () => {
  const svc = await MetadataService.create();
  const data = (i) => ({ i, nested: { list: [i, { deep: `d${i}` }] }, ['__proto__']: { own: i } });
  for (let i = 4; i >= 0; i--) await svc.save('view', `v${i}`, data(i));
  // v1 read twice: its parsed object is kept, the others not yet.
  await svc.load('view', 'v1');
  await svc.load('view', 'v1');
  const answers = [];
  for (let round = 0; round < 4; round++) {
    const many = await svc.loadMany('view');
    assert.deepEqual(many.map((d) => d.i), [0, 1, 2, 3, 4]);
    many.forEach((d, i) => {
      assert.deepEqual(d, JSON.parse(JSON.stringify(data(i))));
      assert.ok(Object.hasOwn(d, '__proto__'));
      for (const earlier of answers) assert.notEqual(d.nested, earlier[i].nested);
    });
    // The caller's changes stay the caller's.
    for (const d of many) d.nested.list.push('mine');
    answers.push(many);
  }
  // After a change, the new definition, not a kept copy of the old one.
  await svc.save('view', 'v3', { i: 'changed' });
  assert.deepEqual((await svc.loadMany('view'))[3], { i: 'changed' });
});

test('answers carry every character as it was saved: Latin-1, the BMP, beyond it, lone surrogates, in keys and values', async () => {
  const svc = await MetadataService.create();
  const data = (i) => ({
    label: `Café ${i} — “quoted” → 北森 §②`,
    'clé_é': ['\u00ff', '\u0100', '\u07ff', '\u0800', '\uffff', '😀', '\u{10ffff}', `n${i}`],
    [`emoji_😀_${i}`]: { lone: '\ud800 and \udfff', mixed: 'a\u00e9b\u2014c\u{1f600}d', ascii: 'plain' },
    // Mostly ASCII, so the answers write the rest as escapes.
    padding: 'ascii text '.repeat(100),
  });
  for (let i = 0; i < 3; i++) await svc.save('view', `v${i}`, data(i));
  await svc.save('view', 'v0', { ...data(0), again: 'é' });
  // Twice: parsed from text, then copied from what was kept.
  for (let round = 0; round < 2; round++) {
    assert.deepEqual(await svc.load('view', 'v1'), data(1));
    assert.deepEqual(await svc.loadMany('view'), [{ ...data(0), again: 'é' }, data(1), data(2)]);
    assert.deepEqual((await svc.query({ type: 'view' })).items.map((r) => r.data), [{ ...data(0), again: 'é' }, data(1), data(2)]);
    assert.deepEqual((await svc.history('view', 'v0')).map((h) => h.data), [data(0), { ...data(0), again: 'é' }]);
  }
  const outcomes = await svc.saveMany([0, 1, 2].map((i) => ({ type: 'app', name: `a${i}`, data: data(i) })));
  assert.deepEqual(outcomes.map((o) => o.record.data), [data(0), data(1), data(2)]);
  // Mostly beyond ASCII (answers cross as UTF-8 then), and mixed in one answer.
  const chinese = (i) => ({ 标题: `元数据存储 ${i} `.repeat(50), 字段: ['名称', '所有者', `😀${i}`], lone: '\udbff' });
  await svc.saveMany([0, 1].map((i) => ({ type: 'page', name: `p${i}`, data: chinese(i) })));
  await svc.save('page', 'p2', data(2));
  for (let round = 0; round < 2; round++) {
    assert.deepEqual(await svc.load('page', 'p0'), chinese(0));
    assert.deepEqual(await svc.loadMany('page'), [chinese(0), chinese(1), data(2)]);
    assert.deepEqual((await svc.query({ type: 'page' })).items.map((r) => r.data), [chinese(0), chinese(1), data(2)]);
  }
});
