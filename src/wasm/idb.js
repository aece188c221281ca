// JavaScript half of the IndexedDB store: every request of an operation is
// issued, and its results used, inside request callbacks, so a transaction
// never goes inactive between reading and writing (what the conditional
// commit needs). Rows are built and decoded by the Rust half; this file only
// moves them. The object stores, keys and row shapes:
//
//   records   key: <storage key>            { key, tenant, type, name, active, version, seq, json }
//             indexes: type_active [type, active] (the ADR's), tenant_seq [tenant, seq] (change log)
//   history   key: <storage key>#<version>  { key, tenant, type, name, version, seq, json, head? }
//             index: tenant_seq [tenant, seq]
//   counters  key: <scope prefix>           { key, seq }
//
// `tenant` is '' for global rows (no tenant id can be empty). A history row
// with `head: 1` is an archived head: its json is the record as it was.

export const SCHEMA_VERSION = 2;
const STORES = ['records', 'history', 'counters'];

const settle = (request) => new Promise((resolve, reject) => {
  request.onsuccess = () => resolve(request.result);
  request.onerror = () => reject(request.error);
});

const done = (tx) => new Promise((resolve, reject) => {
  tx.oncomplete = () => resolve();
  tx.onerror = () => reject(tx.error);
  tx.onabort = () => reject(tx.error ?? new DOMException('the transaction was aborted', 'AbortError'));
});

// The smallest string greater than every string starting with `prefix`.
function prefixEnd(prefix) {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

const prefixRange = (prefix) => IDBKeyRange.bound(prefix, prefixEnd(prefix), false, true);

const historyKey = (key, version) => `${key}#${String(version).padStart(20, '0')}`;

// The scope prefix of a storage key: up to and including its first '/'.
const scopeOf = (key) => key.slice(0, key.indexOf('/') + 1);

function upgrade(db, tx, oldVersion) {
  if (oldVersion < 1) {
    const records = db.createObjectStore('records', { keyPath: 'key' });
    records.createIndex('type_active', ['type', 'active']);
    db.createObjectStore('history', { keyPath: 'key' });
  }
  if (oldVersion < 2) {
    const records = tx.objectStore('records');
    const history = tx.objectStore('history');
    if (oldVersion >= 1) {
      // Version 1 repeated the primary key in a unique index and its
      // (tenant, type) prefix in another: the key already serves both.
      records.deleteIndex('tenant_type_name');
      records.deleteIndex('tenant_type');
    }
    records.createIndex('tenant_seq', ['tenant', 'seq']);
    history.createIndex('tenant_seq', ['tenant', 'seq']);
    const counters = db.createObjectStore('counters', { keyPath: 'key' });
    if (oldVersion >= 1) migrateRows(records, history, counters);
  }
}

// Version 1 kept each head's own version in history too and had no
// sequence numbers: drop those entries, and number every change of each
// scope in the order it was made.
function migrateRows(records, history, counters) {
  const heads = records.getAll();
  const archived = history.getAll();
  archived.onsuccess = () => {
    const byKey = new Map(heads.result.map((row) => [row.key, { row, record: JSON.parse(row.json) }]));
    const scopes = new Map();
    const add = (row, store, at) => {
      const scope = scopeOf(row.key);
      if (!scopes.has(scope)) scopes.set(scope, []);
      scopes.get(scope).push({ row, store, at });
    };
    for (const row of archived.result) {
      const entry = JSON.parse(row.json);
      const head = byKey.get(row.key.slice(0, row.key.lastIndexOf('#')));
      if (head && head.row.version === row.version) {
        // The head's own entry: its operation moves into the head.
        head.record.operation = entry.operation;
        history.delete(row.key);
      } else {
        add(row, history, entry.timestamp);
      }
    }
    for (const { row, record } of byKey.values()) {
      add({ ...row, json: JSON.stringify(record) }, records, record.updated_at);
    }
    for (const [scope, rows] of scopes) {
      rows.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.row.key < b.row.key ? -1 : a.row.key > b.row.key ? 1 : 0));
      rows.forEach(({ row, store }, i) => store.put({ ...row, seq: i + 1 }));
      counters.put({ key: scope, seq: rows.length });
    }
  };
}

// Opens (creating or upgrading) a database; resolves with the connection.
// A connection steps aside when another tab upgrades or deletes the
// database (the store reopens on its next call).
export function idbOpen(factory, name) {
  return new Promise((resolve, reject) => {
    let request;
    try {
      request = factory.open(name, SCHEMA_VERSION);
    } catch (e) {
      reject(e);
      return;
    }
    let upgradeError = null;
    request.onupgradeneeded = (event) => {
      try {
        upgrade(request.result, request.transaction, event.oldVersion);
      } catch (e) {
        upgradeError = e;
        request.transaction.abort();
      }
    };
    request.onsuccess = () => {
      const db = request.result;
      db.onversionchange = () => db.close();
      resolve(db);
    };
    request.onerror = () => reject(upgradeError ?? request.error);
    request.onblocked = () => {};
  });
}

export function idbClose(db) {
  db.close();
}

// The head row under `key`, or null.
export async function idbGet(db, key) {
  const tx = db.transaction(['records'], 'readonly');
  return (await settle(tx.objectStore('records').get(key))) ?? null;
}

