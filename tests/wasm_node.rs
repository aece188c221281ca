//! wasm-bindgen tests of the glue, run in Node by wasm-bindgen-test-runner:
//! `cargo test --target wasm32-unknown-unknown --test wasm_node`.
#![cfg(target_arch = "wasm32")]

mod contract;

use std::cell::RefCell;
use std::rc::Rc;

use async_trait::async_trait;
use contract::{run_all, Factory, Fault, Subject};
use js_sys::{Function, Reflect};
use objectstack_metadata::wasm::boundary::{error_to_js, to_js, value_from_js};
use objectstack_metadata::wasm::host::Host;
use objectstack_metadata::wasm::host_kv::HostKv;
use objectstack_metadata::wasm::host_records::HostRecords;
use objectstack_metadata::*;
use serde_json::json;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
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

#[wasm_bindgen(module = "/tests/support/hosts.mjs")]
extern "C" {
    #[wasm_bindgen(js_name = newMap)]
    fn new_map() -> JsValue;
    #[wasm_bindgen(js_name = mapHost)]
    fn map_host(map: &JsValue, asynchronous: bool, atomic: bool) -> JsValue;
    #[wasm_bindgen(js_name = sqliteHost)]
    fn sqlite_host(path: JsValue) -> js_sys::Promise;
    #[wasm_bindgen(js_name = postgresUrl)]
    fn postgres_url() -> Option<String>;
    #[wasm_bindgen(js_name = postgresRequired)]
    fn postgres_required() -> bool;
    #[wasm_bindgen(js_name = postgresHost)]
    fn postgres_host(schema: JsValue) -> js_sys::Promise;
    fn note(message: &str);
}

/// Arms a fault through the `arm(kind, n)` a wrapped host carries.
fn arming(wrapped: &JsValue) -> Rc<dyn Fn(Fault)> {
    let arm: Function = prop(wrapped, "arm").dyn_into().unwrap();
    Rc::new(move |f: Fault| {
        let (kind, n) = match f {
            Fault::Before(n) => ("before", n),
            Fault::After(n) => ("after", n),
            Fault::Off => ("off", 0),
        };
        arm.call2(&JsValue::NULL, &JsValue::from_str(kind), &JsValue::from(n))
            .unwrap();
    })
}

fn kv_store(wrapped: &JsValue) -> Rc<dyn Store> {
    let host = Host::new(&prop(wrapped, "host"), "map").unwrap();
    Rc::new(KvStore::new(HostKv::new(host).unwrap()))
}

/// Key-value hosts over one Map per subject.
struct KvHosts {
    asynchronous: bool,
    atomic: bool,
    last: RefCell<Option<JsValue>>,
}

#[async_trait(?Send)]
impl Factory for KvHosts {
    fn label(&self) -> String {
        format!(
            "key-value host (async: {}, commit: {})",
            self.asynchronous, self.atomic
        )
    }
    async fn open(&self) -> Subject {
        let map = new_map();
        let wrapped = map_host(&map, self.asynchronous, self.atomic);
        *self.last.borrow_mut() = Some(map);
        Subject {
            store: kv_store(&wrapped),
            faults: Some(arming(&wrapped)),
            interleaves: self.asynchronous,
        }
    }
    async fn reopen(&self, _: &Subject) -> Option<Rc<dyn Store>> {
        // Separate store objects coordinate only through `commit`.
        if !self.atomic {
            return None;
        }
        let map = self.last.borrow().clone()?;
        Some(kv_store(&map_host(&map, self.asynchronous, true)))
    }
}

/// SQLite record hosts, one database file per subject.
struct SqliteHosts {
    last: RefCell<Option<JsValue>>,
}

async fn sqlite(path: JsValue) -> JsValue {
    JsFuture::from(sqlite_host(path)).await.unwrap()
}

fn record_store(wrapped: &JsValue) -> Rc<dyn Store> {
    let host = Host::new(&prop(wrapped, "host"), "sqlite").unwrap();
    Rc::new(HostRecords::new(host).unwrap())
}

#[async_trait(?Send)]
impl Factory for SqliteHosts {
    fn label(&self) -> String {
        "sqlite record host".into()
    }
    async fn open(&self) -> Subject {
        let wrapped = sqlite(JsValue::UNDEFINED).await;
        *self.last.borrow_mut() = Some(prop(&wrapped, "path"));
        Subject {
            store: record_store(&wrapped),
            faults: Some(arming(&wrapped)),
            interleaves: false,
        }
    }
    async fn reopen(&self, _: &Subject) -> Option<Rc<dyn Store>> {
        let path = self.last.borrow().clone()?;
        Some(record_store(&sqlite(path).await))
    }
}

/// PostgreSQL record hosts, one fresh schema per subject.
struct PostgresHosts {
    last: RefCell<Option<JsValue>>,
}

async fn postgres(schema: JsValue) -> JsValue {
    JsFuture::from(postgres_host(schema)).await.unwrap()
}

#[async_trait(?Send)]
impl Factory for PostgresHosts {
    fn label(&self) -> String {
        "postgres record host".into()
    }
    async fn open(&self) -> Subject {
        let wrapped = postgres(JsValue::UNDEFINED).await;
        *self.last.borrow_mut() = Some(prop(&wrapped, "schema"));
        Subject {
            store: record_store(&wrapped),
            faults: Some(arming(&wrapped)),
            interleaves: true,
        }
    }
    async fn reopen(&self, _: &Subject) -> Option<Rc<dyn Store>> {
        let schema = self.last.borrow().clone()?;
        Some(record_store(&postgres(schema).await))
    }
}

#[wasm_bindgen_test]
async fn key_value_hosts_pass_the_store_contract() {
    for asynchronous in [false, true] {
        for atomic in [false, true] {
            run_all(&KvHosts {
                asynchronous,
                atomic,
                last: RefCell::default(),
            })
            .await;
        }
    }
}

#[wasm_bindgen_test]
async fn the_sqlite_record_host_passes_the_store_contract() {
    run_all(&SqliteHosts {
        last: RefCell::default(),
    })
    .await;
}

/// On the PostgreSQL cluster the test command starts
/// (`METADATA_TEST_DATABASE_URL`). Run by hand without one, it says so and
/// passes nothing; under the test command (`METADATA_TEST_POSTGRES=required`)
/// a missing URL fails.
#[wasm_bindgen_test]
async fn the_postgres_record_host_passes_the_store_contract() {
    if postgres_url().is_none() {
        assert!(
            !postgres_required(),
            "METADATA_TEST_DATABASE_URL is not set, and the test command requires PostgreSQL"
        );
        note(
            "SKIPPED the PostgreSQL store contract: set METADATA_TEST_DATABASE_URL (./scripts/test starts a cluster and sets it)",
        );
        return;
    }
    run_all(&PostgresHosts {
        last: RefCell::default(),
    })
    .await;
}

#[wasm_bindgen_test]
async fn a_host_without_callbacks_is_refused() {
    let host = Host::new(&js("({get() {}})"), "host").unwrap();
    let err = HostKv::new(host).unwrap_err();
    assert_eq!(err.code(), "VALIDATION");
    assert!(err.to_string().contains("put, delete, list"), "{err}");
    assert_eq!(
        Host::new(&JsValue::from(5), "host").unwrap_err().code(),
        "VALIDATION"
    );
    let host = Host::new(&js("({contract: 'records', get() {}})"), "host").unwrap();
    let err = HostRecords::new(host).unwrap_err();
    assert!(err.to_string().contains("readCurrent"), "{err}");
}
