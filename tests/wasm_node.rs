//! wasm-bindgen tests of the glue, run in Node by wasm-bindgen-test-runner:
//! `cargo test --target wasm32-unknown-unknown --test wasm_node`.
#![cfg(target_arch = "wasm32")]

use js_sys::{Function, Reflect};
use objectstack_metadata::store::KvStore;
use objectstack_metadata::wasm::boundary::{error_to_js, to_js, value_from_js};
use objectstack_metadata::wasm::host_store::HostKv;
use objectstack_metadata::*;
use serde_json::json;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

fn js(source: &str) -> JsValue {
    Function::new_no_args(&format!("return ({source});"))
        .call0(&JsValue::NULL)
        .expect("test source evaluates")
}

fn prop(v: &JsValue, name: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(name)).unwrap()
}

#[wasm_bindgen_test]
fn values_cross_as_json_with_proto_keys_kept() {
    let v = js(r#"JSON.parse('{"__proto__": {"x": 1}, "n": -0, "s": "é\u2028"}')"#);
    let value = value_from_js(&v, "data").unwrap();
    assert_eq!(
        value,
        json!({"__proto__": {"x": 1}, "n": 0, "s": "é\u{2028}"})
    );
    let back = to_js(&value).unwrap();
    // An own property, not the prototype.
    let own = js("(o) => Object.prototype.hasOwnProperty.call(o, '__proto__')")
        .dyn_into::<Function>()
        .unwrap()
        .call1(&JsValue::NULL, &back)
        .unwrap();
    assert_eq!(own, JsValue::TRUE);
}

#[wasm_bindgen_test]
fn unrepresentable_values_are_validation_errors() {
    for source in [
        "({a: NaN})",
        "[Infinity]",
        "({b: 1n})",
        "({f() {}})",
        "undefined",
    ] {
        let err = value_from_js(&js(source), "data").unwrap_err();
        assert_eq!(err.code(), "VALIDATION", "{source}");
    }
}

#[wasm_bindgen_test]
fn errors_become_real_errors_with_code_and_details() {
    let err = Error::Conflict {
        key: Box::new(RecordKey::new(Some("acme"), "view", "v")),
        expected: "version 1".into(),
        actual: "version 2".into(),
        actual_version: 2,
    };
    let e = error_to_js(&Error::Batch {
        index: 3,
        key: Box::new(RecordKey::new(Some("acme"), "view", "v")),
        source: Box::new(err),
    });
    assert!(e.is_instance_of::<js_sys::Error>());
    assert_eq!(prop(&e, "name"), "MetadataError");
    assert_eq!(prop(&e, "code"), "CONFLICT");
    assert_eq!(prop(&e, "actualVersion").as_f64(), Some(2.0));
    assert_eq!(prop(&e, "index").as_f64(), Some(3.0));
    assert_eq!(prop(&prop(&e, "key"), "tenantId"), "acme");
    assert!(objectstack_metadata::wasm::boundary::is_metadata_error(&e));
    assert!(!objectstack_metadata::wasm::boundary::is_metadata_error(
        &js("new Error('x')")
    ));
}

fn map_host(async_callbacks: bool) -> JsValue {
    let wrap = if async_callbacks { "async " } else { "" };
    js(&format!(
        r#"(() => {{
            const m = new Map();
            return {{
                kind: 'map',
                m,
                get: {wrap}(k) => m.get(k) ?? null,
                put: {wrap}(k, v) => {{ m.set(k, v); }},
                delete: {wrap}(k) => {{ m.delete(k); }},
                list: {wrap}(p) => [...m].filter(([k]) => k.startsWith(p)).map(([, v]) => v),
                fail: null,
            }};
        }})()"#
    ))
}

async fn service_over(host: JsValue) -> MetadataService {
    MetadataService::builder(KvStore::new(HostKv::new(host).unwrap()))
        .clock(Rc::new(ManualClock::new(0, 1)))
        .build()
        .unwrap()
}

#[wasm_bindgen_test]
async fn host_store_with_sync_and_async_callbacks() {
    for async_callbacks in [false, true] {
        let host = map_host(async_callbacks);
        let svc = service_over(host.clone()).await;
        svc.save("view", "v", json!({"a": 1}), SaveOptions::default())
            .await
            .unwrap();
        svc.save("view", "v", json!({"a": 2}), SaveOptions::default())
            .await
            .unwrap();
        assert_eq!(
            svc.load("view", "v").await.unwrap().as_deref(),
            Some(&json!({"a": 2}))
        );
        assert_eq!(svc.history("view", "v").await.unwrap().len(), 2);
        assert_eq!(svc.load_many("view").await.unwrap().len(), 1);
        let size = prop(&prop(&host, "m"), "size").as_f64();
        assert_eq!(size, Some(3.0), "one record and two history entries");
    }
}

#[wasm_bindgen_test]
async fn a_throwing_callback_is_host_callback_failed() {
    let host = map_host(true);
    let svc = service_over(host.clone()).await;
    svc.save("view", "v", json!({"a": 1}), SaveOptions::default())
        .await
        .unwrap();
    let throwing = js("() => { throw new RangeError('disk on fire'); }");
    Reflect::set(&host, &JsValue::from_str("put"), &throwing).unwrap();
    let err = svc
        .save("view", "v", json!({"a": 2}), SaveOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "HOST_CALLBACK_FAILED");
    assert!(err.to_string().contains("'put'"), "{err}");
    assert!(err.to_string().contains("disk on fire"), "{err}");
    assert_eq!(
        svc.load("view", "v").await.unwrap().as_deref(),
        Some(&json!({"a": 1}))
    );
    assert_eq!(svc.history("view", "v").await.unwrap().len(), 1);
}

#[wasm_bindgen_test]
fn a_host_without_callbacks_is_refused() {
    let err = HostKv::new(js("({get() {}})")).unwrap_err();
    assert_eq!(err.code(), "VALIDATION");
    assert!(err.to_string().contains("put, delete, list"), "{err}");
    assert_eq!(
        HostKv::new(JsValue::from(5)).unwrap_err().code(),
        "VALIDATION"
    );
}
