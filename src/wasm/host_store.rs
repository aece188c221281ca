//! Storage over host-provided JavaScript callbacks.
//!
//! The host passes an object with `get(key)`, `put(key, value)`,
//! `delete(key)` and `list(prefix)`, and optionally `commit(ops)` for
//! all-or-nothing batches; each may return its result directly or as a
//! Promise. Values are plain objects (records and history entries); `get`
//! and `list` may also return them as JSON text. The key layout and the
//! batch semantics are the core's [`KvStore`](crate::store::KvStore).
//!
//! A callback that throws or rejects becomes `HOST_CALLBACK_FAILED` naming
//! the callback; the core then leaves what was stored before.

use async_trait::async_trait;
use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::boundary::{describe_thrown, is_promise_like, json_text_from_js, parse_json_text};
use crate::error::{Error, Result};
use crate::store::{KvBackend, KvOp};

const REQUIRED: [&str; 4] = ["get", "put", "delete", "list"];

/// A [`KvBackend`] over a JavaScript host object.
#[derive(Debug)]
pub struct HostKv {
    host: Object,
    atomic: bool,
    kind: String,
}

fn failed(operation: &str, thrown: &JsValue) -> Error {
    Error::HostCallbackFailed {
        operation: operation.to_owned(),
        message: describe_thrown(thrown),
    }
}

impl HostKv {
    /// Checks that `host` has the callbacks the store needs.
    pub fn new(host: JsValue) -> Result<Self> {
        let host: Object = host.dyn_into().map_err(|_| {
            Error::validation(
                "store",
                "expected 'memory' or an object with get, put, delete and list functions",
            )
        })?;
        let has = |name: &str| {
            Reflect::get(&host, &JsValue::from_str(name))
                .map(|f| f.is_function())
                .unwrap_or(false)
        };
        let missing: Vec<&str> = REQUIRED.iter().copied().filter(|n| !has(n)).collect();
        if !missing.is_empty() {
            return Err(Error::validation(
                "store",
                format!("the host store lacks function(s): {}", missing.join(", ")),
            ));
        }
        let atomic = has("commit");
        let kind = Reflect::get(&host, &JsValue::from_str("kind"))
            .ok()
            .and_then(|k| k.as_string())
            .unwrap_or_else(|| "host".to_owned());
        Ok(HostKv { host, atomic, kind })
    }

    async fn call(&self, operation: &str, args: &[JsValue]) -> Result<JsValue> {
        let f: Function = Reflect::get(&self.host, &JsValue::from_str(operation))
            .ok()
            .and_then(|f| f.dyn_into().ok())
            .ok_or_else(|| Error::HostCallbackFailed {
                operation: operation.to_owned(),
                message: "the callback is no longer a function".into(),
            })?;
        let this: &JsValue = &self.host;
        let returned = match args {
            [a] => f.call1(this, a),
            [a, b] => f.call2(this, a, b),
            _ => f.call0(this),
        }
        .map_err(|e| failed(operation, &e))?;
        if is_promise_like(&returned) {
            JsFuture::from(Promise::resolve(&returned))
                .await
                .map_err(|e| failed(operation, &e))
        } else {
            Ok(returned)
        }
    }

    fn text_of(operation: &str, value: &JsValue) -> Result<String> {
        match value.as_string() {
            Some(text) => Ok(text),
            None => json_text_from_js(value, "value").map_err(|e| Error::HostCallbackFailed {
                operation: operation.to_owned(),
                message: format!("returned a value that is not JSON: {e}"),
            }),
        }
    }
}

#[async_trait(?Send)]
impl KvBackend for HostKv {
    fn kind(&self) -> &str {
        &self.kind
    }

    async fn get(&self, key: &str) -> Result<Option<String>> {
        let v = self.call("get", &[JsValue::from_str(key)]).await?;
        if v.is_null() || v.is_undefined() {
            return Ok(None);
        }
        Self::text_of("get", &v).map(Some)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let v = self.call("list", &[JsValue::from_str(prefix)]).await?;
        let items: Array = v.dyn_into().map_err(|_| Error::HostCallbackFailed {
            operation: "list".into(),
            message: "did not return an array".into(),
        })?;
        items
            .iter()
            .map(|item| Self::text_of("list", &item))
            .collect()
    }

    async fn put(&self, key: &str, value: &str) -> Result<()> {
        let value = parse_json_text(value)?;
        self.call("put", &[JsValue::from_str(key), value]).await?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.call("delete", &[JsValue::from_str(key)]).await?;
        Ok(())
    }

    fn atomic_batches(&self) -> bool {
        self.atomic
    }

    async fn commit(&self, ops: Vec<KvOp>) -> Result<()> {
        let array = Array::new();
        for op in ops {
            let entry = Object::new();
            let set = |k: &str, v: &JsValue| {
                Reflect::set(&entry, &JsValue::from_str(k), v).map_err(|e| Error::Storage {
                    message: describe_thrown(&e),
                })
            };
            match op {
                KvOp::Put { key, value } => {
                    set("op", &JsValue::from_str("put"))?;
                    set("key", &JsValue::from_str(&key))?;
                    set("value", &parse_json_text(&value)?)?;
                }
                KvOp::Delete { key } => {
                    set("op", &JsValue::from_str("delete"))?;
                    set("key", &JsValue::from_str(&key))?;
                }
            }
            array.push(&entry);
        }
        self.call("commit", &[array.into()]).await?;
        Ok(())
    }
}
