//! The hybrid service: the ADR's fallback chain (database, then registry,
//! then files) behind a read cache, with diagnostics that tell a failing
//! layer from a miss, and the migration modes as configuration.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::access::Action;
use crate::definition::Definition;
use crate::error::{Error, Result};
use crate::events::ChangeEvent;
use crate::files::FileSource;
use crate::record::MetadataRecord;
use crate::registry::Registry;
use crate::service::{ChangeOptions, MetadataService, SaveItem, SaveOptions, SaveOutcome};
use crate::store::SubscriptionId;
use crate::sync::{FetchedItem, ManifestEntry};
use crate::validate;

/// A layer of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// The persistent store.
    Database,
    /// Code-registered metadata.
    Registry,
    /// Metadata files.
    Filesystem,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Database => "database",
            Layer::Registry => "registry",
            Layer::Filesystem => "filesystem",
        })
    }
}

/// The ADR's migration path from files to database, as chain configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ChainMode {
    /// Phase 1: read database, registry, files; write the database only.
    #[default]
    ReadBoth,
    /// Phase 2: read as above; every write goes to the database and to the
    /// files (kept for version control).
    WriteBoth,
    /// Phase 3: the database is the source of truth: reads consult database
    /// and registry only; files are produced by export.
    DatabasePrimary,
}

/// Where an answer came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// A database record (active).
    Database(Arc<MetadataRecord>),
    /// A registered definition.
    Registry(Definition),
    /// A file's definition.
    Filesystem(Definition),
}

impl Found {
    /// The definition.
    pub fn definition(&self) -> &Definition {
        match self {
            Found::Database(r) => &r.data,
            Found::Registry(v) | Found::Filesystem(v) => v,
        }
    }

    /// The definition as a value.
    pub fn data(&self) -> &Value {
        self.definition().value()
    }

    /// The layer that answered.
    pub fn layer(&self) -> Layer {
        match self {
            Found::Database(_) => Layer::Database,
            Found::Registry(_) => Layer::Registry,
            Found::Filesystem(_) => Layer::Filesystem,
        }
    }

    /// The database record, when the database answered.
    pub fn record(&self) -> Option<&MetadataRecord> {
        match self {
            Found::Database(r) => Some(r),
            _ => None,
        }
    }
}

/// A layer that failed while answering (as opposed to not having the item).
#[derive(Debug, Clone, PartialEq)]
pub struct LayerFailure {
    /// The failing layer.
    pub layer: Layer,
    /// Its error.
    pub error: Error,
}

/// The answer to [`HybridService::load`].
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    /// The definition and where it came from; `None` when no layer has it.
    pub found: Option<Found>,
    /// Layers that failed on the way (the answer may come from a lower
    /// layer than it would have). Empty for a healthy answer.
    pub degraded: Vec<LayerFailure>,
    /// True when the answer came from the read cache.
    pub from_cache: bool,
}

impl Resolution {
    /// True when a layer failed while answering.
    pub fn is_degraded(&self) -> bool {
        !self.degraded.is_empty()
    }

    /// The definition, if found.
    pub fn data(&self) -> Option<&Value> {
        self.found.as_ref().map(Found::data)
    }

    /// The answering layer, if found.
    pub fn layer(&self) -> Option<Layer> {
        self.found.as_ref().map(Found::layer)
    }

    /// `Ok` for a healthy answer; for a degraded one, the first failure as
    /// `LayerFailed`. What plain reads use: they never present "not found"
    /// when a layer failed.
    pub fn healthy(&self) -> Result<()> {
        first_failure(&self.degraded)
    }
}

fn first_failure(failures: &[LayerFailure]) -> Result<()> {
    match failures.first() {
        Some(f) => Err(Error::LayerFailed {
            layer: f.layer.to_string(),
            source: Box::new(f.error.clone()),
        }),
        None => Ok(()),
    }
}

