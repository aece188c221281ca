// Which database the command line (and a server started from it) works on:
// PostgreSQL when a database URL is given (--database-url, or DATABASE_URL
// when no --db names a SQLite file), otherwise the SQLite file (default
// ./metadata.db), the embedded default.

import { metadataError } from './errors.js';

export const DEFAULT_SQLITE_PATH = './metadata.db';

function usageError(message) {
  return metadataError('VALIDATION', message, { usage: true });
}

/**
 * The store the options name.
 * @param {{ db?: string, databaseUrl?: string }} options
 * @param {Record<string, string | undefined>} [env] DATABASE_URL is read from here
 * @returns {{ kind: 'sqlite', path: string } | { kind: 'postgres', url: string }}
 */
export function storeTarget({ db, databaseUrl } = {}, env = process.env) {
  if (db !== undefined && databaseUrl !== undefined) {
    throw usageError('--db (a SQLite file) and --database-url (PostgreSQL) name two databases: give one');
  }
  const url = databaseUrl ?? (db === undefined ? env.DATABASE_URL || undefined : undefined);
  if (url !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(url)) {
      throw usageError(`a database URL starts with postgres:// or postgresql://, not ${JSON.stringify(redact(url))}`);
    }
    return { kind: 'postgres', url };
  }
  return { kind: 'sqlite', path: db ?? DEFAULT_SQLITE_PATH };
}

/** A URL without its password, for messages. */
export function redact(url) {
  return url.replace(/^([a-z]+:\/\/[^:@/]*):[^@/]*@/i, '$1:***@');
}

/** Where a target is, for messages. */
export function describeTarget(target) {
  return target.kind === 'postgres' ? redact(target.url) : target.path;
}

/**
 * Opens the store the options name.
 * @param {{ db?: string, databaseUrl?: string }} options
 * @param {{ readonly?: boolean, optional?: boolean, env?: object }} [how]
 *   `optional`: answer null instead of creating a database that is not there
 *   yet (a SQLite file that does not exist, PostgreSQL without the tables)
 * @returns {Promise<import('./sqlite.js').SqliteStore | import('./postgres.js').PostgresStore | null>}
 */
export async function openStore(options, { readonly = false, optional = false, env = process.env } = {}) {
  const target = storeTarget(options, env);
  if (target.kind === 'postgres') {
    const { openPostgresStore } = await import('./postgres.js');
    try {
      return await openPostgresStore(target.url, { readonly: readonly || optional });
    } catch (error) {
      if (optional && error.noTables === true) return null;
      throw error;
    }
  }
  if (optional) {
    const { existsSync } = await import('node:fs');
    if (!existsSync(target.path)) return null;
  }
  const { openSqliteStore } = await import('./sqlite.js');
  return openSqliteStore(target.path, { readonly: readonly || optional });
}
