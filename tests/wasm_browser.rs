//! Browser storage in headless Chromium (wasm-bindgen-test with
//! chromedriver): `cargo test --target wasm32-unknown-unknown --test wasm_browser`.
#![cfg(target_arch = "wasm32")]

use std::rc::Rc;

use objectstack_metadata::store::{KvBackend, KvStore, Store};
use objectstack_metadata::wasm::indexeddb::{Bucket, IndexedDbStore};
use objectstack_metadata::wasm::local_storage::LocalStorageKv;
use objectstack_metadata::*;
use serde_json::json;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn service(store: Rc<dyn Store>) -> MetadataService {
    MetadataService::builder_shared(store)
        .clock(Rc::new(ManualClock::new(0, 1)))
        .build()
        .unwrap()
}

fn unique(name: &str) -> String {
    format!("{name}-{}", js_sys::Math::random().to_bits())
}

async fn delete_database(namespace: &str) {
    let factory = web_sys::window().unwrap().indexed_db().unwrap().unwrap();
    let req = factory
        .delete_database(&IndexedDbStore::database_name(namespace))
        .unwrap();
    let p = js_sys::Promise::new(&mut |resolve, reject| {
        req.set_onsuccess(Some(&resolve));
        req.set_onerror(Some(&reject));
    });
    JsFuture::from(p).await.unwrap();
}

#[wasm_bindgen_test]
async fn indexeddb_store_keeps_records_history_and_persists() {
    let ns = unique("persist");
    let store = Rc::new(IndexedDbStore::open(&ns).await.unwrap());
    let svc = service(store.clone());
    for n in ["b", "a"] {
        svc.save("view", n, json!({"n": n}), SaveOptions::default())
            .await
            .unwrap();
    }
    svc.save("view", "a", json!({"n": "a2"}), SaveOptions::default())
        .await
        .unwrap();
    svc.save("object", "o", json!({}), SaveOptions::default())
        .await
        .unwrap();
    let names: Vec<_> = svc
        .load_many("view")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(svc.history("view", "a").await.unwrap().len(), 2);

    // A new connection (a reload) finds everything.
    store.close();
    let reopened = Rc::new(IndexedDbStore::open(&ns).await.unwrap());
    let svc = service(reopened.clone());
    assert_eq!(
        svc.load("view", "a").await.unwrap().as_deref(),
        Some(&json!({"n": "a2"}))
    );
    assert_eq!(svc.history("view", "a").await.unwrap().len(), 2);
    assert_eq!(svc.query(&Query::default()).await.unwrap().total, 3);
    // A closed connection is reopened on the next call.
    reopened.close();
    svc.purge("view", "b", ChangeOptions::default())
        .await
        .unwrap();
    assert_eq!(svc.load("view", "b").await.unwrap(), None);
    assert_eq!(svc.history("view", "b").await.unwrap().len(), 2);
    delete_database(&ns).await;
}

#[wasm_bindgen_test]
async fn indexeddb_batches_are_all_or_nothing_and_tenants_isolated() {
    let ns = unique("batch");
    let store: Rc<dyn Store> = Rc::new(IndexedDbStore::open(&ns).await.unwrap());
    let acme = MetadataService::builder_shared(Rc::clone(&store))
        .tenant(Some("acme"))
        .clock(Rc::new(ManualClock::new(0, 1)))
        .build()
        .unwrap();
    let global = service(Rc::clone(&store));
    global
        .save(
            "view",
            "home",
            json!({"who": "global"}),
            SaveOptions::default(),
        )
        .await
        .unwrap();
    let items: Vec<SaveItem> = (0..200)
        .map(|i| SaveItem {
            type_name: "view".into(),
            name: format!("v{i:03}"),
            data: json!({"i": i}),
            options: SaveOptions::default(),
        })
        .collect();
    let out = acme.save_many(items).await.unwrap();
    assert_eq!(out.len(), 200);
    assert_eq!(acme.load_many("view").await.unwrap().len(), 201);
    assert_eq!(global.load_many("view").await.unwrap().len(), 1);
    // A conflicting item: nothing of the batch is written.
    let mut bad = SaveItem {
        type_name: "view".into(),
        name: "v000".into(),
        data: json!({"i": -1}),
        options: SaveOptions::default(),
    };
    bad.options.expected_version = Some(7);
    let new_item = SaveItem {
        type_name: "view".into(),
        name: "zzz".into(),
        data: json!({}),
        options: SaveOptions::default(),
    };
    let err = acme.save_many(vec![new_item, bad]).await.unwrap_err();
    assert_eq!(err.code(), "CONFLICT");
    assert_eq!(acme.load("view", "zzz").await.unwrap(), None);
    // A bulk save reads versions by range: a purged record comes back after
    // its history (v1 create, v2 purge -> v3), the others update to v2.
    acme.purge("view", "v007", ChangeOptions::default())
        .await
        .unwrap();
    let again: Vec<SaveItem> = (0..200)
        .map(|i| SaveItem {
            type_name: "view".into(),
            name: format!("v{i:03}"),
            data: json!({"i": i, "again": true}),
            options: SaveOptions::default(),
        })
        .collect();
    let out = acme.save_many(again).await.unwrap();
    assert_eq!(out[7].record.version, 3);
    assert!(out
        .iter()
        .enumerate()
        .all(|(i, o)| i == 7 || o.record.version == 2));
    delete_database(&ns).await;
}

