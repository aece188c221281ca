//! The `MetadataService` class JavaScript sees: the hybrid chain over the
//! chosen store, with Promise-returning camelCase methods, and nothing but
//! its `#[wasm_bindgen]` methods. Option parsing lives in `options`,
//! conversions in `convert`, building a service in `create` (store opening
//! in `open`), subscriptions in `subscribe`; every rule is the core's.

use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

use super::boundary::{js_result, json_texts_within, promise, to_js};
use super::convert::{
    definition_to_js, event_to_js, full_record_to_js, outcome_to_js, outcome_to_js_with,
    outcomes_to_js, record_to_js, resolution_to_js, set,
};
use super::host::{Host, Shape};
use super::options::{
    bounded_string_arg, ids, opt, options, parse_arg, parse_list_arg, version_arg, DeriveOptions,
    MirrorOptions, SubscribeOptions,
};
use super::tabs::TabLink;
use crate::access::Actor;
use crate::definition::Definition;
use crate::error::{Error, Result};
use crate::events::ChangeQuery;
use crate::hybrid::{Found, HybridService};
use crate::record::MetadataRecord;
use crate::service::{
    ChangeOptions, MetadataService, MirrorEntry, Mirrored, SaveOptions, SaveText,
};
use crate::store::Origin;
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
    /// `ChangeQuery`.
    #[wasm_bindgen(typescript_type = "ChangeQuery")]
    pub type ChangeQueryArg;
    /// `DeriveOptions`.
    #[wasm_bindgen(typescript_type = "DeriveOptions")]
    pub type DeriveOptionsArg;
    /// `MirrorOptions`.
    #[wasm_bindgen(typescript_type = "MirrorOptions")]
    pub type MirrorOptionsArg;
    /// `SubscribeOptions`.
    #[wasm_bindgen(typescript_type = "SubscribeOptions")]
    pub type SubscribeOptionsArg;
}

/// Versioned metadata storage behind the database -> registry -> files
/// fallback chain.
#[wasm_bindgen(js_name = MetadataService)]
pub struct JsMetadataService {
    chain: Rc<HybridService>,
    store_note: String,
    tabs: Option<TabLink>,
    /// Change streams started by `subscribe({ since })`, closed with the
    /// service.
    followers: Rc<super::subscribe::Followers>,
    /// Parsed definitions kept for fresh copies (`load`, `loadMany`).
    copies: Rc<super::copies::Copies>,
}

impl Drop for JsMetadataService {
    fn drop(&mut self) {
        self.followers.close();
    }
}

impl JsMetadataService {
    fn db(&self) -> &MetadataService {
        self.chain.database()
    }

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

/// Saves one definition and answers with the outcome, the record's `data`
/// parsed lazily from `text` (the JS string the definition was read from):
/// the outcome's record holds the definition given, also when the save
/// changed nothing.
async fn save_one(
    chain: &HybridService,
    copies: &super::copies::Copies,
    type_name: &str,
    name: &str,
    data: Definition,
    options: SaveOptions,
    text: Option<&JsValue>,
) -> Result<JsValue> {
    let w = chain
        .save_definition(type_name, name, data, options)
        .await?;
    copies.took(type_name, name, &w.outcome.record.data);
    outcome_to_js_with(&w.outcome, text)
}

#[wasm_bindgen(js_class = MetadataService)]
impl JsMetadataService {
    /// Creates a service: `store` is `'memory'` (default), `'indexeddb'`,
    /// `'localstorage'`, `'auto'` or a host store object; `tenant`, `actor`,
    /// `roles` and `policy` scope and check every operation; `files` is a
    /// bundle of metadata files (path -> text).
    #[wasm_bindgen(unchecked_return_type = "Promise<MetadataService>")]
    pub fn create(options: Option<CreateOptionsArg>) -> Promise {
        let options = opt(options);
        promise(async move {
            let created = super::create::create(&options).await?;
            Ok(JsMetadataService {
                chain: created.chain,
                store_note: created.store_note,
                tabs: created.tabs,
                followers: Rc::default(),
                copies: Rc::default(),
            }
            .into())
        })
    }

