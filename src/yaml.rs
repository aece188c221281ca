//! YAML metadata files, read and written faithfully to JSON.
//!
//! Reading goes through saphyr-parser's event stream, one event at a time,
//! so hostile input is refused while it is being read: nesting beyond
//! [`MAX_DEPTH`], a second document, or aliases that would expand the
//! definition past [`MAX_TEXT_BYTES`] stop the parse at that point. Work
//! is linear in the text (the scanner's per-token work is bounded by the
//! nesting, which is bounded).
//!
//! Plain scalars resolve by the YAML 1.2 core schema (`null`, `true`,
//! `12`, `0x1f`, `1.5e3`...); quoted scalars are strings. What JSON cannot
//! carry is refused, never changed: non-finite numbers (`.inf`, `1e400`),
//! keys that are not scalars, two keys that name the same JSON member
//! (`1` and `"1"`, `~` and `"null"`), tags outside the core schema. Merge
//! keys (`<<: *base`) merge, as YAML 1.1 and js-yaml define them: explicit
//! keys win, then earlier sources.
//!
//! Writing produces block YAML that reads back to the same JSON: strings
//! are plain only when nothing could read them as anything else, and
//! double-quoted with escapes otherwise.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use serde_json::{Map, Number, Value};

use crate::canonical::MAX_DEPTH;
use crate::validate::MAX_TEXT_BYTES;

/// The JSON value of a YAML document, or why it has none.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut builder = Builder::default();
    let mut documents = 0;
    for next in Parser::new_from_str(text) {
        let (event, span) = next.map_err(|e| {
            // The scanner's own bound on nesting (it reads ahead of the
            // events, so it may find the text too deep first): said as
            // every reader says it.
            let info = match e.info() {
                i if i.starts_with("recursion limit exceeded") => {
                    crate::canonical::nesting_message()
                }
                i => i.to_owned(),
            };
            format!(
                "{info} at line {}, column {}",
                e.marker().line(),
                e.marker().col() + 1
            )
        })?;
        let at = |msg: String| {
            format!(
                "{msg} at line {}, column {}",
                span.start.line(),
                span.start.col() + 1
            )
        };
        match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(at("a metadata file holds one YAML document".into()));
                }
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
            other => builder.event(other, span).map_err(at)?,
        }
    }
    Ok(builder.root.unwrap_or(Value::Null))
}

/// What a mapping waits for next.
enum Key {
    /// A key.
    Expected,
    /// The value of this key.
    Member(String),
    /// The value of a merge key (`<<`).
    Merge,
}

enum Frame {
    Seq(Vec<Value>),
    Map {
        members: Map<String, Value>,
        merges: Vec<Value>,
        key: Key,
    },
}

struct Open {
    frame: Frame,
    anchor: usize,
    /// A lower bound of the bytes of its JSON text so far.
    bytes: usize,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    /// Anchored nodes and a lower bound of their JSON size.
    anchors: HashMap<usize, (Value, usize)>,
    root: Option<Value>,
    /// A lower bound of the bytes of the whole document's JSON text.
    total: usize,
}

