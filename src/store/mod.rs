//! The storage contract every backend implements, and the backends written
//! in Rust.
//!
//! # The contract
//!
//! A store keeps, per (tenant, type, name), the record's **head** (its
//! current version, a `sys_metadata` row) and its **archived versions** (the
//! versions the head superseded, and a tombstone when it was purged): the
//! layout of SQL:2011 system-versioned tables. A create writes one row.
//!
//! Writes arrive as a [`Batch`] of [`Change`]s for one tenant scope, and
//! [`Store::apply`] must, in one atomic step:
//!
//! 1. check every change's [`Expect`]ation against the head as it is at
//!    that moment (the version the writer read, or no head at all). If one
//!    fails, nothing of the batch is written and the answer is
//!    [`Error::Conflict`] naming the record, what was expected and what was
//!    found;
//! 2. give the changes the next sequence numbers of the scope, in batch
//!    order: strictly increasing and without gaps across every record of
//!    the scope (the global scope counts on its own), stored with the change
//!    so every process sees the same numbers;
//! 3. move a head that a change supersedes into the archive unchanged (with
//!    its own sequence number), insert-only: an archived version is never
//!    replaced;
//! 4. write the new head, or for a purge remove the head and archive the
//!    tombstone.
//!
//! Reads: [`Store::get`] a head, [`Store::read_current`] heads with where
//! their history ends (what a write plans against), [`Store::list`] a
//! scope's heads, [`Store::history`] every version of a record (archive and
//! head), [`Store::changes`] the scope's change log (heads and archived
//! versions after a sequence number), [`Store::last_sequence`].
//!
//! A store that can keep one write transaction open from a writer's read
//! to its commit offers [`Store::hold`] (see [`mod@hold`]): the writer plans
//! against what the hold read and hands it the changes as it plans them,
//! and nothing else writes in between, so nothing is checked twice. Other
//! stores answer `None` and writers plan against [`Store::read_current`]
//! and commit conditionally.
//!
//! Every store owns a [`Feed`] on which [`Store::commit`] announces what it
//! committed, and on which embedders announce changes committed elsewhere
//! (another tab, another process), so every service on the store learns of
//! every change.
//!
//! `tests/contract/` is the suite a backend must pass; it runs against
//! every backend in the repository.

pub mod auto;
pub mod codec;
pub mod feed;
pub mod hold;
pub mod kv;
pub mod layout;
mod lock;
mod memory;

pub use auto::{choose_auto, AutoChoice, Backend, Opener};
pub use feed::{Feed, Follower, Origin, SubscriptionId};
pub use hold::{hold, Held, HeldError, Holding};
pub use kv::{KvBackend, KvOp, KvStore};
pub use memory::MemoryStore;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::events::{ChangeEvent, ChangeQuery};
use crate::key::RecordKey;
use crate::record::{HistoryEntry, MetadataRecord};

/// What a change expects to find as the record's head when it commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expect {
    /// No head (never created, or purged).
    Absent,
    /// A head at exactly this version (active or soft-deleted).
    Version(u64),
}

impl Expect {
    /// The expectation matching what a writer read.
    pub fn of(head: Option<&MetadataRecord>) -> Self {
        match head {
            Some(r) => Expect::Version(r.version),
            None => Expect::Absent,
        }
    }

    /// Whether a head at `found` (`None`: no head) meets it.
    pub fn holds(self, found: Option<u64>) -> bool {
        match self {
            Expect::Absent => found.is_none(),
            Expect::Version(v) => found == Some(v),
        }
    }

    /// The version expected, or `None` for no head (as hosts see it).
    pub fn version(self) -> Option<u64> {
        match self {
            Expect::Absent => None,
            Expect::Version(v) => Some(v),
        }
    }

    /// The conflict raised when `found` does not meet it.
    pub fn conflict(self, key: &RecordKey, found: Option<u64>) -> Error {
        let describe = |v: Option<u64>| match v {
            Some(v) => format!("version {v}"),
            None => "no record".to_owned(),
        };
        Error::Conflict {
            key: Box::new(key.clone()),
            expected: describe(self.version()),
            actual: describe(found),
            actual_version: found.unwrap_or(0),
        }
    }

