//! `cargo test --release --target wasm32-unknown-unknown -- --nocapture`
//! (CHROMEDRIVER set): prints the timings, asserts only that each side
//! wrote and read what it should.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{
    IdbDatabase, IdbIndexParameters, IdbObjectStoreParameters, IdbRequest, IdbTransaction,
    IdbTransactionMode,
};

wasm_bindgen_test_configure!(run_in_browser);

const RECORDS: usize = 10_000;

fn now() -> f64 {
    web_sys::window().unwrap().performance().unwrap().now()
}

/// Rows shaped like the package's: records with index fields and JSON text,
/// and one history row each.
fn rows() -> (Vec<JsValue>, Vec<JsValue>) {
    let (mut records, mut history) = (Vec::new(), Vec::new());
    for i in 0..RECORDS {
        let ty = if i < 9000 { "view" } else { "app" };
        let name = format!("{ty}_{i:05}");
        let json = format!(
            r#"{{"type":"{ty}","name":"{name}","data":{{"label":"{ty} {i}","object":"sys_account","columns":["name","owner","created_at","field_{}"],"pageSize":25}},"checksum":"d41d8cd98f00b204e9800998ecf8427e","version":1,"source":"database","is_active":true,"owner":"bench","tenant_id":null,"tags":[],"created_at":"2026-01-01T00:00:00.000Z","updated_at":"2026-01-01T00:00:00.000Z"}}"#,
            i % 17
        );
        let row = |key: String, active: bool| {
            let o = js_sys::Object::new();
            let set = |k: &str, v: JsValue| js_sys::Reflect::set(&o, &k.into(), &v).unwrap();
            set("key", key.into());
            set("tenant", "".into());
            set("type", ty.into());
            set("name", name.as_str().into());
            if active {
                set("active", 1.into());
            }
            set("version", 1.into());
            set("json", json.as_str().into());
            JsValue::from(o)
        };
        records.push(row(format!("*/{ty}/{name}"), true));
        history.push(row(format!("*/{ty}/{name}#{:020}", 1), false));
    }
    (records, history)
}

async fn settle(req: &IdbRequest) -> JsValue {
    let p = Promise::new(&mut |ok, ko| {
        req.set_onsuccess(Some(&ok));
        req.set_onerror(Some(&ko));
    });
    JsFuture::from(p).await.unwrap();
    req.result().unwrap()
}

async fn complete(tx: &IdbTransaction) {
    let p = Promise::new(&mut |ok, ko| {
        tx.set_oncomplete(Some(&ok));
        tx.set_onabort(Some(&ko));
    });
    JsFuture::from(p).await.unwrap();
}

async fn delete(name: &str) {
    let f = web_sys::window().unwrap().indexed_db().unwrap().unwrap();
    settle(&f.delete_database(name).unwrap()).await;
}

async fn by_hand_open(name: &str) -> IdbDatabase {
    let f = web_sys::window().unwrap().indexed_db().unwrap().unwrap();
    let open = f.open_with_u32(name, 1).unwrap();
    let req = open.clone();
    let upgrade = Closure::once(move |_: JsValue| {
        let db: IdbDatabase = req.result().unwrap().into();
        let p = IdbObjectStoreParameters::new();
        p.set_key_path(&"key".into());
        let r = db
            .create_object_store_with_optional_parameters("records", &p)
            .unwrap();
        let u = IdbIndexParameters::new();
        u.set_unique(true);
        let path = |a: &[&str]| -> JsValue {
            a.iter()
                .map(|s| JsValue::from_str(s))
                .collect::<Array>()
                .into()
        };
        r.create_index_with_str_sequence_and_optional_parameters(
            "tenant_type_name",
            &path(&["tenant", "type", "name"]),
            &u,
        )
        .unwrap();
        r.create_index_with_str_sequence("type_active", &path(&["type", "active"]))
            .unwrap();
        r.create_index_with_str_sequence("tenant_type", &path(&["tenant", "type"]))
            .unwrap();
        db.create_object_store_with_optional_parameters("history", &p)
            .unwrap();
    });
    open.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    settle(&open).await.into()
}

