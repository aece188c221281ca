// IndexedDB databases as earlier schema versions of the store wrote them,
// to test the upgrades, and what a database holds.

// Writes a database the way schema version 1 of the store did (records
// with three indexes, history holding every version including the head's,
// no sequence numbers).
export function writeV1Database(name, records, history) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(name, 1);
    open.onupgradeneeded = () => {
      const db = open.result;
      const r = db.createObjectStore('records', { keyPath: 'key' });
      r.createIndex('tenant_type_name', ['tenant', 'type', 'name'], { unique: true });
      r.createIndex('type_active', ['type', 'active']);
      r.createIndex('tenant_type', ['tenant', 'type']);
      db.createObjectStore('history', { keyPath: 'key' });
    };
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction(['records', 'history'], 'readwrite');
      for (const row of JSON.parse(records)) tx.objectStore('records').put(row);
      for (const row of JSON.parse(history)) tx.objectStore('history').put(row);
      tx.oncomplete = () => { db.close(); resolve(); };
      tx.onabort = () => reject(tx.error);
    };
  });
}

// Writes a database the way schema version 2 of the store did: the rows of
// today's schema, their JSON as text, (`dump`: the JSON text of what dumpDatabase gives) with
// the members version 2 also wrote (type and name, and a head's active),
// under the (type, active) index on records that version 3 drops.
export function writeV2Database(name, dump) {
  const rows = JSON.parse(dump);
  for (const store of ['records', 'history']) {
    for (const row of rows[store]) {
      const record = JSON.parse(row.json);
      // Version 2 stored text.
      delete row.bytes;
      row.type = record.type;
      row.name = record.name;
      if (store === 'records') row.active = record.is_active ? 1 : 0;
    }
  }
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(name, 2);
    open.onupgradeneeded = () => {
      const db = open.result;
      const r = db.createObjectStore('records', { keyPath: 'key' });
      r.createIndex('type_active', ['type', 'active']);
      r.createIndex('tenant_seq', ['tenant', 'seq']);
      db.createObjectStore('history', { keyPath: 'key' }).createIndex('tenant_seq', ['tenant', 'seq']);
      db.createObjectStore('counters', { keyPath: 'key' });
    };
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction(['records', 'history', 'counters'], 'readwrite');
      for (const store of ['records', 'history', 'counters']) {
        for (const row of rows[store]) tx.objectStore(store).put(row);
      }
      tx.oncomplete = () => { db.close(); resolve(); };
      tx.onabort = () => reject(tx.error);
    };
  });
}

// Every row of a database, as the JSON text of { store: [row...] }.
export function dumpDatabase(name) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(name);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction([...db.objectStoreNames], 'readonly');
      const out = {};
      for (const store of db.objectStoreNames) {
        const all = tx.objectStore(store).getAll();
        // A row's JSON as text, marked `bytes` where it is stored as
        // UTF-8 bytes (schema 4).
        all.onsuccess = () => {
          out[store] = all.result.map((row) => (row.json instanceof Uint8Array ? { ...row, json: new TextDecoder().decode(row.json), bytes: true } : row));
        };
      }
      tx.oncomplete = () => { db.close(); resolve(JSON.stringify(out)); };
      tx.onabort = () => { db.close(); reject(tx.error); };
    };
  });
}

// The object stores and indexes of a database, as { store: [index...] }.
export function describeDatabase(name) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(name);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const out = { version: db.version };
      const tx = db.transaction([...db.objectStoreNames], 'readonly');
      for (const store of db.objectStoreNames) out[store] = [...tx.objectStore(store).indexNames];
      db.close();
      resolve(out);
    };
  });
}

// Reads the head row of `key` in a database of the current schema and
// puts what `change(row)` makes of it (the row itself, changed, or another).
function rewriteRow(name, key, change) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(name);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction(['records'], 'readwrite');
      const store = tx.objectStore('records');
      const get = store.get(key);
      get.onsuccess = () => {
        if (!get.result) {
          tx.abort();
          return;
        }
        store.put(change(get.result));
      };
      tx.oncomplete = () => { db.close(); resolve(); };
      tx.onabort = () => { db.close(); reject(tx.error ?? new Error(`no row ${key}`)); };
    };
  });
}

// Copies the head row of `key` under `copy`, as it is (its text names
// the record of `key`).
export function copyRow(name, key, copy) {
  return rewriteRow(name, key, (row) => ({ ...row, key: copy }));
}

// Damages the head row of `key` outside its text, as `kind` says: its
// sequence number (`seq-negative`, `seq-infinite`, `seq-fraction`,
// `seq-huge`), its hash (`hash-lone`: a lone surrogate, `hash-short`), a
// copy of it under its key with a lone surrogate added (`lone-key`), or
// the version it says it holds (`version-ahead`: four more than its text's;
// `version-behind`: one less).
export function damageRow(name, key, kind) {
  return rewriteRow(name, key, (row) => {
    const damaged = {
      'seq-negative': { ...row, seq: -1 },
      'seq-infinite': { ...row, seq: Infinity },
      'seq-fraction': { ...row, seq: 1.5 },
      'seq-huge': { ...row, seq: 2 ** 64 },
      'hash-lone': { ...row, h: '\ud800abcdefabcdef' },
      'hash-short': { ...row, h: 'abc' },
      'lone-key': { ...row, key: `${key}\ud800` },
      'version-ahead': { ...row, version: row.version + 4 },
      'version-behind': { ...row, version: row.version - 1 },
    }[kind];
    if (!damaged) throw new Error(`no damage ${kind}`);
    return damaged;
  });
}

// Spoils the stored JSON of the head row of `key`: `json` replaces the
// row's text (undefined: the row loses its text).
export function spoilRow(name, key, json, keepHash, hash) {
  return rewriteRow(name, key, (row) => {
    if (json === undefined) delete row.json;
    else row.json = json;
    // Without its hash, as rows were written before they had one, or
    // with the one given.
    if (!keepHash) delete row.h;
    if (typeof hash === 'string') row.h = hash;
    return row;
  });
}

// Opens the database at its current version and keeps the connection,
// which, unlike the store's, does not close when another asks to upgrade
// or delete the database. Resolves to the connection.
export function holdOpen(name) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(name);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => resolve(open.result);
  });
}

export function closeConnection(db) {
  db.close();
}

// The IndexedDB of the Storage Bucket `name` (opened, or made).
export async function bucketFactory(name) {
  return (await navigator.storageBuckets.open(name)).indexedDB;
}

// A connection to `name` in `factory` at `version` (made with the first
// schema's stores when new) that does not step aside for an upgrade.
export function holdOpenAt(factory, name, version) {
  return new Promise((resolve, reject) => {
    const open = factory.open(name, version);
    open.onupgradeneeded = () => {
      open.result.createObjectStore('records', { keyPath: 'key' });
      open.result.createObjectStore('history', { keyPath: 'key' });
    };
    open.onerror = () => reject(open.error);
    open.onsuccess = () => resolve(open.result);
  });
}

// `promise`, or 'timed out' after `ms`.
export function within(promise, ms) {
  return Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve('timed out'), ms))]);
}
