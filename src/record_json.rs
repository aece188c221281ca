//! A record's JSON text, written directly: what every store row and every
//! answer to JavaScript carries, so written once or twice per save.
//!
//! The text is byte for byte what serde_json writes for the derived
//! `Serialize` of [`MetadataRecord`] (the tests hold it to that), without
//! serde's per-member work: member names are written as constants, and a
//! string without a character to escape (nearly every name, tag, owner and
//! time) is copied as it is.

use crate::record::MetadataRecord;

/// Where a record's `data` goes in its text.
#[derive(Clone, Copy, PartialEq, Eq)]
// Only the WebAssembly bindings answer with records.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) enum DataAt {
    /// Third, where the record's own `Serialize` puts it (stored rows).
    Third,
    /// Last (answers, whose records end with their definition).
    Last,
    /// Left out (answers that give the record its definition otherwise).
    Omitted,
}

/// Appends the JSON text of `record` to `out`, `data` placed as asked.
pub(crate) fn write_record(out: &mut String, record: &MetadataRecord, data_at: DataAt) {
    // Every member, named: a member added to the record fails to compile
    // here until it is written.
    let MetadataRecord {
        type_name,
        name,
        data,
        version,
        checksum,
        source,
        is_active,
        owner,
        tenant_id,
        tags,
        created_at,
        updated_at,
        updated_by,
        seq,
        operation,
    } = record;
    out.push_str("{\"type\":");
    write_str(out, type_name);
    out.push_str(",\"name\":");
    write_str(out, name);
    if data_at == DataAt::Third {
        out.push_str(",\"data\":");
        out.push_str(data.json_text());
    }
    out.push_str(",\"version\":");
    write_u64(out, *version);
    out.push_str(",\"checksum\":");
    write_str(out, checksum);
    out.push_str(",\"source\":\"");
    out.push_str(source.as_str());
    out.push_str("\",\"is_active\":");
    out.push_str(if *is_active { "true" } else { "false" });
    out.push_str(",\"owner\":");
    write_str(out, owner);
    out.push_str(",\"tenant_id\":");
    write_opt(out, tenant_id.as_deref());
    out.push_str(",\"tags\":[");
    for (i, tag) in tags.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, tag);
    }
    out.push_str("],\"created_at\":");
    write_str(out, created_at);
    out.push_str(",\"updated_at\":");
    write_str(out, updated_at);
    out.push_str(",\"updated_by\":");
    write_opt(out, updated_by.as_deref());
    out.push_str(",\"seq\":");
    write_u64(out, *seq);
    out.push_str(",\"operation\":\"");
    out.push_str(operation.as_str());
    out.push('"');
    if data_at == DataAt::Last {
        out.push_str(",\"data\":");
        out.push_str(data.json_text());
    }
    out.push('}');
}

/// A string as JSON: copied between quotes when nothing in it needs an
/// escape, else as serde_json escapes it.
fn write_str(out: &mut String, s: &str) {
    if crate::canonical_order::special_byte(s.as_bytes()).is_none() {
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        crate::canonical::write_string(out, s);
    }
}

fn write_opt(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => write_str(out, s),
        None => out.push_str("null"),
    }
}

fn write_u64(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::Definition;
    use crate::record::{Operation, Source};

    fn records() -> Vec<MetadataRecord> {
        let data = Definition::from_json_text(r#"{"b":[1,"\u0000é"],"a":{"c":null}}"#).unwrap();
        let plain = MetadataRecord {
            type_name: "view".into(),
            name: "all_accounts".into(),
            data,
            version: 3,
            checksum: "0123456789abcdef0123456789abcdef".into(),
            source: Source::Database,
            is_active: true,
            owner: "alice".into(),
            tenant_id: None,
            tags: vec![],
            created_at: "2026-01-01T00:00:00.000Z".into(),
            updated_at: "2026-01-02T00:00:00.000Z".into(),
            updated_by: None,
            seq: 0,
            operation: Operation::Create,
        };
        let odd = MetadataRecord {
            type_name: "a\"b\\c".into(),
            name: "line\nfeed\u{1}\u{7f}é😀".into(),
            version: u64::MAX,
            source: Source::Migration,
            is_active: false,
            owner: String::new(),
            tenant_id: Some("t\"1".into()),
            tags: vec!["x".into(), "\t".into(), "ü".into()],
            updated_by: Some("bob\u{1f}".into()),
            seq: 1 << 53,
            operation: Operation::Rollback,
            ..plain.clone()
        };
        vec![plain, odd]
    }

    #[test]
    fn writes_what_serde_json_writes() {
        for r in records() {
            let mut out = String::new();
            write_record(&mut out, &r, DataAt::Third);
            assert_eq!(out, serde_json::to_string(&r).unwrap());
            let back: MetadataRecord = serde_json::from_str(&out).unwrap();
            assert_eq!(back, r);
        }
    }

    #[test]
    fn places_or_leaves_out_the_definition() {
        for r in records() {
            let whole = serde_json::to_value(&r).unwrap();
            let mut last = String::new();
            write_record(&mut last, &r, DataAt::Last);
            assert!(last.ends_with(&format!(",\"data\":{}}}", r.data.json_text())));
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&last).unwrap(),
                whole
            );
            let mut none = String::new();
            write_record(&mut none, &r, DataAt::Omitted);
            let mut without = whole.clone();
            without.as_object_mut().unwrap().remove("data");
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&none).unwrap(),
                without
            );
        }
    }
}
