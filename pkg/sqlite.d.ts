import type { RecordHostStore, RecordBatch } from './index.js';

/** A row of either table, as `scan()` yields it (data as JSON text). */
export interface ScannedRow {
  table: 'sys_metadata' | 'sys_metadata_history';
  tenant_id: string | null;
  type: string;
  name: string;
  version: number;
  checksum: string;
  data: string;
  seq: number;
  [column: string]: unknown;
}

/** The SQLite record host store. */
export interface SqliteStore extends RecordHostStore {
  kind: 'sqlite';
  path: string;
  /** The better-sqlite3 connection. */
  db: unknown;
  commit(batch: RecordBatch): { firstSeq: number } | { conflict: { index: number; found: number | null } };
  scan(): IterableIterator<ScannedRow>;
  close(): void;
}

/**
 * Opens (creating or upgrading if needed) a SQLite metadata database: the
 * `sys_metadata` table with its indexes, the history of superseded
 * versions and the change counters. Needs `better-sqlite3`.
 */
export function openSqliteStore(
  path?: string,
  options?: { readonly?: boolean; mustExist?: boolean; pollMs?: number },
): Promise<SqliteStore>;
