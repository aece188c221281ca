//! Change events: what the change log holds for every committed change.
//!
//! Every change a store commits gets a sequence number, strictly increasing
//! and gap-free within its tenant scope (the global scope has its own). The
//! number is stored with the change, so every process on the store sees the
//! same one, and a reader can ask for every change after a number it saw
//! (see [`crate::store::Store::changes`] and [`crate::store::feed`]).

use serde::{Deserialize, Serialize};

use crate::key::RecordKey;
use crate::record::{HistoryEntry, MetadataRecord, Operation};

/// One committed change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// Position in the scope's change log, starting at 1.
    pub sequence: u64,
    /// What happened.
    pub operation: Operation,
    /// Scope of the changed record (`None`: global).
    pub tenant_id: Option<String>,
    /// Metadata type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Record name.
    pub name: String,
    /// The record's version after the change.
    pub version: u64,
    /// The record's checksum after the change.
    pub checksum: String,
    /// Who made the change.
    pub actor: String,
    /// RFC 3339 time of the change.
    pub timestamp: String,
    /// Whether the record was active after the change.
    pub is_active: bool,
}

impl ChangeEvent {
    /// The identity of the changed record.
    pub fn key(&self) -> RecordKey {
        RecordKey::new(self.tenant_id.as_deref(), &self.type_name, &self.name)
    }
}

impl From<&HistoryEntry> for ChangeEvent {
    fn from(h: &HistoryEntry) -> Self {
        ChangeEvent {
            sequence: h.seq,
            operation: h.operation,
            tenant_id: h.tenant_id.clone(),
            type_name: h.type_name.clone(),
            name: h.name.clone(),
            version: h.version,
            checksum: h.checksum.clone(),
            actor: h.actor.clone(),
            timestamp: h.timestamp.clone(),
            is_active: h.is_active,
        }
    }
}

impl From<&MetadataRecord> for ChangeEvent {
    fn from(r: &MetadataRecord) -> Self {
        ChangeEvent {
            sequence: r.seq,
            operation: r.operation,
            tenant_id: r.tenant_id.clone(),
            type_name: r.type_name.clone(),
            name: r.name.clone(),
            version: r.version,
            checksum: r.checksum.clone(),
            actor: r.updated_by.clone().unwrap_or_else(|| r.owner.clone()),
            timestamp: r.updated_at.clone(),
            is_active: r.is_active,
        }
    }
}

/// Which changes [`crate::store::Store::changes`] returns: those of one
/// scope after `since` (exclusive), oldest first, optionally of one type or
/// one record, at most `limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeQuery {
    /// Changes after this sequence number (0: from the start).
    #[serde(default)]
    pub since: u64,
    /// Only changes of this type.
    #[serde(rename = "type")]
    pub type_name: Option<String>,
    /// Only changes of records with this name.
    pub name: Option<String>,
    /// At most this many.
    #[serde(default, deserialize_with = "crate::query::count::optional_held")]
    pub limit: Option<usize>,
}

impl ChangeQuery {
    /// Every change after `since`.
    pub fn since(since: u64) -> Self {
        ChangeQuery {
            since,
            ..ChangeQuery::default()
        }
    }

    /// Whether `event` passes the type and name filters.
    pub fn matches(&self, event: &ChangeEvent) -> bool {
        event.sequence > self.since
            && self
                .type_name
                .as_ref()
                .is_none_or(|t| *t == event.type_name)
            && self.name.as_ref().is_none_or(|n| *n == event.name)
    }

    /// Sorts `events` by sequence, drops those that do not match, and cuts
    /// at the limit: what a store returns after collecting candidates.
    pub fn finish(&self, mut events: Vec<ChangeEvent>) -> Vec<ChangeEvent> {
        events.retain(|e| self.matches(e));
        crate::sort::sort_by(&mut events, |a, b| a.sequence.cmp(&b.sequence));
        // A non-atomic backend read mid-write can list one change twice.
        events.dedup_by_key(|e| e.sequence);
        if let Some(limit) = self.limit {
            events.truncate(limit);
        }
        events
    }
}
