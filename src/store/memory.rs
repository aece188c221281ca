//! The in-memory backend: tests, edge runtimes, and the fallback when no
//! persistent storage is available.

use std::cell::RefCell;
use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{Store, Write, WriteBatch};
use crate::error::Result;
use crate::key::{scope_prefix, type_prefix, RecordKey};
use crate::record::{HistoryEntry, MetadataRecord};

/// Records and history in ordered maps keyed by [`RecordKey::storage_key`].
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: RefCell<BTreeMap<String, MetadataRecord>>,
    history: RefCell<BTreeMap<String, Vec<HistoryEntry>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// Number of rows held (active or not).
    pub fn len(&self) -> usize {
        self.records.borrow().len()
    }

    /// True when no row is held.
    pub fn is_empty(&self) -> bool {
        self.records.borrow().is_empty()
    }
}

#[async_trait(?Send)]
impl Store for MemoryStore {
    fn kind(&self) -> &str {
        "memory"
    }

    fn holds_only_own_writes(&self) -> bool {
        true
    }

    async fn get(&self, key: &RecordKey) -> Result<Option<MetadataRecord>> {
        Ok(self.records.borrow().get(&key.storage_key()).cloned())
    }

    async fn list(
        &self,
        tenant_id: Option<&str>,
        type_name: Option<&str>,
    ) -> Result<Vec<MetadataRecord>> {
        let prefix = match type_name {
            Some(t) => type_prefix(tenant_id, t),
            None => scope_prefix(tenant_id),
        };
        let records = self.records.borrow();
        let mut out: Vec<MetadataRecord> = records
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(_, r)| r.clone())
            .collect();
        // Storage keys sort by type then name already; keep the contract explicit.
        out.sort_by(|a, b| (&a.type_name, &a.name).cmp(&(&b.type_name, &b.name)));
        Ok(out)
    }

    async fn history(&self, key: &RecordKey) -> Result<Vec<HistoryEntry>> {
        Ok(self
            .history
            .borrow()
            .get(&key.storage_key())
            .cloned()
            .unwrap_or_default())
    }

    async fn commit(&self, batch: WriteBatch) -> Result<()> {
        // Nothing below can fail, so applying in order is atomic.
        let mut records = self.records.borrow_mut();
        let mut history = self.history.borrow_mut();
        for write in batch.writes {
            match write {
                Write::Put(record) => {
                    records.insert(record.key().storage_key(), record);
                }
                Write::Remove(key) => {
                    records.remove(&key.storage_key());
                }
                Write::Append(entry) => {
                    history
                        .entry(entry.key().storage_key())
                        .or_default()
                        .push(entry);
                }
            }
        }
        Ok(())
    }
}
