//! The key-value host contract: storage over JavaScript callbacks for hosts
//! that store by key (a Map, a key-value service, a REST endpoint).
//!
//! The host passes an object with `get(key)`, `put(key, value)`,
//! `delete(key)` and `list(prefix)`, and optionally `commit(ops)`; each may
//! answer directly or with a Promise. Values are plain objects (heads,
//! archived versions, counters, as [`crate::store::layout`] lays them out);
//! `get` and `list` may also answer JSON text. The semantics are the core's
//! [`KvStore`](crate::store::KvStore), which says what is guaranteed with
//! and without `commit`.
//!
//! `commit(ops)` receives `{ op: 'put' | 'delete', key, value?, expect? }`
//! objects. Where `expect` is present, the op applies only if the key holds
//! nothing (`expect: null`) or a value whose `version` is `expect`; if one
//! does not hold, the host applies none of the ops and returns
//! `{ conflict: key }` (or throws an error whose `code` is `'CONFLICT'` and
//! whose `key` names it).
//!
//! A callback that throws or rejects becomes `HOST_CALLBACK_FAILED` naming
//! the callback; the core then leaves what was stored before.

use async_trait::async_trait;
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;

use super::boundary::parse_json_text;
use super::convert::set;
use super::host::{Host, Shape};
use crate::error::{Error, Result};
use crate::store::kv::{KvCommitError, KvExpect};
use crate::store::{KvBackend, KvOp};

/// A [`KvBackend`] over a JavaScript host object.
#[derive(Debug)]
pub struct HostKv {
    host: Host,
    atomic: bool,
}

impl HostKv {
    /// Checks that `host` has the callbacks the contract needs.
    pub fn new(host: Host) -> Result<Self> {
        host.require(&["get", "put", "delete", "list"], "key-value")?;
        let atomic = host.has("commit");
        Ok(HostKv { host, atomic })
    }

    fn op_object(op: KvOp) -> Result<JsValue> {
        let entry = Object::new();
        let expect = op.expect();
        match op {
            KvOp::Put { key, value, .. } => {
                set(&entry, "op", &JsValue::from_str("put"))?;
                set(&entry, "key", &JsValue::from_str(&key))?;
                set(&entry, "value", &parse_json_text(&value)?)?;
            }
            KvOp::Delete { key, .. } => {
                set(&entry, "op", &JsValue::from_str("delete"))?;
                set(&entry, "key", &JsValue::from_str(&key))?;
            }
        }
        match expect {
            KvExpect::Any => {}
            KvExpect::Absent => set(&entry, "expect", &JsValue::NULL)?,
            KvExpect::Version(v) => set(&entry, "expect", &JsValue::from(v as f64))?,
        }
        Ok(entry.into())
    }
}

#[async_trait(?Send)]
impl KvBackend for HostKv {
    fn kind(&self) -> &str {
        self.host.kind()
    }

    async fn get(&self, key: &str) -> Result<Option<String>> {
        self.host.text("get", &[JsValue::from_str(key)]).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.host.texts("list", &[JsValue::from_str(prefix)]).await
    }

    async fn put(&self, key: &str, value: &str) -> Result<()> {
        let value = parse_json_text(value)?;
        self.host
            .call("put", &[JsValue::from_str(key), value], Shape::Void)
            .await?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.host
            .call("delete", &[JsValue::from_str(key)], Shape::Void)
            .await?;
        Ok(())
    }

    fn atomic_batches(&self) -> bool {
        self.atomic
    }

    async fn commit(&self, ops: Vec<KvOp>) -> std::result::Result<(), KvCommitError> {
        let array = Array::new();
        for op in ops {
            array.push(&Self::op_object(op)?);
        }
        match self
            .host
            .call_raw("commit", &[array.into()], Shape::Data)
            .await
        {
            // Nothing: applied. `{ conflict: key }`: applied nothing. Any
            // other answer says neither, so the write is not taken as done.
            Ok(answer) if answer.is_undefined() || answer.is_null() => Ok(()),
            Ok(answer) => match Reflect::get(&answer, &JsValue::from_str("conflict"))
                .ok()
                .and_then(|k| k.as_string())
            {
                Some(key) if answer.is_object() => Err(KvCommitError::Conflict { key }),
                _ => Err(KvCommitError::Failed(Error::HostCallbackFailed {
                    operation: "commit".into(),
                    message: "answered neither nothing (applied) nor { conflict: key }".into(),
                })),
            },
            Err(f) if f.code == "CONFLICT" && f.key.is_some() => Err(KvCommitError::Conflict {
                key: f.key.unwrap_or_default(),
            }),
            Err(f) => Err(KvCommitError::Failed(f.into_error("commit"))),
        }
    }
}
