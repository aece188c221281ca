//! A [`Store`] over any key-value backend: JavaScript host callbacks,
//! localStorage, or anything else that can get, put, delete and list by
//! prefix. Values are JSON text; keys are [`layout`]'s.
//!
//! # What a key-value backend must do
//!
//! **With an atomic batch write** ([`KvBackend::commit`]): apply a list of
//! [`KvOp`]s all together or not at all, after checking each op's
//! [`KvExpect`] against what the key holds at that moment: `Absent` (no
//! value), or `Version(n)` (a value whose `version` member is `n`). If one
//! fails, apply nothing and report [`KvCommitError::Conflict`] naming the
//! key. That is the whole of the concurrency contract: the checks and
//! sequence numbers are built from it here, and hold across every process
//! that shares the backend.
//!
//! **Without one** (plain get / put / delete), the adapter serialises its
//! own commits (one at a time per store object), checks expectations by
//! reading before it writes, writes archived versions first, then heads,
//! then the counter, and on a failure puts back what every touched key held
//! before, the failing key included (a write may land and then report an
//! error). What is *not* guaranteed without `commit`: isolation from other
//! store objects or processes writing the same backend at the same moment,
//! and a clean state after a crash between two writes. Use `commit` for a
//! backend shared by more than one writer.

use std::cell::Cell;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::lock::LocalLock;
use super::{codec, layout, Batch, Change, Current, Feed, Store};
use crate::error::{Error, Result};
use crate::events::{ChangeEvent, ChangeQuery};
use crate::key::RecordKey;
use crate::record::{HistoryEntry, MetadataRecord};

/// What a key must hold for an op to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvExpect {
    /// No check.
    Any,
    /// The key holds nothing.
    Absent,
    /// The key holds a value whose `version` member is this.
    Version(u64),
}

/// One operation of a key-value batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvOp {
    /// Store `value` under `key`.
    Put {
        /// The key.
        key: String,
        /// JSON text.
        value: String,
        /// What the key must hold now.
        expect: KvExpect,
    },
    /// Remove `key`.
    Delete {
        /// The key.
        key: String,
        /// What the key must hold now.
        expect: KvExpect,
    },
}

impl KvOp {
    /// The key written.
    pub fn key(&self) -> &str {
        match self {
            KvOp::Put { key, .. } | KvOp::Delete { key, .. } => key,
        }
    }

    /// What the key must hold.
    pub fn expect(&self) -> KvExpect {
        match self {
            KvOp::Put { expect, .. } | KvOp::Delete { expect, .. } => *expect,
        }
    }
}

/// Why an atomic batch write failed.
#[derive(Debug, Clone, PartialEq)]
pub enum KvCommitError {
    /// An op's expectation did not hold; nothing was applied.
    Conflict {
        /// The key whose expectation failed.
        key: String,
    },
    /// Anything else; nothing was applied.
    Failed(Error),
}

impl From<Error> for KvCommitError {
    fn from(e: Error) -> Self {
        KvCommitError::Failed(e)
    }
}

/// What a key-value backend provides.
#[async_trait(?Send)]
pub trait KvBackend {
    /// A short name for diagnostics.
    fn kind(&self) -> &str;
    /// See [`Store::shared_across_contexts`] (localStorage: true).
    fn shared_across_contexts(&self) -> bool {
        false
    }
    /// The value under `key`.
    async fn get(&self, key: &str) -> Result<Option<String>>;
    /// Every value whose key starts with `prefix`, in any order.
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;
    /// Stores `value` under `key`.
    async fn put(&self, key: &str, value: &str) -> Result<()>;
    /// Removes `key` (absent keys are fine).
    async fn delete(&self, key: &str) -> Result<()>;
    /// Whether [`KvBackend::commit`] applies a batch atomically with its
    /// expectations checked.
    fn atomic_batches(&self) -> bool {
        false
    }
    /// Applies `ops` atomically (only called when `atomic_batches`).
    async fn commit(&self, ops: Vec<KvOp>) -> std::result::Result<(), KvCommitError> {
        let _ = ops;
        Err(KvCommitError::Failed(Error::Unsupported {
            message: format!("backend '{}' has no atomic batch write", self.kind()),
        }))
    }
}