#[wasm_bindgen_test]
async fn indexeddb_upgrades_an_existing_empty_database() {
    // A database created by someone else at version 0 -> 1 with no stores
    // is not ours; one at an older version of ours is upgraded on open.
    let ns = unique("upgrade");
    let factory = web_sys::window().unwrap().indexed_db().unwrap().unwrap();
    let req = factory
        .open_with_u32(&IndexedDbStore::database_name(&ns), 1)
        .unwrap();
    let p = js_sys::Promise::new(&mut |resolve, reject| {
        req.set_onsuccess(Some(&resolve));
        req.set_onerror(Some(&reject));
    });
    JsFuture::from(p).await.unwrap();
    let db: web_sys::IdbDatabase = req.result().unwrap().dyn_into().unwrap();
    assert_eq!(
        db.object_store_names().length(),
        0,
        "created empty by the test"
    );
    db.close();
    delete_database(&ns).await;

    // Fresh: the store creates both object stores and their indexes.
    let store = IndexedDbStore::open(&ns).await.unwrap();
    store.close();
    let req = factory
        .open_with_u32(&IndexedDbStore::database_name(&ns), 1)
        .unwrap();
    let p = js_sys::Promise::new(&mut |resolve, reject| {
        req.set_onsuccess(Some(&resolve));
        req.set_onerror(Some(&reject));
    });
    JsFuture::from(p).await.unwrap();
    let db: web_sys::IdbDatabase = req.result().unwrap().dyn_into().unwrap();
    let names = db.object_store_names();
    assert!(names.contains("records") && names.contains("history"));
    let tx = db.transaction_with_str("records").unwrap();
    let indexes = tx.object_store("records").unwrap().index_names();
    for index in ["tenant_type_name", "type_active", "tenant_type"] {
        assert!(indexes.contains(index), "{index}");
    }
    db.close();
    delete_database(&ns).await;
}

