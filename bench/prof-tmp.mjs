import { readFileSync } from 'node:fs';
import { MetadataService, checksum } from '@objectstack/metadata-wasm';
const corpus = JSON.parse(readFileSync('tests/data/platform-objects.json', 'utf8'));
const docs = corpus.map((o) => o.data);
async function time(label, n, f) {
  for (let i = 0; i < 3; i++) await f(i);
  const t = performance.now();
  for (let i = 0; i < n; i++) await f(i);
  console.log(label.padEnd(40), ((performance.now() - t) / n / docs.length * 1000).toFixed(1), 'µs/doc');
}
await time('checksum', 50, () => { for (const d of docs) checksum(d); });
await time('save create (fresh svc, memory)', 20, async () => { const s = await MetadataService.create(); for (let i = 0; i < docs.length; i++) await s.save('object', corpus[i].name, docs[i]); });
await time('save create nocache', 20, async () => { const s = await MetadataService.create({cache:false}); for (let i = 0; i < docs.length; i++) await s.save('object', corpus[i].name, docs[i]); });
const s = await MetadataService.create();
for (let i = 0; i < docs.length; i++) await s.save('object', corpus[i].name, docs[i]);
await time('save noop', 50, async () => { for (let i = 0; i < docs.length; i++) await s.save('object', corpus[i].name, docs[i]); });
await time('load cached', 50, async () => { for (let i = 0; i < docs.length; i++) await s.load('object', corpus[i].name); });
await time('register', 50, async () => { for (let i = 0; i < docs.length; i++) await s.register('object', corpus[i].name, docs[i]); });
