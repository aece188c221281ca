//! The in-memory backend: tests, edge runtimes, and the fallback when no
//! persistent storage is available.

use std::cell::RefCell;
use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{codec, layout, Batch, Change, Current, Feed, Store};
use crate::error::Result;
use crate::events::{ChangeEvent, ChangeQuery};
use crate::key::{scope_prefix, RecordKey};
use crate::record::{HistoryEntry, MetadataRecord};

#[derive(Debug, Default)]
struct Tables {
    /// Heads by storage key.
    records: BTreeMap<String, MetadataRecord>,
    /// Archived versions by history key.
    history: BTreeMap<String, HistoryEntry>,
    /// Last sequence number by scope prefix.
    counters: BTreeMap<String, u64>,
}

/// Heads, archive and counters in ordered maps keyed by the layout's keys.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: RefCell<Tables>,
    feed: Feed,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// Number of heads held (active or not).
    pub fn len(&self) -> usize {
        self.tables.borrow().records.len()
    }

    /// True when no head is held.
    pub fn is_empty(&self) -> bool {
        self.tables.borrow().records.is_empty()
    }
}

fn range<'a, V>(
    map: &'a BTreeMap<String, V>,
    prefix: &str,
) -> impl Iterator<Item = (&'a String, &'a V)> + 'a {
    map.range(prefix.to_owned()..layout::prefix_end(prefix))
}

#[async_trait(?Send)]
impl Store for MemoryStore {
    fn kind(&self) -> &str {
        "memory"
    }

    fn holds_only_own_writes(&self) -> bool {
        true
    }

    fn feed(&self) -> &Feed {
        &self.feed
    }

    async fn get(&self, key: &RecordKey) -> Result<Option<MetadataRecord>> {
        Ok(self
            .tables
            .borrow()
            .records
            .get(&layout::record_id(key))
            .cloned())
    }

    async fn read_current(&self, keys: &[RecordKey]) -> Result<Vec<Current>> {
        let tables = self.tables.borrow();
        Ok(keys
            .iter()
            .map(|key| {
                let record = tables.records.get(&layout::record_id(key)).cloned();
                let last_version = match &record {
                    Some(r) => r.version,
                    None => range(&tables.history, &layout::history_id_prefix(key))
                        .map(|(_, h)| h.version)
                        .max()
                        .unwrap_or(0),
                };
                Current {
                    record,
                    last_version,
                    unreadable: None,
                }
            })
            .collect())
    }

    async fn list(
        &self,
        tenant_id: Option<&str>,
        type_name: Option<&str>,
    ) -> Result<Vec<MetadataRecord>> {
        let prefix = layout::scope_or_type_prefix(tenant_id, type_name);
        // Storage keys sort by type then name within a scope.
        Ok(range(&self.tables.borrow().records, &prefix)
            .map(|(_, r)| r.clone())
            .collect())
    }

    async fn history(&self, key: &RecordKey) -> Result<Vec<HistoryEntry>> {
        let tables = self.tables.borrow();
        let archived = range(&tables.history, &layout::history_id_prefix(key))
            .map(|(_, h)| h.clone())
            .collect();
        Ok(codec::full_history(
            archived,
            tables.records.get(&layout::record_id(key)),
        ))
    }

    async fn changes(
        &self,
        tenant_id: Option<&str>,
        query: &ChangeQuery,
    ) -> Result<Vec<ChangeEvent>> {
        let tables = self.tables.borrow();
        let prefix = scope_prefix(tenant_id);
        Ok(codec::change_log(
            range(&tables.records, &prefix).map(|(_, r)| r),
            range(&tables.history, &prefix).map(|(_, h)| h),
            query,
        ))
    }

    async fn last_sequence(&self, tenant_id: Option<&str>) -> Result<u64> {
        Ok(self
            .tables
            .borrow()
            .counters
            .get(&layout::counter_id(tenant_id))
            .copied()
            .unwrap_or(0))
    }

    async fn apply(&self, batch: &Batch) -> Result<u64> {
        let mut tables = self.tables.borrow_mut();
        // Check every expectation before writing anything: all or nothing.
        for change in &batch.changes {
            let key = change.key();
            let found = tables
                .records
                .get(&layout::record_id(&key))
                .map(|r| r.version);
            change.expect().check(&key, found)?;
        }
        let counter = layout::counter_id(batch.tenant_id.as_deref());
        let first = tables.counters.get(&counter).copied().unwrap_or(0) + 1;
        for (seq, change) in (first..).zip(&batch.changes) {
            let key = change.key();
            let id = layout::record_id(&key);
            if let Some(old) = tables.records.remove(&id) {
                tables
                    .history
                    .insert(layout::history_id(&key, old.version), old.to_history());
            }
            match change {
                Change::Put { record, .. } => {
                    let mut record = record.clone();
                    record.seq = seq;
                    tables.records.insert(id, record);
                }
                Change::Purge { tombstone, .. } => {
                    let mut tombstone = tombstone.clone();
                    tombstone.seq = seq;
                    tables
                        .history
                        .insert(layout::history_id(&key, tombstone.version), tombstone);
                }
            }
        }
        tables
            .counters
            .insert(counter, first + batch.len() as u64 - 1);
        Ok(first)
    }
}
