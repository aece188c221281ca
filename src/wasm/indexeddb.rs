//! IndexedDB storage: the browser default.
//!
//! One database per namespace (`objectstack-metadata/<namespace>`), three
//! object stores: `records` (the heads, keyed by storage key, which orders
//! a scope's records by type and name without an index; index (tenant,
//! seq) for the change log),
//! `history` (archived versions keyed by storage key and zero-padded
//! version, which orders a record's versions without an index; index
//! (tenant, seq)) and `counters` (each scope's last sequence number). The
//! key layout is [`crate::store::layout`]'s; a row carries its key, the
//! index's fields, the version a commit checks and the record's JSON text,
//! so reads decode exactly what the core wrote.
//!
//! The requests live in `idb.js`: each operation issues its requests, and
//! uses their results, inside request callbacks, so a commit reads the heads
//! and the counter, checks every expectation and writes in one readwrite
//! transaction that never goes inactive in between. A service's write holds
//! one readwrite transaction from its read to its commit
//! ([`Store::hold`], `idbHold`): the read resolves inside its last
//! callback, the writer plans in the promise reactions that follow while
//! the transaction is still active, and hands the rows over in pieces as
//! it plans them, so IndexedDB writes the first while the rest are planned
//! (and the answer is built while the commit completes). A browser that
//! ended the transaction before the first piece loses the hold, and the
//! writer plans again and commits conditionally (`idbCommit`). A closed or lost
//! connection is reopened once per call. A `QuotaExceededError`, also when
//! it arrives as the transaction's `AbortError`, is `QUOTA_EXCEEDED`; the
//! aborted transaction wrote nothing. Schema version 4 upgrades a database
//! of versions 1 to 3 in place (see `idb.js`); rows store their JSON text
//! as UTF-8 bytes, which cross to and from the module as they are.
//!
//! The database lives in the page's default storage, or in a Storage Bucket
//! ([`Bucket`]): its own quota and eviction, apart from the rest of the
//! origin's data, where the browser has the Storage Buckets API.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use async_trait::async_trait;
use js_sys::{Array, Function, Object, Promise, Reflect};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{DomException, IdbDatabase, IdbFactory};

use super::boundary::{describe_thrown, thrown_name};
use super::convert::{get, set};
use crate::error::{Error, Result};
use crate::events::{ChangeEvent, ChangeQuery};
use crate::key::RecordKey;
use crate::record::{HistoryEntry, MetadataRecord};
use crate::store::{codec, layout, Batch, Change, Current, Feed, Held, HeldError, HeldRead, Store};

#[wasm_bindgen(module = "/src/wasm/idb.js")]
extern "C" {
    #[wasm_bindgen(js_name = idbOpen)]
    fn idb_open(factory: &IdbFactory, name: &str, on_away: &Function) -> Promise;
    #[wasm_bindgen(js_name = idbClose)]
    fn idb_close(db: &IdbDatabase);
    #[wasm_bindgen(js_name = idbGet)]
    fn idb_get(db: &IdbDatabase, key: &str) -> Promise;
    #[wasm_bindgen(js_name = idbList)]
    fn idb_list(db: &IdbDatabase, lower: &str, upper: &str) -> Promise;
    #[wasm_bindgen(js_name = idbHistory)]
    fn idb_history(db: &IdbDatabase, key: &str, lower: &str, upper: &str) -> Promise;
    #[wasm_bindgen(js_name = idbReadCurrent)]
    fn idb_read_current(db: &IdbDatabase, plan: &str) -> Promise;
    #[wasm_bindgen(js_name = idbChanges)]
    fn idb_changes(db: &IdbDatabase, tenant: &str, since: f64, limit: JsValue) -> Promise;
    #[wasm_bindgen(js_name = idbLastSequence)]
    fn idb_last_sequence(db: &IdbDatabase, scope: &str) -> Promise;
    #[wasm_bindgen(js_name = idbCommit)]
    fn idb_commit(db: &IdbDatabase, batch: &str, texts: &[u8], ends: &[u32]) -> Promise;
    #[wasm_bindgen(js_name = idbHold)]
    fn idb_hold(db: &IdbDatabase, plan: &str, scope: &str) -> Promise;
    #[wasm_bindgen(catch, js_name = idbHeldWrite)]
    fn idb_held_write(
        held: &JsValue,
        batch: &str,
        texts: &[u8],
        ends: &[u32],
    ) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(js_name = idbHeldFinish)]
    fn idb_held_finish(held: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = idbHeldAbort)]
    fn idb_held_abort(held: &JsValue);
}

/// Schema version of the database (what `idb.js` creates or upgrades to).
pub const SCHEMA_VERSION: u32 = 4;

/// A [`Store`] over IndexedDB.
pub struct IndexedDbStore {
    name: String,
    /// Where the database is opened: the global scope's IndexedDB or the
    /// bucket's, which is opened again if the bucket was deleted.
    factory: RefCell<IdbFactory>,
    bucket: Option<Bucket>,
    db: RefCell<Option<IdbDatabase>>,
    feed: Feed,
    /// [`Store::epoch`]: how many times another context deleted or
    /// upgraded the database under an open connection (`versionchange`),
    /// or the browser closed one (`close`: site data cleared, the bucket
    /// deleted), counted by `on_away`, which `idbOpen` calls then.
    epoch: Rc<Cell<u64>>,
    on_away: Closure<dyn Fn()>,
    /// Held writes committed, and holds lost before their first write
    /// (see [`IndexedDbStore::held_writes`]).
    held_commits: Cell<u64>,
    lost_holds: Cell<u64>,
}

/// A Storage Bucket to keep the database in: `navigator.storageBuckets`'
/// `open(name, { quota, persisted })`.
#[derive(Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    /// Lower-case letters, digits, `-` and `_`, starting with a letter or a
    /// digit, at most 64 characters (the API's own rule).
    pub name: String,
    /// The most the bucket may hold, in bytes.
    #[serde(default)]
    pub quota: Option<u64>,
    /// Ask the browser not to evict the bucket under storage pressure.
    #[serde(default)]
    pub persisted: Option<bool>,
}