    /// `Ok` when a head at `found` meets it, the conflict otherwise.
    pub fn check(self, key: &RecordKey, found: Option<u64>) -> Result<()> {
        if self.holds(found) {
            Ok(())
        } else {
            Err(self.conflict(key, found))
        }
    }
}

/// The new state of one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A new head; the store sets its `seq`.
    Put {
        /// The new head.
        record: MetadataRecord,
        /// The head it replaces.
        expect: Expect,
    },
    /// The head goes for good; the tombstone (its `seq` set by the store)
    /// closes the record's history.
    Purge {
        /// The history entry recording the purge.
        tombstone: HistoryEntry,
        /// The head it removes (always a version).
        expect: Expect,
    },
}

impl Change {
    /// The record changed.
    pub fn key(&self) -> RecordKey {
        match self {
            Change::Put { record, .. } => record.key(),
            Change::Purge { tombstone, .. } => tombstone.key(),
        }
    }

    /// What the change expects to find.
    pub fn expect(&self) -> Expect {
        match self {
            Change::Put { expect, .. } | Change::Purge { expect, .. } => *expect,
        }
    }

    /// The tenant scope of the record changed.
    pub fn tenant_id(&self) -> Option<&str> {
        match self {
            Change::Put { record, .. } => record.tenant_id.as_deref(),
            Change::Purge { tombstone, .. } => tombstone.tenant_id.as_deref(),
        }
    }

    /// The version the change writes.
    pub fn version(&self) -> u64 {
        match self {
            Change::Put { record, .. } => record.version,
            Change::Purge { tombstone, .. } => tombstone.version,
        }
    }

    /// The change event of this change, committed at `seq`.
    pub fn event(&self, seq: u64) -> ChangeEvent {
        let mut event = match self {
            Change::Put { record, .. } => ChangeEvent::from(record),
            Change::Purge { tombstone, .. } => ChangeEvent::from(tombstone),
        };
        event.sequence = seq;
        event
    }
}

/// Changes of one tenant scope that a store applies all together or not at
/// all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// The scope every change belongs to (`None`: global).
    pub tenant_id: Option<String>,
    /// The changes, in the order they get their sequence numbers.
    pub changes: Vec<Change>,
}

impl Batch {
    /// An empty batch for one scope.
    pub fn new(tenant_id: Option<&str>) -> Self {
        Batch {
            tenant_id: tenant_id.map(str::to_owned),
            changes: Vec::new(),
        }
    }

    /// Adds a change.
    pub fn push(&mut self, change: Change) {
        self.changes.push(change);
    }

    /// True when the batch holds no change.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Number of changes (and of sequence numbers the batch takes).
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// `VALIDATION` unless every change is of the batch's scope, no record
    /// appears twice and every purge expects a version: what stores may
    /// rely on.
    pub fn check(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for change in &self.changes {
            let key = change.key();
            if change.tenant_id() != self.tenant_id.as_deref() {
                return Err(Error::validation(
                    "batch",
                    format!("{key} is outside the batch's scope"),
                ));
            }
            if matches!(
                change,
                Change::Purge {
                    expect: Expect::Absent,
                    ..
                }
            ) {
                return Err(Error::validation(
                    "batch",
                    format!("a purge of {key} must expect a version"),
                ));
            }
            if !seen.insert(key.clone()) {
                return Err(Error::validation(
                    "batch",
                    format!("{key} appears twice in one batch"),
                ));
            }
        }
        Ok(())
    }

    /// The change events of the batch committed from `first_seq` on.
    pub fn events(&self, first_seq: u64) -> Vec<ChangeEvent> {
        (first_seq..)
            .zip(&self.changes)
            .map(|(seq, c)| c.event(seq))
            .collect()
    }
}

