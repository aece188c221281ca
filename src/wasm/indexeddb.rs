//! IndexedDB storage: the browser default.
//!
//! One database per namespace (`objectstack-metadata/<namespace>`), two
//! object stores: `records` (keyed by the record's storage key; indexes
//! (tenant, type, name) unique, (type, active), (tenant, type)) and `history`
//! (keyed by storage key and zero-padded version, which orders a record's
//! versions without an index).
//! Values are small objects carrying the index fields and the record's JSON
//! text, so reads decode exactly what the core wrote.
//!
//! Hand-written over web-sys: each request becomes a Promise whose handlers
//! are the Promise's own resolve and reject, so no closure outlives a call.
//! A batch is one readwrite transaction over both stores, all requests issued
//! before anything is awaited; the call resolves on the transaction's
//! `complete`. A closed or lost connection is reopened once per call. A
//! `QuotaExceededError`, also when it arrives as the transaction's
//! `AbortError`, is `QUOTA_EXCEEDED`; the aborted transaction wrote nothing.
//!
//! The database lives in the page's default storage, or in a Storage Bucket
//! ([`Bucket`]): its own quota and eviction, apart from the rest of the
//! origin's data, where the browser has the Storage Buckets API.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use async_trait::async_trait;
use js_sys::{Array, Function, Object, Promise, Reflect};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    DomException, IdbDatabase, IdbFactory, IdbIndexParameters, IdbKeyRange, IdbObjectStore,
    IdbObjectStoreParameters, IdbOpenDbRequest, IdbRequest, IdbTransaction, IdbTransactionMode,
};

use super::boundary::{describe_thrown, issue_writes, thrown_name};
use crate::error::{Error, Result};
use crate::key::{type_prefix, RecordKey};
use crate::record::{HistoryEntry, MetadataRecord};
use crate::store::{codec, Store, Write, WriteBatch};

/// Schema version of the database.
pub const SCHEMA_VERSION: u32 = 1;
const RECORDS: &str = "records";
const HISTORY: &str = "history";

