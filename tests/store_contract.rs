//! The store contract suite against the backends written in Rust: the
//! memory store, and the key-value adapter over a map backend with and
//! without an atomic commit, answering at once or yielding on every call
//! (so concurrent writers interleave), with faults injected before or after
//! a write lands.

mod common;
mod contract;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use common::block_on;
use contract::{run_all, Factory, Fault, Subject};
use objectstack_metadata::store::kv::{KvCommitError, KvExpect};
use objectstack_metadata::*;

/// Gives other tasks a turn once.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// A key-value map shared by every store object opened over it.
#[derive(Default)]
pub struct Map {
    pub entries: RefCell<BTreeMap<String, String>>,
    writes: Cell<u32>,
    fault: Cell<Option<(u32, bool)>>,
    /// Once the fault fired, every later write fails too (a backend gone).
    sticky: Cell<bool>,
}

/// One store object's view of a map.
pub struct MapKv {
    pub map: Rc<Map>,
    atomic: bool,
    yielding: bool,
}

impl MapKv {
    async fn turn(&self) {
        if self.yielding {
            YieldNow(false).await;
        }
    }

    /// Counts a write call; `Err` when an armed fault fires before it,
    /// `Ok(true)` when it must fail after landing.
    fn tick(&self) -> Result<bool> {
        let n = self.map.writes.get() + 1;
        self.map.writes.set(n);
        match self.map.fault.get() {
            Some((at, false)) if at == n || (self.map.sticky.get() && n > at) => {
                Err(Error::StorageUnavailable {
                    message: format!("write {n} refused"),
                })
            }
            Some((at, true)) if at == n => Ok(true),
            _ => Ok(false),
        }
    }

    fn landed_then_failed(n: bool) -> Result<()> {
        if n {
            Err(Error::StorageUnavailable {
                message: "the write landed, then the connection dropped".into(),
            })
        } else {
            Ok(())
        }
    }
}

fn version_of(text: &str) -> Option<u64> {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()?
        .get("version")?
        .as_u64()
}

#[async_trait(?Send)]
impl KvBackend for MapKv {
    fn kind(&self) -> &str {
        "map"
    }
    async fn get(&self, key: &str) -> Result<Option<String>> {
        self.turn().await;
        Ok(self.map.entries.borrow().get(key).cloned())
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.turn().await;
        // Reverse order: the store must not rely on the backend's order.
        Ok(self
            .map
            .entries
            .borrow()
            .iter()
            .rev()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect())
    }
    async fn put(&self, key: &str, value: &str) -> Result<()> {
        self.turn().await;
        let fail_after = self.tick()?;
        self.map
            .entries
            .borrow_mut()
            .insert(key.to_owned(), value.to_owned());
        Self::landed_then_failed(fail_after)
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.turn().await;
        let fail_after = self.tick()?;
        self.map.entries.borrow_mut().remove(key);
        Self::landed_then_failed(fail_after)
    }
    fn atomic_batches(&self) -> bool {
        self.atomic
    }
    async fn commit(&self, ops: Vec<KvOp>) -> std::result::Result<(), KvCommitError> {
        self.turn().await;
        let fail_after = self.tick()?;
        let mut map = self.map.entries.borrow_mut();
        for op in &ops {
            let found = map.get(op.key()).map(|t| version_of(t));
            let holds = match op.expect() {
                KvExpect::Any => true,
                KvExpect::Absent => found.is_none(),
                KvExpect::Version(v) => found == Some(Some(v)),
            };
            if !holds {
                return Err(KvCommitError::Conflict {
                    key: op.key().to_owned(),
                });
            }
        }
        for op in ops {
            match op {
                KvOp::Put { key, value, .. } => {
                    map.insert(key, value);
                }
                KvOp::Delete { key, .. } => {
                    map.remove(&key);
                }
            }
        }
        Self::landed_then_failed(fail_after).map_err(KvCommitError::Failed)
    }
}

struct MemoryFactory;

#[async_trait(?Send)]
impl Factory for MemoryFactory {
    fn label(&self) -> String {
        "memory".into()
    }
    async fn open(&self) -> Subject {
        Subject {
            store: Rc::new(MemoryStore::new()),
            faults: None,
            interleaves: false,
        }
    }
    async fn reopen(&self, _: &Subject) -> Option<Rc<dyn Store>> {
        None
    }
}

