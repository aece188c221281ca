//! The `sys_metadata` record, its history entries and the enums they use.

use serde::{Deserialize, Serialize};

use crate::definition::Definition;
use crate::key::RecordKey;

/// Where a record came from (the ADR's `source` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Loaded from metadata files.
    Filesystem,
    /// Written directly to the database.
    Database,
    /// Written through an API.
    Api,
    /// Imported by the migration tools.
    Migration,
}

impl Source {
    /// Every source.
    pub const ALL: [Source; 4] = [
        Source::Filesystem,
        Source::Database,
        Source::Api,
        Source::Migration,
    ];

    /// The source named `name` ([`as_str`](Self::as_str)'s name), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The lowercase name used in records and queries.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Filesystem => "filesystem",
            Source::Database => "database",
            Source::Api => "api",
            Source::Migration => "migration",
        }
    }
}

/// One `sys_metadata` row: a definition and everything known about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetadataRecord {
    /// Metadata type (`object`, `view`, `app`...).
    #[serde(rename = "type")]
    pub type_name: String,
    /// Unique within (tenant, type).
    pub name: String,
    /// The definition: always a JSON object (shared, so records clone cheaply).
    pub data: Definition,
    /// 1 on create, +1 on every real change.
    pub version: u64,
    /// Lowercase hex MD5 of the canonical JSON of `data`.
    pub checksum: String,
    /// Where the current version came from.
    pub source: Source,
    /// False after a soft delete.
    pub is_active: bool,
    /// Who created / owns the record.
    pub owner: String,
    /// Owning tenant; `None` for global records.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Classification tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// RFC 3339 creation time (kept across updates).
    pub created_at: String,
    /// RFC 3339 time of the last real change.
    pub updated_at: String,
    /// Who made the last real change.
    #[serde(default)]
    pub updated_by: Option<String>,
    /// The change that produced this version: its position in the scope's
    /// change log (assigned by the store when it commits; 0 before).
    #[serde(default)]
    pub seq: u64,
    /// What that change did.
    #[serde(default = "Operation::default_for_record")]
    pub operation: Operation,
}

impl MetadataRecord {
    /// The record's identity.
    pub fn key(&self) -> RecordKey {
        RecordKey::new(self.tenant_id.as_deref(), &self.type_name, &self.name)
    }

    /// This version as a history entry: what the record becomes when a
    /// later version supersedes it.
    pub fn to_history(&self) -> HistoryEntry {
        HistoryEntry {
            tenant_id: self.tenant_id.clone(),
            type_name: self.type_name.clone(),
            name: self.name.clone(),
            version: self.version,
            operation: self.operation,
            checksum: self.checksum.clone(),
            actor: self
                .updated_by
                .clone()
                .unwrap_or_else(|| self.owner.clone()),
            timestamp: self.updated_at.clone(),
            is_active: self.is_active,
            data: self.data.clone(),
            seq: self.seq,
        }
    }
}

/// What a committed change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// First version of a record.
    Create,
    /// A real change to an existing record.
    Update,
    /// Soft delete (`is_active` became false).
    Delete,
    /// Undo of a soft delete.
    Restore,
    /// An older version's data written back as a new version.
    Rollback,
    /// Written by the migration tools (source `migration`).
    Import,
    /// The row was removed for good (its history stays).
    Purge,
}

impl Operation {
    fn default_for_record() -> Self {
        Operation::Create
    }

    /// Every operation.
    pub const ALL: [Operation; 7] = [
        Operation::Create,
        Operation::Update,
        Operation::Delete,
        Operation::Restore,
        Operation::Rollback,
        Operation::Import,
        Operation::Purge,
    ];

    /// The operation named `name` ([`as_str`](Self::as_str)'s name), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == name)
    }

    /// The lowercase name used in history and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
            Operation::Restore => "restore",
            Operation::Rollback => "rollback",
            Operation::Import => "import",
            Operation::Purge => "purge",
        }
    }
}

/// One version of a record, as kept in its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Owning tenant; `None` for global records.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Metadata type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Record name.
    pub name: String,
    /// The version this entry describes.
    pub version: u64,
    /// What produced it.
    pub operation: Operation,
    /// Checksum of `data`.
    pub checksum: String,
    /// Who made the change.
    pub actor: String,
    /// RFC 3339 time of the change.
    pub timestamp: String,
    /// Whether the record was active after the change.
    pub is_active: bool,
    /// The definition as of this version.
    pub data: Definition,
    /// The change's position in the scope's change log.
    #[serde(default)]
    pub seq: u64,
}

impl HistoryEntry {
    /// The identity of the record this entry belongs to.
    pub fn key(&self) -> RecordKey {
        RecordKey::new(self.tenant_id.as_deref(), &self.type_name, &self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_as_serde_writes_them() {
        for s in Source::ALL {
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
            assert_eq!(Source::from_name(s.as_str()), Some(s));
        }
        for o in Operation::ALL {
            assert_eq!(
                serde_json::to_string(&o).unwrap(),
                format!("\"{}\"", o.as_str())
            );
            assert_eq!(Operation::from_name(o.as_str()), Some(o));
        }
        assert_eq!(Source::from_name("Database"), None);
        assert_eq!(Operation::from_name("made"), None);
    }
}