/// The answer to [`HybridService::load_many`].
#[derive(Debug, Clone, PartialEq)]
pub struct ManyResolution {
    /// (name, found), ordered by name, each from the highest layer that has it.
    pub items: Vec<(String, Found)>,
    /// Layers that failed on the way.
    pub degraded: Vec<LayerFailure>,
}

impl ManyResolution {
    /// `Ok` for a complete list; for a degraded one, the first failure as
    /// `LayerFailed` (a plain list never presents a partial answer).
    pub fn healthy(&self) -> Result<()> {
        first_failure(&self.degraded)
    }
}

/// The answer to a write through [`HybridService`].
#[derive(Debug, Clone, PartialEq)]
pub struct HybridWrite<T> {
    /// What the database did.
    pub outcome: T,
    /// Mirror writes (files, in write-both mode) that failed after the
    /// database committed.
    pub degraded: Vec<LayerFailure>,
}

/// Options of the hybrid service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HybridConfig {
    /// Migration phase.
    pub mode: ChainMode,
    /// Turn a failing layer into an error (`LayerFailed`) instead of a
    /// degraded answer.
    pub strict: bool,
    /// Keep a read cache in front of the chain.
    pub cache: bool,
}

impl Default for HybridConfig {
    fn default() -> Self {
        HybridConfig {
            mode: ChainMode::ReadBoth,
            strict: false,
            cache: true,
        }
    }
}

/// Cached answers by (type, name), and a count of invalidations: a read
/// fills the cache only if no change was announced while it was in flight,
/// so an answer read before a commit never outlives it.
#[derive(Default)]
struct Cache {
    answers: RefCell<HashMap<(String, String), Option<Found>>>,
    generation: Cell<u64>,
    /// The store's [`Store::epoch`](crate::store::Store::epoch) the
    /// answers were read under.
    epoch: Cell<u64>,
}

impl Cache {
    fn forget(&self, type_name: &str, name: &str) {
        self.generation.set(self.generation.get() + 1);
        self.answers
            .borrow_mut()
            .remove(&(type_name.to_owned(), name.to_owned()));
    }

    fn forget_all(&self) {
        self.generation.set(self.generation.get() + 1);
        self.answers.borrow_mut().clear();
    }

    /// Forgets every answer if the store's epoch moved on since they were
    /// read (its database deleted or replaced elsewhere, unannounced).
    fn follow_epoch(&self, epoch: u64) {
        if self.epoch.get() != epoch {
            self.epoch.set(epoch);
            self.forget_all();
        }
    }
}

/// The fallback chain over a database service, a registry and files.
///
/// ```
/// # pollster::block_on(async {
/// use objectstack_metadata::*;
/// use serde_json::json;
/// let db = MetadataService::builder(MemoryStore::new()).build().unwrap();
/// let chain = HybridService::new(db, None, HybridConfig::default());
/// chain.register("view", "home", json!({"label": "Home (code)"})).unwrap();
/// assert_eq!(chain.load("view", "home").await.unwrap().layer(), Some(Layer::Registry));
/// chain.save("view", "home", json!({"label": "Home (db)"}), SaveOptions::default()).await.unwrap();
/// let r = chain.load("view", "home").await.unwrap();
/// assert_eq!((r.layer(), r.data().cloned()), (Some(Layer::Database), Some(json!({"label": "Home (db)"}))));
/// # });
/// ```
pub struct HybridService {
    db: MetadataService,
    registry: Rc<Registry>,
    files: Option<Rc<dyn FileSource>>,
    config: HybridConfig,
    cache: Rc<Cache>,
    subscription: SubscriptionId,
    /// Forgets registry changes in the cache (held here, watched weakly).
    _registry_watch: Rc<crate::registry::Watcher>,
}

impl fmt::Debug for HybridService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HybridService")
            .field("db", &self.db)
            .field("registry", &self.registry.len())
            .field("files", &self.files.as_ref().map(|f| f.kind().to_owned()))
            .field("config", &self.config)
            .finish()
    }
}