impl Bucket {
    /// A bucket of that name with the browser's default quota.
    pub fn named(name: impl Into<String>) -> Self {
        Bucket {
            name: name.into(),
            quota: None,
            persisted: None,
        }
    }

    /// `VALIDATION` unless the name and quota are ones the API accepts.
    pub fn validate(&self) -> Result<()> {
        let n = &self.name;
        let valid = !n.is_empty()
            && n.len() <= 64
            && n.bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_'))
            && n.as_bytes()[0].is_ascii_alphanumeric();
        if !valid {
            return Err(Error::validation(
                "bucket.name",
                format!(
                    "{n:?}: use 1-64 of a-z, 0-9, '-' and '_', starting with a letter or digit"
                ),
            ));
        }
        match self.quota {
            Some(0) => Err(Error::validation("bucket.quota", "must be above 0")),
            Some(q) if q > (1 << 53) - 1 => {
                Err(Error::validation("bucket.quota", "must be a safe integer"))
            }
            _ => Ok(()),
        }
    }

    /// The bucket's IndexedDB factory.
    async fn factory(&self) -> Result<IdbFactory> {
        self.validate()?;
        let window = web_sys::window().ok_or_else(|| Error::StorageUnavailable {
            message: "storage buckets need a window".into(),
        })?;
        let manager = Reflect::get(&window.navigator(), &JsValue::from_str("storageBuckets"))
            .ok()
            .filter(|m| m.is_object())
            .ok_or_else(|| Error::Unsupported {
                message: "this browser has no Storage Buckets API (navigator.storageBuckets): \
                          leave out the bucket to use the default IndexedDB"
                    .into(),
            })?;
        let open: Function = Reflect::get(&manager, &JsValue::from_str("open"))
            .ok()
            .and_then(|f| f.dyn_into().ok())
            .ok_or_else(|| Error::Unsupported {
                message: "navigator.storageBuckets has no open()".into(),
            })?;
        let options = Object::new();
        if let Some(quota) = self.quota {
            set(&options, "quota", &JsValue::from(quota as f64))?;
        }
        if let Some(persisted) = self.persisted {
            set(&options, "persisted", &JsValue::from(persisted))?;
        }
        let what = format!("storage bucket {:?}", self.name);
        let pending: Promise = open
            .call2(&manager, &JsValue::from_str(&self.name), &options)
            .and_then(|p| p.dyn_into())
            .map_err(|e| unavailable(&what, &e))?;
        let bucket = JsFuture::from(pending)
            .await
            .map_err(|e| unavailable(&what, &e))?;
        Reflect::get(&bucket, &JsValue::from_str("indexedDB"))
            .ok()
            .and_then(|f| f.dyn_into().ok())
            .ok_or_else(|| Error::StorageUnavailable {
                message: format!("IndexedDB {what} has no indexedDB"),
            })
    }
}

fn unavailable(what: &str, e: &JsValue) -> Error {
    Error::StorageUnavailable {
        message: format!("IndexedDB {what}: {}", describe_thrown(e)),
    }
}

/// The error of a failed request or transaction, by its DOMException name.
fn idb_error(what: &str, e: Option<DomException>, fallback: &JsValue) -> Error {
    let (name, message) = match &e {
        Some(d) => (d.name(), d.message()),
        None => (thrown_name(fallback), describe_thrown(fallback)),
    };
    match name.as_str() {
        "QuotaExceededError" => Error::QuotaExceeded {
            message: if message.is_empty() {
                format!("IndexedDB {what}: the storage quota is full")
            } else {
                format!("IndexedDB {what}: {message}")
            },
        },
        "InvalidStateError" | "UnknownError" | "NotFoundError" | "VersionError" => {
            Error::StorageUnavailable {
                message: format!("IndexedDB {what}: {name}: {message}"),
            }
        }
        _ => Error::Storage {
            message: format!("IndexedDB {what}: {name}: {message}"),
        },
    }
}

/// What `idbReadCurrent` reads.
#[derive(Serialize, Default)]
struct ReadPlan {
    gets: Vec<String>,
    ranges: Vec<(String, String)>,
    histories: Vec<(String, String)>,
}

/// Keys of one type and scope read with one range once there are this
/// many of them (a bulk import): two range reads instead of two per key.
const RANGE_FROM: usize = 32;

/// The `[lower, upper)` range of every key starting with `prefix`.
fn prefix_bounds(prefix: String) -> (String, String) {
    let upper = layout::prefix_end(&prefix);
    (prefix, upper)
}

/// Indexes of `keys` grouped by their type prefix, in key order.
fn by_type(
    keys: impl Iterator<Item = (usize, RecordKey)>,
) -> std::collections::BTreeMap<String, Vec<usize>> {
    let mut groups: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    for (i, key) in keys {
        groups
            .entry(layout::scope_or_type_prefix(
                key.tenant_id.as_deref(),
                Some(&key.type_name),
            ))
            .or_default()
            .push(i);
    }
    groups
}

/// A row `idb.js` reads back (see `pack` there): its key, its sequence
/// number (`None`: the row has none that can be one), whether a history row is an archived head, the hash of its
/// JSON text the writer stored with it (`None` in rows written before rows
/// had one), the version the row says it holds (`None` if none) and its
/// JSON text's bytes as stored (`None`: the row has none).
struct StoredRow<'a> {
    key: Cow<'a, str>,
    seq: Option<u64>,
    head: bool,
    hash: Option<Cow<'a, str>>,
    /// The version the row says it holds (its `version` member, which
    /// commits check expectations against), if it has one.
    version: Option<u64>,
    text: Option<&'a [u8]>,
}

