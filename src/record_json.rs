//! A record's JSON text, written and read directly: what every store row
//! and every answer to JavaScript carries, written once or twice per save
//! and read once per record a cold read brings in.
//!
//! The text written is byte for byte what serde_json writes for the derived
//! `Serialize` of [`MetadataRecord`] (the tests hold it to that), without
//! serde's per-member work: member names are written as constants, and a
//! string without a character to escape (nearly every name, tag, owner and
//! time) is copied as it is.
//!
//! The reader takes exactly that text, as this writer writes it (members in
//! order, strings without escapes), and gives up on anything else
//! ([`None`]): the caller then reads with the derived `Deserialize`, which
//! decides every error. A record read either way is the same (the tests
//! and the `record_decode` fuzz target compare them).

use crate::definition::Definition;
use crate::record::{MetadataRecord, Operation, Source};

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

/// [`write_record`] into a string of its own.
pub(crate) fn record_text(record: &MetadataRecord, data_at: DataAt) -> String {
    let data = match data_at {
        DataAt::Omitted => 0,
        _ => record.data.json_text().len(),
    };
    let mut out = String::with_capacity(data + 320);
    write_record(&mut out, record, data_at);
    out
}

/// The most bytes [`write_record`] writes for `record`: its definition,
/// every string escaped at six bytes a byte, and the rest.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) fn record_bound(record: &MetadataRecord) -> usize {
    let strings = [
        &record.type_name,
        &record.name,
        &record.checksum,
        &record.owner,
        &record.created_at,
        &record.updated_at,
    ]
    .iter()
    .map(|s| s.len())
    .chain(record.tenant_id.iter().map(String::len))
    .chain(record.updated_by.iter().map(String::len))
    .chain(record.tags.iter().map(|t| t.len() + 3))
    .sum::<usize>();
    record.data.json_text().len() + 6 * strings + 400
}

