/** Where a version came from. */
export type Source = 'filesystem' | 'database' | 'api' | 'migration';
/** What a committed change did. */
export type Operation = 'create' | 'update' | 'delete' | 'restore' | 'rollback' | 'import' | 'purge';
/** A layer of the fallback chain. */
export type Layer = 'database' | 'registry' | 'filesystem';
/** Stable error codes (`error.code`). */
export type ErrorCode =
  | 'NOT_FOUND' | 'CONFLICT' | 'VALIDATION' | 'FORBIDDEN' | 'STORAGE_UNAVAILABLE'
  | 'QUOTA_EXCEEDED' | 'CORRUPTED' | 'HOST_CALLBACK_FAILED' | 'UNSUPPORTED' | 'STORAGE_ERROR';
/** A metadata file format. */
export type FileFormatName = 'json' | 'yaml' | 'typescript';

/** One `sys_metadata` row. */
export interface MetadataRecord {
  type: string;
  name: string;
  data: Record<string, unknown>;
  version: number;
  checksum: string;
  source: Source;
  is_active: boolean;
  owner: string;
  tenant_id: string | null;
  tags: string[];
  created_at: string;
  updated_at: string;
  updated_by: string | null;
  /** The position of the change that made this version in the scope's change log. */
  seq: number;
  /** What that change did. */
  operation: Operation;
}

/** One version of a record. */
export interface HistoryEntry {
  tenant_id: string | null;
  type: string;
  name: string;
  version: number;
  operation: Operation;
  checksum: string;
  actor: string;
  timestamp: string;
  is_active: boolean;
  data: Record<string, unknown>;
  /** The position of this change in the scope's change log. */
  seq: number;
}

/** What a write did. */
export interface SaveOutcome {
  record: MetadataRecord;
  /** False when nothing changed (no new version, no event). */
  changed: boolean;
  operation: Operation | null;
}

/** Options of `save`. */
export interface SaveOptions {
  /** CONFLICT unless the stored version is this one (0: must not exist). */
  expectedVersion?: number;
  /** CONFLICT unless the stored checksum is this one. */
  expectedChecksum?: string;
  /** Replaces the tags (kept when absent). */
  tags?: string[];
  source?: Source;
  owner?: string;
}

/** Concurrency guard of delete, restore, purge and rollback. */
export interface ChangeOptions {
  expectedVersion?: number;
  expectedChecksum?: string;
}

/** One item of `saveMany`. */
export interface SaveItem {
  type: string;
  name: string;
  data: Record<string, unknown>;
  options?: SaveOptions;
}

/** Filters of `query`; every given filter must match. */
export interface Query {
  type?: string;
  tags?: string[];
  source?: Source;
  owner?: string;
  active?: boolean;
  /** RFC 3339 time. */
  updatedSince?: string;
  offset?: number;
  limit?: number;
}

/** One page of `query` results. */
export interface QueryPage {
  items: MetadataRecord[];
  total: number;
  offset: number;
  limit: number | null;
}

/** A layer that failed while answering. */
export interface LayerFailure {
  layer: Layer;
  code: ErrorCode;
  message: string;
}

/** The full answer of the chain for one (type, name). */
export interface Resolution {
  data: Record<string, unknown> | null;
  layer: Layer | null;
  /** The database record, when the database answered. */
  record: MetadataRecord | null;
  /** Layers that failed on the way; empty for a healthy answer. */
  degraded: LayerFailure[];
  fromCache: boolean;
}

/** One committed change. */
export interface ChangeEvent {
  sequence: number;
  operation: Operation;
  tenant_id: string | null;
  type: string;
  name: string;
  version: number;
  checksum: string;
  actor: string;
  timestamp: string;
  /** Whether the record was active after the change. */
  is_active: boolean;
  /** True for a change made elsewhere: another tab, or another process on the database. */
  remote?: boolean;
}

/** Which changes `changes` returns: those after `since` (exclusive), oldest first. */
export interface ChangeQuery {
  since?: number;
  type?: string;
  name?: string;
  limit?: number;
}

/** One record a server holds, as its manifest for caches lists it. */
export interface MirrorEntry {
  tenant_id: string | null;
  type: string;
  name: string;
  version: number;
  checksum: string;
}

/** What `replicate` did. */
export interface Replicated {
  fetched: number;
  removed: number;
  unchanged: number;
  changes: ChangeEvent[];
}

/** Options of `mirror`. */
export interface MirrorOptions {
  /** Records the server no longer has. */
  gone?: Array<{ tenant_id: string | null; type: string; name: string }>;
  /** Announce the changes as this service's own (default: remote). */
  own?: boolean;
}

