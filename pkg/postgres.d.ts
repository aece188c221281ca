import type { RecordHostStore, RecordBatch, ChangeEvent } from './index.js';

/** A row of either table, as `scan()` yields it (data as JSON text). */
export interface PostgresScannedRow {
  table: 'sys_metadata' | 'sys_metadata_history';
  id: number;
  tenant_id: string | null;
  type: string;
  name: string;
  version: number;
  checksum: string;
  data: string;
  seq: number;
}

/** Options of `openPostgresStore`. */
export interface PostgresStoreOptions {
  /** The PostgreSQL schema holding the tables (default 'public'); created if missing. */
  schema?: string;
  /** The LISTEN / NOTIFY channel (default '<schema>.sys_metadata'). */
  channel?: string;
  /** Create nothing and refuse commits (the tables must exist). */
  readonly?: boolean;
  /** Connections in the pool the store opens (default 10). */
  max?: number;
  /** application_name of its connections (default 'objectstack-metadata'). */
  applicationName?: string;
  /** First wait before listening again after a lost connection, in ms (default 100; doubles up to 5 s). */
  reconnectMs?: number;
}

/** The PostgreSQL record host store. */
export interface PostgresStore extends RecordHostStore {
  kind: 'postgres';
  schema: string;
  channel: string;
  /** The node-postgres pool. */
  pool: unknown;
  commit(batch: RecordBatch): Promise<{ firstSeq: number } | { conflict: { index: number; found: number | null } }>;
  watch(onChange: (event: ChangeEvent) => void): Promise<() => void>;
  scan(): AsyncIterableIterator<PostgresScannedRow>;
  /** Stops listening and closes the pool it opened (a pool it was given stays open). */
  close(): Promise<void>;
}

/**
 * Opens (creating or upgrading if needed) the metadata tables in a
 * PostgreSQL database: `sys_metadata` (data jsonb, tags text[],
 * timestamptz), its history, the change counters and the schema version.
 * Needs `pg` (node-postgres).
 * @param connection a connection string, a `pg.Pool` (left open by `close`), or a pool configuration object
 */
export function openPostgresStore(
  connection: string | object,
  options?: PostgresStoreOptions,
): Promise<PostgresStore>;