impl Drop for HybridService {
    fn drop(&mut self) {
        self.db.feed().unsubscribe(self.subscription);
    }
}

/// Errors that are the caller's fault, not a layer's: they end the read.
fn is_caller_error(e: &Error) -> bool {
    matches!(e, Error::Validation { .. } | Error::Forbidden { .. })
}

/// What a mirror write in write-both mode does to a file.
enum Mirror<'a> {
    Write(&'a Value),
    Remove,
    /// The file cannot be written (why).
    Fail(Error),
}

impl HybridService {
    /// A chain over `db`, an empty registry and optional `files`.
    ///
    /// The read cache listens to the store's feed, so every change
    /// committed to the store (through this chain, through another service
    /// on the same store, or announced from elsewhere) that can change what
    /// this service reads invalidates it.
    pub fn new(
        db: MetadataService,
        files: Option<Rc<dyn FileSource>>,
        config: HybridConfig,
    ) -> Self {
        Self::with_registry(db, Rc::new(Registry::new()), files, config)
    }

    /// Another chain over the same store, registry, files and configuration
    /// for `db` (another tenant or actor on the same store): what a server
    /// builds per caller. Its read cache is its own.
    pub fn derive(&self, db: MetadataService) -> Result<Self> {
        if !Rc::ptr_eq(db.store(), self.db.store()) {
            return Err(Error::validation(
                "service",
                "a derived chain works on the same store",
            ));
        }
        Ok(Self::with_registry(
            db,
            Rc::clone(&self.registry),
            self.files.clone(),
            self.config,
        ))
    }

    fn with_registry(
        db: MetadataService,
        registry: Rc<Registry>,
        files: Option<Rc<dyn FileSource>>,
        config: HybridConfig,
    ) -> Self {
        let cache: Rc<Cache> = Rc::default();
        let forget = Rc::clone(&cache);
        let registry_watch: Rc<crate::registry::Watcher> =
            Rc::new(move |t: &str, n: &str| forget.forget(t, n));
        registry.watch(&registry_watch);
        let listener = Rc::clone(&cache);
        let own_tenant = db.tenant_id().map(str::to_owned);
        let subscription = db.feed().subscribe(move |event: &ChangeEvent, _| {
            if crate::service::scope_seen(own_tenant.as_deref(), event.tenant_id.as_deref()) {
                listener.forget(&event.type_name, &event.name);
            }
        });
        HybridService {
            db,
            registry,
            files,
            config,
            cache,
            subscription,
            _registry_watch: registry_watch,
        }
    }

    /// The database service.
    pub fn database(&self) -> &MetadataService {
        &self.db
    }

    /// The registry layer.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The configuration in force.
    pub fn config(&self) -> HybridConfig {
        self.config
    }

    /// Number of cached answers.
    pub fn cached_len(&self) -> usize {
        self.cache.answers.borrow().len()
    }

    /// Forgets the cached answer for (type, name): for changes made
    /// elsewhere that nothing announced.
    pub fn invalidate(&self, type_name: &str, name: &str) {
        self.cache.forget(type_name, name);
    }

    /// Forgets every cached answer.
    pub fn invalidate_all(&self) {
        self.cache.forget_all();
    }

    /// Forgets the cached answer for the record a refused write's conflict
    /// names: the store holds a version this cache has not heard of (made
    /// through another service on the same store, its announcement not
    /// yet here), and the caller's next read, before a retry, must see it.
    fn note_conflict(&self, e: &Error) {
        let conflict = match e {
            Error::Batch { source, .. } => source.as_ref(),
            e => e,
        };
        if let Error::Conflict { key, .. } = conflict {
            self.cache.forget(&key.type_name, &key.name);
        }
    }

