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
    /// Archived versions by storage key, each record's in version order:
    /// a save appends to one record's list instead of searching every
    /// record's versions by a key that repeats the storage key.
    history: BTreeMap<String, Vec<HistoryEntry>>,
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

/// Puts `entry` among the archived versions of the record stored as `id`,
/// in version order (in place of one of the same version).
fn archive(history: &mut BTreeMap<String, Vec<HistoryEntry>>, id: &str, entry: HistoryEntry) {
    let Some(versions) = history.get_mut(id) else {
        history.insert(id.to_owned(), vec![entry]);
        return;
    };
    match versions.binary_search_by_key(&entry.version, |h| h.version) {
        Ok(at) => versions[at] = entry,
        Err(at) => versions.insert(at, entry),
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
                let id = layout::record_id(key);
                let record = tables.records.get(&id).cloned();
                let last_version = match &record {
                    Some(r) => r.version,
                    None => tables
                        .history
                        .get(&id)
                        .and_then(|versions| versions.last())
                        .map(|h| h.version)
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
        let id = layout::record_id(key);
        let archived = tables.history.get(&id).cloned().unwrap_or_default();
        Ok(codec::full_history(archived, tables.records.get(&id)))
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
            range(&tables.history, &prefix).flat_map(|(_, versions)| versions),
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
                archive(&mut tables.history, &id, old.to_history());
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
                    archive(&mut tables.history, &id, tombstone);
                }
            }
        }
        tables
            .counters
            .insert(counter, first + batch.len() as u64 - 1);
        Ok(first)
    }
}
