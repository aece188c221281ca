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

/// [`read_record`]; with `trusted`, the text is known to be as
/// [`write_record`] wrote it (a hash written with it matched): its
/// definition is taken as written, checked only for being JSON, with the
/// checksum stored beside it.
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
        // Checked to be JSON as its end was found (no canonical form, no
        // MD5): a definition is never anything else.
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

    /// The definition: a JSON object, checked to be JSON as its end is
    /// found (its canonical form is for the caller).
    fn definition(&mut self) -> Option<&'a str> {
        let start = self.pos;
        if self.bytes.get(start) != Some(&b'{') {
            return None;
        }
        self.pos = json_end(self.bytes, start)?;
        self.text.get(start..self.pos)
    }
}

/// Where the JSON value (RFC 8259) starting at `at` in `bytes`, after any
/// whitespace, ends; `None` when the text there is not one, or nests
/// deeper than [`MAX_DEPTH`](crate::canonical::MAX_DEPTH) levels. One pass with
/// a stack of the open containers, no recursion and nothing built: what
/// checks that a definition taken as written is JSON, and finds its end.
pub(crate) fn json_end(bytes: &[u8], at: usize) -> Option<usize> {
    let mut open: Vec<u8> = Vec::new();
    let mut i = at;
    'value: loop {
        i = skip_space(bytes, i);
        match *bytes.get(i)? {
            // As deep as a definition may nest, no deeper.
            b'{' | b'[' if open.len() >= crate::canonical::MAX_DEPTH => return None,
            b'{' => {
                i = skip_space(bytes, i + 1);
                if bytes.get(i) == Some(&b'}') {
                    i += 1;
                } else {
                    open.push(b'}');
                    i = member_name(bytes, i)?;
                    continue 'value;
                }
            }
            b'[' => {
                i = skip_space(bytes, i + 1);
                if bytes.get(i) == Some(&b']') {
                    i += 1;
                } else {
                    open.push(b']');
                    continue 'value;
                }
            }
            b'"' => i = string_end(bytes, i)?,
            b't' => i = literal_end(bytes, i, b"true")?,
            b'f' => i = literal_end(bytes, i, b"false")?,
            b'n' => i = literal_end(bytes, i, b"null")?,
            _ => i = number_end(bytes, i)?,
        }
        // After a value: the containers it closes, up to the next value.
        loop {
            let Some(&close) = open.last() else {
                return Some(i);
            };
            i = skip_space(bytes, i);
            match *bytes.get(i)? {
                b',' if close == b'}' => {
                    i = member_name(bytes, skip_space(bytes, i + 1))?;
                    continue 'value;
                }
                b',' => {
                    i += 1;
                    continue 'value;
                }
                b if b == close => {
                    open.pop();
                    i += 1;
                }
                _ => return None,
            }
        }
    }
}

fn skip_space(bytes: &[u8], mut i: usize) -> usize {
    while matches!(bytes.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// `"name" :` at `i`: where the member's value may start.
fn member_name(bytes: &[u8], i: usize) -> Option<usize> {
    if bytes.get(i) != Some(&b'"') {
        return None;
    }
    let i = skip_space(bytes, string_end(bytes, i)?);
    (bytes.get(i) == Some(&b':')).then_some(i + 1)
}

/// The end of the string whose opening quote is at `i`: escapes checked,
/// no raw control character.
#[inline(always)]
fn string_end(bytes: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        i = crate::canonical_order::next_special(bytes, i)?;
        match *bytes.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => match *bytes.get(i + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                b'u' if bytes.get(i + 2..i + 6)?.iter().all(u8::is_ascii_hexdigit) => i += 6,
                _ => return None,
            },
            _ => return None,
        }
    }
}

fn literal_end(bytes: &[u8], i: usize, literal: &[u8]) -> Option<usize> {
    let end = i + literal.len();
    (bytes.get(i..end)? == literal).then_some(end)
}

/// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` at `i`.
fn number_end(bytes: &[u8], mut i: usize) -> Option<usize> {
    use crate::canonical_order::digits;
    if bytes.get(i) == Some(&b'-') {
        i += 1;
    }
    match bytes.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => i += digits(bytes, i),
        _ => return None,
    }
    if bytes.get(i) == Some(&b'.') {
        let n = digits(bytes, i + 1);
        if n == 0 {
            return None;
        }
        i += 1 + n;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let n = digits(bytes, i);
        if n == 0 {
            return None;
        }
        i += n;
    }
    Some(i)
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
    fn a_trusted_read_takes_only_a_definition_that_is_json() {
        let [plain, odd] = <[MetadataRecord; 2]>::try_from(records()).ok().unwrap();
        for (data, owner) in [
            (r#"{"version":1}"#, "alice"),
            (
                r#"{"a":{"version":2},"version":[{"version":3}],"b":",\"version\":4"}"#,
                "alice",
            ),
            (r#"{"a":1}"#, r#","version":5,"x":{"#),
            (r#"{}"#, "alice"),
        ] {
            for base in [&plain, &odd] {
                let record = MetadataRecord {
                    data: Definition::from_json_text(data).unwrap(),
                    owner: owner.into(),
                    ..base.clone()
                };
                let mut text = String::new();
                write_record(&mut text, &record, DataAt::Third);
                let read = read_record_as(&text, 0, false);
                let trusted = read_record_as(&text, 0, true);
                assert_eq!(trusted, read, "{text}");
                // Strings with escapes (a quote) are the derived reader's.
                if base == &plain && !owner.contains('"') {
                    let (got, end) = trusted.unwrap();
                    assert_eq!((got.data.json_text(), end), (data, text.len()));
                    assert_eq!(got.owner, owner);
                }
            }
        }
        // A text cut before its version member, whose definition is not
        // one JSON object, or that holds more between the definition and
        // the version (as a text changed and hashed again might), is not
        // read here: the derived reader reads it, or says why not.
        let mut text = String::new();
        write_record(&mut text, &plain, DataAt::Third);
        let at = text.find(",\"version\":").unwrap();
        let data = r#""data":{"b":[1,"\u0000é"],"a":{"c":null}}"#;
        let inserted = text.replace(data, &format!(r#"{data},"later":{{"k":{{}}}}"#));
        for other in [
            text[..at].to_owned(),
            text.replace(r#""data":{"b""#, r#""data":[{"b""#),
            text.replace(data, r#""data":{"#),
            text.replace(data, r#""data":{"a":1},{"b":2}"#),
            text.replace(data, r#""data":{"a":[1}]"#),
            text.replace(data, r#""data":{"a":"}"#),
            text.replace(data, r#""data":{"a":1}}"#),
            text.replace(data, r#""data":{"a":1 x}"#),
            text.replace(data, r#""data":{"a":}"#),
            text.replace(data, r#""data":{"a":"\q"}"#),
            inserted.clone(),
        ] {
            assert_eq!(read_record_as(&other, 0, true), None, "{other}");
        }
        let key = crate::key::RecordKey::new(None, "view", "all_accounts");
        assert_eq!(
            crate::store::codec::record(&inserted, &key).ok(),
            Some(plain.clone())
        );
        // A definition as deep as one may be is read; one level more, or
        // far more, is not (a save refuses it too).
        let max = crate::canonical::MAX_DEPTH;
        for (depth, read) in [(max, true), (max + 1, false), (100_000, false)] {
            let deep = format!("{}{}", "[".repeat(depth - 1), "]".repeat(depth - 1));
            let text = text.replace(data, &format!(r#""data":{{"a":{deep}}}"#));
            assert_eq!(read_record_as(&text, 0, true).is_some(), read, "{depth}");
            assert_eq!(read_record_as(&text, 0, false).is_some(), read, "{depth}");
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

    /// `json_end`'s verdict on `text`: one JSON value, nothing but
    /// whitespace after it.
    fn is_json(text: &str) -> bool {
        json_end(text.as_bytes(), 0).is_some_and(|end| {
            text[end..]
                .bytes()
                .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        })
    }

    fn serde_says(text: &str) -> bool {
        serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
    }

    #[test]
    fn json_end_reads_strings_across_their_eight_byte_words() {
        // Each escape, valid or not, and a raw control character, at every
        // place in strings of up to 19 bytes, some ending the text.
        for special in [
            "\\\"", "\\\\", "\\u0041", "\\u00", "\\q", "\u{1}", "\"", "é",
        ] {
            for len in 0..20 {
                for at in 0..=len {
                    let body = format!("{}{special}{}", "a".repeat(at), "b".repeat(len - at));
                    for text in [
                        format!("\"{body}\""),
                        format!("[\"{body}\",1]"),
                        format!("\"{body}"),
                    ] {
                        assert_eq!(is_json(&text), serde_says(&text), "{text:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn json_end_agrees_with_serde_on_hand_picked_texts() {
        for text in [
            r#"{}"#,
            r#"{ }"#,
            r#" {"a" : [1, -0, 2.5e-3, 1E+2, true, false, null, "x"] } "#,
            r#"{"\u00e9\ud800\"\\\/\b\f\n\r\t":{"b":[[],{}]}}"#,
            r#"[]"#,
            r#"[1]"#,
            r#""é""#,
            r#"{"a":1,}"#,
            r#"[1,]"#,
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{,}"#,
            r#"{"a":1"b":2}"#,
            r#"[1 2]"#,
            r#"01"#,
            r#"1."#,
            r#".5"#,
            r#"1e"#,
            r#"-"#,
            r#"+1"#,
            r#"tru"#,
            r#"nulll"#,
            r#""\x""#,
            r#""\u12g4""#,
            "\"\u{1}\"",
            r#"{"a":1]"#,
            r#"[1}"#,
            r#"{"a":1}}"#,
            r#"]"#,
            r#""#,
            r#"{"a":{"b":1}"#,
            r#"["unterminated]"#,
            r#"{"a":1} {"b":2}"#,
        ] {
            assert_eq!(is_json(text), serde_says(text), "{text}");
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// Any text of JSON's tokens, well or badly put together: `json_end`
        /// accepts exactly what serde_json reads.
        #[test]
        fn json_end_agrees_with_serde(tokens in proptest::collection::vec(proptest::sample::select(vec![
            "{", "}", "[", "]", ",", ":", " ", "\n", "\"a\"", "\"\\u00e9\"", "\"\\q\"", "\"\\\"\"",
            "\"é\"", "\"", "0", "-1", "12", "01", "1.5", "1.", "2e3", "-0E-7", "1e", "true", "false",
            "null", "nul", "x", "\u{1}",
        ]), 0..24)) {
            let text: String = tokens.concat();
            proptest::prop_assert_eq!(is_json(&text), serde_says(&text), "{}", text);
        }

        /// Every JSON text is accepted, compact or pretty; with one
        /// character taken out, `json_end` still agrees with serde_json.
        #[test]
        fn json_end_accepts_json_and_agrees_on_it_cut(value in json_value(), pretty: bool, cut: usize) {
            let text = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                serde_json::to_string(&value).unwrap()
            };
            proptest::prop_assert!(is_json(&text), "{}", text);
            let mut chars: Vec<char> = text.chars().collect();
            chars.remove(cut % chars.len());
            let cut: String = chars.into_iter().collect();
            proptest::prop_assert_eq!(is_json(&cut), serde_says(&cut), "{}", cut);
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e300f64..1e300).prop_map(Value::from),
            "[a-z\"\\\\\u{0}-\u{1f}é😀]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z\"é]{0,4}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
