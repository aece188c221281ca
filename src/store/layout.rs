//! The one definition of how records are laid out under string keys, for
//! every backend that stores by key (the key-value adapter over host
//! callbacks and localStorage, and IndexedDB's object stores).
//!
//! Built on [`RecordKey::storage_key`], which is injective, so no crafted
//! tenant, type or name can produce another record's key:
//!
//! | what | IndexedDB (store, key) | key-value key |
//! |---|---|---|
//! | a record's head (its current version) | `records`, `<storage key>` | `r/<storage key>` |
//! | an archived version | `history`, `<storage key>#<version, 20 digits>` | `h/<storage key>#<version>` |
//! | a scope's change counter | `counters`, `<scope prefix>` | `s/<scope prefix>` |
//! | the layout version | (the database version) | `m/layout` |
//!
//! The 20-digit version sorts a record's archived versions in version order
//! under a plain string comparison.

use crate::key::{scope_prefix, type_prefix, RecordKey};

/// Version of this layout, stored under [`LAYOUT_KEY`] by key-value stores.
/// Version 1 kept the head's own version in history too; version 2 keeps
/// only superseded versions there and stores change sequence numbers.
pub const LAYOUT_VERSION: u64 = 2;

/// Key-value key of the layout marker.
pub const LAYOUT_KEY: &str = "m/layout";

/// The storage key of a record (its IndexedDB primary key).
pub fn record_id(key: &RecordKey) -> String {
    key.storage_key()
}

/// The history key of one archived version (its IndexedDB primary key).
pub fn history_id(key: &RecordKey, version: u64) -> String {
    format!("{}#{version:020}", key.storage_key())
}

/// The prefix shared by every history key of one record.
pub fn history_id_prefix(key: &RecordKey) -> String {
    format!("{}#", key.storage_key())
}

/// Splits a history key into its record's storage key and version.
pub fn split_history_id(id: &str) -> Option<(&str, u64)> {
    let (record, version) = id.rsplit_once('#')?;
    Some((record, version.parse().ok()?))
}

/// The counter key of a scope (its IndexedDB primary key).
pub fn counter_id(tenant_id: Option<&str>) -> String {
    scope_prefix(tenant_id)
}

/// The prefix of every key of one scope, or of one type within it.
pub fn scope_or_type_prefix(tenant_id: Option<&str>, type_name: Option<&str>) -> String {
    match type_name {
        Some(t) => type_prefix(tenant_id, t),
        None => scope_prefix(tenant_id),
    }
}

/// Key-value key of a record's head.
pub fn kv_record(key: &RecordKey) -> String {
    format!("r/{}", record_id(key))
}

/// Key-value key of an archived version.
pub fn kv_history(key: &RecordKey, version: u64) -> String {
    format!("h/{}", history_id(key, version))
}

/// Key-value prefix of a record's archived versions.
pub fn kv_history_prefix(key: &RecordKey) -> String {
    format!("h/{}", history_id_prefix(key))
}

/// Key-value prefix of the heads of a scope (or of one type within it).
pub fn kv_records_prefix(tenant_id: Option<&str>, type_name: Option<&str>) -> String {
    format!("r/{}", scope_or_type_prefix(tenant_id, type_name))
}

/// Key-value prefix of the archived versions of a scope.
pub fn kv_history_scope_prefix(tenant_id: Option<&str>) -> String {
    format!("h/{}", scope_prefix(tenant_id))
}

/// Key-value key of a scope's change counter.
pub fn kv_counter(tenant_id: Option<&str>) -> String {
    format!("s/{}", counter_id(tenant_id))
}

/// Whether a key-value key is one of this layout's record heads.
pub fn is_kv_record(key: &str) -> bool {
    key.starts_with("r/")
}

/// The smallest string greater than every string starting with `prefix`
/// (the exclusive upper bound of a prefix range).
pub fn prefix_end(prefix: &str) -> String {
    let mut upper = prefix.to_owned();
    let Some(last) = upper.pop() else {
        return char::MAX.to_string();
    };
    let next = match last as u32 + 1 {
        0xD800 => Some('\u{E000}'),
        n => char::from_u32(n),
    };
    match next {
        Some(c) => upper.push(c),
        // Past the last scalar value: nothing sorts between `prefix` + MAX
        // and what follows, so extend instead.
        None => {
            upper.push(last);
            upper.push(char::MAX);
        }
    }
    upper
}
