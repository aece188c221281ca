//! The `MetadataService` class JavaScript sees: the hybrid chain over a
//! memory or host-callback store, with Promise-returning camelCase methods.

use std::collections::BTreeMap;
use std::rc::Rc;

use js_sys::{Function, Promise};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::boundary::{
    error_to_js, js_result, json_text_from_js, parse_json_text, to_js, value_from_js,
};
use super::host_store::HostKv;
use super::indexeddb::{Bucket, IndexedDbStore};
use super::local_storage::LocalStorageKv;
use super::tabs::{Listeners, TabLink};
use crate::access::{AccessPolicy, Actor};
use crate::clock::Clock;
use crate::definition::Definition;
use crate::error::{Error, Result};
use crate::files::{FileBundle, FileSource};
use crate::hybrid::{ChainMode, Found, HybridConfig, HybridService, Resolution};
use crate::record::{MetadataRecord, Operation, Source};
use crate::service::{ChangeOptions, MetadataService, SaveItem, SaveOptions, SaveOutcome};
use crate::store::{KvStore, MemoryStore, Store};
use crate::sync::{FetchedItem, ManifestEntry};

#[wasm_bindgen]
extern "C" {
    /// `CreateOptions` (TypeScript type of `create`'s argument).
    #[wasm_bindgen(typescript_type = "CreateOptions")]
    pub type CreateOptionsArg;
    /// `SaveOptions`.
    #[wasm_bindgen(typescript_type = "SaveOptions")]
    pub type SaveOptionsArg;
    /// `ChangeOptions`.
    #[wasm_bindgen(typescript_type = "ChangeOptions")]
    pub type ChangeOptionsArg;
    /// `Query`.
    #[wasm_bindgen(typescript_type = "Query")]
    pub type QueryArg;
}

/// An optional typed argument as a plain value (undefined when absent).
fn opt<T: Into<JsValue>>(value: Option<T>) -> JsValue {
    value.map(Into::into).unwrap_or(JsValue::UNDEFINED)
}

/// `Date.now()`: the standard clock panics on wasm32.
struct JsClock;

impl Clock for JsClock {
    fn now_ms(&self) -> i64 {
        js_sys::Date::now() as i64
    }
}

/// The options of `create` other than `store` (which holds functions).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateOptions {
    tenant: Option<String>,
    actor: Option<String>,
    roles: Option<Vec<String>>,
    policy: Option<AccessPolicy>,
    mode: Option<ChainMode>,
    strict: Option<bool>,
    cache: Option<bool>,
    files: Option<BTreeMap<String, String>>,
    source: Option<Source>,
    verify_reads: Option<bool>,
    namespace: Option<String>,
    broadcast: Option<bool>,
    bucket: Option<serde_json::Value>,
}

/// The `bucket` option: a bucket name, or `{ name, quota, persisted }`.
fn bucket_option(value: Option<serde_json::Value>) -> Result<Option<Bucket>> {
    let bucket = match value {
        None | Some(serde_json::Value::Null) => return Ok(None),
        Some(serde_json::Value::String(name)) => Bucket::named(name),
        Some(object @ serde_json::Value::Object(_)) => serde_json::from_value(object)
            .map_err(|e| Error::validation("bucket", e.to_string()))?,
        Some(_) => {
            return Err(Error::validation(
                "bucket",
                "must be a bucket name or { name, quota, persisted }",
            ))
        }
    };
    bucket.validate()?;
    Ok(Some(bucket))
}

/// An options object as its Rust struct: through JSON text, so unknown or
/// misspelt options are refused rather than ignored.
fn options<T: DeserializeOwned + Default>(value: &JsValue, field: &str) -> Result<T> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    let json = value_from_js(value, field)?;
    serde_json::from_value(json).map_err(|e| Error::validation(field, e.to_string()))
}

/// A JSON argument (array of entries...) as its Rust type, refusing
/// unknown fields.
fn parse_arg<T: DeserializeOwned>(value: &JsValue, field: &str) -> Result<T> {
    let json = value_from_js(value, field)?;
    serde_json::from_value(json).map_err(|e| Error::validation(field, e.to_string()))
}

