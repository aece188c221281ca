//! Browser storage in headless Chromium (wasm-bindgen-test with
//! chromedriver): `cargo test --target wasm32-unknown-unknown --test wasm_browser`.
#![cfg(target_arch = "wasm32")]

mod contract;

use std::cell::RefCell;
use std::rc::Rc;

use async_trait::async_trait;
use contract::{run_all, Factory, Subject};
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

/// A service of `tenant` over `store`, its clock starting at `start_ms`.
fn tenant_service(store: &Rc<dyn Store>, tenant: &str, start_ms: i64) -> MetadataService {
    MetadataService::builder_shared(Rc::clone(store))
        .tenant(Some(tenant))
        .clock(Rc::new(ManualClock::new(start_ms, 1)))
        .build()
        .unwrap()
}

/// A tenant's change log: (sequence, name, version) of every change.
async fn change_log(store: &Rc<dyn Store>, tenant: &str) -> Vec<(u64, String, u64)> {
    store
        .changes(Some(tenant), &ChangeQuery::since(0))
        .await
        .unwrap()
        .iter()
        .map(|e| (e.sequence, e.name.clone(), e.version))
        .collect()
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

    // One batch of texts in and beyond ASCII (two-byte, three-byte and
    // four-byte UTF-8: one and two UTF-16 units), with a purge among them:
    // each row keeps its own text.
    let labels = ["plain", "é à ü", "名前", "😀 and 🎉", "", "mixed é😀名"];
    let items = labels
        .iter()
        .enumerate()
        .map(|(i, l)| SaveItem {
            type_name: "view".into(),
            name: format!("u{i}"),
            data: json!({ "label": l, "i": i }),
            options: SaveOptions::default(),
        })
        .collect();
    svc.save_many(items).await.unwrap();
    svc.purge("view", "u2", ChangeOptions::default())
        .await
        .unwrap();
    store.close();
    let svc = service(Rc::new(IndexedDbStore::open(&ns).await.unwrap()));
    for (i, l) in labels.iter().enumerate() {
        let got = svc.load("view", &format!("u{i}")).await.unwrap();
        if i == 2 {
            assert_eq!(got, None);
            let history = svc.history("view", "u2").await.unwrap();
            assert_eq!(history.len(), 2);
            assert_eq!(history[0].data.json_text(), r#"{"label":"名前","i":2}"#);
        } else {
            assert_eq!(got.as_deref(), Some(&json!({ "label": l, "i": i })));
        }
    }
    delete_database(&ns).await;
}

#[wasm_bindgen_test]
async fn indexeddb_batches_are_all_or_nothing_and_tenants_isolated() {
    let ns = unique("batch");
    let store: Rc<dyn Store> = Rc::new(IndexedDbStore::open(&ns).await.unwrap());
    let acme = tenant_service(&store, "acme", 0);
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

#[wasm_bindgen(module = "/tests/support/idb_old.js")]
extern "C" {
    #[wasm_bindgen(js_name = writeV1Database)]
    fn write_v1_database(name: &str, records: &str, history: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = writeV2Database)]
    fn write_v2_database(name: &str, dump: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = dumpDatabase)]
    fn dump_database(name: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = describeDatabase)]
    fn describe_database(name: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = holdOpen)]
    fn hold_open(name: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = bucketFactory)]
    fn bucket_factory(name: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = holdOpenAt)]
    fn hold_open_at(factory: &JsValue, name: &str, version: u32) -> js_sys::Promise;
    fn within(promise: &js_sys::Promise, ms: u32) -> js_sys::Promise;
    #[wasm_bindgen(js_name = closeConnection)]
    fn close_connection(db: &JsValue);
    #[wasm_bindgen(js_name = damageRow)]
    fn damage_row(name: &str, key: &str, kind: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = copyRow)]
    fn copy_row(name: &str, key: &str, copy: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = spoilRow)]
    fn spoil_row(
        name: &str,
        key: &str,
        json: &JsValue,
        keep_hash: bool,
        hash: Option<String>,
    ) -> js_sys::Promise;
}

