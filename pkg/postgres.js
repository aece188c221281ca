// PostgreSQL storage for Node: one database shared by many app instances. A
// record host store (the package's `contract: 'records'`) over node-postgres
// (`pg`), with the ADR's sys_metadata table as real columns (data jsonb,
// tags text[], timestamps timestamptz) and indexes, the history of
// superseded versions and each scope's change counter, created or upgraded
// on first use.
//
// Every batch is one call of the schema's sys_metadata_commit function: one
// statement, one transaction, one round trip, that first locks its scope's
// counter row. Writers of one scope, in any process on any machine, take
// turns, so expectations are checked against the real head and sequence
// numbers are gap-free; the writes themselves are conditional (UPDATE ...
// WHERE version = expected, INSERT ... ON CONFLICT DO NOTHING) with their
// row counts checked. A batch is applied whole or not at all, whenever its
// writer or its connection dies. Every committed change is announced with
// NOTIFY (from the committing transaction, so only on commit); `watch`
// LISTENs, and after a lost connection listens again and reads what it
// missed from the change log.

import { randomUUID } from 'node:crypto';
import { metadataError } from './errors.js';

const SCHEMA_VERSION = 1;

// The scope of a row: its tenant, '' for global (a tenant id is never empty).
const SCOPE = "coalesce(tenant_id, '')";

// Upgrades: MIGRATIONS[v] takes a schema from version v to v + 1. Each runs
// in the transaction that records the new version.
const MIGRATIONS = {};

