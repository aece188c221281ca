//! Reading what JavaScript passes: `create`'s options, per-call options and
//! arguments. Everything crosses as JSON text (the glue's `toJsonText`), so
//! a hostile value is a `VALIDATION` error of its own call, and unknown or
//! misspelt options are refused rather than ignored.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use wasm_bindgen::prelude::*;

use super::boundary::{json_text_from_js, split_create_options, thrown_message};
use super::indexeddb::Bucket;
use crate::access::AccessPolicy;
use crate::error::{Error, Result};
use crate::hybrid::ChainMode;
use crate::record::Source;

/// The options of `create` other than `store` (which may hold functions).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateOptions {
    /// The tenant the service works for (absent: global).
    pub tenant: Option<String>,
    /// The acting user (default `system`).
    pub actor: Option<String>,
    /// The actor's roles.
    pub roles: Option<Vec<String>>,
    /// The access policy (default: allow all), an object.
    pub policy: Option<crate::json::Object<AccessPolicy>>,
    /// The migration phase of the chain.
    pub mode: Option<ChainMode>,
    /// Fail reads when a layer fails instead of answering degraded.
    pub strict: Option<bool>,
    /// Keep a read cache (default true).
    pub cache: Option<bool>,
    /// Metadata files for the file layer: path -> text.
    pub files: Option<BTreeMap<String, String>>,
    /// The source recorded when a save names none.
    pub source: Option<Source>,
    /// Check records read back against their checksum (default true).
    pub verify_reads: Option<bool>,
    /// Separates databases and change channels in the browser.
    pub namespace: Option<String>,
    /// Exchange changes with other tabs (default: for browser stores).
    pub broadcast: Option<bool>,
    /// A Storage Bucket for IndexedDB.
    pub bucket: Option<serde_json::Value>,
}

impl CreateOptions {
    /// The `bucket` option: a bucket name, or `{ name, quota, persisted }`.
    pub fn bucket(&self) -> Result<Option<Bucket>> {
        let bucket = match &self.bucket {
            None | Some(serde_json::Value::Null) => return Ok(None),
            Some(serde_json::Value::String(name)) => Bucket::named(name.clone()),
            Some(object @ serde_json::Value::Object(_)) => {
                serde_json::from_value(object.clone())
                    .map_err(|e| Error::validation("bucket", e.to_string()))?
            }
            Some(_) => {
                return Err(Error::validation(
                    "bucket",
                    "must be a bucket name or { name, quota, persisted }",
                ))
            }
        };
        bucket.validate()?;
        Ok(Some(bucket))
    }
}

/// Splits `create`'s options into the store spec and the rest.
pub fn create_options(value: &JsValue) -> Result<(JsValue, CreateOptions)> {
    let split = split_create_options(value, super::boundary::MAX_ARG_BYTES as f64)
        .map_err(|e| Error::validation("options", thrown_message(&e)))?;
    let store = js_sys::Reflect::get(&split, &JsValue::from_str("store")).unwrap_or_default();
    let rest = js_sys::Reflect::get(&split, &JsValue::from_str("rest"))
        .ok()
        .and_then(|r| r.as_string())
        .unwrap_or_else(|| "{}".into());
    let options =
        serde_json::from_str(&rest).map_err(|e| Error::validation("options", e.to_string()))?;
    Ok((store, options))
}

/// An options object as its Rust struct (defaults when absent). A value
/// that is not an object, or whose JSON is not one (a list, a `toJSON`
/// answering a list, a `Date`), is refused: serde would read a list as the
/// struct's members in order (`[5]` as its first member).
pub fn options<T: DeserializeOwned + Default>(value: &JsValue, field: &str) -> Result<T> {
    match given_options(value, field)? {
        None => Ok(T::default()),
        Some(text) => object_options(&text, field),
    }
}

/// The JSON text of options given, `None` where they are absent:
/// undefined, null, or a toJSON answering null or nothing (as a batch
/// item's options that JSON makes null or leaves out). Not generic: one
/// copy in the module.
fn given_options(value: &JsValue, field: &str) -> Result<Option<String>> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    let text = object_text(value, field)?;
    Ok((text != "null").then_some(text))
}

/// Options given as JSON text (a `saveMany` item's), refused unless the
/// text is an object, as [`options`] refuses them.
pub fn object_options<T: DeserializeOwned>(text: &str, field: &str) -> Result<T> {
    if !text.starts_with('{') {
        return Err(Error::validation(field, "must be an object"));
    }
    parse_text(text, field)
}