/// Splits `create`'s options into the store spec and the rest.
fn split_create_options(value: &JsValue) -> Result<(JsValue, CreateOptions)> {
    if value.is_undefined() || value.is_null() {
        return Ok((JsValue::UNDEFINED, CreateOptions::default()));
    }
    let object: &js_sys::Object = value
        .dyn_ref()
        .ok_or_else(|| Error::validation("options", "must be an object"))?;
    let rest = js_sys::Object::assign(&js_sys::Object::new(), object);
    let store = js_sys::Reflect::get(&rest, &JsValue::from_str("store")).unwrap_or_default();
    let _ = js_sys::Reflect::delete_property(&rest, &JsValue::from_str("store"));
    Ok((store, options(&rest, "options")?))
}

fn string_arg(value: &JsValue, field: &str) -> Result<String> {
    value
        .as_string()
        .ok_or_else(|| Error::validation(field, "must be a string"))
}

/// The (type, name) arguments every per-record method takes.
fn ids(type_name: &JsValue, name: &JsValue) -> Result<(String, String)> {
    Ok((string_arg(type_name, "type")?, string_arg(name, "name")?))
}

/// IndexedDB, in `bucket` when one is given.
async fn open_indexeddb(namespace: &str, bucket: Option<&Bucket>) -> Result<IndexedDbStore> {
    match bucket {
        Some(b) => IndexedDbStore::open_in_bucket(namespace, b).await,
        None => IndexedDbStore::open(namespace).await,
    }
}

/// How the store was chosen, for `storeNote`, and the storage bucket it
/// lives in.
struct Chosen {
    note: String,
    bucket: Option<String>,
}

impl Chosen {
    fn note(note: impl Into<String>) -> Self {
        Chosen {
            note: note.into(),
            bucket: None,
        }
    }

    /// An IndexedDB store, `how` it was chosen.
    fn indexeddb(store: &IndexedDbStore, how: &str) -> Self {
        match store.bucket() {
            Some(b) => Chosen {
                note: format!("IndexedDB in storage bucket {b:?}{how}"),
                bucket: Some(b.to_owned()),
            },
            None => Chosen::note(format!("IndexedDB{how}")),
        }
    }
}

/// The store named by `spec`, and a note on how it was chosen.
async fn open_store(
    spec: &JsValue,
    namespace: &str,
    bucket: Option<&Bucket>,
) -> Result<(Rc<dyn Store>, Chosen)> {
    let name = if spec.is_undefined() || spec.is_null() {
        Some("memory".to_owned())
    } else {
        spec.as_string()
    };
    if bucket.is_some() && !matches!(name.as_deref(), Some("indexeddb" | "auto")) {
        return Err(Error::validation(
            "bucket",
            "a storage bucket holds IndexedDB: use it with store 'indexeddb' or 'auto'",
        ));
    }
    match name.as_deref() {
        None => Ok((
            Rc::new(KvStore::new(HostKv::new(spec.clone())?)),
            Chosen::note("host store"),
        )),
        Some("memory") => Ok((Rc::new(MemoryStore::new()), Chosen::note("memory, as asked"))),
        Some("indexeddb") => {
            let store = open_indexeddb(namespace, bucket).await?;
            let chosen = Chosen::indexeddb(&store, ", as asked");
            Ok((Rc::new(store), chosen))
        }
        Some("localstorage") => Ok((
            Rc::new(KvStore::new(LocalStorageKv::open(namespace)?)),
            Chosen::note("localStorage, as asked"),
        )),
        Some("auto") => {
            let mut idb = match open_indexeddb(namespace, bucket).await {
                Ok(store) => {
                    let chosen = Chosen::indexeddb(&store, " (auto)");
                    return Ok((Rc::new(store), chosen));
                }
                Err(e) => e.to_string(),
            };
            if bucket.is_some() {
                // No bucket here (no Storage Buckets API, or refused): the
                // page's default IndexedDB is the next best place.
                match IndexedDbStore::open(namespace).await {
                    Ok(store) => {
                        let note = format!("IndexedDB (auto): storage bucket unavailable: {idb}");
                        return Ok((Rc::new(store), Chosen::note(note)));
                    }
                    Err(e) => idb = format!("{e} (storage bucket: {idb})"),
                }
            }
            match LocalStorageKv::open(namespace) {
                Ok(kv) => Ok((
                    Rc::new(KvStore::new(kv)),
                    Chosen::note(format!("localStorage (auto): IndexedDB unavailable: {idb}")),
                )),
                Err(ls) => Ok((
                    Rc::new(MemoryStore::new()),
                    Chosen::note(format!(
                        "memory (auto): nothing persists; IndexedDB unavailable: {idb}; localStorage unavailable: {ls}"
                    )),
                )),
            }
        }
        Some(other) => Err(Error::validation(
            "store",
            format!(
                "unknown store {other:?}: use 'auto', 'indexeddb', 'localstorage', 'memory' or a host store object"
            ),
        )),
    }
}

