//! The metadata service: versioned, tenant-scoped, access-checked CRUD over
//! any [`Store`], with history, rollback, queries and the change log.
//!
//! Reads live in `read`, write planning (a pure function of what was read)
//! in `plan`, and the write loop that commits plans conditionally and plans
//! again when a concurrent writer was first in `write`.

mod mirror;
mod options;
mod plan;
mod read;
mod write;

pub use mirror::{MirrorEntry, Mirrored, Replicated};
pub use options::{
    ChangeOptions, Guard, SaveDefinition, SaveItem, SaveOptions, SaveOutcome, SaveText,
};
pub use read::Audience;
pub use write::{MAX_WRITE_ATTEMPTS, MAX_WRITE_ROUNDS};

use std::rc::Rc;

use crate::access::{AccessPolicy, Action, Actor};
use crate::clock::{self, Clock};
use crate::error::{Error, Result};
use crate::key::RecordKey;
use crate::record::{MetadataRecord, Source};
use crate::store::{Feed, Store};
use crate::validate;

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

impl MetadataService {
    /// Starts building a service over `store`.
    pub fn builder(store: impl Store + 'static) -> ServiceBuilder {
        Self::builder_shared(Rc::new(store))
    }

    /// Starts building a service over a store shared with other services
    /// (for instance one per tenant over the same database). Services on
    /// one store object hear each other's changes on its feed.
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

    /// A builder for another service on the same store, with this one's
    /// policy, clock, default source and read verification, its tenant and
    /// actor to be changed (a service per caller of a server).
    pub fn derive(&self) -> ServiceBuilder {
        ServiceBuilder {
            store: Rc::clone(&self.store),
            tenant_id: self.tenant_id.clone(),
            actor: self.actor.clone(),
            policy: self.policy.clone(),
            clock: Some(Rc::clone(&self.clock)),
            default_source: self.default_source,
            verify_reads: self.verify_reads,
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

    /// Where every change committed to the store is announced (by this
    /// service, by others on the same store object, and by embedders for
    /// changes made elsewhere).
    pub fn feed(&self) -> &Feed {
        self.store.feed()
    }

    /// The access policy in force.
    pub fn policy(&self) -> &AccessPolicy {
        &self.policy
    }

    /// `FORBIDDEN` unless the actor may do `action` on `type_name`.
    pub fn check(&self, action: Action, type_name: &str) -> Result<()> {
        self.policy.check(&self.actor, action, type_name)
    }

    /// Whether a change of `tenant_id`'s scope can change what this service
    /// reads: its own scope, and for a tenant the global scope it falls
    /// back to.
    pub fn sees_scope(&self, tenant_id: Option<&str>) -> bool {
        scope_seen(self.tenant_id.as_deref(), tenant_id)
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
}

/// Whether a reader of `own` scope sees a change of `changed`'s: its own
/// scope, and for a tenant the global scope it falls back to.
pub(crate) fn scope_seen(own: Option<&str>, changed: Option<&str>) -> bool {
    changed.is_none() || changed == own
}