    /// Registers a definition in the registry layer (needs the write
    /// permission on its type).
    pub fn register(&self, type_name: &str, name: &str, data: Value) -> Result<()> {
        validate::type_name(type_name)?;
        validate::name(name)?;
        self.db.check(Action::Register, type_name)?;
        // The registry tells every chain on it, this one included.
        self.registry.register(type_name, name, data)
    }

    /// Removes a definition from the registry layer (needs the write
    /// permission on its type).
    pub fn unregister(&self, type_name: &str, name: &str) -> Result<bool> {
        self.db.check(Action::Register, type_name)?;
        Ok(self.registry.unregister(type_name, name))
    }

    fn reads_files(&self) -> bool {
        self.config.mode != ChainMode::DatabasePrimary
    }

    fn failed(&self, layer: Layer, error: Error, degraded: &mut Vec<LayerFailure>) -> Result<()> {
        if self.config.strict {
            return Err(Error::LayerFailed {
                layer: layer.to_string(),
                source: Box::new(error),
            });
        }
        degraded.push(LayerFailure { layer, error });
        Ok(())
    }

    /// Resolves (type, name) through the chain: the first layer that has it
    /// answers. A layer that fails is skipped and reported in `degraded`
    /// (or, in strict mode, ends the read with `LayerFailed`). Healthy
    /// answers, found or not, are cached until a change invalidates them.
    pub async fn load(&self, type_name: &str, name: &str) -> Result<Resolution> {
        validate::type_name(type_name)?;
        validate::name(name)?;
        self.db.check(Action::Load, type_name)?;
        let cache_key = (type_name.to_owned(), name.to_owned());
        if self.config.cache {
            self.cache.follow_epoch(self.db.store().epoch());
            if let Some(found) = self.cache.answers.borrow().get(&cache_key) {
                return Ok(Resolution {
                    found: found.clone(),
                    degraded: Vec::new(),
                    from_cache: true,
                });
            }
        }
        let generation = self.cache.generation.get();
        let mut degraded = Vec::new();
        let found = self.resolve(type_name, name, &mut degraded).await?;
        if self.config.cache && degraded.is_empty() && self.cache.generation.get() == generation {
            self.cache
                .answers
                .borrow_mut()
                .insert(cache_key, found.clone());
        }
        Ok(Resolution {
            found,
            degraded,
            from_cache: false,
        })
    }

    async fn resolve(
        &self,
        type_name: &str,
        name: &str,
        degraded: &mut Vec<LayerFailure>,
    ) -> Result<Option<Found>> {
        match self.db.load_record(type_name, name).await {
            Ok(Some(record)) => return Ok(Some(Found::Database(Arc::new(record)))),
            Ok(None) => {}
            Err(e) if is_caller_error(&e) => return Err(e),
            Err(e) => self.failed(Layer::Database, e, degraded)?,
        }
        if let Some(v) = self.registry.get(type_name, name) {
            return Ok(Some(Found::Registry(v)));
        }
        if let (true, Some(files)) = (self.reads_files(), &self.files) {
            match files.load(type_name, name) {
                Ok(Some(v)) => return Ok(Some(Found::Filesystem(v))),
                Ok(None) => {}
                Err(e) => self.failed(Layer::Filesystem, e, degraded)?,
            }
        }
        Ok(None)
    }