function schemaSql(t) {
  return `
CREATE TABLE ${t.records} (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id  text CHECK (tenant_id <> ''),
  type       text NOT NULL,
  name       text NOT NULL,
  data       jsonb NOT NULL,
  data_json  json,
  version    bigint NOT NULL,
  checksum   text NOT NULL,
  source     text NOT NULL,
  is_active  boolean NOT NULL,
  owner      text NOT NULL,
  tags       text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  updated_by text,
  seq        bigint NOT NULL,
  operation  text NOT NULL
);
COMMENT ON TABLE ${t.records} IS 'ObjectStack metadata (ADR-0002): the current version of every (tenant_id, type, name); tenant_id NULL is global';
COMMENT ON COLUMN ${t.records}.data IS 'the definition; data_json holds its exact text instead when it has a \\u0000 that jsonb cannot (data then has U+FFFD there)';
COMMENT ON COLUMN ${t.records}.seq IS 'position in the scope''s change log (per tenant; the global scope counts on its own)';
CREATE UNIQUE INDEX ${t.name('sys_metadata_tenant_type_name')} ON ${t.records} ((${SCOPE}), type, name);
CREATE INDEX ${t.name('sys_metadata_type_active')} ON ${t.records} (type, is_active);
CREATE INDEX ${t.name('sys_metadata_tenant_type')} ON ${t.records} (tenant_id, type);
CREATE INDEX ${t.name('sys_metadata_change_log')} ON ${t.records} ((${SCOPE}), seq);
CREATE TABLE ${t.history} (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id  text CHECK (tenant_id <> ''),
  type       text NOT NULL,
  name       text NOT NULL,
  version    bigint NOT NULL,
  operation  text NOT NULL,
  checksum   text NOT NULL,
  actor      text NOT NULL,
  timestamp  timestamptz NOT NULL,
  is_active  boolean NOT NULL,
  data       jsonb NOT NULL,
  data_json  json,
  seq        bigint NOT NULL
);
COMMENT ON TABLE ${t.history} IS 'every version a sys_metadata row superseded, and the tombstone of a purge; rows are never replaced';
CREATE UNIQUE INDEX ${t.name('sys_metadata_history_version')} ON ${t.history} ((${SCOPE}), type, name, version);
CREATE INDEX ${t.name('sys_metadata_history_change_log')} ON ${t.history} ((${SCOPE}), seq);
CREATE TABLE ${t.sequence} (
  scope text PRIMARY KEY,
  seq   bigint NOT NULL
);
COMMENT ON TABLE ${t.sequence} IS 'the last sequence number of each scope (tenant id; '''' for global); a commit locks its scope''s row';

-- A commit in one call (one round trip): lock the scope's counter row and
-- take its sequence numbers (the scope's writers take turns from here); in
-- one statement, with a snapshot taken after the lock, read the heads and,
-- only if every change's expectation holds, archive the heads replaced,
-- delete the purged ones, update and insert the new heads, insert the
-- tombstones and NOTIFY every change, each write conditional and its row
-- count checked. On a conflict the numbers are given back (the row is
-- still locked) and the heads answered. Puts and purges come as rows of
-- the same arrays; a tombstone's actor and timestamp are in updated_by and
-- updated_at.
CREATE FUNCTION ${t.commit}(text, text[], text[], bigint[], boolean[], text[], text[], bigint[], text[], text[],
    boolean[], text[], text[], text[], text[], text[], text[], text, text)
  RETURNS json LANGUAGE plpgsql AS $fn$
DECLARE
  v_n int := cardinality($2);
  v_last bigint;
  v_first bigint;
  v_r record;
BEGIN
  INSERT INTO ${t.sequence} AS s (scope, seq) VALUES ($1, v_n)
    ON CONFLICT (scope) DO UPDATE SET seq = s.seq + excluded.seq RETURNING s.seq INTO v_last;
  v_first := v_last - v_n + 1;
  WITH u AS (
      SELECT x.*, v_first + x.i - 1 AS seq FROM unnest($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
        WITH ORDINALITY AS x(type, name, expect, purge, data, data_json, version, checksum, source, is_active, owner,
          tags, created_at, updated_at, updated_by, operation, i)
    ),
    heads AS (
      SELECT u.i, h.version FROM u LEFT JOIN ${t.records} h
        ON ${SCOPE.replace('tenant_id', 'h.tenant_id')} = $1 AND h.type = u.type AND h.name = u.name
    ),
    ok AS (SELECT bool_and(heads.version IS NOT DISTINCT FROM u.expect) AS ok FROM heads JOIN u USING (i)),
    archived AS (
      INSERT INTO ${t.history}
        (tenant_id, type, name, version, operation, checksum, actor, timestamp, is_active, data, data_json, seq)
      SELECT h.tenant_id, h.type, h.name, h.version, h.operation, h.checksum, coalesce(h.updated_by, h.owner),
        h.updated_at, h.is_active, h.data, h.data_json, h.seq
      FROM ${t.records} h JOIN u ON h.type = u.type AND h.name = u.name AND h.version = u.expect
      WHERE ${SCOPE.replace('tenant_id', 'h.tenant_id')} = $1 AND (SELECT ok FROM ok)
      RETURNING 1
    ),
    purged AS (
      DELETE FROM ${t.records} h USING u
      WHERE ${SCOPE.replace('tenant_id', 'h.tenant_id')} = $1 AND u.purge AND h.type = u.type AND h.name = u.name AND h.version = u.expect
        AND (SELECT ok FROM ok)
      RETURNING 1
    ),
    updated AS (
      UPDATE ${t.records} h SET data = u.data::jsonb, data_json = u.data_json::json, version = u.version,
        checksum = u.checksum, source = u.source, is_active = u.is_active, owner = u.owner,
        tags = ARRAY(SELECT jsonb_array_elements_text(u.tags::jsonb)), created_at = u.created_at::timestamptz,
        updated_at = u.updated_at::timestamptz, updated_by = u.updated_by, seq = u.seq, operation = u.operation
      FROM u
      WHERE ${SCOPE.replace('tenant_id', 'h.tenant_id')} = $1 AND NOT u.purge AND h.type = u.type AND h.name = u.name AND h.version = u.expect
        AND (SELECT ok FROM ok)
      RETURNING 1
    ),
    inserted AS (
      INSERT INTO ${t.records}
        (tenant_id, type, name, data, data_json, version, checksum, source, is_active, owner, tags, created_at,
          updated_at, updated_by, seq, operation)
      SELECT nullif($1, ''), u.type, u.name, u.data::jsonb, u.data_json::json, u.version, u.checksum, u.source,
        u.is_active, u.owner, ARRAY(SELECT jsonb_array_elements_text(u.tags::jsonb)), u.created_at::timestamptz,
        u.updated_at::timestamptz, u.updated_by, u.seq, u.operation
      FROM u WHERE NOT u.purge AND u.expect IS NULL AND (SELECT ok FROM ok)
      ON CONFLICT ((${SCOPE}), type, name) DO NOTHING
      RETURNING 1
    ),
    tombstoned AS (
      INSERT INTO ${t.history}
        (tenant_id, type, name, version, operation, checksum, actor, timestamp, is_active, data, data_json, seq)
      SELECT nullif($1, ''), u.type, u.name, u.version, u.operation, u.checksum, u.updated_by,
        u.updated_at::timestamptz, u.is_active, u.data::jsonb, u.data_json::json, u.seq
      FROM u WHERE u.purge AND (SELECT ok FROM ok)
      RETURNING 1
    ),
    notified AS (
      SELECT count(pg_notify($18, p.payload)) AS n FROM (
        SELECT json_build_object('sequence', u.seq, 'operation', u.operation, 'tenant_id', nullif($1, ''),
          'type', u.type, 'name', u.name, 'version', u.version, 'checksum', u.checksum,
          'actor', coalesce(u.updated_by, u.owner), 'timestamp', u.updated_at, 'is_active', u.is_active,
          'origin', $19)::text AS payload
        FROM u WHERE (SELECT ok FROM ok) ORDER BY u.i) p
    )
  SELECT (SELECT ok FROM ok) AS ok, (SELECT array_agg(version ORDER BY i) FROM heads) AS heads,
    (SELECT count(*) FROM archived) AS archived, (SELECT count(*) FROM purged) AS purged,
    (SELECT count(*) FROM updated) AS updated, (SELECT count(*) FROM inserted) AS inserted,
    (SELECT count(*) FROM tombstoned) AS tombstoned, (SELECT n FROM notified) AS notified
  INTO v_r;
  IF NOT v_r.ok THEN
    UPDATE ${t.sequence} SET seq = seq - v_n WHERE scope = $1;
    RETURN json_build_object('conflict', true, 'heads', v_r.heads);
  END IF;
  -- Cannot differ while every writer locks the counter row first; a writer
  -- that does not (a hand-made UPDATE) is caught here, and nothing is kept.
  IF v_r.archived <> (SELECT count(*) FROM unnest($4) e WHERE e IS NOT NULL)
      OR v_r.purged <> (SELECT count(*) FROM unnest($5) p WHERE p)
      OR v_r.tombstoned <> v_r.purged
      OR v_r.updated + v_r.purged <> v_r.archived
      OR v_r.inserted <> v_n - v_r.archived
      OR v_r.notified <> v_n THEN
    RAISE EXCEPTION 'the stored heads of scope % changed during the commit', quote_literal($1)
      USING ERRCODE = 'serialization_failure';
  END IF;
  RETURN json_build_object('first', v_first);
END
$fn$;
`;
}

