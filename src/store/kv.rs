//! A [`Store`] over any key-value backend: JavaScript host callbacks,
//! localStorage, or anything else that can get, put, delete and list by
//! prefix. Values are JSON text.
//!
//! Layout (all keys built from [`RecordKey::storage_key`], so crafted
//! identifiers cannot collide):
//!
//! * `r/<storage key>`: the record;
//! * `h/<storage key>#<version, 20 digits>`: one history entry per version.
//!
//! Backends with an atomic batch write (`commit`) get all-or-nothing batches
//! from it. For backends without one, the writes are applied one by one and,
//! if one fails, the ones already applied are undone (previous values put
//! back), so a failed batch leaves what was stored before.

use async_trait::async_trait;

use super::{codec, Store, Write, WriteBatch};
use crate::error::{Error, Result};
use crate::key::RecordKey;
use crate::record::{HistoryEntry, MetadataRecord};

/// One operation of a key-value batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvOp {
    /// Store `value` under `key`.
    Put {
        /// The key.
        key: String,
        /// JSON text.
        value: String,
    },
    /// Remove `key`.
    Delete {
        /// The key.
        key: String,
    },
}

/// What a key-value backend provides.
#[async_trait(?Send)]
pub trait KvBackend {
    /// A short name for diagnostics.
    fn kind(&self) -> &str;
    /// The value under `key`.
    async fn get(&self, key: &str) -> Result<Option<String>>;
    /// Every value whose key starts with `prefix`, in any order.
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;
    /// Stores `value` under `key`.
    async fn put(&self, key: &str, value: &str) -> Result<()>;
    /// Removes `key` (absent keys are fine).
    async fn delete(&self, key: &str) -> Result<()>;
    /// Whether [`KvBackend::commit`] applies a batch atomically.
    fn atomic_batches(&self) -> bool {
        false
    }
    /// Applies `ops` atomically (only called when `atomic_batches`).
    async fn commit(&self, ops: Vec<KvOp>) -> Result<()> {
        let _ = ops;
        Err(Error::Unsupported {
            message: format!("backend '{}' has no atomic batch write", self.kind()),
        })
    }
}

/// The key of a record.
pub fn record_key(key: &RecordKey) -> String {
    format!("r/{}", key.storage_key())
}

/// The key of one history entry.
pub fn history_key(key: &RecordKey, version: u64) -> String {
    format!("h/{}#{version:020}", key.storage_key())
}

fn history_prefix(key: &RecordKey) -> String {
    format!("h/{}#", key.storage_key())
}

/// [`Store`] over a [`KvBackend`].
#[derive(Debug)]
pub struct KvStore<B> {
    backend: B,
}

impl<B: KvBackend> KvStore<B> {
    /// A store over `backend`.
    pub fn new(backend: B) -> Self {
        KvStore { backend }
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    fn to_ops(batch: &WriteBatch) -> Result<Vec<KvOp>> {
        let encode = |v: serde_json::Result<String>| {
            v.map_err(|e| Error::Storage {
                message: format!("cannot encode: {e}"),
            })
        };
        batch
            .writes
            .iter()
            .map(|w| {
                Ok(match w {
                    Write::Put(r) => KvOp::Put {
                        key: record_key(&r.key()),
                        value: encode(serde_json::to_string(r))?,
                    },
                    Write::Remove(k) => KvOp::Delete { key: record_key(k) },
                    Write::Append(h) => KvOp::Put {
                        key: history_key(&h.key(), h.version),
                        value: encode(serde_json::to_string(h))?,
                    },
                })
            })
            .collect()
    }

    /// Applies ops one by one; on failure puts back what was there before.
    async fn apply_with_undo(&self, ops: Vec<KvOp>) -> Result<()> {
        let mut undo: Vec<(String, Option<String>)> = Vec::with_capacity(ops.len());
        for op in ops {
            let key = match &op {
                KvOp::Put { key, .. } | KvOp::Delete { key } => key.clone(),
            };
            // A write that fails is taken as not applied; only the writes
            // that succeeded are undone.
            let result = async {
                let before = self.backend.get(&key).await?;
                match &op {
                    KvOp::Put { key, value } => self.backend.put(key, value).await?,
                    KvOp::Delete { key } => self.backend.delete(key).await?,
                }
                undo.push((key.clone(), before));
                Ok(())
            }
            .await;
            if let Err(e) = result {
                for (key, before) in undo.into_iter().rev() {
                    let restored = match before {
                        Some(v) => self.backend.put(&key, &v).await,
                        None => self.backend.delete(&key).await,
                    };
                    if let Err(undo_err) = restored {
                        return Err(Error::Storage {
                            message: format!(
                                "{e}; undoing the partial write of {key} also failed: {undo_err}"
                            ),
                        });
                    }
                }
                return Err(e);
            }
        }
        Ok(())
    }
}

#[async_trait(?Send)]
impl<B: KvBackend> Store for KvStore<B> {
    fn kind(&self) -> &str {
        self.backend.kind()
    }

    async fn get(&self, key: &RecordKey) -> Result<Option<MetadataRecord>> {
        match self.backend.get(&record_key(key)).await? {
            None => Ok(None),
            Some(text) => codec::record_at(&text, key).map(Some),
        }
    }

    async fn list(
        &self,
        tenant_id: Option<&str>,
        type_name: Option<&str>,
    ) -> Result<Vec<MetadataRecord>> {
        let prefix = format!("r/{}", codec::list_prefix(tenant_id, type_name));
        let texts = self.backend.list(&prefix).await?;
        codec::records_in_scope(texts.into_iter().map(Ok), tenant_id, type_name)
    }

    async fn history(&self, key: &RecordKey) -> Result<Vec<HistoryEntry>> {
        let texts = self.backend.list(&history_prefix(key)).await?;
        codec::history_of(texts.into_iter().map(Ok), key)
    }

    async fn commit(&self, batch: WriteBatch) -> Result<()> {
        let ops = Self::to_ops(&batch)?;
        if self.backend.atomic_batches() {
            self.backend.commit(ops).await
        } else {
            self.apply_with_undo(ops).await
        }
    }
}

#[async_trait(?Send)]
impl<B: KvBackend + ?Sized> KvBackend for std::rc::Rc<B> {
    fn kind(&self) -> &str {
        (**self).kind()
    }
    async fn get(&self, key: &str) -> Result<Option<String>> {
        (**self).get(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        (**self).list(prefix).await
    }
    async fn put(&self, key: &str, value: &str) -> Result<()> {
        (**self).put(key, value).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        (**self).delete(key).await
    }
    fn atomic_batches(&self) -> bool {
        (**self).atomic_batches()
    }
    async fn commit(&self, ops: Vec<KvOp>) -> Result<()> {
        (**self).commit(ops).await
    }
}
