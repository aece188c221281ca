//! A definition: the JSON object a record carries, kept as its JSON text and
//! parsed into a `serde_json::Value` only when someone asks for the value.
//!
//! Most definitions pass through: from JavaScript into a store, from a store
//! out to JavaScript. Keeping the text means those paths never build (or
//! free) a tree of small allocations, and a stored version costs its text
//! size in memory. The checksum is computed once, from whichever form is at
//! hand, and kept.
//!
//! A `Definition` is always valid: a JSON object, nested at most
//! [`MAX_DEPTH`](crate::canonical::MAX_DEPTH) levels, with finite numbers,
//! of at most [`MAX_DATA_BYTES`](crate::validate::MAX_DATA_BYTES) of
//! canonical JSON.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde::de::Error as _;
use serde::ser::SerializeStruct as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::canonical;
use crate::error::{Error, Result};
use crate::validate::canonical_definition as check_canonical;

/// The name under which serde_json's serializer takes a struct's one field
/// as raw JSON text (`serde_json::value::RawValue` serialises this way).
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// A validated JSON object definition (cheap to clone: shared).
#[derive(Clone)]
pub struct Definition(Arc<Inner>);

struct Inner {
    /// Valid JSON: every constructor has read it whole (the canonical form
    /// is computed from it), so it is not checked again as a `RawValue`.
    text: Box<str>,
    value: OnceLock<Value>,
    checksum: OnceLock<String>,
}

impl Definition {
    /// A definition from JSON text, validated (and its checksum computed)
    /// without building a `Value`.
    pub fn from_json_text(text: impl Into<String>) -> Result<Self> {
        Self::from_text(text.into().into_boxed_str())
    }

    /// A definition from a request body as upstream ObjectStack's REST
    /// server accepts it: the bare document, or the document wrapped as
    /// `{ "item": {...} }` or `{ "metadata": {...} }`. Only a body that
    /// opens with one of those keys is looked into; any other is the
    /// document itself, read once.
    pub fn from_upstream_body(text: String) -> Result<Self> {
        if let Some(inner) = unwrap_upstream(&text) {
            return Self::from_json_text(inner.to_owned());
        }
        Self::from_json_text(text)
    }

    /// The one reading of a definition's text: the canonical form is
    /// computed from it, which refuses anything that is not JSON (as
    /// `VALIDATION` of `data`, saying where), and checked.
    fn from_text(text: Box<str>) -> Result<Self> {
        // Whitespace aside, the text is the canonical form's size: refuse
        // what cannot fit before reading it.
        if text.len() > crate::validate::MAX_TEXT_BYTES {
            return Err(too_long(text.len()));
        }
        let canonical = canonical::canonicalize_text(&text).map_err(|e| match e {
            // The text is the definition: say so, as when a RawValue read it.
            Error::Validation { field, message } if field == "json" => {
                Error::validation("data", message)
            }
            other => other,
        })?;
        check_canonical(&canonical)?;
        // Kept without the whitespace around it, as a `RawValue` keeps it.
        let trimmed = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
        let text = if trimmed.len() == text.len() {
            text
        } else {
            trimmed.into()
        };
        let checksum = OnceLock::new();
        let _ = checksum.set(canonical::md5_hex(canonical.as_bytes()));
        Ok(Definition(Arc::new(Inner {
            text,
            value: OnceLock::new(),
            checksum,
        })))
    }