    /// Another service on the same store (and registry, files and options),
    /// for another `tenant` (null: global) and/or `actor` and `roles`: it
    /// hears every change this one commits and the other way round. Its
    /// read cache is its own.
    #[wasm_bindgen(unchecked_return_type = "MetadataService")]
    pub fn derive(&self, options: Option<DeriveOptionsArg>) -> Result<JsMetadataService, JsValue> {
        js_result((|| {
            let o: DeriveOptions = self::options(&opt(options), "options")?;
            let db = self.db();
            let mut builder = db.derive();
            if let Some(tenant) = &o.tenant {
                builder = builder.tenant(tenant.as_deref());
            }
            if o.actor.is_some() || o.roles.is_some() {
                builder = builder.actor(Actor::new(
                    o.actor.unwrap_or_else(|| db.actor().id.clone()),
                    o.roles.unwrap_or_else(|| db.actor().roles.clone()),
                ));
            }
            let chain = Rc::new(self.chain.derive(builder.build()?)?);
            Ok(JsMetadataService {
                chain,
                store_note: self.store_note.clone(),
                tabs: None,
                followers: Rc::default(),
                copies: Rc::default(),
            })
        })())
    }

    /// The storage backend in use (`memory`, `sqlite`, `host`...).
    #[wasm_bindgen(getter, js_name = storeKind)]
    pub fn store_kind(&self) -> String {
        self.db().store().kind().to_owned()
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
        self.db().tenant_id().map(str::to_owned)
    }

    /// The acting user.
    #[wasm_bindgen(getter)]
    pub fn actor(&self) -> String {
        self.db().actor().id.clone()
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
        let copies = Rc::clone(&self.copies);
        promise(async move {
            let (t, n) = ids(&type_name, &name)?;
            let o: SaveOptions = self::options(&options, "options")?;
            // Validated and checksummed from its JSON text: no value tree is
            // built on the way into the store.
            let (js_text, text) =
                json_texts_within(&data, "data", crate::validate::MAX_DATA_BYTES)?;
            let data = copies.definition(&t, &n, text)?;
            save_one(&chain, &copies, &t, &n, data, o, Some(&js_text)).await
        })
    }

    /// [`save`](Self::save) of a definition given as JSON text (a request
    /// body): read once, straight into the store. A `name` of null takes
    /// the definition's own `name` member. With `format: 'upstream'` the
    /// text may also be upstream's `{ item }` or `{ metadata }` wrapper
    /// around the document.
    #[wasm_bindgen(js_name = saveJson, unchecked_return_type = "Promise<SaveOutcome>")]
    pub fn save_json(
        &self,
        #[wasm_bindgen(js_name = "type", unchecked_param_type = "string")] type_name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | null")] name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] text: JsValue,
        options: Option<SaveOptionsArg>,
        #[wasm_bindgen(unchecked_param_type = "'document' | 'upstream'")] format: Option<String>,
    ) -> Promise {
        let options = opt(options);
        let chain = Rc::clone(&self.chain);
        let copies = Rc::clone(&self.copies);
        promise(async move {
            let t = bounded_string_arg(&type_name, "type", 1024)?;
            let given = if name.is_null() || name.is_undefined() {
                None
            } else {
                Some(bounded_string_arg(&name, "name", 1024)?)
            };
            // A request body: refused on its length before it is copied.
            let js_text = text;
            let text = bounded_string_arg(&js_text, "text", crate::validate::MAX_TEXT_BYTES)?;
            let o: SaveOptions = self::options(&options, "options")?;
            let (data, own_text) = match format.as_deref() {
                None | Some("document") => {
                    let data = match &given {
                        Some(n) => copies.definition(&t, n, text)?,
                        None => Definition::from_json_text(text)?,
                    };
                    (data, Some(&js_text))
                }
                // The definition is the wrapper's inner text, if wrapped.
                Some("upstream") => (Definition::from_upstream_body(text)?, None),
                Some(other) => {
                    return Err(Error::validation(
                        "format",
                        format!("{other:?}: use 'document' or 'upstream'"),
                    ))
                }
            };
            let n = match given {
                Some(n) => n,
                None => data.string_member("name").ok_or_else(|| {
                    Error::validation("name", "the definition has no string `name` member")
                })?,
            };
            save_one(&chain, &copies, &t, &n, data, o, own_text).await
        })
    }

