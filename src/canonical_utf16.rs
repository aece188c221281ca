//! Canonical JSON of text whose strings hold lone surrogates.
//!
//! JavaScript strings are sequences of UTF-16 code units, and a unit of
//! 0xD800..0xDFFF need not be half of a pair: `JSON.stringify` writes such
//! a lone surrogate as a `\udxxx` escape, and upstream's `canonicalize`
//! hashes it. Rust strings cannot hold one, so serde_json refuses the
//! escape. This reader is taken only for text serde_json refused and that
//! has a surrogate escape in it: a strict JSON parser (RFC 8259, nesting
//! bounded as serde_json bounds it) whose strings are UTF-16 code units,
//! written out exactly as `JSON.stringify` writes them.

use crate::canonical::{SortKey, MAX_DEPTH};
use crate::error::{Error, Result};

/// True when `text` has a `\u` escape of a surrogate (`\uD800`..`\uDFFF`).
pub(crate) fn has_surrogate_escape(text: &str) -> bool {
    let b = text.as_bytes();
    b.windows(4).any(|w| {
        w[0] == b'\\'
            && w[1] == b'u'
            && (w[2] | 0x20) == b'd'
            && matches!(w[3] | 0x20, b'8'..=b'9' | b'a'..=b'f')
    })
}

enum Node {
    Null,
    Bool(bool),
    Num(f64),
    Str(Vec<u16>),
    Arr(Vec<Node>),
    Obj(Vec<(Vec<u16>, Node)>),
}

/// Canonical JSON of `text`, whose strings may hold lone surrogates.
pub(crate) fn canonicalize(text: &str) -> Result<String> {
    let mut p = Parser {
        b: text.as_bytes(),
        i: 0,
    };
    p.ws();
    let node = p.value(0)?;
    p.ws();
    if p.i != p.b.len() {
        return Err(p.fail("trailing characters"));
    }
    let mut out = String::with_capacity(text.len());
    write(&mut out, &node, 0)?;
    Ok(out)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn fail(&self, what: &str) -> Error {
        Error::validation("json", format!("{what} at byte {}", self.i))
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &[u8]) -> bool {
        if self.b[self.i..].starts_with(lit) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node> {
        match self.b.get(self.i) {
            None => Err(self.fail("EOF while parsing a value")),
            Some(b'n') if self.eat(b"null") => Ok(Node::Null),
            Some(b't') if self.eat(b"true") => Ok(Node::Bool(true)),
            Some(b'f') if self.eat(b"false") => Ok(Node::Bool(false)),
            Some(b'"') => Ok(Node::Str(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'[') => {
                let depth = self.nest(depth)?;
                let mut items = Vec::new();
                self.ws();
                if self.eat(b"]") {
                    return Ok(Node::Arr(items));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth)?);
                    self.ws();
                    if self.eat(b",") {
                        continue;
                    }
                    if self.eat(b"]") {
                        return Ok(Node::Arr(items));
                    }
                    return Err(self.fail("expected `,` or `]`"));
                }
            }
            Some(b'{') => {
                let depth = self.nest(depth)?;
                let mut members = Vec::new();
                self.ws();
                if self.eat(b"}") {
                    return Ok(Node::Obj(members));
                }
                loop {
                    self.ws();
                    if self.b.get(self.i) != Some(&b'"') {
                        return Err(self.fail("key must be a string"));
                    }
                    let key = self.string()?;
                    self.ws();
                    if !self.eat(b":") {
                        return Err(self.fail("expected `:`"));
                    }
                    self.ws();
                    members.push((key, self.value(depth)?));
                    self.ws();
                    if self.eat(b",") {
                        continue;
                    }
                    if self.eat(b"}") {
                        return Ok(Node::Obj(members));
                    }
                    return Err(self.fail("expected `,` or `}`"));
                }
            }
            Some(_) => Err(self.fail("expected value")),
        }
    }

    fn nest(&mut self, depth: usize) -> Result<usize> {
        self.i += 1;
        // serde_json's bound: at most MAX_DEPTH levels, said as every
        // reader says it.
        if depth >= MAX_DEPTH {
            return Err(Error::validation(
                "json",
                crate::canonical::nesting_message(),
            ));
        }
        Ok(depth + 1)
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.b.get(self.i) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Node> {
        let start = self.i;
        self.eat(b"-");
        match self.b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.fail("invalid number")),
        }
        if self.eat(b".") && self.digits() == 0 {
            return Err(self.fail("invalid number"));
        }
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.b.get(self.i) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.fail("invalid number"));
            }
        }
        // The grammar above is ASCII; Rust's parse is correctly rounded, as
        // serde_json's `float_roundtrip` and JavaScript's JSON.parse are.
        let text = std::str::from_utf8(&self.b[start..self.i]).unwrap_or("x");
        let f: f64 = text.parse().map_err(|_| self.fail("invalid number"))?;
        if !f.is_finite() {
            return Err(self.fail("number out of range"));
        }
        Ok(Node::Num(f))
    }

    fn hex4(&mut self) -> Result<u16> {
        let mut n: u16 = 0;
        for _ in 0..4 {
            let d = match self.b.get(self.i) {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return Err(self.fail("invalid escape")),
            };
            n = (n << 4) | u16::from(d);
            self.i += 1;
        }
        Ok(n)
    }

    /// A string literal as UTF-16 code units (lone surrogates kept).
    fn string(&mut self) -> Result<Vec<u16>> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let start = self.i;
            let rest = self.b.get(start..).unwrap_or_default();
            self.i += crate::canonical_order::special_byte(rest).unwrap_or(rest.len());
            // The input is a `&str`, and the run stops only at ASCII bytes,
            // so it is whole UTF-8 characters.
            let run = std::str::from_utf8(&self.b[start..self.i])
                .map_err(|_| self.fail("invalid UTF-8"))?;
            out.extend(run.encode_utf16());
            match self.b.get(self.i) {
                None => return Err(self.fail("EOF while parsing a string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = *self
                        .b
                        .get(self.i)
                        .ok_or_else(|| self.fail("EOF while parsing a string"))?;
                    self.i += 1;
                    out.push(match c {
                        b'"' => 0x22,
                        b'\\' => 0x5c,
                        b'/' => 0x2f,
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => 0x0a,
                        b'r' => 0x0d,
                        b't' => 0x09,
                        b'u' => self.hex4()?,
                        _ => {
                            self.i -= 1;
                            return Err(self.fail("invalid escape"));
                        }
                    });
                }
                Some(_) => return Err(self.fail("control character in a string")),
            }
        }
    }
}

