//! Canonical JSON straight from JSON text, in one pass and without a tree:
//! the reader for text that [`canonical_order`](crate::canonical_order)
//! gives up on (whitespace, escapes and numbers to rewrite).
//!
//! Text written by `JSON.stringify` already prints numbers and escapes
//! strings the way the canonical form wants; what it does not do is sort
//! keys. So the scanner copies the text as it reads it and, where an
//! object's keys are out of order, reorders the spans of that object's
//! members in the output. Numbers and strings are rewritten only where the
//! text differs from what JavaScript would print (`1.0`, `1e2`, `-0`,
//! escapes other than `JSON.stringify`'s).
//!
//! Anything unusual — invalid JSON, duplicate keys, a lone surrogate escape,
//! nesting at the depth limit, a number beyond the double range — makes the
//! scanner give up ([`Scan::Fallback`]); the caller then takes the tree path,
//! which gives the same answer or the same error. The scanner is therefore an
//! optimisation only, and the property tests and fuzz target compare it with
//! the tree path.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::canonical::{compare_keys, write_number_f64, write_string, SortKey, MAX_DEPTH};

/// What [`scan`] made of the text.
pub(crate) enum Scan {
    /// The canonical text was appended to the output.
    Done,
    /// The text needs the tree path (see the module documentation); the
    /// output holds garbage.
    Fallback,
}

/// One member of an object being read: its key and where its `"key":value`
/// text lies in the output.
struct Member<'a> {
    key: Cow<'a, str>,
    order: SortKey,
    start: usize,
    end: usize,
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Input before this is in `out` (copied or rewritten); input from here
    /// to `pos` is canonical as it is and is copied when something must be
    /// written differently, or at the end.
    flushed: usize,
    out: &'a mut String,
    members: Vec<Member<'a>>,
    spare: String,
}

/// Appends the canonical form of `text` to `out`, or answers
/// [`Scan::Fallback`].
pub(crate) fn scan(text: &str, out: &mut String) -> Scan {
    let mut s = Scanner {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        flushed: 0,
        out,
        members: Vec::new(),
        spare: String::new(),
    };
    let ok = s.value(0).is_some() && {
        s.skip_ws();
        s.pos == s.bytes.len()
    };
    if ok {
        s.flush(s.pos);
        Scan::Done
    } else {
        Scan::Fallback
    }
}

/// Where the first `"`, `\\` or control character (below 0x20) of `bytes`
/// is: what ends a run of string text. One pass, eight bytes at a time (each
/// test is the classic "a byte below n" word trick; a borrow only ever
/// flags bytes after a true hit, so the lowest flag is the first hit).
pub(crate) fn special_byte(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w;
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut words {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let hits = (below(w ^ (ONES * u64::from(b'"')), 1)
            | below(w ^ (ONES * u64::from(b'\\')), 1)
            | below(w, 0x20))
            & HIGH;
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = words.remainder();
    tail.iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|p| at + p)
}

impl<'a> Scanner<'a> {
    /// Where the output would end if the pending input were copied now.
    fn out_pos(&self) -> usize {
        self.out.len() + (self.pos - self.flushed)
    }

    /// Copies the pending input up to `to` into the output.
    fn flush(&mut self, to: usize) {
        self.out.push_str(&self.text[self.flushed..to]);
        self.flushed = to;
    }