/// How often a commit starts over when only the scope's counter moved
/// under it (another writer of another record of the scope was first).
const COUNTER_RETRIES: usize = 64;

/// A scope's change counter, as stored: `version` is the last sequence
/// number, so the one expectation rule covers it too.
#[derive(Serialize, Deserialize)]
struct Counter {
    version: u64,
}

/// [`Store`] over a [`KvBackend`].
#[derive(Debug)]
pub struct KvStore<B> {
    backend: B,
    feed: Feed,
    lock: LocalLock,
    layout_checked: Cell<bool>,
}

/// The state of one record as the adapter read it before writing.
struct Read {
    key: RecordKey,
    head: Option<MetadataRecord>,
}

impl<B: KvBackend> KvStore<B> {
    /// A store over `backend`.
    pub fn new(backend: B) -> Self {
        KvStore {
            backend,
            feed: Feed::new(),
            lock: LocalLock::new(),
            layout_checked: Cell::new(false),
        }
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    async fn head(&self, key: &RecordKey) -> Result<Option<MetadataRecord>> {
        match self.backend.get(&layout::kv_record(key)).await? {
            None => Ok(None),
            Some(text) => codec::record_at(&text, key).map(Some),
        }
    }

    async fn counter(&self, tenant_id: Option<&str>) -> Result<Option<u64>> {
        let key = layout::kv_counter(tenant_id);
        match self.backend.get(&key).await? {
            None => Ok(None),
            Some(text) => serde_json::from_str::<Counter>(&text)
                .map(|c| Some(c.version))
                .map_err(|e| Error::Corrupted {
                    key: Box::new(RecordKey::new(tenant_id, "*", "*")),
                    message: format!("the change counter does not decode: {e}"),
                }),
        }
    }

    async fn archived(&self, key: &RecordKey) -> Result<Vec<HistoryEntry>> {
        let texts = self.backend.list(&layout::kv_history_prefix(key)).await?;
        codec::archived_of(texts.into_iter().map(Ok), key)
    }

    /// The ops of a batch: archived heads and tombstones (insert-only),
    /// then the heads, then the counter.
    fn ops(batch: &Batch, reads: &[Read], counter: Option<u64>) -> Result<(u64, Vec<KvOp>)> {
        let first = counter.unwrap_or(0) + 1;
        let mut archive = Vec::new();
        let mut heads = Vec::new();
        for ((seq, change), read) in (first..).zip(&batch.changes).zip(reads) {
            let key = &read.key;
            let head_expect = match &read.head {
                Some(old) => {
                    archive.push(KvOp::Put {
                        key: layout::kv_history(key, old.version),
                        value: codec::encode(&old.to_history())?,
                        expect: KvExpect::Absent,
                    });
                    KvExpect::Version(old.version)
                }
                None => KvExpect::Absent,
            };
            match change {
                Change::Put { record, .. } => {
                    let mut record = record.clone();
                    record.seq = seq;
                    heads.push(KvOp::Put {
                        key: layout::kv_record(key),
                        value: codec::encode_record(&record),
                        expect: head_expect,
                    });
                }
                Change::Purge { tombstone, .. } => {
                    let mut tombstone = tombstone.clone();
                    tombstone.seq = seq;
                    archive.push(KvOp::Put {
                        key: layout::kv_history(key, tombstone.version),
                        value: codec::encode(&tombstone)?,
                        expect: KvExpect::Absent,
                    });
                    heads.push(KvOp::Delete {
                        key: layout::kv_record(key),
                        expect: head_expect,
                    });
                }
            }
        }
        let last = first + batch.len() as u64 - 1;
        let tenant = batch.tenant_id.as_deref();
        heads.push(KvOp::Put {
            key: layout::kv_counter(tenant),
            value: codec::encode(&Counter { version: last })?,
            expect: counter.map_or(KvExpect::Absent, KvExpect::Version),
        });
        archive.extend(heads);
        Ok((first, archive))
    }

    /// Reads every changed record's head and checks the batch's
    /// expectations against them.
    async fn read_batch(&self, batch: &Batch) -> Result<Vec<Read>> {
        let mut reads = Vec::with_capacity(batch.len());
        for change in &batch.changes {
            let key = change.key();
            let head = self.head(&key).await?;
            change
                .expect()
                .check(&key, head.as_ref().map(|r| r.version))?;
            reads.push(Read { key, head });
        }
        Ok(reads)
    }

    async fn apply_atomic(&self, batch: &Batch) -> Result<u64> {
        let counter_key = layout::kv_counter(batch.tenant_id.as_deref());
        for _ in 0..COUNTER_RETRIES {
            let reads = self.read_batch(batch).await?;
            let counter = self.counter(batch.tenant_id.as_deref()).await?;
            let (first, ops) = Self::ops(batch, &reads, counter)?;
            match self.backend.commit(ops).await {
                Ok(()) => return Ok(first),
                // Another writer of the scope took the next numbers first:
                // read again and retry; record expectations are re-checked.
                Err(KvCommitError::Conflict { key }) if key == counter_key => continue,
                Err(KvCommitError::Conflict { key }) => {
                    return Err(self.conflict_at(batch, &key).await);
                }
                Err(KvCommitError::Failed(e)) => return Err(e),
            }
        }
        Err(Error::Conflict {
            key: Box::new(RecordKey::new(batch.tenant_id.as_deref(), "*", "*")),
            expected: "a free change counter".into(),
            actual: format!("the counter moved on {COUNTER_RETRIES} attempts in a row"),
            actual_version: 0,
        })
    }

    /// The conflict to report for a failed expectation on `kv_key`.
    async fn conflict_at(&self, batch: &Batch, kv_key: &str) -> Error {
        for change in &batch.changes {
            let key = change.key();
            let archived_here = kv_key.starts_with(&layout::kv_history_prefix(&key));
            if kv_key == layout::kv_record(&key) || archived_here {
                let found = match self.head(&key).await {
                    Ok(head) => head.map(|r| r.version),
                    Err(e) => return e,
                };
                return change.expect().conflict(&key, found);
            }
        }
        Error::Storage {
            message: format!(
                "the backend reported a conflict on {kv_key}, which the batch does not write"
            ),
        }
    }

    async fn apply_one_by_one(&self, batch: &Batch) -> Result<u64> {
        let reads = self.read_batch(batch).await?;
        let counter = self.counter(batch.tenant_id.as_deref()).await?;
        let (first, ops) = Self::ops(batch, &reads, counter)?;
        let mut undo: Vec<(String, Option<String>)> = Vec::with_capacity(ops.len());
        for op in ops {
            let key = op.key().to_owned();
            let result = async {
                let before = self.backend.get(&key).await?;
                let found = match (&before, op.expect()) {
                    (_, KvExpect::Any) => true,
                    (None, KvExpect::Absent) => true,
                    (Some(text), KvExpect::Version(v)) => version_of(text) == Some(v),
                    _ => false,
                };
                if !found {
                    return Err(self.conflict_at(batch, &key).await);
                }
                // Recorded before the write: a write that lands and then
                // reports an error is undone too.
                undo.push((key.clone(), before));
                match &op {
                    KvOp::Put { value, .. } => self.backend.put(&key, value).await,
                    KvOp::Delete { .. } => self.backend.delete(&key).await,
                }
            }
            .await;
            if let Err(e) = result {
                // Every touched key is put back, also after one of them
                // fails: an archived version left behind would refuse every
                // later write of its record.
                let mut failed = Vec::new();
                for (key, before) in undo.into_iter().rev() {
                    let restored = match before {
                        Some(v) => self.backend.put(&key, &v).await,
                        None => self.backend.delete(&key).await,
                    };
                    if let Err(undo_err) = restored {
                        failed.push(format!("{key} ({undo_err})"));
                    }
                }
                if failed.is_empty() {
                    return Err(e);
                }
                return Err(Error::Storage {
                    message: format!(
                        "{e}; undoing the partial write also failed for {}",
                        failed.join(", ")
                    ),
                });
            }
        }
        Ok(first)
    }

    /// Brings a backend written by layout version 1 (which kept the head's
    /// own version in history and no sequence numbers) to the current
    /// layout, once per store object.
    async fn ensure_layout(&self) -> Result<()> {
        if self.layout_checked.get() {
            return Ok(());
        }
        let _guard = self.lock.acquire().await;
        if self.layout_checked.get() {
            return Ok(());
        }
        if let Some(text) = self.backend.get(layout::LAYOUT_KEY).await? {
            match version_of(&text) {
                Some(layout::LAYOUT_VERSION) => {
                    self.layout_checked.set(true);
                    return Ok(());
                }
                other => {
                    return Err(Error::Unsupported {
                        message: format!(
                            "the backend holds layout version {other:?}; this version reads {}",
                            layout::LAYOUT_VERSION
                        ),
                    })
                }
            }
        }
        let ops = migrate::from_v1(&self.backend).await?;
        if self.backend.atomic_batches() {
            self.backend.commit(ops).await.map_err(|e| match e {
                KvCommitError::Failed(e) => e,
                KvCommitError::Conflict { key } => Error::Storage {
                    message: format!("another writer changed {key} during the layout upgrade"),
                },
            })?;
        } else {
            for op in ops {
                match op {
                    KvOp::Put { key, value, .. } => self.backend.put(&key, &value).await?,
                    KvOp::Delete { key, .. } => self.backend.delete(&key).await?,
                }
            }
        }
        self.layout_checked.set(true);
        Ok(())
    }
}

/// The `version` member of a stored JSON value.
fn version_of(text: &str) -> Option<u64> {
    #[derive(Deserialize)]
    struct Versioned {
        version: u64,
    }
    serde_json::from_str::<Versioned>(text)
        .ok()
        .map(|v| v.version)
}

mod migrate {
    //! Layout version 1 to 2.
    use std::collections::BTreeMap;