fn write(out: &mut String, node: &Node, depth: usize) -> Result<()> {
    match node {
        Node::Null => out.push_str("null"),
        Node::Bool(true) => out.push_str("true"),
        Node::Bool(false) => out.push_str("false"),
        Node::Num(f) => crate::canonical::write_number_f64(out, *f)?,
        Node::Str(s) => write_string(out, s),
        Node::Arr(items) => {
            crate::canonical::check_depth(depth)?;
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, item, depth + 1)?;
            }
            out.push(']');
        }
        Node::Obj(members) => {
            crate::canonical::check_depth(depth)?;
            let mut entries: Vec<(SortKey, &[u16], &Node)> = members
                .iter()
                .map(|(k, v)| (sort_key(k), k.as_slice(), v))
                .collect();
            // Array indices first, numerically; then by UTF-16 code units.
            // Stable, so of equal keys the last one counts, as in JSON.parse.
            crate::sort::sort_by(&mut entries, |a, b| (a.0, a.1).cmp(&(b.0, b.1)));
            crate::canonical::write_members(out, &entries, write_string, |out, v| {
                write(out, v, depth + 1)
            })?;
        }
    }
    Ok(())
}

/// Where `key` sorts: as an array index (first, numerically) or as text.
fn sort_key(key: &[u16]) -> SortKey {
    if key.len() > 10 || !key.iter().all(|&u| (0x30..=0x39).contains(&u)) {
        return SortKey::Text;
    }
    let ascii: String = key.iter().map(|&u| u as u8 as char).collect();
    SortKey::of(&ascii)
}

/// `JSON.stringify` of a string of UTF-16 code units: a surrogate pair is
/// its character, a lone surrogate a lowercase `\udxxx` escape.
fn write_string(out: &mut String, units: &[u16]) {
    let mut text = String::with_capacity(units.len());
    out.push('"');
    for unit in char::decode_utf16(units.iter().copied()) {
        match unit {
            Ok(c) => text.push(c),
            Err(lone) => {
                crate::canonical::write_string_body(out, &text);
                text.clear();
                out.push_str(&format!("\\u{:04x}", lone.unpaired_surrogate()));
            }
        }
    }
    crate::canonical::write_string_body(out, &text);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_surrogate_escapes_only() {
        assert!(has_surrogate_escape(r#""\ud800""#));
        assert!(has_surrogate_escape(r#""\uDFFF""#));
        assert!(!has_surrogate_escape(r#""\u00e9\ud7ff\ue000""#));
    }

    #[test]
    fn lone_surrogates_print_as_json_stringify_prints_them() {
        assert_eq!(
            canonicalize(r#"{"b":"\uD800x","a":["\udc00","\ud83d\ude00"]}"#).unwrap(),
            "{\"a\":[\"\\udc00\",\"😀\"],\"b\":\"\\ud800x\"}"
        );
    }

    #[test]
    fn keys_sort_by_code_units_with_lone_surrogates() {
        // U+FF01 (one unit 0xFF01) sorts after a lone 0xD800, and the pair
        // 0xD800 0xDC00 after the lone 0xD800 followed by "x" (0x78).
        assert_eq!(
            canonicalize(r#"{"\uff01":1,"\ud800\udc00":2,"\ud800x":3,"1":4}"#).unwrap(),
            "{\"1\":4,\"\\ud800x\":3,\"𐀀\":2,\"！\":1}"
        );
    }

    #[test]
    fn refuses_what_json_refuses() {
        for bad in [
            r#""\ud800"#,
            r#"["\ud800",]"#,
            r#"{"\ud800":1,}"#,
            r#""\ud800\x""#,
            r#"["\ud800" 1]"#,
            r#""\ud800" x"#,
            "\"\\ud800\u{1}\"",
            r#"["\ud800", 01]"#,
            r#"["\ud800", 1.]"#,
            r#"["\ud800", 1e999]"#,
        ] {
            assert!(canonicalize(bad).is_err(), "{bad}");
        }
        let deep = format!("{}\"\\ud800\"{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(canonicalize(&deep).unwrap_err().code(), "VALIDATION");
    }
}