/// What a writer reads before planning: a record's head, and the highest
/// version its history reached (the head's, or after a purge the last
/// archived one), so that versions never repeat.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Current {
    /// The head, active or not.
    pub record: Option<MetadataRecord>,
    /// The highest version ever written (0: none).
    pub last_version: u64,
    /// Why the head the store holds cannot be read (its row is damaged:
    /// `CORRUPTED`). With it, `record` is `None` and `last_version` is the
    /// version the head's row says it holds (what the store's commit
    /// checks expectations against), above every archived one: a save
    /// writes over it, the damaged row archived as it is, and a mirrored
    /// later version replaces it; any other write, or one with a guard,
    /// fails with this error (a rollback reads the record's history, which
    /// reports the damage first).
    pub unreadable: Option<Error>,
}

impl Current {
    /// The current state of a key whose head is `record`: the head's
    /// version, or with no head the last version `history` (only asked
    /// then) holds.
    pub(crate) async fn of<F>(
        record: Option<MetadataRecord>,
        history: impl FnOnce() -> F,
    ) -> Result<Current>
    where
        F: std::future::Future<Output = Result<Vec<HistoryEntry>>>,
    {
        let last_version = match &record {
            Some(r) => r.version,
            None => history()
                .await?
                .iter()
                .map(|h| h.version)
                .max()
                .unwrap_or(0),
        };
        Ok(Current {
            record,
            last_version,
            unreadable: None,
        })
    }

    /// What a write over this state expects: the head's version (readable
    /// or not), or no head.
    pub fn expect(&self) -> Expect {
        match (&self.record, &self.unreadable) {
            (Some(r), _) => Expect::Version(r.version),
            (None, Some(_)) => Expect::Version(self.last_version),
            (None, None) => Expect::Absent,
        }
    }
}

/// What [`Store::hold`] answers: the current state of each key held, the
/// sequence number the first change written will get, and the open write.
pub type HeldRead<'a> = (Vec<Current>, u64, Box<dyn Held + 'a>);

/// A metadata storage backend (see the module documentation for the
/// contract).
///
/// The trait is async and object-safe without `Send` bounds, so IndexedDB
/// and Promise-returning host callbacks can implement it in the browser's
/// single-threaded world.
#[async_trait(?Send)]
pub trait Store {
    /// A short name for diagnostics (`memory`, `indexeddb`, `sqlite`...).
    fn kind(&self) -> &str;

    /// True when nothing but this process's services can change what the
    /// store holds (an in-memory store), so records read back need no
    /// checksum verification. Persistent stores answer false.
    fn holds_only_own_writes(&self) -> bool {
        false
    }

    /// True when other execution contexts of this origin (a browser's other
    /// tabs and workers) open the same data without going through this
    /// object, so its changes should be announced to them (IndexedDB,
    /// localStorage). False for private memory and for host stores, whose
    /// host coordinates its own processes. A service shares its changes
    /// across contexts by default exactly when its store answers true.
    fn shared_across_contexts(&self) -> bool {
        false
    }

    /// Where committed changes are announced.
    fn feed(&self) -> &Feed;

    /// A number that changes when what the store holds may have changed
    /// without an announcement on its [`feed`](Store::feed): its database
    /// was deleted or replaced by another context (IndexedDB's
    /// `versionchange`). A cache in front of the store drops everything it
    /// holds when it changes. 0 for stores where that cannot happen.
    fn epoch(&self) -> u64 {
        0
    }

    /// The head stored under `key`, active or not.
    async fn get(&self, key: &RecordKey) -> Result<Option<MetadataRecord>>;