// Timestamps go out as the core writes them: RFC 3339, UTC, milliseconds.
const ts = (column) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const DATA = 'coalesce(data_json, data::json)';

// Rows come back as JSON text built by PostgreSQL itself, shaped as the core
// reads them (the same fields as the SQLite store's), so nothing is parsed
// and re-serialised in JavaScript on the way.
const RECORD_JSON = `json_build_object(
  'type', type, 'name', name, 'data', ${DATA}, 'version', version,
  'checksum', checksum, 'source', source, 'is_active', is_active,
  'owner', owner, 'tenant_id', tenant_id, 'tags', to_json(tags),
  'created_at', ${ts('created_at')}, 'updated_at', ${ts('updated_at')}, 'updated_by', updated_by,
  'seq', seq, 'operation', operation)::text`;
const HISTORY_JSON = `json_build_object(
  'tenant_id', tenant_id, 'type', type, 'name', name, 'version', version,
  'operation', operation, 'checksum', checksum, 'actor', actor,
  'timestamp', ${ts('timestamp')}, 'is_active', is_active,
  'data', ${DATA}, 'seq', seq)::text`;
const HEAD_AS_HISTORY_JSON = `json_build_object(
  'tenant_id', tenant_id, 'type', type, 'name', name, 'version', version,
  'operation', operation, 'checksum', checksum, 'actor', coalesce(updated_by, owner),
  'timestamp', ${ts('updated_at')}, 'is_active', is_active,
  'data', ${DATA}, 'seq', seq)::text`;
const EVENT_OF_HEAD = `json_build_object(
  'sequence', seq, 'operation', operation, 'tenant_id', tenant_id, 'type', type,
  'name', name, 'version', version, 'checksum', checksum,
  'actor', coalesce(updated_by, owner), 'timestamp', ${ts('updated_at')},
  'is_active', is_active)::text`;
