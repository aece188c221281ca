// JavaScript half of the IndexedDB store: every request of an operation is
// issued, and its results used, inside request callbacks, so a transaction
// never goes inactive between reading and writing (what the conditional
// commit needs). A held write (idbHold) keeps its transaction open for
// the Rust half, which plans in the promise reactions of its last read
// and writes before yielding. Rows are built and decoded by the Rust half;
// this file only moves them. The object stores, keys and row shapes:
//
//   records   key: <storage key>            { key, tenant, version, seq, json, h }
//             index: tenant_seq [tenant, seq] (change log)
//   history   key: <storage key>#<version>  { key, tenant, version, seq, json, h, head? }
//             index: tenant_seq [tenant, seq]
//   counters  key: <scope prefix>           { key, seq }
//
// `tenant` is '' for global rows (no tenant id can be empty). `json` is the
// row's JSON text as UTF-8 bytes (a Uint8Array) since schema 4; rows
// written before are text, read as they are and replaced as their records
// are written. A history row with `head: 1` is an archived head: its json
// is the record as it was. `h` is the hash of `json` the Rust half wrote
// with it (rows written before rows had one have none). Rows of schema 1 and 2 also carry `type`, `name` and (heads) `active`,
// which nothing reads.
//
// The keys and key ranges come from the Rust half (store/layout.rs is the
// one definition of the layout); only the upgrade from schema 1 below reads
// keys itself, as schema 1 wrote them.

export const SCHEMA_VERSION = 4;
const STORES = ['records', 'history', 'counters'];

const settle = (request) => new Promise((resolve, reject) => {
  request.onsuccess = () => resolve(request.result);
  request.onerror = () => reject(request.error);
});

// A request's error reaches its transaction's onerror before the
// transaction aborts and takes it as its own `error`: until then that is
// null, and the request's error is the one to tell.
const done = (tx) => new Promise((resolve, reject) => {
  tx.oncomplete = () => resolve();
  tx.onerror = (event) => reject(tx.error ?? event.target?.error ?? new DOMException('a request of the transaction failed', 'UnknownError'));
  tx.onabort = () => reject(tx.error ?? new DOMException('the transaction was aborted', 'AbortError'));
});

const encoder = new TextEncoder();

// Rows as one run of UTF-8 bytes: a JSON header `[[key, seq, head, h,
// version, length], ...]` (`version`: the row's own, which commits check,
// or null; `length`: the byte length of the row's JSON text, or null for a
// row without one), then each row's JSON text in order, as it is stored.
// The header always reads, whatever a row holds: a sequence number or
// version that is not a safe non-negative integer is null, a hash that is
// not one this module writes is "?" (which no text has), and a key that is
// not well-formed Unicode has each lone surrogate replaced (no record has
// such a key): the Rust half reports each as that row's damage.
// One copy crosses to the Rust half instead of four property reads and a
// string per row, and each text is framed by its length, not by its
// content: a row whose text is torn, is not JSON or is not UTF-8 is that
// row's damage alone, and no text can pass for further rows. Rows of
// schema 4 store their JSON as UTF-8 bytes, copied here as they are; a
// text row of an earlier schema is encoded. The Rust half checks each
// text (UTF-8, JSON, its hash), and the record against the key it is
// stored under.
const HASH = /^[0-9a-f]{16}$/;
const count = (n) => (Number.isSafeInteger(n) && n >= 0 ? n : 'null');
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const wellFormed = (s) => s.replace(LONE_SURROGATE, '\ufffd');

function pack(rows) {
  const headers = new Array(rows.length);
  const texts = new Array(rows.length);
  let size = 0;
  rows.forEach((r, i) => {
    const json = typeof r.json === 'string' ? encoder.encode(r.json) : r.json;
    const text = json instanceof Uint8Array ? json : null;
    texts[i] = text;
    size += text ? text.length : 0;
    const hash = typeof r.h !== 'string' ? 'null' : HASH.test(r.h) ? `"${r.h}"` : '"?"';
    headers[i] = `[${JSON.stringify(wellFormed(String(r.key)))},${count(r.seq)},${r.head ? 1 : 0},${hash},${count(r.version)},${text ? text.length : 'null'}]`;
  });
  const header = encoder.encode(`[${headers.join(',')}]`);
  const out = new Uint8Array(header.length + size);
  out.set(header);
  let at = header.length;
  for (const text of texts) {
    if (text) {
      out.set(text, at);
      at += text.length;
    }
  }
  return out;
}

// A [lower, upper) key range.
const range = ([lower, upper]) => IDBKeyRange.bound(lower, upper, false, true);

// Schema 1's scope prefix of a storage key: up to and including its first '/'.
const scopeOf = (key) => key.slice(0, key.indexOf('/') + 1);

