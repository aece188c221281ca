// Upstream ObjectStack's own MetadataRepository contract suite
// (@objectstack/metadata-core/testing, runRepositoryContractTests) against
// createRepository over the memory store and over SQLite. Every clause
// asks for a fresh, empty repository.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { runRepositoryContractTests } from '@objectstack/metadata-core/testing';
import { createRepository } from '@objectstack/metadata-wasm/repository';
import { openSqliteStore } from '@objectstack/metadata-wasm/sqlite';

runRepositoryContractTests('metadata-wasm over memory', () => createRepository({ store: 'memory' }));

const dir = mkdtempSync(join(tmpdir(), 'osm-repository-'));
const opened = [];
let n = 0;
afterAll(() => {
  for (const store of opened) store.close();
  rmSync(dir, { recursive: true, force: true });
});

runRepositoryContractTests('metadata-wasm over SQLite', async () => {
  const store = await openSqliteStore(join(dir, `repo-${n++}.db`));
  opened.push(store);
  return createRepository({ store });
});
