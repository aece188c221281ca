// The 4 GiB of a wasm32 module's memory: filling it is QUOTA_EXCEEDED for
// the call that would not fit, never a trap, and the module keeps serving
// every other call. (Holds about 4 GB while it runs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetadataService, memoryUsage } from '@objectstack/metadata-wasm';

const MB = 1024 * 1024;

test('a saved definition is held once (its text), not again as a parsed value', async () => {
  const svc = await MetadataService.create();
  const before = memoryUsage().heapBytes;
  for (let i = 0; i < 8; i++) await svc.save('view', `d${i}`, { blob: 'z'.repeat(4 * MB), i });
  const grown = memoryUsage().heapBytes - before;
  assert.ok(grown < 1.25 * 8 * 4 * MB, `${(grown / MB).toFixed(1)} MiB for 32 MiB of definitions`);
});

test('a memory store that fills the module is QUOTA_EXCEEDED, and everything else goes on', async () => {
  const svc = await MetadataService.create();
  const other = await MetadataService.create({ tenant: 'other' });
  await other.save('view', 'kept', { ok: true });
  const big = { blob: 'x'.repeat(8 * MB - 64) };
  let refusal = null;
  let saved = 0;
  for (; saved < 1000; saved++) {
    try {
      await svc.save('view', `v${saved}`, big);
    } catch (e) {
      refusal = e;
      break;
    }
  }
  assert.ok(refusal !== null, 'the memory filled up');
  assert.equal(refusal.code, 'QUOTA_EXCEEDED', refusal.message);
  // Nearly all of the 4 GiB held definitions before the refusal.
  const usage = memoryUsage();
  assert.ok(saved * 8 * MB > 3.5 * 1024 * MB, `${saved} definitions of 8 MiB`);
  assert.ok(usage.memoryBytes <= usage.limitBytes);
  assert.equal((await svc.query({ limit: 1 })).total, saved, 'the refused save wrote nothing');
  // Results that do not fit are refused too; small calls are served.
  await assert.rejects(svc.loadMany('view'), (e) => e.code === 'QUOTA_EXCEEDED');
  await svc.save('view', 'small', { a: 1 });
  assert.deepEqual(await svc.load('view', 'small'), { a: 1 });
  assert.equal((await svc.history('view', 'v0')).length, 1);
  assert.deepEqual(await other.load('view', 'kept'), { ok: true });
  const fresh = await MetadataService.create();
  await fresh.save('view', 'fresh', { b: 2 });
  assert.equal((await fresh.query({})).total, 1);
  // Freeing the store gives its heap back to the module (not to the host).
  const full = memoryUsage().heapBytes;
  for (const s of [svc, other, fresh]) s.free();
  assert.ok(memoryUsage().heapBytes < full / 2);
  const again = await MetadataService.create();
  await again.save('view', 'v0', big);
  again.free();
});