impl<'a> StoredRow<'a> {
    /// The row's sequence number; `CORRUPTED` for a row without one.
    fn seq(&self, context: &RecordKey) -> Result<u64> {
        self.seq.ok_or_else(|| Error::Corrupted {
            key: Box::new(context.clone()),
            message: format!("the stored row {} has no sequence number", self.key),
        })
    }

    /// The row's JSON text; `CORRUPTED` for a row without one, or whose
    /// bytes are not UTF-8.
    fn json(&self, context: &RecordKey) -> Result<&'a str> {
        let corrupted = |what: &str| Error::Corrupted {
            key: Box::new(context.clone()),
            message: format!("the stored row {} {what}", self.key),
        };
        let bytes = self.text.ok_or_else(|| corrupted("has no JSON text"))?;
        std::str::from_utf8(bytes).map_err(|_| corrupted("has a text that is not UTF-8"))
    }
}

/// `CORRUPTED` when a row says it holds another version than its text
/// does: an older version's text (with its hash) copied over a newer row.
fn check_row_version(row: &StoredRow<'_>, found: u64, context: &RecordKey) -> Result<()> {
    match row.version {
        Some(v) if v != found => Err(Error::Corrupted {
            key: Box::new(context.clone()),
            message: format!(
                "the stored row {} is of version {v}, its text of version {found}",
                row.key
            ),
        }),
        _ => Ok(()),
    }
}

/// The hash a row carries of its JSON text: xxHash64 (seed 0) of the
/// text's UTF-8, as 16 lowercase hex digits. A row whose text has this
/// hash is as this module wrote it, record, checksum and all: its
/// definition is taken as written (checked only for being JSON), with no
/// canonical form and MD5 to compute again. A row without one (written
/// before rows had one) is checked by its checksum, as before.
///
/// The hash finds corruption (a torn write, a disk error, a row edited by
/// hand), not forgery: whatever can write the origin's IndexedDB can write
/// a row and its hash, as it can call this library.
pub fn row_hash(text: &str) -> String {
    format!("{:016x}", twox_hash::XxHash64::oneshot(0, text.as_bytes()))
}

/// `CORRUPTED` unless a row's text `json` has the hash stored with it (if
/// any).
fn check_row_hash(row: &StoredRow<'_>, json: &str, context: &RecordKey) -> Result<()> {
    match &row.hash {
        Some(h) if *h != row_hash(json) => Err(Error::Corrupted {
            key: Box::new(context.clone()),
            message: format!(
                "the stored row {} does not match the hash stored with it",
                row.key
            ),
        }),
        _ => Ok(()),
    }
}

/// Writes the batch `idbCommit` takes (see `idb.js`) as JSON text to `out`,
/// and its rows' record texts to `texts`:
/// `{ scope, changes: [{ key, expect, head, tombstone, archive }], absent:
/// [[lower, upper, [index...]]], gets: [index...] }`. A head row, and a
/// tombstone row of the history store, carries its key, `tenant` (the
/// change log's index field), the version, the sequence number (0:
/// `idb.js` sets it when it commits), an empty `json` and `h`, the hash of
/// its JSON text ([`row_hash`]). The texts cross apart as UTF-8 bytes, one
/// a change in order, each ending where `ends` says, so they are not
/// escaped into the batch's JSON and parsed back out of it, and are stored
/// as the bytes they are. Global rows index under `tenant` "", which no
/// tenant id can be.
fn write_batch(
    out: &mut String,
    texts: &mut String,
    ends: &mut Vec<u32>,
    tenant_id: Option<&str>,
    changes: &[Change],
    absent: &[(String, String, Vec<usize>)],
    gets: &[usize],
) -> Result<()> {
    use crate::record_json::{write_str, write_u64};
    let list = |out: &mut String, items: &[usize]| {
        out.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_u64(out, *item as u64);
        }
        out.push(']');
    };
    out.push_str("{\"scope\":");
    write_str(out, &layout::counter_id(tenant_id));
    out.push_str(",\"changes\":[");
    for (i, change) in changes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let key = change.key();
        let id = layout::record_id(&key);
        let expect = change.expect().version();
        out.push_str("{\"key\":");
        write_str(out, &id);
        out.push_str(",\"expect\":");
        match expect {
            Some(v) => write_u64(out, v),
            None => out.push_str("null"),
        }
        // A row: its key, the change log's index field, the version a
        // commit checks (the sequence number is set when it commits) and
        // the hash of its JSON text, which follows in `texts`.
        let row = |out: &mut String, key: &str, tenant: &Option<String>, version, text: &str| {
            out.push_str("{\"key\":");
            write_str(out, key);
            out.push_str(",\"tenant\":");
            write_str(out, tenant.as_deref().unwrap_or(""));
            out.push_str(",\"version\":");
            write_u64(out, version);
            out.push_str(",\"seq\":0,\"json\":\"\",\"h\":\"");
            out.push_str(&row_hash(text));
            out.push_str("\"}");
        };
        let start = texts.len();
        match change {
            Change::Put { record: r, .. } => {
                crate::record_json::write_record(texts, r, crate::record_json::DataAt::Third);
                out.push_str(",\"head\":");
                row(out, &id, &r.tenant_id, r.version, &texts[start..]);
                out.push_str(",\"tombstone\":null");
            }
            Change::Purge { tombstone: h, .. } => {
                texts.push_str(&codec::encode(h)?);
                out.push_str(",\"head\":null,\"tombstone\":");
                let at = layout::history_id(&key, h.version);
                row(out, &at, &h.tenant_id, h.version, &texts[start..]);
            }
        }
        ends.push(texts.len() as u32);
        out.push_str(",\"archive\":");
        // Where the replaced head moves to (its version is the expected one).
        match expect {
            Some(v) => write_str(out, &layout::history_id(&key, v)),
            None => out.push_str("null"),
        }
        out.push('}');
    }
    out.push_str("],\"absent\":[");
    for (i, (lower, upper, members)) in absent.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        write_str(out, lower);
        out.push(',');
        write_str(out, upper);
        out.push(',');
        list(out, members);
        out.push(']');
    }
    out.push_str("],\"gets\":");
    list(out, gets);
    out.push('}');
    Ok(())
}

