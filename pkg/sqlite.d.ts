import type { HostStore } from './index.js';

/** A row of either table, as `scan()` yields it (data as JSON text). */
export interface ScannedRow {
  table: 'sys_metadata' | 'sys_metadata_history';
  key: string;
  tenant_id: string | null;
  type: string;
  name: string;
  version: number;
  checksum: string;
  data: string;
  [column: string]: unknown;
}

/** The SQLite host store. */
export interface SqliteStore extends HostStore {
  kind: 'sqlite';
  path: string;
  /** The better-sqlite3 connection. */
  db: unknown;
  commit(ops: Parameters<NonNullable<HostStore['commit']>>[0]): void;
  scan(): IterableIterator<ScannedRow>;
  close(): void;
}

/**
 * Opens (creating if needed) a SQLite metadata database: the `sys_metadata`
 * table with its indexes and the history table. Needs `better-sqlite3`.
 */
export function openSqliteStore(
  path?: string,
  options?: { readonly?: boolean },
): Promise<SqliteStore>;
