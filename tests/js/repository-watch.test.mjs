// The upstream repository's watch() over a store whose change log cannot
// be read: the iteration ends with the error (after what was delivered),
// rather than waiting for ever.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRepository } from '@objectstack/metadata-wasm/repository';

// A key-value host store whose listings fail from the `failFrom`th on.
function failingStore() {
  const map = new Map();
  const state = { lists: 0, failFrom: Infinity };
  const store = {
    get: (k) => (map.has(k) ? structuredClone(map.get(k)) : null),
    put: (k, v) => void map.set(k, structuredClone(v)),
    delete: (k) => void map.delete(k),
    list: (p) => {
      state.lists += 1;
      if (state.lists >= state.failFrom) throw new Error('the disk is gone');
      return [...map].filter(([k]) => k.startsWith(p)).map(([, v]) => structuredClone(v));
    },
  };
  return { store, state };
}

test('watch(filter, since) ends with the error when the change log cannot be read', async () => {
  const { store, state } = failingStore();
  const repo = await createRepository({ store });
  await repo.put({ org: 'system', type: 'view', name: 'a' }, { n: 1 });
  await repo.put({ org: 'system', type: 'view', name: 'b' }, { n: 2 });
  // From its starting point on, nothing of the log can be read.
  state.failFrom = state.lists + 1;
  const it = repo.watch({ org: 'system' }, 1)[Symbol.asyncIterator]();
  await assert.rejects(it.next(), (e) => e.code === 'HOST_CALLBACK_FAILED' && /disk is gone/.test(e.message));
  assert.deepEqual(await it.next(), { value: undefined, done: true });
  // Live-only watching reads no log, and is not failed.
  state.failFrom = Infinity;
  const live = repo.watch({ org: 'system' })[Symbol.asyncIterator]();
  await repo.put({ org: 'system', type: 'view', name: 'c' }, { n: 3 });
  const { value } = await live.next();
  assert.equal(value.ref.name, 'c');
  await live.return();
});
