//! The metadata service: versioned, tenant-scoped, access-checked CRUD over
//! any [`Store`], with history, rollback, queries and change events.

use std::collections::{BTreeMap, HashSet};
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::access::{AccessPolicy, Actor, Permission};
use crate::clock::{self, Clock};
use crate::definition::Definition;
use crate::error::{Error, Result};
use crate::events::{ChangeEvent, EventBus};
use crate::key::RecordKey;
use crate::query::{Query, QueryPage};
use crate::record::{HistoryEntry, MetadataRecord, Operation, Source};
use crate::store::{Store, Write, WriteBatch};
use crate::validate;

/// Options of [`MetadataService::save`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SaveOptions {
    /// Fail with `CONFLICT` unless the stored version is this one (0: the
    /// record must not exist yet).
    pub expected_version: Option<u64>,
    /// Fail with `CONFLICT` unless the stored checksum is this one.
    pub expected_checksum: Option<String>,
    /// Replace the record's tags (kept as they are when absent).
    pub tags: Option<Vec<String>>,
    /// Where this version comes from (default `database`).
    pub source: Option<Source>,
    /// Owner of a new record (default: the acting user); on an existing
    /// record, a different owner is a change of ownership.
    pub owner: Option<String>,
}

/// Concurrency guard of delete, restore, purge and rollback.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeOptions {
    /// Fail with `CONFLICT` unless the stored version is this one.
    pub expected_version: Option<u64>,
    /// Fail with `CONFLICT` unless the stored checksum is this one.
    pub expected_checksum: Option<String>,
}

impl From<&ChangeOptions> for SaveOptions {
    fn from(c: &ChangeOptions) -> Self {
        SaveOptions {
            expected_version: c.expected_version,
            expected_checksum: c.expected_checksum.clone(),
            ..SaveOptions::default()
        }
    }
}

/// One item of [`MetadataService::save_many`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaveItem {
    /// Metadata type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Record name.
    pub name: String,
    /// The definition.
    pub data: Value,
    /// Per-item options.
    #[serde(default)]
    pub options: SaveOptions,
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaveOutcome {
    /// The record as stored after the call.
    pub record: MetadataRecord,
    /// False when the call was a no-op (nothing written, no event).
    pub changed: bool,
    /// The operation recorded in history, when something changed.
    pub operation: Option<Operation>,
}

/// Builds a [`MetadataService`].
pub struct ServiceBuilder {
    store: Rc<dyn Store>,
    tenant_id: Option<String>,
    actor: Actor,
    policy: AccessPolicy,
    clock: Option<Rc<dyn Clock>>,
    default_source: Source,
    verify_reads: bool,
}

impl ServiceBuilder {
    /// Scope the service to a tenant (default: global).
    pub fn tenant(mut self, tenant_id: Option<&str>) -> Self {
        self.tenant_id = tenant_id.map(str::to_owned);
        self
    }

    /// The acting user and roles (default: `system`, no roles).
    pub fn actor(mut self, actor: Actor) -> Self {
        self.actor = actor;
        self
    }

