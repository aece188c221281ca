//! Decoding what a backend hands back, with the checks every backend
//! shares: the text decodes, and it is the record (or in the scope, or the
//! history) that was asked for. A failure is `CORRUPTED`, never served.

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::key::{scope_prefix, type_prefix, RecordKey};
use crate::record::{HistoryEntry, MetadataRecord};

/// The storage-key prefix of one scope, or of one type within it.
pub fn list_prefix(tenant_id: Option<&str>, type_name: Option<&str>) -> String {
    match type_name {
        Some(t) => type_prefix(tenant_id, t),
        None => scope_prefix(tenant_id),
    }
}

fn decode<T: DeserializeOwned>(text: &str, context: &RecordKey, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::Corrupted {
        key: Box::new(context.clone()),
        message: format!("stored {what} does not decode: {e}"),
    })
}

/// A stored record, not yet checked against where it was found.
pub fn record(text: &str, context: &RecordKey) -> Result<MetadataRecord> {
    decode(text, context, "record")
}

/// The record stored under `key`.
pub fn record_at(text: &str, key: &RecordKey) -> Result<MetadataRecord> {
    let record: MetadataRecord = decode(text, key, "record")?;
    if record.key() != *key {
        return Err(Error::Corrupted {
            key: Box::new(key.clone()),
            message: format!("stored under this key but names {}", record.key()),
        });
    }
    Ok(record)
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
        let record: MetadataRecord = decode(&text?, &scope, "record")?;
        if record.tenant_id.as_deref() != tenant_id
            || type_name.is_some_and(|t| t != record.type_name)
        {
            return Err(Error::Corrupted {
                key: Box::new(record.key()),
                message: format!("listed for {scope} but belongs elsewhere"),
            });
        }
        out.push(record);
    }
    out.sort_by(|a, b| (&a.type_name, &a.name).cmp(&(&b.type_name, &b.name)));
    Ok(out)
}

/// The history entries listed for `key`, oldest first.
pub fn history_of(
    texts: impl IntoIterator<Item = Result<String>>,
    key: &RecordKey,
) -> Result<Vec<HistoryEntry>> {
    let mut out = Vec::new();
    for text in texts {
        let entry: HistoryEntry = decode(&text?, key, "history entry")?;
        if entry.key() != *key {
            return Err(Error::Corrupted {
                key: Box::new(key.clone()),
                message: format!("history lists an entry of {}", entry.key()),
            });
        }
        out.push(entry);
    }
    out.sort_by_key(|h| h.version);
    Ok(out)
}
