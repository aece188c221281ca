//! Canonical JSON of text that is canonical but for its key order: what
//! `JSON.stringify` writes, the text of every save and checksum of a
//! JavaScript value.
//!
//! Such text needs no rewriting, only some objects' members put in order.
//! The first pass reads the text and notes every object (where it opens and
//! closes, in document order) and, for the objects whose keys are out of
//! order, their members sorted; nothing is written. The second pass writes
//! the output once: runs of the text as they are, and each out-of-order
//! object by its sorted members, each member's text written the same way.
//! Every byte is copied once, however deep the reordered objects lie.
//!
//! Anything else — whitespace, an escape `JSON.stringify` would not write,
//! a key with an escape, a number JavaScript would print differently,
//! duplicate keys, nesting at the depth limit, text that is not JSON — makes
//! it give up ([`None`]): the caller then takes the tree path, which
//! rewrites what needs it and decides every error. The property tests and
//! the fuzz target compare its output with the tree path's.

use std::cmp::Ordering;

use crate::canonical::{
    array_index, compare_keys, utf16_cmp, write_number_f64, SortKey, MAX_DEPTH,
};

/// Where the first `"`, `\\` or control character (below 0x20) of `bytes`
/// is: what ends a run of string text. One pass, eight bytes at a time (each
/// test is the classic "a byte below n" word trick; a borrow only ever
/// flags bytes after a true hit, so the lowest flag is the first hit).
pub(crate) fn special_byte(bytes: &[u8]) -> Option<usize> {
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut words {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        if let Some(hit) = special_in_word(w) {
            return Some(at + hit);
        }
        at += 8;
    }
    let tail = words.remainder();
    tail.iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|p| at + p)
}

/// Where the next `"`, `\\` or control character of `bytes` from `i` on
/// is: eight bytes at a time in line, then [`special_byte`] for the last
/// few. Most keys and strings end within two words, where a call to the
/// general scan cost more than the scan.
#[inline(always)]
pub(crate) fn next_special(bytes: &[u8], mut i: usize) -> Option<usize> {
    loop {
        match bytes
            .get(i..i + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
        {
            Some(word) => match special_in_word(u64::from_le_bytes(word)) {
                Some(at) => return Some(i + at),
                None => i += 8,
            },
            None => return special_byte(bytes.get(i..)?).map(|at| i + at),
        }
    }
}

/// [`special_byte`] of eight bytes read little-endian.
#[inline(always)]
fn special_in_word(w: u64) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w;
    let hits = (below(w ^ (ONES * u64::from(b'"')), 1)
        | below(w ^ (ONES * u64::from(b'\\')), 1)
        | below(w, 0x20))
        & HIGH;
    (hits != 0).then(|| (hits.trailing_zeros() / 8) as usize)
}

/// How many ASCII digits `bytes` holds from `from` on.
pub(crate) fn digits(bytes: &[u8], from: usize) -> usize {
    bytes.get(from..).map_or(0, |rest| {
        rest.iter().take_while(|b| b.is_ascii_digit()).count()
    })
}

/// How a member's key compares.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An array index (`head` holds it): before every other key, in
    /// numeric order.
    Index,
    /// Another key whose first eight bytes (or all, if shorter) are ASCII:
    /// `head` holds them big-endian, zero-padded, so two different heads
    /// compare as the keys do (a key's bytes are at least 0x20).
    Ascii,
    /// Any other key: compared in full.
    Other,
}

/// A member of an object whose keys are out of order.
#[derive(Clone, Copy)]
struct Member {
    head: u64,
    kind: Kind,
    /// The key's text, between its quotes.
    key_start: u32,
    key_end: u32,
    /// The end of the member's value.
    end: u32,
    /// The first object (in document order) that may lie in the value.
    first_object: u32,
}

/// An object, in document order.
struct Object {
    /// Where its `{` and `}` are.
    open: u32,
    close: u32,
    /// The first object after this one's contents.
    after: u32,
    /// Its members in order (in `Reader::sorted`) when its keys are out of
    /// order; empty when they are in order.
    members: (u32, u32),
    in_order: bool,
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    objects: Vec<Object>,
    /// Members of the objects being read.
    open: Vec<Member>,
    /// Members of the objects out of order, each object's sorted.
    sorted: Vec<Member>,
    number: String,
}

