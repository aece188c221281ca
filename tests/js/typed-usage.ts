// Type-checked usage of the package (tsc --noEmit, never run): the exported
// types must describe the API as a TypeScript user calls it.
import {
  MetadataService,
  canonicalize,
  checksum,
  contentHash,
  isMetadataError,
  memoryUsage,
  parseMetadataFile,
  renderMetadataFile,
  type ChangeEvent,
  type FetchedItem,
  type ManifestEntry,
  type ResolvedItem,
  type SyncPlan,
  type SyncResult,
  type HistoryEntry,
  type HostStore,
  type MemoryUsage,
  type MetadataRecord,
  type QueryPage,
  type Resolution,
  type SaveOutcome,
  type StoredValue,
  type RecordHostStore,
  type ServiceCreateOptions,
} from '@objectstack/metadata-wasm';
import {
  PROJECT_TYPES,
  formatRefusal,
  loadProject,
  loadProjectFiles,
  projectFiles,
  refusalError,
  type ProjectLoad,
  type ProjectProgress,
  type RefusalCode,
} from '@objectstack/metadata-wasm/project';
import { openSqliteStore, type SqliteStore } from '@objectstack/metadata-wasm/sqlite';
import { openPostgresStore, type PostgresStore, type PostgresStoreOptions } from '@objectstack/metadata-wasm/postgres';
import { createRepository, type MetadataRepository, type MetadataEvent } from '@objectstack/metadata-wasm/repository';
import { createHandler, listen, nodeListener, type MetadataHandler } from '@objectstack/metadata-wasm/server';
import { withMetadataCache } from '@objectstack/metadata-wasm/client';
import type { RemoteMetadataService } from '@objectstack/metadata-wasm';

const values = new Map<string, StoredValue>();
const host: HostStore = {
  kind: 'map',
  get: (key) => values.get(key) ?? null,
  put: async (key, value) => {
    values.set(key, value);
  },
  delete: (key) => {
    values.delete(key);
  },
  list: (prefix) => [...values].filter(([k]) => k.startsWith(prefix)).map(([, v]) => v),
  commit: (ops) => {
    for (const op of ops) {
      const found = values.get(op.key);
      if (op.expect !== undefined && (found === undefined ? null : (found as { version: number }).version) !== op.expect) {
        return { conflict: op.key };
      }
    }
    for (const op of ops) {
      if (op.op === 'put') values.set(op.key, op.value);
      else values.delete(op.key);
    }
  },
};

export async function usage(): Promise<void> {
  const svc = await MetadataService.create({ store: host, tenant: 'acme', actor: 'alice', roles: ['designer'] });
  const memory = await MetadataService.create();
  const sqliteStore: SqliteStore = await openSqliteStore(':memory:');
  const persistent = await MetadataService.create({ store: sqliteStore, mode: 'readBoth', strict: false });

  const out: SaveOutcome = await svc.save('view', 'all_accounts', { label: 'All' }, { tags: ['crm'], expectedVersion: 0 });
  const version: number = out.record.version;
  const changed: boolean = out.changed;
  await svc.save('view', 'all_accounts', { label: 'All' });
  const def: Record<string, unknown> | null = await svc.load('view', 'all_accounts');
  const rec: MetadataRecord | null = await svc.loadRecord('view', 'all_accounts');
  const isActive: boolean | undefined = rec?.is_active;
  const all: Record<string, unknown>[] = await memory.loadMany('view');
  const resolution: Resolution = await persistent.resolve('view', 'all_accounts');
  const layer: 'database' | 'registry' | 'filesystem' | null = resolution.layer;
  const history: HistoryEntry[] = await svc.history('view', 'all_accounts');
  await svc.rollback('view', 'all_accounts', history[0].version, { expectedVersion: version });
  await svc.delete('view', 'all_accounts');
  await svc.restore('view', 'all_accounts', { expectedChecksum: out.record.checksum });
  const purged: ChangeEvent = await svc.purge('view', 'all_accounts');
  const own: MetadataRecord | null = await svc.loadOwnRecord('view', 'all_accounts');
  const log: ChangeEvent[] = await svc.changes({ since: 0, type: 'view', limit: 100 });
  const last: number = await svc.lastSequence();
  const stop: () => void = svc.subscribe((e) => void e.sequence, { since: last });
  stop();
  const other: MetadataService = svc.derive({ tenant: null, actor: 'bob', roles: ['auditor'] });
  const records: RecordHostStore = sqliteStore;
  const repository: MetadataRepository = await createRepository({ store: sqliteStore, org: 'acme' });
  const put = await repository.put({ org: 'acme', type: 'view', name: 'v' }, { label: 'V' }, { parentVersion: null, actor: 'alice' });
  const versionHash: string = put.version;
  for await (const event of repository.history({ org: 'acme', type: 'view', name: 'v' }, { sinceSeq: 0 })) {
    const e: MetadataEvent = event;
    void e;
  }
  void [purged.sequence, own, log, other, records, versionHash];
  const handler: MetadataHandler = createHandler({ service: memory, tokens: { 'a-long-token': { actor: 'alice', roles: ['admin'], tenant: 'acme' } } });
  const response: Response = await handler.fetch(new Request('http://localhost/api/v1/metadata'));
  const running = await listen(handler, { port: 0 });
  const listener = nodeListener(handler);
  const cache: RemoteMetadataService = await MetadataService.create({ store: 'memory', remote: { url: running.url, token: 't' } });
  cache.onStatus((s) => void s.online);
  const cachedOutcome: SaveOutcome = await cache.save('view', 'v', { a: 1 }, { expectedVersion: 1 });
  const wrapped = withMetadataCache({ baseUrl: running.url, meta: { getItem: async () => null, getItems: async () => null, saveItem: async () => null, deleteItem: async () => null } }, { store: 'memory' });
  const item = (await wrapped.meta.getItem('view', 'v')).item;
  await running.close();
  void [response.status, listener, cachedOutcome.record.version, item];
  const page: QueryPage = await svc.query({ type: 'view', tags: ['crm'], active: true, limit: 10 });
  await svc.saveMany([{ type: 'view', name: 'a', data: {}, options: { source: 'api' } }]);
  await svc.register('view', 'home', { label: 'Home' });
  const unsubscribe: () => void = svc.subscribe((e: ChangeEvent) => {
    const seq: number = e.sequence;
    void seq;
  });
  unsubscribe();
  svc.invalidate('view', 'home');
  svc.invalidate();

  const sum: string = checksum({ a: 1 });
  const text: string = canonicalize([1, 'two']);
  const hash: string = contentHash({});
  const parsed = parseMetadataFile('views/a.view.yaml', 'label: A\n');
  if (parsed !== null) {
    const file = renderMetadataFile(parsed.type, parsed.name, parsed.data, 'typescript');
    const path: string = file.path;
    void path;
  }
  try {
    await svc.save('view', 'x', {}, { expectedVersion: 99 });
  } catch (error: unknown) {
    if (isMetadataError(error)) {
      const code: 'CONFLICT' | string = error.code;
      const actual: number | undefined = error.actualVersion;
      void code;
      void actual;
    }
  }
  const items: ResolvedItem[] = await svc.resolveMany('view');
  const note: string = svc.storeNote;
  const shared: boolean = svc.sharesAcrossTabs;
  const manifest: ManifestEntry[] = page.items.map((r) => ({ type: r.type, name: r.name, version: r.version, checksum: r.checksum }));
  const plan: SyncPlan = await svc.diff(manifest);
  const synced: SyncResult = await svc.sync(manifest, async (wanted: ManifestEntry[]): Promise<FetchedItem[]> =>
    wanted.map((e) => ({ type: e.type, name: e.name, data: {} })));
  await svc.applyFetched(manifest, []);
  void [items, note, shared, plan.unchanged, synced.applied.length];
  const browser = await MetadataService.create({ store: 'auto', namespace: 'app', broadcast: true });
  const bucketed = await MetadataService.create({ store: 'indexeddb', bucket: { name: 'metadata', quota: 50e6, persisted: true } });
  const named = await MetadataService.create({ store: 'auto', bucket: 'metadata' });
  void [browser, bucketed, named];
  sqliteStore.close();
  void [changed, def, isActive, all, layer, page, sum, text, hash];
}