    /// The access policy (default: allow all).
    pub fn policy(mut self, policy: AccessPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The clock for timestamps (default: the system clock; required on
    /// `wasm32`, where the bindings pass one over `Date.now()`).
    pub fn clock(mut self, clock: Rc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The source recorded when a save gives none (default `database`).
    pub fn default_source(mut self, source: Source) -> Self {
        self.default_source = source;
        self
    }

    /// Whether every record read from the store is checked against its
    /// checksum (default true; a mismatch is `CORRUPTED`). Stores that hold
    /// only this process's own writes (the memory store) are not checked.
    pub fn verify_reads(mut self, verify: bool) -> Self {
        self.verify_reads = verify;
        self
    }

    /// Validates the configuration and builds the service.
    pub fn build(self) -> Result<MetadataService> {
        if let Some(t) = &self.tenant_id {
            validate::label("tenant", t)?;
        }
        validate::label("actor", &self.actor.id)?;
        for role in &self.actor.roles {
            validate::label("role", role)?;
        }
        let clock = match self.clock {
            Some(c) => c,
            None => default_clock()?,
        };
        Ok(MetadataService {
            store: self.store,
            tenant_id: self.tenant_id,
            actor: self.actor,
            policy: self.policy,
            clock,
            default_source: self.default_source,
            verify_reads: self.verify_reads,
            events: Rc::new(EventBus::new()),
        })
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn default_clock() -> Result<Rc<dyn Clock>> {
    Ok(Rc::new(clock::SystemClock))
}

#[cfg(target_arch = "wasm32")]
fn default_clock() -> Result<Rc<dyn Clock>> {
    Err(Error::Unsupported {
        message: "no system clock on wasm32: pass one with ServiceBuilder::clock".into(),
    })
}

/// Versioned metadata storage for one tenant (or the global scope) and one
/// acting user.
///
/// ```
/// # pollster::block_on(async {
/// use objectstack_metadata::{MemoryStore, MetadataService, SaveOptions};
/// use serde_json::json;
/// let svc = MetadataService::builder(MemoryStore::new()).build().unwrap();
/// let out = svc.save("view", "all_accounts", json!({"label": "All"}), SaveOptions::default()).await.unwrap();
/// assert_eq!(out.record.version, 1);
/// assert_eq!(svc.load("view", "all_accounts").await.unwrap().as_deref(), Some(&json!({"label": "All"})));
/// # });
/// ```
pub struct MetadataService {
    store: Rc<dyn Store>,
    tenant_id: Option<String>,
    actor: Actor,
    policy: AccessPolicy,
    clock: Rc<dyn Clock>,
    default_source: Source,
    verify_reads: bool,
    events: Rc<EventBus>,
}

impl std::fmt::Debug for MetadataService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataService")
            .field("store", &self.store.kind())
            .field("tenant_id", &self.tenant_id)
            .field("actor", &self.actor)
            .finish()
    }
}

/// A planned write of one record: its new row and history entry.
struct Planned {
    record: MetadataRecord,
    entry: HistoryEntry,
}

impl MetadataService {
    /// Starts building a service over `store`.
    pub fn builder(store: impl Store + 'static) -> ServiceBuilder {
        Self::builder_shared(Rc::new(store))
    }

    /// Starts building a service over a store shared with other services
    /// (for instance one per tenant over the same database).
    pub fn builder_shared(store: Rc<dyn Store>) -> ServiceBuilder {
        ServiceBuilder {
            store,
            tenant_id: None,
            actor: Actor::system(),
            policy: AccessPolicy::allow_all(),
            clock: None,
            default_source: Source::Database,
            verify_reads: true,
        }
    }

    /// The tenant this service works for (`None`: global).
    pub fn tenant_id(&self) -> Option<&str> {
        self.tenant_id.as_deref()
    }

    /// The acting user.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The store behind the service.
    pub fn store(&self) -> &Rc<dyn Store> {
        &self.store
    }

    /// The change events of this service.
    pub fn events(&self) -> &Rc<EventBus> {
        &self.events
    }

    /// The access policy in force.
    pub fn policy(&self) -> &AccessPolicy {
        &self.policy
    }

    fn check(&self, operation: &str, permission: Permission, type_name: &str) -> Result<()> {
        self.policy
            .check(&self.actor, operation, permission, type_name)
    }

    fn own_key(&self, type_name: &str, name: &str) -> Result<RecordKey> {
        validate::type_name(type_name)?;
        validate::name(name)?;
        Ok(RecordKey::new(self.tenant_id.as_deref(), type_name, name))
    }

    fn now(&self) -> String {
        clock::format_rfc3339(self.clock.now_ms())
    }

    fn verify(&self, record: MetadataRecord) -> Result<MetadataRecord> {
        if !self.verify_reads || self.store.holds_only_own_writes() {
            return Ok(record);
        }
        let sum = record.data.checksum();
        if sum == record.checksum {
            Ok(record)
        } else {
            Err(Error::Corrupted {
                key: Box::new(record.key()),
                message: format!(
                    "stored checksum {} does not match its data (checksum {sum})",
                    record.checksum
                ),
            })
        }
    }

    /// The record a read of (type, name) resolves to in this scope: the
    /// tenant's own row when it has one (active or not), else the global row.
    async fn resolve(&self, type_name: &str, name: &str) -> Result<Option<MetadataRecord>> {
        let key = self.own_key(type_name, name)?;
        if let Some(own) = self.store.get(&key).await? {
            return self.verify(own).map(Some);
        }
        if self.tenant_id.is_some() {
            if let Some(global) = self.store.get(&key.with_tenant(None)).await? {
                return self.verify(global).map(Some);
            }
        }
        Ok(None)
    }

    /// The active definition of (type, name), or `None`.
    pub async fn load(&self, type_name: &str, name: &str) -> Result<Option<Definition>> {
        Ok(self.load_record(type_name, name).await?.map(|r| r.data))
    }

    /// The whole active record of (type, name), or `None`.
    ///
    /// A tenant's own row masks the global one, also when it is soft-deleted:
    /// that is how a tenant hides a global definition.
    pub async fn load_record(&self, type_name: &str, name: &str) -> Result<Option<MetadataRecord>> {
        self.check("load", Permission::Read, type_name)?;
        Ok(self.resolve(type_name, name).await?.filter(|r| r.is_active))
    }

    /// The tenant's own row (active or not), without falling back to global.
    pub async fn load_own_record(
        &self,
        type_name: &str,
        name: &str,
    ) -> Result<Option<MetadataRecord>> {
        self.check("load", Permission::Read, type_name)?;
        let key = self.own_key(type_name, name)?;
        match self.store.get(&key).await? {
            Some(r) => self.verify(r).map(Some),
            None => Ok(None),
        }
    }

    /// Every row visible in this scope, optionally of one type: the tenant's
    /// rows, plus global rows the tenant has no row for; sorted by type, name.
    async fn visible(&self, type_name: Option<&str>) -> Result<Vec<MetadataRecord>> {
        let own = self
            .store
            .list(self.tenant_id.as_deref(), type_name)
            .await?;
        if self.tenant_id.is_none() {
            return own.into_iter().map(|r| self.verify(r)).collect();
        }
        let global = self.store.list(None, type_name).await?;
        let mut merged: BTreeMap<(String, String), MetadataRecord> = BTreeMap::new();
        for r in global.into_iter().chain(own) {
            // Own rows come second and replace global ones.
            merged.insert((r.type_name.clone(), r.name.clone()), r);
        }
        merged.into_values().map(|r| self.verify(r)).collect()
    }

    /// All active definitions of a type, as (name, record), ordered by name.
    pub async fn load_many(&self, type_name: &str) -> Result<Vec<MetadataRecord>> {
        validate::type_name(type_name)?;
        self.check("loadMany", Permission::Read, type_name)?;
        let mut rows = self.visible(Some(type_name)).await?;
        rows.retain(|r| r.is_active);
        Ok(rows)
    }

    /// Records matching `query` in this scope, a page at a time. Without a
    /// type filter, types the actor may not read are left out.
    pub async fn query(&self, query: &Query) -> Result<QueryPage> {
        if let Some(t) = &query.type_name {
            validate::type_name(t)?;
            self.check("query", Permission::Read, t)?;
        }
        let since = match &query.updated_since {
            Some(s) => Some(clock::parse_rfc3339(s)?),
            None => None,
        };
        let rows = self.visible(query.type_name.as_deref()).await?;
        let mut matched = Vec::new();
        for r in rows {
            if !self
                .policy
                .allows(&self.actor, Permission::Read, &r.type_name)
            {
                continue;
            }
            if let Some(ms) = since {
                // Stored timestamps are the service's own format; an
                // unreadable one is corruption, not a non-match.
                let updated =
                    clock::parse_rfc3339(&r.updated_at).map_err(|e| Error::Corrupted {
                        key: Box::new(r.key()),
                        message: e.to_string(),
                    })?;
                if updated < ms {
                    continue;
                }
            }
            if query.matches(&r) {
                matched.push(r);
            }
        }
        Ok(QueryPage::paginate(matched, query.offset, query.limit))
    }

    /// Every version of (type, name), oldest first: the tenant's own history,
    /// or the global record's when the tenant has none.
    pub async fn history(&self, type_name: &str, name: &str) -> Result<Vec<HistoryEntry>> {
        self.check("history", Permission::Read, type_name)?;
        let key = self.own_key(type_name, name)?;
        let own = self.store.history(&key).await?;
        if own.is_empty() && self.tenant_id.is_some() {
            return self.store.history(&key.with_tenant(None)).await;
        }
        Ok(own)
    }

    fn check_expected(
        key: &RecordKey,
        current: Option<&MetadataRecord>,
        expected_version: Option<u64>,
        expected_checksum: Option<&str>,
    ) -> Result<()> {
        let actual_version = current.map_or(0, |r| r.version);
        if let Some(v) = expected_version {
            if v != actual_version {
                return Err(Error::Conflict {
                    key: Box::new(key.clone()),
                    expected: format!("version {v}"),
                    actual: match current {
                        Some(_) => format!("version {actual_version}"),
                        None => "no record".into(),
                    },
                    actual_version,
                });
            }
        }
        if let Some(c) = expected_checksum {
            let actual = current.map(|r| r.checksum.as_str());
            if actual != Some(c) {
                return Err(Error::Conflict {
                    key: Box::new(key.clone()),
                    expected: format!("checksum {c}"),
                    actual: match actual {
                        Some(a) => format!("checksum {a}"),
                        None => "no record".into(),
                    },
                    actual_version,
                });
            }
        }
        Ok(())
    }

    /// Plans a save of validated input; `None` when it is a no-op.
    #[allow(clippy::too_many_arguments)]
    fn plan_save(
        &self,
        key: &RecordKey,
        current: Option<&MetadataRecord>,
        fresh_version: u64,
        data: Definition,
        tags: Option<Vec<String>>,
        options: &SaveOptions,
        now: &str,
        rollback: bool,
    ) -> Option<Planned> {
        let checksum = data.checksum().to_owned();
        let source = options.source.unwrap_or(self.default_source);
        let (record, op) = match current {
            Some(cur) => {
                let tags_same = tags.as_ref().is_none_or(|t| *t == cur.tags);
                let owner_same = options.owner.as_ref().is_none_or(|o| *o == cur.owner);
                let source_same = options.source.is_none_or(|s| s == cur.source);
                if cur.is_active
                    && cur.checksum == checksum
                    && tags_same
                    && owner_same
                    && source_same
                {
                    return None;
                }
                let op = if rollback {
                    Operation::Rollback
                } else if source == Source::Migration {
                    Operation::Import
                } else if cur.is_active {
                    Operation::Update
                } else {
                    // Saving over a soft-deleted record revives it.
                    Operation::Restore
                };
                let record = MetadataRecord {
                    type_name: key.type_name.clone(),
                    name: key.name.clone(),
                    data,
                    version: cur.version + 1,
                    checksum,
                    source,
                    is_active: true,
                    owner: options.owner.clone().unwrap_or_else(|| cur.owner.clone()),
                    tenant_id: key.tenant_id.clone(),
                    tags: tags.unwrap_or_else(|| cur.tags.clone()),
                    created_at: cur.created_at.clone(),
                    updated_at: now.to_owned(),
                    updated_by: Some(self.actor.id.clone()),
                };
                (record, op)
            }
            None => {
                let op = if rollback {
                    Operation::Rollback
                } else if source == Source::Migration {
                    Operation::Import
                } else {
                    Operation::Create
                };
                let record = MetadataRecord {
                    type_name: key.type_name.clone(),
                    name: key.name.clone(),
                    data,
                    version: fresh_version,
                    checksum,
                    source,
                    is_active: true,
                    owner: options
                        .owner
                        .clone()
                        .unwrap_or_else(|| self.actor.id.clone()),
                    tenant_id: key.tenant_id.clone(),
                    tags: tags.unwrap_or_default(),
                    created_at: now.to_owned(),
                    updated_at: now.to_owned(),
                    updated_by: Some(self.actor.id.clone()),
                };
                (record, op)
            }
        };
        let entry = self.entry_for(&record, op, now);
        Some(Planned { record, entry })
    }

    fn entry_for(&self, record: &MetadataRecord, operation: Operation, now: &str) -> HistoryEntry {
        HistoryEntry {
            tenant_id: record.tenant_id.clone(),
            type_name: record.type_name.clone(),
            name: record.name.clone(),
            version: record.version,
            operation,
            checksum: record.checksum.clone(),
            actor: self.actor.id.clone(),
            timestamp: now.to_owned(),
            is_active: record.is_active,
            data: record.data.clone(),
        }
    }

    fn event_for(&self, entry: &HistoryEntry) -> ChangeEvent {
        ChangeEvent {
            sequence: 0,
            operation: entry.operation,
            tenant_id: entry.tenant_id.clone(),
            type_name: entry.type_name.clone(),
            name: entry.name.clone(),
            version: entry.version,
            checksum: entry.checksum.clone(),
            actor: entry.actor.clone(),
            timestamp: entry.timestamp.clone(),
        }
    }

    fn validate_options(options: &SaveOptions) -> Result<Option<Vec<String>>> {
        if let Some(owner) = &options.owner {
            validate::label("owner", owner)?;
        }
        options.tags.as_deref().map(validate::tags).transpose()
    }

    /// Upserts (type, name) with `data` in this scope.
    ///
    /// Creating gives version 1; a save that changes nothing (same checksum,
    /// tags, owner, source, still active) is a no-op; anything else is a new
    /// version with `created_at` kept. `expected_version` /
    /// `expected_checksum` make it conditional (`CONFLICT`, nothing written).
    pub async fn save(
        &self,
        type_name: &str,
        name: &str,
        data: Value,
        options: SaveOptions,
    ) -> Result<SaveOutcome> {
        let (key, tags) = self.save_target("save", type_name, name, &options)?;
        let data = Definition::from_value(data)?;
        self.write_one(&key, data, tags, &options, false).await
    }

    /// [`MetadataService::save`] of a definition already validated (for
    /// instance built from JSON text with [`Definition::from_json_text`]).
    pub async fn save_definition(
        &self,
        type_name: &str,
        name: &str,
        data: Definition,
        options: SaveOptions,
    ) -> Result<SaveOutcome> {
        let (key, tags) = self.save_target("save", type_name, name, &options)?;
        self.write_one(&key, data, tags, &options, false).await
    }

    /// The key a save of (type, name) writes in this scope and its
    /// validated tags, once `operation` is allowed.
    fn save_target(
        &self,
        operation: &'static str,
        type_name: &str,
        name: &str,
        options: &SaveOptions,
    ) -> Result<(RecordKey, Option<Vec<String>>)> {
        let key = self.own_key(type_name, name)?;
        self.check(operation, Permission::Write, type_name)?;
        Ok((key, Self::validate_options(options)?))
    }

    async fn write_one(
        &self,
        key: &RecordKey,
        data: Definition,
        tags: Option<Vec<String>>,
        options: &SaveOptions,
        rollback: bool,
    ) -> Result<SaveOutcome> {
        // The same read as a batch: the row, and where its history ends (a
        // new row continues after a purged one, so versions never repeat).
        let (current, last) = self
            .store
            .get_many_with_last_version(std::slice::from_ref(key))
            .await?
            .pop()
            .unwrap_or((None, 0));
        Self::check_expected(
            key,
            current.as_ref(),
            options.expected_version,
            options.expected_checksum.as_deref(),
        )?;
        let fresh = last + 1;
        let now = self.now();
        match self.plan_save(
            key,
            current.as_ref(),
            fresh,
            data.clone(),
            tags,
            options,
            &now,
            rollback,
        ) {
            None => Ok(Self::unchanged(key, current, data)?),
            Some(planned) => self.commit_one(planned).await,
        }
    }

    /// The outcome of a no-op save: the stored record, carrying the caller's
    /// data, whose checksum equals the stored one (so the answer is valid
    /// without re-verifying what the store holds).
    fn unchanged(
        key: &RecordKey,
        current: Option<MetadataRecord>,
        data: Definition,
    ) -> Result<SaveOutcome> {
        let record = current.ok_or_else(|| Error::not_found(key, None))?;
        Ok(SaveOutcome {
            record: MetadataRecord { data, ..record },
            changed: false,
            operation: None,
        })
    }

    async fn commit_one(&self, planned: Planned) -> Result<SaveOutcome> {
        let Planned { record, entry } = planned;
        let event = self.event_for(&entry);
        let mut batch = WriteBatch::new();
        batch.push(Write::Put(record.clone()));
        batch.push(Write::Append(entry));
        self.store.commit(batch).await?;
        let operation = Some(event.operation);
        self.events.emit(event);
        Ok(SaveOutcome {
            record,
            changed: true,
            operation,
        })
    }

    /// Saves several records all-or-nothing: if any item fails validation,
    /// access, concurrency or storage, nothing is written and the error names
    /// the item. No-op items are reported unchanged.
    pub async fn save_many(&self, items: Vec<SaveItem>) -> Result<Vec<SaveOutcome>> {
        let batch_err = |index: usize, key: RecordKey, e: Error| Error::Batch {
            index,
            key: Box::new(key),
            source: Box::new(e),
        };
        let mut seen = HashSet::new();
        let mut prepared = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let key = RecordKey::new(self.tenant_id.as_deref(), &item.type_name, &item.name);
            let checked = (|| {
                let (key, tags) =
                    self.save_target("saveMany", &item.type_name, &item.name, &item.options)?;
                let data = Definition::from_value(item.data)?;
                Ok::<_, Error>((key, tags, data))
            })();
            let (key, tags, data) = checked.map_err(|e| batch_err(index, key, e))?;
            if !seen.insert(key.clone()) {
                return Err(batch_err(
                    index,
                    key,
                    Error::validation("items", "the same record appears twice in one batch"),
                ));
            }
            prepared.push((index, key, tags, data, item.options));
        }
        let now = self.now();
        let mut batch = WriteBatch::new();
        let mut outcomes = Vec::with_capacity(prepared.len());
        let mut events = Vec::new();
        // One read of every record (and its last history version) up front.
        let keys: Vec<RecordKey> = prepared.iter().map(|p| p.1.clone()).collect();
        let found = self.store.get_many_with_last_version(&keys).await?;
        for ((index, key, tags, data, options), (current, last)) in prepared.into_iter().zip(found)
        {
            Self::check_expected(
                &key,
                current.as_ref(),
                options.expected_version,
                options.expected_checksum.as_deref(),
            )
            .map_err(|e| batch_err(index, key.clone(), e))?;
            let fresh = last + 1;
            match self.plan_save(
                &key,
                current.as_ref(),
                fresh,
                data.clone(),
                tags,
                &options,
                &now,
                false,
            ) {
                None => outcomes.push(Self::unchanged(&key, current, data)?),
                Some(Planned { record, entry }) => {
                    events.push(self.event_for(&entry));
                    outcomes.push(SaveOutcome {
                        record: record.clone(),
                        changed: true,
                        operation: Some(entry.operation),
                    });
                    batch.push(Write::Put(record));
                    batch.push(Write::Append(entry));
                }
            }
        }
        if !batch.is_empty() {
            self.store.commit(batch).await?;
        }
        for event in events {
            self.events.emit(event);
        }
        Ok(outcomes)
    }

    /// The tenant's own row, which writes other than save require.
    async fn own_row(&self, key: &RecordKey, detail: &str) -> Result<MetadataRecord> {
        match self.store.get(key).await? {
            Some(r) => Ok(r),
            None => Err(Error::not_found(key, Some(detail.to_owned()))),
        }
    }

    /// The checks every change of an existing row shares: identifiers,
    /// permission, the row itself (in this scope), the concurrency guard.
    async fn guarded_own_row(
        &self,
        operation: &str,
        permission: Permission,
        type_name: &str,
        name: &str,
        options: &ChangeOptions,
    ) -> Result<(RecordKey, MetadataRecord)> {
        let key = self.own_key(type_name, name)?;
        self.check(operation, permission, type_name)?;
        let current = self
            .own_row(&key, &format!("no record in this scope to {operation}"))
            .await?;
        Self::check_expected(
            &key,
            Some(&current),
            options.expected_version,
            options.expected_checksum.as_deref(),
        )?;
        Ok((key, current))
    }

    /// Soft-deletes (type, name): `is_active` becomes false in a new version.
    pub async fn delete(
        &self,
        type_name: &str,
        name: &str,
        options: ChangeOptions,
    ) -> Result<SaveOutcome> {
        let (key, current) = self
            .guarded_own_row("delete", Permission::Delete, type_name, name, &options)
            .await?;
        if !current.is_active {
            return Err(Error::not_found(&key, Some("already deleted".into())));
        }
        self.transition(current, false, Operation::Delete).await
    }

    /// Undoes a soft delete as a new version (a no-op on an active record).
    pub async fn restore(
        &self,
        type_name: &str,
        name: &str,
        options: ChangeOptions,
    ) -> Result<SaveOutcome> {
        let (_, current) = self
            .guarded_own_row("restore", Permission::Write, type_name, name, &options)
            .await?;
        if current.is_active {
            return Ok(SaveOutcome {
                record: current,
                changed: false,
                operation: None,
            });
        }
        self.transition(current, true, Operation::Restore).await
    }

    async fn transition(
        &self,
        current: MetadataRecord,
        is_active: bool,
        operation: Operation,
    ) -> Result<SaveOutcome> {
        let now = self.now();
        let record = MetadataRecord {
            version: current.version + 1,
            is_active,
            updated_at: now.clone(),
            updated_by: Some(self.actor.id.clone()),
            ..current
        };
        let entry = self.entry_for(&record, operation, &now);
        self.commit_one(Planned { record, entry }).await
    }

    /// Removes (type, name)'s row for good. Its history stays, with a final
    /// `purge` entry, and a later save continues its version numbers.
    pub async fn purge(&self, type_name: &str, name: &str, options: ChangeOptions) -> Result<()> {
        let (key, current) = self
            .guarded_own_row("purge", Permission::Admin, type_name, name, &options)
            .await?;
        let now = self.now();
        let gone = MetadataRecord {
            version: current.version + 1,
            is_active: false,
            ..current
        };
        let entry = self.entry_for(&gone, Operation::Purge, &now);
        let event = self.event_for(&entry);
        let mut batch = WriteBatch::new();
        batch.push(Write::Remove(key));
        batch.push(Write::Append(entry));
        self.store.commit(batch).await?;
        self.events.emit(event);
        Ok(())
    }

    /// Writes the data of an earlier `version` back as a new version (also
    /// after a purge). A no-op when it equals the current active data.
    pub async fn rollback(
        &self,
        type_name: &str,
        name: &str,
        version: u64,
        options: ChangeOptions,
    ) -> Result<SaveOutcome> {
        let key = self.own_key(type_name, name)?;
        self.check("rollback", Permission::Write, type_name)?;
        let history = self.store.history(&key).await?;
        let entry = history
            .into_iter()
            .find(|h| h.version == version)
            .ok_or_else(|| Error::not_found(&key, Some(format!("no version {version}"))))?;
        if entry.data.checksum() != entry.checksum {
            return Err(Error::Corrupted {
                key: Box::new(key),
                message: format!("history entry of version {version} does not match its checksum"),
            });
        }
        self.write_one(&key, entry.data, None, &SaveOptions::from(&options), true)
            .await
    }
}