    use super::*;

    /// The ops that turn a version 1 backend into version 2: each head's
    /// own history entry goes, every change gets a sequence number (per
    /// scope, in the order the changes were made), counters and the layout
    /// marker are written. An empty backend only gets the marker.
    pub(super) async fn from_v1<B: KvBackend + ?Sized>(backend: &B) -> Result<Vec<KvOp>> {
        let any = RecordKey::new(None, "*", "*");
        let mut heads = Vec::new();
        for text in backend.list("r/").await? {
            heads.push(codec::record(&text, &any)?);
        }
        let mut archived = Vec::new();
        for text in backend.list("h/").await? {
            archived.push(codec::entry(&text, &any)?);
        }
        let mut ops = Vec::new();
        let mut by_key: BTreeMap<RecordKey, MetadataRecord> =
            heads.into_iter().map(|r| (r.key(), r)).collect();
        archived.retain(|h| match by_key.get_mut(&h.key()) {
            // The head's own entry: its operation moves into the head.
            Some(head) if head.version == h.version => {
                head.operation = h.operation;
                ops.push(KvOp::Delete {
                    key: layout::kv_history(&h.key(), h.version),
                    expect: KvExpect::Any,
                });
                false
            }
            _ => true,
        });
        let heads: Vec<MetadataRecord> = by_key.into_values().collect();
        // Per scope, every change in the order it was made.
        enum Row {
            Head(MetadataRecord),
            Archived(HistoryEntry),
        }
        /// A change: when, of what, at which version, and its row.
        type Dated = (String, RecordKey, u64, Row);
        let mut scopes: BTreeMap<Option<String>, Vec<Dated>> = BTreeMap::new();
        for r in heads {
            let at = r.updated_at.clone();
            scopes.entry(r.tenant_id.clone()).or_default().push((
                at,
                r.key(),
                r.version,
                Row::Head(r),
            ));
        }
        for h in archived {
            let at = h.timestamp.clone();
            scopes.entry(h.tenant_id.clone()).or_default().push((
                at,
                h.key(),
                h.version,
                Row::Archived(h),
            ));
        }
        for (tenant, mut rows) in scopes {
            crate::sort::sort_by(&mut rows, |a, b| (&a.0, &a.1, a.2).cmp(&(&b.0, &b.1, b.2)));
            let count = rows.len() as u64;
            for (seq, (_, key, version, row)) in (1..).zip(rows) {
                let (kv_key, value) = match row {
                    Row::Head(mut r) => {
                        r.seq = seq;
                        (layout::kv_record(&key), codec::encode_record(&r))
                    }
                    Row::Archived(mut h) => {
                        h.seq = seq;
                        (layout::kv_history(&key, version), codec::encode(&h)?)
                    }
                };
                ops.push(KvOp::Put {
                    key: kv_key,
                    value,
                    expect: KvExpect::Any,
                });
            }
            ops.push(KvOp::Put {
                key: layout::kv_counter(tenant.as_deref()),
                value: codec::encode(&Counter { version: count })?,
                expect: KvExpect::Any,
            });
        }
        ops.push(KvOp::Put {
            key: layout::LAYOUT_KEY.to_owned(),
            value: format!("{{\"version\":{}}}", layout::LAYOUT_VERSION),
            expect: KvExpect::Any,
        });
        Ok(ops)
    }
}

#[async_trait(?Send)]
impl<B: KvBackend> Store for KvStore<B> {
    fn kind(&self) -> &str {
        self.backend.kind()
    }