/// The rows of a packed answer (see `pack` in `idb.js`): its header read,
/// and each row's text framed by the length the header gives it (read and
/// checked as the row is). An answer that is not the packed form is
/// corrupted storage, reported against `context`.
fn unpack<'a>(bytes: &'a [u8], context: &RecordKey) -> Result<Vec<StoredRow<'a>>> {
    let corrupted = |message: &str| Error::Corrupted {
        key: Box::new(context.clone()),
        message: format!("stored rows are not readable: {message}"),
    };
    let end = crate::record_json::json_end(bytes, 0)
        .ok_or_else(|| corrupted("their header is not JSON"))?;
    let header =
        std::str::from_utf8(&bytes[..end]).map_err(|_| corrupted("their header is not UTF-8"))?;
    let mut rows = match read_headers(header) {
        Some(rows) => rows,
        None => {
            type Header = (
                String,
                Option<u64>,
                u8,
                Option<String>,
                Option<u64>,
                Option<u64>,
            );
            serde_json::from_str::<Vec<Header>>(header)
                .map_err(|e| corrupted(&e.to_string()))?
                .into_iter()
                .map(|(key, seq, head, hash, version, length)| {
                    let row = StoredRow {
                        key: Cow::Owned(key),
                        seq,
                        head: head != 0,
                        hash: hash.map(Cow::Owned),
                        version,
                        text: None,
                    };
                    (row, length)
                })
                .collect()
        }
    };
    let mut at = end;
    for (row, length) in &mut rows {
        if let Some(n) = *length {
            let text = usize::try_from(n)
                .ok()
                .and_then(|n| bytes.get(at..at.checked_add(n)?))
                .ok_or_else(|| corrupted("a row's text is longer than the rows"))?;
            at += text.len();
            row.text = Some(text);
        }
    }
    if at != bytes.len() {
        return Err(corrupted("bytes follow the last row's text"));
    }
    Ok(rows.into_iter().map(|(row, _)| row).collect())
}

/// The header of packed rows (`[[key, seq, 0|1, hash|null, version|null,
/// length|null], ...]`) as `idb.js` writes it for keys and hashes without
/// escapes: each row without its text, and its text's length. `None` for
/// anything else, which serde_json reads.
fn read_headers(text: &str) -> Option<Vec<(StoredRow<'_>, Option<u64>)>> {
    use crate::record_json::{read_str, read_u64};
    let bytes = text.as_bytes();
    let at = |i: usize, b: u8| bytes.get(i) == Some(&b);
    let mut out = Vec::new();
    if !at(0, b'[') {
        return None;
    }
    if at(1, b']') {
        return (bytes.len() == 2).then_some(out);
    }
    let mut i = 1;
    loop {
        if !at(i, b'[') {
            return None;
        }
        let (key, end) = read_str(text, i + 1)?;
        if !at(end, b',') {
            return None;
        }
        let (seq, end) = null_or(text, end + 1, read_u64)?;
        // `,0,` or `,1,`: whether the row is an archived head.
        if !(at(end, b',') && (at(end + 1, b'0') || at(end + 1, b'1')) && at(end + 2, b',')) {
            return None;
        }
        let head = at(end + 1, b'1');
        let (hash, end) = null_or(text, end + 3, read_str)?;
        if !at(end, b',') {
            return None;
        }
        let (version, end) = null_or(text, end + 1, read_u64)?;
        if !at(end, b',') {
            return None;
        }
        let (length, end) = null_or(text, end + 1, read_u64)?;
        if !at(end, b']') {
            return None;
        }
        let row = StoredRow {
            key: Cow::Borrowed(key),
            seq,
            head,
            hash: hash.map(Cow::Borrowed),
            version,
            text: None,
        };
        out.push((row, length));
        match bytes.get(end + 1) {
            Some(b',') => i = end + 2,
            Some(b']') if end + 2 == bytes.len() => return Some(out),
            _ => return None,
        }
    }
}

/// The packed rows a call answered (or a member of its answer), copied
/// into the module once the heap has room for them.
fn packed(value: JsValue, what: &str) -> Result<Vec<u8>> {
    super::boundary::js_bytes(&value)?.ok_or_else(|| Error::Storage {
        message: format!("IndexedDB {what} returned no rows"),
    })
}

/// Whom a corrupted row is reported against: the record it is stored for
/// when the read asked for that record (a `get`, the read before a write),
/// so a batch's error names the item whose row is damaged; otherwise, and
/// for an answer that cannot be told apart by row, `scope`.
struct Blame<'a> {
    scope: &'a RecordKey,
    keys: &'a [RecordKey],
}

impl<'a> Blame<'a> {
    /// Every row reported against `scope`.
    fn scope(scope: &'a RecordKey) -> Self {
        Blame { scope, keys: &[] }
    }

    /// A read of `keys`: each row reported against its own record.
    fn asked(scope: &'a RecordKey, keys: &'a [RecordKey]) -> Self {
        Blame { scope, keys }
    }

    /// The record stored under `id`, if the read asked for it (a search
    /// of the keys, on the error path only).
    fn asked_for(&self, id: &str) -> Option<&'a RecordKey> {
        self.keys
            .iter()
            .find(|k| layout::is_record_id(id, k.tenant_id.as_deref(), &k.type_name, &k.name))
    }

    /// `e`, a failure to read the row stored under `id`, reported against
    /// the record the read asked for there (even where it names the
    /// record the row holds: the row asked for is the damaged one).
    fn rekey(&self, e: Error, id: &str) -> Error {
        match (e, self.asked_for(id)) {
            (Error::Corrupted { message, .. }, Some(asked)) => Error::Corrupted {
                key: Box::new(asked.clone()),
                message,
            },
            (e, _) => e,
        }
    }
}