    /// Every definition of a type across the layers, each from the highest
    /// layer that has it, ordered by name. Healthy answers warm the cache.
    pub async fn load_many(&self, type_name: &str) -> Result<ManyResolution> {
        validate::type_name(type_name)?;
        self.cache.follow_epoch(self.db.store().epoch());
        let generation = self.cache.generation.get();
        let mut degraded = Vec::new();
        let mut merged: BTreeMap<String, Found> = BTreeMap::new();
        if let (true, Some(files)) = (self.reads_files(), &self.files) {
            match files.list(type_name) {
                Ok(items) => {
                    for (n, v) in items {
                        merged.insert(n, Found::Filesystem(v));
                    }
                }
                Err(e) => self.failed(Layer::Filesystem, e, &mut degraded)?,
            }
        }
        for (n, v) in self.registry.list(type_name) {
            merged.insert(n, Found::Registry(v));
        }
        match self.db.load_many(type_name).await {
            Ok(records) => {
                for r in records {
                    merged.insert(r.name.clone(), Found::Database(Arc::new(r)));
                }
            }
            Err(e) if is_caller_error(&e) => return Err(e),
            Err(e) => self.failed(Layer::Database, e, &mut degraded)?,
        }
        if self.config.cache && degraded.is_empty() && self.cache.generation.get() == generation {
            let mut cache = self.cache.answers.borrow_mut();
            for (n, f) in &merged {
                cache.insert((type_name.to_owned(), n.clone()), Some(f.clone()));
            }
        }
        Ok(ManyResolution {
            items: merged.into_iter().collect(),
            degraded,
        })
    }

    /// Mirrors a committed write to the files in write-both mode; a failed
    /// mirror is reported (or, strict, an error) without undoing the commit.
    fn mirror(&self, type_name: &str, name: &str, what: Mirror<'_>) -> Result<Vec<LayerFailure>> {
        let result = match (self.config.mode, &self.files) {
            (ChainMode::WriteBoth, Some(files)) => match what {
                Mirror::Write(data) => files.write(type_name, name, data),
                Mirror::Remove => files.remove(type_name, name),
                Mirror::Fail(e) => Err(e),
            },
            (ChainMode::WriteBoth, None) => Err(Error::Unsupported {
                message: "write-both mode needs a file source".into(),
            }),
            _ => return Ok(Vec::new()),
        };
        let mut degraded = Vec::new();
        if let Err(e) = result {
            self.failed(Layer::Filesystem, e, &mut degraded)?;
        }
        Ok(degraded)
    }

    /// The mirror of a write that leaves a head: the file follows the head
    /// (written while it is active, removed once it is deleted).
    fn after(&self, outcome: SaveOutcome) -> Result<HybridWrite<SaveOutcome>> {
        let degraded = self.mirror_outcome(&outcome)?;
        Ok(HybridWrite { outcome, degraded })
    }

    fn mirror_outcome(&self, outcome: &SaveOutcome) -> Result<Vec<LayerFailure>> {
        // Only write-both mode mirrors: no other mode parses the definition
        // into a value (which the definition would then keep, doubling the
        // memory each saved definition holds).
        if !outcome.changed || self.config.mode != ChainMode::WriteBoth {
            return Ok(Vec::new());
        }
        let r = &outcome.record;
        let what = if r.is_active {
            match r.data.try_value() {
                Ok(value) => Mirror::Write(value),
                // Text a file cannot carry (a lone surrogate): the mirror
                // fails, the commit stands.
                Err(e) => Mirror::Fail(e),
            }
        } else {
            Mirror::Remove
        };
        self.mirror(&r.type_name, &r.name, what)
    }

    /// Saves to the database (and, in write-both mode, to the files).
    pub async fn save(
        &self,
        type_name: &str,
        name: &str,
        data: Value,
        options: SaveOptions,
    ) -> Result<HybridWrite<SaveOutcome>> {
        let outcome = self
            .db
            .save(type_name, name, data, options)
            .await
            .inspect_err(|e| self.note_conflict(e))?;
        self.after(outcome)
    }

    /// [`HybridService::save`] of a definition already validated.
    pub async fn save_definition(
        &self,
        type_name: &str,
        name: &str,
        data: Definition,
        options: SaveOptions,
    ) -> Result<HybridWrite<SaveOutcome>> {
        let outcome = self
            .db
            .save_definition(type_name, name, data, options)
            .await
            .inspect_err(|e| self.note_conflict(e))?;
        self.after(outcome)
    }