/// The canonical form of `text`, or `None` (see the module documentation).
pub(crate) fn canonicalize(text: &str) -> Option<String> {
    // Positions are kept as u32.
    if u32::try_from(text.len()).is_err() {
        return None;
    }
    let mut lists = SCRATCH.with(|s| s.take());
    let mut r = Reader {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        objects: std::mem::take(&mut lists.objects),
        open: std::mem::take(&mut lists.open),
        sorted: std::mem::take(&mut lists.sorted),
        number: String::new(),
    };
    let read = r.value(0).is_some() && r.pos == r.bytes.len();
    let out = read.then(|| {
        let mut out = String::with_capacity(text.len());
        r.write_span(&mut out, 0, text.len(), 0);
        out
    });
    lists = Lists {
        objects: r.objects,
        open: r.open,
        sorted: r.sorted,
    };
    lists.keep();
    out
}

/// The reader's lists, kept between calls: allocating and growing them
/// afresh on every call was a third of the allocator's time (11 %) in a
/// profile of updates.
#[derive(Default)]
struct Lists {
    objects: Vec<Object>,
    open: Vec<Member>,
    sorted: Vec<Member>,
}

/// Lists kept past this many entries are dropped rather than kept.
const KEEP_ENTRIES: usize = 4096;

thread_local! {
    static SCRATCH: std::cell::Cell<Lists> = std::cell::Cell::new(Lists::default());
}

impl Lists {
    /// Puts the lists back for the next call, empty, unless one grew large.
    fn keep(mut self) {
        let large = [
            self.objects.capacity(),
            self.open.capacity(),
            self.sorted.capacity(),
        ]
        .iter()
        .any(|&c| c > KEEP_ENTRIES);
        if large {
            return;
        }
        self.objects.clear();
        self.open.clear();
        self.sorted.clear();
        SCRATCH.with(|s| s.set(self));
    }
}

impl Member {
    fn key<'t>(&self, text: &'t str) -> &'t str {
        &text[self.key_start as usize..self.key_end as usize]
    }

    #[inline]
    fn compare(&self, other: &Member, text: &str) -> Ordering {
        if self.kind == Kind::Ascii && other.kind == Kind::Ascii && self.head != other.head {
            return self.head.cmp(&other.head);
        }
        let order = |m: &Member| match m.kind {
            Kind::Index => SortKey::Index(m.head as u32),
            _ => SortKey::Text,
        };
        match (self.kind, other.kind) {
            (Kind::Index, _) | (_, Kind::Index) => {
                compare_keys(&order(self), self.key(text), &order(other), other.key(text))
            }
            _ => utf16_cmp(self.key(text), other.key(text)),
        }
    }
}

/// Sorts the members of one object; `None` on duplicate keys.
fn sort_members(own: &mut [Member], text: &str) -> Option<()> {
    if own.iter().all(|m| m.kind == Kind::Ascii) {
        // By their first eight bytes, then runs of equal heads in full.
        own.sort_unstable_by_key(|m| m.head);
        let mut i = 0;
        while i < own.len() {
            let head = own[i].head;
            let run = own[i..].iter().take_while(|m| m.head == head).count();
            if run > 1 {
                let same = &mut own[i..i + run];
                same.sort_unstable_by(|a, b| utf16_cmp(a.key(text), b.key(text)));
                if same.windows(2).any(|w| w[0].key(text) == w[1].key(text)) {
                    return None;
                }
            }
            i += run;
        }
        return Some(());
    }
    own.sort_unstable_by(|a, b| a.compare(b, text));
    if own.windows(2).any(|w| w[0].compare(&w[1], text).is_eq()) {
        return None;
    }
    Some(())
}

