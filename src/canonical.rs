//! Canonical JSON, checksums and content hashes, byte-identical to upstream
//! ObjectStack's `canonicalize` (`JSON.stringify` of the value with every
//! object's keys sorted).
//!
//! Because upstream builds the sorted object in JavaScript, the text is exactly
//! what a JavaScript engine prints:
//!
//! * keys that are canonical array indices (`"0"` ... `"4294967294"`) come
//!   first in numeric order (JavaScript objects order such keys so), then the
//!   other keys by UTF-16 code units;
//! * numbers print as `Number.prototype.toString` prints them (`5`, `1e+21`,
//!   `1e-7`; `-0` is `0`; integers beyond 2^53 round to the nearest double);
//! * strings escape as `JSON.stringify` escapes them.
//!
//! ```
//! use serde_json::json;
//! let v = json!({"b": 1, "a": [5.0, "é"], "10": null, "9": true});
//! assert_eq!(
//!     objectstack_metadata::canonicalize(&v).unwrap(),
//!     r#"{"9":true,"10":null,"a":[5,"é"],"b":1}"#
//! );
//! ```

use std::borrow::Cow;
use std::cmp::Ordering;

use md5::{Digest, Md5};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use sha2::Sha256;

use crate::error::{Error, Result};

/// Deepest nesting of arrays and objects accepted, in levels: the bound
/// serde_json applies when it parses JSON text, which every other reader
/// and writer of values (JavaScript's, YAML's, this module's) applies too.
/// Deeper values are refused with a `VALIDATION` error, always with
/// [`nesting_message`], instead of risking the stack.
pub const MAX_DEPTH: usize = 127;

/// What a value nested deeper than [`MAX_DEPTH`] is refused with.
pub fn nesting_message() -> String {
    format!("nesting deeper than {MAX_DEPTH} levels of arrays and objects")
}

/// The canonical JSON text of `value`.
///
/// Errors with `VALIDATION` when the value nests deeper than [`MAX_DEPTH`] or
/// holds a number JavaScript cannot represent (non-finite).
pub fn canonicalize(value: &Value) -> Result<String> {
    let mut out = String::with_capacity(256);
    write_value(&mut out, value, 0)?;
    Ok(out)
}

/// Lowercase hex MD5 of the canonical JSON of `value`: the ADR's `checksum`.
pub fn checksum(value: &Value) -> Result<String> {
    Ok(md5_hex(canonicalize(value)?.as_bytes()))
}

/// `sha256:<lowercase hex>` of the canonical JSON of `value`: upstream's
/// current content hash.
pub fn content_hash(value: &Value) -> Result<String> {
    let digest = Sha256::digest(canonicalize(value)?.as_bytes());
    Ok(format!("sha256:{}", to_hex(&digest)))
}

/// Canonical JSON of JSON *text*, without building a `serde_json::Value`.
/// Text that is canonical but for key order (what `JSON.stringify` writes)
/// has its objects' members reordered in two passes; other text is read
/// into a light tree that borrows its strings from the text, which decides
/// every error. Invalid
/// JSON, nesting beyond [`MAX_DEPTH`] and numbers beyond the double range
/// are `VALIDATION` errors. Strings may hold lone surrogates (`"\ud800"`,
/// as JavaScript's `JSON.stringify` writes them): they are kept and
/// written back as escapes, as upstream's `canonicalize` does.
pub fn canonicalize_text(text: &str) -> Result<String> {
    if let Some(out) = crate::canonical_order::canonicalize(text) {
        return Ok(out);
    }
    let mut out = String::with_capacity(text.len());
    let node: Node<'_> = match serde_json::from_str(text) {
        Ok(node) => node,
        // serde_json refuses lone surrogates (`"\ud800"`), which JavaScript
        // strings may hold and upstream hashes: read such text as UTF-16.
        Err(_) if crate::canonical_utf16::has_surrogate_escape(text) => {
            return crate::canonical_utf16::canonicalize(text);
        }
        Err(e) => return Err(Error::validation("json", crate::json::error_message(&e))),
    };
    write_node(&mut out, &node, 0)?;
    Ok(out)
}

/// [`canonicalize_text`] through the reader it takes for text with lone
/// surrogates, whatever the text: a test oracle (the fuzz target compares
/// both readers), not an API.
#[doc(hidden)]
pub fn canonicalize_text_utf16(text: &str) -> Result<String> {
    crate::canonical_utf16::canonicalize(text)
}

/// [`checksum`] of JSON text (see [`canonicalize_text`]).
pub fn checksum_text(text: &str) -> Result<String> {
    Ok(md5_hex(canonicalize_text(text)?.as_bytes()))
}