/// A [`Store`] over IndexedDB.
pub struct IndexedDbStore {
    name: String,
    factory: IdbFactory,
    bucket: Option<String>,
    db: RefCell<Option<IdbDatabase>>,
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

/// The global scope's `indexedDB`: a window's or a worker's alike
/// (`web_sys::window()` is `None` in a worker, where IndexedDB exists too).
fn global_factory() -> Result<IdbFactory> {
    let factory = Reflect::get(&js_sys::global(), &JsValue::from_str("indexedDB"))
        .map_err(|e| unavailable("is blocked", &e))?;
    factory.dyn_into().map_err(|_| Error::StorageUnavailable {
        message: "IndexedDB is not available".into(),
    })
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

/// Resolves when the request succeeds, with its result.
async fn request(what: &str, req: &IdbRequest) -> Result<JsValue> {
    let promise = Promise::new(&mut |resolve, reject| {
        req.set_onsuccess(Some(&resolve));
        req.set_onerror(Some(&reject));
    });
    let outcome = JsFuture::from(promise).await;
    req.set_onsuccess(None);
    req.set_onerror(None);
    match outcome {
        Ok(_) => req.result().map_err(|e| idb_error(what, None, &e)),
        Err(e) => Err(idb_error(what, req.error().ok().flatten(), &e)),
    }
}

/// The array a `getAll` / `getAllKeys` request resolves with.
async fn request_array(what: &str, req: &IdbRequest) -> Result<Array> {
    request(what, req)
        .await?
        .dyn_into()
        .map_err(|_| Error::Storage {
            message: format!("IndexedDB {what} returned no array"),
        })
}

/// Resolves when the transaction completes; rejects when it errors or aborts.
async fn completion(what: &str, tx: &IdbTransaction) -> Result<()> {
    let promise = Promise::new(&mut |resolve, reject| {
        tx.set_oncomplete(Some(&resolve));
        tx.set_onerror(Some(&reject));
        tx.set_onabort(Some(&reject));
    });
    let outcome = JsFuture::from(promise).await;
    tx.set_oncomplete(None);
    tx.set_onerror(None);
    tx.set_onabort(None);
    match outcome {
        Ok(_) => Ok(()),
        Err(e) => Err(idb_error(what, tx.error(), &e)),
    }
}

fn store_of(tx: &IdbTransaction, name: &str) -> Result<IdbObjectStore> {
    tx.object_store(name)
        .map_err(|e| idb_error("store", None, &e))
}

fn set(target: &Object, key: &str, value: &JsValue) -> Result<()> {
    Reflect::set(target, &JsValue::from_str(key), value)
        .map(|_| ())
        .map_err(|e| Error::Storage {
            message: describe_thrown(&e),
        })
}

fn history_key(key: &RecordKey, version: u64) -> String {
    format!("{}#{version:020}", key.storage_key())
}

/// The smallest string above every string starting with `prefix`.
fn prefix_range(prefix: &str) -> Result<IdbKeyRange> {
    let mut upper = prefix.to_owned();
    let last = upper.pop().map_or(0, |c| c as u32);
    upper.push(char::from_u32(last + 1).unwrap_or(char::MAX));
    IdbKeyRange::bound_with_lower_open_and_upper_open(
        &JsValue::from_str(prefix),
        &JsValue::from_str(&upper),
        false,
        true,
    )
    .map_err(|e| idb_error("key range", None, &e))
}

/// A stored row: the index fields and the entry's JSON text. `active` is on
/// records only.
#[derive(Serialize)]
struct Row<'a> {
    key: String,
    /// Global rows index under "", which no tenant id can be.
    tenant: &'a str,
    #[serde(rename = "type")]
    type_name: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    active: Option<u8>,
    version: u64,
    json: String,
}

/// One write of a batch, as `issueWrites` reads it: `[0, row]` into
/// records, `[1, row]` into history, `[2, key]` out of records.
#[derive(Serialize)]
#[serde(untagged)]
enum RowWrite<'a> {
    Put(u8, Row<'a>),
    Delete(u8, String),
}

fn encode<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Storage {
        message: format!("cannot encode: {e}"),
    })
}

fn row_write(write: &Write) -> Result<RowWrite<'_>> {
    Ok(match write {
        Write::Put(r) => RowWrite::Put(
            0,
            Row {
                key: r.key().storage_key(),
                tenant: r.tenant_id.as_deref().unwrap_or(""),
                type_name: &r.type_name,
                name: &r.name,
                active: Some(u8::from(r.is_active)),
                version: r.version,
                json: encode(r)?,
            },
        ),
        Write::Append(h) => RowWrite::Put(
            1,
            Row {
                key: history_key(&h.key(), h.version),
                tenant: h.tenant_id.as_deref().unwrap_or(""),
                type_name: &h.type_name,
                name: &h.name,
                active: None,
                version: h.version,
                json: encode(h)?,
            },
        ),
        Write::Remove(k) => RowWrite::Delete(2, k.storage_key()),
    })
}

fn json_of(value: &JsValue, context: &RecordKey) -> Result<String> {
    Reflect::get(value, &JsValue::from_str("json"))
        .ok()
        .and_then(|j| j.as_string())
        .ok_or_else(|| Error::Corrupted {
            key: Box::new(context.clone()),
            message: "stored entry has no JSON text".into(),
        })
}