/// A record without its definition, to be completed with a JS value of the
/// definition that is at hand already (no second serialisation).
#[derive(Serialize)]
struct RecordHead<'a> {
    #[serde(rename = "type")]
    type_name: &'a str,
    name: &'a str,
    version: u64,
    checksum: &'a str,
    source: Source,
    is_active: bool,
    owner: &'a str,
    tenant_id: &'a Option<String>,
    tags: &'a [String],
    created_at: &'a str,
    updated_at: &'a str,
    updated_by: &'a Option<String>,
}

fn set(target: &JsValue, key: &str, value: &JsValue) -> Result<()> {
    js_sys::Reflect::set(target, &JsValue::from_str(key), value)
        .map(|_| ())
        .map_err(|e| Error::Storage {
            message: super::boundary::describe_thrown(&e),
        })
}

fn record_to_js(record: &MetadataRecord, data: JsValue) -> Result<JsValue> {
    let head = to_js(&RecordHead {
        type_name: &record.type_name,
        name: &record.name,
        version: record.version,
        checksum: &record.checksum,
        source: record.source,
        is_active: record.is_active,
        owner: &record.owner,
        tenant_id: &record.tenant_id,
        tags: &record.tags,
        created_at: &record.created_at,
        updated_at: &record.updated_at,
        updated_by: &record.updated_by,
    })?;
    set(&head, "data", &data)?;
    Ok(head)
}

#[derive(Serialize)]
struct OutcomeHead {
    changed: bool,
    operation: Option<Operation>,
}

fn outcome_to_js(outcome: &SaveOutcome, record: JsValue) -> Result<JsValue> {
    let out = to_js(&OutcomeHead {
        changed: outcome.changed,
        operation: outcome.operation,
    })?;
    set(&out, "record", &record)?;
    Ok(out)
}

/// A definition as a fresh JS object: `JSON.parse` of its text.
fn definition_to_js(data: &Definition) -> Result<JsValue> {
    parse_json_text(data.json_text())
}

fn resolution_to_js(r: &Resolution) -> Result<JsValue> {
    let degraded: Vec<Value> = r
        .degraded
        .iter()
        .map(|d| json!({"layer": d.layer, "code": d.error.code(), "message": d.error.to_string()}))
        .collect();
    let out = to_js(&json!({
        "layer": r.layer(),
        "degraded": degraded,
        "fromCache": r.from_cache,
    }))?;
    let (data, record) = match &r.found {
        Some(found) => {
            let data = definition_to_js(found.definition())?;
            let record = match found.record() {
                Some(rec) => record_to_js(rec, data.clone())?,
                None => JsValue::NULL,
            };
            (data, record)
        }
        None => (JsValue::NULL, JsValue::NULL),
    };
    set(&out, "data", &data)?;
    set(&out, "record", &record)?;
    Ok(out)
}