/// The JSON text of a value given as options, refusing one that is not an
/// object (not generic: one copy in the module). Only `typeof` is asked of
/// the value itself, which nothing can make throw (a revoked Proxy answers
/// it); the rest is asked of its text ([`object_options`]), which the glue
/// makes under guard.
fn object_text(value: &JsValue, field: &str) -> Result<String> {
    if !value.is_object() {
        return Err(Error::validation(field, "must be an object"));
    }
    super::boundary::options_json_text(value, field)
}

/// A JSON argument, a list of entries, each its Rust type, refusing
/// unknown fields. Read from the JSON text straight into the type: one
/// deserializer per type, none through an intermediate value tree.
pub fn parse_arg<T: DeserializeOwned>(value: &JsValue, field: &str) -> Result<Vec<T>> {
    objects(&json_text_from_js(value, field)?, field)
}

/// [`parse_arg`] of a list of records or items, each holding a definition:
/// the list and its items do not count against the definitions' nesting
/// limit.
pub fn parse_list_arg<T: DeserializeOwned>(value: &JsValue, field: &str) -> Result<Vec<T>> {
    objects(
        &super::boundary::json_text_wrapping(value, field, 2)?,
        field,
    )
}

/// A list of objects, each its `T`: an item given as a list is refused,
/// where serde would read it as the members in order.
fn objects<T: DeserializeOwned>(text: &str, field: &str) -> Result<Vec<T>> {
    let items: Vec<crate::json::Object<T>> = parse_text(text, field)?;
    Ok(items.into_iter().map(|o| o.0).collect())
}

fn parse_text<T: DeserializeOwned>(text: &str, field: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::validation(field, e.to_string()))
}

/// A string argument.
pub fn string_arg(value: &JsValue, field: &str) -> Result<String> {
    super::boundary::js_string(value)?.ok_or_else(|| Error::validation(field, "must be a string"))
}

/// A string argument of at most `max` UTF-16 units, refused on its length
/// before it is copied into the module.
pub fn bounded_string_arg(value: &JsValue, field: &str, max: usize) -> Result<String> {
    let len = value
        .dyn_ref::<js_sys::JsString>()
        .map(|s| s.length() as usize)
        .ok_or_else(|| Error::validation(field, "must be a string"))?;
    if len > max {
        return Err(Error::validation(
            field,
            format!("{len} characters; at most {max} are accepted"),
        ));
    }
    string_arg(value, field)
}

/// The (type, name) arguments every per-record method takes.
pub fn ids(type_name: &JsValue, name: &JsValue) -> Result<(String, String)> {
    // Identifiers have at most 128 bytes: anything far longer is refused on
    // its length, before it is copied.
    Ok((
        bounded_string_arg(type_name, "type", 1024)?,
        bounded_string_arg(name, "name", 1024)?,
    ))
}

/// A version argument: a positive safe integer.
pub fn version_arg(value: &JsValue) -> Result<u64> {
    value
        .as_f64()
        .filter(|v| v.fract() == 0.0 && *v >= 1.0 && *v <= crate::validate::MAX_SAFE_INTEGER as f64)
        .map(|v| v as u64)
        .ok_or_else(|| Error::validation("version", "must be a positive integer"))
}

/// An optional typed argument as a plain value (undefined when absent).
pub fn opt<T: Into<JsValue>>(value: Option<T>) -> JsValue {
    value.map(Into::into).unwrap_or(JsValue::UNDEFINED)
}

/// The options of `derive`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeriveOptions {
    /// Absent: this service's tenant; `null`: the global scope.
    #[serde(default, deserialize_with = "present")]
    pub tenant: Option<Option<String>>,
    /// Another acting user.
    pub actor: Option<String>,
    /// Other roles.
    pub roles: Option<Vec<String>>,
}

/// A field that is present, even as `null` (`Some(None)`), as opposed to
/// absent (`None`, through `default`).
fn present<'de, D, T>(d: D) -> std::result::Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// The options of `mirror`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MirrorOptions {
    /// Records the server no longer has.
    #[serde(default)]
    pub gone: Vec<crate::json::Object<crate::key::RecordKey>>,
    /// Whether the changes were made through this cache (pinned writes).
    #[serde(default)]
    pub own: bool,
}

/// The options of `subscribe`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubscribeOptions {
    /// Replay this scope's changes after this sequence number first.
    pub since: Option<u64>,
}
