//! JSON text to `serde_json::Value`, exactly as written.
//!
//! With the `raw_value` feature (which [`Definition`](crate::Definition)
//! needs), serde_json's own `Value` reader takes an object whose first key
//! is `"$serde_json::private::RawValue"` for a raw value and parses the
//! string it holds: `{"$serde_json::private::RawValue": "{\"x\":1}"}` would
//! read as `{"x": 1}`, silently another definition. Every JSON document
//! that becomes a `Value` here (files, values from JavaScript, batch items)
//! is read by the plain reader below, for which every key is just a key.
//!
//! ```
//! let text = r#"{"$serde_json::private::RawValue":"{\"x\":1}"}"#;
//! let v = objectstack_metadata::json::parse(text).unwrap();
//! assert_eq!(v["$serde_json::private::RawValue"], "{\"x\":1}");
//! ```

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A struct read only from a JSON object (`deserialize_with`): serde's
/// derived readers also take a list, as the struct's members in order,
/// which no caller means (`"options": [5]` read as its first member).
pub fn object<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct ObjectOnly<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectOnly<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_map(ObjectOnly(std::marker::PhantomData))
}

/// A `T` read only from a JSON object, as [`object`] reads it: for the
/// items of a list (`Vec<Object<T>>`), where `deserialize_with` cannot
/// reach.
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        object(d).map(Object)
    }
}

/// A JSON document as a `Value`, every key kept as a key.
pub fn parse(text: &str) -> serde_json::Result<Value> {
    serde_json::from_str::<Plain>(text).map(|p| p.0)
}

/// What a failure to read JSON text says: serde_json's own message, but
/// for nesting beyond its bound, which is said as every other reader says
/// it ([`nesting_message`](crate::canonical::nesting_message)).
pub fn error_message(e: &serde_json::Error) -> String {
    let message = e.to_string();
    if message.starts_with("recursion limit exceeded") {
        crate::canonical::nesting_message()
    } else {
        message
    }
}

/// `#[serde(deserialize_with = "crate::json::deserialize")]` for a `Value`
/// field read the same way.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    Plain::deserialize(d).map(|p| p.0)
}

/// `#[serde(deserialize_with = "crate::json::deserialize_apart")]` for a
/// definition inside a larger document (a list of items): read as
/// [`deserialize`] reads it, from its own text, so its nesting counts from
/// itself, as a definition given alone does, not from where it lies.
pub fn deserialize_apart<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    let raw = <Box<serde_json::value::RawValue>>::deserialize(d)?;
    parse(raw.get()).map_err(|e| serde::de::Error::custom(error_message(&e)))
}

struct Plain(Value);

impl<'de> Deserialize<'de> for Plain {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PlainVisitor)
    }
}

struct PlainVisitor;

impl<'de> Visitor<'de> for PlainVisitor {
    type Value = Plain;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Plain, E> {
        Ok(Plain(Value::Null))
    }

    fn visit_none<E>(self) -> Result<Plain, E> {
        Ok(Plain(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Plain, D::Error> {
        Plain::deserialize(d)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Plain, E> {
        Ok(Plain(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Plain, E> {
        Ok(Plain(Value::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Plain, E> {
        Ok(Plain(Value::from(v)))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Plain, E> {
        Number::from_f64(v)
            .map(|n| Plain(Value::Number(n)))
            .ok_or_else(|| E::custom(format!("{v} is not a finite number")))
    }

    fn visit_str<E>(self, v: &str) -> Result<Plain, E> {
        Ok(Plain(Value::String(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Plain, E> {
        Ok(Plain(Value::String(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Plain, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(Plain(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Plain(Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Plain, A::Error> {
        let mut members = Map::new();
        while let Some((key, Plain(value))) = map.next_entry::<String, Plain>()? {
            members.insert(key, value);
        }
        Ok(Plain(Value::Object(members)))
    }
}