/// The first layer failure of an answer, as an error: plain `load`,
/// `loadRecord` and `loadMany` never present "not found" or a partial list
/// when a layer failed (`resolve` gives the degraded answer itself).
fn degraded_error(failures: &[crate::hybrid::LayerFailure]) -> Result<()> {
    match failures.first() {
        Some(f) => Err(Error::LayerFailed {
            layer: f.layer.to_string(),
            source: Box::new(f.error.clone()),
        }),
        None => Ok(()),
    }
}

/// Runs `work` as a Promise: resolved with its value, rejected with a
/// `MetadataError`.
fn promise<F>(work: F) -> Promise
where
    F: std::future::Future<Output = Result<JsValue>> + 'static,
{
    future_to_promise(async move { work.await.map_err(|e| error_to_js(&e)) })
}

/// Versioned metadata storage behind the database -> registry -> files
/// fallback chain.
#[wasm_bindgen(js_name = MetadataService)]
pub struct JsMetadataService {
    chain: Rc<HybridService>,
    store_note: String,
    listeners: Rc<Listeners>,
    tabs: Option<Rc<TabLink>>,
    forwarding: crate::events::SubscriptionId,
}

impl Drop for JsMetadataService {
    fn drop(&mut self) {
        self.chain.database().events().unsubscribe(self.forwarding);
    }
}

impl JsMetadataService {
    /// A change to one record (delete, restore, purge): the (type, name)
    /// arguments and change options checked, then `op` on the chain.
    fn change<F, Fut>(
        &self,
        type_name: JsValue,
        name: JsValue,
        options: Option<ChangeOptionsArg>,
        op: F,
    ) -> Promise
    where
        F: FnOnce(Rc<HybridService>, String, String, ChangeOptions) -> Fut + 'static,
        Fut: std::future::Future<Output = Result<JsValue>> + 'static,
    {
        let options = opt(options);
        let chain = Rc::clone(&self.chain);
        promise(async move {
            let (t, n) = ids(&type_name, &name)?;
            let o: ChangeOptions = self::options(&options, "options")?;
            op(chain, t, n, o).await
        })
    }
}

#[wasm_bindgen(js_class = MetadataService)]
impl JsMetadataService {
    /// Creates a service: `store` is `'memory'` (default) or a host store
    /// object; `tenant`, `actor`, `roles` and `policy` scope and check every
    /// operation; `files` is a bundle of metadata files (path -> text).
    #[wasm_bindgen(unchecked_return_type = "Promise<MetadataService>")]
    pub fn create(options: Option<CreateOptionsArg>) -> Promise {
        let options = opt(options);
        promise(async move {
            let (store, o) = split_create_options(&options)?;
            let namespace = o.namespace.clone().unwrap_or_else(|| "default".to_owned());
            crate::validate::label("namespace", &namespace)?;
            let bucket = bucket_option(o.bucket.clone())?;
            let (store, store_note) = open_store(&store, &namespace, bucket.as_ref()).await?;
            // Databases in different buckets are different data: so are
            // their change channels.
            let channel = match store_note.bucket {
                Some(b) => format!("{namespace}@{b}"),
                None => namespace.clone(),
            };
            let store_note = store_note.note;
            let mut builder = MetadataService::builder_shared(store)
                .tenant(o.tenant.as_deref())
                .actor(Actor::new(
                    o.actor.unwrap_or_else(|| "system".to_owned()),
                    o.roles.unwrap_or_default(),
                ))
                .policy(o.policy.unwrap_or_default())
                .clock(Rc::new(JsClock))
                .verify_reads(o.verify_reads.unwrap_or(true));
            if let Some(source) = o.source {
                builder = builder.default_source(source);
            }
            let db = builder.build()?;
            let files: Option<Rc<dyn FileSource>> = match o.files {
                Some(files) => Some(Rc::new(FileBundle::from_files(
                    files.iter().map(|(p, t)| (p.as_str(), t.as_str())),
                )?)),
                None => None,
            };
            let config = HybridConfig {
                mode: o.mode.unwrap_or_default(),
                strict: o.strict.unwrap_or(false),
                cache: o.cache.unwrap_or(true),
            };
            let chain = Rc::new(HybridService::new(db, files, config));
            let listeners = Rc::new(Listeners::default());
            // Other tabs share the browser's stores; memory is private, and a
            // host store is the host's to coordinate (in Node an open channel
            // would also keep the process alive).
            let kind = chain.database().store().kind();
            let browser_store = kind == "indexeddb" || kind == "localstorage";
            let tabs = if o.broadcast.unwrap_or(browser_store) {
                TabLink::open(&channel, Rc::clone(&chain), Rc::clone(&listeners)).map(Rc::new)
            } else {
                None
            };
            let (to_listeners, to_tabs) = (Rc::clone(&listeners), tabs.clone());
            let forwarding = chain.database().events().subscribe(move |event| {
                if let Ok(e) = to_js(event) {
                    if let Some(t) = &to_tabs {
                        t.post(&e);
                    }
                    to_listeners.notify(&e);
                }
            });
            Ok(JsMetadataService {
                chain,
                store_note,
                listeners,
                tabs,
                forwarding,
            }
            .into())
        })
    }