/// Creates or upgrades the schema from `old_version` (0 for a new database).
fn upgrade(db: &IdbDatabase, old_version: f64) -> std::result::Result<(), JsValue> {
    if old_version < 1.0 {
        let params = IdbObjectStoreParameters::new();
        params.set_key_path(&JsValue::from_str("key"));
        let records = db.create_object_store_with_optional_parameters(RECORDS, &params)?;
        let unique = IdbIndexParameters::new();
        unique.set_unique(true);
        let fields = |names: &[&str]| -> JsValue {
            names
                .iter()
                .map(|n| JsValue::from_str(n))
                .collect::<Array>()
                .into()
        };
        records.create_index_with_str_sequence_and_optional_parameters(
            "tenant_type_name",
            &fields(&["tenant", "type", "name"]),
            &unique,
        )?;
        records.create_index_with_str_sequence("type_active", &fields(&["type", "active"]))?;
        records.create_index_with_str_sequence("tenant_type", &fields(&["tenant", "type"]))?;
        // History keys (storage key, '#', zero-padded version) already
        // order entries by record and version: no index to maintain.
        db.create_object_store_with_optional_parameters(HISTORY, &params)?;
    }
    Ok(())
}

impl IndexedDbStore {
    /// The database name used for `namespace`.
    pub fn database_name(namespace: &str) -> String {
        format!("objectstack-metadata/{namespace}")
    }

    /// Opens (creating or upgrading) the database of `namespace` in the
    /// page's (or the worker's) default storage.
    pub async fn open(namespace: &str) -> Result<Self> {
        Self::open_with(namespace, global_factory()?, None).await
    }

    /// Opens the database of `namespace` inside a Storage Bucket (created
    /// if new). `UNSUPPORTED` where the browser has no Storage Buckets.
    pub async fn open_in_bucket(namespace: &str, bucket: &Bucket) -> Result<Self> {
        let factory = bucket.factory().await?;
        Self::open_with(namespace, factory, Some(bucket.name.clone())).await
    }

    async fn open_with(
        namespace: &str,
        factory: IdbFactory,
        bucket: Option<String>,
    ) -> Result<Self> {
        let store = IndexedDbStore {
            name: Self::database_name(namespace),
            factory,
            bucket,
            db: RefCell::new(None),
        };
        store.connect().await?;
        Ok(store)
    }

    /// The Storage Bucket holding the database, if not the default storage.
    pub fn bucket(&self) -> Option<&str> {
        self.bucket.as_deref()
    }

    async fn connect(&self) -> Result<IdbDatabase> {
        let open: IdbOpenDbRequest = self
            .factory
            .open_with_u32(&self.name, SCHEMA_VERSION)
            .map_err(|e| unavailable("open", &e))?;
        let failure: Rc<RefCell<Option<JsValue>>> = Rc::default();
        let upgrade_failure = Rc::clone(&failure);
        let upgrade_request = open.clone();
        let on_upgrade = Closure::once(move |event: web_sys::IdbVersionChangeEvent| {
            let result = upgrade_request
                .result()
                .and_then(|db| db.dyn_into::<IdbDatabase>())
                .and_then(|db| upgrade(&db, event.old_version()));
            if let Err(e) = result {
                *upgrade_failure.borrow_mut() = Some(e);
            }
        });
        open.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
        let result = request("open", &open).await;
        open.set_onupgradeneeded(None);
        drop(on_upgrade);
        if let Some(e) = failure.borrow_mut().take() {
            return Err(unavailable("schema upgrade", &e));
        }
        let db: IdbDatabase = result?.dyn_into().map_err(|_| Error::StorageUnavailable {
            message: "IndexedDB open returned no database".into(),
        })?;
        // Another tab upgrading or deleting the database waits for every
        // open connection: step aside (the next call here reopens).
        let step_aside = js_sys::Function::new_no_args("this.close();");
        db.set_onversionchange(Some(&step_aside));
        *self.db.borrow_mut() = Some(db.clone());
        Ok(db)
    }

