// YAML metadata files: read linearly and bounded, faithfully to JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetadataService, parseMetadataFile, renderMetadataFile } from '@objectstack/metadata-wasm';
import { loadProject } from '@objectstack/metadata-wasm/project';
import { OFF_THREAD_CHARS } from '../../pkg/project/parse.js';

const PATH = 'views/a.view.yaml';
const refused = (text, pattern) =>
  assert.throws(() => parseMetadataFile(PATH, text), (e) => e.code === 'VALIDATION' && pattern.test(e.message));

// Hostile nesting is refused within its first few hundred characters. The
// libyaml-based reader took 6 s on 78 KB of this and hours on 2 MB; the
// test's time limit only keeps a regression from hanging the suite.
test('deeply nested flow collections are refused, however long the file', { timeout: 60_000 }, () => {
  for (const text of ['a: ' + '['.repeat(2_000_000), 'a: ' + '{a: '.repeat(500_000), '- '.repeat(1_000_000)]) {
    refused(text, /nesting deeper than 127 levels/);
  }
  // The same in create({ files }).
  return assert.rejects(
    MetadataService.create({ files: { [PATH]: 'a: ' + '['.repeat(2_000_000) } }),
    (e) => e.code === 'VALIDATION' && /views\/a\.view\.yaml/.test(e.message),
  );
});

test('keys that name the same JSON member are refused, not merged', () => {
  refused("1: a\n'1': b\n", /given twice/);
  refused("~: a\n'null': b\n", /given twice/);
  refused('true: a\n"true": b\n', /given twice/);
  refused('a: 1\na: 2\n', /given twice/);
});

test('what JSON cannot carry is refused, not turned into something else', () => {
  for (const text of ['a: 1e400\n', 'a: -.inf\n', 'a: .nan\n']) refused(text, /not a finite number/);
  refused('? [a, b]\n: c\n', /key must be a scalar/);
  refused('a: !!binary aGk=\n', /not supported/);
  refused('a: 1\n---\nb: 2\n', /one YAML document/);
});

test('merge keys merge: explicit keys win, then earlier sources', () => {
  const text = 'base: &base { label: Base, columns: [a] }\nmore: &more { label: More, extra: 1 }\nview:\n  <<: [*base, *more]\n  columns: [b]\nliteral:\n  "<<": kept\n';
  const { data } = parseMetadataFile(PATH, text);
  assert.deepEqual(data.view, { columns: ['b'], label: 'Base', extra: 1 });
  assert.deepEqual(data.literal, { '<<': 'kept' });
});

test('rendered YAML reads back to the same definition, whatever its strings', () => {
  const data = {
    strings: ['yes', 'No', 'on', '1', '0x1f', '1e400', '.inf', '<<', '', ' lead', 'trail ', 'a: b', 'x #y', '- z', '[a]', '{b}', '*c', '&d', '!e', '%f', '@g', '`h', '|', '>', 'multi\nline', 'tab\t', '\u007f\u0085\u2028\ufeff', '~', 'null', 'é😀'],
    numbers: [0, -1, 1.5, 1e21, 1e-7, 2 ** 53 + 2, -0],
    keys: { '1': 'one', null: 'n', '<<': 'merge', '': 'empty', 'a b': 'c' },
    nested: [[], {}, [[1]], { a: { b: [true, false, null] } }],
  };
  const { text } = renderMetadataFile('view', 'a', data, 'yaml');
  assert.deepEqual(parseMetadataFile(PATH, text).data, JSON.parse(JSON.stringify(data)), text);
});

test('a project whose YAML file is large is read off the main thread, with the same result', async () => {
  const root = mkdtempSync(join(tmpdir(), 'osm-yaml-'));
  mkdirSync(join(root, 'views'));
  const columns = Array.from({ length: 30_000 }, (_, i) => `  - column_${i}`).join('\n');
  const text = `label: Big\ncolumns:\n${columns}\n`;
  assert.ok(text.length >= OFF_THREAD_CHARS);
  writeFileSync(join(root, 'views', 'big.view.yaml'), text);
  writeFileSync(join(root, 'views', 'bad.view.yaml'), `a: 1\n${'x'.repeat(OFF_THREAD_CHARS)}: [\n`);
  const loaded = await loadProject(root);
  assert.equal(loaded.definitions.length, 1);
  assert.equal(loaded.definitions[0].data.columns.length, 30_000);
  assert.equal(loaded.refusals.length, 1);
  assert.equal(loaded.refusals[0].file, join('views', 'bad.view.yaml'));
});
