//! The storage trait every backend implements, and the in-memory backend.
//!
//! The trait is async and object-safe without `Send` bounds, so that
//! IndexedDB and Promise-returning host callbacks can implement it in the
//! browser's single-threaded world. Writes go through one atomic
//! [`Store::commit`]: a record and its history entry land together or not at
//! all, and so does a whole batch.

pub mod codec;
pub mod kv;
mod memory;

pub use kv::{KvBackend, KvOp, KvStore};
pub use memory::MemoryStore;

use async_trait::async_trait;

use crate::error::Result;
use crate::key::RecordKey;
use crate::record::{HistoryEntry, MetadataRecord};

/// One write of an atomic batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Insert or replace a record (keyed by its tenant, type and name).
    Put(MetadataRecord),
    /// Remove a record's row for good (its history is kept).
    Remove(RecordKey),
    /// Append an entry to a record's history.
    Append(HistoryEntry),
}

/// Writes that a backend must apply all together or not at all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteBatch {
    /// The writes, applied in order.
    pub writes: Vec<Write>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        WriteBatch::default()
    }

    /// Adds a write.
    pub fn push(&mut self, write: Write) {
        self.writes.push(write);
    }

    /// True when the batch holds no write.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
}

/// A metadata storage backend.
///
/// Implementations keep records under their (tenant, type, name) identity
/// and history entries per record. `list` returns one scope at a time (the
/// service merges tenant and global scopes itself), sorted by type then name.
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

    /// The record stored under `key`, active or not.
    async fn get(&self, key: &RecordKey) -> Result<Option<MetadataRecord>>;

    /// Every record of one scope (`None` = global), optionally of one type,
    /// sorted by type then name.
    async fn list(
        &self,
        tenant_id: Option<&str>,
        type_name: Option<&str>,
    ) -> Result<Vec<MetadataRecord>>;

    /// Every history entry of `key`, oldest first.
    async fn history(&self, key: &RecordKey) -> Result<Vec<HistoryEntry>>;

    /// Applies `batch` atomically: after an error, nothing of it is visible.
    async fn commit(&self, batch: WriteBatch) -> Result<()>;

    /// For each key, in order: its record, and the highest version in its
    /// history (0 when it has none). What a batch save reads; backends with
    /// real round trips answer all keys in one.
    async fn get_many_with_last_version(
        &self,
        keys: &[RecordKey],
    ) -> Result<Vec<(Option<MetadataRecord>, u64)>> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let record = self.get(key).await?;
            let last = match &record {
                // A live row's history ends at its own version.
                Some(r) => r.version,
                None => self
                    .history(key)
                    .await?
                    .iter()
                    .map(|h| h.version)
                    .max()
                    .unwrap_or(0),
            };
            out.push((record, last));
        }
        Ok(out)
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
    async fn get(&self, key: &RecordKey) -> Result<Option<MetadataRecord>> {
        (**self).get(key).await
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
    async fn commit(&self, batch: WriteBatch) -> Result<()> {
        (**self).commit(batch).await
    }
    async fn get_many_with_last_version(
        &self,
        keys: &[RecordKey],
    ) -> Result<Vec<(Option<MetadataRecord>, u64)>> {
        (**self).get_many_with_last_version(keys).await
    }
}
