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
  /** True for a change made by another tab. */
  remote?: boolean;
}

/** Which roles may do what on which metadata types. */
export interface AccessPolicy {
  allowAll?: boolean;
  /** role -> type (or '*') -> permissions. */
  roles?: Record<string, Record<string, Array<'read' | 'write' | 'delete' | 'admin'>>>;
}

/** A value kept by a host store: a record or a history entry. */
export type StoredValue = MetadataRecord | HistoryEntry;

/** One write of an all-or-nothing batch. */
export type StoreOp =
  | { op: 'put'; key: string; value: StoredValue }
  | { op: 'delete'; key: string };

type MaybePromise<T> = T | Promise<T>;

/**
 * Storage provided by the host: a key-value map with prefix listing. Each
 * function may return its result or a Promise of it. With `commit`, batches
 * are all-or-nothing by the host; without it, a failed batch is undone.
 */
export interface HostStore {
  /** Name reported by `storeKind`. */
  kind?: string;
  get(key: string): MaybePromise<StoredValue | string | null | undefined>;
  put(key: string, value: StoredValue): MaybePromise<void>;
  delete(key: string): MaybePromise<void>;
  /** Every value whose key starts with `prefix`. */
  list(prefix: string): MaybePromise<Array<StoredValue | string>>;
  commit?(ops: StoreOp[]): MaybePromise<void>;
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
  store?: 'memory' | 'indexeddb' | 'localstorage' | 'auto' | HostStore;
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
  /** Metadata files for the file layer: path -> text. */
  files?: Record<string, string>;
  /** Source recorded when a save names none (default 'database'). */
  source?: Source;
  /** Check stored records against their checksum on read (default true). */
  verifyReads?: boolean;
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