    /// A definition from JSON text this module wrote, whose integrity was
    /// checked another way (the hash of the stored row it came in), with
    /// the checksum stored beside it: not read again.
    pub(crate) fn from_trusted_text(text: &str, checksum: String) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(checksum);
        Definition(Arc::new(Inner {
            text: text.into(),
            value: OnceLock::new(),
            checksum: cell,
        }))
    }

    /// A definition from a value, validated (and its checksum computed).
    pub fn from_value(value: Value) -> Result<Self> {
        let canonical = canonical::canonicalize(&value)?;
        check_canonical(&canonical)?;
        let text = serde_json::to_string(&value)
            .map_err(|e| Error::validation("data", e.to_string()))?
            .into_boxed_str();
        let (checksum, cell) = (OnceLock::new(), OnceLock::new());
        let _ = checksum.set(canonical::md5_hex(canonical.as_bytes()));
        let _ = cell.set(value);
        Ok(Definition(Arc::new(Inner {
            text,
            value: cell,
            checksum,
        })))
    }

    /// The top-level member `field` when it is a string (a definition's
    /// own `name`), read by a scan of the text that builds nothing else.
    pub fn string_member(&self, field: &str) -> Option<String> {
        let members: std::collections::HashMap<std::borrow::Cow<'_, str>, &RawValue> =
            serde_json::from_str(self.json_text()).ok()?;
        let raw = members.get(field)?;
        serde_json::from_str::<String>(raw.get()).ok()
    }

    /// The JSON text (compact; the author's key order).
    pub fn json_text(&self) -> &str {
        &self.0.text
    }

    /// The checksum: lowercase hex MD5 of the canonical JSON.
    pub fn checksum(&self) -> &str {
        // Both constructors set it; the fallback only guards the invariant.
        self.0
            .checksum
            .get_or_init(|| canonical::checksum_text(self.json_text()).unwrap_or_default())
    }

    /// The definition as a `serde_json::Value` (parsed on first use).
    ///
    /// A definition whose strings hold lone surrogates (JavaScript strings
    /// may; see [`canonicalize_text`](crate::canonical::canonicalize_text))
    /// has no `Value`: for it this is an empty object, and
    /// [`Definition::try_value`] says why.
    pub fn value(&self) -> &Value {
        static EMPTY: OnceLock<Value> = OnceLock::new();
        self.try_value()
            .unwrap_or_else(|_| EMPTY.get_or_init(|| Value::Object(Default::default())))
    }

    /// The definition as a `serde_json::Value`, or `VALIDATION` when its
    /// text holds what a `Value` cannot (a lone surrogate).
    pub fn try_value(&self) -> Result<&Value> {
        if let Some(value) = self.0.value.get() {
            return Ok(value);
        }
        let value: Value = crate::json::parse(self.json_text())
            .map_err(|e| Error::validation("data", crate::json::error_message(&e)))?;
        Ok(self.0.value.get_or_init(|| value))
    }

    /// True when both share one allocation (a cheap identity test).
    pub fn ptr_eq(a: &Definition, b: &Definition) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }
}

/// The wrapped document of `{ "item": {...} }` / `{ "metadata": {...} }`
/// (that key alone), or `None`.
fn unwrap_upstream(text: &str) -> Option<&str> {
    let rest = text.trim_start().strip_prefix('{')?.trim_start();
    if !(rest.starts_with("\"item\"") || rest.starts_with("\"metadata\"")) {
        return None;
    }
    let members: std::collections::BTreeMap<&str, &RawValue> = serde_json::from_str(text).ok()?;
    let mut iter = members.into_iter();
    match (iter.next(), iter.next()) {
        (Some(("item" | "metadata", inner)), None) if inner.get().starts_with('{') => {
            Some(inner.get())
        }
        _ => None,
    }
}

/// `a == b`, eight bytes at a time. In WebAssembly, `==` on strings ends
/// in compiler-builtins' `memcmp`, which compares a byte at a time: 7 % of a
/// no-op save of a 5 KB definition in a CPU profile (the text given against
/// the text kept).
pub(crate) fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let (mut x, mut y) = (a.chunks_exact(8), b.chunks_exact(8));
    let word = |c: &[u8]| u64::from_ne_bytes(c.try_into().unwrap_or_default());
    (&mut x).zip(&mut y).all(|(p, q)| word(p) == word(q)) && x.remainder() == y.remainder()
}

fn too_long(len: usize) -> Error {
    Error::validation(
        "data",
        format!(
            "{len} bytes of JSON text; a definition has at most {} bytes of canonical JSON",
            crate::validate::MAX_DATA_BYTES
        ),
    )
}