    /// The storage backend in use (`memory`, `sqlite`, `host`...).
    #[wasm_bindgen(getter, js_name = storeKind)]
    pub fn store_kind(&self) -> String {
        self.chain.database().store().kind().to_owned()
    }

    /// How the store was chosen: with `store: 'auto'`, which backend was
    /// taken and why the ones before it were not.
    #[wasm_bindgen(getter, js_name = storeNote)]
    pub fn store_note(&self) -> String {
        self.store_note.clone()
    }

    /// Whether changes are exchanged with other tabs.
    #[wasm_bindgen(getter, js_name = sharesAcrossTabs)]
    pub fn shares_across_tabs(&self) -> bool {
        self.tabs.is_some()
    }

    /// The tenant this service works for, or null for global.
    #[wasm_bindgen(getter)]
    pub fn tenant(&self) -> Option<String> {
        self.chain.database().tenant_id().map(str::to_owned)
    }

    /// The acting user.
    #[wasm_bindgen(getter)]
    pub fn actor(&self) -> String {
        self.chain.database().actor().id.clone()
    }

    /// Upserts (type, name): resolves to `{ record, changed, operation }`.
    #[wasm_bindgen(unchecked_return_type = "Promise<SaveOutcome>")]
    pub fn save(
        &self,
        #[wasm_bindgen(js_name = "type", unchecked_param_type = "string")] type_name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Record<string, unknown>")] data: JsValue,
        options: Option<SaveOptionsArg>,
    ) -> Promise {
        let options = opt(options);
        let chain = Rc::clone(&self.chain);
        promise(async move {
            let (t, n) = ids(&type_name, &name)?;
            let o: SaveOptions = self::options(&options, "options")?;
            // Validated and checksummed from its JSON text: no value tree is
            // built on the way into the store.
            let data = Definition::from_json_text(json_text_from_js(&data, "data")?)?;
            let w = chain.save_definition(&t, &n, data, o).await?;
            let record =
                record_to_js(&w.outcome.record, definition_to_js(&w.outcome.record.data)?)?;
            outcome_to_js(&w.outcome, record)
        })
    }

    /// The active definition of (type, name) from the first layer that has
    /// it, or null.
    #[wasm_bindgen(unchecked_return_type = "Promise<Record<string, unknown> | null>")]
    pub fn load(
        &self,
        #[wasm_bindgen(js_name = "type", unchecked_param_type = "string")] type_name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
    ) -> Promise {
        let chain = Rc::clone(&self.chain);
        promise(async move {
            let (t, n) = ids(&type_name, &name)?;
            let r = chain.load(&t, &n).await?;
            match &r.found {
                Some(f) => definition_to_js(f.definition()),
                None => degraded_error(&r.degraded).map(|()| JsValue::NULL),
            }
        })
    }