// The project loader and a project as the file layer (Node).
export async function projectUsage(): Promise<void> {
  const load: ProjectLoad = await loadProject('./my-app', {
    timeoutMs: 5000,
    types: ['widget'],
    nodePaths: ['./node_modules'],
    onProgress: (p: ProjectProgress) => void `${p.index}/${p.total} ${p.file}: ${p.definitions}`,
  });
  for (const d of load.definitions) {
    const data: Record<string, unknown> = d.data;
    const from: string | null = d.export;
    void [data, from, d.file, d.text];
  }
  for (const r of load.refusals) {
    const code: RefusalCode = r.code;
    const path: string | null = r.path;
    const line: string = formatRefusal(r);
    void [line, code, path];
  }
  if (load.refusals.length > 0) throw refusalError(load);
  const files: Record<string, string> = projectFiles(load);
  const fromTexts = await MetadataService.create({ files });
  const options: ServiceCreateOptions = { actor: 'migrator', files: { project: './my-app', skipInvalid: true, timeoutMs: 2000 } };
  const phaseOne: MetadataService = await MetadataService.create(options);
  const same: boolean = phaseOne instanceof MetadataService;
  const texts: Record<string, string> = await loadProjectFiles({ project: './my-app' });
  const types: readonly string[] = PROJECT_TYPES;
  void [fromTexts, same, texts, types, load.ignored, load.skipped, load.scanned, load.files];
}

// PostgreSQL: one database for many app instances (Node).
export async function postgresUsage(): Promise<void> {
  const options: PostgresStoreOptions = { schema: 'metadata', max: 5, applicationName: 'app', reconnectMs: 200 };
  const store: PostgresStore = await openPostgresStore('postgres://app@127.0.0.1:5432/app', options);
  const svc = await MetadataService.create({ store, tenant: 'acme', actor: 'alice' });
  const records: RecordHostStore = store;
  const stop: () => void = await store.watch((e: ChangeEvent) => void e.sequence);
  stop();
  for await (const row of store.scan()) {
    const text: string = row.data;
    const table: 'sys_metadata' | 'sys_metadata_history' = row.table;
    void [text, table, row.checksum, row.seq];
  }
  const repository: MetadataRepository = await createRepository({ store });
  const readonly = await openPostgresStore({ connectionString: 'postgres://app@127.0.0.1/app' }, { readonly: true });
  await readonly.close();
  await store.close();
  void [svc, records, repository, store.schema, store.channel];
}

// Bytes the module can still take on (its memory never shrinks).
export function memory(): number {
  const usage: MemoryUsage = memoryUsage();
  return usage.limitBytes - Math.max(usage.heapBytes, usage.memoryBytes);
}