impl Reader<'_> {
    fn value(&mut self, depth: usize) -> Option<()> {
        match *self.bytes.get(self.pos)? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string().map(drop),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number(),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Some(())
        } else {
            None
        }
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        if *self.bytes.get(self.pos)? == b']' {
            self.pos += 1;
            return Some(());
        }
        loop {
            self.value(depth + 1)?;
            match *self.bytes.get(self.pos)? {
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
        if depth >= MAX_DEPTH {
            return None;
        }
        let index = self.objects.len();
        self.objects.push(Object {
            open: self.pos as u32,
            close: 0,
            after: 0,
            members: (0, 0),
            in_order: true,
        });
        self.pos += 1;
        let base = self.open.len();
        let mut in_order = true;
        if *self.bytes.get(self.pos)? == b'}' {
            self.pos += 1;
        } else {
            loop {
                if *self.bytes.get(self.pos)? != b'"' {
                    return None;
                }
                let key_start = self.pos + 1;
                // A key with an escape: the tree path decodes it.
                if self.string()? {
                    return None;
                }
                let key_end = self.pos - 1;
                let member = self.member(key_start, key_end);
                if let Some(last) = self.open[base..].last() {
                    match last.compare(&member, self.text) {
                        Ordering::Less => {}
                        Ordering::Greater => in_order = false,
                        // Duplicate keys: the tree path decides.
                        Ordering::Equal => return None,
                    }
                }
                if *self.bytes.get(self.pos)? != b':' {
                    return None;
                }
                self.pos += 1;
                let first_object = self.objects.len() as u32;
                self.value(depth + 1)?;
                self.open.push(Member {
                    end: self.pos as u32,
                    first_object,
                    ..member
                });
                match *self.bytes.get(self.pos)? {
                    b',' => self.pos += 1,
                    b'}' => {
                        self.pos += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        let mut members = (0, 0);
        if !in_order {
            let text = self.text;
            let own = &mut self.open[base..];
            sort_members(own, text)?;
            let first = self.sorted.len() as u32;
            self.sorted.extend_from_slice(own);
            members = (first, self.sorted.len() as u32);
        }
        self.open.truncate(base);
        let after = self.objects.len() as u32;
        let object = &mut self.objects[index];
        object.close = (self.pos - 1) as u32;
        object.after = after;
        object.members = members;
        object.in_order = in_order;
        Some(())
    }

    /// A member whose key lies at `start..end` (the value not yet read).
    fn member(&self, start: usize, end: usize) -> Member {
        let key = &self.bytes[start..end];
        let mut member = Member {
            head: 0,
            kind: Kind::Ascii,
            key_start: start as u32,
            key_end: end as u32,
            end: 0,
            first_object: 0,
        };
        if key.first().is_some_and(u8::is_ascii_digit) {
            if let Some(i) = array_index(&self.text[start..end]) {
                member.head = u64::from(i);
                member.kind = Kind::Index;
                return member;
            }
        }
        // The eight bytes from the key's start (the text goes on past a
        // short key: its closing quote and more), less those past its end.
        member.head = match self.bytes.get(start..start + 8) {
            Some(eight) => {
                let word = u64::from_be_bytes(eight.try_into().unwrap_or_default());
                match key.len() {
                    0 => 0,
                    n @ 1..=7 => word & !(u64::MAX >> (8 * n)),
                    _ => word,
                }
            }
            None => {
                let mut head = [0u8; 8];
                let n = key.len().min(8);
                head[..n].copy_from_slice(&key[..n]);
                u64::from_be_bytes(head)
            }
        };
        if member.head & 0x8080_8080_8080_8080 != 0 {
            member.kind = Kind::Other;
        }
        member
    }

    /// Reads a string literal; answers whether it holds an escape. Gives up
    /// on an escape `JSON.stringify` would not write (`\/`, `\u0041`, a
    /// surrogate) and on a raw control character.
    #[inline(always)]
    fn string(&mut self) -> Option<bool> {
        let mut i = self.pos + 1;
        let mut escaped = false;
        loop {
            i = next_special(self.bytes, i)?;
            match *self.bytes.get(i)? {
                b'"' => {
                    self.pos = i + 1;
                    return Some(escaped);
                }
                b'\\' => {
                    escaped = true;
                    i += match *self.bytes.get(i + 1)? {
                        b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => 2,
                        b'u' => {
                            // Only the controls without a short escape, in
                            // lowercase hex.
                            let hex = self.bytes.get(i + 2..i + 6)?;
                            let low = |d: u8| matches!(d, b'0'..=b'9' | b'a'..=b'f');
                            if hex[0] != b'0'
                                || hex[1] != b'0'
                                || !matches!(hex[2], b'0' | b'1')
                                || !low(hex[3])
                            {
                                return None;
                            }
                            if matches!(&hex[2..], b"08" | b"09" | b"0a" | b"0c" | b"0d") {
                                return None;
                            }
                            6
                        }
                        _ => return None,
                    };
                }
                _ => return None,
            }
        }
    }

    /// A number, as JavaScript would print it, or `None`.
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
            b'1'..=b'9' => i += digits(b, i),
            _ => return None,
        }
        let int_digits = i - int_start;
        let mut plain = true;
        if b.get(i) == Some(&b'.') {
            plain = false;
            i += 1;
            match digits(b, i) {
                0 => return None,
                n => i += n,
            }
        }
        if let Some(b'e' | b'E') = b.get(i) {
            plain = false;
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            match digits(b, i) {
                0 => return None,
                n => i += n,
            }
        }
        self.pos = i;
        let literal = &self.text[start..i];
        if plain && int_digits <= 15 && literal != "-0" {
            return Some(());
        }
        // Kept only when JavaScript prints this double the same way.
        let f: f64 = literal.parse().ok()?;
        self.number.clear();
        write_number_f64(&mut self.number, f).ok()?;
        (self.number == literal).then_some(())
    }

    /// Writes the text from `from` to `to`, each out-of-order object in it
    /// (searched from object `next` on) by its sorted members.
    fn write_span(&self, out: &mut String, mut from: usize, to: usize, mut next: usize) {
        while let Some(object) = self.objects.get(next) {
            if object.open as usize >= to {
                break;
            }
            if object.in_order {
                next += 1;
                continue;
            }
            out.push_str(&self.text[from..object.open as usize]);
            self.write_object(out, object);
            from = object.close as usize + 1;
            next = object.after as usize;
        }
        out.push_str(&self.text[from..to]);
    }

    fn write_object(&self, out: &mut String, object: &Object) {
        out.push('{');
        let (first, end) = object.members;
        for (i, m) in self.sorted[first as usize..end as usize].iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            // From the key's opening quote.
            let start = m.key_start as usize - 1;
            self.write_span(out, start, m.end as usize, m.first_object as usize);
        }
        out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> String {
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        crate::canonical::canonicalize(&value).unwrap()
    }

    #[test]
    fn reorders_objects_at_every_depth_and_copies_the_rest() {
        for text in [
            r#"{"z":{"y":2,"x":{"b":[],"a":{}}},"a":123456789012345}"#,
            r#"[{"b":1,"a":[{"d":{"f":1,"e":2},"c":0}]},{"a":1,"b":2},{}]"#,
            r#"{"b":"\"\\\n\u001f","a":"é😀","10":1,"9":2,"":3,"ab":4}"#,
            r#"{"abcdefgh2":1,"abcdefgh1":2,"abcdefghi":3,"abcdefgh":4}"#,
            r#"{"ｚ":1,"😀":2,"é":3,"e":4}"#,
            r#"{"x":1.5,"w":-2,"v":1e+21,"u":1.5e-7,"t":0}"#,
            r#""plain""#,
            "12",
        ] {
            assert_eq!(
                canonicalize(text).as_deref(),
                Some(tree(text).as_str()),
                "{text}"
            );
        }
    }

    #[test]
    fn gives_up_on_what_needs_rewriting_or_the_tree_path() {
        for text in [
            r#"{"a":1,"a":2}"#,
            r#"{"b":1,"a":2,"b":3}"#,
            r#"{"a": 1}"#,
            " 1",
            r#"{"\u0061":1}"#,
            r#"{"a\u0000":1}"#,
            r#""\/""#,
            r#""\u0041""#,
            r#""\u000a""#,
            r#""\u001F""#,
            r#""\ud800""#,
            "1.0",
            "1e2",
            "-0",
            "1234567890123456789",
            "1e400",
            "01",
            "[1,]",
            "{} x",
            "\"\u{1}\"",
        ] {
            assert!(canonicalize(text).is_none(), "{text}");
        }
        assert!(canonicalize(&"[".repeat(MAX_DEPTH)).is_none());
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
    fn the_corpus_takes_this_path_and_matches_the_tree_path() {
        let items: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../tests/data/platform-objects.json")).unwrap();
        for item in &items {
            let text = serde_json::to_string(&item["data"]).unwrap();
            let fast = canonicalize(&text).expect("the corpus needs no rewriting");
            assert_eq!(fast, crate::canonical::canonicalize(&item["data"]).unwrap());
        }
    }
}