    /// The full answer of the chain: `{ data, layer, record, degraded,
    /// fromCache }`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Resolution>")]
    pub fn resolve(
        &self,
        #[wasm_bindgen(js_name = "type", unchecked_param_type = "string")] type_name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
    ) -> Promise {
        let chain = Rc::clone(&self.chain);
        promise(async move {
            let (t, n) = ids(&type_name, &name)?;
            resolution_to_js(&chain.load(&t, &n).await?)
        })
    }

    /// The whole active database record of (type, name), or null.
    #[wasm_bindgen(js_name = loadRecord, unchecked_return_type = "Promise<MetadataRecord | null>")]
    pub fn load_record(
        &self,
        #[wasm_bindgen(js_name = "type", unchecked_param_type = "string")] type_name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
    ) -> Promise {
        let chain = Rc::clone(&self.chain);
        promise(async move {
            let (t, n) = ids(&type_name, &name)?;
            let r = chain.load(&t, &n).await?;
            match r.found.as_ref().and_then(Found::record) {
                Some(rec) => record_to_js(rec, definition_to_js(&rec.data)?),
                None => degraded_error(&r.degraded).map(|()| JsValue::NULL),
            }
        })
    }

    /// All active definitions of a type across the layers, ordered by name.
    #[wasm_bindgen(js_name = loadMany, unchecked_return_type = "Promise<Record<string, unknown>[]>")]
    pub fn load_many(
        &self,
        #[wasm_bindgen(js_name = "type", unchecked_param_type = "string")] type_name: JsValue,
    ) -> Promise {
        let chain = Rc::clone(&self.chain);
        promise(async move {
            let t = string_arg(&type_name, "type")?;
            let many = chain.load_many(&t).await?;
            degraded_error(&many.degraded)?;
            // One JSON array of the definitions' texts, parsed once.
            let mut array = String::from("[");
            for (i, (_, found)) in many.items.iter().enumerate() {
                if i > 0 {
                    array.push(',');
                }
                array.push_str(found.definition().json_text());
            }
            array.push(']');
            parse_json_text(&array)
        })
    }

    /// Every definition of a type across the layers, ordered by name, with
    /// where it came from: `[{ name, layer, data, record }]`.
    #[wasm_bindgen(js_name = resolveMany, unchecked_return_type = "Promise<ResolvedItem[]>")]
    pub fn resolve_many(
        &self,
        #[wasm_bindgen(js_name = "type", unchecked_param_type = "string")] type_name: JsValue,
    ) -> Promise {
        let chain = Rc::clone(&self.chain);
        promise(async move {
            let t = string_arg(&type_name, "type")?;
            let many = chain.load_many(&t).await?;
            degraded_error(&many.degraded)?;
            let out = js_sys::Array::new();
            for (name, found) in &many.items {
                let item = to_js(&json!({ "name": name, "layer": found.layer() }))?;
                let data = definition_to_js(found.definition())?;
                let record = match found.record() {
                    Some(rec) => record_to_js(rec, data.clone())?,
                    None => JsValue::NULL,
                };
                set(&item, "data", &data)?;
                set(&item, "record", &record)?;
                out.push(&item);
            }
            Ok(out.into())
        })
    }

    /// Soft-deletes (type, name).
    #[wasm_bindgen(unchecked_return_type = "Promise<SaveOutcome>")]
    pub fn delete(
        &self,
        #[wasm_bindgen(js_name = "type", unchecked_param_type = "string")] type_name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
        options: Option<ChangeOptionsArg>,
    ) -> Promise {
        self.change(type_name, name, options, |chain, t, n, o| async move {
            to_js(&chain.delete(&t, &n, o).await?.outcome)
        })
    }

    /// Undoes a soft delete.
    #[wasm_bindgen(unchecked_return_type = "Promise<SaveOutcome>")]
    pub fn restore(
        &self,
        #[wasm_bindgen(js_name = "type", unchecked_param_type = "string")] type_name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
        options: Option<ChangeOptionsArg>,
    ) -> Promise {
        self.change(type_name, name, options, |chain, t, n, o| async move {
            to_js(&chain.database().restore(&t, &n, o).await?)
        })
    }

