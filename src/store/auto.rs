//! `'auto'`: which store a browser gets when the caller lets the library
//! choose, and how the choice is explained. The order is IndexedDB (in the
//! asked storage bucket, then the origin's default database when the bucket
//! cannot be had), then localStorage, then memory, which persists nothing;
//! every backend passed over is named with its reason.
//!
//! The rule is written once, here; the bindings only open the backends
//! ([`Opener`]), so a Rust embedder (or a test) with other backends gets
//! the same order and the same notes.
//!
//! ```
//! use std::rc::Rc;
//! use objectstack_metadata::error::{Error, Result};
//! use objectstack_metadata::store::{choose_auto, Backend, MemoryStore, Opener, Store};
//!
//! struct NoBrowser;
//! #[async_trait::async_trait(?Send)]
//! impl Opener for NoBrowser {
//!     async fn open(&self, backend: Backend) -> Result<(Rc<dyn Store>, String)> {
//!         Err(Error::StorageUnavailable { message: format!("no {backend:?} here") })
//!     }
//! }
//! let chosen = pollster::block_on(choose_auto(&NoBrowser, false));
//! assert_eq!(chosen.backend, None);
//! assert!(chosen.note.starts_with("memory (auto): nothing persists"));
//! ```

use std::rc::Rc;

use async_trait::async_trait;

use super::{MemoryStore, Store};
use crate::error::Result;

/// The persistent backends `'auto'` tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// IndexedDB in the storage bucket the caller asked for.
    IndexedDbInBucket,
    /// The origin's default IndexedDB.
    IndexedDb,
    /// localStorage.
    LocalStorage,
}

/// Opens one backend: the store, and how to name it in a note (`IndexedDB`,
/// `IndexedDB in storage bucket "b"`, `localStorage`).
#[async_trait(?Send)]
pub trait Opener {
    /// The store of `backend`, or why it cannot be had.
    async fn open(&self, backend: Backend) -> Result<(Rc<dyn Store>, String)>;
}

/// What `'auto'` chose.
pub struct AutoChoice {
    /// The store.
    pub store: Rc<dyn Store>,
    /// Its backend; `None` for memory.
    pub backend: Option<Backend>,
    /// Which backend was taken, and why the ones before it were not.
    pub note: String,
}

/// Chooses the store for `'auto'` (see the module docs); `bucket` says
/// whether the caller asked for a storage bucket. Never fails: memory is
/// the last resort.
pub async fn choose_auto(opener: &dyn Opener, bucket: bool) -> AutoChoice {
    let first = if bucket {
        Backend::IndexedDbInBucket
    } else {
        Backend::IndexedDb
    };
    let mut idb = match opener.open(first).await {
        Ok((store, label)) => {
            return AutoChoice {
                store,
                backend: Some(first),
                note: format!("{label} (auto)"),
            }
        }
        Err(e) => e.to_string(),
    };
    if bucket {
        match opener.open(Backend::IndexedDb).await {
            Ok((store, label)) => {
                return AutoChoice {
                    store,
                    backend: Some(Backend::IndexedDb),
                    note: format!("{label} (auto): storage bucket unavailable: {idb}"),
                }
            }
            Err(e) => idb = format!("{e} (storage bucket: {idb})"),
        }
    }
    match opener.open(Backend::LocalStorage).await {
        Ok((store, label)) => AutoChoice {
            store,
            backend: Some(Backend::LocalStorage),
            note: format!("{label} (auto): IndexedDB unavailable: {idb}"),
        },
        Err(ls) => AutoChoice {
            store: Rc::new(MemoryStore::new()),
            backend: None,
            note: format!(
                "memory (auto): nothing persists; IndexedDB unavailable: {idb}; localStorage unavailable: {ls}"
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::error::Error;

    /// Opens the backends in `up`; records every attempt.
    struct Fake {
        up: Vec<Backend>,
        tried: RefCell<Vec<Backend>>,
    }

    #[async_trait(?Send)]
    impl Opener for Fake {
        async fn open(&self, backend: Backend) -> Result<(Rc<dyn Store>, String)> {
            self.tried.borrow_mut().push(backend);
            if self.up.contains(&backend) {
                Ok((Rc::new(MemoryStore::new()), format!("{backend:?}")))
            } else {
                Err(Error::StorageUnavailable {
                    message: format!("{backend:?} down"),
                })
            }
        }
    }

    fn choose(up: &[Backend], bucket: bool) -> (Option<Backend>, String, Vec<Backend>) {
        let fake = Fake {
            up: up.to_vec(),
            tried: RefCell::default(),
        };
        let c = pollster::block_on(choose_auto(&fake, bucket));
        (c.backend, c.note, fake.tried.into_inner())
    }

    #[test]
    fn indexeddb_then_localstorage_then_memory() {
        use Backend::*;
        let (b, note, tried) = choose(&[IndexedDb, LocalStorage], false);
        assert_eq!(
            (b, note.as_str(), tried),
            (Some(IndexedDb), "IndexedDb (auto)", vec![IndexedDb])
        );
        let (b, note, _) = choose(&[LocalStorage], false);
        assert_eq!(b, Some(LocalStorage));
        assert_eq!(
            note,
            "LocalStorage (auto): IndexedDB unavailable: storage unavailable: IndexedDb down"
        );
        let (b, note, tried) = choose(&[], false);
        assert_eq!(b, None);
        assert!(
            note.starts_with("memory (auto): nothing persists"),
            "{note}"
        );
        assert_eq!(tried, vec![IndexedDb, LocalStorage]);
    }

    #[test]
    fn a_bucket_falls_back_to_the_default_indexeddb() {
        use Backend::*;
        let (b, note, tried) = choose(&[IndexedDb], true);
        assert_eq!(b, Some(IndexedDb));
        assert_eq!(note, "IndexedDb (auto): storage bucket unavailable: storage unavailable: IndexedDbInBucket down");
        assert_eq!(tried, vec![IndexedDbInBucket, IndexedDb]);
        let (b, note, _) = choose(&[LocalStorage], true);
        assert_eq!(b, Some(LocalStorage));
        assert!(
            note.contains("(storage bucket: storage unavailable: IndexedDbInBucket down)"),
            "{note}"
        );
    }
}

#[cfg(test)]
mod shared {
    use std::rc::Rc;

    use async_trait::async_trait;

    use crate::error::Result;
    use crate::store::{KvBackend, KvStore, MemoryStore, Store};

    struct Shared;

    #[async_trait(?Send)]
    impl KvBackend for Shared {
        fn kind(&self) -> &str {
            "shared"
        }
        fn shared_across_contexts(&self) -> bool {
            true
        }
        async fn get(&self, _: &str) -> Result<Option<String>> {
            Ok(None)
        }
        async fn list(&self, _: &str) -> Result<Vec<String>> {
            Ok(Vec::new())
        }
        async fn put(&self, _: &str, _: &str) -> Result<()> {
            Ok(())
        }
        async fn delete(&self, _: &str) -> Result<()> {
            Ok(())
        }
    }

    /// Whether a service shares its changes with other contexts is the
    /// store's answer (the bindings once compared kind strings).
    #[test]
    fn the_store_says_whether_other_contexts_share_it() {
        assert!(!MemoryStore::new().shared_across_contexts());
        let kv: Rc<dyn Store> = Rc::new(KvStore::new(Shared));
        assert!(kv.shared_across_contexts());
        assert!(Rc::new(kv).shared_across_contexts());
    }
}
