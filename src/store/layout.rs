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

/// Whether `id` is the storage key of (tenant, type, name), without
/// building it.
pub fn is_record_id(id: &str, tenant_id: Option<&str>, type_name: &str, name: &str) -> bool {
    id.strip_suffix(name)
        .and_then(|rest| rest.strip_suffix('/'))
        .and_then(|rest| rest.strip_suffix(type_name))
        .is_some_and(|scope| scope == scope_prefix(tenant_id))
}

/// Whether `id` is the history key of (tenant, type, name)'s `version`.
pub fn is_history_id(
    id: &str,
    tenant_id: Option<&str>,
    type_name: &str,
    name: &str,
    version: u64,
) -> bool {
    split_history_id(id)
        .is_some_and(|(record, v)| v == version && is_record_id(record, tenant_id, type_name, name))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_a_key_by_its_parts_as_building_it_would() {
        let keys = [
            RecordKey::new(None, "view", "a"),
            RecordKey::new(Some("acme"), "view", "a"),
            RecordKey::new(Some("a/b c"), "x", "y"),
            RecordKey::new(None, "view", "view"),
        ];
        for key in &keys {
            let (t, ty, n) = (key.tenant_id.as_deref(), &key.type_name, &key.name);
            for other in &keys {
                assert_eq!(
                    is_record_id(&record_id(other), t, ty, n),
                    record_id(other) == record_id(key)
                );
                assert_eq!(
                    is_history_id(&history_id(other, 7), t, ty, n, 7),
                    record_id(other) == record_id(key)
                );
            }
            assert!(!is_history_id(&history_id(key, 7), t, ty, n, 8));
            assert!(!is_record_id(&format!("{}x", record_id(key)), t, ty, n));
        }
    }
}
