//! Opening the store `create` names: `'memory'`, `'indexeddb'`,
//! `'localstorage'`, `'auto'` (the core's choice, [`choose_auto`], over the
//! browser's backends), or a host store object (the key-value or
//! the record contract). Services created over the same host object share
//! one store object, so they hear each other's changes and a key-value host
//! without `commit` still sees one writer at a time.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use async_trait::async_trait;
use js_sys::Object;
use wasm_bindgen::prelude::*;

use super::host::Host;
use super::host_kv::HostKv;
use super::host_records::{is_record_host, HostRecords};
use super::indexeddb::{Bucket, IndexedDbStore};
use super::local_storage::LocalStorageKv;
use crate::error::{Error, Result};
use crate::store::{choose_auto, Backend, KvBackend, KvStore, MemoryStore, Opener, Store};

thread_local! {
    /// Host objects already opened, and their stores.
    static HOSTS: RefCell<Vec<(Object, Weak<dyn Store>)>> = const { RefCell::new(Vec::new()) };
}

/// How the store was chosen, for `storeNote`, and the storage bucket it
/// lives in.
pub struct Chosen {
    /// Which backend was taken, and why the ones before it were not.
    pub note: String,
    /// The Storage Bucket holding it, if any.
    pub bucket: Option<String>,
}

impl Chosen {
    fn note(note: impl Into<String>) -> Self {
        Chosen {
            note: note.into(),
            bucket: None,
        }
    }

    /// An IndexedDB store, `how` it was chosen.
    fn indexeddb(store: &IndexedDbStore, how: &str) -> Self {
        match store.bucket() {
            Some(b) => Chosen {
                note: format!("IndexedDB in storage bucket {b:?}{how}"),
                bucket: Some(b.to_owned()),
            },
            None => Chosen::note(format!("IndexedDB{how}")),
        }
    }
}

/// The store over a host object: the one already open for it, or a new one.
async fn host_store(value: &JsValue) -> Result<(Rc<dyn Store>, Chosen)> {
    let host = Host::new(value, "host")?;
    let known = HOSTS.with(|hosts| {
        let mut hosts = hosts.borrow_mut();
        hosts.retain(|(_, store)| store.strong_count() > 0);
        hosts
            .iter()
            .find(|(o, _)| Object::is(o, host.object()))
            .and_then(|(_, store)| store.upgrade())
    });
    if let Some(store) = known {
        return Ok((
            store,
            Chosen::note("host store (shared with other services on it)"),
        ));
    }
    let object = host.object().clone();
    let (store, note): (Rc<dyn Store>, &str) = if is_record_host(&host) {
        let records = Rc::new(HostRecords::new(host)?);
        records.watch().await?;
        (records, "record host store")
    } else {
        (
            Rc::new(kv_store(Rc::new(HostKv::new(host)?))),
            "key-value host store",
        )
    };
    HOSTS.with(|hosts| hosts.borrow_mut().push((object, Rc::downgrade(&store))));
    Ok((store, Chosen::note(note)))
}

/// A store over a key-value backend: one instantiation of the store for
/// every backend (`Rc<dyn KvBackend>` is a backend; about 24 KB of wasm for
/// each instantiation saved).
fn kv_store(backend: Rc<dyn KvBackend>) -> KvStore<Rc<dyn KvBackend>> {
    KvStore::new(backend)
}

/// The browser's backends, for the core's `'auto'` choice.
struct BrowserOpener<'a> {
    namespace: &'a str,
    bucket: Option<&'a Bucket>,
}

#[async_trait(?Send)]
impl Opener for BrowserOpener<'_> {
    async fn open(&self, backend: Backend) -> Result<(Rc<dyn Store>, String)> {
        match backend {
            Backend::IndexedDbInBucket | Backend::IndexedDb => {
                let bucket = match backend {
                    Backend::IndexedDbInBucket => self.bucket,
                    _ => None,
                };
                let store = open_indexeddb(self.namespace, bucket).await?;
                let label = match store.bucket() {
                    Some(b) => format!("IndexedDB in storage bucket {b:?}"),
                    None => "IndexedDB".to_owned(),
                };
                Ok((Rc::new(store), label))
            }
            Backend::LocalStorage => Ok((
                Rc::new(kv_store(Rc::new(LocalStorageKv::open(self.namespace)?))),
                "localStorage".to_owned(),
            )),
        }
    }
}

/// IndexedDB, in `bucket` when one is given.
async fn open_indexeddb(namespace: &str, bucket: Option<&Bucket>) -> Result<IndexedDbStore> {
    match bucket {
        Some(b) => IndexedDbStore::open_in_bucket(namespace, b).await,
        None => IndexedDbStore::open(namespace).await,
    }
}

/// The store named by `spec`, and a note on how it was chosen.
pub async fn open_store(
    spec: &JsValue,
    namespace: &str,
    bucket: Option<&Bucket>,
) -> Result<(Rc<dyn Store>, Chosen)> {
    let name = if spec.is_undefined() || spec.is_null() {
        Some("memory".to_owned())
    } else {
        spec.as_string()
    };
    if bucket.is_some() && !matches!(name.as_deref(), Some("indexeddb" | "auto")) {
        return Err(Error::validation(
            "bucket",
            "a storage bucket holds IndexedDB: use it with store 'indexeddb' or 'auto'",
        ));
    }
    match name.as_deref() {
        None => host_store(spec).await,
        Some("memory") => Ok((Rc::new(MemoryStore::new()), Chosen::note("memory, as asked"))),
        Some("indexeddb") => {
            let store = open_indexeddb(namespace, bucket).await?;
            let chosen = Chosen::indexeddb(&store, ", as asked");
            Ok((Rc::new(store), chosen))
        }
        Some("localstorage") => Ok((
            Rc::new(kv_store(Rc::new(LocalStorageKv::open(namespace)?))),
            Chosen::note("localStorage, as asked"),
        )),
        Some("auto") => {
            let opener = BrowserOpener { namespace, bucket };
            let choice = choose_auto(&opener, bucket.is_some()).await;
            let bucket = match choice.backend {
                Some(Backend::IndexedDbInBucket) => bucket.map(|b| b.name.clone()),
                _ => None,
            };
            Ok((
                choice.store,
                Chosen {
                    note: choice.note,
                    bucket,
                },
            ))
        }
        Some(other) => Err(Error::validation(
            "store",
            format!(
                "unknown store {other:?}: use 'auto', 'indexeddb', 'localstorage', 'memory' or a host store object"
            ),
        )),
    }
}
