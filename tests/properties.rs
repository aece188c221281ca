//! Properties over generated definitions: the canonical form of a value is
//! the canonical form of its own canonical text (and of its JSON text, in
//! any key order), and a save / load round trip, through the memory store
//! and through the key-value adapter's encoding, keeps the checksum.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::rc::Rc;

use common::*;
use objectstack_metadata::canonical::{canonicalize_text, checksum_text};
use objectstack_metadata::*;
use proptest::prelude::*;
use serde_json::{Map, Number, Value};

/// Strings that exercise escaping and UTF-16 ordering: controls, quotes,
/// backslashes, characters either side of U+E000, astral characters.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            prop::char::range('a', 'e'),
            prop::char::range('0', '9'),
            prop::char::range('\u{0}', '\u{1f}'),
            Just('"'),
            Just('\\'),
            Just('\u{2028}'),
            prop::char::range('\u{d7f0}', '\u{d7ff}'),
            prop::char::range('\u{e000}', '\u{e010}'),
            prop::char::range('\u{ff01}', '\u{ff05}'),
            prop::char::range('\u{1f600}', '\u{1f605}'),
        ],
        0..8,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| Value::Number(Number::from_f64(f).unwrap())),
        (0u32..5000).prop_map(Value::from),
    ]
}

/// Keys: text, and array-index-like keys that sort numerically first.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        text(),
        (0u64..5_000_000_000).prop_map(|n| n.to_string()),
        Just("01".to_owned())
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn object() -> impl Strategy<Value = Value> {
    prop::collection::vec((key(), value()), 0..8)
        .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>()))
}

/// The members of every object in reverse order (same value, other text).
fn reversed(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(reversed).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .rev()
                .map(|(k, v)| (k.clone(), reversed(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn canonical_form_is_the_canonical_form_of_its_own_text(v in value()) {
        let canon = canonicalize(&v).unwrap();
        prop_assert_eq!(canonicalize_text(&canon).unwrap(), canon.clone());
        prop_assert_eq!(canonicalize_text(&serde_json::to_string(&v).unwrap()).unwrap(), canon.clone());
        prop_assert_eq!(canonicalize_text(&serde_json::to_string_pretty(&reversed(&v)).unwrap()).unwrap(), canon.clone());
        prop_assert_eq!(checksum(&v).unwrap(), checksum_text(&canon).unwrap());
        // Canonical text is what it says: JSON that parses back to an equal value.
        let back: Value = serde_json::from_str(&canon).unwrap();
        prop_assert_eq!(canonicalize(&back).unwrap(), canon);
    }

    #[test]
    fn a_save_and_load_round_trip_keeps_the_checksum(v in object()) {
        let sum = checksum(&v).unwrap();
        block_on(async {
            for store in [Rc::new(MemoryStore::new()) as Rc<dyn Store>, kv_store()] {
                let svc = MetadataService::builder_shared(Rc::clone(&store)).build().unwrap();
                let out = svc.save("view", "generated", v.clone(), opts()).await.unwrap();
                assert_eq!(out.record.checksum, sum);
                let loaded = svc.load_record("view", "generated").await.unwrap().unwrap();
                assert_eq!(loaded.checksum, sum);
                assert_eq!(loaded.data.checksum(), sum);
                assert_eq!(checksum(loaded.data.value()).unwrap(), sum);
                // Saving what was loaded is a no-op.
                let again = svc.save("view", "generated", loaded.data.value().clone(), opts()).await.unwrap();
                assert!(!again.changed);
                let history = svc.history("view", "generated").await.unwrap();
                assert_eq!(history.len(), 1);
                assert_eq!(history[0].checksum, sum);
            }
        });
    }
}

/// A key-value store over a map: records cross as JSON text.
fn kv_store() -> Rc<dyn Store> {
    #[derive(Default)]
    struct Map(std::cell::RefCell<std::collections::BTreeMap<String, String>>);

    #[async_trait::async_trait(?Send)]
    impl KvBackend for Map {
        fn kind(&self) -> &str {
            "map"
        }
        async fn get(&self, key: &str) -> Result<Option<String>> {
            Ok(self.0.borrow().get(key).cloned())
        }
        async fn list(&self, prefix: &str) -> Result<Vec<String>> {
            Ok(self
                .0
                .borrow()
                .iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .map(|(_, v)| v.clone())
                .collect())
        }
        async fn put(&self, key: &str, value: &str) -> Result<()> {
            self.0.borrow_mut().insert(key.to_owned(), value.to_owned());
            Ok(())
        }
        async fn delete(&self, key: &str) -> Result<()> {
            self.0.borrow_mut().remove(key);
            Ok(())
        }
    }
    Rc::new(KvStore::new(Map::default()))
}
