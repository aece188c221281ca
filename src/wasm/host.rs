//! Calling a JavaScript host object (a host store) safely: every call goes
//! through the glue's `hostCall`, which answers a Promise of plain data in
//! the asked shape or rejects with a plain description, whatever the host
//! does (throwing getters, revoked proxies, hostile thenables, errors whose
//! properties throw). Nothing a host does can throw through the module.

use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::boundary::{host_call, host_has, host_string, js_string};
use crate::error::{Error, Result};

/// What a host call's answer is turned into before the core sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The answer itself (a function the host gave back, or a callback's
    /// answer the caller reads as its own data).
    Raw,
    /// Nothing.
    Void,
    /// JSON text, or null.
    Text,
    /// An array of JSON texts.
    Texts,
    /// A non-negative safe integer.
    Count,
    /// Plain data (through JSON).
    Data,
    /// `readCurrent`'s answer: `[{ record, lastVersion }]` with each record
    /// as JSON text.
    Current,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Raw => "raw",
            Shape::Void => "void",
            Shape::Text => "text",
            Shape::Texts => "texts",
            Shape::Count => "count",
            Shape::Data => "data",
            Shape::Current => "current",
        }
    }
}

/// Why a host call failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// What was thrown or rejected with, printed.
    pub message: String,
    /// Its `code`, when it had a string one.
    pub code: String,
    /// Its `key`, when it had a string one.
    pub key: Option<String>,
}

impl Failure {
    /// As the core's error for a failed `operation`.
    pub fn into_error(self, operation: &str) -> Error {
        Error::HostCallbackFailed {
            operation: operation.to_owned(),
            message: self.message,
        }
    }
}

fn field(value: &JsValue, name: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// A JavaScript object whose functions the core calls.
#[derive(Debug, Clone)]
pub struct Host {
    object: Object,
    kind: String,
}

impl Host {
    /// `value` as a host, if it is an object at all (its functions are
    /// checked by whoever uses it).
    pub fn new(value: &JsValue, default_kind: &str) -> Result<Self> {
        if !value.is_object() {
            return Err(Error::validation(
                "store",
                "expected a store name or a host store object",
            ));
        }
        let object: Object = value.clone().unchecked_into();
        let kind = host_string(&object, "kind").unwrap_or_else(|| default_kind.to_owned());
        Ok(Host { object, kind })
    }

    /// A host whose one function `name` is `f` (a callback the caller
    /// passed), to call it the same safe way.
    pub fn of_function(name: &str, f: &JsValue) -> Result<Self> {
        let object = Object::new();
        Reflect::set(&object, &JsValue::from_str(name), f).map_err(|_| Error::Storage {
            message: format!("cannot hold the {name} callback"),
        })?;
        Ok(Host {
            object,
            kind: name.to_owned(),
        })
    }

    /// The host object.
    pub fn object(&self) -> &Object {
        &self.object
    }

    /// Its `kind`, or the default given.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Whether it has a function `name`.
    pub fn has(&self, name: &str) -> bool {
        host_has(&self.object, name)
    }

    /// `VALIDATION` naming the functions of `names` it lacks.
    pub fn require(&self, names: &[&str], contract: &str) -> Result<()> {
        let missing: Vec<&str> = names.iter().copied().filter(|n| !self.has(n)).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Error::validation(
                "store",
                format!(
                    "a {contract} host store needs function(s): {}",
                    missing.join(", ")
                ),
            ))
        }
    }

    /// Calls `name(...args)` and awaits its answer in `shape`.
    pub async fn call_raw(
        &self,
        name: &str,
        args: &[JsValue],
        shape: Shape,
    ) -> std::result::Result<JsValue, Failure> {
        let args: Array = args.iter().collect();
        let promise: Promise = host_call(&self.object, name, &args, shape.name());
        JsFuture::from(promise).await.map_err(|e| {
            let text = |n: &str| field(&e, n).as_string();
            Failure {
                message: text("message").unwrap_or_else(|| "unknown failure".into()),
                code: text("code").unwrap_or_default(),
                key: text("key"),
            }
        })
    }

    /// [`Host::call_raw`], failures as `HOST_CALLBACK_FAILED`.
    pub async fn call(&self, name: &str, args: &[JsValue], shape: Shape) -> Result<JsValue> {
        self.call_raw(name, args, shape)
            .await
            .map_err(|f| f.into_error(name))
    }

    /// A call answering JSON text or null.
    pub async fn text(&self, name: &str, args: &[JsValue]) -> Result<Option<String>> {
        js_string(&self.call(name, args, Shape::Text).await?)
    }

    /// A call answering an array of JSON texts.
    pub async fn texts(&self, name: &str, args: &[JsValue]) -> Result<Vec<String>> {
        let answer = self.call(name, args, Shape::Texts).await?;
        let array: Array = answer.unchecked_into();
        let mut out = Vec::new();
        for t in array.iter() {
            out.extend(js_string(&t)?);
        }
        Ok(out)
    }

    /// A call answering a count.
    pub async fn count(&self, name: &str, args: &[JsValue]) -> Result<u64> {
        let answer = self.call(name, args, Shape::Count).await?;
        Ok(answer.as_f64().map_or(0, |n| n as u64))
    }
}