/// [`content_hash`] of JSON text (see [`canonicalize_text`]).
pub fn content_hash_text(text: &str) -> Result<String> {
    let digest = Sha256::digest(canonicalize_text(text)?.as_bytes());
    Ok(format!("sha256:{}", to_hex(&digest)))
}

/// A JSON document as a light tree whose strings borrow from the text where
/// they hold no escapes.
enum Node<'a> {
    Null,
    Bool(bool),
    Num(f64),
    Str(Cow<'a, str>),
    Arr(Vec<Node<'a>>),
    Obj(Vec<(Cow<'a, str>, Node<'a>)>),
}

/// An object key, borrowed from the text when it can be.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> std::result::Result<Node<'de>, E> {
                Ok(Node::Null)
            }
            fn visit_bool<E>(self, v: bool) -> std::result::Result<Node<'de>, E> {
                Ok(Node::Bool(v))
            }
            fn visit_u64<E>(self, v: u64) -> std::result::Result<Node<'de>, E> {
                Ok(Node::Num(v as f64))
            }
            fn visit_i64<E>(self, v: i64) -> std::result::Result<Node<'de>, E> {
                Ok(Node::Num(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> std::result::Result<Node<'de>, E> {
                Ok(Node::Num(v))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Node<'de>, E> {
                Ok(Node::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Node<'de>, E> {
                Ok(Node::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> std::result::Result<Node<'de>, E> {
                Ok(Node::Str(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Node<'de>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::Arr(items))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Node<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((Key(k), v)) = map.next_entry()? {
                    members.push((k, v));
                }
                Ok(Node::Obj(members))
            }
        }
        d.deserialize_any(V)
    }
}

fn write_node(out: &mut String, node: &Node<'_>, depth: usize) -> Result<()> {
    match node {
        Node::Null => out.push_str("null"),
        Node::Bool(true) => out.push_str("true"),
        Node::Bool(false) => out.push_str("false"),
        Node::Num(f) => write_number_f64(out, *f)?,
        Node::Str(s) => write_string(out, s),
        Node::Arr(items) => {
            check_depth(depth)?;
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_node(out, item, depth + 1)?;
            }
            out.push(']');
        }
        Node::Obj(members) => {
            check_depth(depth)?;
            write_sorted(
                out,
                members.iter().map(|(k, v)| (k.as_ref(), v)),
                depth,
                write_node,
            )?;
        }
    }
    Ok(())
}

/// Lowercase hex MD5 of already-canonical text.
pub fn md5_hex(text: &[u8]) -> String {
    to_hex(&Md5::digest(text))
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0x0f) as usize] as char);
    }
    out
}

fn write_value(out: &mut String, value: &Value, depth: usize) -> Result<()> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n)?,
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            check_depth(depth)?;
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item, depth + 1)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            check_depth(depth)?;
            write_object(out, map, depth)?;
        }
    }
    Ok(())
}

pub(crate) fn check_depth(depth: usize) -> Result<()> {
    if depth >= MAX_DEPTH {
        return Err(Error::validation("data", nesting_message()));
    }
    Ok(())
}

fn write_object(out: &mut String, map: &Map<String, Value>, depth: usize) -> Result<()> {
    write_sorted(
        out,
        map.iter().map(|(k, v)| (k.as_str(), v)),
        depth,
        write_value,
    )
}

/// Writes an object's members with keys in JavaScript order. Of members
/// with the same key the last one counts, as in `JSON.parse`.
fn write_sorted<'v, T: 'v>(
    out: &mut String,
    members: impl Iterator<Item = (&'v str, &'v T)>,
    depth: usize,
    write: fn(&mut String, &T, usize) -> Result<()>,
) -> Result<()> {
    let mut entries: Vec<(SortKey, &str, &T)> =
        members.map(|(k, v)| (SortKey::of(k), k, v)).collect();
    // A stable sort keeps equal keys in document order, so the last wins.
    crate::sort::sort_by(&mut entries, |a, b| compare_keys(&a.0, a.1, &b.0, b.1));
    write_members(out, &entries, write_string, |out, v| {
        write(out, v, depth + 1)
    })
}

/// Writes an object whose `(order, key, value)` entries are sorted by key:
/// of adjacent entries with the same key the last one counts, as in
/// `JSON.parse`. `K` is `str`, or UTF-16 units for text with lone
/// surrogates.
pub(crate) fn write_members<S, K: PartialEq + ?Sized, T>(
    out: &mut String,
    entries: &[(S, &K, &T)],
    write_key: fn(&mut String, &K),
    mut write_value: impl FnMut(&mut String, &T) -> Result<()>,
) -> Result<()> {
    out.push('{');
    let mut first = true;
    for (i, (_, k, v)) in entries.iter().enumerate() {
        if entries.get(i + 1).is_some_and(|next| next.1 == *k) {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        write_key(out, k);
        out.push(':');
        write_value(out, v)?;
    }
    out.push('}');
    Ok(())
}

/// Array-index keys sort before all others, numerically.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SortKey {
    Index(u32),
    Text,
}

