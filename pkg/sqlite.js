// SQLite storage for Node: the embedded default of the CLI and of Node
// services. A record host store (the package's `contract: 'records'`) over
// better-sqlite3, with the ADR's sys_metadata table and indexes, the history
// of superseded versions, and each scope's change counter, created or
// upgraded on first use. Every batch is one BEGIN IMMEDIATE transaction:
// its expectations are checked, its sequence numbers taken and its rows
// written while no other connection, in this process or another, can write.

import { metadataError } from './errors.js';

const SCHEMA_VERSION = 2;

// The scope of a row: its tenant, '' for global (no tenant id is empty).
const SCOPE = "ifnull(tenant_id, '')";

const SCHEMA = `
CREATE TABLE sys_metadata (
  id         INTEGER PRIMARY KEY,
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
  updated_by TEXT,
  seq        INTEGER NOT NULL,
  operation  TEXT NOT NULL
);
CREATE UNIQUE INDEX sys_metadata_tenant_type_name ON sys_metadata (${SCOPE}, type, name);
CREATE INDEX sys_metadata_type_active ON sys_metadata (type, is_active);
CREATE INDEX sys_metadata_tenant_type ON sys_metadata (tenant_id, type);
CREATE INDEX sys_metadata_change_log ON sys_metadata (${SCOPE}, seq);
CREATE TABLE sys_metadata_history (
  id         INTEGER PRIMARY KEY,
  tenant_id  TEXT,
  type       TEXT NOT NULL,
  name       TEXT NOT NULL,
  version    INTEGER NOT NULL,
  operation  TEXT NOT NULL,
  checksum   TEXT NOT NULL,
  actor      TEXT NOT NULL,
  timestamp  TEXT NOT NULL,
  is_active  INTEGER NOT NULL,
  data       TEXT NOT NULL,
  seq        INTEGER NOT NULL
);
CREATE UNIQUE INDEX sys_metadata_history_version ON sys_metadata_history (${SCOPE}, type, name, version);
CREATE INDEX sys_metadata_history_change_log ON sys_metadata_history (${SCOPE}, seq);
CREATE TABLE sys_metadata_sequence (
  scope TEXT PRIMARY KEY,
  seq   INTEGER NOT NULL
);
`;

const BOOL = (column) => `json(CASE WHEN ${column} THEN 'true' ELSE 'false' END)`;
// A JSON column as JSON; text that is not JSON (a damaged row) as a JSON
// string, which the core refuses as CORRUPTED instead of SQLite failing the
// whole statement ("malformed JSON").
const JSON_OF = (column) => `CASE WHEN json_valid(${column}) THEN json(${column}) ELSE json_quote(${column}) END`;

// Rows come back as JSON text built by SQLite itself, so nothing is parsed
// and re-serialised in JavaScript on the way to the core.
const RECORD_JSON = `json_object(
  'type', type, 'name', name, 'data', ${JSON_OF('data')}, 'version', version,
  'checksum', checksum, 'source', source, 'is_active', ${BOOL('is_active')},
  'owner', owner, 'tenant_id', tenant_id, 'tags', ${JSON_OF('tags')},
  'created_at', created_at, 'updated_at', updated_at, 'updated_by', updated_by,
  'seq', seq, 'operation', operation)`;
const HISTORY_JSON = `json_object(
  'tenant_id', tenant_id, 'type', type, 'name', name, 'version', version,
  'operation', operation, 'checksum', checksum, 'actor', actor,
  'timestamp', timestamp, 'is_active', ${BOOL('is_active')},
  'data', ${JSON_OF('data')}, 'seq', seq)`;
// A head as the history entry it is.
const HEAD_AS_HISTORY_JSON = `json_object(
  'tenant_id', tenant_id, 'type', type, 'name', name, 'version', version,
  'operation', operation, 'checksum', checksum, 'actor', ifnull(updated_by, owner),
  'timestamp', updated_at, 'is_active', ${BOOL('is_active')},
  'data', ${JSON_OF('data')}, 'seq', seq)`;
const EVENT_OF_HEAD = `json_object(
  'sequence', seq, 'operation', operation, 'tenant_id', tenant_id, 'type', type,
  'name', name, 'version', version, 'checksum', checksum,
  'actor', ifnull(updated_by, owner), 'timestamp', updated_at,
  'is_active', ${BOOL('is_active')})`;
const EVENT_OF_ENTRY = `json_object(
  'sequence', seq, 'operation', operation, 'tenant_id', tenant_id, 'type', type,
  'name', name, 'version', version, 'checksum', checksum, 'actor', actor,
  'timestamp', timestamp, 'is_active', ${BOOL('is_active')})`;