/** Options of `derive`. */
export interface DeriveOptions {
  /** Another tenant; null: the global scope; absent: the same. */
  tenant?: string | null;
  actor?: string;
  roles?: string[];
}

/** Options of `subscribe`. */
export interface SubscribeOptions {
  /**
   * Replay this scope's changes after this sequence number from the change
   * log, then follow its changes in order, each once (no gap, no duplicate).
   * Without it, every change the service can read is delivered live.
   */
  since?: number;
  /**
   * With `since`: called with the error (a `MetadataError`) each time the
   * change log cannot be read. If that is where the stream starts (the
   * change at `since`), the stream ends; later, the stream reads the log
   * again, from where it was, once another change is announced. A live
   * stream reads nothing, and is never told of an error.
   */
  onError?: (error: MetadataError) => void;
}

/** Which roles may do what on which metadata types. */
export interface AccessPolicy {
  allowAll?: boolean;
  /** role -> type (or '*') -> permissions. */
  roles?: Record<string, Record<string, Array<'read' | 'write' | 'delete' | 'admin'>>>;
}

/** A value kept by a key-value host store: a head, an archived version, or a scope's counter. */
export type StoredValue = MetadataRecord | HistoryEntry | { version: number };

/**
 * One write of an all-or-nothing batch. When `expect` is present the op
 * applies only if the key holds nothing (`null`) or a value whose `version`
 * is `expect`.
 */
export type StoreOp =
  | { op: 'put'; key: string; value: StoredValue; expect?: number | null }
  | { op: 'delete'; key: string; expect?: number | null };

type MaybePromise<T> = T | Promise<T>;

/**
 * Storage provided by the host as a key-value map with prefix listing. Each
 * function may return its result or a Promise of it. With `commit`, batches
 * are all-or-nothing and conditional (safe for many writers); without it,
 * one writer at a time per store object, and a failed batch is undone.
 */
export interface HostStore {
  /** Name reported by `storeKind`. */
  kind?: string;
  get(key: string): MaybePromise<StoredValue | string | null | undefined>;
  put(key: string, value: StoredValue): MaybePromise<void>;
  delete(key: string): MaybePromise<void>;
  /** Every value whose key starts with `prefix`. */
  list(prefix: string): MaybePromise<Array<StoredValue | string>>;
  /** Applies every op, or none and answers `{ conflict: key }` when an expectation fails. */
  commit?(ops: StoreOp[]): MaybePromise<void | { conflict: string }>;
}

/** A record's identity as record hosts receive it. */
export interface RecordKeyArg {
  tenant_id: string | null;
  type: string;
  name: string;
}

/** A new head's columns, as `commit` receives them (`data` as JSON text). */
export interface HeadColumns extends Omit<MetadataRecord, 'data' | 'seq'> {
  data: string;
}

/** A purge's history entry, as `commit` receives it (`data` as JSON text). */
export interface TombstoneColumns extends Omit<HistoryEntry, 'data' | 'seq'> {
  data: string;
}

/** A batch as a record host's `commit` receives it. */
export interface RecordBatch {
  tenant_id: string | null;
  changes: Array<RecordKeyArg & {
    /** The head version the change replaces; null: no head. */
    expect: number | null;
    record?: HeadColumns;
    tombstone?: TombstoneColumns;
  }>;
}

/**
 * Storage provided by a database host with real columns (the record
 * contract: `pkg/sqlite.js`, `pkg/postgres.js`). Rows are answered as JSON
 * text or objects. See the README for what `commit` must do.
 */
export interface RecordHostStore {
  contract: 'records';
  kind?: string;
  get(key: RecordKeyArg): MaybePromise<string | MetadataRecord | null>;
  readCurrent(keys: RecordKeyArg[]): MaybePromise<Array<{ record: string | MetadataRecord | null; lastVersion: number }>>;
  list(tenant: string | null, type: string | null): MaybePromise<Array<string | MetadataRecord>>;
  history(key: RecordKeyArg): MaybePromise<Array<string | HistoryEntry>>;
  changes(tenant: string | null, query: ChangeQuery): MaybePromise<Array<string | ChangeEvent>>;
  lastSequence(tenant: string | null): MaybePromise<number>;
  commit(batch: RecordBatch): MaybePromise<{ firstSeq: number } | { conflict: { index: number; found: number | null } }>;
  /** Calls `onChange` for changes committed elsewhere; returns the function that stops. */
  watch?(onChange: (event: ChangeEvent | string) => void): MaybePromise<() => void>;
}

