// SQLite storage for Node: the embedded default of the CLI and of Node
// services. A host store (get / put / delete / list / commit) over
// better-sqlite3, with the ADR's sys_metadata table and indexes and a
// history table, created on first use. Batches run in one transaction.

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sys_metadata (
  key        TEXT PRIMARY KEY,
  tenant_id  TEXT,
  type       TEXT NOT NULL,
  name       TEXT NOT NULL,
  data       TEXT NOT NULL,
  version    INTEGER NOT NULL,
  checksum   TEXT NOT NULL,
  source     TEXT NOT NULL,
  is_active  INTEGER NOT NULL,
  owner      TEXT NOT NULL,
  tags       TEXT NOT NULL DEFAULT '[]',
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  updated_by TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS sys_metadata_tenant_type_name
  ON sys_metadata (ifnull(tenant_id, ''), type, name);
CREATE INDEX IF NOT EXISTS sys_metadata_type_active ON sys_metadata (type, is_active);
CREATE INDEX IF NOT EXISTS sys_metadata_tenant_type ON sys_metadata (tenant_id, type);
CREATE TABLE IF NOT EXISTS sys_metadata_history (
  key        TEXT PRIMARY KEY,
  tenant_id  TEXT,
  type       TEXT NOT NULL,
  name       TEXT NOT NULL,
  version    INTEGER NOT NULL,
  operation  TEXT NOT NULL,
  checksum   TEXT NOT NULL,
  actor      TEXT NOT NULL,
  timestamp  TEXT NOT NULL,
  is_active  INTEGER NOT NULL,
  data       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sys_metadata_history_record
  ON sys_metadata_history (tenant_id, type, name, version);
`;

// Rows come back as the JSON text of the record, built by SQLite itself, so
// nothing is parsed and re-serialised in JavaScript on the way to the core.
const RECORD_JSON = `json_object(
  'type', type, 'name', name, 'data', json(data), 'version', version,
  'checksum', checksum, 'source', source,
  'is_active', json(CASE WHEN is_active THEN 'true' ELSE 'false' END),
  'owner', owner, 'tenant_id', tenant_id, 'tags', json(tags),
  'created_at', created_at, 'updated_at', updated_at, 'updated_by', updated_by)`;
const HISTORY_JSON = `json_object(
  'tenant_id', tenant_id, 'type', type, 'name', name, 'version', version,
  'operation', operation, 'checksum', checksum, 'actor', actor,
  'timestamp', timestamp,
  'is_active', json(CASE WHEN is_active THEN 'true' ELSE 'false' END),
  'data', json(data))`;

function storageError(code, message, cause) {
  const error = new Error(message, cause ? { cause } : undefined);
  error.name = 'MetadataError';
  error.code = code;
  return error;
}

async function loadDriver() {
  try {
    return (await import('better-sqlite3')).default;
  } catch (cause) {
    throw storageError(
      'STORAGE_UNAVAILABLE',
      'the SQLite store needs the better-sqlite3 package: npm install better-sqlite3@12',
      cause,
    );
  }
}

// The smallest string greater than every string starting with `prefix`.
function prefixEnd(prefix) {
  const last = prefix.charCodeAt(prefix.length - 1);
  return prefix.slice(0, -1) + String.fromCharCode(last + 1);
}

function tableOf(key) {
  if (key.startsWith('r/')) return 'record';
  if (key.startsWith('h/')) return 'history';
  throw storageError('VALIDATION', `not a metadata storage key: ${JSON.stringify(key)}`);
}

/**
 * Opens (creating if needed) a SQLite metadata database.
 * @param {string} [path] database file (default ./metadata.db); ':memory:' for a private one
 * @param {{ readonly?: boolean }} [options]
 */
export async function openSqliteStore(path = './metadata.db', options = {}) {
  const Database = await loadDriver();
  let db;
  try {
    db = new Database(path, { readonly: Boolean(options.readonly), fileMustExist: Boolean(options.readonly) });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    if (!options.readonly) db.exec(SCHEMA);
  } catch (cause) {
    db?.close();
    throw storageError('STORAGE_UNAVAILABLE', `cannot open ${path}: ${cause.message}`, cause);
  }

  const q = {
    getRecord: db.prepare(`SELECT ${RECORD_JSON} AS v FROM sys_metadata WHERE key = ?`).pluck(),
    getHistory: db.prepare(`SELECT ${HISTORY_JSON} AS v FROM sys_metadata_history WHERE key = ?`).pluck(),
    listRecords: db.prepare(`SELECT ${RECORD_JSON} AS v FROM sys_metadata WHERE key >= ? AND key < ? ORDER BY key`).pluck(),
    listHistory: db.prepare(`SELECT ${HISTORY_JSON} AS v FROM sys_metadata_history WHERE key >= ? AND key < ? ORDER BY key`).pluck(),
    putRecord: db.prepare(`INSERT OR REPLACE INTO sys_metadata
      (key, tenant_id, type, name, data, version, checksum, source, is_active, owner, tags, created_at, updated_at, updated_by)
      VALUES (@key, @tenant_id, @type, @name, @data, @version, @checksum, @source, @is_active, @owner, @tags, @created_at, @updated_at, @updated_by)`),
    putHistory: db.prepare(`INSERT OR REPLACE INTO sys_metadata_history
      (key, tenant_id, type, name, version, operation, checksum, actor, timestamp, is_active, data)
      VALUES (@key, @tenant_id, @type, @name, @version, @operation, @checksum, @actor, @timestamp, @is_active, @data)`),
    deleteRecord: db.prepare('DELETE FROM sys_metadata WHERE key = ?'),
    deleteHistory: db.prepare('DELETE FROM sys_metadata_history WHERE key = ?'),
  };

  function put(key, value) {
    if (tableOf(key) === 'record') {
      q.putRecord.run({
        key,
        tenant_id: value.tenant_id ?? null,
        type: value.type,
        name: value.name,
        data: JSON.stringify(value.data),
        version: value.version,
        checksum: value.checksum,
        source: value.source,
        is_active: value.is_active ? 1 : 0,
        owner: value.owner,
        tags: JSON.stringify(value.tags ?? []),
        created_at: value.created_at,
        updated_at: value.updated_at,
        updated_by: value.updated_by ?? null,
      });
    } else {
      q.putHistory.run({
        key,
        tenant_id: value.tenant_id ?? null,
        type: value.type,
        name: value.name,
        version: value.version,
        operation: value.operation,
        checksum: value.checksum,
        actor: value.actor,
        timestamp: value.timestamp,
        is_active: value.is_active ? 1 : 0,
        data: JSON.stringify(value.data),
      });
    }
  }

  function remove(key) {
    if (tableOf(key) === 'record') q.deleteRecord.run(key);
    else q.deleteHistory.run(key);
  }

  const applyBatch = db.transaction((ops) => {
    for (const op of ops) {
      if (op.op === 'put') put(op.key, op.value);
      else if (op.op === 'delete') remove(op.key);
      else throw storageError('VALIDATION', `unknown batch operation ${JSON.stringify(op.op)}`);
    }
  });

  return {
    kind: 'sqlite',
    path,
    /** The better-sqlite3 connection, for inspection and tooling. */
    db,
    get(key) {
      return (tableOf(key) === 'record' ? q.getRecord : q.getHistory).get(key) ?? null;
    },
    list(prefix) {
      const stmt = tableOf(prefix) === 'record' ? q.listRecords : q.listHistory;
      return stmt.all(prefix, prefixEnd(prefix));
    },
    put,
    delete: remove,
    commit(ops) {
      applyBatch(ops);
    },
    /** Every stored row (records, then history), with its data as JSON text. */
    *scan() {
      for (const row of db.prepare('SELECT * FROM sys_metadata ORDER BY key').iterate()) {
        yield { table: 'sys_metadata', ...row };
      }
      for (const row of db.prepare('SELECT * FROM sys_metadata_history ORDER BY key').iterate()) {
        yield { table: 'sys_metadata_history', ...row };
      }
    },
    close() {
      db.close();
    },
  };
}
