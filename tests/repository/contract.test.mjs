// Upstream ObjectStack's own MetadataRepository contract suite
// (@objectstack/metadata-core/testing, runRepositoryContractTests) against
// createRepository over the memory store, over SQLite and over PostgreSQL
// (the cluster scripts/test starts; a fresh schema per clause). Every clause
// asks for a fresh, empty repository.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { runRepositoryContractTests } from '@objectstack/metadata-core/testing';
import { createRepository } from '@objectstack/metadata-wasm/repository';
import { openSqliteStore } from '@objectstack/metadata-wasm/sqlite';
import { openPostgresStore } from '@objectstack/metadata-wasm/postgres';

runRepositoryContractTests('metadata-wasm over memory', () => createRepository({ store: 'memory' }));

const dir = mkdtempSync(join(tmpdir(), 'osm-repository-'));
const opened = [];
let n = 0;
afterAll(async () => {
  for (const store of opened) await store.close();
  rmSync(dir, { recursive: true, force: true });
});

runRepositoryContractTests('metadata-wasm over SQLite', async () => {
  const store = await openSqliteStore(join(dir, `repo-${n++}.db`));
  opened.push(store);
  return createRepository({ store });
});

const databaseUrl = process.env.METADATA_TEST_DATABASE_URL;
if (databaseUrl) {
  runRepositoryContractTests('metadata-wasm over PostgreSQL', async () => {
    const store = await openPostgresStore(databaseUrl, { schema: `repository_${process.pid}_${n++}`, max: 2 });
    opened.push(store);
    return createRepository({ store });
  });
} else if (process.env.METADATA_TEST_POSTGRES === 'required') {
  throw new Error('METADATA_TEST_DATABASE_URL is not set, and the test command requires PostgreSQL');
} else {
  console.warn('SKIPPED upstream\'s repository contract on PostgreSQL: set METADATA_TEST_DATABASE_URL (./scripts/test starts a cluster and sets it)');
}