impl Builder {
    fn expecting_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Open {
                frame: Frame::Map {
                    key: Key::Expected,
                    ..
                },
                ..
            })
        )
    }

    fn grow(&mut self, bytes: usize) -> Result<(), String> {
        self.total = self.total.saturating_add(bytes);
        if self.total > MAX_TEXT_BYTES {
            return Err(format!(
                "the definition would take more than {MAX_TEXT_BYTES} bytes"
            ));
        }
        Ok(())
    }

    fn event(&mut self, event: Event<'_>, _span: Span) -> Result<(), String> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                if self.expecting_key() {
                    return self.key(&text, style, tag.as_deref());
                }
                let value = scalar(&text, style, tag.as_deref())?;
                let bytes = text.len() + 2;
                self.grow(bytes)?;
                if anchor > 0 {
                    self.anchors.insert(anchor, (value.clone(), bytes));
                }
                self.complete(value, bytes)
            }
            Event::Alias(id) => {
                if self.expecting_key() {
                    return Err("an alias as a mapping key is not supported".into());
                }
                let (value, bytes) = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| "an alias to an unknown anchor".to_owned())?;
                self.grow(bytes)?;
                self.complete(value, bytes)
            }
            Event::SequenceStart(anchor, tag) => {
                self.open(anchor, tag.as_deref(), "seq", Frame::Seq(Vec::new()))
            }
            Event::MappingStart(anchor, tag) => self.open(
                anchor,
                tag.as_deref(),
                "map",
                Frame::Map {
                    members: Map::new(),
                    merges: Vec::new(),
                    key: Key::Expected,
                },
            ),
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(open) = self.stack.pop() else {
                    return Err("unbalanced collection".into());
                };
                let value = match open.frame {
                    Frame::Seq(items) => Value::Array(items),
                    Frame::Map {
                        mut members,
                        merges,
                        ..
                    } => {
                        for source in merges {
                            merge(&mut members, source)?;
                        }
                        Value::Object(members)
                    }
                };
                if open.anchor > 0 {
                    self.anchors
                        .insert(open.anchor, (value.clone(), open.bytes));
                }
                self.complete(value, open.bytes)
            }
            _ => Ok(()),
        }
    }

    fn open(
        &mut self,
        anchor: usize,
        tag: Option<&Tag>,
        kind: &str,
        frame: Frame,
    ) -> Result<(), String> {
        if self.expecting_key() {
            return Err("a mapping key must be a scalar (JSON keys are strings)".into());
        }
        if let Some(tag) = tag {
            if !(tag.is_yaml_core_schema() && tag.suffix == kind) {
                return Err(format!("YAML tag {tag} is not supported here"));
            }
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(crate::canonical::nesting_message());
        }
        self.grow(2)?;
        self.stack.push(Open {
            frame,
            anchor,
            bytes: 2,
        });
        Ok(())
    }

    fn key(&mut self, text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<(), String> {
        let next = if style == ScalarStyle::Plain && tag.is_none() && text == "<<" {
            Key::Merge
        } else {
            let key = key_text(&scalar(text, style, tag)?);
            if let Some(Open {
                frame: Frame::Map { members, .. },
                ..
            }) = self.stack.last()
            {
                if members.contains_key(&key) {
                    return Err(format!(
                        "the key {key:?} is given twice (as JSON keys, {text:?} and an earlier key are the same)"
                    ));
                }
            }
            self.grow(key.len() + 3)?;
            Key::Member(key)
        };
        if let Some(Open {
            frame: Frame::Map { key, .. },
            ..
        }) = self.stack.last_mut()
        {
            *key = next;
        }
        Ok(())
    }

    /// A node is complete: it becomes its parent's item or member, or the
    /// document.
    fn complete(&mut self, value: Value, bytes: usize) -> Result<(), String> {
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some(value);
            return Ok(());
        };
        parent.bytes = parent.bytes.saturating_add(bytes + 1);
        match &mut parent.frame {
            Frame::Seq(items) => items.push(value),
            Frame::Map {
                members,
                merges,
                key,
            } => match std::mem::replace(key, Key::Expected) {
                Key::Member(k) => {
                    members.insert(k, value);
                }
                Key::Merge => merges.push(value),
                Key::Expected => return Err("a mapping key must be a scalar".into()),
            },
        }
        Ok(())
    }
}

/// Adds the members of a merge source (a mapping, or a sequence of them)
/// that `members` does not have yet.
fn merge(members: &mut Map<String, Value>, source: Value) -> Result<(), String> {
    match source {
        Value::Object(from) => {
            for (k, v) in from {
                members.entry(k).or_insert(v);
            }
            Ok(())
        }
        Value::Array(sources) => {
            for s in sources {
                if !s.is_object() {
                    return Err("a merge key (<<) takes a mapping or a sequence of mappings".into());
                }
                merge(members, s)?;
            }
            Ok(())
        }
        _ => Err("a merge key (<<) takes a mapping or a sequence of mappings".into()),
    }
}

/// A scalar used as a key, as JavaScript names the member: its string, or
/// the number, boolean or null printed.
fn key_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => {
            let mut out = String::new();
            let _ = crate::canonical::write_number_f64(&mut out, n.as_f64().unwrap_or(0.0));
            out
        }
        other => other.to_string(),
    }
}

/// A scalar's JSON value: by its tag, else quoted scalars are strings and
/// plain ones resolve by the YAML 1.2 core schema.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(tag) = tag {
        if tag.handle == "!" && tag.suffix.is_empty() {
            return Ok(Value::String(text.to_owned()));
        }
        if !tag.is_yaml_core_schema() {
            return Err(format!("YAML tag {tag} is not supported"));
        }
        let bad = || format!("{text:?} is not a valid !!{}", tag.suffix);
        return match tag.suffix.as_str() {
            "str" => Ok(Value::String(text.to_owned())),
            "null" => null(text).ok_or_else(bad),
            "bool" => boolean(text).ok_or_else(bad),
            "int" => integer(text).ok_or_else(bad)?,
            "float" => integer(text).or_else(|| float(text)).ok_or_else(bad)?,
            other => Err(format!("YAML tag !!{other} is not supported")),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.to_owned()));
    }
    if let Some(v) = null(text).or_else(|| boolean(text)) {
        return Ok(v);
    }
    if let Some(n) = integer(text).or_else(|| float(text)) {
        return n;
    }
    Ok(Value::String(text.to_owned()))
}