/// `null`, or what `read` reads, at `at` in `text`; and where it ends.
fn null_or<'t, T>(
    text: &'t str,
    at: usize,
    read: impl Fn(&'t str, usize) -> Option<(T, usize)>,
) -> Option<(Option<T>, usize)> {
    if text.get(at..at + 4) == Some("null") {
        Some((None, at + 4))
    } else {
        read(text, at).map(|(value, end)| (Some(value), end))
    }
}

/// The head rows of a packed answer as records, each read by [`head_of`],
/// which says why a row is corrupted. A read of some records (a get, the
/// read before a write, which may read a whole type's range) fails only
/// on their rows: a damaged row of another record is left out.
fn heads(bytes: &[u8], blame: &Blame<'_>) -> Result<Vec<MetadataRecord>> {
    let rows = unpack(bytes, blame.scope)?;
    read_heads(&rows, blame)
        .into_iter()
        .map(|(_, record)| record)
        .collect()
}

/// Each of `rows` (head rows) with its record, or why it has none
/// (reported as `blame` says), but for rows of records not asked for that
/// cannot be read (see [`heads`]).
fn read_heads<'r>(
    rows: &'r [StoredRow<'r>],
    blame: &Blame<'_>,
) -> Vec<(&'r StoredRow<'r>, Result<MetadataRecord>)> {
    let mut out = Vec::with_capacity(rows.len());
    // The ids asked for, made at the first row that cannot be read. (A map
    // of the kind the module already builds, its values unused, rather
    // than a set: one less instantiation in the browser module.)
    let mut asked: Option<std::collections::HashMap<String, u64>> = None;
    for row in rows {
        let record = head_of(row, blame.scope);
        if record.is_err() && !blame.keys.is_empty() {
            let asked = asked.get_or_insert_with(|| {
                blame
                    .keys
                    .iter()
                    .map(|k| (layout::record_id(k), 0))
                    .collect()
            });
            if !asked.contains_key(row.key.as_ref()) {
                continue;
            }
        }
        out.push((row, record.map_err(|e| blame.rekey(e, &row.key))));
    }
    out
}

/// Whether `record` is the one stored under head row key `id`.
fn stored_under(record: &MetadataRecord, id: &str) -> bool {
    layout::is_record_id(
        id,
        record.tenant_id.as_deref(),
        &record.type_name,
        &record.name,
    )
}

/// `e`, a row's text that does not decode, naming the row stored under
/// `id`.
fn of_row(e: Error, id: &str) -> Error {
    match e {
        Error::Corrupted { key, message } => Error::Corrupted {
            key,
            message: format!("the stored row {id}: {message}"),
        },
        e => e,
    }
}

/// A record (or entry) found under another key than its own.
fn misplaced(key: RecordKey, id: &str) -> Error {
    Error::Corrupted {
        message: format!("the row stored under the key {id} holds {key}, not its own"),
        key: Box::new(key),
    }
}

/// A head row as a record.
fn head_of(row: &StoredRow<'_>, key: &RecordKey) -> Result<MetadataRecord> {
    let json = row.json(key)?;
    check_row_hash(row, json, key)?;
    // With its hash, its record is taken as written (see
    // `record_json`), once its text is found to have it.
    let trusted = row
        .hash
        .as_ref()
        .and_then(|_| crate::record_json::read_record_as(json, 0, true))
        .filter(|(_, end)| *end == json.len())
        .map(|(record, _)| record);
    let mut record = match trusted {
        Some(record) => record,
        None => codec::record(json, key).map_err(|e| of_row(e, &row.key))?,
    };
    if !stored_under(&record, &row.key) {
        return Err(misplaced(record.key(), &row.key));
    }
    check_row_version(row, record.version, key)?;
    record.seq = row.seq(key)?;
    Ok(record)
}

/// A history row as an entry: a tombstone, or an archived head.
fn entry_of(row: &StoredRow<'_>, context: &RecordKey) -> Result<HistoryEntry> {
    let json = row.json(context)?;
    check_row_hash(row, json, context)?;
    let mut entry = if row.head {
        codec::record(json, context).map(|r| r.to_history())
    } else {
        codec::entry(json, context)
    }
    .map_err(|e| of_row(e, &row.key))?;
    let (tenant, type_name, name) = (entry.tenant_id.as_deref(), &entry.type_name, &entry.name);
    if !layout::is_history_id(&row.key, tenant, type_name, name, entry.version) {
        return Err(misplaced(entry.key(), &row.key));
    }
    check_row_version(row, entry.version, context)?;
    entry.seq = row.seq(context)?;
    Ok(entry)
}

fn rows(value: JsValue, what: &str) -> Result<Array> {
    if Array::is_array(&value) {
        Ok(value.unchecked_into())
    } else {
        Err(Error::Storage {
            message: format!("IndexedDB {what} returned no array"),
        })
    }
}

/// What a writer of `keys` reads (see `idbReadCurrent`).
fn read_plan(keys: &[RecordKey]) -> ReadPlan {
    let mut plan = ReadPlan::default();
    for (prefix, members) in by_type(keys.iter().cloned().enumerate()) {
        if members.len() >= RANGE_FROM {
            // History keys start with the record's storage key, so one
            // range covers the heads and one the archive of the type.
            plan.ranges.push(prefix_bounds(prefix.clone()));
            plan.histories.push(prefix_bounds(prefix));
        } else {
            for i in members {
                plan.gets.push(layout::record_id(&keys[i]));
                plan.histories
                    .push(prefix_bounds(layout::history_id_prefix(&keys[i])));
            }
        }
    }
    plan
}