// Heads of a scope or type: every row whose key starts with `prefix`.
export async function idbList(db, prefix) {
  const tx = db.transaction(['records'], 'readonly');
  return settle(tx.objectStore('records').getAll(prefixRange(prefix)));
}

// A record's head and archived rows, read together.
export async function idbHistory(db, key) {
  const tx = db.transaction(['records', 'history'], 'readonly');
  const [head, archived] = await Promise.all([
    settle(tx.objectStore('records').get(key)),
    settle(tx.objectStore('history').getAll(prefixRange(`${key}#`))),
  ]);
  return { head: head ?? null, archived };
}

// For each key of `keys` (JSON text of storage keys), its head row (or null)
// and the highest version its history reached. Keys of one scope and type
// are read with one range once there are many of them (a bulk import).
export async function idbReadCurrent(db, keysText) {
  const keys = JSON.parse(keysText);
  const RANGE_FROM = 32;
  const groups = new Map();
  for (const key of keys) {
    const prefix = key.slice(0, key.lastIndexOf('/') + 1);
    if (!groups.has(prefix)) groups.set(prefix, []);
    groups.get(prefix).push(key);
  }
  const tx = db.transaction(['records', 'history'], 'readonly');
  const records = tx.objectStore('records');
  const history = tx.objectStore('history');
  const heads = new Map();
  const last = new Map();
  const pending = [];
  const noteVersions = (versionKeys) => {
    for (const hk of versionKeys) {
      const at = hk.lastIndexOf('#');
      const recordKey = hk.slice(0, at);
      const version = Number(hk.slice(at + 1));
      if (version > (last.get(recordKey) ?? 0)) last.set(recordKey, version);
    }
  };
  for (const [prefix, members] of groups) {
    if (members.length >= RANGE_FROM) {
      pending.push(settle(records.getAll(prefixRange(prefix))).then((rows) => {
        for (const row of rows) heads.set(row.key, row);
      }));
      pending.push(settle(history.getAllKeys(prefixRange(prefix))).then(noteVersions));
    } else {
      for (const key of members) {
        pending.push(settle(records.get(key)).then((row) => { if (row) heads.set(key, row); }));
        pending.push(settle(history.getAllKeys(prefixRange(`${key}#`))).then(noteVersions));
      }
    }
  }
  await Promise.all(pending);
  return keys.map((key) => {
    const row = heads.get(key) ?? null;
    return { row, last: row ? row.version : last.get(key) ?? 0 };
  });
}

// A scope's change log after `since`: head and archived rows with a higher
// sequence number, at most `limit` of each (the union's first `limit` are
// among them).
export async function idbChanges(db, tenant, since, limit) {
  const tx = db.transaction(['records', 'history'], 'readonly');
  const range = IDBKeyRange.bound([tenant, since], [tenant, Infinity], true, false);
  const count = limit ?? undefined;
  const [heads, archived] = await Promise.all([
    settle(tx.objectStore('records').index('tenant_seq').getAll(range, count)),
    settle(tx.objectStore('history').index('tenant_seq').getAll(range, count)),
  ]);
  return { heads, archived };
}

export async function idbLastSequence(db, scope) {
  const tx = db.transaction(['counters'], 'readonly');
  const row = await settle(tx.objectStore('counters').get(scope));
  return row ? row.seq : 0;
}

// Applies a batch (JSON text of { scope, changes: [{ key, expect, head,
// tombstone }] }) in one readwrite transaction: checks every expectation
// against the head as it is inside the transaction, takes the scope's next
// sequence numbers, archives replaced heads (add: never over an existing
// history row), writes the new heads and tombstones, and the counter.
// Resolves with { firstSeq } or { conflict: { index, found } } (nothing
// written); rejects with the transaction's error.
export async function idbCommit(db, batchText) {
  const batch = JSON.parse(batchText);
  const tx = db.transaction(STORES, 'readwrite');
  const records = tx.objectStore('records');
  const history = tx.objectStore('history');
  const counters = tx.objectStore('counters');
  const heads = batch.changes.map((c) => records.get(c.key));
  // Requests of a transaction complete in order: when the counter's has,
  // every head's has too.
  const counter = counters.get(batch.scope);
  let conflict = null;
  let firstSeq = 0;
  counter.onsuccess = () => {
    for (let i = 0; i < heads.length; i++) {
      const found = heads[i].result ? heads[i].result.version : null;
      if (found !== batch.changes[i].expect) {
        conflict = { index: i, found };
        tx.abort();
        return;
      }
    }
    firstSeq = (counter.result ? counter.result.seq : 0) + 1;
    // Records first, then history: the stores are independent, and grouped
    // writes commit faster than interleaved ones.
    batch.changes.forEach((c, i) => {
      if (c.head) {
        c.head.seq = firstSeq + i;
        records.put(c.head);
      } else {
        records.delete(c.key);
      }
    });
    batch.changes.forEach((c, i) => {
      const old = heads[i].result;
      if (old) {
        const archived = { ...old, key: historyKey(old.key, old.version), head: 1 };
        delete archived.active;
        history.add(archived);
      }
      if (c.tombstone) {
        c.tombstone.seq = firstSeq + i;
        history.add(c.tombstone);
      }
    });
    counters.put({ key: batch.scope, seq: firstSeq + batch.changes.length - 1 });
  };
  try {
    await done(tx);
  } catch (error) {
    if (conflict) return { conflict };
    throw error;
  }
  return { firstSeq };
}
