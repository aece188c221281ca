import { readFileSync } from 'node:fs';
const p = await import('../target/probe/objectstack_metadata.js');
const corpus = JSON.parse(readFileSync('tests/data/platform-objects.json', 'utf8'));
const texts = corpus.map((o) => JSON.stringify(o.data));
function time(label, n, f) {
  for (let i = 0; i < 5; i++) f();
  const t = performance.now();
  for (let i = 0; i < n; i++) f();
  console.log(label.padEnd(40), ((performance.now() - t) / n / texts.length * 1000).toFixed(1), 'µs/doc');
}
time('string in', 300, () => { for (const t of texts) p.probeStringIn(t); });
time('md5', 300, () => { for (const t of texts) p.probeMd5(t); });
time('canonicalize_text', 300, () => { for (const t of texts) p.probeCanonText(t); });
time('parse Value', 300, () => { for (const t of texts) p.probeParseValue(t); });