    /// A transaction over `stores`, reopening the connection once if it was
    /// closed or lost.
    async fn transaction(
        &self,
        stores: &[&str],
        mode: IdbTransactionMode,
    ) -> Result<IdbTransaction> {
        let names: Array = stores.iter().map(|s| JsValue::from_str(s)).collect();
        let current = self.db.borrow().clone();
        if let Some(db) = current {
            match db.transaction_with_str_sequence_and_mode(&names, mode) {
                Ok(tx) => return Ok(tx),
                Err(e) if thrown_name(&e) != "InvalidStateError" => {
                    return Err(idb_error("transaction", None, &e))
                }
                Err(_) => {}
            }
        }
        let db = self.connect().await?;
        db.transaction_with_str_sequence_and_mode(&names, mode)
            .map_err(|e| idb_error("transaction", None, &e))
    }

    /// A transaction over both object stores, and the two stores.
    async fn both(
        &self,
        mode: IdbTransactionMode,
    ) -> Result<(IdbTransaction, IdbObjectStore, IdbObjectStore)> {
        let tx = self.transaction(&[RECORDS, HISTORY], mode).await?;
        let records = store_of(&tx, RECORDS)?;
        let history = store_of(&tx, HISTORY)?;
        Ok((tx, records, history))
    }

    /// Closes the connection (the next call reopens it).
    pub fn close(&self) {
        if let Some(db) = self.db.borrow_mut().take() {
            db.close();
        }
    }

    async fn get_all(&self, store: &str, prefix: &str) -> Result<Array> {
        let tx = self
            .transaction(&[store], IdbTransactionMode::Readonly)
            .await?;
        let os = store_of(&tx, store)?;
        let req = os
            .get_all_with_key(&prefix_range(prefix)?.into())
            .map_err(|e| idb_error("getAll", None, &e))?;
        request_array("getAll", &req).await
    }
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

    async fn get(&self, key: &RecordKey) -> Result<Option<MetadataRecord>> {
        let tx = self
            .transaction(&[RECORDS], IdbTransactionMode::Readonly)
            .await?;
        let os = store_of(&tx, RECORDS)?;
        let req = os
            .get(&JsValue::from_str(&key.storage_key()))
            .map_err(|e| idb_error("get", None, &e))?;
        let value = request("get", &req).await?;
        if value.is_undefined() || value.is_null() {
            return Ok(None);
        }
        codec::record_at(&json_of(&value, key)?, key).map(Some)
    }

    async fn list(
        &self,
        tenant_id: Option<&str>,
        type_name: Option<&str>,
    ) -> Result<Vec<MetadataRecord>> {
        let prefix = codec::list_prefix(tenant_id, type_name);
        let scope = RecordKey::new(tenant_id, type_name.unwrap_or("*"), "*");
        let values = self.get_all(RECORDS, &prefix).await?;
        codec::records_in_scope(
            values.iter().map(|v| json_of(&v, &scope)),
            tenant_id,
            type_name,
        )
    }

    async fn history(&self, key: &RecordKey) -> Result<Vec<HistoryEntry>> {
        let values = self
            .get_all(HISTORY, &format!("{}#", key.storage_key()))
            .await?;
        codec::history_of(values.iter().map(|v| json_of(&v, key)), key)
    }

