//! What callers pass to writes, and what writes answer.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::record::{MetadataRecord, Operation, Source};

/// Options of [`super::MetadataService::save`].
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

impl ChangeOptions {
    /// The guard of these options.
    pub fn guard(&self) -> Guard<'_> {
        Guard {
            version: self.expected_version,
            checksum: self.expected_checksum.as_deref(),
        }
    }
}

impl SaveOptions {
    /// The guard of these options.
    pub fn guard(&self) -> Guard<'_> {
        Guard {
            version: self.expected_version,
            checksum: self.expected_checksum.as_deref(),
        }
    }
}

/// What a caller expects the stored record to be (optimistic concurrency).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Guard<'a> {
    /// The stored version (0: no record).
    pub version: Option<u64>,
    /// The stored checksum.
    pub checksum: Option<&'a str>,
}

impl Guard<'_> {
    /// True when the caller gave no expectation.
    pub fn is_none(&self) -> bool {
        self.version.is_none() && self.checksum.is_none()
    }
}

/// One item of [`super::MetadataService::save_many`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveItem {
    /// Metadata type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Record name.
    pub name: String,
    /// The definition.
    #[serde(deserialize_with = "crate::json::deserialize")]
    pub data: Value,
    /// Per-item options.
    #[serde(default, deserialize_with = "crate::json::object")]
    pub options: SaveOptions,
}

/// One item of [`super::MetadataService::save_many_definitions`]: a
/// definition already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct SaveDefinition {
    /// Metadata type.
    pub type_name: String,
    /// Record name.
    pub name: String,
    /// The definition.
    pub data: crate::definition::Definition,
    /// Per-item options.
    pub options: SaveOptions,
}

/// One item of [`super::MetadataService::save_texts_answered`]: a
/// definition still as JSON text (a request body's), read (validated, its
/// checksum computed) when its write is planned.
#[derive(Debug, Clone, PartialEq)]
pub struct SaveText {
    /// Metadata type.
    pub type_name: String,
    /// Record name.
    pub name: String,
    /// The definition's JSON text.
    pub data: String,
    /// Per-item options.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_items_options_are_an_object_never_a_list() {
        let item = |options: &str| {
            serde_json::from_str::<SaveItem>(&format!(
                r#"{{"type":"view","name":"a","data":{{}}{options}}}"#
            ))
        };
        let read = item(r#","options":{"expectedVersion":2}"#).unwrap();
        assert_eq!(read.options.expected_version, Some(2));
        assert_eq!(item("").unwrap().options.expected_version, None);
        for list in [r#","options":[2]"#, r#","options":[]"#, r#","options":1"#] {
            let e = item(list).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains("expected an object"), "{list}: {e}");
        }
        let e = item(r#","options":{"expected":2}"#)
            .err()
            .map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("unknown field"));
    }
}
