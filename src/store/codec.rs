//! Decoding what a backend hands back, with the checks every backend
//! shares: the text decodes, and it is the record (or in the scope, or the
//! history) that was asked for. A failure is `CORRUPTED`, never served.
//! Also the compositions every backend shares: a record's full history from
//! its archive and head, and a scope's change log from both.

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::events::{ChangeEvent, ChangeQuery};
use crate::key::RecordKey;
use crate::record::{HistoryEntry, MetadataRecord};

fn decode<T: DeserializeOwned>(text: &str, context: &RecordKey, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::Corrupted {
        key: Box::new(context.clone()),
        message: format!("stored {what} does not decode: {e}"),
    })
}

/// JSON text of a record or history entry, for backends that store text.
pub fn encode<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Storage {
        message: format!("cannot encode: {e}"),
    })
}

/// JSON text of a record: what its `Serialize` writes, written directly
/// (see `record_json`).
pub fn encode_record(record: &MetadataRecord) -> String {
    crate::record_json::record_text(record, crate::record_json::DataAt::Third)
}

/// A stored record, not yet checked against where it was found.
pub fn record(text: &str, context: &RecordKey) -> Result<MetadataRecord> {
    match crate::record_json::read_record(text, 0) {
        Some((record, end)) if end == text.len() => Ok(record),
        _ => decode(text, context, "record"),
    }
}

/// A stored history entry, not yet checked against where it was found.
pub fn entry(text: &str, context: &RecordKey) -> Result<HistoryEntry> {
    decode(text, context, "history entry")
}

/// `CORRUPTED` unless `record` is the one stored under `key`.
pub fn check_record_at(record: MetadataRecord, key: &RecordKey) -> Result<MetadataRecord> {
    if record.key() != *key {
        return Err(Error::Corrupted {
            key: Box::new(key.clone()),
            message: format!("stored under this key but names {}", record.key()),
        });
    }
    Ok(record)
}

/// The record stored under `key`.
pub fn record_at(text: &str, key: &RecordKey) -> Result<MetadataRecord> {
    check_record_at(record(text, key)?, key)
}

/// `CORRUPTED` unless `record` belongs to the scope (and type) listed.
pub fn check_in_scope(
    record: &MetadataRecord,
    tenant_id: Option<&str>,
    type_name: Option<&str>,
) -> Result<()> {
    if record.tenant_id.as_deref() != tenant_id || type_name.is_some_and(|t| t != record.type_name)
    {
        let scope = RecordKey::new(tenant_id, type_name.unwrap_or("*"), "*");
        return Err(Error::Corrupted {
            key: Box::new(record.key()),
            message: format!("listed for {scope} but belongs elsewhere"),
        });
    }
    Ok(())
}

/// The records listed for one scope (and type), sorted by type then name.
pub fn records_in_scope(
    texts: impl IntoIterator<Item = Result<String>>,
    tenant_id: Option<&str>,
    type_name: Option<&str>,
) -> Result<Vec<MetadataRecord>> {
    let scope = RecordKey::new(tenant_id, type_name.unwrap_or("*"), "*");
    let mut out = Vec::new();
    for text in texts {
        let record = record(&text?, &scope)?;
        check_in_scope(&record, tenant_id, type_name)?;
        out.push(record);
    }
    sort_records(&mut out);
    Ok(out)
}

/// Sorts records by type, then name.
pub fn sort_records(records: &mut [MetadataRecord]) {
    crate::sort::sort_by(records, |a, b| {
        (&a.type_name, &a.name).cmp(&(&b.type_name, &b.name))
    });
}

/// The archived entries listed for `key`, oldest first.
pub fn archived_of(
    texts: impl IntoIterator<Item = Result<String>>,
    key: &RecordKey,
) -> Result<Vec<HistoryEntry>> {
    let mut out = Vec::new();
    for text in texts {
        let entry = entry(&text?, key)?;
        if entry.key() != *key {
            return Err(Error::Corrupted {
                key: Box::new(key.clone()),
                message: format!("history lists an entry of {}", entry.key()),
            });
        }
        out.push(entry);
    }
    crate::sort::sort_by(&mut out, |a, b| a.version.cmp(&b.version));
    Ok(out)
}

/// A record's full history: its archived versions, then its head's.
pub fn full_history(
    mut archived: Vec<HistoryEntry>,
    head: Option<&MetadataRecord>,
) -> Vec<HistoryEntry> {
    crate::sort::sort_by(&mut archived, |a, b| a.version.cmp(&b.version));
    if let Some(head) = head {
        // An archive read before a concurrent write may already hold the
        // head's version: keep one.
        archived.retain(|h| h.version < head.version);
        archived.push(head.to_history());
    }
    archived
}

/// A scope's change log from its heads and archived entries (candidates
/// from any scope are filtered by the caller's query).
pub fn change_log<'a>(
    heads: impl IntoIterator<Item = &'a MetadataRecord>,
    archived: impl IntoIterator<Item = &'a HistoryEntry>,
    query: &ChangeQuery,
) -> Vec<ChangeEvent> {
    let events = heads
        .into_iter()
        .filter(|r| r.seq > query.since)
        .map(ChangeEvent::from)
        .chain(
            archived
                .into_iter()
                .filter(|h| h.seq > query.since)
                .map(ChangeEvent::from),
        )
        .collect();
    query.finish(events)
}