const EVENT_OF_ENTRY = `json_build_object(
  'sequence', seq, 'operation', operation, 'tenant_id', tenant_id, 'type', type,
  'name', name, 'version', version, 'checksum', checksum, 'actor', actor,
  'timestamp', ${ts('timestamp')}, 'is_active', is_active)::text`;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,39}$/;

function storageError(code, message, cause) {
  return metadataError(code, message, undefined, cause);
}

async function loadDriver() {
  try {
    const pg = await import('pg');
    return pg.default ?? pg;
  } catch (cause) {
    throw storageError(
      'STORAGE_UNAVAILABLE',
      'the PostgreSQL store needs the pg package: npm install pg@8',
      cause,
    );
  }
}

// bigint (sequence numbers, versions, counts) as JavaScript numbers: they
// stay far below 2^53. Everything else as node-postgres reads it.
function typesOf(pg) {
  const INT8 = 20;
  return {
    getTypeParser(oid, format) {
      if (oid === INT8 && format !== 'binary') return (text) => Number(text);
      return pg.types.getTypeParser(oid, format);
    },
  };
}

// A definition's JSON text as jsonb takes it. jsonb cannot hold U+0000: such
// a text goes to data_json unchanged, and data gets U+FFFD in its place (so
// SQL still sees the document). `\\u0000` preceded by an odd number of
// backslashes is text, not an escape.
function forJsonb(text) {
  if (!text.includes('\\u0000')) return [text, null];
  const replaced = text.replace(/(\\*)\\u0000/g, (m, slashes) => (slashes.length % 2 === 0 ? `${slashes}\\ufffd` : m));
  return replaced === text ? [text, null] : [replaced, text];
}

// Quoted, schema-qualified names of the tables.
function tables(schema) {
  const q = (n) => `"${schema}"."${n}"`;
  return {
    schema,
    records: q('sys_metadata'),
    history: q('sys_metadata_history'),
    sequence: q('sys_metadata_sequence'),
    version: q('sys_metadata_schema'),
    commit: q('sys_metadata_commit'),
    name: (n) => `"${n}"`,
  };
}

// Creates the schema, or upgrades one written by an earlier version, in one
// transaction; an advisory lock keeps instances starting together from
// racing to create it.
async function prepareSchema(pool, t, { readonly }) {
  const client = await pool.connect();
  try {
    const found = async () => {
      const { rows: [r] } = await client.query('SELECT to_regclass($1) AS version, to_regclass($2) AS records',
        [`"${t.schema}"."sys_metadata_schema"`, `"${t.schema}"."sys_metadata"`]);
      if (r.version === null) {
        if (r.records !== null) {
          throw storageError('UNSUPPORTED', `schema "${t.schema}" has a sys_metadata table that this package did not create: use another schema (option schema)`);
        }
        return 0;
      }
      const v = await client.query(`SELECT version FROM ${t.version}`);
      return v.rows[0]?.version ?? 0;
    };
    if (readonly) {
      const version = await found();
      if (version !== SCHEMA_VERSION) {
        if (version === 0) {
          // `noTables`: what a reader that may find nothing (openStore's
          // optional) tells apart from a real refusal.
          throw metadataError(
            'UNSUPPORTED',
            `schema "${t.schema}" holds no metadata tables (open it writable once to create them)`,
            { noTables: true },
          );
        }
        throw storageError(
          'UNSUPPORTED',
          `schema "${t.schema}" has metadata schema version ${version}; this version reads ${SCHEMA_VERSION}`,
        );
      }
      return;
    }
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`objectstack-metadata:${t.schema}`]);
      const version = await found();
      if (version > SCHEMA_VERSION) {
        throw storageError('UNSUPPORTED', `schema "${t.schema}" has metadata schema version ${version}; this version reads ${SCHEMA_VERSION}`);
      }
      if (version < SCHEMA_VERSION) {
        if (version === 0) {
          await client.query(`CREATE SCHEMA IF NOT EXISTS "${t.schema}"`);
          await client.query(schemaSql(t));
          await client.query(`CREATE TABLE ${t.version} (version integer NOT NULL)`);
          await client.query(`INSERT INTO ${t.version} (version) VALUES (0)`);
        } else {
          for (let v = version; v < SCHEMA_VERSION; v++) await client.query(MIGRATIONS[v](t));
        }
        await client.query(`UPDATE ${t.version} SET version = $1`, [SCHEMA_VERSION]);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
  } finally {
    client.release();
  }
}