struct KvFactory {
    atomic: bool,
    yielding: bool,
    maps: RefCell<Vec<Rc<Map>>>,
}

impl KvFactory {
    fn new(atomic: bool, yielding: bool) -> Self {
        KvFactory {
            atomic,
            yielding,
            maps: RefCell::default(),
        }
    }
    fn store_over(&self, map: &Rc<Map>) -> Rc<dyn Store> {
        Rc::new(KvStore::new(MapKv {
            map: Rc::clone(map),
            atomic: self.atomic,
            yielding: self.yielding,
        }))
    }
}

#[async_trait(?Send)]
impl Factory for KvFactory {
    fn label(&self) -> String {
        format!(
            "key-value (commit: {}, yielding: {})",
            self.atomic, self.yielding
        )
    }
    async fn open(&self) -> Subject {
        let map = Rc::new(Map::default());
        self.maps.borrow_mut().push(Rc::clone(&map));
        let armed = Rc::clone(&map);
        Subject {
            store: self.store_over(&map),
            faults: Some(Rc::new(move |f: Fault| {
                armed.writes.set(0);
                armed.fault.set(match f {
                    Fault::Before(k) => Some((k, false)),
                    Fault::After(k) => Some((k, true)),
                    Fault::Off => None,
                });
            })),
            interleaves: self.yielding,
        }
    }
    async fn reopen(&self, subject: &Subject) -> Option<Rc<dyn Store>> {
        // The map most recently opened is the subject's.
        let _ = subject;
        let map = self.maps.borrow().last().cloned()?;
        // Two objects over one backend coordinate only through `commit`.
        self.atomic.then(|| self.store_over(&map))
    }
}

#[test]
fn memory_store_passes_the_contract() {
    block_on(run_all(&MemoryFactory));
}

#[test]
fn key_value_store_with_commit_passes_the_contract() {
    block_on(run_all(&KvFactory::new(true, false)));
    block_on(run_all(&KvFactory::new(true, true)));
}

#[test]
fn key_value_store_without_commit_passes_the_contract() {
    block_on(run_all(&KvFactory::new(false, false)));
    block_on(run_all(&KvFactory::new(false, true)));
}

fn kv_over(map: &Rc<Map>, atomic: bool) -> Rc<dyn Store> {
    Rc::new(KvStore::new(MapKv {
        map: Rc::clone(map),
        atomic,
        yielding: false,
    }))
}

fn svc(store: &Rc<dyn Store>, tenant: Option<&str>) -> MetadataService {
    MetadataService::builder_shared(Rc::clone(store))
        .tenant(tenant)
        .clock(common::clock())
        .build()
        .unwrap()
}

