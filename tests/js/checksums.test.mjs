// Checksums agree with upstream's canonicalize / hashSpec on values JSON
// itself treats differently (wrapper objects, toJSON, lone surrogates), and
// a value too large to store is refused before it is serialised whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { canonicalize as upstreamCanonicalize, hashSpec } from '@objectstack/metadata-core';
import { MetadataService, canonicalize, checksum, contentHash } from '@objectstack/metadata-wasm';

const md5 = (text) => createHash('md5').update(text, 'utf8').digest('hex');

class Money {
  constructor(amount) {
    this.amount = amount;
  }

  // Called by upstream with the member's key.
  toJSON(key) {
    return { amount: this.amount, key };
  }
}

class Self {
  constructor() {
    this.b = 2;
    this.a = 1;
  }

  // Returns itself: upstream then walks its own keys.
  toJSON() {
    return this;
  }
}

// A toJSON result whose own toJSON is never called (neither by upstream nor
// by JSON.stringify), even when calling it would fail.
class Inner {
  constructor() {
    this.kept = 1;
  }

  toJSON() {
    return 1n;
  }
}

// A toJSON JSON.stringify calls though no walk over keys meets it: not
// enumerable, or answered by a proxy's trap.
const hiddenToJson = (result) => Object.defineProperty({ a: 1 }, 'toJSON', { value: () => result });
const trappedToJson = (result) => new Proxy({ a: 1 }, { get: (t, k, r) => (k === 'toJSON' ? () => result : Reflect.get(t, k, r)) });

const cases = {
  'a toJSON that is not enumerable': { inner: hiddenToJson(new String('ab')) },
  'a toJSON that is not enumerable, on an object without prototype': {
    inner: Object.defineProperty(Object.create(null), 'toJSON', { value: () => new Number(3) }),
  },
  'a toJSON from a proxy': { inner: trappedToJson({ s: new String('xy') }) },
  'a toJSON result with a toJSON of its own': { outer: { toJSON: () => new Inner() } },
  'a String object': { s: new String('ab') },
  'a Number object': { n: new Number(5) },
  'a Boolean object': { b: new Boolean(false) },
  'wrappers in an array': { list: [new String('x'), new Number(1), new Boolean(true)] },
  'toJSON with its key': { price: new Money(3), list: [new Money(4)] },
  'nested toJSON': { outer: { toJSON: () => ({ inner: new Money(1) }) } },
  'a toJSON returning this': { self: new Self() },
  'a Date': { at: new Date(0) },
  'lone surrogates': { '\ud800': 'x\udfff', '\uff01': '\ud83d\ude00', k: ['\udc00'] },
  'a String object of a surrogate pair': { s: new String('\ud83d\ude00') },
};

for (const [name, value] of Object.entries(cases)) {
  test(`checksum, contentHash and canonicalize agree with upstream: ${name}`, () => {
    const text = upstreamCanonicalize(value);
    assert.equal(canonicalize(value), text);
    assert.equal(checksum(value), md5(text));
    assert.equal(contentHash(value), hashSpec(value));
  });
}

test('text of 1- to 4-byte UTF-8 characters, wherever they fall, crosses whole', () => {
  // The module copies a text in as UTF-8 into room for a byte a unit and a
  // little more first, the rest after: characters of every length, few and
  // many, at every place, so the first copy ends before, inside and after
  // each, or takes it all.
  for (const wide of ['é', '€', '😀', '\ud800', 'é€😀']) {
    for (const [before, times] of [...Array(12).keys()].flatMap((b) => [[b, 1], [b, 8], [b, 40]])) {
      for (const after of [0, 1, 5]) {
        const value = { k: 'a'.repeat(before) + wide.repeat(times) + 'b'.repeat(after), [wide]: [wide, 'c'.repeat(before)] };
        const text = upstreamCanonicalize(value);
        assert.equal(canonicalize(value), text);
        assert.equal(checksum(value), md5(text));
      }
    }
  }
});