    fn shared_across_contexts(&self) -> bool {
        self.backend.shared_across_contexts()
    }

    fn feed(&self) -> &Feed {
        &self.feed
    }

    async fn get(&self, key: &RecordKey) -> Result<Option<MetadataRecord>> {
        self.head(key).await
    }

    async fn read_current(&self, keys: &[RecordKey]) -> Result<Vec<Current>> {
        // As the default, with the archive alone (history() would read the
        // head again).
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(Current::of(self.head(key).await?, || self.archived(key)).await?);
        }
        Ok(out)
    }

    async fn list(
        &self,
        tenant_id: Option<&str>,
        type_name: Option<&str>,
    ) -> Result<Vec<MetadataRecord>> {
        let texts = self
            .backend
            .list(&layout::kv_records_prefix(tenant_id, type_name))
            .await?;
        codec::records_in_scope(texts.into_iter().map(Ok), tenant_id, type_name)
    }

    async fn history(&self, key: &RecordKey) -> Result<Vec<HistoryEntry>> {
        let archived = self.archived(key).await?;
        let head = self.head(key).await?;
        Ok(codec::full_history(archived, head.as_ref()))
    }

    async fn changes(
        &self,
        tenant_id: Option<&str>,
        query: &ChangeQuery,
    ) -> Result<Vec<ChangeEvent>> {
        self.ensure_layout().await?;
        let scope = RecordKey::new(tenant_id, "*", "*");
        // The counter first. A batch writes its rows, then the counter, so
        // every change up to it has its rows in place, and the two
        // listings below, which are not one snapshot, find each of them
        // (a head replaced in between was archived first); later changes,
        // which they may find torn, are left to the next read.
        let through = self.counter(tenant_id).await?.unwrap_or(0);
        let mut heads = self.list(tenant_id, None).await?;
        heads.retain(|r| r.seq <= through);
        let mut archived = Vec::new();
        for text in self
            .backend
            .list(&layout::kv_history_scope_prefix(tenant_id))
            .await?
        {
            let entry = codec::entry(&text, &scope)?;
            if entry.tenant_id.as_deref() != tenant_id {
                return Err(Error::Corrupted {
                    key: Box::new(entry.key()),
                    message: format!("listed for {scope} but belongs elsewhere"),
                });
            }
            if entry.seq <= through {
                archived.push(entry);
            }
        }
        Ok(codec::change_log(&heads, &archived, query))
    }