#[wasm_bindgen_test]
async fn local_storage_store_and_its_quota() {
    let ns = unique("ls");
    let kv = Rc::new(LocalStorageKv::open(&ns).unwrap());
    let svc = service(Rc::new(KvStore::new(Rc::clone(&kv))));
    svc.save("view", "v", json!({"a": 1}), SaveOptions::default())
        .await
        .unwrap();
    assert_eq!(
        svc.load("view", "v").await.unwrap().as_deref(),
        Some(&json!({"a": 1}))
    );
    let before = kv.keys().unwrap().len();
    // Fill the quota: a save that does not fit is QUOTA_EXCEEDED and leaves
    // what was stored before.
    let big = "x".repeat(1024 * 1024);
    let mut filled = 0;
    let mut err = None;
    for i in 0..12 {
        match svc
            .save(
                "blob",
                &format!("b{i}"),
                json!({"big": big}),
                SaveOptions::default(),
            )
            .await
        {
            Ok(_) => filled += 1,
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    let err = err.expect("localStorage holds less than 12 MiB");
    assert_eq!(err.code(), "QUOTA_EXCEEDED", "{err}");
    assert_eq!(
        kv.keys().unwrap().len(),
        before + 2 * filled,
        "no half-written record"
    );
    assert_eq!(
        svc.load("view", "v").await.unwrap().as_deref(),
        Some(&json!({"a": 1}))
    );
    for key in kv.keys().unwrap() {
        kv.delete(&key).await.unwrap();
    }
}

/// Text no storage engine can compress much.
fn incompressible(len: usize) -> String {
    let mut s = String::with_capacity(len + 16);
    while s.len() < len {
        s.push_str(&format!("{:x}", js_sys::Math::random().to_bits()));
    }
    s
}

async fn delete_bucket(name: &str) {
    let manager = js_sys::Reflect::get(
        &web_sys::window().unwrap().navigator(),
        &"storageBuckets".into(),
    )
    .unwrap();
    let delete: js_sys::Function = js_sys::Reflect::get(&manager, &"delete".into())
        .unwrap()
        .into();
    let p: js_sys::Promise = delete.call1(&manager, &name.into()).unwrap().into();
    JsFuture::from(p).await.unwrap();
}

#[wasm_bindgen_test]
async fn indexeddb_quota_is_quota_exceeded_and_writes_nothing() {
    // A storage bucket with a 256 KiB quota: the same browser quota check a
    // full disk or a full origin meets, at a size a test can reach.
    let bucket = Bucket {
        name: format!("quota-{:x}", js_sys::Math::random().to_bits()),
        quota: Some(256 * 1024),
        persisted: None,
    };
    let ns = unique("quota");
    let store = Rc::new(IndexedDbStore::open_in_bucket(&ns, &bucket).await.unwrap());
    assert_eq!(store.bucket(), Some(bucket.name.as_str()));
    let svc = service(store.clone());
    svc.save("view", "kept", json!({"v": 1}), SaveOptions::default())
        .await
        .unwrap();

    // One record over the quota: refused, the stored version stays.
    let err = svc
        .save(
            "view",
            "kept",
            json!({"big": incompressible(1024 * 1024)}),
            SaveOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "QUOTA_EXCEEDED", "{err}");
    let kept = svc.load_record("view", "kept").await.unwrap().unwrap();
    assert_eq!((kept.version, &*kept.data), (1, &json!({"v": 1})));

    // A batch whose items fit one by one but not together: all or nothing.
    let items: Vec<SaveItem> = (0..8)
        .map(|i| SaveItem {
            type_name: "blob".into(),
            name: format!("b{i}"),
            data: json!({"chunk": incompressible(64 * 1024)}),
            options: SaveOptions::default(),
        })
        .collect();
    let err = svc.save_many(items).await.unwrap_err();
    assert_eq!(err.code(), "QUOTA_EXCEEDED", "{err}");
    assert!(svc.load_many("blob").await.unwrap().is_empty());
    assert_eq!(svc.history("view", "kept").await.unwrap().len(), 1);
    assert_eq!(svc.query(&Query::default()).await.unwrap().total, 1);

    // The database is still usable after the refusals, also reopened.
    svc.save("view", "kept", json!({"v": 2}), SaveOptions::default())
        .await
        .unwrap();
    store.close();
    let reopened = IndexedDbStore::open_in_bucket(&ns, &bucket).await.unwrap();
    let svc = service(Rc::new(reopened));
    assert_eq!(
        svc.load("view", "kept").await.unwrap().as_deref(),
        Some(&json!({"v": 2}))
    );
    assert_eq!(svc.history("view", "kept").await.unwrap().len(), 2);
    drop(svc);
    delete_bucket(&bucket.name).await;
}

#[wasm_bindgen_test]
async fn a_bucket_name_the_api_refuses_is_a_validation_error() {
    for name in ["", "Upper", "-lead", "has space", &"x".repeat(65)] {
        let err = IndexedDbStore::open_in_bucket("ns", &Bucket::named(name))
            .await
            .err()
            .unwrap_or_else(|| panic!("{name:?} was accepted"));
        assert_eq!(err.code(), "VALIDATION", "{name:?}: {err}");
    }
    let zero = Bucket {
        quota: Some(0),
        ..Bucket::named("fine")
    };
    let err = IndexedDbStore::open_in_bucket("ns", &zero)
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), "VALIDATION", "{err}");
}