test('a polluted Object.prototype (an enumerable key, a toJSON) changes checksums as it changes upstream\'s', () => {
  const value = { b: { d: { f: 2, e: 'x' } }, a: null };
  const clean = checksum(value);
  try {
    Object.prototype.polluted = 'inherited';
    assert.equal(canonicalize(value), upstreamCanonicalize(value));
    assert.equal(checksum(value), clean, 'inherited keys are not data');
  } finally {
    delete Object.prototype.polluted;
  }
  try {
    // A String object: upstream walks it as an object, JSON.stringify
    // unwraps it.
    Object.defineProperty(Object.prototype, 'toJSON', { value() { return new String(Object.keys(this).join()); }, configurable: true });
    assert.equal(canonicalize(value), upstreamCanonicalize(value));
    assert.notEqual(checksum(value), clean);
  } finally {
    delete Object.prototype.toJSON;
  }
  assert.equal(checksum(value), clean);
});

test('what a hidden or trapped toJSON returns is refused as upstream refuses it', async () => {
  const svc = await MetadataService.create();
  for (const data of [hiddenToJson({ n: NaN }), hiddenToJson({ n: 1, f() {} }), { inner: trappedToJson({ n: Infinity }) }]) {
    assert.throws(() => upstreamCanonicalize(data));
    assert.throws(() => checksum(data), (e) => e.code === 'VALIDATION');
    await assert.rejects(svc.save('view', 'v', data), (e) => e.code === 'VALIDATION');
  }
  assert.equal((await svc.query({})).total, 0);
});

test('a saved definition holding lone surrogates keeps them and its checksum', async () => {
  const svc = await MetadataService.create();
  const data = { label: 'a\ud800b', '\udc00': ['\udfff'] };
  const { record } = await svc.save('view', 'lone', data);
  assert.equal(record.checksum, md5(upstreamCanonicalize(data)));
  assert.deepEqual(await svc.load('view', 'lone'), data);
  assert.deepEqual((await svc.history('view', 'lone'))[0].data, data);
});

test('a definition over the size limit is refused before the rest of it is read', async () => {
  const svc = await MetadataService.create();
  let read = false;
  const data = { big: 'x'.repeat(8 * 1024 * 1024 + 1) };
  Object.defineProperty(data, 'later', { enumerable: true, get: () => { read = true; return 1; } });
  await assert.rejects(svc.save('view', 'big', data), (e) => e.code === 'VALIDATION' && /larger than 8388608 bytes/.test(e.message));
  assert.equal(read, false, 'the members after the limit are never read');
  // An array of 2^25 holes is refused on its length alone.
  await assert.rejects(svc.save('view', 'holes', { a: new Array(2 ** 25) }), (e) => e.code === 'VALIDATION');
  assert.throws(() => checksum({ a: new Array(2 ** 27) }), (e) => e.code === 'VALIDATION' && /larger than/.test(e.message));
  // Nothing was written; a definition within the limit still saves.
  assert.equal((await svc.query({})).total, 0);
  await svc.save('view', 'small', { a: 'x'.repeat(1024) });
  assert.equal((await svc.query({})).total, 1);
});

test('a metadata file, a name or a path too long is refused on its length, before it is copied in', async () => {
  const { parseMetadataFile, renderMetadataFile, memoryUsage } = await import('@objectstack/metadata-wasm');
  const before = memoryUsage().memoryBytes;
  const huge = 'a: 1\n'.repeat(10 * 1024 * 1024);
  assert.throws(() => parseMetadataFile('views/a.view.yaml', huge), (e) => e.code === 'VALIDATION' && /views\/a\.view\.yaml/.test(e.message));
  assert.throws(() => parseMetadataFile('x'.repeat(50 * 1024 * 1024), '{}'), (e) => e.code === 'VALIDATION' && e.field === 'path');
  assert.throws(() => renderMetadataFile('view', 'n'.repeat(50 * 1024 * 1024), {}, 'json'), (e) => e.code === 'VALIDATION' && e.field === 'name');
  const svc = await MetadataService.create();
  await assert.rejects(svc.load('view', 'n'.repeat(50 * 1024 * 1024)), (e) => e.code === 'VALIDATION' && e.field === 'name');
  assert.throws(() => parseMetadataFile(42, '{}'), (e) => e.code === 'VALIDATION');
  svc.invalidate(42, 'n'.repeat(50 * 1024 * 1024));
  // None of it reached the module's memory (which never shrinks).
  assert.equal(memoryUsage().memoryBytes, before);
});