const KEY = `${SCOPE} = @scope AND type = @type AND name = @name`;

function storageError(code, message, cause) {
  return metadataError(code, message, undefined, cause);
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

const keyParams = (key) => ({ scope: key.tenant_id ?? '', type: key.type, name: key.name });

function tableExists(db, name) {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").pluck().get(name) === 1;
}

// Switches a connection to WAL. Another process switching the same new
// file at that moment holds the lock the switch needs, and SQLite answers
// SQLITE_BUSY at once rather than waiting for it: tried again, for as long
// as the driver waits on a lock (5 s).
async function toWal(db) {
  const until = Date.now() + 5000;
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (e) {
      if (e?.code !== 'SQLITE_BUSY' || Date.now() > until) throw e;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

// Creates the schema, or upgrades one written by an earlier version, in one
// transaction. The version is read again once the transaction holds the
// write lock: another process opening the same new file may have made the
// schema in between (it had been upgraded again as an earlier one's, and
// that open failed).
function prepareSchema(db) {
  if (db.pragma('user_version', { simple: true }) === SCHEMA_VERSION) return;
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true });
    if (version === SCHEMA_VERSION) return;
    if (version > SCHEMA_VERSION) {
      throw storageError('UNSUPPORTED', `the database has schema version ${version}; this version reads ${SCHEMA_VERSION}`);
    }
    if (tableExists(db, 'sys_metadata')) upgradeFromV1(db);
    else db.exec(SCHEMA);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

// Version 1 kept rows under a storage key, the head's own version in history
// too, and no sequence numbers: move the rows over, drop those duplicates,
// and number every change of each scope in the order it was made.
function upgradeFromV1(db) {
  db.exec(`
    ALTER TABLE sys_metadata RENAME TO sys_metadata_v1;
    ALTER TABLE sys_metadata_history RENAME TO sys_metadata_history_v1;
    DROP INDEX IF EXISTS sys_metadata_tenant_type_name;
    DROP INDEX IF EXISTS sys_metadata_type_active;
    DROP INDEX IF EXISTS sys_metadata_tenant_type;
    DROP INDEX IF EXISTS sys_metadata_history_record;
  `);
  db.exec(SCHEMA);
  db.exec(`
    INSERT INTO sys_metadata (tenant_id, type, name, data, version, checksum, source, is_active, owner, tags,
                              created_at, updated_at, updated_by, seq, operation)
    SELECT r.tenant_id, r.type, r.name, r.data, r.version, r.checksum, r.source, r.is_active, r.owner, r.tags,
           r.created_at, r.updated_at, r.updated_by, 0,
           ifnull((SELECT h.operation FROM sys_metadata_history_v1 h WHERE h.key = r.key || '#' || printf('%020d', r.version)), 'create')
    FROM sys_metadata_v1 r;
    INSERT INTO sys_metadata_history (tenant_id, type, name, version, operation, checksum, actor, timestamp, is_active, data, seq)
    SELECT h.tenant_id, h.type, h.name, h.version, h.operation, h.checksum, h.actor, h.timestamp, h.is_active, h.data, 0
    FROM sys_metadata_history_v1 h
    WHERE NOT EXISTS (SELECT 1 FROM sys_metadata_v1 r WHERE r.key || '#' || printf('%020d', r.version) = h.key);
    CREATE TEMP TABLE numbered AS
      SELECT t, id, ROW_NUMBER() OVER (PARTITION BY scope ORDER BY at, type, name, version) AS seq, scope FROM (
        SELECT 'r' AS t, id, ${SCOPE} AS scope, updated_at AS at, type, name, version FROM sys_metadata
        UNION ALL
        SELECT 'h', id, ${SCOPE}, timestamp, type, name, version FROM sys_metadata_history);
    UPDATE sys_metadata SET seq = (SELECT seq FROM numbered WHERE t = 'r' AND numbered.id = sys_metadata.id);
    UPDATE sys_metadata_history SET seq = (SELECT seq FROM numbered WHERE t = 'h' AND numbered.id = sys_metadata_history.id);
    INSERT INTO sys_metadata_sequence (scope, seq) SELECT scope, max(seq) FROM numbered GROUP BY scope;
    DROP TABLE numbered;
    DROP TABLE sys_metadata_v1;
    DROP TABLE sys_metadata_history_v1;
  `);
}

/**
 * Opens (creating or upgrading if needed) a SQLite metadata database.
 * @param {string} [path] database file (default ./metadata.db); ':memory:' for a private one
 * @param {{ readonly?: boolean, mustExist?: boolean, pollMs?: number }} [options]
 */
export async function openSqliteStore(path = './metadata.db', options = {}) {
  const Database = await loadDriver();
  const readonly = Boolean(options.readonly);
  let db;
  try {
    db = new Database(path, { readonly, fileMustExist: readonly || Boolean(options.mustExist) });
    if (!readonly) {
      // WAL lets readers in other processes go on while one writes. A
      // read-only opening changes nothing, so a read-only file or a backup
      // copy opens as it is.
      await toWal(db);
      db.pragma('synchronous = NORMAL');
      prepareSchema(db);
    } else if (db.pragma('user_version', { simple: true }) !== SCHEMA_VERSION) {
      throw storageError('UNSUPPORTED', `${path} is not a metadata database of schema version ${SCHEMA_VERSION} (open it writable once to upgrade it)`);
    }
  } catch (cause) {
    db?.close();
    if (cause?.name === 'MetadataError') throw cause;
    throw storageError('STORAGE_UNAVAILABLE', `cannot open ${path}: ${cause.message}`, cause);
  }

  const q = {
    head: db.prepare(`SELECT ${RECORD_JSON} FROM sys_metadata WHERE ${KEY}`).pluck(),
    headVersion: db.prepare(`SELECT version FROM sys_metadata WHERE ${KEY}`).pluck(),
    lastArchived: db.prepare(`SELECT max(version) FROM sys_metadata_history WHERE ${KEY}`).pluck(),
    list: db.prepare(`SELECT ${RECORD_JSON} FROM sys_metadata WHERE ${SCOPE} = @scope AND (@type IS NULL OR type = @type) ORDER BY type, name`).pluck(),
    history: db.prepare(`SELECT j FROM (
        SELECT ${HISTORY_JSON} AS j, version FROM sys_metadata_history WHERE ${KEY}
        UNION ALL SELECT ${HEAD_AS_HISTORY_JSON}, version FROM sys_metadata WHERE ${KEY})
      ORDER BY version`).pluck(),
    changes: db.prepare(`SELECT j FROM (
        SELECT ${EVENT_OF_HEAD} AS j, seq FROM sys_metadata
          WHERE ${SCOPE} = @scope AND seq > @since AND (@type IS NULL OR type = @type) AND (@name IS NULL OR name = @name)
        UNION ALL SELECT ${EVENT_OF_ENTRY}, seq FROM sys_metadata_history
          WHERE ${SCOPE} = @scope AND seq > @since AND (@type IS NULL OR type = @type) AND (@name IS NULL OR name = @name))
      ORDER BY seq LIMIT @limit`).pluck(),
    counter: db.prepare('SELECT seq FROM sys_metadata_sequence WHERE scope = ?').pluck(),
    counters: db.prepare('SELECT scope, seq FROM sys_metadata_sequence'),
    archiveHead: db.prepare(`INSERT INTO sys_metadata_history
        (tenant_id, type, name, version, operation, checksum, actor, timestamp, is_active, data, seq)
      SELECT tenant_id, type, name, version, operation, checksum, ifnull(updated_by, owner), updated_at, is_active, data, seq
      FROM sys_metadata WHERE ${KEY}`),
    insertHead: db.prepare(`INSERT INTO sys_metadata
        (tenant_id, type, name, data, version, checksum, source, is_active, owner, tags, created_at, updated_at, updated_by, seq, operation)
      VALUES (@tenant_id, @type, @name, @data, @version, @checksum, @source, @is_active, @owner, @tags, @created_at, @updated_at, @updated_by, @seq, @operation)`),
    updateHead: db.prepare(`UPDATE sys_metadata SET data = @data, version = @version, checksum = @checksum,
        source = @source, is_active = @is_active, owner = @owner, tags = @tags, created_at = @created_at,
        updated_at = @updated_at, updated_by = @updated_by, seq = @seq, operation = @operation
      WHERE ${KEY}`),
    deleteHead: db.prepare(`DELETE FROM sys_metadata WHERE ${KEY}`),
    insertEntry: db.prepare(`INSERT INTO sys_metadata_history
        (tenant_id, type, name, version, operation, checksum, actor, timestamp, is_active, data, seq)
      VALUES (@tenant_id, @type, @name, @version, @operation, @checksum, @actor, @timestamp, @is_active, @data, @seq)`),
    setCounter: db.prepare(`INSERT INTO sys_metadata_sequence (scope, seq) VALUES (?, ?)
      ON CONFLICT (scope) DO UPDATE SET seq = excluded.seq`),
  };

  // Changes this connection committed, by scope, not yet passed by `watch`.
  const own = new Map();

  const applyBatch = db.transaction((batch) => {
    const heads = batch.changes.map((c) => q.headVersion.get(keyParams(c)) ?? null);
    for (let i = 0; i < heads.length; i++) {
      if (heads[i] !== batch.changes[i].expect) return { conflict: { index: i, found: heads[i] } };
    }
    const scope = batch.tenant_id ?? '';
    const first = (q.counter.get(scope) ?? 0) + 1;
    batch.changes.forEach((c, i) => {
      const key = keyParams(c);
      const seq = first + i;
      if (heads[i] !== null) q.archiveHead.run(key);
      if (c.record) {
        const r = c.record;
        const row = {
          ...key,
          tenant_id: r.tenant_id ?? null, type: r.type, name: r.name, data: r.data, version: r.version,
          checksum: r.checksum, source: r.source, is_active: r.is_active ? 1 : 0, owner: r.owner,
          tags: JSON.stringify(r.tags ?? []), created_at: r.created_at, updated_at: r.updated_at,
          updated_by: r.updated_by ?? null, seq, operation: r.operation,
        };
        (heads[i] === null ? q.insertHead : q.updateHead).run(row);
      } else {
        const t = c.tombstone;
        q.deleteHead.run(key);
        q.insertEntry.run({
          tenant_id: t.tenant_id ?? null, type: t.type, name: t.name, version: t.version, operation: t.operation,
          checksum: t.checksum, actor: t.actor, timestamp: t.timestamp, is_active: t.is_active ? 1 : 0,
          data: t.data, seq,
        });
      }
    });
    q.setCounter.run(scope, first + batch.changes.length - 1);
    return { firstSeq: first };
  });

  const store = {
    kind: 'sqlite',
    contract: 'records',
    path,
    /** The better-sqlite3 connection, for inspection and tooling. */
    db,
    get(key) {
      return q.head.get(keyParams(key)) ?? null;
    },
    readCurrent: db.transaction((keys) => keys.map((key) => {
      const params = keyParams(key);
      const record = q.head.get(params) ?? null;
      const lastVersion = record === null ? q.lastArchived.get(params) ?? 0 : 0;
      return { record, lastVersion };
    })),
    list(tenant, type) {
      return q.list.all({ scope: tenant ?? '', type: type ?? null });
    },
    history(key) {
      return q.history.all(keyParams(key));
    },
    changes(tenant, query = {}) {
      return q.changes.all({
        scope: tenant ?? '',
        since: query.since ?? 0,
        type: query.type ?? null,
        name: query.name ?? null,
        limit: query.limit ?? -1,
      });
    },
    lastSequence(tenant) {
      return q.counter.get(tenant ?? '') ?? 0;
    },
    commit(batch) {
      if (readonly) throw storageError('STORAGE_UNAVAILABLE', `${path} is open read-only`);
      const answer = applyBatch.immediate(batch);
      if (answer.firstSeq) {
        const scope = batch.tenant_id ?? '';
        if (!own.has(scope)) own.set(scope, new Set());
        for (let i = 0; i < batch.changes.length; i++) own.get(scope).add(answer.firstSeq + i);
      }
      return answer;
    },
    /**
     * Calls `onChange(event)` for every change another connection (another
     * process) commits, polling SQLite's data version every `pollMs`
     * (default 100). Returns the function that stops. The timer does not
     * keep Node running.
     */
    watch(onChange) {
      const seen = new Map(q.counters.all().map((r) => [r.scope, r.seq]));
      let version = db.pragma('data_version', { simple: true });
      const timer = setInterval(() => {
        try {
          if (!db.open) return;
          const now = db.pragma('data_version', { simple: true });
          if (now === version) return;
          version = now;
          for (const { scope, seq } of q.counters.all()) {
            const from = seen.get(scope) ?? 0;
            if (seq <= from) continue;
            const mine = own.get(scope);
            for (const text of q.changes.all({ scope, since: from, type: null, name: null, limit: -1 })) {
              const event = JSON.parse(text);
              if (mine?.delete(event.sequence)) continue;
              onChange(event);
            }
            if (mine) for (const n of mine) if (n <= seq) mine.delete(n);
            seen.set(scope, seq);
          }
        } catch {
          // A failed poll is tried again at the next tick; followers read
          // any gap from the change log.
        }
      }, options.pollMs ?? 100);
      timer.unref?.();
      return () => clearInterval(timer);
    },
    /** Every stored row (heads, then history), with its data as JSON text. */
    *scan() {
      for (const row of db.prepare('SELECT * FROM sys_metadata ORDER BY tenant_id, type, name').iterate()) {
        yield { table: 'sys_metadata', ...row };
      }
      for (const row of db.prepare('SELECT * FROM sys_metadata_history ORDER BY tenant_id, type, name, version').iterate()) {
        yield { table: 'sys_metadata_history', ...row };
      }
    },
    close() {
      db.close();
    },
  };
  return store;
}
