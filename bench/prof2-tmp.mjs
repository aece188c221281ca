import { readFileSync } from 'node:fs';
import { checksum } from '@objectstack/metadata-wasm';
import { toJsonText } from '../pkg/node/snippets/objectstack-metadata-50e273ec1a139020/src/wasm/glue.js';
const corpus = JSON.parse(readFileSync('tests/data/platform-objects.json', 'utf8'));
const docs = corpus.map((o) => o.data);
function time(label, n, f) {
  for (let i = 0; i < 5; i++) f();
  const t = performance.now();
  for (let i = 0; i < n; i++) f();
  console.log(label.padEnd(40), ((performance.now() - t) / n / docs.length * 1000).toFixed(1), 'µs/doc');
}
time('toJsonText (check+stringify)', 200, () => { for (const d of docs) toJsonText(d); });
time('JSON.stringify only', 200, () => { for (const d of docs) JSON.stringify(d); });
const texts = docs.map((d) => JSON.stringify(d));
time('checksum(wasm) total', 100, () => { for (const d of docs) checksum(d); });
console.log('avg text length', texts.reduce((a, t) => a + t.length, 0) / texts.length);
