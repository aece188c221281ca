// Every line of the upstream canonical-JSON vectors through the package's
// canonicalize / checksum / contentHash, from JS values (JSON.parse(input)).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { canonicalize, checksum, contentHash } from '@objectstack/metadata-wasm';

const lines = readFileSync(new URL('../data/canonical.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '');

test('every canonical vector matches upstream from JS values', () => {
  assert.ok(lines.length >= 400, `only ${lines.length} vectors`);
  let checked = 0;
  for (const [i, line] of lines.entries()) {
    const v = JSON.parse(line);
    if ('error' in v) {
      assert.throws(() => canonicalize(JSON.parse(v.input)), undefined, `line ${i}: ${v.note}`);
    } else {
      const value = JSON.parse(v.input);
      assert.equal(canonicalize(value), v.canonical, `line ${i}: ${v.note}`);
      assert.equal(checksum(value), v.md5, `line ${i}: ${v.note}`);
      assert.equal(contentHash(value), v.sha256, `line ${i}: ${v.note}`);
    }
    checked += 1;
  }
  assert.equal(checked, lines.length);
});

test('values JSON cannot carry are refused like upstream refuses them', () => {
  for (const bad of [NaN, Infinity, -Infinity, { a: NaN }, [1, Infinity], 10n, { f() {} }, { s: Symbol('x') }, undefined]) {
    assert.throws(() => checksum(bad), (e) => e.code === 'VALIDATION' && e.name === 'MetadataError');
  }
  const cyclic = { a: {} };
  cyclic.a.self = cyclic;
  assert.throws(() => checksum(cyclic), (e) => e.code === 'VALIDATION' && /nesting deeper/.test(e.message));
  // Like JSON.stringify: undefined properties vanish, undefined array items are null, toJSON is used.
  assert.equal(canonicalize({ b: undefined, a: [undefined], d: new Date(0) }), '{"a":[null],"d":"1970-01-01T00:00:00.000Z"}');
  // __proto__ as an own key is data, kept and ordered like any key.
  assert.equal(canonicalize(JSON.parse('{"__proto__":{"x":1},"b":2}')), '{"__proto__":{"x":1},"b":2}');
});