    /// [`saveMany`](Self::save_many) of a JSON text array of `{ type, name,
    /// data, options? }` items (a request body), read once.
    #[wasm_bindgen(js_name = saveManyJson, unchecked_return_type = "Promise<SaveOutcome[]>")]
    pub fn save_many_json(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] text: JsValue,
    ) -> Promise {
        let chain = Rc::clone(&self.chain);
        promise(async move {
            let text = bounded_string_arg(&text, "text", super::boundary::MAX_ARG_BYTES)?;
            let definitions = save_items(&chain, &text, None, None)?;
            let (_, answer) = chain
                .save_texts_answered(definitions, outcomes_to_js)
                .await?;
            Ok(answer)
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
        let copies = Rc::clone(&self.copies);
        promise(async move {
            let (t, n) = ids(&type_name, &name)?;
            let r = chain.load(&t, &n).await?;
            match &r.found {
                Some(f) => copies.fresh(&t, &n, f.definition()),
                None => r.healthy().map(|()| JsValue::NULL),
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
                Some(rec) => full_record_to_js(rec),
                None => r.healthy().map(|()| JsValue::NULL),
            }
        })
    }

    /// This scope's own row of (type, name), active or soft-deleted, never
    /// the global row a tenant falls back to; null when there is none.
    #[wasm_bindgen(js_name = loadOwnRecord, unchecked_return_type = "Promise<MetadataRecord | null>")]
    pub fn load_own_record(
        &self,
        #[wasm_bindgen(js_name = "type", unchecked_param_type = "string")] type_name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
    ) -> Promise {
        let chain = Rc::clone(&self.chain);
        promise(async move {
            let (t, n) = ids(&type_name, &name)?;
            match chain.database().load_own_record(&t, &n).await? {
                Some(rec) => full_record_to_js(&rec),
                None => Ok(JsValue::NULL),
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
        let copies = Rc::clone(&self.copies);
        promise(async move {
            let t = bounded_string_arg(&type_name, "type", 1024)?;
            let many = chain.load_many(&t).await?;
            many.healthy()?;
            // The result crosses as JSON text (a mebibyte at a time), but
            // all of it at once must still fit where the module's own
            // answers are built: more is QUOTA_EXCEEDED, not a host out of
            // memory.
            let len: usize = many
                .items
                .iter()
                .map(|(_, f)| f.definition().json_text().len())
                .sum();
            if len > super::alloc::headroom().saturating_sub(super::alloc::RESERVE) {
                return Err(super::alloc::exhausted("the result"));
            }
            let items = many.items.iter().map(|(n, f)| (n.as_str(), f.definition()));
            Ok(copies.fresh_many(&t, items)?.into())
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
            let t = bounded_string_arg(&type_name, "type", 1024)?;
            let many = chain.load_many(&t).await?;
            many.healthy()?;
            let out = js_sys::Array::new();
            for (name, found) in &many.items {
                let item = to_js(&serde_json::json!({ "name": name, "layer": found.layer() }))?;
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
            outcome_to_js(&chain.delete(&t, &n, o).await?.outcome)
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
            outcome_to_js(&chain.restore(&t, &n, o).await?.outcome)
        })
    }

    /// Removes (type, name)'s row for good; its history stays. Resolves to
    /// the purge's change event.
    #[wasm_bindgen(unchecked_return_type = "Promise<ChangeEvent>")]
    pub fn purge(
        &self,
        #[wasm_bindgen(js_name = "type", unchecked_param_type = "string")] type_name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
        options: Option<ChangeOptionsArg>,
    ) -> Promise {
        self.change(type_name, name, options, |chain, t, n, o| async move {
            event_to_js(&chain.purge(&t, &n, o).await?.outcome, false)
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
        self.change(type_name, name, options, move |chain, t, n, o| async move {
            let v = version_arg(&version)?;
            outcome_to_js(&chain.rollback(&t, &n, v, o).await?.outcome)
        })
    }

    /// Records matching the filters, a page at a time.
    #[wasm_bindgen(unchecked_return_type = "Promise<QueryPage>")]
    pub fn query(&self, query: Option<QueryArg>) -> Promise {
        let query = opt(query);
        let chain = Rc::clone(&self.chain);
        promise(async move {
            let q: crate::query::Query = options(&query, "query")?;
            to_js(&chain.database().query(&q).await?)
        })
    }

    /// This scope's change log: the changes after `since`, oldest first,
    /// optionally of one type or record, at most `limit`.
    #[wasm_bindgen(unchecked_return_type = "Promise<ChangeEvent[]>")]
    pub fn changes(&self, query: Option<ChangeQueryArg>) -> Promise {
        let query = opt(query);
        let chain = Rc::clone(&self.chain);
        promise(async move {
            let q: ChangeQuery = options(&query, "query")?;
            to_js(&chain.database().changes(&q).await?)
        })
    }

    /// The sequence number of this scope's last committed change.
    #[wasm_bindgen(js_name = lastSequence, unchecked_return_type = "Promise<number>")]
    pub fn last_sequence(&self) -> Promise {
        let chain = Rc::clone(&self.chain);
        promise(async move {
            Ok(JsValue::from(
                chain.database().last_sequence().await? as f64,
            ))
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
            // As saveManyJson reads them: each definition from its own text,
            // as save reads one (lone surrogates, every nesting level).
            let crossed =
                super::boundary::items_texts(&items, "items", chain.database().tenant_id())?;
            let definitions = save_items(
                &chain,
                &crossed.items,
                Some(&crossed.data),
                crossed.refused.as_ref(),
            )?;
            let (_, answer) = chain
                .save_texts_answered(definitions, outcomes_to_js)
                .await?;
            Ok(answer)
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
            let data = super::boundary::value_from_js(&data, "data")?;
            chain.register(&t, &n, data)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Calls `listener` with every committed change this service can read:
    /// its own, other services' on the same store, and other tabs' (marked
    /// `remote: true`); for a tenant, global changes too. With `{ since }`,
    /// it first replays this scope's changes after that sequence number
    /// from the change log, then follows the scope's changes in order, each
    /// once; `{ onError }` is told when that log cannot be read. Returns the
    /// function that unsubscribes (calling it again does nothing). A
    /// listener that throws does not affect the write or the other
    /// listeners.
    #[wasm_bindgen(unchecked_return_type = "() => void")]
    pub fn subscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(event: ChangeEvent) => void")] listener: JsValue,
        options: Option<SubscribeOptionsArg>,
    ) -> Result<JsValue, JsValue> {
        let listener: Function = js_result(
            listener
                .dyn_into()
                .map_err(|_| Error::validation("listener", "must be a function")),
        )?;
        let (options, on_error) = js_result(super::subscribe::on_error(opt(options)))?;
        let o: SubscribeOptions = js_result(self::options(&options, "options"))?;
        Ok(match o.since {
            None => super::subscribe::follow_feed(self.db(), listener),
            Some(since) => super::subscribe::follow_log(
                Rc::clone(&self.chain),
                Rc::clone(&self.followers),
                listener,
                on_error,
                since,
            ),
        })
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
            let items: Vec<FetchedItem> = parse_list_arg(&items, "items")?;
            outcomes_to_js(&chain.apply_fetched(&manifest, items).await?.outcome)
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
            let fetcher = Fetcher::new(&fetch)?;
            let manifest: Vec<ManifestEntry> = parse_arg(&manifest, "manifest")?;
            let result = chain
                .sync(&manifest, |wanted| async move {
                    fetcher.fetch::<_, FetchedItem>(&wanted).await
                })
                .await?;
            to_js(&result)
        })
    }

    /// Every active record this service can read, as `{ tenant_id, type,
    /// name, version, checksum }`, ordered by type and name: what a server
    /// gives its caches to replicate by.
    #[wasm_bindgen(unchecked_return_type = "Promise<MirrorEntry[]>")]
    pub fn manifest(&self, #[wasm_bindgen(js_name = "type")] type_name: Option<String>) -> Promise {
        let chain = Rc::clone(&self.chain);
        promise(async move { to_js(&chain.database().manifest(type_name.as_deref()).await?) })
    }

    /// For a cache of a server: brings the local records in line with the
    /// server's `manifest()`, asking `fetch(entries)` for the server's
    /// whole records of the missing and changed ones, and removing what the
    /// server no longer lists. Resolves to `{ fetched, removed, unchanged,
    /// changes }`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Replicated>")]
    pub fn replicate(
        &self,
        #[wasm_bindgen(unchecked_param_type = "MirrorEntry[]")] manifest: JsValue,
        #[wasm_bindgen(
            unchecked_param_type = "(entries: MirrorEntry[]) => MetadataRecord[] | Promise<MetadataRecord[]>"
        )]
        fetch: JsValue,
    ) -> Promise {
        let chain = Rc::clone(&self.chain);
        promise(async move {
            let fetcher = Fetcher::new(&fetch)?;
            let manifest: Vec<MirrorEntry> = parse_arg(&manifest, "manifest")?;
            let result = chain
                .database()
                .replicate(&manifest, |wanted| async move {
                    fetcher.fetch::<_, MetadataRecord>(&wanted).await
                })
                .await?;
            to_js(&result)
        })
    }

    /// For a cache of a server: holds the server's `records` as they are
    /// (its versions and checksums), and removes `gone` ones (`{ tenant_id,
    /// type, name }`); a record not newer than the cached one is skipped.
    /// The changes reach subscribers as remote ones, or as this service's
    /// own with `{ own: true }` (its own writes, answered by the server).
    #[wasm_bindgen(unchecked_return_type = "Promise<ChangeEvent[]>")]
    pub fn mirror(
        &self,
        #[wasm_bindgen(unchecked_param_type = "MetadataRecord[]")] records: JsValue,
        options: Option<MirrorOptionsArg>,
    ) -> Promise {
        let options = opt(options);
        let chain = Rc::clone(&self.chain);
        promise(async move {
            let records: Vec<MetadataRecord> = parse_list_arg(&records, "records")?;
            let o: MirrorOptions = self::options(&options, "options")?;
            let mut items: Vec<Mirrored> = records.into_iter().map(Mirrored::Record).collect();
            items.extend(o.gone.into_iter().map(|key| Mirrored::Gone(key.0)));
            let origin = if o.own {
                Origin::Local
            } else {
                Origin::Mirrored
            };
            to_js(&chain.database().mirror(items, origin).await?)
        })
    }

    /// Forgets cached answers: for one (type, name), or all when no type is
    /// given. For changes made outside this service that nothing announced.
    pub fn invalidate(
        &self,
        #[wasm_bindgen(js_name = "type", unchecked_optional_param_type = "string")]
        type_name: Option<JsValue>,
        #[wasm_bindgen(unchecked_optional_param_type = "string")] name: Option<JsValue>,
    ) {
        // Anything but a (type, name) within bounds forgets everything.
        let arg = |v: &Option<JsValue>, field| {
            v.as_ref()
                .and_then(|v| bounded_string_arg(v, field, 1024).ok())
        };
        match (arg(&type_name, "type"), arg(&name, "name")) {
            (Some(t), Some(n)) => self.chain.invalidate(&t, &n),
            _ => self.chain.invalidate_all(),
        }
    }
}

/// A caller's `fetch(wanted)` callback (`sync`, `replicate`), called the
/// guarded way host functions are; its answer is read as a list of `T`.
struct Fetcher(Host);

impl Fetcher {
    fn new(fetch: &JsValue) -> Result<Self> {
        if !fetch.is_function() {
            return Err(Error::validation("fetch", "must be a function"));
        }
        Ok(Fetcher(Host::of_function("fetch", fetch)?))
    }

    /// What the callback answers is the caller's data: an answer that is
    /// not a list of records (nested too deep, NaN, a function) is
    /// `VALIDATION` of `fetched`, as a record that does not match its
    /// checksum is; only a callback that throws or rejects is
    /// `HOST_CALLBACK_FAILED`.
    async fn fetch<W: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        wanted: &W,
    ) -> Result<Vec<T>> {
        let got = self.0.call("fetch", &[to_js(wanted)?], Shape::Raw).await?;
        parse_list_arg(&got, "fetched")
    }
}

/// `saveMany` items from their JSON text (`[{ type, name, data, options? }]`,
/// nothing else). Each definition is read from its own text, as `save`
/// reads one, when its write is planned; its refusal is a batch error
/// naming the item. With `data`, the definitions are not in the text
/// (each item's `data` is a placeholder) but there, each its own JS
/// string (see [`super::boundary::items_texts`]). `refused`: the first
/// item whose options the glue found to be an object JSON makes other
/// options of, refused here in its place among the items.
fn save_items(
    chain: &HybridService,
    text: &str,
    data: Option<&js_sys::Array>,
    refused: Option<&(usize, String)>,
) -> Result<Vec<SaveText>> {
    #[derive(serde::Deserialize)]
    #[serde(
        deny_unknown_fields,
        expecting = "an item { type, name, data, options? }"
    )]
    struct Item<'a> {
        #[serde(rename = "type")]
        type_name: String,
        name: String,
        #[serde(borrow)]
        data: &'a serde_json::value::RawValue,
        /// Read apart: a list must not be read as its members in order.
        #[serde(default, borrow)]
        options: Option<&'a serde_json::value::RawValue>,
    }
    let key = |type_name: &str, name: &str| {
        crate::key::RecordKey::new(chain.database().tenant_id(), type_name, name)
    };
    let refusal = |index: usize| {
        refused
            .filter(|(at, _)| *at == index)
            .map(|(_, message)| Error::validation("options", message.clone()))
    };
    // Each item an object: serde would read a list as its members in order.
    let items: Vec<crate::json::Object<Item<'_>>> = match serde_json::from_str(text) {
        Ok(items) => items,
        // An item of the wrong shape: name it, as a refused definition is.
        Err(e) => {
            let raw: Vec<&serde_json::value::RawValue> = serde_json::from_str(text)
                .map_err(|_| Error::validation("items", crate::json::error_message(&e)))?;
            for (index, item) in raw.iter().enumerate() {
                let error = match serde_json::from_str::<crate::json::Object<Item<'_>>>(item.get())
                {
                    Err(e) => {
                        // The position is in a text the caller never sees.
                        let message = e.to_string();
                        let message = message
                            .rsplit_once(" at line ")
                            .map_or(&*message, |(m, _)| m);
                        Error::validation("item", message)
                    }
                    Ok(_) => match refusal(index) {
                        Some(e) => e,
                        None => continue,
                    },
                };
                let value: serde_json::Value = serde_json::from_str(item.get()).unwrap_or_default();
                let id = |field: &str| {
                    value
                        .get(field)
                        .and_then(|v| v.as_str())
                        .unwrap_or("")
                        .to_owned()
                };
                return Err(Error::batch(index, key(&id("type"), &id("name")), error));
            }
            return Err(Error::validation("items", crate::json::error_message(&e)));
        }
    };
    // Each definition is read when its write is planned: a held write
    // reads it while IndexedDB writes what was planned before.
    items
        .into_iter()
        .enumerate()
        .map(|(index, crate::json::Object(item))| {
            if let Some(e) = refusal(index) {
                return Err(Error::batch(index, key(&item.type_name, &item.name), e));
            }
            // Apart where the glue printed it apart.
            let apart = match data {
                Some(texts) => super::boundary::js_string(&texts.get(index as u32))?,
                None => None,
            };
            let data = apart.unwrap_or_else(|| item.data.get().to_owned());
            let options = match item.options.map(|o| o.get()) {
                None => SaveOptions::default(),
                Some(text) => super::options::object_options(text, "options")
                    .map_err(|e| Error::batch(index, key(&item.type_name, &item.name), e))?,
            };
            Ok(SaveText {
                type_name: item.type_name,
                name: item.name,
                data,
                options,
            })
        })
        .collect()
}
