// Types of the cache of a metadata server (MetadataService.create({ remote })).
import type {
  ChangeEvent, ChangeOptions, HistoryEntry, MetadataRecord, QueryPage, Query, RemoteStatus, Resolution,
  ResolvedItem, SaveItem, SaveOptions, SaveOutcome, SubscribeOptions, ChangeQuery, MirrorEntry,
} from './node/objectstack_metadata.js';

/**
 * A local store as the cache of a metadata server: reads from the cache
 * (also offline), writes through the server pinned to the cached version.
 */
export interface RemoteMetadataService {
  readonly storeKind: string;
  readonly storeNote: string;
  readonly tenant: string | null;
  readonly actor: string;
  readonly sharesAcrossTabs: boolean;
  /** Whether the change stream is connected. */
  readonly online: boolean;
  /** Where the change stream resumes. */
  readonly position: string | null;
  /** Resolves once the first replication is done (or found the server unreachable). */
  readonly ready: Promise<void>;
  onStatus(listener: (status: RemoteStatus) => void): () => void;
  /** Stops following the server. */
  close(): void;
  /** Fetches the server's current record of (type, name) into the cache. */
  refresh(type: string, name: string): Promise<void>;

  save(type: string, name: string, data: Record<string, unknown>, options?: SaveOptions): Promise<SaveOutcome>;
  saveMany(items: SaveItem[]): Promise<SaveOutcome[]>;
  delete(type: string, name: string, options?: ChangeOptions): Promise<SaveOutcome>;
  restore(type: string, name: string, options?: ChangeOptions): Promise<SaveOutcome>;
  rollback(type: string, name: string, version: number, options?: ChangeOptions): Promise<SaveOutcome>;
  purge(type: string, name: string, options?: ChangeOptions): Promise<ChangeEvent>;
  history(type: string, name: string): Promise<HistoryEntry[]>;

  load(type: string, name: string): Promise<Record<string, unknown> | null>;
  resolve(type: string, name: string): Promise<Resolution>;
  loadRecord(type: string, name: string): Promise<MetadataRecord | null>;
  loadOwnRecord(type: string, name: string): Promise<MetadataRecord | null>;
  loadMany(type: string): Promise<Record<string, unknown>[]>;
  resolveMany(type: string): Promise<ResolvedItem[]>;
  query(query?: Query): Promise<QueryPage>;
  changes(query?: ChangeQuery): Promise<ChangeEvent[]>;
  lastSequence(): Promise<number>;
  manifest(type?: string): Promise<MirrorEntry[]>;
  subscribe(listener: (event: ChangeEvent) => void, options?: SubscribeOptions): () => void;
  invalidate(type?: string, name?: string): void;
  register(type: string, name: string, data: Record<string, unknown>): Promise<void>;
}