/** A Storage Bucket for the IndexedDB store. */
export interface StorageBucketOptions {
  name: string;
  /** The most the bucket may hold, in bytes; past it saves are QUOTA_EXCEEDED. */
  quota?: number;
  /** Ask the browser not to evict the bucket under storage pressure. */
  persisted?: boolean;
}

/** Options of `MetadataService.create`. */
export interface CreateOptions {
  /**
   * 'memory' (default), 'indexeddb', 'localstorage', 'auto' (IndexedDB, then
   * localStorage, then memory; see `storeNote`) or a host store.
   */
  store?: 'memory' | 'indexeddb' | 'localstorage' | 'auto' | HostStore | RecordHostStore;
  /** Browser stores: which database (default 'default'). */
  namespace?: string;
  /**
   * IndexedDB: keep the database in a Storage Bucket (its own quota and
   * eviction) rather than the page's default storage. A name (1-64 of a-z,
   * 0-9, '-', '_') or `{ name, quota, persisted }`. With 'indexeddb' a
   * browser without `navigator.storageBuckets` is UNSUPPORTED; with 'auto'
   * the default IndexedDB is used instead and `storeNote` says why.
   */
  bucket?: string | StorageBucketOptions;
  /**
   * Exchange change events with other tabs (BroadcastChannel, or the storage
   * event where it is missing); default: on for IndexedDB and localStorage.
   */
  broadcast?: boolean;
  /** Tenant to work for; global when absent. */
  tenant?: string | null;
  /** Acting user (default 'system'). */
  actor?: string;
  roles?: string[];
  /** Access policy (default: allow all). */
  policy?: AccessPolicy;
  /** Migration phase of the chain (default 'readBoth'). */
  mode?: 'readBoth' | 'writeBoth' | 'databasePrimary';
  /** Fail instead of answering from a lower layer when one fails. */
  strict?: boolean;
  /** Keep a read cache in front of the chain (default true). */
  cache?: boolean;
  /** Metadata files for the file layer: path -> text (JSON, YAML, or `.ts` with `export default { ... };`; the browser module reads no YAML and throws `UNSUPPORTED`). */
  files?: Record<string, string>;
  /** Source recorded when a save names none (default 'database'). */
  source?: Source;
  /** Check stored records against their checksum on read (default true). */
  verifyReads?: boolean;
  /**
   * Make the store the cache of a metadata server (`objectstack-metadata
   * serve`): replicated at start, following the server's change stream,
   * reads local (also offline), writes through the server pinned to the
   * cached version. `create` then resolves to a `RemoteMetadataService`.
   */
  remote?: { url: string; token?: string; fetch?: typeof fetch };
}

/** The link of a cache to its server. */
export interface RemoteStatus {
  online: boolean;
  /** Where the change stream resumes. */
  position: string | null;
  error?: Error;
}

/** Every error this library raises. */
export interface MetadataError extends Error {
  name: 'MetadataError';
  code: ErrorCode;
  key?: { tenantId: string | null; type: string; name: string };
  expected?: string;
  actual?: string;
  actualVersion?: number;
  field?: string;
  operation?: string;
  type?: string;
  permission?: string;
  actor?: string;
  index?: number;
  layer?: string;
  detail?: string;
}

/** A parsed metadata file. */
/** What `memoryUsage()` answers, in bytes. */
export interface MemoryUsage {
  /** Allocated now. */
  heapBytes: number;
  /** Linear memory reserved so far (it never shrinks). */
  memoryBytes: number;
  /** The most linear memory the module can have (4 GiB). */
  limitBytes: number;
}

export interface ParsedMetadataFile {
  type: string;
  name: string;
  format: FileFormatName;
  data: Record<string, unknown>;
}

/** A rendered metadata file. */
export interface RenderedMetadataFile {
  path: string;
  text: string;
}

/** One line of a remote manifest. */
export interface ManifestEntry {
  type: string;
  name: string;
  version?: number | null;
  checksum: string;
}

/** How the local records compare with a manifest. */
export interface SyncPlan {
  stale: ManifestEntry[];
  missing: ManifestEntry[];
  extra: ManifestEntry[];
  unchanged: number;
}

/** A fetched definition. */
export interface FetchedItem {
  type: string;
  name: string;
  data: Record<string, unknown>;
}

/** What `sync` did. */
export interface SyncResult {
  plan: SyncPlan;
  applied: SaveOutcome[];
}

/** One item of `resolveMany`. */
export interface ResolvedItem {
  name: string;
  layer: Layer;
  data: Record<string, unknown>;
  /** The database record, when the database answered. */
  record: MetadataRecord | null;
}