impl Deref for Definition {
    type Target = Value;
    fn deref(&self) -> &Value {
        self.value()
    }
}

impl PartialEq for Definition {
    fn eq(&self, other: &Self) -> bool {
        Definition::ptr_eq(self, other)
            || same_text(self.json_text(), other.json_text())
            || self.value() == other.value()
    }
}

impl fmt::Debug for Definition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Definition({})", self.json_text())
    }
}

impl fmt::Display for Definition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.json_text())
    }
}

impl TryFrom<Value> for Definition {
    type Error = Error;
    fn try_from(value: Value) -> Result<Self> {
        Definition::from_value(value)
    }
}

impl Serialize for Definition {
    /// Written as the JSON text itself by serde_json (records are stored
    /// and sent as JSON), exactly as serde_json's own `RawValue` asks for
    /// it: a struct and a field both named serde_json's raw-value token,
    /// holding the text. The text is known to be JSON already, which a
    /// `RawValue` would check again (a tenth of a save's time). The test
    /// `serialises_as_raw_json` holds this to serde_json's behaviour.
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct(RAW_VALUE_TOKEN, 1)?;
        st.serialize_field(RAW_VALUE_TOKEN, self.json_text())?;
        st.end()
    }
}

impl<'de> Deserialize<'de> for Definition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        Definition::from_text(raw.into()).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_raw_json() {
        // The author's key order and spelling are written as they are.
        let d = Definition::from_json_text(" {\"b\":1.50,\"a\":[true,null]}\n").unwrap();
        assert_eq!(d.json_text(), "{\"b\":1.50,\"a\":[true,null]}");
        #[derive(Serialize)]
        struct Row<'a> {
            data: &'a Definition,
            n: u8,
        }
        let text = serde_json::to_string(&Row { data: &d, n: 7 }).unwrap();
        assert_eq!(text, "{\"data\":{\"b\":1.50,\"a\":[true,null]},\"n\":7}");
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            serde_json::json!({ "a": [true, null], "b": 1.5 })
        );
        let back: Definition = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(back.checksum(), d.checksum());
        assert_eq!(back.json_text(), d.json_text());
        // A lone surrogate is kept as written.
        let lone = Definition::from_json_text(r#"{"a":"\ud800"}"#).unwrap();
        assert_eq!(serde_json::to_string(&lone).unwrap(), r#"{"a":"\ud800"}"#);
    }

    #[test]
    fn same_text_is_string_equality() {
        let base = "{\"name\":\"account\",\"label\":\"Account é\"}";
        let cuts: Vec<usize> = (0..=base.len())
            .filter(|&n| base.is_char_boundary(n))
            .collect();
        for &start in &cuts {
            for &end in cuts.iter().filter(|&&e| e >= start) {
                let a = &base[start..end];
                for &len in &cuts {
                    let b = &base[..len];
                    assert_eq!(same_text(a, b), a == b, "{a:?} {b:?}");
                }
            }
        }
        let mut bytes = base.as_bytes().to_vec();
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            let other = String::from_utf8_lossy(&bytes).into_owned();
            assert_eq!(same_text(base, &other), base == other, "byte {i}");
            bytes[i] ^= 1;
        }
        let copy = String::from(base);
        assert!(same_text(base, &copy));
        assert!(same_text("", ""));
    }

    #[test]
    fn text_that_is_not_a_json_object_is_refused() {
        for bad in [
            "",
            "{",
            "{} x",
            "[1]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{'a':1}",
            "{\"a\":01}",
            // A lone surrogate sends the text to the UTF-16 reader, which
            // must refuse what serde_json refuses.
            r#"{"a":"\ud800",}"#,
            r#"{"a":"\ud800"} x"#,
            r#"{"a":"\ud800","b":[1,]}"#,
            r#"{"a":"\ud800","b":"\x"}"#,
            "{\"a\":\"\\ud800\",\"b\":\"\u{1}\"}",
        ] {
            match Definition::from_json_text(bad) {
                Err(Error::Validation { field, .. }) => assert_eq!(field, "data", "{bad:?}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