/// A string as JSON: copied between quotes when nothing in it needs an
/// escape, else as serde_json escapes it.
pub(crate) fn write_str(out: &mut String, s: &str) {
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

pub(crate) fn write_u64(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// The record whose text starts at `at` in `text`, as [`write_record`]
/// writes it with its `data` third, and where its text ends; `None` for
/// any other text (see the module documentation).
pub(crate) fn read_record(text: &str, at: usize) -> Option<(MetadataRecord, usize)> {
    read_record_as(text, at, false)
}

/// [`read_record`]; with `trusted`, its definition is taken as written
/// (its integrity checked another way), checked only for being JSON, with
/// the checksum stored beside it.
pub(crate) fn read_record_as(
    text: &str,
    at: usize,
    trusted: bool,
) -> Option<(MetadataRecord, usize)> {
    let mut r = Reader {
        text,
        bytes: text.as_bytes(),
        pos: at,
    };
    r.literal(b"{\"type\":")?;
    let type_name = r.string()?;
    r.literal(b",\"name\":")?;
    let name = r.string()?;
    r.literal(b",\"data\":")?;
    let data = r.definition()?;
    r.literal(b",\"version\":")?;
    let version = r.number()?;
    r.literal(b",\"checksum\":")?;
    let checksum = r.string()?;
    let data = if trusted {
        // Still JSON (a parse into nothing, no canonical form, no MD5):
        // a definition is never anything else.
        serde_json::from_str::<serde::de::IgnoredAny>(data).ok()?;
        Definition::from_trusted_text(data, checksum.clone())
    } else {
        Definition::from_json_text(data).ok()?
    };
    r.literal(b",\"source\":")?;
    let source = Source::from_name(r.str()?)?;
    r.literal(b",\"is_active\":")?;
    let is_active = r.boolean()?;
    r.literal(b",\"owner\":")?;
    let owner = r.string()?;
    r.literal(b",\"tenant_id\":")?;
    let tenant_id = r.optional()?;
    r.literal(b",\"tags\":[")?;
    let mut tags = Vec::new();
    if !r.eat(b']') {
        loop {
            tags.push(r.string()?);
            if r.eat(b']') {
                break;
            }
            r.literal(b",")?;
        }
    }
    r.literal(b",\"created_at\":")?;
    let created_at = r.string()?;
    r.literal(b",\"updated_at\":")?;
    let updated_at = r.string()?;
    r.literal(b",\"updated_by\":")?;
    let updated_by = r.optional()?;
    r.literal(b",\"seq\":")?;
    let seq = r.number()?;
    r.literal(b",\"operation\":")?;
    let operation = Operation::from_name(r.str()?)?;
    r.literal(b"}")?;
    let record = MetadataRecord {
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
    };
    Some((record, r.pos))
}

/// The unsigned integer written at `at` in `text` (digits, no leading
/// zero) and where it ends.
// Only IndexedDB's packed rows carry numbers outside a record.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) fn read_u64(text: &str, at: usize) -> Option<(u64, usize)> {
    let mut r = Reader {
        text,
        bytes: text.as_bytes(),
        pos: at,
    };
    r.number().map(|n| (n, r.pos))
}

/// The string written at `at` in `text` (without escapes) and where it
/// ends.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) fn read_str(text: &str, at: usize) -> Option<(&str, usize)> {
    let mut r = Reader {
        text,
        bytes: text.as_bytes(),
        pos: at,
    };
    r.str().map(|s| (s, r.pos))
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn literal(&mut self, literal: &[u8]) -> Option<()> {
        let end = self.pos + literal.len();
        (self.bytes.get(self.pos..end)? == literal).then(|| self.pos = end)
    }

    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.bytes.get(self.pos) == Some(&byte);
        self.pos += usize::from(hit);
        hit
    }

    /// A string without escapes.
    fn str(&mut self) -> Option<&'a str> {
        self.literal(b"\"")?;
        let start = self.pos;
        let len = crate::canonical_order::special_byte(&self.bytes[start..])?;
        self.pos = start + len;
        self.literal(b"\"")?;
        self.text.get(start..start + len)
    }

    fn string(&mut self) -> Option<String> {
        self.str().map(str::to_owned)
    }

    fn optional(&mut self) -> Option<Option<String>> {
        if self.literal(b"null").is_some() {
            return Some(None);
        }
        self.string().map(Some)
    }

    fn boolean(&mut self) -> Option<bool> {
        if self.literal(b"true").is_some() {
            Some(true)
        } else {
            self.literal(b"false").map(|()| false)
        }
    }

    /// Digits, as an integer that fits.
    fn number(&mut self) -> Option<u64> {
        let start = self.pos;
        let digits = crate::canonical_order::digits(self.bytes, start);
        // No leading zero (JSON has none), nothing serde_json would read
        // differently.
        if digits == 0 || (digits > 1 && self.bytes[start] == b'0') {
            return None;
        }
        self.pos = start + digits;
        self.text[start..self.pos].parse().ok()
    }

    /// The definition: an object, its end found by its brackets outside
    /// strings, then read as every definition is read.
    fn definition(&mut self) -> Option<&'a str> {
        let start = self.pos;
        if self.bytes.get(start) != Some(&b'{') {
            return None;
        }
        let mut depth = 0usize;
        let mut i = start;
        loop {
            match *self.bytes.get(i)? {
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                b'"' => {
                    i += 1;
                    loop {
                        i += crate::canonical_order::special_byte(self.bytes.get(i..)?)?;
                        match self.bytes[i] {
                            b'"' => break,
                            b'\\' => i += 2,
                            // A raw control character: not JSON.
                            _ => return None,
                        }
                    }
                }
                _ => {}
            }
            i += 1;
        }
        self.pos = i + 1;
        self.text.get(start..self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn reads_what_it_writes_and_gives_up_on_anything_else() {
        let [plain, odd] = <[MetadataRecord; 2]>::try_from(records()).ok().unwrap();
        let mut text = String::new();
        write_record(&mut text, &plain, DataAt::Third);
        assert_eq!(read_record(&text, 0), Some((plain.clone(), text.len())));
        // From inside a longer text, as packed rows hold it.
        let packed = format!("[[7,0,{text}]]");
        assert_eq!(
            read_record(&packed, 6),
            Some((plain.clone(), 6 + text.len()))
        );
        assert_eq!(read_u64(&packed, 2), Some((7, 3)));
        assert_eq!(read_u64("1", 2), None);
        // Every value but strings with escapes.
        let unescaped = MetadataRecord {
            type_name: "app".into(),
            name: "é😀".into(),
            data: Definition::from_json_text(r#"{"a":"}]\"[{","b":[{}],"c":"\\"}"#).unwrap(),
            tenant_id: Some("t".into()),
            tags: vec!["x".into(), "y".into()],
            updated_by: Some("bob".into()),
            ..odd.clone()
        };
        let mut text = String::new();
        write_record(&mut text, &unescaped, DataAt::Third);
        assert_eq!(read_record(&text, 0), Some((unescaped, text.len())));
        // Escapes, other orders, spacing, defaults left out, numbers the
        // derived reader would take otherwise, other definitions: the
        // derived reader's to decide.
        let mut escaped = String::new();
        write_record(&mut escaped, &odd, DataAt::Third);
        let mut last = String::new();
        write_record(&mut last, &plain, DataAt::Last);
        let mut plain_text = String::new();
        write_record(&mut plain_text, &plain, DataAt::Third);
        for other in [
            escaped,
            last,
            plain_text.replace(r#""version":3"#, r#""version":03"#),
            plain_text.replace(r#""version":3"#, r#""version":3.0"#),
            plain_text.replace(r#""version":3"#, r#""version":-3"#),
            plain_text.replace(r#""version":3"#, r#""version":18446744073709551616"#),
            plain_text.replace(r#""source":"database""#, r#""source":"Database""#),
            plain_text.replace(r#""operation":"create""#, r#""operation":"made""#),
            plain_text.replace(r#","seq":0"#, ""),
            plain_text.replace(r#""is_active":true"#, r#""is_active": true"#),
            plain_text.replace(r#""tags":[]"#, r#""tags":[1]"#),
            plain_text.replace(r#""a":{"c":null}"#, r#""a":{"c":nul}"#),
            plain_text.replace(r#""data":{"b""#, r#""data":[{"b""#),
            plain_text.replace(r#"{"c":null}}"#, r#"{"c":null}]"#),
            plain_text.replace(r#""name":"all_accounts""#, "\"name\":\"a\u{1}\""),
            plain_text[..plain_text.len() - 1].to_owned(),
            String::new(),
        ] {
            let derived = serde_json::from_str::<MetadataRecord>(&other).ok();
            let read = read_record(&other, 0).filter(|(_, end)| *end == other.len());
            assert!(read.is_none(), "{other}");
            // The caller's answer is the derived reader's.
            let key = crate::key::RecordKey::new(None, "view", "all_accounts");
            assert_eq!(
                crate::store::codec::record(&other, &key).ok(),
                derived,
                "{other}"
            );
        }
    }

    #[test]
    fn writes_within_its_bound() {
        for r in records() {
            let worst = MetadataRecord {
                name: "\u{1}".repeat(40),
                tags: vec!["\u{1f}".repeat(10); 20],
                owner: "\"".repeat(30),
                ..r
            };
            for at in [DataAt::Third, DataAt::Last, DataAt::Omitted] {
                let mut out = String::new();
                write_record(&mut out, &worst, at);
                assert!(out.len() <= record_bound(&worst), "{out}");
            }
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