fn null(text: &str) -> Option<Value> {
    matches!(text, "" | "~" | "null" | "Null" | "NULL").then_some(Value::Null)
}

fn boolean(text: &str) -> Option<Value> {
    match text {
        "true" | "True" | "TRUE" => Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => Some(Value::Bool(false)),
        _ => None,
    }
}

fn finite(f: f64, text: &str) -> Result<Value, String> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| format!("{text} is not a finite number; JSON cannot carry it"))
}

/// `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`.
fn integer(text: &str) -> Option<Result<Value, String>> {
    let (radix, digits) = if let Some(d) = text.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = text.strip_prefix("0x") {
        (16, d)
    } else {
        let d = text.strip_prefix(['-', '+']).unwrap_or(text);
        if d.is_empty() || !d.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        return Some(Ok(match text.parse::<i64>() {
            Ok(i) => Value::from(i),
            Err(_) => match text.strip_prefix('+').unwrap_or(text).parse::<u64>() {
                Ok(u) => Value::from(u),
                // Beyond 64 bits: the double JavaScript would read.
                Err(_) => {
                    return Some(
                        text.parse::<f64>()
                            .map_err(|e| e.to_string())
                            .and_then(|f| finite(f, text)),
                    )
                }
            },
        }));
    };
    if digits.is_empty() || !digits.bytes().all(|b| (b as char).is_digit(radix)) {
        return None;
    }
    Some(match u64::from_str_radix(digits, radix) {
        Ok(u) => Ok(Value::from(u)),
        Err(_) => {
            // Beyond 64 bits: the nearest double.
            let f = digits.bytes().fold(0f64, |acc, b| {
                acc * f64::from(radix) + f64::from((b as char).to_digit(radix).unwrap_or(0))
            });
            finite(f, text)
        }
    })
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, `.inf`, `.nan`.
fn float(text: &str) -> Option<Result<Value, String>> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") || matches!(text, ".nan" | ".NaN" | ".NAN") {
        return Some(Err(format!(
            "{text} is not a finite number; JSON cannot carry it"
        )));
    }
    let b = unsigned.as_bytes();
    let mut i = 0;
    let int_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return None;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let exp = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp == 0 {
            return None;
        }
        i += exp;
    }
    if i != b.len() {
        return None;
    }
    // Rust's float grammar takes "1." and ".5" and exponents as YAML does.
    Some(
        text.parse::<f64>()
            .map_err(|e| format!("{text}: {e}"))
            .and_then(|f| finite(f, text)),
    )
}