#[wasm_bindgen_test]
async fn indexeddb_rows_that_do_not_decode_are_corrupted_and_say_why() {
    let ns = unique("spoiled");
    let store = Rc::new(IndexedDbStore::open(&ns).await.unwrap());
    let svc = service(store.clone());
    for n in ["a", "b", "c"] {
        svc.save("view", n, json!({ "n": n }), SaveOptions::default())
            .await
            .unwrap();
    }
    let name = IndexedDbStore::database_name(&ns);
    let key = RecordKey::new(None, "view", "b");
    let id = objectstack_metadata::store::layout::record_id(&key);
    // c's own record, whole and valid, under b's key.
    let c = svc.load_record("view", "c").await.unwrap().unwrap();
    // Each spoiled with the hash the writer stored, which the spoiled text
    // no longer has; then without it (as rows were written before they
    // had one), where the record itself says what is wrong.
    let mismatch = "the stored row */view/b does not match the hash stored with it";
    let c_text = serde_json::to_string(&c).unwrap();
    let not_a_record = r#"{"not":"a record"}"#.to_owned();
    // As text (rows of schema 3 and before) and as UTF-8 bytes (schema 4).
    let text = |t: &str| JsValue::from_str(t);
    let bytes = |b: &[u8]| JsValue::from(js_sys::Uint8Array::from(b));
    let mut c_bytes = c_text.clone().into_bytes();
    for (spoiled, keep_hash, says) in [
        (text(&c_text), true, mismatch),
        (bytes(c_text.as_bytes()), true, mismatch),
        (text(&not_a_record), true, mismatch),
        // Torn, with the hash of the whole text.
        (bytes(&c_text.as_bytes()[..20]), true, mismatch),
        (
            text(&c_text),
            false,
            "the row stored under the key */view/b holds view/c, not its own",
        ),
        (
            bytes(c_text.as_bytes()),
            false,
            "the row stored under the key */view/b holds view/c, not its own",
        ),
        (text(&not_a_record), false, "stored record does not decode"),
        // Torn: the row alone is damaged, and says so.
        (text("[1,"), false, "stored record does not decode"),
        // Bytes after the record shaped as a further row of the old
        // packed form: part of this row's text, not a row.
        (
            text(&format!(r#"{c_text}],["*/view/z",1,0,null,null,{c_text}"#)),
            false,
            "stored record does not decode",
        ),
        (
            JsValue::UNDEFINED,
            false,
            "the stored row */view/b has no JSON text",
        ),
        (
            {
                // A byte of c's text that no UTF-8 text holds.
                c_bytes[3] = 0xff;
                bytes(&c_bytes)
            },
            true,
            "the stored row */view/b has a text that is not UTF-8",
        ),
        (
            // After something shaped like a row's first members.
            bytes(
                &[
                    &br#"{"data":[["low",1],["high",2]],"bad":""#[..],
                    &[0xff],
                    br#""}"#,
                ]
                .concat(),
            ),
            true,
            "the stored row */view/b has a text that is not UTF-8",
        ),
    ] {
        store.close();
        JsFuture::from(spoil_row(&name, &id, &spoiled, keep_hash, None))
            .await
            .unwrap();
        for err in [
            svc.load_many("view").await.unwrap_err(),
            store.list(None, Some("view")).await.unwrap_err(),
            store
                .changes(None, &ChangeQuery::since(0))
                .await
                .unwrap_err(),
            store.get(&key).await.unwrap_err(),
            svc.delete("view", "b", ChangeOptions::default())
                .await
                .unwrap_err(),
        ] {
            assert_eq!(err.code(), "CORRUPTED", "{err}");
            assert!(err.to_string().contains(says), "{err}");
        }
        // A save writes over it; history keeps the damaged version.
        svc.save("view", "b", json!({ "over": true }), SaveOptions::default())
            .await
            .unwrap();
        assert_eq!(
            svc.load("view", "b").await.unwrap().as_deref(),
            Some(&json!({ "over": true }))
        );
        let err = svc.history("view", "b").await.unwrap_err();
        assert_eq!(err.code(), "CORRUPTED", "{err}");
    }
    // A record that decodes, its definition changed and its checksum not:
    // a row written before rows had a hash is found out by its checksum
    // (by the service, which checks what it reads), one with a hash by
    // the hash, where any read finds it.
    let a_key = RecordKey::new(None, "view", "a");
    let a_id = objectstack_metadata::store::layout::record_id(&a_key);
    let a = store.get(&a_key).await.unwrap().unwrap();
    let tampered = serde_json::to_string(&a)
        .unwrap()
        .replace(r#""n":"a""#, r#""n":"x""#);
    assert_ne!(tampered, serde_json::to_string(&a).unwrap());
    store.close();
    JsFuture::from(spoil_row(
        &name,
        &a_id,
        &JsValue::from_str(&tampered),
        true,
        None,
    ))
    .await
    .unwrap();
    let err = store.get(&a_key).await.unwrap_err();
    assert!(err.to_string().contains("does not match the hash"), "{err}");
    store.close();
    JsFuture::from(spoil_row(
        &name,
        &a_id,
        &JsValue::from_str(&tampered),
        false,
        None,
    ))
    .await
    .unwrap();
    assert_eq!(store.get(&a_key).await.unwrap().unwrap().version, 1);
    let err = svc.load("view", "a").await.unwrap_err();
    assert_eq!(err.code(), "CORRUPTED", "{err}");
    assert!(err.to_string().contains("does not match its data"), "{err}");
    // A row that has its hash but whose definition is not JSON (balanced
    // brackets of the wrong kind): still never served.
    let broken = serde_json::to_string(&a)
        .unwrap()
        .replace(r#""data":{"n":"a"}"#, r#""data":{"n":"a"]"#);
    assert!(broken.contains(r#"{"n":"a"]"#));
    let hash = objectstack_metadata::wasm::indexeddb::row_hash(&broken);
    store.close();
    JsFuture::from(spoil_row(
        &name,
        &a_id,
        &JsValue::from_str(&broken),
        false,
        Some(hash),
    ))
    .await
    .unwrap();
    let err = store.get(&a_key).await.unwrap_err();
    assert_eq!(err.code(), "CORRUPTED", "{err}");
    let err = store.list(None, Some("view")).await.unwrap_err();
    assert_eq!(err.code(), "CORRUPTED", "{err}");
    delete_database(&ns).await;
}

/// Views v00 to v39: more than a batch reads record by record, so that a
/// batch of them reads the type's whole key range.
fn forty_views() -> Vec<SaveItem> {
    (0..40)
        .map(|i| SaveItem {
            type_name: "view".into(),
            name: format!("v{i:02}"),
            data: json!({ "i": i }),
            options: SaveOptions::default(),
        })
        .collect()
}

#[wasm_bindgen_test]
async fn indexeddb_a_row_under_a_key_no_record_has_is_named_by_it() {
    let ns = unique("forged");
    let store = Rc::new(IndexedDbStore::open(&ns).await.unwrap());
    let svc = service(store.clone());
    for n in ["a", "b"] {
        svc.save("view", n, json!({ "n": n }), SaveOptions::default())
            .await
            .unwrap();
    }
    // b's row copied under a key in view's range that no record has: with
    // a quote, a backslash and a control character, which its key's JSON
    // escapes.
    let b = objectstack_metadata::store::layout::record_id(&RecordKey::new(None, "view", "b"));
    let forged = format!("{b}\"\\\u{7}");
    store.close();
    JsFuture::from(copy_row(&IndexedDbStore::database_name(&ns), &b, &forged))
        .await
        .unwrap();
    let err = svc.load_many("view").await.unwrap_err();
    assert_eq!(err.code(), "CORRUPTED", "{err}");
    assert!(
        err.to_string().contains(&format!(
            "the row stored under the key {forged} holds view/b"
        )),
        "{err}"
    );
    // Reads and writes of records are not failed by it, also where they
    // read the type's range.
    assert_eq!(
        svc.load("view", "a").await.unwrap().as_deref(),
        Some(&json!({ "n": "a" }))
    );
    assert_eq!(svc.save_many(forty_views()).await.unwrap().len(), 40);
    drop((svc, store));
    delete_database(&ns).await;
}

#[wasm_bindgen_test]
async fn indexeddb_damage_outside_a_rows_text_is_that_rows_own() {
    let t = RecordKey::new(None, "view", "t");
    let t_id = objectstack_metadata::store::layout::record_id(&t);
    let items = forty_views();
    for kind in [
        "seq-negative",
        "seq-infinite",
        "seq-fraction",
        "seq-huge",
        "hash-lone",
        "hash-short",
        "lone-key",
    ] {
        let ns = unique("damaged");
        let store = Rc::new(IndexedDbStore::open(&ns).await.unwrap());
        let svc = service(store.clone());
        svc.save("view", "t", json!({ "t": 1 }), SaveOptions::default())
            .await
            .unwrap();
        svc.save_many(items.clone()).await.unwrap();
        store.close();
        JsFuture::from(damage_row(&IndexedDbStore::database_name(&ns), &t_id, kind))
            .await
            .unwrap();
        // Reads and writes of other records go on, also where they read
        // the type's range with the damaged row in it.
        svc.save_many(items.clone()).await.unwrap();
        assert_eq!(
            svc.load("view", "v07").await.unwrap().as_deref(),
            Some(&json!({ "i": 7 })),
            "{kind}"
        );
        // Reads of the whole type fail, naming the row.
        let err = svc.load_many("view").await.unwrap_err();
        assert_eq!(err.code(), "CORRUPTED", "{kind}: {err}");
        assert!(err.to_string().contains(&t_id), "{kind}: {err}");
        if kind == "lone-key" {
            // The copy holds t, under a key no record has: t itself is
            // whole.
            assert!(err.to_string().contains("holds view/t"), "{err}");
            assert_eq!(
                svc.load("view", "t").await.unwrap().as_deref(),
                Some(&json!({ "t": 1 }))
            );
        } else {
            // The record whose row is damaged: its own error, by its key,
            // and a write that needs its head (a delete) is refused.
            for err in [
                store.get(&t).await.unwrap_err(),
                svc.delete("view", "t", ChangeOptions::default())
                    .await
                    .unwrap_err(),
            ] {
                assert!(
                    matches!(&err, Error::Corrupted { key, .. } if **key == t),
                    "{kind}: {err:?}"
                );
                assert!(err.to_string().contains(&t_id), "{kind}: {err}");
            }
            // A save writes over it, after the version its row holds.
            let out = svc
                .save("view", "t", json!({ "t": 2 }), SaveOptions::default())
                .await
                .unwrap();
            assert_eq!(out.record.version, 2, "{kind}");
            assert_eq!(
                svc.load("view", "t").await.unwrap().as_deref(),
                Some(&json!({ "t": 2 }))
            );
        }
        drop((svc, store));
        delete_database(&ns).await;
    }
}

#[wasm_bindgen_test]
async fn indexeddb_a_damaged_head_is_replaced_only_by_a_later_version() {
    let ns = unique("replaced");
    let store = Rc::new(IndexedDbStore::open(&ns).await.unwrap());
    let svc = service(store.clone());
    for n in 1..=3 {
        svc.save("view", "t", json!({ "n": n }), SaveOptions::default())
            .await
            .unwrap();
    }
    let v2 = svc.load_record("view", "t").await.unwrap().unwrap();
    let db = IndexedDbStore::database_name(&ns);
    let t = RecordKey::new(None, "view", "t");
    let id = objectstack_metadata::store::layout::record_id(&t);
    store.close();
    JsFuture::from(spoil_row(&db, &id, &JsValue::UNDEFINED, true, None))
        .await
        .unwrap();
    // A mirrored version no later than the one the row holds (3) does
    // not go back over it: nothing is written, the record stays damaged
    // and can still be written.
    for version in [2, 3] {
        let older = MetadataRecord {
            version,
            ..v2.clone()
        };
        let events = svc
            .mirror(vec![Mirrored::Record(older)], Origin::Mirrored)
            .await
            .unwrap();
        assert!(events.is_empty(), "{version}: {events:?}");
        let err = svc.load("view", "t").await.unwrap_err();
        assert_eq!(err.code(), "CORRUPTED", "{err}");
    }
    // A later one replaces it, the damaged row archived as version 3.
    let later = MetadataRecord {
        version: 5,
        ..v2.clone()
    };
    let events = svc
        .mirror(vec![Mirrored::Record(later)], Origin::Mirrored)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        svc.load_record("view", "t").await.unwrap().unwrap().version,
        5
    );
    let out = svc
        .save("view", "t", json!({ "n": 6 }), SaveOptions::default())
        .await
        .unwrap();
    assert_eq!(out.record.version, 6);
    // A row whose text is whole and its own, but whose version member says
    // four more (6 + 4): a save follows the member, what commits check,
    // and the row is archived as it is (history reports it).
    store.close();
    JsFuture::from(damage_row(&db, &id, "version-ahead"))
        .await
        .unwrap();
    let err = svc.load("view", "t").await.unwrap_err();
    assert_eq!(err.code(), "CORRUPTED", "{err}");
    let out = svc
        .save("view", "t", json!({ "n": 7 }), SaveOptions::default())
        .await
        .unwrap();
    assert_eq!(out.record.version, 11);
    let err = svc.history("view", "t").await.unwrap_err();
    assert_eq!(err.code(), "CORRUPTED", "{err}");
    // A mirrored version after the member's replaces such a head too;
    // one after the text's alone is not later.
    store.close();
    JsFuture::from(damage_row(&db, &id, "version-ahead"))
        .await
        .unwrap();
    for (version, replaced) in [(12, false), (15, false), (16, true)] {
        let events = svc
            .mirror(
                vec![Mirrored::Record(MetadataRecord {
                    version,
                    ..v2.clone()
                })],
                Origin::Mirrored,
            )
            .await
            .unwrap();
        assert_eq!(events.len(), usize::from(replaced), "{version}");
    }
    assert_eq!(
        svc.load_record("view", "t").await.unwrap().unwrap().version,
        16
    );
    drop((svc, store));
    delete_database(&ns).await;
}

#[wasm_bindgen_test]
async fn indexeddb_a_damaged_row_read_before_a_write_names_its_record() {
    let ns = unique("blamed");
    let store = Rc::new(IndexedDbStore::open(&ns).await.unwrap());
    let svc = service(store.clone());
    // More than a batch reads record by record, so that a batch of all of
    // them reads the type's range.
    let names: Vec<String> = (0..40).map(|i| format!("v{i:02}")).collect();
    let others: Vec<String> = (0..32).map(|i| format!("w{i:02}")).collect();
    let items = |names: &[String]| -> Vec<SaveItem> {
        names
            .iter()
            .map(|n| SaveItem {
                type_name: "view".into(),
                name: n.clone(),
                data: json!({ "n": n, "again": true }),
                options: SaveOptions::default(),
            })
            .collect()
    };
    for n in &names {
        svc.save("view", n, json!({ "n": n }), SaveOptions::default())
            .await
            .unwrap();
    }
    let db = IndexedDbStore::database_name(&ns);
    let key = RecordKey::new(None, "view", "v07");
    let id = objectstack_metadata::store::layout::record_id(&key);
    let v08 = svc.load_record("view", "v08").await.unwrap().unwrap();
    let v08_text = serde_json::to_string(&v08).unwrap();
    let mut not_utf8 = v08_text.clone().into_bytes();
    not_utf8[3] = 0xff;
    // A text its hash does not match; another record's text; bytes that
    // are not UTF-8; no text at all; text that is not JSON: torn, empty,
    // with bytes after the record, with or without its hash.
    let torn = &v08_text[..v08_text.len() / 2];
    let trailing = format!("{v08_text}]]");
    let spoiled_texts = [
        (JsValue::UNDEFINED, true),
        (JsValue::from_str(r#"{"not":"a record"}"#), true),
        (JsValue::from_str(&v08_text), false),
        (JsValue::from(js_sys::Uint8Array::from(&not_utf8[..])), true),
        (JsValue::from_str(torn), true),
        (JsValue::from_str(torn), false),
        (JsValue::from_str(""), false),
        (JsValue::from_str(&trailing), false),
        (
            JsValue::from(js_sys::Uint8Array::from(trailing.as_bytes())),
            true,
        ),
    ];
    for (spoiled, keep_hash) in spoiled_texts {
        store.close();
        JsFuture::from(spoil_row(&db, &id, &spoiled, keep_hash, None))
            .await
            .unwrap();
        // A write that needs the head (a delete), or a save with a guard:
        // refused, naming the record.
        let err = svc
            .delete("view", "v07", ChangeOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Corrupted { key: k, .. } if **k == key),
            "{err:?}"
        );
        // Read record by record, then as the type's range.
        for (from, to, index) in [(6, 9, 1), (0, 40, 7)] {
            let mut batch = items(&names[from..to]);
            batch[index].options.expected_version = Some(1);
            let err = svc.save_many(batch).await.unwrap_err();
            match &err {
                Error::Batch {
                    index: i,
                    key: k,
                    source,
                } => {
                    assert_eq!((*i, &**k), (index, &key), "{err}");
                    assert!(
                        matches!(&**source, Error::Corrupted { key: k, .. } if **k == key),
                        "{err:?}"
                    );
                }
                other => panic!("not a batch error: {other:?}"),
            }
        }
        // A batch of other records of the type, read as the type's range
        // with the damaged row in it, is not failed by it.
        svc.save_many(items(&others)).await.unwrap();
    }
    // Nothing was written.
    let v06 = svc.load_record("view", "v06").await.unwrap().unwrap();
    assert_eq!(v06.version, 1);
    // A save without a guard writes over the damaged head (its row says
    // it holds version 1), alone and in a batch read as the type's range:
    // the damaged row is archived as it is, where history says what is
    // wrong with it.
    let out = svc
        .save(
            "view",
            "v07",
            json!({ "n": "again" }),
            SaveOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        (out.record.version, out.operation),
        (2, Some(Operation::Update))
    );
    assert_eq!(
        svc.load("view", "v07").await.unwrap().as_deref(),
        Some(&json!({ "n": "again" }))
    );
    let err = svc.history("view", "v07").await.unwrap_err();
    assert_eq!(err.code(), "CORRUPTED", "{err}");
    store.close();
    JsFuture::from(spoil_row(&db, &id, &JsValue::UNDEFINED, true, None))
        .await
        .unwrap();
    let out = svc.save_many(items(&names)).await.unwrap();
    assert_eq!(out[7].record.version, 3);
    assert_eq!(out[6].record.version, 2);
    // A row without a hash (as written before rows had one), its data
    // changed and its checksum not: loads refuse it; a save over it goes
    // through, and the damaged version is archived as it is, where
    // history says what is wrong with it (the evidence is kept, and the
    // record can still be written).
    let v20 = RecordKey::new(None, "view", "v20");
    let text = serde_json::to_string(&store.get(&v20).await.unwrap().unwrap())
        .unwrap()
        .replace(r#""n":"v20""#, r#""n":"tampered""#);
    assert!(text.contains("tampered"));
    store.close();
    let id = objectstack_metadata::store::layout::record_id(&v20);
    JsFuture::from(spoil_row(&db, &id, &JsValue::from_str(&text), false, None))
        .await
        .unwrap();
    let err = svc.load("view", "v20").await.unwrap_err();
    assert_eq!(err.code(), "CORRUPTED", "{err}");
    let out = svc
        .save(
            "view",
            "v20",
            json!({ "n": "repaired" }),
            SaveOptions::default(),
        )
        .await
        .unwrap();
    // (The batch above made v20 version 2.)
    assert_eq!(out.record.version, 3);
    assert_eq!(
        svc.load("view", "v20").await.unwrap().as_deref(),
        Some(&json!({ "n": "repaired" }))
    );
    let archived = store.history(&v20).await.unwrap();
    assert_eq!(archived[1].version, 2);
    assert_eq!(
        archived[1].data.value(),
        &json!({ "n": "tampered", "again": true })
    );
    let err = svc.history("view", "v20").await.unwrap_err();
    assert_eq!(err.code(), "CORRUPTED", "{err}");
    assert!(err.to_string().contains("version 2"), "{err}");
    drop((svc, store));
    delete_database(&ns).await;
}

/// A service over a new database (named after `name`) whose record
/// view/a was saved twice, then had version 1's whole text, with its own
/// checksum and a hash that matches, put over its head row, which still
/// says it holds version 2. The store is closed; the service opens it
/// again. Answers the namespace, the store, the service and the row's key.
async fn version_1_over_the_head(
    name: &str,
) -> (String, Rc<IndexedDbStore>, MetadataService, String) {
    let ns = unique(name);
    let store = Rc::new(IndexedDbStore::open(&ns).await.unwrap());
    let svc = service(store.clone());
    svc.save("view", "a", json!({"n": 1}), SaveOptions::default())
        .await
        .unwrap();
    let first = svc.load_record("view", "a").await.unwrap().unwrap();
    svc.save("view", "a", json!({"n": 2}), SaveOptions::default())
        .await
        .unwrap();
    let key = RecordKey::new(None, "view", "a");
    let id = objectstack_metadata::store::layout::record_id(&key);
    let text = serde_json::to_string(&first).unwrap();
    let hash = objectstack_metadata::wasm::indexeddb::row_hash(&text);
    store.close();
    JsFuture::from(spoil_row(
        &IndexedDbStore::database_name(&ns),
        &id,
        &JsValue::from_str(&text),
        false,
        Some(hash),
    ))
    .await
    .unwrap();
    (ns, store, svc, id)
}

#[wasm_bindgen_test]
async fn indexeddb_a_commit_that_fails_says_why() {
    // The row saying it holds version 1 too: a save archives it as version
    // 1, which the history already holds, and IndexedDB refuses the commit.
    let (ns, store, svc, id) = version_1_over_the_head("refused").await;
    JsFuture::from(damage_row(
        &IndexedDbStore::database_name(&ns),
        &id,
        "version-behind",
    ))
    .await
    .unwrap();
    let held = svc.load("view", "a").await.unwrap().unwrap();
    assert_eq!(held.json_text(), r#"{"n":1}"#);
    // It said "IndexedDB commit: : null": the error of the request that
    // failed had not reached the transaction when it was told.
    let err = svc
        .save("view", "a", json!({"n": 3}), SaveOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "STORAGE_ERROR", "{err}");
    assert!(err.to_string().contains("ConstraintError"), "{err}");
    assert!(!err.to_string().contains("null"), "{err}");
    // Nothing was written.
    let held = svc.load("view", "a").await.unwrap().unwrap();
    assert_eq!(held.json_text(), r#"{"n":1}"#);
    drop((svc, store));
    delete_database(&ns).await;
}

#[wasm_bindgen_test]
async fn indexeddb_an_older_version_copied_over_the_head_is_corrupted() {
    let (ns, store, svc, _) = version_1_over_the_head("replayed").await;
    let key = RecordKey::new(None, "view", "a");
    let says = "the stored row */view/a is of version 2, its text of version 1";
    for err in [
        store.get(&key).await.unwrap_err(),
        store.list(None, Some("view")).await.unwrap_err(),
        svc.load("view", "a").await.unwrap_err(),
        svc.delete("view", "a", ChangeOptions::default())
            .await
            .unwrap_err(),
        svc.save(
            "view",
            "a",
            json!({"n": 3}),
            SaveOptions {
                expected_version: Some(2),
                ..SaveOptions::default()
            },
        )
        .await
        .unwrap_err(),
    ] {
        assert_eq!(err.code(), "CORRUPTED", "{err}");
        assert!(err.to_string().contains(says), "{err}");
    }
    // A save without a guard writes over it, as version 3 (after the
    // version the row says it holds); the damaged row is archived as
    // version 2, where history finds it out.
    let out = svc
        .save("view", "a", json!({"n": 3}), SaveOptions::default())
        .await
        .unwrap();
    assert_eq!(out.record.version, 3);
    let err = svc.history("view", "a").await.unwrap_err();
    assert_eq!(err.code(), "CORRUPTED", "{err}");
    drop((svc, store));
    delete_database(&ns).await;
}

fn v1_record(tenant: Option<&str>, name: &str, version: u64, at: i64, n: i64) -> serde_json::Value {
    let data = json!({ "n": n });
    let mut record = serde_json::to_value(MetadataRecord {
        type_name: "view".into(),
        name: name.into(),
        checksum: checksum(&data).unwrap(),
        data: Definition::from_value(data).unwrap(),
        version,
        source: Source::Database,
        is_active: true,
        owner: "alice".into(),
        tenant_id: tenant.map(str::to_owned),
        tags: vec![],
        created_at: clock::format_rfc3339(0),
        updated_at: clock::format_rfc3339(at),
        updated_by: Some("alice".into()),
        seq: 0,
        operation: Operation::Create,
    })
    .unwrap();
    // Version 1 had neither field.
    let object = record.as_object_mut().unwrap();
    object.remove("seq");
    object.remove("operation");
    record
}

fn v1_entry(record: &serde_json::Value, operation: &str, active: bool) -> serde_json::Value {
    json!({
        "tenant_id": record["tenant_id"], "type": "view", "name": record["name"],
        "version": record["version"], "operation": operation, "checksum": record["checksum"],
        "actor": "alice", "timestamp": record["updated_at"], "is_active": active,
        "data": record["data"],
    })
}

fn v1_row(value: &serde_json::Value, history: bool) -> serde_json::Value {
    let key = RecordKey::new(
        value["tenant_id"].as_str(),
        "view",
        value["name"].as_str().unwrap(),
    );
    let version = value["version"].as_u64().unwrap();
    let mut row = json!({
        "key": if history { store::layout::history_id(&key, version) } else { key.storage_key() },
        "tenant": value["tenant_id"].as_str().unwrap_or(""),
        "type": "view", "name": value["name"], "version": version,
        "json": value.to_string(),
    });
    if !history {
        row["active"] = json!(1);
    }
    row
}

/// The object stores and indexes of a namespace's database.
async fn layout_of(ns: &str) -> serde_json::Value {
    let described = JsFuture::from(describe_database(&IndexedDbStore::database_name(ns)))
        .await
        .unwrap();
    serde_json::from_str(&String::from(js_sys::JSON::stringify(&described).unwrap())).unwrap()
}

/// Schema 3: the three object stores, and only the indexes a read uses.
fn schema_4() -> serde_json::Value {
    json!({"version": 4, "records": ["tenant_seq"], "history": ["tenant_seq"], "counters": []})
}

#[wasm_bindgen_test]
async fn indexeddb_creates_schema_4_and_upgrades_a_version_1_database() {
    let ns = unique("fresh");
    IndexedDbStore::open(&ns).await.unwrap().close();
    assert_eq!(layout_of(&ns).await, schema_4());
    delete_database(&ns).await;

    // Version 1 with data: a (v1, v2), b (v1) for acme; c (v1, purged at v2)
    // global. Each head's own version was in history too.
    let ns = unique("v1");
    let a1 = v1_record(Some("acme"), "a", 1, 1_000, 1);
    let a2 = v1_record(Some("acme"), "a", 2, 3_000, 2);
    let b1 = v1_record(Some("acme"), "b", 1, 2_000, 3);
    let c1 = v1_record(None, "c", 1, 1_500, 4);
    let heads = [v1_row(&a2, false), v1_row(&b1, false)];
    let mut c2 = v1_entry(&c1, "purge", false);
    c2["version"] = json!(2);
    c2["timestamp"] = json!(clock::format_rfc3339(4_000));
    let history = [
        v1_row(&v1_entry(&a1, "create", true), true),
        v1_row(&v1_entry(&a2, "update", true), true),
        v1_row(&v1_entry(&b1, "create", true), true),
        v1_row(&v1_entry(&c1, "create", true), true),
        v1_row(&c2, true),
    ];
    JsFuture::from(write_v1_database(
        &IndexedDbStore::database_name(&ns),
        &serde_json::to_string(&heads).unwrap(),
        &serde_json::to_string(&history).unwrap(),
    ))
    .await
    .unwrap();
    let store: Rc<dyn Store> = Rc::new(IndexedDbStore::open(&ns).await.unwrap());
    assert_eq!(layout_of(&ns).await, schema_4());
    let seqs = |entries: Vec<HistoryEntry>| {
        entries
            .iter()
            .map(|h| (h.version, h.seq, h.operation))
            .collect::<Vec<_>>()
    };
    let a = RecordKey::new(Some("acme"), "view", "a");
    assert_eq!(
        seqs(store.history(&a).await.unwrap()),
        [(1, 1, Operation::Create), (2, 3, Operation::Update)],
        "a's head is not repeated in its history, and the changes are numbered in time order"
    );
    assert_eq!(store.get(&a).await.unwrap().unwrap().seq, 3);
    assert_eq!(store.last_sequence(Some("acme")).await.unwrap(), 3);
    assert_eq!(store.last_sequence(None).await.unwrap(), 2);
    let log = change_log(&store, "acme").await;
    assert_eq!(
        log,
        [(1, "a".into(), 1), (2, "b".into(), 1), (3, "a".into(), 2)]
    );
    // The upgraded database takes new writes: versions continue after the
    // purge, sequence numbers after the last one.
    let global = service(Rc::clone(&store));
    let again = global
        .save("view", "c", json!({"n": 5}), SaveOptions::default())
        .await
        .unwrap();
    assert_eq!((again.record.version, again.record.seq), (3, 3));
    let acme = tenant_service(&store, "acme", 10_000);
    let updated = acme
        .save("view", "a", json!({"n": 6}), SaveOptions::default())
        .await
        .unwrap();
    assert_eq!((updated.record.version, updated.record.seq), (3, 4));
    assert_eq!(acme.history("view", "a").await.unwrap().len(), 3);
    drop((global, acme, store));
    delete_database(&ns).await;
}

#[wasm_bindgen_test]
async fn indexeddb_upgrades_a_version_2_database_keeping_every_row() {
    // Rows as schema 4 writes them, their JSON as text and given the
    // members version 2 also wrote (writeV2Database adds them), in a
    // database of version 2's layout.
    let source = unique("v2-rows");
    let store: Rc<dyn Store> = Rc::new(IndexedDbStore::open(&source).await.unwrap());
    let acme = tenant_service(&store, "acme", 0);
    for n in 1..=3 {
        acme.save("view", "a", json!({ "n": n }), SaveOptions::default())
            .await
            .unwrap();
    }
    acme.save("app", "b", json!({}), SaveOptions::default())
        .await
        .unwrap();
    let global = service(Rc::clone(&store));
    global
        .save("view", "c", json!({}), SaveOptions::default())
        .await
        .unwrap();
    global
        .delete("view", "c", ChangeOptions::default())
        .await
        .unwrap();
    drop((acme, global, store));
    let dump = JsFuture::from(dump_database(&IndexedDbStore::database_name(&source)))
        .await
        .unwrap()
        .as_string()
        .unwrap();
    delete_database(&source).await;
    let written: serde_json::Value = serde_json::from_str(&dump).unwrap();
    for store in ["records", "history"] {
        let rows = written[store].as_array().unwrap();
        assert!(!rows.is_empty());
        assert!(
            rows.iter().all(|row| row["bytes"] == true),
            "schema 4 stores every row's JSON as UTF-8 bytes: {written}"
        );
    }
    let ns = unique("v2");
    JsFuture::from(write_v2_database(
        &IndexedDbStore::database_name(&ns),
        &dump,
    ))
    .await
    .unwrap();
    let rows = |text: JsValue| {
        serde_json::from_str::<serde_json::Value>(&text.as_string().unwrap()).unwrap()
    };
    let dump_v2 = JsFuture::from(dump_database(&IndexedDbStore::database_name(&ns)))
        .await
        .unwrap();
    let v2 = rows(dump_v2);
    assert_eq!(layout_of(&ns).await["version"], 2);
    assert!(
        v2["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|row| row["type"].is_string() && row["active"].is_number()),
        "written as version 2 wrote rows: {v2}"
    );

    let store: Rc<dyn Store> = Rc::new(IndexedDbStore::open(&ns).await.unwrap());
    assert_eq!(layout_of(&ns).await, schema_4());
    let after = JsFuture::from(dump_database(&IndexedDbStore::database_name(&ns)))
        .await
        .unwrap();
    assert_eq!(rows(after), v2, "every row kept as it was");
    let acme = tenant_service(&store, "acme", 10_000);
    let a = acme.load_record("view", "a").await.unwrap().unwrap();
    assert_eq!((a.version, a.seq, a.data.value()), (3, 3, &json!({"n": 3})));
    assert_eq!(acme.history("view", "a").await.unwrap().len(), 3);
    let log = change_log(&store, "acme").await;
    assert_eq!(
        log,
        [
            (1, "a".into(), 1),
            (2, "a".into(), 2),
            (3, "a".into(), 3),
            (4, "b".into(), 1)
        ]
    );
    // It takes new writes where version 2 left off.
    let updated = acme
        .save("view", "a", json!({"n": 4}), SaveOptions::default())
        .await
        .unwrap();
    assert_eq!((updated.record.version, updated.record.seq), (4, 5));
    // The new head is written as bytes; the text head it replaced is
    // archived as it was.
    let now = rows(
        JsFuture::from(dump_database(&IndexedDbStore::database_name(&ns)))
            .await
            .unwrap(),
    );
    let row = |store: &str, key: &str| {
        now[store]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["key"].as_str().is_some_and(|k| k.ends_with(key)))
            .cloned()
            .unwrap()
    };
    assert_eq!(row("records", "/view/a")["bytes"], true);
    assert_eq!(
        row("history", "/view/a#00000000000000000003")["bytes"],
        serde_json::Value::Null
    );
    assert_eq!(row("history", "/view/a#00000000000000000003")["head"], 1);
    // Version 2's head, archived, reads back as history.
    let versions: Vec<_> = acme
        .history("view", "a")
        .await
        .unwrap()
        .iter()
        .map(|h| (h.version, h.seq, h.data.value().clone()))
        .collect();
    assert_eq!(
        versions,
        [
            (1, 1, json!({"n": 1})),
            (2, 2, json!({"n": 2})),
            (3, 3, json!({"n": 3})),
            (4, 5, json!({"n": 4}))
        ]
    );
    let global = service(Rc::clone(&store));
    let restored = global
        .restore("view", "c", ChangeOptions::default())
        .await
        .unwrap();
    assert_eq!((restored.record.version, restored.record.seq), (3, 3));
    drop((acme, global, store));
    delete_database(&ns).await;
}

/// Fresh IndexedDB databases, one per subject.
struct IndexedDbs {
    last: RefCell<Option<String>>,
}

#[async_trait(?Send)]
impl Factory for IndexedDbs {
    fn label(&self) -> String {
        "indexeddb".into()
    }
    async fn open(&self) -> Subject {
        let ns = unique("contract");
        let store = IndexedDbStore::open(&ns).await.unwrap();
        *self.last.borrow_mut() = Some(ns);
        Subject {
            store: Rc::new(store),
            faults: None,
            interleaves: true,
        }
    }
    async fn reopen(&self, _: &Subject) -> Option<Rc<dyn Store>> {
        // A second connection, as another tab has.
        let ns = self.last.borrow().clone()?;
        Some(Rc::new(IndexedDbStore::open(&ns).await.unwrap()))
    }
}

/// Fresh localStorage namespaces, one per subject.
struct LocalStorages;

#[async_trait(?Send)]
impl Factory for LocalStorages {
    fn label(&self) -> String {
        "localstorage".into()
    }
    async fn open(&self) -> Subject {
        let kv = LocalStorageKv::open(&unique("contract")).unwrap();
        Subject {
            store: Rc::new(KvStore::new(kv)),
            faults: None,
            interleaves: false,
        }
    }
    async fn reopen(&self, _: &Subject) -> Option<Rc<dyn Store>> {
        // localStorage has no transactions: separate store objects over one
        // namespace are not safe concurrent writers (README).
        None
    }
}

#[wasm_bindgen_test]
async fn indexeddb_passes_the_store_contract() {
    run_all(&IndexedDbs {
        last: RefCell::default(),
    })
    .await;
}

/// A promise settled by a timer: awaiting it yields to the event loop,
/// which ends an IndexedDB transaction with nothing left to do.
async fn next_task() {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback(&resolve)
            .unwrap();
    });
    JsFuture::from(p).await.unwrap();
}

#[wasm_bindgen_test]
async fn indexeddb_writes_hold_one_transaction_from_read_to_commit() {
    use objectstack_metadata::store::{hold, Change, Expect, HeldError};
    let ns = unique("held");
    let idb = Rc::new(IndexedDbStore::open(&ns).await.unwrap());
    let store: Rc<dyn Store> = idb.clone();
    let svc = service(Rc::clone(&store));
    // Every kind of write, one and many (40 of one type: read by range).
    svc.save("view", "a", json!({"n": 1}), SaveOptions::default())
        .await
        .unwrap();
    svc.save("view", "a", json!({"n": 2}), SaveOptions::default())
        .await
        .unwrap();
    let items: Vec<SaveItem> = (0..40)
        .map(|i| SaveItem {
            type_name: "app".into(),
            name: format!("app_{i:02}"),
            data: json!({"i": i}),
            options: SaveOptions::default(),
        })
        .collect();
    svc.save_many(items).await.unwrap();
    let same = svc
        .save("view", "a", json!({"n": 2}), SaveOptions::default())
        .await
        .unwrap();
    assert!(!same.changed);
    svc.delete("view", "a", ChangeOptions::default())
        .await
        .unwrap();
    svc.purge("app", "app_07", ChangeOptions::default())
        .await
        .unwrap();
    let guarded = SaveOptions {
        expected_version: Some(7),
        ..SaveOptions::default()
    };
    let refused = svc
        .save("app", "app_01", json!({"i": 99}), guarded)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "CONFLICT");
    // Six writes committed in a held transaction, none planned twice; the
    // refused one wrote nothing.
    assert_eq!(idb.held_writes(), (6, 0));
    // A definition refused after the first pieces went to IndexedDB: the
    // transaction is aborted, nothing of the batch is kept.
    let texts: Vec<SaveText> = (0..700)
        .map(|i| SaveText {
            type_name: "form".into(),
            name: format!("f{i:03}"),
            data: if i == 600 {
                "[1]".into()
            } else {
                format!("{{\"i\":{i}}}")
            },
            options: SaveOptions::default(),
        })
        .collect();
    let refused = svc
        .save_texts_answered(texts, |_| Ok(()))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, Error::Batch { index: 600, .. }),
        "{refused:?}"
    );
    assert!(store.list(None, Some("form")).await.unwrap().is_empty());
    let log: Vec<u64> = store
        .changes(None, &ChangeQuery::since(0))
        .await
        .unwrap()
        .iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(log, (1..=44).collect::<Vec<u64>>());
    assert_eq!(store.last_sequence(None).await.unwrap(), 44);
    let versions: Vec<u64> = store
        .history(&RecordKey::new(None, "view", "a"))
        .await
        .unwrap()
        .iter()
        .map(|h| h.version)
        .collect();
    assert_eq!(versions, [1, 2, 3]);
    assert_eq!(
        svc.load("app", "app_01").await.unwrap().unwrap().value(),
        &json!({"i": 1})
    );

    // A hold the writer leaves over a task has ended: its first write is
    // Lost (the writer plans again), and nothing is written.
    let key = RecordKey::new(None, "view", "lost");
    let mut holding = hold(&*store, None, std::slice::from_ref(&key))
        .await
        .unwrap()
        .unwrap()
        .holding;
    next_task().await;
    let change = Change::Put {
        record: contract::record(None, "view", "lost", 1, json!({})),
        expect: Expect::Absent,
    };
    assert!(matches!(
        holding.write(vec![(0, change.clone())]),
        Err(HeldError::Lost)
    ));
    drop(holding);
    assert_eq!(idb.held_writes(), (6, 1));
    assert!(store.get(&key).await.unwrap().is_none());

    // Changes the hold did not read as they are are refused before the
    // store sees them; a hold dropped unfinished writes nothing.
    let mut holding = hold(&*store, None, std::slice::from_ref(&key))
        .await
        .unwrap()
        .unwrap()
        .holding;
    let other = Change::Put {
        record: contract::record(None, "view", "other", 1, json!({})),
        expect: Expect::Absent,
    };
    let stale = Change::Put {
        record: contract::record(None, "view", "lost", 2, json!({})),
        expect: Expect::Version(1),
    };
    let e = holding.write(vec![(0, other)]).unwrap_err();
    assert!(
        matches!(e, HeldError::Failed(ref e) if e.code() == "VALIDATION"),
        "{e:?}"
    );
    let e = holding.write(vec![(0, stale)]).unwrap_err();
    assert!(
        matches!(e, HeldError::Failed(ref e) if e.code() == "CONFLICT"),
        "{e:?}"
    );
    holding.write(vec![(0, change.clone())]).unwrap();
    let e = holding.write(vec![(0, change.clone())]).unwrap_err();
    assert!(
        matches!(e, HeldError::Failed(ref e) if e.code() == "VALIDATION"),
        "{e:?}"
    );
    drop(holding);
    assert!(store.get(&key).await.unwrap().is_none());
    assert_eq!(store.last_sequence(None).await.unwrap(), 44);
    // A key held twice, or written twice in one piece, is refused.
    let twice = [key.clone(), key.clone()];
    let e = hold(&*store, None, &twice).await.err().unwrap();
    assert_eq!(e.code(), "VALIDATION");
    let mut holding = hold(&*store, None, std::slice::from_ref(&key))
        .await
        .unwrap()
        .unwrap()
        .holding;
    let e = holding
        .write(vec![(0, change.clone()), (0, change.clone())])
        .unwrap_err();
    assert!(
        matches!(e, HeldError::Failed(ref e) if e.code() == "VALIDATION"),
        "{e:?}"
    );
    drop(holding);

    // A writer that stops after a piece without finishing or giving up
    // (a trap runs no destructor): nothing of it is kept.
    let mut holding = hold(&*store, None, std::slice::from_ref(&key))
        .await
        .unwrap()
        .unwrap()
        .holding;
    holding.write(vec![(0, change)]).unwrap();
    std::mem::forget(holding);
    next_task().await;
    assert!(store.get(&key).await.unwrap().is_none());
    assert_eq!(store.last_sequence(None).await.unwrap(), 44);

    // An answer that cannot be made gives the held write up.
    let items = vec![SaveText {
        type_name: "form".into(),
        name: "answerless".into(),
        data: "{}".into(),
        options: SaveOptions::default(),
    }];
    let e = svc
        .save_texts_answered(items, |_| -> Result<()> {
            Err(Error::QuotaExceeded {
                message: "no room for the answer".into(),
            })
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), "QUOTA_EXCEEDED");
    assert_eq!(store.last_sequence(None).await.unwrap(), 44);
    assert!(store.list(None, Some("form")).await.unwrap().is_empty());
    drop((svc, store, idb));
    delete_database(&ns).await;
}

#[wasm_bindgen_test]
async fn indexeddb_upgrade_blocked_by_a_connection_that_stays_open_is_refused() {
    let ns = unique("blocked");
    let name = IndexedDbStore::database_name(&ns);
    JsFuture::from(write_v1_database(&name, "[]", "[]"))
        .await
        .unwrap();
    // A connection that does not step aside blocks the upgrade: refused
    // after a while, as unavailable storage, instead of waiting for ever.
    let other = JsFuture::from(hold_open(&name)).await.unwrap();
    let started = js_sys::Date::now();
    let err = IndexedDbStore::open(&ns).await.err().unwrap();
    assert_eq!(err.code(), "STORAGE_UNAVAILABLE", "{err}");
    assert!(err.to_string().contains("blocks its upgrade"), "{err}");
    assert!(js_sys::Date::now() - started >= 4000.0);
    // Another open meanwhile queues behind the first, which is never told
    // it is blocked: refused the same way, not left waiting.
    let err = IndexedDbStore::open(&ns).await.err().unwrap();
    assert_eq!(err.code(), "STORAGE_UNAVAILABLE", "{err}");
    // Once it closes, the store opens and upgrades.
    close_connection(&other);
    let store = IndexedDbStore::open(&ns).await.unwrap();
    assert!(store.list(None, None).await.unwrap().is_empty());
    drop(store);
    delete_database(&ns).await;
}

#[wasm_bindgen_test]
async fn indexeddb_in_a_bucket_an_upgrade_blocked_is_refused_too() {
    // As in the default storage: a failed open is not taken for a deleted
    // bucket, whose opening again would wait behind the blocked one.
    let bucket = Bucket::named(format!("blocked-{:x}", js_sys::Math::random().to_bits()));
    let ns = unique("bucket-blocked");
    let name = IndexedDbStore::database_name(&ns);
    let factory = JsFuture::from(bucket_factory(&bucket.name)).await.unwrap();
    let other = JsFuture::from(hold_open_at(&factory, &name, 1))
        .await
        .unwrap();
    let opening = {
        let (ns, bucket) = (ns.clone(), bucket.clone());
        wasm_bindgen_futures::future_to_promise(async move {
            match IndexedDbStore::open_in_bucket(&ns, &bucket).await {
                Ok(_) => Ok(JsValue::from_str("opened")),
                Err(e) => Ok(JsValue::from_str(&format!("{}: {e}", e.code()))),
            }
        })
    };
    let got = JsFuture::from(within(&opening, 12_000)).await.unwrap();
    let got = got.as_string().unwrap();
    assert!(got.starts_with("STORAGE_UNAVAILABLE"), "{got}");
    assert!(got.contains("blocks its upgrade"), "{got}");
    close_connection(&other);
    delete_bucket(&bucket.name).await;
}

#[wasm_bindgen_test]
async fn indexeddb_writes_reconnect_after_another_context_deleted_the_database() {
    let ns = unique("deleted");
    let idb = Rc::new(IndexedDbStore::open(&ns).await.unwrap());
    let store: Rc<dyn Store> = idb.clone();
    let svc = service(Rc::clone(&store));
    svc.save("view", "a", json!({"n": 1}), SaveOptions::default())
        .await
        .unwrap();
    // Another context deletes the database: the open connection steps
    // aside; the next write reconnects and creates it anew.
    delete_database(&ns).await;
    let saved = svc
        .save("view", "b", json!({"n": 2}), SaveOptions::default())
        .await
        .unwrap();
    assert_eq!(saved.record.version, 1);
    assert_eq!(
        store
            .get(&RecordKey::new(None, "view", "b"))
            .await
            .unwrap()
            .map(|r| r.version),
        Some(1)
    );
    drop((svc, store, idb));
    delete_database(&ns).await;
}

#[wasm_bindgen_test]
async fn cached_reads_end_when_another_context_deletes_the_database() {
    let ns = unique("deleted-cached");
    let store: Rc<dyn Store> = Rc::new(IndexedDbStore::open(&ns).await.unwrap());
    let chain = HybridService::new(service(Rc::clone(&store)), None, HybridConfig::default());
    chain
        .save("view", "a", json!({"n": 1}), SaveOptions::default())
        .await
        .unwrap();
    assert_eq!(chain.load_many("view").await.unwrap().items.len(), 1);
    let cached = chain.load("view", "a").await.unwrap();
    assert!(cached.from_cache);
    assert_eq!(cached.data(), Some(&json!({"n": 1})));
    // Another context deletes the database (a sign-out that clears the
    // site's data, say): nothing announces it, but the connection hears
    // `versionchange`, and the cache stops answering from what is gone.
    let epoch = store.epoch();
    delete_database(&ns).await;
    assert_eq!(store.epoch(), epoch + 1);
    let gone = chain.load("view", "a").await.unwrap();
    assert!(!gone.from_cache);
    assert_eq!(gone.data(), None);
    assert!(chain.load_many("view").await.unwrap().items.is_empty());
    // The store reconnects, creating the database anew, and caches again.
    chain
        .save("view", "a", json!({"n": 2}), SaveOptions::default())
        .await
        .unwrap();
    let again = chain.load("view", "a").await.unwrap();
    assert_eq!(again.data(), Some(&json!({"n": 2})));
    assert_eq!(
        chain
            .database()
            .load_record("view", "a")
            .await
            .unwrap()
            .map(|r| r.version),
        Some(1)
    );
    assert!(chain.load("view", "a").await.unwrap().from_cache);
    drop((chain, store));
    delete_database(&ns).await;
}

#[wasm_bindgen_test]
async fn a_change_stream_follows_a_database_deleted_and_made_anew() {
    // Changes before the deletion, heard; then changes in the new
    // database, which are numbered from 1 again: fewer, as many and more
    // than before, one by one or in one batch.
    // Also a stream from the log's end, which has handed out nothing.
    for (before, after, batch, heard_before) in [
        (3, 2, false, true),
        (1, 1, false, true),
        (3, 3, true, true),
        (2, 5, false, true),
        (1, 1, false, false),
        (3, 4, true, false),
    ] {
        follow_across_a_deletion(before, after, batch, heard_before).await;
    }
}

async fn follow_across_a_deletion(before: u64, after: u64, batch: bool, heard_before: bool) {
    use objectstack_metadata::store::Follower;
    let ns = unique("deleted-followed");
    let store: Rc<dyn Store> = Rc::new(IndexedDbStore::open(&ns).await.unwrap());
    let svc = service(Rc::clone(&store));
    for i in 1..=before {
        svc.save(
            "view",
            &format!("old{i}"),
            json!({}),
            SaveOptions::default(),
        )
        .await
        .unwrap();
    }
    let since = if heard_before { 0 } else { before };
    let follower = Follower::start(Rc::clone(&store), None, Some(since))
        .await
        .unwrap();
    let mut heard = Vec::new();
    for _ in since..before {
        let e = follower.next().await.unwrap().unwrap();
        heard.push((e.name, e.sequence));
    }
    // Another context deletes the database.
    delete_database(&ns).await;
    let names: Vec<String> = (1..=after).map(|i| format!("new{i}")).collect();
    if batch {
        let items = names
            .iter()
            .map(|n| SaveItem {
                type_name: "view".into(),
                name: n.clone(),
                data: json!({}),
                options: SaveOptions::default(),
            })
            .collect();
        svc.save_many(items).await.unwrap();
    } else {
        for n in &names {
            svc.save("view", n, json!({}), SaveOptions::default())
                .await
                .unwrap();
        }
    }
    for _ in 0..after {
        let e = follower.next().await.unwrap().unwrap();
        heard.push((e.name, e.sequence));
    }
    let want: Vec<(String, u64)> = (since + 1..=before)
        .map(|i| (format!("old{i}"), i))
        .chain((1..=after).map(|i| (format!("new{i}"), i)))
        .collect();
    assert_eq!(heard, want, "{before} before, {after} after");
    drop((follower, svc, store));
    delete_database(&ns).await;
}

#[wasm_bindgen_test]
async fn cached_reads_end_when_the_browser_closes_the_connection() {
    // Deleting a Storage Bucket (as clearing the site's data does) closes
    // the connections to its databases with `close`, not `versionchange`.
    let bucket = Bucket::named(format!("closed-{:x}", js_sys::Math::random().to_bits()));
    let ns = unique("closed-cached");
    let store: Rc<dyn Store> = Rc::new(IndexedDbStore::open_in_bucket(&ns, &bucket).await.unwrap());
    let chain = HybridService::new(service(Rc::clone(&store)), None, HybridConfig::default());
    chain
        .save("view", "a", json!({"n": 1}), SaveOptions::default())
        .await
        .unwrap();
    chain.load("view", "a").await.unwrap();
    assert!(chain.load("view", "a").await.unwrap().from_cache);
    let epoch = store.epoch();
    delete_bucket(&bucket.name).await;
    // At once, before the connection's `close` has come: the write's
    // transaction aborts, and it runs again in the bucket made anew.
    chain
        .save("view", "b", json!({"n": 1}), SaveOptions::default())
        .await
        .unwrap();
    for _ in 0..50 {
        if store.epoch() != epoch {
            break;
        }
        next_task().await;
    }
    assert_eq!(store.epoch(), epoch + 1);
    // Not the cached record: the bucket and its database are made anew,
    // as a deleted database is, and hold nothing yet.
    let r = chain.load("view", "a").await.unwrap();
    assert!(!r.from_cache && r.data().is_none(), "{:?}", r.data());
    chain
        .save("view", "a", json!({"n": 2}), SaveOptions::default())
        .await
        .unwrap();
    let record = store
        .get(&RecordKey::new(None, "view", "a"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((record.version, record.data.value()), (1, &json!({"n": 2})));
    drop((chain, store));
    delete_bucket(&bucket.name).await;
}

#[wasm_bindgen_test]
async fn local_storage_passes_the_store_contract() {
    run_all(&LocalStorages).await;
    web_sys::window()
        .unwrap()
        .local_storage()
        .unwrap()
        .unwrap()
        .clear()
        .unwrap();
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
        before + filled,
        "no half-written record (one head per new record)"
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
