//! localStorage storage, for small sets: the key-value layout of
//! [`KvStore`](crate::store::KvStore) under a namespace prefix, over the
//! `Storage` object (web-sys).
//!
//! Not gloo-storage: its accessors panic when storage is blocked (a panic
//! would abort the module) and JSON-encode values a second time; the store
//! needs the raw `Storage` and its exceptions, which web-sys gives directly.
//! localStorage has no transactions: a failed batch is undone by the key-value
//! store. A full quota is `QUOTA_EXCEEDED`; blocked storage (private modes,
//! disabled cookies) is `STORAGE_UNAVAILABLE`.

use async_trait::async_trait;
use wasm_bindgen::JsValue;
use web_sys::Storage;

use super::boundary::{describe_thrown, thrown_name};
use crate::error::{Error, Result};
use crate::store::KvBackend;

/// A [`KvBackend`] over `window.localStorage`.
pub struct LocalStorageKv {
    storage: Storage,
    prefix: String,
}

fn failure(what: &str, e: &JsValue) -> Error {
    match thrown_name(e).as_str() {
        "QuotaExceededError" | "NS_ERROR_DOM_QUOTA_REACHED" => Error::QuotaExceeded {
            message: format!("localStorage {what}: {}", describe_thrown(e)),
        },
        _ => Error::StorageUnavailable {
            message: format!("localStorage {what}: {}", describe_thrown(e)),
        },
    }
}

impl LocalStorageKv {
    /// Opens the store of `namespace`, checking that writes are possible.
    pub fn open(namespace: &str) -> Result<Self> {
        let window = web_sys::window().ok_or_else(|| Error::StorageUnavailable {
            message: "localStorage exists only in a window, not in a worker or Node".into(),
        })?;
        let storage = window
            .local_storage()
            .map_err(|e| failure("is blocked", &e))?
            .ok_or_else(|| Error::StorageUnavailable {
                message: "localStorage is not available".into(),
            })?;
        let prefix = format!("objectstack-metadata/{namespace}/");
        let probe = format!("{prefix}.probe");
        storage
            .set_item(&probe, "1")
            .map_err(|e| failure("refuses writes", &e))?;
        storage
            .remove_item(&probe)
            .map_err(|e| failure("refuses writes", &e))?;
        Ok(LocalStorageKv { storage, prefix })
    }

    /// Every key of this namespace (for tests and clearing).
    pub fn keys(&self) -> Result<Vec<String>> {
        let n = self.storage.length().map_err(|e| failure("length", &e))?;
        let mut out = Vec::new();
        for i in 0..n {
            if let Some(k) = self.storage.key(i).map_err(|e| failure("key", &e))? {
                if let Some(rest) = k.strip_prefix(&self.prefix) {
                    out.push(rest.to_owned());
                }
            }
        }
        Ok(out)
    }
}

#[async_trait(?Send)]
impl KvBackend for LocalStorageKv {
    fn kind(&self) -> &str {
        "localstorage"
    }

    fn shared_across_contexts(&self) -> bool {
        true
    }

    async fn get(&self, key: &str) -> Result<Option<String>> {
        self.storage
            .get_item(&format!("{}{key}", self.prefix))
            .map_err(|e| failure("getItem", &e))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for key in self.keys()? {
            if key.starts_with(prefix) {
                if let Some(v) = self.get(&key).await? {
                    out.push(v);
                }
            }
        }
        Ok(out)
    }

    async fn put(&self, key: &str, value: &str) -> Result<()> {
        self.storage
            .set_item(&format!("{}{key}", self.prefix), value)
            .map_err(|e| failure("setItem", &e))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.storage
            .remove_item(&format!("{}{key}", self.prefix))
            .map_err(|e| failure("removeItem", &e))
    }
}
