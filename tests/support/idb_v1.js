// Writes an IndexedDB database the way schema version 1 of the store did
// (records with three indexes, history holding every version including the
// head's, no sequence numbers), to test the upgrade to version 2.
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

// Spoils the stored JSON of the head row of `key` in a database of the
// current schema: `json` replaces the row's text (undefined: the row loses
// its text).
export function spoilRow(name, key, json) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(name);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction(['records'], 'readwrite');
      const store = tx.objectStore('records');
      const get = store.get(key);
      get.onsuccess = () => {
        const row = get.result;
        if (!row) {
          tx.abort();
          return;
        }
        if (json === undefined) delete row.json;
        else row.json = json;
        store.put(row);
      };
      tx.oncomplete = () => { db.close(); resolve(); };
      tx.onabort = () => { db.close(); reject(tx.error ?? new Error(`no row ${key}`)); };
    };
  });
}
