import type { AccessPolicy, HostStore, RecordHostStore } from './index.js';

/** Upstream's metadata reference: identity (org, type, name), `version` pins a read. */
export interface MetaRef {
  org: string;
  type: string;
  name: string;
  version?: string;
}

/** One version of an item, as upstream's MetadataRepository returns it. */
export interface MetadataItem {
  ref: MetaRef;
  body: Record<string, unknown>;
  /** `sha256:` content hash of `body` (upstream's hashSpec). */
  hash: string;
  parentHash: string | null;
  authoredBy: string | null;
  authoredAt: string;
  message?: string;
  seq: number;
}

export type MetadataItemHeader = Omit<MetadataItem, 'body'>;

/** One entry of an item's history or of the change stream. */
export interface MetadataEvent {
  seq: number;
  op: 'create' | 'update' | 'delete' | 'rename' | 'publish' | 'revert';
  ref: MetaRef;
  hash: string | null;
  parentHash: string | null;
  version?: number;
  actor: string | null;
  ts: string;
  source: string;
}

export interface PutOptions {
  /** The HEAD hash this write replaces; null: create, expecting no HEAD. */
  parentVersion: string | null;
  actor: string | null;
  message?: string;
  source?: string;
}

export interface DeleteOptions {
  parentVersion: string;
  actor: string | null;
  message?: string;
  source?: string;
}

/** Upstream ObjectStack's MetadataRepository interface. */
export interface MetadataRepository {
  get(ref: MetaRef): Promise<MetadataItem | null>;
  getByHash(ref: MetaRef, hash: string): Promise<MetadataItem | null>;
  put(ref: MetaRef, spec: unknown, opts: PutOptions): Promise<{ version: string; seq: number; item: MetadataItem }>;
  delete(ref: MetaRef, opts: DeleteOptions): Promise<{ seq: number }>;
  list(filter: { org?: string; type?: string; nameContains?: string; cursor?: string; limit?: number }): AsyncIterable<MetadataItemHeader>;
  history(ref: MetaRef, opts?: { sinceSeq?: number; limit?: number }): AsyncIterable<MetadataEvent>;
  watch(filter: { org?: string; type?: string; name?: string }, since?: number): AsyncIterable<MetadataEvent> & AsyncIterator<MetadataEvent>;
}

export interface RepositoryOptions {
  /** What `MetadataService.create` takes as `store` ('memory' by default). */
  store?: 'memory' | 'indexeddb' | 'localstorage' | 'auto' | HostStore | RecordHostStore;
  /** The org `list` and `watch` use when the filter names none (default 'system'). */
  org?: string;
  /** The org that means the global scope (default 'env'). */
  globalOrg?: string;
  /** Serve this org only: refs naming another are FORBIDDEN. */
  tenant?: string;
  /** The acting user when a call names none (default 'system'). */
  actor?: string;
  roles?: string[];
  policy?: AccessPolicy;
}

/**
 * A MetadataRepository (upstream's interface) over this package's service:
 * `sha256:` versions, tenants as orgs, the change log's sequence numbers as
 * `seq`, conflicts as upstream's `ConflictError`. Needs
 * `@objectstack/metadata-core`.
 */
export function createRepository(options?: RepositoryOptions): Promise<MetadataRepository>;