    /// Saves several records all-or-nothing (see
    /// [`MetadataService::save_many`]), mirroring each change.
    pub async fn save_many(&self, items: Vec<SaveItem>) -> Result<HybridWrite<Vec<SaveOutcome>>> {
        let outcome = self
            .db
            .save_many(items)
            .await
            .inspect_err(|e| self.note_conflict(e))?;
        self.after_many(outcome)
    }

    /// [`HybridService::save_many`] of definitions already validated.
    pub async fn save_many_definitions(
        &self,
        items: Vec<crate::service::SaveDefinition>,
    ) -> Result<HybridWrite<Vec<SaveOutcome>>> {
        let outcome = self
            .db
            .save_many_definitions(items)
            .await
            .inspect_err(|e| self.note_conflict(e))?;
        self.after_many(outcome)
    }

    /// [`MetadataService::save_texts_answered`]: a batch whose
    /// definitions are still JSON text, answering also what `answer`
    /// makes of the outcomes (files mirrored after, as for any batch).
    pub async fn save_texts_answered<T>(
        &self,
        items: Vec<crate::service::SaveText>,
        answer: impl FnOnce(&[SaveOutcome]) -> Result<T>,
    ) -> Result<(HybridWrite<Vec<SaveOutcome>>, T)> {
        let (outcome, answered) = self
            .db
            .save_texts_answered(items, answer)
            .await
            .inspect_err(|e| self.note_conflict(e))?;
        Ok((self.after_many(outcome)?, answered))
    }

    fn after_many(&self, outcome: Vec<SaveOutcome>) -> Result<HybridWrite<Vec<SaveOutcome>>> {
        let mut degraded = Vec::new();
        for o in &outcome {
            degraded.extend(self.mirror_outcome(o)?);
        }
        Ok(HybridWrite { outcome, degraded })
    }

    /// Soft-deletes in the database (and removes the file in write-both mode).
    pub async fn delete(
        &self,
        type_name: &str,
        name: &str,
        options: ChangeOptions,
    ) -> Result<HybridWrite<SaveOutcome>> {
        let outcome = self
            .db
            .delete(type_name, name, options)
            .await
            .inspect_err(|e| self.note_conflict(e))?;
        self.after(outcome)
    }

    /// Undoes a soft delete (and writes the file back in write-both mode).
    pub async fn restore(
        &self,
        type_name: &str,
        name: &str,
        options: ChangeOptions,
    ) -> Result<HybridWrite<SaveOutcome>> {
        let outcome = self
            .db
            .restore(type_name, name, options)
            .await
            .inspect_err(|e| self.note_conflict(e))?;
        self.after(outcome)
    }

    /// Writes an earlier version back (and to the file in write-both mode).
    pub async fn rollback(
        &self,
        type_name: &str,
        name: &str,
        version: u64,
        options: ChangeOptions,
    ) -> Result<HybridWrite<SaveOutcome>> {
        let outcome = self
            .db
            .rollback(type_name, name, version, options)
            .await
            .inspect_err(|e| self.note_conflict(e))?;
        self.after(outcome)
    }

    /// Removes the row for good (and the file in write-both mode).
    pub async fn purge(
        &self,
        type_name: &str,
        name: &str,
        options: ChangeOptions,
    ) -> Result<HybridWrite<ChangeEvent>> {
        let outcome = self
            .db
            .purge(type_name, name, options)
            .await
            .inspect_err(|e| self.note_conflict(e))?;
        let degraded = self.mirror(type_name, name, Mirror::Remove)?;
        Ok(HybridWrite { outcome, degraded })
    }

    /// Applies fetched definitions in one verified batch (see
    /// [`MetadataService::apply_fetched`]), mirroring each change.
    pub async fn apply_fetched(
        &self,
        manifest: &[ManifestEntry],
        items: Vec<FetchedItem>,
    ) -> Result<HybridWrite<Vec<SaveOutcome>>> {
        let outcome = self.db.apply_fetched(manifest, items).await?;
        self.after_many(outcome)
    }
}