    async fn last_sequence(&self, tenant_id: Option<&str>) -> Result<u64> {
        self.ensure_layout().await?;
        Ok(self.counter(tenant_id).await?.unwrap_or(0))
    }

    async fn apply(&self, batch: &Batch) -> Result<u64> {
        self.ensure_layout().await?;
        if self.backend.atomic_batches() {
            self.apply_atomic(batch).await
        } else {
            let _guard = self.lock.acquire().await;
            self.apply_one_by_one(batch).await
        }
    }
}

#[async_trait(?Send)]
impl<B: KvBackend + ?Sized> KvBackend for std::rc::Rc<B> {
    fn kind(&self) -> &str {
        (**self).kind()
    }
    fn shared_across_contexts(&self) -> bool {
        (**self).shared_across_contexts()
    }
    async fn get(&self, key: &str) -> Result<Option<String>> {
        (**self).get(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        (**self).list(prefix).await
    }
    async fn put(&self, key: &str, value: &str) -> Result<()> {
        (**self).put(key, value).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        (**self).delete(key).await
    }
    fn atomic_batches(&self) -> bool {
        (**self).atomic_batches()
    }
    async fn commit(&self, ops: Vec<KvOp>) -> std::result::Result<(), KvCommitError> {
        (**self).commit(ops).await
    }
}