    /// For each key, in order: its head and the highest version its history
    /// reached. Backends with real round trips answer all keys in one.
    async fn read_current(&self, keys: &[RecordKey]) -> Result<Vec<Current>> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(Current::of(self.get(key).await?, || self.history(key)).await?);
        }
        Ok(out)
    }

    /// Reads what `keys` (every one of the scope `tenant_id`) hold, as
    /// [`Store::read_current`] does, inside a write transaction it keeps
    /// open for the writer, so that nothing else writes until the writer
    /// commits or drops it (see [`mod@hold`]). `None`, the default, when the
    /// store cannot: writers then plan against `read_current` and commit
    /// conditionally. Writers call [`hold()`], which checks their changes.
    async fn hold(
        &self,
        tenant_id: Option<&str>,
        keys: &[RecordKey],
    ) -> Result<Option<HeldRead<'_>>> {
        let _ = (tenant_id, keys);
        Ok(None)
    }

    /// Every head of one scope (`None` = global), optionally of one type,
    /// sorted by type then name.
    async fn list(
        &self,
        tenant_id: Option<&str>,
        type_name: Option<&str>,
    ) -> Result<Vec<MetadataRecord>>;

    /// Every version of `key`, oldest first: the archived ones, then the
    /// head's own.
    async fn history(&self, key: &RecordKey) -> Result<Vec<HistoryEntry>>;

    /// The change log of one scope: the changes after `query.since`, oldest
    /// first, filtered and limited as `query` says.
    async fn changes(
        &self,
        tenant_id: Option<&str>,
        query: &ChangeQuery,
    ) -> Result<Vec<ChangeEvent>>;

    /// The sequence number of the scope's last committed change (0: none).
    async fn last_sequence(&self, tenant_id: Option<&str>) -> Result<u64>;

    /// Applies a checked, non-empty batch atomically (see the module
    /// documentation) and returns the sequence number of its first change.
    /// Call [`Store::commit`] instead, which checks and announces.
    async fn apply(&self, batch: &Batch) -> Result<u64>;

    /// Checks `batch`, applies it, and announces the committed changes on
    /// the feed. Returns their events (empty for an empty batch).
    async fn commit(&self, batch: Batch) -> Result<Vec<ChangeEvent>> {
        self.commit_as(batch, Origin::Local).await
    }

    /// [`Store::commit`], announcing the changes as coming from `origin`
    /// (a cache writing what its server committed says `Remote`).
    async fn commit_as(&self, batch: Batch, origin: Origin) -> Result<Vec<ChangeEvent>> {
        batch.check()?;
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let first = self.apply(&batch).await?;
        let events = batch.events(first);
        self.feed().announce(&events, origin);
        Ok(events)
    }
}

#[async_trait(?Send)]
impl<S: Store + ?Sized> Store for std::rc::Rc<S> {
    fn kind(&self) -> &str {
        (**self).kind()
    }
    fn holds_only_own_writes(&self) -> bool {
        (**self).holds_only_own_writes()
    }
    fn shared_across_contexts(&self) -> bool {
        (**self).shared_across_contexts()
    }
    fn feed(&self) -> &Feed {
        (**self).feed()
    }
    fn epoch(&self) -> u64 {
        (**self).epoch()
    }
    async fn get(&self, key: &RecordKey) -> Result<Option<MetadataRecord>> {
        (**self).get(key).await
    }
    async fn read_current(&self, keys: &[RecordKey]) -> Result<Vec<Current>> {
        (**self).read_current(keys).await
    }
    async fn hold(
        &self,
        tenant_id: Option<&str>,
        keys: &[RecordKey],
    ) -> Result<Option<HeldRead<'_>>> {
        (**self).hold(tenant_id, keys).await
    }
    async fn list(
        &self,
        tenant_id: Option<&str>,
        type_name: Option<&str>,
    ) -> Result<Vec<MetadataRecord>> {
        (**self).list(tenant_id, type_name).await
    }
    async fn history(&self, key: &RecordKey) -> Result<Vec<HistoryEntry>> {
        (**self).history(key).await
    }
    async fn changes(
        &self,
        tenant_id: Option<&str>,
        query: &ChangeQuery,
    ) -> Result<Vec<ChangeEvent>> {
        (**self).changes(tenant_id, query).await
    }
    async fn last_sequence(&self, tenant_id: Option<&str>) -> Result<u64> {
        (**self).last_sequence(tenant_id).await
    }
    async fn apply(&self, batch: &Batch) -> Result<u64> {
        (**self).apply(batch).await
    }
}