/// The current state of each of `keys` from what a read of its
/// [`read_plan`] answered (`{ rows, historyKeys }`).
fn current_of(answer: &JsValue, keys: &[RecordKey]) -> Result<Vec<Current>> {
    let scope = RecordKey::new(keys.first().and_then(|k| k.tenant_id.as_deref()), "*", "*");
    let blame = Blame::asked(&scope, keys);
    let bytes = packed(get(answer, "rows"), "read")?;
    let stored = unpack(&bytes, &scope)?;
    // Each is stored under its own key (heads checks that); the rows of
    // those asked for that cannot be read, with the version each says it
    // holds.
    let mut heads: std::collections::HashMap<String, MetadataRecord> = Default::default();
    let mut unreadable = Vec::new();
    for (row, record) in read_heads(&stored, &blame) {
        match record {
            Ok(r) => {
                heads.insert(layout::record_id(&r.key()), r);
            }
            Err(e) => unreadable.push((row.key.as_ref(), row.version, e)),
        }
    }
    let mut last: std::collections::HashMap<String, u64> = Default::default();
    for k in rows(get(answer, "historyKeys"), "read")?.iter() {
        if let Some((record, version)) = k.as_string().as_deref().and_then(layout::split_history_id)
        {
            let slot = last.entry(record.to_owned()).or_insert(0);
            *slot = (*slot).max(version);
        }
    }
    keys.iter()
        .map(|key| {
            let id = layout::record_id(key);
            let archived = last.get(&id).copied().unwrap_or(0);
            if let Some((_, version, e)) = unreadable.iter().find(|(at, ..)| *at == id) {
                // A head that cannot be read, at the version its row says
                // (what a commit checks expectations against; its text may
                // say another), above every archived one (so that
                // archiving it takes a free key): a save may write over it.
                return match (e, version) {
                    (Error::Corrupted { .. }, Some(v)) if *v > archived => Ok(Current {
                        record: None,
                        last_version: *v,
                        unreadable: Some(e.clone()),
                    }),
                    _ => Err(e.clone()),
                };
            }
            let record = match heads.remove(&id) {
                Some(r) => Some(codec::check_record_at(r, key)?),
                None => None,
            };
            let last_version = match &record {
                Some(r) => r.version,
                None => archived,
            };
            Ok(Current {
                record,
                last_version,
                unreadable: None,
            })
        })
        .collect()
}

/// A write transaction held open by [`IndexedDbStore::hold`]
/// (`idbHold`); aborted when dropped unfinished.
struct IdbHeld<'a> {
    store: &'a IndexedDbStore,
    handle: JsValue,
    tenant_id: Option<String>,
    written: bool,
    finished: bool,
}

#[async_trait(?Send)]
impl Held for IdbHeld<'_> {
    fn write(&mut self, changes: &[Change]) -> std::result::Result<(), HeldError> {
        let (mut text, mut texts, mut ends) = (String::new(), String::new(), Vec::new());
        write_batch(
            &mut text,
            &mut texts,
            &mut ends,
            self.tenant_id.as_deref(),
            changes,
            &[],
            &[],
        )?;
        match idb_held_write(&self.handle, &text, texts.as_bytes(), &ends) {
            Ok(()) => {
                self.written = true;
                Ok(())
            }
            // The transaction ended before the first write (a browser
            // that does not keep it active through the writer's promise
            // reactions): nothing was written.
            Err(e)
                if !self.written
                    && matches!(
                        thrown_name(&e).as_str(),
                        "TransactionInactiveError" | "InvalidStateError"
                    ) =>
            {
                self.store.lost_holds.set(self.store.lost_holds.get() + 1);
                Err(HeldError::Lost)
            }
            Err(e) => Err(HeldError::Failed(idb_error(
                "commit",
                e.dyn_ref::<DomException>().cloned(),
                &e,
            ))),
        }
    }

    async fn finish(mut self: Box<Self>) -> Result<()> {
        self.finished = true;
        JsFuture::from(idb_held_finish(&self.handle))
            .await
            .map_err(|e| idb_error("commit", e.dyn_ref::<DomException>().cloned(), &e))?;
        self.store
            .held_commits
            .set(self.store.held_commits.get() + 1);
        Ok(())
    }
}

impl Drop for IdbHeld<'_> {
    fn drop(&mut self) {
        if !self.finished {
            idb_held_abort(&self.handle);
        }
    }
}

impl IndexedDbStore {
    /// The database name used for `namespace`.
    pub fn database_name(namespace: &str) -> String {
        format!("objectstack-metadata/{namespace}")
    }

    /// Opens (creating or upgrading) the database of `namespace` in the
    /// page's (or worker's) default storage.
    pub async fn open(namespace: &str) -> Result<Self> {
        let factory = default_factory()?;
        Self::open_with(namespace, factory, None).await
    }

    /// Opens the database of `namespace` inside a Storage Bucket (created
    /// if new). `UNSUPPORTED` where the browser has no Storage Buckets.
    pub async fn open_in_bucket(namespace: &str, bucket: &Bucket) -> Result<Self> {
        let factory = bucket.factory().await?;
        Self::open_with(namespace, factory, Some(bucket.clone())).await
    }

    async fn open_with(
        namespace: &str,
        factory: IdbFactory,
        bucket: Option<Bucket>,
    ) -> Result<Self> {
        let epoch = Rc::new(Cell::new(0));
        let store = IndexedDbStore {
            name: Self::database_name(namespace),
            factory: RefCell::new(factory),
            bucket,
            db: RefCell::new(None),
            feed: Feed::new(),
            epoch: Rc::clone(&epoch),
            on_away: Closure::new(move || epoch.set(epoch.get() + 1)),
            held_commits: Cell::new(0),
            lost_holds: Cell::new(0),
        };
        store.connect().await?;
        Ok(store)
    }

    /// How many held writes committed, and how many holds were lost
    /// before their first write (their writes were then planned again
    /// and committed conditionally): what a test checks to know that
    /// writes hold their transaction here.
    pub fn held_writes(&self) -> (u64, u64) {
        (self.held_commits.get(), self.lost_holds.get())
    }