    /// Whitespace is dropped: what is pending before it is copied first.
    fn skip_ws(&mut self) {
        if let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.pos) {
            self.flush(self.pos);
            while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            self.flushed = self.pos;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        self.skip_ws();
        match self.peek()? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => {
                let at = self.pos;
                let s = self.string()?;
                self.write_str(at, &s);
                Some(())
            }
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            _ => self.number(),
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Some(())
        } else {
            None
        }
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        if depth + 1 >= MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        self.skip_ws();
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(());
        }
        loop {
            self.value(depth + 1)?;
            self.skip_ws();
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn object(&mut self, depth: usize) -> Option<()> {
        if depth + 1 >= MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        let open = self.out_pos();
        self.skip_ws();
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        let base = self.members.len();
        let mut sorted = true;
        loop {
            self.skip_ws();
            if self.peek()? != b'"' {
                return None;
            }
            let start = self.out_pos();
            let at = self.pos;
            let key = self.string()?;
            let order = SortKey::of(&key);
            if let Some(last) = self.members[base..].last() {
                match compare_keys(&last.order, &last.key, &order, &key) {
                    Ordering::Less => {}
                    Ordering::Greater => sorted = false,
                    // Duplicate keys: the tree path decides which one counts.
                    Ordering::Equal => return None,
                }
            }
            self.write_str(at, &key);
            self.skip_ws();
            if self.peek()? != b':' {
                return None;
            }
            self.pos += 1;
            self.value(depth + 1)?;
            let end = self.out_pos();
            self.members.push(Member {
                key,
                order,
                start,
                end,
            });
            self.skip_ws();
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    break;
                }
                _ => return None,
            }
        }
        if !sorted {
            // The members (and the commas between them) into the output,
            // the closing brace left pending; reordering keeps the length,
            // so the output positions noted by enclosing objects hold.
            self.flush(self.pos - 1);
            let own = &mut self.members[base..];
            own.sort_unstable_by(|a, b| compare_keys(&a.order, &a.key, &b.order, &b.key));
            if own
                .windows(2)
                .any(|w| compare_keys(&w[0].order, &w[0].key, &w[1].order, &w[1].key).is_eq())
            {
                return None;
            }
            self.spare.clear();
            self.spare.push_str(&self.out[open..]);
            self.out.truncate(open);
            for (i, m) in own.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(&self.spare[m.start - open..m.end - open]);
            }
        }
        self.members.truncate(base);
        Some(())
    }

    /// Writes a string read by [`string`](Self::string) from `at` (its
    /// opening quote): a borrowed one is raw text without escapes, quotes
    /// or controls, which `JSON.stringify` would write unchanged, so it
    /// stays pending input; a decoded one is written as JavaScript escapes
    /// it.
    // The Cow itself is the information: borrowed means raw text.
    #[allow(clippy::ptr_arg)]
    fn write_str(&mut self, at: usize, s: &Cow<'a, str>) {
        if let Cow::Owned(decoded) = s {
            self.flush(at);
            write_string(self.out, decoded);
            self.flushed = self.pos;
        }
    }

    /// Reads a string literal: borrowed (its raw text, which is already as
    /// `JSON.stringify` escapes it) when it holds no escapes, decoded when it
    /// does.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let start = self.pos + 1;
        let rest = self.bytes.get(start..)?;
        let end = special_byte(rest)?;
        let mut i = start + end;
        match rest[end] {
            b'"' => {
                self.pos = i + 1;
                return Some(Cow::Borrowed(&self.text[start..i]));
            }
            // A raw control character is not JSON.
            b'\\' => {}
            _ => return None,
        }
        let mut decoded = String::from(&self.text[start..i]);
        loop {
            match *self.bytes.get(i)? {
                b'"' => {
                    self.pos = i + 1;
                    return Some(Cow::Owned(decoded));
                }
                b'\\' => {
                    let c = match *self.bytes.get(i + 1)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let unit = self.hex4(i + 2)?;
                            i += 4;
                            match unit {
                                0xD800..=0xDBFF => {
                                    // A pair, or a lone surrogate (tree path).
                                    if self.bytes.get(i + 2..i + 4)? != b"\\u" {
                                        return None;
                                    }
                                    let low = self.hex4(i + 4)?;
                                    if !(0xDC00..=0xDFFF).contains(&low) {
                                        return None;
                                    }
                                    i += 6;
                                    char::from_u32(
                                        0x1_0000 + ((unit - 0xD800) << 10) + (low - 0xDC00),
                                    )?
                                }
                                0xDC00..=0xDFFF => return None,
                                _ => char::from_u32(unit)?,
                            }
                        }
                        _ => return None,
                    };
                    decoded.push(c);
                    i += 2;
                }
                0x00..=0x1f => return None,
                _ => {
                    // Copy the run up to the next quote or escape at once.
                    let run = i;
                    let rest = self.bytes.get(i..).unwrap_or_default();
                    i += special_byte(rest).unwrap_or(rest.len());
                    decoded.push_str(&self.text[run..i]);
                }
            }
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.bytes.get(at..at + 4)?;
        digits.iter().try_fold(0u32, |n, &d| {
            let v = (d as char).to_digit(16)?;
            Some(n * 16 + v)
        })
    }

    /// A number: copied when JavaScript would print it as written (an
    /// integer of at most 15 digits, not `-0`), else read as a double and
    /// printed as JavaScript prints it.
    fn number(&mut self) -> Option<()> {
        let b = self.bytes;
        let start = self.pos;
        let mut i = start;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        let int_start = i;
        match b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            _ => return None,
        }
        let int_digits = i - int_start;
        let mut plain = true;
        if b.get(i) == Some(&b'.') {
            plain = false;
            i += 1;
            let frac = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == frac {
                return None;
            }
        }
        if let Some(b'e' | b'E') = b.get(i) {
            plain = false;
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            let exp = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == exp {
                return None;
            }
        }
        let literal = &self.text[start..i];
        self.pos = i;
        if plain && int_digits <= 15 && literal != "-0" {
            return Some(());
        }
        let f: f64 = literal.parse().ok()?;
        if !f.is_finite() {
            return None;
        }
        self.flush(start);
        write_number_f64(self.out, f).ok()?;
        self.flushed = i;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(text: &str) -> Option<String> {
        let mut out = String::new();
        match scan(text, &mut out) {
            Scan::Done => Some(out),
            Scan::Fallback => None,
        }
    }

    #[test]
    fn sorts_keys_and_keeps_javascript_number_and_string_forms() {
        assert_eq!(
            canon(r#" { "b" : 1.0, "a" : [1e2, -0, "\u00e9\n\/"], "10": null, "9": true } "#)
                .as_deref(),
            Some(r#"{"9":true,"10":null,"a":[100,0,"é\n/"],"b":1}"#)
        );
        assert_eq!(
            canon(r#"{"z":{"y":2,"x":{"b":[],"a":{}}},"a":123456789012345678}"#).as_deref(),
            Some(r#"{"a":123456789012345680,"z":{"x":{"a":{},"b":[]},"y":2}}"#)
        );
        // Rewrites that change lengths, and dropped whitespace, before and
        // inside members that are then reordered.
        assert_eq!(
            canon(
                "\n{ \"z\" : { \"y\" : \"\\u0041\" ,\t\"x\" : 1.50 } , \"b\" : [ 1e1 , \"\\t\" ] , \"a\" : -0.0 }\r\n"
            )
            .as_deref(),
            Some(r#"{"a":0,"b":[10,"\t"],"z":{"x":1.5,"y":"A"}}"#)
        );
    }

    #[test]
    fn gives_up_where_the_tree_path_decides() {
        for text in [
            r#"{"a":1,"a":2}"#,
            r#"{"b":1,"a":2,"b":3}"#,
            r#""\ud800""#,
            r#""\udc00x""#,
            "1e400",
            "01",
            "[1,]",
            "{} x",
            "\"\u{1}\"",
        ] {
            assert!(canon(text).is_none(), "{text}");
        }
        assert!(canon(&"[".repeat(MAX_DEPTH)).is_none());
    }

    #[test]
    fn special_byte_finds_the_first_quote_backslash_or_control() {
        let naive = |b: &[u8]| b.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
        // Every byte value at every position of texts up to 19 bytes long,
        // over a background of ordinary, high (UTF-8) and near-miss bytes.
        for background in [b'a', 0xC3, 0x21, 0x5B, 0x5D, 0x7F, 0xFF, 0x20] {
            for len in 0..20 {
                for at in 0..len {
                    for byte in 0..=255u8 {
                        let mut text = vec![background; len];
                        text[at] = byte;
                        assert_eq!(special_byte(&text), naive(&text), "{text:?}");
                        // A second hit after the first changes nothing.
                        if at + 1 < len {
                            text[len - 1] = b'"';
                            assert_eq!(special_byte(&text), naive(&text), "{text:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn surrogate_pairs_decode_to_one_character() {
        assert_eq!(
            canon(r#"{"\ud83d\ude00":"\ud83d\ude00"}"#).as_deref(),
            Some("{\"😀\":\"😀\"}")
        );
    }

    #[test]
    fn the_corpus_takes_the_scan_and_matches_the_tree_path() {
        let items: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../tests/data/platform-objects.json")).unwrap();
        for item in &items {
            let data = &item["data"];
            for text in [
                serde_json::to_string(data).unwrap(),
                serde_json::to_string_pretty(data).unwrap(),
            ] {
                let scanned = canon(&text).expect("the corpus needs no fallback");
                assert_eq!(scanned, crate::canonical::canonicalize(data).unwrap());
            }
        }
    }
}