impl SortKey {
    pub(crate) fn of(key: &str) -> SortKey {
        match array_index(key) {
            Some(i) => SortKey::Index(i),
            None => SortKey::Text,
        }
    }
}

/// `Some(i)` when `key` is a canonical array index: the decimal form of an
/// integer in 0 ..= 2^32 - 2 with no leading zeros.
pub(crate) fn array_index(key: &str) -> Option<u32> {
    let bytes = key.as_bytes();
    if bytes.is_empty() || bytes.len() > 10 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if bytes.len() > 1 && bytes[0] == b'0' {
        return None;
    }
    let n: u64 = key.parse().ok()?;
    if n <= 4_294_967_294 {
        u32::try_from(n).ok()
    } else {
        None
    }
}

pub(crate) fn compare_keys(ka: &SortKey, a: &str, kb: &SortKey, b: &str) -> Ordering {
    match (ka, kb) {
        (SortKey::Index(x), SortKey::Index(y)) => x.cmp(y),
        (SortKey::Index(_), SortKey::Text) => Ordering::Less,
        (SortKey::Text, SortKey::Index(_)) => Ordering::Greater,
        (SortKey::Text, SortKey::Text) => utf16_cmp(a, b),
    }
}

/// Orders two strings by their UTF-16 code units, as JavaScript's default
/// `Array.prototype.sort` does, without transcoding them.
///
/// UTF-8 byte order equals code point order, which equals UTF-16 order except
/// where a supplementary character (a surrogate pair, units 0xD800..0xDFFF)
/// meets a BMP character at or above U+E000; so only the first differing
/// character needs a closer look.
pub fn utf16_cmp(a: &str, b: &str) -> Ordering {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    match x.iter().zip(y).position(|(p, q)| p != q) {
        None => x.len().cmp(&y.len()),
        Some(i) => {
            let (p, q) = (x[i], y[i]);
            // Bytes of 0xEE and up are lead bytes: 0xEE / 0xEF open U+E000 ..
            // U+FFFF, 0xF0 .. 0xF4 a supplementary character, whose UTF-16
            // lead surrogate (0xD800 ..) sorts before U+E000.
            if p.min(q) >= 0xEE && (p >= 0xF0) != (q >= 0xF0) {
                q.cmp(&p)
            } else {
                p.cmp(&q)
            }
        }
    }
}

fn write_number(out: &mut String, n: &Number) -> Result<()> {
    match n.as_f64() {
        Some(f) => write_number_f64(out, f),
        None => Err(Error::validation(
            "data",
            format!("number {n} is not a finite JavaScript number"),
        )),
    }
}

pub(crate) fn write_number_f64(out: &mut String, f: f64) -> Result<()> {
    if !f.is_finite() {
        return Err(Error::validation(
            "data",
            format!(
                "number {} is not a finite JavaScript number",
                ryu_js::Buffer::new().format(f)
            ),
        ));
    }
    if f == 0.0 {
        // -0 prints as 0 in JavaScript.
        out.push('0');
    } else {
        let mut buf = ryu_js::Buffer::new();
        out.push_str(buf.format_finite(f));
    }
    Ok(())
}

/// Appends `s` as a JSON string literal, escaped exactly as `JSON.stringify`
/// escapes it: `"` `\` and the C0 controls; `\b \f \n \r \t` by name, other
/// controls as lowercase `\u00xx`; everything else (U+2028 included) as is.
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    write_string_body(out, s);
    out.push('"');
}

/// [`write_string`] without the quotes.
pub(crate) fn write_string_body(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0x0f) as usize] as char);
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_order_differs_from_code_point_order_only_above_u_e000() {
        assert_eq!(utf16_cmp("😀", "！"), Ordering::Less);
        assert_eq!(utf16_cmp("é", "😀"), Ordering::Less);
        assert_eq!(utf16_cmp("a", "ab"), Ordering::Less);
        assert_eq!(utf16_cmp("ab", "ab"), Ordering::Equal);
        assert_eq!(utf16_cmp("\u{10000}", "\u{10001}"), Ordering::Less);
        // Same lead bytes, different characters.
        assert_eq!(utf16_cmp("é", "ê"), Ordering::Less);
    }

    #[test]
    fn array_index_bounds() {
        assert_eq!(array_index("0"), Some(0));
        assert_eq!(array_index("4294967294"), Some(4_294_967_294));
        assert_eq!(array_index("4294967295"), None);
        assert_eq!(array_index("01"), None);
        assert_eq!(array_index("-1"), None);
        assert_eq!(array_index(""), None);
        assert_eq!(array_index("99999999999"), None);
    }
}