    /// The Storage Bucket holding the database, if not the default storage.
    pub fn bucket(&self) -> Option<&str> {
        self.bucket.as_ref().map(|b| b.name.as_str())
    }

    async fn connect(&self) -> Result<IdbDatabase> {
        let db = match self.open_database().await {
            Ok(db) => db,
            // A deleted bucket's IndexedDB opens nothing any more (an
            // `UnknownError`, or an `AbortError` while the deletion closes
            // it): the bucket is opened again (made anew, as a deleted
            // database is when it is next opened), then the database in
            // it. Not on any other failure: a blocked upgrade opened again
            // would wait behind the first, with no time limit.
            Err(e) => match &self.bucket {
                Some(bucket)
                    if matches!(thrown_name(&e).as_str(), "UnknownError" | "AbortError") =>
                {
                    let factory = bucket
                        .factory()
                        .await
                        .map_err(|_| unavailable("open", &e))?;
                    self.factory.replace(factory);
                    self.open_database()
                        .await
                        .map_err(|e| unavailable("open", &e))?
                }
                _ => return Err(unavailable("open", &e)),
            },
        };
        // Calls that raced to reconnect each opened one: only the last is
        // kept, the others close (once their transactions are done).
        if let Some(replaced) = self.db.borrow_mut().replace(db.clone()) {
            idb_close(&replaced);
        }
        Ok(db)
    }

    /// Opens the database with the factory at hand; what `idbOpen` threw.
    async fn open_database(&self) -> std::result::Result<IdbDatabase, JsValue> {
        let on_away: &Function = self.on_away.as_ref().unchecked_ref();
        let opening = idb_open(&self.factory.borrow(), &self.name, on_away);
        Ok(JsFuture::from(opening).await?.unchecked_into())
    }

    /// Runs `op` on the connection, reopening it once if it was closed or
    /// lost (another tab upgraded or deleted the database, the browser
    /// dropped it): `InvalidStateError` where it was closed before `op`,
    /// `AbortError` where it closed under `op`'s transaction, before its
    /// `close` event came (a deleted Storage Bucket). An aborted
    /// transaction wrote nothing, so `op` runs again on a new connection.
    async fn run(&self, what: &str, op: impl Fn(&IdbDatabase) -> Promise) -> Result<JsValue> {
        let current = self.db.borrow().clone();
        if let Some(db) = current {
            match JsFuture::from(op(&db)).await {
                Ok(v) => return Ok(v),
                Err(e)
                    if !matches!(thrown_name(&e).as_str(), "InvalidStateError" | "AbortError") =>
                {
                    return Err(idb_error(what, e.dyn_ref::<DomException>().cloned(), &e))
                }
                Err(_) => {}
            }
        }
        let db = self.connect().await?;
        JsFuture::from(op(&db))
            .await
            .map_err(|e| idb_error(what, e.dyn_ref::<DomException>().cloned(), &e))
    }

    /// Closes the connection (the next call reopens it).
    pub fn close(&self) {
        if let Some(db) = self.db.borrow_mut().take() {
            idb_close(&db);
        }
    }
}

/// The IndexedDB of the global scope: a window's or a worker's.
fn default_factory() -> Result<IdbFactory> {
    let factory = Reflect::get(&js_sys::global(), &JsValue::from_str("indexedDB"))
        .map_err(|e| unavailable("is blocked", &e))?;
    if factory.is_undefined() || factory.is_null() {
        return Err(Error::StorageUnavailable {
            message: "IndexedDB is not available here".into(),
        });
    }
    factory.dyn_into().map_err(|_| Error::StorageUnavailable {
        message: "indexedDB is not an IDBFactory".into(),
    })
}

impl Drop for IndexedDbStore {
    /// A dropped store (a freed service) closes its connection at once
    /// rather than at the next garbage collection, so it never blocks a
    /// later upgrade or delete of the database.
    fn drop(&mut self) {
        self.close();
    }
}

#[async_trait(?Send)]
impl Store for IndexedDbStore {
    fn kind(&self) -> &str {
        "indexeddb"
    }

    fn shared_across_contexts(&self) -> bool {
        true
    }

    fn feed(&self) -> &Feed {
        &self.feed
    }

    fn epoch(&self) -> u64 {
        self.epoch.get()
    }

    async fn get(&self, key: &RecordKey) -> Result<Option<MetadataRecord>> {
        let id = layout::record_id(key);
        let blame = Blame::asked(key, std::slice::from_ref(key));
        let rows = packed(self.run("get", |db| idb_get(db, &id)).await?, "get")?;
        match heads(&rows, &blame)?.into_iter().next() {
            Some(record) => codec::check_record_at(record, key).map(Some),
            None => Ok(None),
        }
    }

    async fn read_current(&self, keys: &[RecordKey]) -> Result<Vec<Current>> {
        let text = codec::encode(&read_plan(keys))?;
        let answer = self.run("read", |db| idb_read_current(db, &text)).await?;
        current_of(&answer, keys)
    }

