//! The key-value store adapter: layout, decoding, and all-or-nothing batches
//! over backends with and without an atomic batch write.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use async_trait::async_trait;
use common::*;
use objectstack_metadata::store::kv::{history_key, record_key};
use objectstack_metadata::*;
use serde_json::json;

/// A key-value map that fails the `fail_at`-th write (counting from 1).
#[derive(Default)]
struct MapKv {
    map: RefCell<BTreeMap<String, String>>,
    writes: Cell<u64>,
    fail_at: Cell<u64>,
    /// Once failing, keep failing (a backend that went away).
    sticky: bool,
    atomic: bool,
}

impl MapKv {
    fn write_tick(&self) -> Result<()> {
        let n = self.writes.get() + 1;
        self.writes.set(n);
        let at = self.fail_at.get();
        if n == at || (self.sticky && at > 0 && n > at) {
            return Err(Error::QuotaExceeded {
                message: format!("write {n} refused"),
            });
        }
        Ok(())
    }
}

#[async_trait(?Send)]
impl KvBackend for MapKv {
    fn kind(&self) -> &str {
        "map"
    }
    async fn get(&self, key: &str) -> Result<Option<String>> {
        Ok(self.map.borrow().get(key).cloned())
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        // Reverse order: the store must not rely on the backend's order.
        Ok(self
            .map
            .borrow()
            .iter()
            .rev()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect())
    }
    async fn put(&self, key: &str, value: &str) -> Result<()> {
        self.write_tick()?;
        self.map
            .borrow_mut()
            .insert(key.to_owned(), value.to_owned());
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.write_tick()?;
        self.map.borrow_mut().remove(key);
        Ok(())
    }
    fn atomic_batches(&self) -> bool {
        self.atomic
    }
    async fn commit(&self, ops: Vec<KvOp>) -> Result<()> {
        self.write_tick()?;
        let mut map = self.map.borrow_mut();
        for op in ops {
            match op {
                KvOp::Put { key, value } => {
                    map.insert(key, value);
                }
                KvOp::Delete { key } => {
                    map.remove(&key);
                }
            }
        }
        Ok(())
    }
}

fn kv_service(kv: &Rc<MapKv>) -> MetadataService {
    MetadataService::builder(KvStore::new(Rc::clone(kv)))
        .clock(clock())
        .build()
        .unwrap()
}

#[test]
fn service_semantics_hold_over_a_kv_backend() {
    for atomic in [false, true] {
        block_on(async {
            let kv = Rc::new(MapKv {
                atomic,
                ..MapKv::default()
            });
            let svc = kv_service(&kv);
            for n in ["b", "a", "c"] {
                svc.save("view", n, json!({"n": n}), opts()).await.unwrap();
            }
            svc.save("view", "a", json!({"n": "a2"}), opts())
                .await
                .unwrap();
            svc.save("view_x", "a", json!({}), opts()).await.unwrap();
            let names = names_of(&svc, "view").await;
            assert_eq!(names, ["a", "b", "c"]);
            let versions: Vec<_> = svc
                .history("view", "a")
                .await
                .unwrap()
                .iter()
                .map(|h| h.version)
                .collect();
            assert_eq!(versions, [1, 2]);
            svc.purge("view", "a", ChangeOptions::default())
                .await
                .unwrap();
            assert_eq!(svc.history("view", "a").await.unwrap().len(), 3);
            assert!(kv
                .map
                .borrow()
                .contains_key(&history_key(&RecordKey::new(None, "view", "a"), 3)));
            assert!(!kv
                .map
                .borrow()
                .contains_key(&record_key(&RecordKey::new(None, "view", "a"))));
        });
    }
}

#[test]
fn a_failed_write_midway_leaves_what_was_stored_before() {
    for atomic in [false, true] {
        for fail_at in 1..=6 {
            block_on(async {
                let kv = Rc::new(MapKv {
                    atomic,
                    ..MapKv::default()
                });
                let svc = kv_service(&kv);
                svc.save("view", "keep", json!({"v": 1}), opts())
                    .await
                    .unwrap();
                let before = kv.map.borrow().clone();
                kv.writes.set(0);
                kv.fail_at.set(fail_at);
                let items = (0..3)
                    .map(|i| SaveItem {
                        type_name: "view".into(),
                        name: format!("n{i}"),
                        data: json!({"i": i}),
                        options: opts(),
                    })
                    .chain([SaveItem {
                        type_name: "view".into(),
                        name: "keep".into(),
                        data: json!({"v": 2}),
                        options: opts(),
                    }])
                    .collect();
                let result = svc.save_many(items).await;
                let writes = kv.writes.get();
                if fail_at <= writes {
                    let err = result.unwrap_err();
                    assert_eq!(
                        err.code(),
                        "QUOTA_EXCEEDED",
                        "atomic {atomic} fail_at {fail_at}"
                    );
                    assert_eq!(
                        *kv.map.borrow(),
                        before,
                        "atomic {atomic} fail_at {fail_at}: partial write left behind"
                    );
                } else {
                    result.unwrap();
                }
            });
        }
    }
}

#[test]
fn a_backend_that_stays_down_reports_its_own_error() {
    block_on(async {
        let kv = Rc::new(MapKv {
            sticky: true,
            ..MapKv::default()
        });
        let svc = kv_service(&kv);
        svc.save("view", "keep", json!({"v": 1}), opts())
            .await
            .unwrap();
        let before = kv.map.borrow().clone();
        kv.writes.set(0);
        kv.fail_at.set(1);
        let err = svc
            .save("view", "keep", json!({"v": 2}), opts())
            .await
            .unwrap_err();
        assert_eq!(err.code(), "QUOTA_EXCEEDED", "{err}");
        assert_eq!(*kv.map.borrow(), before);
        // Failing after a write went through: the undo fails too, and says so.
        kv.writes.set(0);
        kv.fail_at.set(2);
        let err = svc
            .save("view", "keep", json!({"v": 3}), opts())
            .await
            .unwrap_err();
        assert_eq!(err.code(), "STORAGE_ERROR", "{err}");
        assert!(
            err.to_string().contains("undoing the partial write"),
            "{err}"
        );
    });
}

#[test]
fn undecodable_or_misplaced_values_are_corrupted() {
    block_on(async {
        let kv = Rc::new(MapKv::default());
        let svc = kv_service(&kv);
        svc.save("view", "v", json!({"a": 1}), opts())
            .await
            .unwrap();
        svc.save("view", "w", json!({"a": 1}), opts())
            .await
            .unwrap();
        let v_key = record_key(&RecordKey::new(None, "view", "v"));
        let w_text = kv.map.borrow()[&record_key(&RecordKey::new(None, "view", "w"))].clone();
        kv.map.borrow_mut().insert(v_key.clone(), w_text);
        let err = svc.load("view", "v").await.unwrap_err();
        assert_eq!(err.code(), "CORRUPTED");
        kv.map.borrow_mut().insert(v_key, "{not json".into());
        assert_eq!(svc.load("view", "v").await.unwrap_err().code(), "CORRUPTED");
        assert_eq!(svc.load_many("view").await.unwrap_err().code(), "CORRUPTED");
        assert_eq!(
            svc.load("view", "w").await.unwrap().as_deref(),
            Some(&json!({"a": 1}))
        );
    });
}