#[test]
fn a_version_1_key_value_layout_is_upgraded_once() {
    for atomic in [false, true] {
        block_on(async {
            // Written the way version 1 did: the head's own version in
            // history too, no sequence numbers, no counters, no marker.
            let map = Rc::new(Map::default());
            let v1 = |tenant: Option<&str>,
                      name: &str,
                      version: u64,
                      at: i64,
                      op: &str,
                      active: bool| {
                let data = serde_json::json!({ "n": format!("{name}{version}") });
                let head = serde_json::json!({
                    "type": "view", "name": name, "data": data, "version": version,
                    "checksum": checksum(&data).unwrap(), "source": "database", "is_active": active,
                    "owner": "alice", "tenant_id": tenant, "tags": [], "created_at": clock::format_rfc3339(0),
                    "updated_at": clock::format_rfc3339(at), "updated_by": "alice",
                });
                let entry = serde_json::json!({
                    "tenant_id": tenant, "type": "view", "name": name, "version": version, "operation": op,
                    "checksum": head["checksum"], "actor": "alice", "timestamp": head["updated_at"],
                    "is_active": active, "data": data,
                });
                (head, entry)
            };
            let key = |t: Option<&str>, n: &str| RecordKey::new(t, "view", n);
            {
                let mut entries = map.entries.borrow_mut();
                let (_, a1) = v1(Some("acme"), "a", 1, 1_000, "create", true);
                let (a2_head, a2) = v1(Some("acme"), "a", 2, 3_000, "update", true);
                let (b1_head, b1) = v1(Some("acme"), "b", 1, 2_000, "create", true);
                for (k, v) in [
                    (store::layout::kv_history(&key(Some("acme"), "a"), 1), a1),
                    (store::layout::kv_history(&key(Some("acme"), "a"), 2), a2),
                    (store::layout::kv_history(&key(Some("acme"), "b"), 1), b1),
                    (store::layout::kv_record(&key(Some("acme"), "a")), a2_head),
                    (store::layout::kv_record(&key(Some("acme"), "b")), b1_head),
                ] {
                    entries.insert(k, v.to_string());
                }
            }
            let store = kv_over(&map, atomic);
            let acme = svc(&store, Some("acme"));
            // Writes go through the upgrade first.
            let out = acme
                .save(
                    "view",
                    "b",
                    serde_json::json!({"n": "b2"}),
                    SaveOptions::default(),
                )
                .await
                .unwrap();
            assert_eq!((out.record.version, out.record.seq), (2, 4));
            let history: Vec<_> = acme
                .history("view", "a")
                .await
                .unwrap()
                .iter()
                .map(|h| (h.version, h.seq, h.operation))
                .collect();
            assert_eq!(
                history,
                [(1, 1, Operation::Create), (2, 3, Operation::Update)],
                "atomic {atomic}"
            );
            let log: Vec<_> = acme
                .changes(&ChangeQuery::since(0))
                .await
                .unwrap()
                .iter()
                .map(|e| (e.sequence, e.name.clone()))
                .collect();
            assert_eq!(
                log,
                [
                    (1, "a".to_owned()),
                    (2, "b".into()),
                    (3, "a".into()),
                    (4, "b".into())
                ]
            );
            assert!(map.entries.borrow().contains_key("m/layout"));
            // A second store object finds the marker and changes nothing.
            let before = map.entries.borrow().clone();
            let again = kv_over(&map, atomic);
            assert_eq!(again.last_sequence(Some("acme")).await.unwrap(), 4);
            assert_eq!(*map.entries.borrow(), before);
        });
    }
}

#[test]
fn undecodable_or_misplaced_values_are_corrupted() {
    block_on(async {
        let map = Rc::new(Map::default());
        let store = kv_over(&map, false);
        let svc = svc(&store, None);
        svc.save(
            "view",
            "v",
            serde_json::json!({"a": 1}),
            SaveOptions::default(),
        )
        .await
        .unwrap();
        svc.save(
            "view",
            "w",
            serde_json::json!({"a": 1}),
            SaveOptions::default(),
        )
        .await
        .unwrap();
        let v_key = store::layout::kv_record(&RecordKey::new(None, "view", "v"));
        let w_text = map.entries.borrow()
            [&store::layout::kv_record(&RecordKey::new(None, "view", "w"))]
            .clone();
        map.entries.borrow_mut().insert(v_key.clone(), w_text);
        assert_eq!(svc.load("view", "v").await.unwrap_err().code(), "CORRUPTED");
        map.entries.borrow_mut().insert(v_key, "{not json".into());
        assert_eq!(svc.load("view", "v").await.unwrap_err().code(), "CORRUPTED");
        assert_eq!(svc.load_many("view").await.unwrap_err().code(), "CORRUPTED");
        assert_eq!(
            svc.load("view", "w").await.unwrap().as_deref(),
            Some(&serde_json::json!({"a": 1}))
        );
    });
}

#[test]
fn a_failed_undo_says_so_and_a_failed_write_is_undone() {
    block_on(async {
        let map = Rc::new(Map::default());
        let store = kv_over(&map, false);
        let svc = svc(&store, None);
        svc.save(
            "view",
            "keep",
            serde_json::json!({"v": 1}),
            SaveOptions::default(),
        )
        .await
        .unwrap();
        let before = map.entries.borrow().clone();
        // The second write fails: the first is undone.
        map.writes.set(0);
        map.fault.set(Some((2, false)));
        let err = svc
            .save(
                "view",
                "keep",
                serde_json::json!({"v": 2}),
                SaveOptions::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), "STORAGE_UNAVAILABLE", "{err}");
        assert_eq!(*map.entries.borrow(), before);
        // From the second write on every write fails: the undo fails too.
        map.writes.set(0);
        map.sticky.set(true);
        let err = svc
            .save(
                "view",
                "keep",
                serde_json::json!({"v": 3}),
                SaveOptions::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            "STORAGE_ERROR",
            "{err} after {} writes",
            map.writes.get()
        );
        assert!(
            err.to_string().contains("undoing the partial write"),
            "{err}"
        );
    });
}