    async fn get_many_with_last_version(
        &self,
        keys: &[RecordKey],
    ) -> Result<Vec<(Option<MetadataRecord>, u64)>> {
        // Keys of one scope and type read together once there are many of
        // them (a bulk import): two range reads instead of two per key.
        const RANGE_READ_FROM: usize = 32;
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, key) in keys.iter().enumerate() {
            groups
                .entry(type_prefix(key.tenant_id.as_deref(), &key.type_name))
                .or_default()
                .push(i);
        }
        // One transaction; every request issued before the first await.
        let (_tx, records, history) = self.both(IdbTransactionMode::Readonly).await?;
        let mut ranged = Vec::new();
        let mut single = Vec::new();
        for (prefix, members) in &groups {
            if members.len() >= RANGE_READ_FROM {
                let all = records
                    .get_all_with_key(&prefix_range(prefix)?.into())
                    .map_err(|e| idb_error("getAll", None, &e))?;
                let versions = history
                    .get_all_keys_with_key(&prefix_range(prefix)?.into())
                    .map_err(|e| idb_error("getAllKeys", None, &e))?;
                ranged.push((all, versions));
            } else {
                for &i in members {
                    let key = &keys[i];
                    let get = records
                        .get(&JsValue::from_str(&key.storage_key()))
                        .map_err(|e| idb_error("get", None, &e))?;
                    let range = prefix_range(&format!("{}#", key.storage_key()))?;
                    let versions = history
                        .get_all_keys_with_key(&range.into())
                        .map_err(|e| idb_error("getAllKeys", None, &e))?;
                    single.push((i, get, versions));
                }
            }
        }
        // storage key -> (record, last history version)
        let mut found: HashMap<String, (Option<MetadataRecord>, u64)> = HashMap::new();
        let note_version = |found: &mut HashMap<String, (Option<MetadataRecord>, u64)>,
                            k: JsValue| {
            if let Some((record_key, version)) = k.as_string().and_then(|k| {
                let (r, v) = k.rsplit_once('#')?;
                Some((r.to_owned(), v.parse::<u64>().ok()?))
            }) {
                let slot = found.entry(record_key).or_insert((None, 0));
                slot.1 = slot.1.max(version);
            }
        };
        for (all, versions) in ranged {
            let scope = RecordKey::new(None, "*", "*");
            for value in request_array("getAll", &all).await?.iter() {
                let r = codec::record(&json_of(&value, &scope)?, &scope)?;
                // Filed under the key it is stored at, checked below.
                let id = Reflect::get(&value, &JsValue::from_str("key"))
                    .ok()
                    .and_then(|k| k.as_string())
                    .unwrap_or_else(|| r.key().storage_key());
                found.entry(id).or_insert((None, 0)).0 = Some(r);
            }
            for k in request_array("getAllKeys", &versions).await?.iter() {
                note_version(&mut found, k);
            }
        }
        for (i, get, versions) in single {
            let key = &keys[i];
            let value = request("get", &get).await?;
            if !(value.is_undefined() || value.is_null()) {
                let r = codec::record_at(&json_of(&value, key)?, key)?;
                found.entry(key.storage_key()).or_insert((None, 0)).0 = Some(r);
            }
            for k in request_array("getAllKeys", &versions).await?.iter() {
                note_version(&mut found, k);
            }
        }
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let (record, last) = found.remove(&key.storage_key()).unwrap_or((None, 0));
            if let Some(r) = &record {
                if r.key() != *key {
                    return Err(Error::Corrupted {
                        key: Box::new(key.clone()),
                        message: format!("stored under this key but names {}", r.key()),
                    });
                }
            }
            out.push((record, last));
        }
        Ok(out)
    }

    async fn commit(&self, batch: WriteBatch) -> Result<()> {
        // Encode everything before the transaction opens: nothing but
        // IndexedDB requests happens while it is live. The rows cross to
        // JavaScript as one JSON text and are put there: one crossing per
        // batch rather than a dozen per row (see BENCHMARKS.md). Records
        // first, then history, each in batch order: the stores are
        // independent, and grouped writes commit faster than interleaved
        // ones (measured in BENCHMARKS.md).
        let (to_history, to_records): (Vec<&Write>, Vec<&Write>) = batch
            .writes
            .iter()
            .partition(|w| matches!(w, Write::Append(_)));
        let writes = to_records
            .into_iter()
            .chain(to_history)
            .map(row_write)
            .collect::<Result<Vec<_>>>()?;
        let text = encode(&writes)?;
        drop(writes);
        let (tx, records, history) = self.both(IdbTransactionMode::Readwrite).await?;
        if let Err(e) = issue_writes(&records, &history, &text) {
            let _ = tx.abort();
            return Err(idb_error("write", None, &e));
        }
        completion("commit", &tx).await
    }
}