const scopeOf = (tenant) => tenant ?? '';

/**
 * Opens (creating or upgrading if needed) the metadata tables in a
 * PostgreSQL database.
 * @param {string | object} connection a connection string
 *   (`postgres://user:password@host:5432/db`), a `pg.Pool` (kept open on
 *   `close()`: it is yours), or a `pg` pool configuration object
 * @param {{ schema?: string, channel?: string, readonly?: boolean, max?: number,
 *   applicationName?: string, reconnectMs?: number }} [options]
 */
export async function openPostgresStore(connection, options = {}) {
  const known = new Set(['schema', 'channel', 'readonly', 'max', 'applicationName', 'reconnectMs']);
  for (const key of Object.keys(options ?? {})) {
    if (!known.has(key)) throw storageError('VALIDATION', `unknown option ${JSON.stringify(key)} (known: ${[...known].join(', ')})`);
  }
  const schema = options.schema ?? 'public';
  if (typeof schema !== 'string' || !IDENTIFIER.test(schema)) {
    throw storageError('VALIDATION', `schema must be an identifier of letters, digits and _ (at most 40), not ${JSON.stringify(schema)}`);
  }
  const channel = options.channel ?? `${schema}.sys_metadata`;
  if (typeof channel !== 'string' || !/^[A-Za-z0-9_.:-]{1,63}$/.test(channel)) {
    throw storageError('VALIDATION', `channel must be 1 to 63 letters, digits or _ . : -, not ${JSON.stringify(channel)}`);
  }
  const readonly = Boolean(options.readonly);
  const reconnectMs = options.reconnectMs ?? 100;
  const pg = await loadDriver();
  const types = typesOf(pg);
  const applicationName = options.applicationName ?? 'objectstack-metadata';

  // The pool's settings, for the listening connection too.
  let pool;
  let ownPool;
  let clientConfig;
  if (connection instanceof pg.Pool || (connection && typeof connection.connect === 'function' && typeof connection.query === 'function')) {
    pool = connection;
    ownPool = false;
    clientConfig = { ...(connection.options ?? {}) };
  } else {
    if (typeof connection === 'string') clientConfig = { connectionString: connection };
    else if (connection && typeof connection === 'object') clientConfig = { ...connection };
    else throw storageError('VALIDATION', 'openPostgresStore needs a connection string, a pg.Pool or a pool configuration');
    clientConfig.application_name ??= applicationName;
    // Idle connections do not keep Node running.
    pool = new pg.Pool({ max: options.max ?? 10, allowExitOnIdle: true, ...clientConfig, types });
    ownPool = true;
  }
  // An idle connection that breaks is dropped from the pool; without a
  // listener its error would end the process.
  const onPoolError = () => {};
  pool.on?.('error', onPoolError);

  const t = tables(schema);
  try {
    await prepareSchema(pool, t, { readonly });
  } catch (cause) {
    if (ownPool) await pool.end().catch(() => {});
    else pool.off?.('error', onPoolError);
    if (cause?.name === 'MetadataError') throw cause;
    throw storageError('STORAGE_UNAVAILABLE', `cannot open the metadata tables in PostgreSQL: ${cause.message}`, cause);
  }

  // Queries on the pool; their results' types parsed as `types` says even on
  // a pool we were given.
  const query = (text, values) => pool.query({ text, values, types });

  const KEY = `${SCOPE} = $1 AND type = $2 AND name = $3`;
  const keyValues = (key) => [scopeOf(key.tenant_id), key.type, key.name];
  const sql = {
    head: `SELECT ${RECORD_JSON} AS j FROM ${t.records} WHERE ${KEY}`,
    readCurrent: `SELECT k.i, h.j, (SELECT max(version) FROM ${t.history} a
          WHERE ${SCOPE.replace('tenant_id', 'a.tenant_id')} = k.scope AND a.type = k.type AND a.name = k.name) AS last
        FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS k(scope, type, name, i)
        LEFT JOIN LATERAL (SELECT ${RECORD_JSON} AS j FROM ${t.records} r
          WHERE ${SCOPE.replace('tenant_id', 'r.tenant_id')} = k.scope AND r.type = k.type AND r.name = k.name) h ON true
        ORDER BY k.i`,
    list: `SELECT ${RECORD_JSON} AS j FROM ${t.records} WHERE ${SCOPE} = $1 AND ($2::text IS NULL OR type = $2) ORDER BY type COLLATE "C", name COLLATE "C"`,
    history: `SELECT j FROM (
        SELECT ${HISTORY_JSON} AS j, version FROM ${t.history} WHERE ${KEY}
        UNION ALL SELECT ${HEAD_AS_HISTORY_JSON}, version FROM ${t.records} WHERE ${KEY}) v
      ORDER BY version`,
    changes: `SELECT j FROM (
        SELECT ${EVENT_OF_HEAD} AS j, seq FROM ${t.records}
          WHERE ${SCOPE} = $1 AND seq > $2 AND ($3::text IS NULL OR type = $3) AND ($4::text IS NULL OR name = $4)
        UNION ALL SELECT ${EVENT_OF_ENTRY}, seq FROM ${t.history}
          WHERE ${SCOPE} = $1 AND seq > $2 AND ($3::text IS NULL OR type = $3) AND ($4::text IS NULL OR name = $4)) c
      ORDER BY seq LIMIT $5`,
    counter: `SELECT seq FROM ${t.sequence} WHERE scope = $1`,
    counters: `SELECT scope, seq FROM ${t.sequence}`,
    commit: `SELECT ${t.commit}($1, $2::text[], $3::text[], $4::bigint[], $5::boolean[], $6::text[], $7::text[],
      $8::bigint[], $9::text[], $10::text[], $11::boolean[], $12::text[], $13::text[], $14::text[], $15::text[],
      $16::text[], $17::text[], $18, $19) AS r`,
    committed: `SELECT j FROM (
        SELECT ${EVENT_OF_HEAD} AS j, seq FROM ${t.records} WHERE ${KEY} AND version = $4
        UNION ALL SELECT ${EVENT_OF_ENTRY}, seq FROM ${t.history} WHERE ${KEY} AND version = $4) c`,
  };

  // Watchers of this store object; each skips the changes this object
  // committed (the service has announced those already): their
  // notifications carry its origin.
  const watchers = new Set();
  const origin = randomUUID();
  let closed = false;

  const refuseWhenClosed = () => {
    if (closed) throw storageError('STORAGE_UNAVAILABLE', 'the PostgreSQL store is closed');
  };

  async function applyBatch(batch) {
    const scope = scopeOf(batch.tenant_id);
    const changes = batch.changes;
    const col = (f) => changes.map((c) => f(c.record ?? c.tombstone, c));
    const texts = col((x) => forJsonb(x.data));
    const put = (c) => Boolean(c.record);
    const values = [
      scope, col((x) => x.type), col((x) => x.name), col((_, c) => c.expect ?? null), col((_, c) => !put(c)),
      texts.map((p) => p[0]), texts.map((p) => p[1]), col((x) => x.version), col((x) => x.checksum),
      col((x, c) => (put(c) ? x.source : null)), col((x) => Boolean(x.is_active)),
      col((x, c) => (put(c) ? x.owner : null)), col((x, c) => (put(c) ? JSON.stringify(x.tags ?? []) : null)),
      col((x, c) => (put(c) ? x.created_at : null)), col((x, c) => (put(c) ? x.updated_at : x.timestamp)),
      col((x, c) => (put(c) ? x.updated_by ?? null : x.actor)), col((x) => x.operation), channel, origin,
    ];
    let answer;
    try {
      ({ rows: [{ r: answer }] } = await query(sql.commit, values));
    } catch (error) {
      // Whether it committed is unknown when the connection failed: if it
      // did, this store object's watchers tell of it from the log.
      if (watchers.size > 0) findCommitted(batch).catch(() => {});
      throw error;
    }
    if (answer.conflict) {
      const heads = answer.heads.map((v) => (v === null ? null : Number(v)));
      const index = changes.findIndex((c, i) => heads[i] !== (c.expect ?? null));
      return { conflict: { index, found: heads[index] } };
    }
    const first = Number(answer.first);
    for (const watcher of watchers) watcher.own(scope, first, changes.length);
    return { firstSeq: first };
  }

  // The changes of `batch` the log holds, told to the watchers as made
  // elsewhere (the service did not announce them).
  async function findCommitted(batch) {
    for (const c of batch.changes) {
      const version = (c.record ?? c.tombstone).version;
      const { rows } = await query(sql.committed, [scopeOf(c.tenant_id), c.type, c.name, version]);
      for (const watcher of watchers) for (const { j } of rows) watcher.tell(j);
    }
  }

  // Reads the scope's change log after `since`.
  async function changesSince(scope, since) {
    const { rows } = await query(sql.changes, [scope, since, null, null, null]);
    return rows.map((r) => r.j);
  }

  /**
   * Listens for the changes other store objects (other processes, other
   * machines) commit; see `watch` below.
   */
  function startWatcher(onChange) {
    const state = {
      seen: new Map(),
      own: new Map(),
      client: null,
      timer: null,
      stopped: false,
      queue: Promise.resolve(),
      delay: reconnectMs,
    };

    // A change heard, from a notification or the log, told unless this
    // store object committed it (its service announced it already).
    const emit = (event) => {
      const scope = scopeOf(event.tenant_id);
      const mine = state.own.get(scope)?.delete(event.sequence);
      if (event.origin !== undefined) {
        if (event.origin === origin) return;
        delete event.origin;
      } else if (mine) {
        return;
      }
      try {
        onChange(event);
      } catch {
        // A listener's failure is its own.
      }
    };

    // Hands out every change of `scope` after what was seen, from the log.
    const catchUp = async (scope) => {
      const from = state.seen.get(scope) ?? 0;
      const texts = await changesSince(scope, from);
      for (const text of texts) {
        const event = JSON.parse(text);
        if (event.sequence <= (state.seen.get(scope) ?? 0)) continue;
        state.seen.set(scope, event.sequence);
        emit(event);
      }
    };

    const catchUpAll = async () => {
      const { rows } = await query(sql.counters, []);
      for (const { scope, seq } of rows) if (seq > (state.seen.get(scope) ?? 0)) await catchUp(scope);
    };

    const hear = (payload) => {
      state.queue = state.queue.then(async () => {
        if (state.stopped) return;
        let event;
        try {
          event = JSON.parse(payload);
        } catch {
          await catchUpAll();
          return;
        }
        const scope = scopeOf(event.tenant_id);
        const seen = state.seen.get(scope) ?? 0;
        if (event.sequence <= seen) return;
        if (event.sequence === seen + 1 && typeof event.type === 'string') {
          state.seen.set(scope, event.sequence);
          emit(event);
        } else {
          // Beyond what was heard (or a payload without the change): the
          // log has it.
          await catchUp(scope);
        }
      }).catch(() => reconnect());
    };

    const connect = async () => {
      const client = new pg.Client({ ...clientConfig, application_name: `${applicationName} listener`, types });
      client.on('notification', (n) => { if (n.channel === channel) hear(n.payload); });
      client.on('error', () => reconnect(client));
      client.on('end', () => reconnect(client));
      await client.connect();
      await client.query(`LISTEN "${channel}"`);
      // Listening does not keep Node running.
      client.connection?.stream?.unref?.();
      if (state.stopped) {
        await client.end().catch(() => {});
        return;
      }
      state.client = client;
      state.delay = reconnectMs;
    };

    const reconnect = (from) => {
      if (state.stopped || state.timer) return;
      if (from && from !== state.client) return;
      const old = state.client;
      state.client = null;
      old?.end().catch(() => {});
      state.timer = setTimeout(async () => {
        state.timer = null;
        if (state.stopped) return;
        try {
          await connect();
          // Listening again: what was committed meanwhile is in the log.
          state.queue = state.queue.then(catchUpAll).catch(() => reconnect());
        } catch {
          state.delay = Math.min(state.delay * 2, 5000);
          reconnect();
        }
      }, state.delay);
      state.timer.unref?.();
    };

    const watcher = {
      state,
      // Changes this store object committed: the log (read after a lost
      // connection) does not say who made a change.
      own(scope, first, count) {
        if (!state.own.has(scope)) state.own.set(scope, new Set());
        const set = state.own.get(scope);
        const seen = state.seen.get(scope) ?? 0;
        for (let i = 0; i < count; i++) if (first + i > seen) set.add(first + i);
      },
      tell(text) {
        const event = JSON.parse(text);
        state.own.get(scopeOf(event.tenant_id))?.delete(event.sequence);
        try {
          onChange(event);
        } catch {
          // A listener's failure is its own.
        }
      },
      async start() {
        await connect();
        // Listening: the changes after these counters will be heard.
        const { rows } = await query(sql.counters, []);
        for (const { scope, seq } of rows) state.seen.set(scope, Math.max(seq, state.seen.get(scope) ?? 0));
      },
      stop() {
        state.stopped = true;
        if (state.timer) clearTimeout(state.timer);
        state.timer = null;
        const client = state.client;
        state.client = null;
        watchers.delete(watcher);
        return client ? client.end().catch(() => {}) : Promise.resolve();
      },
    };
    return watcher;
  }

  const store = {
    kind: 'postgres',
    contract: 'records',
    schema,
    channel,
    /** The node-postgres pool, for inspection and tooling. */
    pool,
    async get(key) {
      const { rows } = await query(sql.head, keyValues(key));
      return rows[0]?.j ?? null;
    },
    async readCurrent(keys) {
      if (keys.length === 0) return [];
      const { rows } = await query(sql.readCurrent, [
        keys.map((k) => scopeOf(k.tenant_id)), keys.map((k) => k.type), keys.map((k) => k.name),
      ]);
      return rows.map((r) => ({ record: r.j ?? null, lastVersion: r.j ? 0 : r.last ?? 0 }));
    },
    async list(tenant, type) {
      const { rows } = await query(sql.list, [scopeOf(tenant), type ?? null]);
      return rows.map((r) => r.j);
    },
    async history(key) {
      const { rows } = await query(sql.history, keyValues(key));
      return rows.map((r) => r.j);
    },
    async changes(tenant, q = {}) {
      const { rows } = await query(sql.changes, [scopeOf(tenant), q.since ?? 0, q.type ?? null, q.name ?? null, q.limit ?? null]);
      return rows.map((r) => r.j);
    },
    async lastSequence(tenant) {
      const { rows } = await query(sql.counter, [scopeOf(tenant)]);
      return rows[0]?.seq ?? 0;
    },
    async commit(batch) {
      refuseWhenClosed();
      if (readonly) throw storageError('STORAGE_UNAVAILABLE', `schema "${schema}" is open read-only`);
      if (batch.changes.length === 0) return { firstSeq: (await store.lastSequence(batch.tenant_id)) + 1 };
      return applyBatch(batch);
    },
    /**
     * Calls `onChange(event)` for every change another store object (another
     * process, another machine) commits on this database: LISTEN on a
     * connection of its own, and after a lost connection LISTEN again and
     * read what was missed from the change log. Resolves to the function
     * that stops. The connection does not keep Node running.
     */
    async watch(onChange) {
      refuseWhenClosed();
      const watcher = startWatcher(onChange);
      await watcher.start();
      watchers.add(watcher);
      return () => { watcher.stop(); };
    },
    /** Every stored row (heads, then history), with its data as JSON text. */
    async *scan() {
      for (const [table, name, order] of [[t.records, 'sys_metadata', 'id'], [t.history, 'sys_metadata_history', 'id']]) {
        let after = 0;
        for (;;) {
          const { rows } = await query(
            `SELECT id, tenant_id, type, name, version, checksum, ${DATA}::text AS data, seq FROM ${table}
             WHERE id > $1 ORDER BY ${order} LIMIT 500`,
            [after],
          );
          if (rows.length === 0) break;
          for (const row of rows) yield { table: name, ...row };
          after = rows[rows.length - 1].id;
        }
      }
    },
    /** Stops the watchers and, unless the pool was given, closes it. */
    async close() {
      if (closed) return;
      closed = true;
      // The connections ending are unreferenced: hold Node until they have.
      const hold = setInterval(() => {}, 1000);
      try {
        await Promise.all([...watchers].map((w) => w.stop()));
        pool.off?.('error', onPoolError);
        if (ownPool) await pool.end();
      } finally {
        clearInterval(hold);
      }
    },
  };
  return store;
}