fn app_range() -> web_sys::IdbKeyRange {
    web_sys::IdbKeyRange::bound_with_lower_open_and_upper_open(
        &"*/app/".into(),
        &"*/app0".into(),
        false,
        true,
    )
    .unwrap()
}

async fn by_hand(records: &[JsValue], history: &[JsValue]) -> (f64, f64, f64) {
    delete("cmp-hand").await;
    let t = now();
    let db = by_hand_open("cmp-hand").await;
    let open = now() - t;
    let t = now();
    let names: Array = ["records", "history"]
        .iter()
        .map(|s| JsValue::from_str(s))
        .collect();
    let tx = db
        .transaction_with_str_sequence_and_mode(&names, IdbTransactionMode::Readwrite)
        .unwrap();
    let (r, h) = (
        tx.object_store("records").unwrap(),
        tx.object_store("history").unwrap(),
    );
    for v in records {
        r.put(v).unwrap();
    }
    for v in history {
        h.put(v).unwrap();
    }
    complete(&tx).await;
    let write = now() - t;
    let t = now();
    let tx = db.transaction_with_str("records").unwrap();
    let all = settle(
        &tx.object_store("records")
            .unwrap()
            .get_all_with_key(&app_range())
            .unwrap(),
    )
    .await;
    let read = now() - t;
    assert_eq!(Array::from(&all).length(), 1000);
    db.close();
    delete("cmp-hand").await;
    (open, write, read)
}

async fn with_rexie(records: &[JsValue], history: &[JsValue]) -> (f64, f64, f64) {
    use rexie::{Index, KeyRange, ObjectStore, Rexie, TransactionMode};
    Rexie::delete("cmp-rexie").await.unwrap();
    let t = now();
    let db = Rexie::builder("cmp-rexie")
        .version(1)
        .add_object_store(
            ObjectStore::new("records")
                .key_path("key")
                .add_index(
                    Index::new_array("tenant_type_name", ["tenant", "type", "name"]).unique(true),
                )
                .add_index(Index::new_array("type_active", ["type", "active"]))
                .add_index(Index::new_array("tenant_type", ["tenant", "type"])),
        )
        .add_object_store(ObjectStore::new("history").key_path("key"))
        .build()
        .await
        .unwrap();
    let open = now() - t;
    let t = now();
    let tx = db
        .transaction(&["records", "history"], TransactionMode::ReadWrite)
        .unwrap();
    let (r, h) = (tx.store("records").unwrap(), tx.store("history").unwrap());
    r.put_all(records.iter().map(|v| (v.clone(), None)))
        .await
        .unwrap();
    h.put_all(history.iter().map(|v| (v.clone(), None)))
        .await
        .unwrap();
    tx.done().await.unwrap();
    let write = now() - t;
    let t = now();
    let tx = db
        .transaction(&["records"], TransactionMode::ReadOnly)
        .unwrap();
    let range =
        KeyRange::bound(&"*/app/".into(), &"*/app0".into(), Some(false), Some(true)).unwrap();
    let all = tx
        .store("records")
        .unwrap()
        .get_all(Some(range), None)
        .await
        .unwrap();
    let read = now() - t;
    assert_eq!(all.len(), 1000);
    db.close();
    Rexie::delete("cmp-rexie").await.unwrap();
    (open, write, read)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

#[wasm_bindgen_test]
async fn compare() {
    let (records, history) = rows();
    let (mut hand, mut rex) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        hand.push(by_hand(&records, &history).await);
        rex.push(with_rexie(&records, &history).await);
    }
    let col =
        |v: &[(f64, f64, f64)], f: fn(&(f64, f64, f64)) -> f64| median(v.iter().map(f).collect());
    console_log!("median of 5 rounds, ms: by hand (web-sys) | rexie 0.6 (over idb 0.6)");
    console_log!(
        "open + create schema: {:.1} | {:.1}",
        col(&hand, |x| x.0),
        col(&rex, |x| x.0)
    );
    console_log!(
        "write {} rows in one transaction: {:.0} | {:.0}",
        2 * RECORDS,
        col(&hand, |x| x.1),
        col(&rex, |x| x.1)
    );
    console_log!(
        "getAll of 1000 by key range: {:.1} | {:.1}",
        col(&hand, |x| x.2),
        col(&rex, |x| x.2)
    );
}