    /// Removes (type, name)'s row for good; its history stays.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn purge(
        &self,
        #[wasm_bindgen(js_name = "type", unchecked_param_type = "string")] type_name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
        options: Option<ChangeOptionsArg>,
    ) -> Promise {
        self.change(type_name, name, options, |chain, t, n, o| async move {
            chain.database().purge(&t, &n, o).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Every version of (type, name), oldest first.
    #[wasm_bindgen(unchecked_return_type = "Promise<HistoryEntry[]>")]
    pub fn history(
        &self,
        #[wasm_bindgen(js_name = "type", unchecked_param_type = "string")] type_name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
    ) -> Promise {
        let chain = Rc::clone(&self.chain);
        promise(async move {
            let (t, n) = ids(&type_name, &name)?;
            to_js(&chain.database().history(&t, &n).await?)
        })
    }

    /// Writes an earlier version's data back as a new version.
    #[wasm_bindgen(unchecked_return_type = "Promise<SaveOutcome>")]
    pub fn rollback(
        &self,
        #[wasm_bindgen(js_name = "type", unchecked_param_type = "string")] type_name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] version: JsValue,
        options: Option<ChangeOptionsArg>,
    ) -> Promise {
        let options = opt(options);
        let chain = Rc::clone(&self.chain);
        promise(async move {
            let (t, n) = ids(&type_name, &name)?;
            let v = version
                .as_f64()
                .filter(|v| v.fract() == 0.0 && *v >= 1.0 && *v <= 9_007_199_254_740_991.0)
                .ok_or_else(|| Error::validation("version", "must be a positive integer"))?;
            let o: ChangeOptions = self::options(&options, "options")?;
            to_js(&chain.database().rollback(&t, &n, v as u64, o).await?)
        })
    }

    /// Records matching the filters, a page at a time.
    #[wasm_bindgen(unchecked_return_type = "Promise<QueryPage>")]
    pub fn query(&self, query: Option<QueryArg>) -> Promise {
        let query = opt(query);
        let chain = Rc::clone(&self.chain);
        promise(async move {
            let q: crate::query::Query = self::options(&query, "query")?;
            to_js(&chain.database().query(&q).await?)
        })
    }

    /// Saves several records all-or-nothing.
    #[wasm_bindgen(js_name = saveMany, unchecked_return_type = "Promise<SaveOutcome[]>")]
    pub fn save_many(
        &self,
        #[wasm_bindgen(unchecked_param_type = "SaveItem[]")] items: JsValue,
    ) -> Promise {
        let chain = Rc::clone(&self.chain);
        promise(async move {
            let value = value_from_js(&items, "items")?;
            let items: Vec<SaveItem> = serde_json::from_value(value)
                .map_err(|e| Error::validation("items", e.to_string()))?;
            to_js(&chain.database().save_many(items).await?)
        })
    }

    /// Registers a definition in the in-memory registry layer.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn register(
        &self,
        #[wasm_bindgen(js_name = "type", unchecked_param_type = "string")] type_name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Record<string, unknown>")] data: JsValue,
    ) -> Promise {
        let chain = Rc::clone(&self.chain);
        promise(async move {
            let (t, n) = ids(&type_name, &name)?;
            let data = value_from_js(&data, "data")?;
            chain.register(&t, &n, data)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Calls `listener` with every committed change, this service's own and,
    /// with a shared store, those of other tabs (marked `remote: true`);
    /// returns the function that unsubscribes. A listener that throws does
    /// not affect the write or the other listeners.
    #[wasm_bindgen(unchecked_return_type = "() => void")]
    pub fn subscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(event: ChangeEvent) => void")] listener: JsValue,
    ) -> Result<JsValue, JsValue> {
        let listener: Function = js_result(
            listener
                .dyn_into()
                .map_err(|_| Error::validation("listener", "must be a function")),
        )?;
        let listeners = Rc::clone(&self.listeners);
        let id = listeners.add(listener);
        let unsubscribe = Closure::once_into_js(move || {
            listeners.remove(id);
        });
        Ok(unsubscribe)
    }

    /// Compares the local records with a remote manifest: `{ stale, missing,
    /// extra, unchanged }`.
    #[wasm_bindgen(unchecked_return_type = "Promise<SyncPlan>")]
    pub fn diff(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ManifestEntry[]")] manifest: JsValue,
    ) -> Promise {
        let chain = Rc::clone(&self.chain);
        promise(async move {
            let manifest: Vec<ManifestEntry> = parse_arg(&manifest, "manifest")?;
            to_js(&chain.database().diff_manifest(&manifest).await?)
        })
    }

    /// Applies fetched definitions in one transaction; each must match the
    /// manifest's checksum, or nothing is written.
    #[wasm_bindgen(js_name = applyFetched, unchecked_return_type = "Promise<SaveOutcome[]>")]
    pub fn apply_fetched(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ManifestEntry[]")] manifest: JsValue,
        #[wasm_bindgen(unchecked_param_type = "FetchedItem[]")] items: JsValue,
    ) -> Promise {
        let chain = Rc::clone(&self.chain);
        promise(async move {
            let manifest: Vec<ManifestEntry> = parse_arg(&manifest, "manifest")?;
            let items: Vec<FetchedItem> = parse_arg(&items, "items")?;
            to_js(&chain.database().apply_fetched(&manifest, items).await?)
        })
    }

    /// Brings the local records in line with `manifest`: diffs, calls
    /// `fetch(entries)` (sync or async) for the stale and missing ones only,
    /// and applies what it returns in one transaction. Resolves to
    /// `{ plan, applied }`.
    #[wasm_bindgen(unchecked_return_type = "Promise<SyncResult>")]
    pub fn sync(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ManifestEntry[]")] manifest: JsValue,
        #[wasm_bindgen(
            unchecked_param_type = "(entries: ManifestEntry[]) => FetchedItem[] | Promise<FetchedItem[]>"
        )]
        fetch: JsValue,
    ) -> Promise {
        let chain = Rc::clone(&self.chain);
        promise(async move {
            let fetch: Function = fetch
                .dyn_into()
                .map_err(|_| Error::validation("fetch", "must be a function"))?;
            let manifest: Vec<ManifestEntry> = parse_arg(&manifest, "manifest")?;
            let db = chain.database();
            let plan = db.diff_manifest(&manifest).await?;
            let wanted = plan.to_fetch();
            let applied = if wanted.is_empty() {
                Vec::new()
            } else {
                let failed = |e: &JsValue| Error::HostCallbackFailed {
                    operation: "fetch".into(),
                    message: super::boundary::describe_thrown(e),
                };
                let mut got = fetch
                    .call1(&JsValue::NULL, &to_js(&wanted)?)
                    .map_err(|e| failed(&e))?;
                if super::boundary::is_promise_like(&got) {
                    got = wasm_bindgen_futures::JsFuture::from(Promise::resolve(&got))
                        .await
                        .map_err(|e| failed(&e))?;
                }
                let items: Vec<FetchedItem> = parse_arg(&got, "fetched")?;
                db.apply_fetched(&manifest, items).await?
            };
            let out = to_js(&json!({ "plan": plan }))?;
            set(&out, "applied", &to_js(&applied)?)?;
            Ok(out)
        })
    }

    /// Forgets cached answers: for one (type, name), or all when no type is
    /// given. For changes made outside this service.
    pub fn invalidate(
        &self,
        #[wasm_bindgen(js_name = "type")] type_name: Option<String>,
        name: Option<String>,
    ) {
        match (type_name, name) {
            (Some(t), Some(n)) => self.chain.invalidate(&t, &n),
            _ => self.chain.invalidate_all(),
        }
    }
}