    async fn hold(
        &self,
        tenant_id: Option<&str>,
        keys: &[RecordKey],
    ) -> Result<Option<HeldRead<'_>>> {
        let text = codec::encode(&read_plan(keys))?;
        let scope = layout::counter_id(tenant_id);
        let answer = self.run("read", |db| idb_hold(db, &text, &scope)).await?;
        let held = IdbHeld {
            store: self,
            handle: get(&answer, "held"),
            tenant_id: tenant_id.map(str::to_owned),
            written: false,
            finished: false,
        };
        let current = current_of(&answer, keys)?;
        let first_seq = get(&answer, "firstSeq")
            .as_f64()
            .filter(|f| *f >= 1.0)
            .map(|f| f as u64)
            .ok_or_else(|| Error::Storage {
                message: "IndexedDB hold answered no sequence number".into(),
            })?;
        Ok(Some((current, first_seq, Box::new(held))))
    }

    async fn list(
        &self,
        tenant_id: Option<&str>,
        type_name: Option<&str>,
    ) -> Result<Vec<MetadataRecord>> {
        let (lower, upper) = prefix_bounds(layout::scope_or_type_prefix(tenant_id, type_name));
        let scope = RecordKey::new(tenant_id, type_name.unwrap_or("*"), "*");
        let rows = packed(
            self.run("getAll", |db| idb_list(db, &lower, &upper))
                .await?,
            "getAll",
        )?;
        let mut out = heads(&rows, &Blame::scope(&scope))?;
        for record in &out {
            codec::check_in_scope(record, tenant_id, type_name)?;
        }
        codec::sort_records(&mut out);
        Ok(out)
    }

    async fn history(&self, key: &RecordKey) -> Result<Vec<HistoryEntry>> {
        let id = layout::record_id(key);
        let (lower, upper) = prefix_bounds(layout::history_id_prefix(key));
        let answer = self
            .run("history", |db| idb_history(db, &id, &lower, &upper))
            .await?;
        let blame = Blame::asked(key, std::slice::from_ref(key));
        let head_rows = packed(get(&answer, "head"), "history")?;
        let head = match heads(&head_rows, &blame)?.into_iter().next() {
            Some(record) => Some(codec::check_record_at(record, key)?),
            None => None,
        };
        let archived_rows = packed(get(&answer, "archived"), "history")?;
        let mut archived = Vec::new();
        for row in &unpack(&archived_rows, key)? {
            let entry = entry_of(row, key)?;
            if entry.key() != *key {
                return Err(Error::Corrupted {
                    key: Box::new(key.clone()),
                    message: format!("history lists an entry of {}", entry.key()),
                });
            }
            archived.push(entry);
        }
        Ok(codec::full_history(archived, head.as_ref()))
    }

    async fn changes(
        &self,
        tenant_id: Option<&str>,
        query: &ChangeQuery,
    ) -> Result<Vec<ChangeEvent>> {
        let tenant = tenant_id.unwrap_or("");
        // Filters apply after the read: a limit reads that many of each
        // store only when nothing is filtered out.
        let limit = match (&query.type_name, &query.name, query.limit) {
            (None, None, Some(l)) => JsValue::from(l as f64),
            _ => JsValue::UNDEFINED,
        };
        let since = query.since as f64;
        let answer = self
            .run("changes", |db| {
                idb_changes(db, tenant, since, limit.clone())
            })
            .await?;
        let scope = RecordKey::new(tenant_id, "*", "*");
        let blame = Blame::scope(&scope);
        let head_rows = packed(get(&answer, "heads"), "changes")?;
        let heads = self::heads(&head_rows, &blame)?;
        let archived_rows = packed(get(&answer, "archived"), "changes")?;
        let archived = unpack(&archived_rows, &scope)?
            .iter()
            .map(|row| entry_of(row, &scope))
            .collect::<Result<Vec<_>>>()?;
        if heads.iter().any(|r| r.tenant_id.as_deref() != tenant_id)
            || archived.iter().any(|h| h.tenant_id.as_deref() != tenant_id)
        {
            return Err(Error::Corrupted {
                key: Box::new(scope),
                message: "the change log index lists a row of another scope".into(),
            });
        }
        Ok(codec::change_log(&heads, &archived, query))
    }

    async fn last_sequence(&self, tenant_id: Option<&str>) -> Result<u64> {
        let scope = layout::counter_id(tenant_id);
        let n = self
            .run("counter", |db| idb_last_sequence(db, &scope))
            .await?;
        Ok(n.as_f64().map_or(0, |n| n as u64))
    }

    async fn apply(&self, batch: &Batch) -> Result<u64> {
        // Encoded before the transaction opens: nothing but IndexedDB
        // requests happens while it is live. The batch crosses to
        // JavaScript as one JSON text and its rows' texts as one run of
        // bytes (one crossing per batch rather than a dozen per row; see
        // BENCHMARKS.md).
        let mut absent = Vec::new();
        let mut gets = Vec::new();
        let creating = batch
            .changes
            .iter()
            .enumerate()
            .filter(|(_, c)| c.expect() == crate::store::Expect::Absent)
            .map(|(i, c)| (i, c.key()));
        for (prefix, members) in by_type(creating) {
            if members.len() >= RANGE_FROM {
                let (lower, upper) = prefix_bounds(prefix);
                absent.push((lower, upper, members));
            } else {
                gets.extend(members);
            }
        }
        for (i, c) in batch.changes.iter().enumerate() {
            if c.expect() != crate::store::Expect::Absent {
                gets.push(i);
            }
        }
        let (mut text, mut texts, mut ends) = (String::new(), String::new(), Vec::new());
        write_batch(
            &mut text,
            &mut texts,
            &mut ends,
            batch.tenant_id.as_deref(),
            &batch.changes,
            &absent,
            &gets,
        )?;
        let answer = self
            .run("commit", |db| {
                idb_commit(db, &text, texts.as_bytes(), &ends)
            })
            .await?;
        let conflict = get(&answer, "conflict");
        if conflict.is_object() {
            let index = get(&conflict, "index").as_f64().unwrap_or(0.0) as usize;
            let found = get(&conflict, "found").as_f64().map(|v| v as u64);
            let change = batch.changes.get(index).ok_or_else(|| Error::Storage {
                message: "IndexedDB reported a conflict on no change of the batch".into(),
            })?;
            return Err(change.expect().conflict(&change.key(), found));
        }
        get(&answer, "firstSeq")
            .as_f64()
            .filter(|f| *f >= 1.0)
            .map(|f| f as u64)
            .ok_or_else(|| Error::Storage {
                message: "IndexedDB commit answered no sequence number".into(),
            })
    }
}