function upgrade(db, tx, oldVersion) {
  if (oldVersion < 1) {
    db.createObjectStore('records', { keyPath: 'key' });
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
  if (oldVersion >= 1 && oldVersion < 3) {
    // Versions 1 and 2 kept the ADR's (type, active) index, which no read
    // of this store uses (a type is a range of the key): every write paid
    // for it.
    const records = tx.objectStore('records');
    if (records.indexNames.contains('type_active')) records.deleteIndex('type_active');
  }
  // Version 4 writes rows' texts as UTF-8 bytes and reads text rows as
  // they are: nothing to convert. The version changes so that a page of an
  // earlier version, which cannot read byte rows, is refused the database
  // (and its open connections are asked to close) instead of finding
  // every new row corrupted.
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
// How long an open waits for other connections to the database to close
// when an upgrade needs them to (ours close at once: only a connection
// that ignores `versionchange` keeps it waiting), before it gives up.
const BLOCKED_MS = 5000;

// Opens given up while blocked and still pending, by factory and name: an
// open queues behind them and is never told it is blocked itself.
const givenUp = new WeakMap();

// A connection steps aside when another tab upgrades or deletes the
// database (the store reopens on its next call), and calls `onAway` (the
// store's caches then forget what they read from it), as it does when the
// browser closes the connection. An upgrade that another
// connection blocks for BLOCKED_MS is refused with a `BlockedError`; if
// it goes on later, the connection it opens is closed. While such an open
// is pending, later opens of the database wait behind it, and are refused
// after BLOCKED_MS as well.
export function idbOpen(factory, name, onAway) {
  return new Promise((resolve, reject) => {
    let request;
    try {
      request = factory.open(name, SCHEMA_VERSION);
    } catch (e) {
      reject(e);
      return;
    }
    if (!givenUp.has(factory)) givenUp.set(factory, new Map());
    const pending = givenUp.get(factory);
    let timer = null;
    let gaveUp = false;
    const settled = () => {
      clearTimeout(timer);
      if (gaveUp) {
        const left = pending.get(name) - 1;
        if (left > 0) pending.set(name, left);
        else pending.delete(name);
      }
    };
    const wait = () => {
      timer ??= setTimeout(() => {
        gaveUp = true;
        pending.set(name, (pending.get(name) ?? 0) + 1);
        reject(new DOMException(
          `another connection to ${name} stays open and blocks its upgrade to schema ${SCHEMA_VERSION} (close the other pages of this site that use it)`,
          'BlockedError',
        ));
      }, BLOCKED_MS);
    };
    // "blocked" also comes while a connection closed a moment ago finishes
    // its last transaction, and the open then goes on: only a wait that
    // lasts is refused.
    request.onblocked = wait;
    if (pending.has(name)) wait();
    let upgradeError = null;
    request.onupgradeneeded = (event) => {
      // Not blocked any more: the upgrade runs, however long it takes.
      clearTimeout(timer);
      try {
        upgrade(request.result, request.transaction, event.oldVersion);
      } catch (e) {
        upgradeError = e;
        request.transaction.abort();
      }
    };
    request.onsuccess = () => {
      settled();
      const db = request.result;
      if (gaveUp) {
        db.close();
        return;
      }
      // Another context deletes or upgrades the database (versionchange),
      // or the browser closes the connection itself (site data cleared, a
      // Storage Bucket deleted: close). A store freed meanwhile has let its
      // callback go: nothing is left to tell.
      const away = () => {
        try {
          onAway();
        } catch {
          // The store is gone.
        }
      };
      db.onversionchange = () => {
        db.close();
        away();
      };
      db.onclose = away;
      resolve(db);
    };
    request.onerror = () => {
      settled();
      reject(upgradeError ?? request.error);
    };
  });
}

export function idbClose(db) {
  db.close();
}

// The head row under `key`, or null.
export async function idbGet(db, key) {
  const tx = db.transaction(['records'], 'readonly');
  const row = await settle(tx.objectStore('records').get(key));
  return pack(row ? [row] : []);
}

// Heads of a scope or type: every row in the key range [lower, upper).
export async function idbList(db, lower, upper) {
  const tx = db.transaction(['records'], 'readonly');
  return pack(await settle(tx.objectStore('records').getAll(range([lower, upper]))));
}

// A record's head and archived rows (the history range given), read together.
export async function idbHistory(db, key, lower, upper) {
  const tx = db.transaction(['records', 'history'], 'readonly');
  const [head, archived] = await Promise.all([
    settle(tx.objectStore('records').get(key)),
    settle(tx.objectStore('history').getAll(range([lower, upper]))),
  ]);
  return { head: pack(head ? [head] : []), archived: pack(archived) };
}

// Issues the reads of a writer's plan (`{ gets: [key], ranges: [[lower,
// upper]], histories: [[lower, upper]] }`: head rows by key and by key
// range, and the keys of archived versions) in `tx`; the rows found go to
// `rows`, the history keys to `historyKeys`. Resolves when all are read.
function readPlan(tx, plan, rows, historyKeys) {
  const records = tx.objectStore('records');
  const history = tx.objectStore('history');
  return Promise.all([
    ...plan.gets.map((key) => settle(records.get(key)).then((row) => { if (row) rows.push(row); })),
    ...plan.ranges.map((r) => settle(records.getAll(range(r))).then((found) => { for (const row of found) rows.push(row); })),
    ...plan.histories.map((r) => settle(history.getAllKeys(range(r))).then((keys) => { for (const k of keys) historyKeys.push(k); })),
  ]);
}

// What a writer reads, in one transaction, as the plan (JSON text) says
// (see readPlan). Resolves to `{ rows, historyKeys }`.
export async function idbReadCurrent(db, planText) {
  const tx = db.transaction(['records', 'history'], 'readonly');
  const rows = [];
  const historyKeys = [];
  await readPlan(tx, JSON.parse(planText), rows, historyKeys);
  return { rows: pack(rows), historyKeys };
}

// A write held from its read to its commit: reads as idbReadCurrent does,
// and the scope's counter, in a readwrite transaction that stays open for
// the writer. Resolves, inside the last read's callback (so the writer,
// running in the microtasks after it, finds the transaction active), to
// `{ rows, historyKeys, firstSeq, held }`: `held` is what idbHeldWrite
// and idbHeldFinish take. Nothing else writes until it commits.
export function idbHold(db, planText, scope) {
  let tx;
  try {
    // Throws on a connection that was closed (another tab upgraded or
    // deleted the database): a rejection, so the Rust half reconnects.
    tx = db.transaction(STORES, 'readwrite');
  } catch (e) {
    return Promise.reject(e);
  }
  const plan = JSON.parse(planText);
  const held = {
    tx,
    scope,
    next: 0,
    written: 0,
    settled: false,
    heads: new Map(),
    done: done(tx),
  };
  // A hold given up is aborted on purpose; finish reports the others.
  held.done.catch(() => {});
  const rows = [];
  const historyKeys = [];
  const read = readPlan(tx, plan, rows, historyKeys);
  // Requests of a transaction complete in order: the counter's, issued
  // last, completes after every read.
  const counter = tx.objectStore('counters').get(scope);
  return new Promise((resolve, reject) => {
    held.done.catch(reject);
    read.catch(reject);
    counter.onsuccess = () => {
      for (const row of rows) held.heads.set(row.key, row);
      held.next = (counter.result ? counter.result.seq : 0) + 1;
      resolve({ rows: pack(rows), historyKeys, firstSeq: held.next, held });
    };
  });
}

// Writes changes into a held transaction, at the scope's next sequence
// numbers, without waiting: the batch (JSON text) is idbCommit's, without
// its expectations (the hold read what the writer planned against) and
// with the texts and their ends as idbCommit takes them. Throws what the transaction
// throws (TransactionInactiveError when it ended before the writer came).
export function idbHeldWrite(held, batchText, texts, ends) {
  const batch = withTexts(JSON.parse(batchText), texts, ends);
  const first = held.next;
  writeChanges(held.tx, batch.changes, first, (c) => {
    const old = held.heads.get(c.key);
    held.heads.delete(c.key);
    return old;
  });
  held.next = first + batch.changes.length;
  held.written += batch.changes.length;
  // With every piece, so that whatever commits, the counter agrees.
  const counter = held.tx.objectStore('counters').put({ key: held.scope, seq: held.next - 1 });
  // The Rust half finishes or gives up the hold before it yields, so
  // before any request of it completes. If this completes first, the
  // Rust half stopped without doing either (a trap): nothing is kept.
  counter.onsuccess = () => {
    if (!held.settled) idbHeldAbort(held);
  };
}

// Commits a held write: resolves when the transaction completes, rejects
// with its error.
export function idbHeldFinish(held) {
  held.settled = true;
  return held.done;
}

// Gives up a held write: nothing it wrote is kept.
export function idbHeldAbort(held) {
  held.settled = true;
  try {
    held.tx.abort();
  } catch {
    // Already over.
  }
}

// A scope's change log after `since`: head and archived rows with a higher
// sequence number, at most `limit` of each (the union's first `limit` are
// among them).
export async function idbChanges(db, tenant, since, limit) {
  const tx = db.transaction(['records', 'history'], 'readonly');
  const after = IDBKeyRange.bound([tenant, since], [tenant, Infinity], true, false);
  const count = limit ?? undefined;
  const [heads, archived] = await Promise.all([
    settle(tx.objectStore('records').index('tenant_seq').getAll(after, count)),
    settle(tx.objectStore('history').index('tenant_seq').getAll(after, count)),
  ]);
  return { heads: pack(heads), archived: pack(archived) };
}

export async function idbLastSequence(db, scope) {
  const tx = db.transaction(['counters'], 'readonly');
  const row = await settle(tx.objectStore('counters').get(scope));
  return row ? row.seq : 0;
}

// The batch with each row's JSON in place (see idbCommit): `texts` holds
// the UTF-8 bytes of the rows' texts, one a change, in order, each ending
// where `ends` says. Both may be views of the Rust half's memory: each row
// gets a copy of its bytes before this returns.
function withTexts(batch, texts, ends) {
  const n = batch.changes.length;
  if (ends.length !== n || (n > 0 ? ends[n - 1] : 0) !== texts.length) {
    throw new Error('the batch does not account for its texts');
  }
  let from = 0;
  for (let i = 0; i < n; i++) {
    const c = batch.changes[i];
    (c.head ?? c.tombstone).json = texts.slice(from, ends[i]);
    from = ends[i];
  }
  return batch;
}

// Writes a batch's changes at sequence numbers from `first` on: each new
// head or removal, then each replaced head (`replaced(change, index)`: the
// head row read, or nothing) archived as it was and each tombstone.
// Records first, then history: the stores are independent, and grouped
// writes commit faster than interleaved ones.
function writeChanges(tx, changes, first, replaced) {
  const records = tx.objectStore('records');
  const history = tx.objectStore('history');
  changes.forEach((c, i) => {
    if (c.head) {
      c.head.seq = first + i;
      records.put(c.head);
    } else {
      records.delete(c.key);
    }
  });
  changes.forEach((c, i) => {
    const old = replaced(c, i);
    if (old) history.add(archived(c.archive, old));
    if (c.tombstone) {
      c.tombstone.seq = first + i;
      history.add(c.tombstone);
    }
  });
}

// The history row of a replaced head, moved under `key` as it was.
const archived = (key, old) => {
  const row = { key, tenant: old.tenant, version: old.version, seq: old.seq, json: old.json, head: 1 };
  if (typeof old.h === 'string') row.h = old.h;
  return row;
};

// Applies a batch in one readwrite transaction: checks every expectation
// against the heads as they are inside the transaction, takes the scope's
// next sequence numbers, archives replaced heads (add: never over an
// existing history row), writes the new heads and tombstones, and the
// counter. The batch (JSON text): `{ scope, changes: [{ key, expect, head,
// tombstone, archive }], absent: [[lower, upper, [index...]]], gets: [index] }`:
// the changes that expect no head are checked by the keys of a range where
// there are many of one range (`absent`), the others by reading their head
// (`gets`); `archive` is the history key a replaced head moves to. Each
// head's and tombstone's JSON text is in `texts` (UTF-8 bytes), one a
// change in order, each ending where `ends` says (see withTexts).
// Resolves with { firstSeq } or { conflict: { index, found } } (nothing
// written); rejects with the transaction's error.
export async function idbCommit(db, batchText, texts, ends) {
  const batch = withTexts(JSON.parse(batchText), texts, ends);
  const tx = db.transaction(STORES, 'readwrite');
  const records = tx.objectStore('records');
  const counters = tx.objectStore('counters');
  const heads = new Array(batch.changes.length).fill(null);
  const present = [];
  for (const i of batch.gets) {
    const request = records.get(batch.changes[i].key);
    request.onsuccess = () => { heads[i] = request.result ?? null; };
  }
  for (const [lower, upper, members] of batch.absent) {
    const request = records.getAllKeys(range([lower, upper]));
    request.onsuccess = () => {
      const keys = new Set(request.result);
      for (const i of members) if (keys.has(batch.changes[i].key)) present.push(i);
    };
  }
  // Requests of a transaction complete in order: when the counter's has,
  // every head's has too.
  const counter = counters.get(batch.scope);
  let conflict = null;
  let firstSeq = 0;
  counter.onsuccess = () => {
    if (present.length > 0) {
      // Expected absent, found: report the version found, then give up.
      const i = Math.min(...present);
      const request = records.get(batch.changes[i].key);
      request.onsuccess = () => {
        conflict = { index: i, found: request.result ? request.result.version : null };
        tx.abort();
      };
      return;
    }
    for (const i of batch.gets) {
      const found = heads[i] ? heads[i].version : null;
      if (found !== batch.changes[i].expect) {
        conflict = { index: i, found };
        tx.abort();
        return;
      }
    }
    firstSeq = (counter.result ? counter.result.seq : 0) + 1;
    writeChanges(tx, batch.changes, firstSeq, (c, i) => heads[i]);
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