/// Block YAML of a JSON value (a definition: an object), reading back to
/// the same value.
pub fn render(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0),
        other => {
            write_scalar(&mut out, other);
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn is_block(value: &Value) -> bool {
    match value {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

fn write_map(out: &mut String, map: &Map<String, Value>, level: usize) {
    for (i, (k, v)) in map.iter().enumerate() {
        // The first member of a mapping inside a sequence item follows "- ".
        if i > 0 || out.is_empty() || out.ends_with('\n') {
            indent(out, level);
        }
        let mut key = String::new();
        write_str(&mut key, k);
        if key.chars().count() > MAX_IMPLICIT_KEY {
            // YAML limits an implicit key to 1024 characters: an explicit
            // key (`? key` then `: value`) has no limit.
            out.push_str("? ");
            out.push_str(&key);
            out.push('\n');
            indent(out, level);
        } else {
            out.push_str(&key);
        }
        out.push(':');
        write_child(out, v, level + 2);
    }
}

fn write_seq(out: &mut String, items: &[Value], level: usize) {
    for (i, v) in items.iter().enumerate() {
        if i > 0 || out.is_empty() || out.ends_with('\n') {
            indent(out, level);
        }
        out.push('-');
        match v {
            Value::Object(m) if !m.is_empty() => {
                out.push(' ');
                write_map(out, m, level + 2);
            }
            _ => write_child(out, v, level + 2),
        }
    }
}

/// After `key:` or `-`: a scalar on the same line, a collection below.
fn write_child(out: &mut String, value: &Value, level: usize) {
    if is_block(value) {
        out.push('\n');
        match value {
            Value::Object(m) => write_map(out, m, level),
            Value::Array(a) => write_seq(out, a, level),
            _ => {}
        }
    } else {
        out.push(' ');
        write_scalar(out, value);
        out.push('\n');
    }
}

fn write_scalar(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            // As JavaScript prints it; reads back as the same double.
            let _ = crate::canonical::write_number_f64(out, n.as_f64().unwrap_or(0.0));
        }
        Value::String(s) => write_str(out, s),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

/// Longest implicit key written (YAML allows 1024 characters).
const MAX_IMPLICIT_KEY: usize = 1000;

/// Words other YAML readers (YAML 1.1) take for booleans or null.
const RESERVED: &[&str] = &["null", "true", "false", "yes", "no", "on", "off", "y", "n"];

/// A string plain when nothing could read it as another value or another
/// structure; double-quoted with escapes otherwise.
fn write_str(out: &mut String, s: &str) {
    let plain = s
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b' '))
        && !s.ends_with(' ')
        && !RESERVED.contains(&s.to_ascii_lowercase().as_str());
    if plain {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Not printable in YAML, or read as a line break by some readers.
            c if (c as u32) < 0x20
                || ('\u{7f}'..='\u{9f}').contains(&c)
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                ) =>
            {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_core_schema() {
        let v = parse("a: 1\nb: -2.5e3\nc: 0x1f\nd: ~\ne: true\nf: '1'\ng: text here\nh: [1, {x: y}]\ni: 0o17\n").unwrap();
        assert_eq!(
            v,
            json!({"a": 1, "b": -2500.0, "c": 31, "d": null, "e": true, "f": "1", "g": "text here", "h": [1, {"x": "y"}], "i": 15})
        );
    }

    #[test]
    fn refuses_what_json_cannot_carry() {
        for bad in [
            "1: a\n'1': b\n",
            "~: a\n'null': b\n",
            "a: 1e400\n",
            "a: .inf\n",
            "a: .nan\n",
            "? [a]\n: b\n",
            "a: !!binary aGk=\n",
            "a: !custom x\n",
            "a: 1\n---\nb: 2\n",
            "a: 1\na: 2\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}: {:?}", parse(bad));
        }
    }

    #[test]
    fn merge_keys_merge() {
        let v = parse("base: &b {x: 1, y: 2}\nmore: &m {z: 3}\nitem:\n  <<: [*b, *m]\n  y: 9\nlit:\n  '<<': kept\n").unwrap();
        assert_eq!(v["item"], json!({"y": 9, "x": 1, "z": 3}));
        assert_eq!(v["lit"], json!({"<<": "kept"}));
    }

    #[test]
    fn deep_nesting_is_refused_early() {
        // Refused within the first few hundred characters (the scanner's own
        // bound may speak first), not after reading all of it.
        for deep in [
            "[".repeat(100_000),
            "{a: ".repeat(100_000),
            "- ".repeat(100_000),
        ] {
            let err = parse(&deep).unwrap_err();
            assert!(err.contains("nesting deeper than 127 levels"), "{err}");
        }
        // A mapping and its arrays: up to 127 levels in all, as JSON text.
        let nested = |arrays: usize| format!("a: {}1{}", "[".repeat(arrays), "]".repeat(arrays));
        assert!(parse(&nested(crate::canonical::MAX_DEPTH - 1)).is_ok());
        let err = parse(&nested(crate::canonical::MAX_DEPTH)).unwrap_err();
        assert!(err.contains("nesting deeper than 127 levels"), "{err}");
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"]\n");
        for i in 1..40 {
            text.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}]\n", p = i - 1));
        }
        let err = parse(&text).unwrap_err();
        assert!(err.contains("more than"), "{err}");
    }

    /// Found by the file_formats fuzz target: a key whose quoted form passed
    /// 1024 characters was written as an implicit key, which YAML refuses.
    #[test]
    fn long_keys_are_written_as_explicit_keys() {
        let long = "\u{17}".repeat(300);
        let v = json!({"a": 1, long.clone(): null, "list": [{long.clone(): {"x": [1]}, "b": 2}]});
        let text = render(&v);
        assert!(text.contains("? \""), "{text}");
        assert_eq!(parse(&text).unwrap(), v, "{text}");
    }

    #[test]
    fn renders_what_reads_back() {
        let v = json!({
            "name": "account", "label": "Accounts / all", "n": 1e21, "f": 0.1, "big": 12345678901234567890u64,
            "s": ["yes", "No", "1", "1e400", "<<", "", " x", "a: b", "x #c", "line\nbreak", "\u{7f}\u{2028}", "~", "-", "é"],
            "<<": {"1": {}, "null": [], "": null}, "nested": [[1, [2]], {"a": {"b": [true, false]}}]
        });
        let text = render(&v);
        let back = parse(&text).unwrap();
        assert_eq!(
            crate::checksum(&back).unwrap(),
            crate::checksum(&v).unwrap(),
            "{text}"
        );
    }
}
