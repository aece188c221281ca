//! Hostile input gets a typed error and changes nothing; storage faults are
//! reported and leave store and read cache in agreement.

mod common;

use std::rc::Rc;

use common::*;
use objectstack_metadata::*;
use serde_json::{json, Value};

#[test]
fn bad_identifiers_are_validation_errors() {
    block_on(async {
        let svc = service();
        let long = "a".repeat(129);
        for bad in [
            "",
            "Upper",
            "1abc",
            "a-b",
            "a/b",
            "a b",
            "é",
            "__proto__",
            "a\0b",
            "a.b",
            "*",
            "%2F",
            long.as_str(),
        ] {
            let err = svc.save("view", bad, json!({}), opts()).await.unwrap_err();
            assert!(
                matches!(&err, Error::Validation { field, .. } if field == "name"),
                "{bad:?}: {err:?}"
            );
            let err = svc.save(bad, "ok", json!({}), opts()).await.unwrap_err();
            assert!(
                matches!(&err, Error::Validation { field, .. } if field == "type"),
                "{bad:?}: {err:?}"
            );
            assert_eq!(
                svc.load("view", bad).await.unwrap_err().code(),
                "VALIDATION"
            );
        }
        assert!(svc.query(&Query::default()).await.unwrap().items.is_empty());
        // Longest accepted names work.
        svc.save(&"t".repeat(64), &"n".repeat(128), json!({}), opts())
            .await
            .unwrap();
    });
}

#[test]
fn non_object_data_is_refused() {
    block_on(async {
        let svc = service();
        for bad in [
            json!(null),
            json!([1, 2]),
            json!("text"),
            json!(42),
            json!(true),
        ] {
            let err = svc
                .save("view", "v", bad.clone(), opts())
                .await
                .unwrap_err();
            assert!(
                matches!(&err, Error::Validation { field, .. } if field == "data"),
                "{bad}: {err:?}"
            );
        }
        assert_eq!(
            svc.load("view", "v").await.unwrap().as_deref().cloned(),
            None
        );
    });
}

#[test]
fn nan_like_numbers_never_enter() {
    // serde_json cannot hold NaN or infinities; text carrying them fails to parse.
    for text in [
        r#"{"x": NaN}"#,
        r#"{"x": Infinity}"#,
        r#"{"x": -Infinity}"#,
        r#"{"x": 1e400}"#,
    ] {
        assert_eq!(
            validate::parse_json(text).unwrap_err().code(),
            "VALIDATION",
            "{text}"
        );
    }
    assert!(serde_json::Number::from_f64(f64::NAN).is_none());
    // The strings are ordinary strings.
    let v = validate::parse_json(r#"{"x": "NaN", "y": "Infinity"}"#).unwrap();
    assert_eq!(canonicalize(&v).unwrap(), r#"{"x":"NaN","y":"Infinity"}"#);
}

fn nested(depth: usize) -> Value {
    let mut v = json!(1);
    for _ in 0..depth {
        v = json!([v]);
    }
    json!({ "deep": v })
}

#[test]
fn hostile_depth_is_bounded_and_named() {
    block_on(async {
        let svc = service();
        // At the bound (the object and its arrays: 127 levels), as a
        // value and as text: fine.
        let at_bound = nested(canonical::MAX_DEPTH - 1);
        let at_bound_text = at_bound.to_string();
        svc.save("view", "ok", at_bound.clone(), opts())
            .await
            .unwrap();
        canonicalize(&at_bound).unwrap();
        canonical::canonicalize_text(&at_bound_text).unwrap();
        validate::parse_json(&at_bound_text).unwrap();
        // One level beyond it, and far beyond: the same clear error
        // whichever reader refuses it, no stack overflow.
        assert_eq!(canonical::MAX_DEPTH, 127);
        let says = "nesting deeper than 127 levels of arrays and objects";
        for depth in [canonical::MAX_DEPTH, 500] {
            let value = nested(depth);
            let text = value.to_string();
            for err in [
                svc.save("view", "deep", value.clone(), opts())
                    .await
                    .unwrap_err(),
                canonicalize(&value).unwrap_err(),
                canonical::canonicalize_text(&text).unwrap_err(),
                validate::parse_json(&text).unwrap_err(),
            ] {
                assert_eq!(err.code(), "VALIDATION");
                assert!(err.to_string().contains(says), "{depth}: {err}");
            }
        }
        // Hostile text never becomes a value at all.
        let text = "[".repeat(100_000) + &"]".repeat(100_000);
        let err = validate::parse_json(&text).unwrap_err();
        assert_eq!(err.code(), "VALIDATION");
        assert!(err.to_string().contains(says), "{err}");
        assert_eq!(
            svc.load("view", "deep").await.unwrap().as_deref().cloned(),
            None
        );
    });
}

#[test]
fn prototype_keys_round_trip_as_plain_keys() {
    block_on(async {
        let svc = service();
        let data: Value = serde_json::from_str(
            r#"{"__proto__": {"polluted": true}, "constructor": {"prototype": 1}, "toString": "x", "hasOwnProperty": null}"#,
        )
        .unwrap();
        let rec = svc
            .save("view", "proto", data.clone(), opts())
            .await
            .unwrap()
            .record;
        assert_eq!(
            svc.load("view", "proto").await.unwrap().as_deref().cloned(),
            Some(data.clone())
        );
        assert_eq!(rec.checksum, checksum(&data).unwrap());
        assert_eq!(
            canonicalize(&data).unwrap(),
            r#"{"__proto__":{"polluted":true},"constructor":{"prototype":1},"hasOwnProperty":null,"toString":"x"}"#
        );
    });
}

#[test]
fn oversized_tags_and_owners_are_refused() {
    block_on(async {
        let svc = service();
        let cases = [
            SaveOptions {
                tags: Some(vec!["".into()]),
                ..opts()
            },
            SaveOptions {
                tags: Some(vec!["x".repeat(65)]),
                ..opts()
            },
            SaveOptions {
                tags: Some((0..65).map(|i| i.to_string()).collect()),
                ..opts()
            },
            SaveOptions {
                tags: Some(vec!["bad\ntag".into()]),
                ..opts()
            },
            // The server's query strings list tags with commas between.
            SaveOptions {
                tags: Some(vec!["crm,sales".into()]),
                ..opts()
            },
            SaveOptions {
                owner: Some("".into()),
                ..opts()
            },
        ];
        for o in cases {
            assert_eq!(
                svc.save("view", "v", json!({}), o.clone())
                    .await
                    .unwrap_err()
                    .code(),
                "VALIDATION",
                "{o:?}"
            );
        }
        // Duplicate tags collapse.
        let o = SaveOptions {
            tags: Some(vec!["a".into(), "b".into(), "a".into()]),
            ..opts()
        };
        assert_eq!(
            svc.save("view", "v", json!({}), o)
                .await
                .unwrap()
                .record
                .tags,
            ["a", "b"]
        );
    });
}

/// A tiny deterministic generator, so the fault test explores many
/// interleavings without a dependency.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn failing_store_reports_errors_and_store_and_cache_agree() {
    for every in [2, 3, 5, 7] {
        block_on(async {
            let flaky = Rc::new(FlakyStore::new(every));
            let store: Rc<dyn Store> = flaky.clone();
            let db = MetadataService::builder_shared(Rc::clone(&store))
                .clock(clock())
                .build()
                .unwrap();
            let chain = HybridService::new(db, None, HybridConfig::default());
            chain
                .register("view", "n0", json!({"from": "registry"}))
                .unwrap();
            let mut rng = Lcg(every);
            let mut errors = 0;
            for step in 0..400 {
                let name = format!("n{}", rng.next(4));
                let before = flaky
                    .inner
                    .get(&RecordKey::new(None, "view", &name))
                    .await
                    .unwrap();
                let before_history = flaky
                    .inner
                    .history(&RecordKey::new(None, "view", &name))
                    .await
                    .unwrap()
                    .len();
                let db = chain.database();
                let result: Result<()> = match rng.next(6) {
                    0 | 1 => chain
                        .save("view", &name, json!({"step": step}), opts())
                        .await
                        .map(|_| ()),
                    2 => db
                        .delete("view", &name, ChangeOptions::default())
                        .await
                        .map(|_| ()),
                    3 => db
                        .restore("view", &name, ChangeOptions::default())
                        .await
                        .map(|_| ()),
                    4 => db
                        .rollback("view", &name, 1, ChangeOptions::default())
                        .await
                        .map(|_| ()),
                    _ => db
                        .purge("view", &name, ChangeOptions::default())
                        .await
                        .map(|_| ()),
                };
                if let Err(e) = result {
                    if e.code() == "STORAGE_UNAVAILABLE" {
                        errors += 1;
                        // A failed operation changed nothing.
                        let after = flaky
                            .inner
                            .get(&RecordKey::new(None, "view", &name))
                            .await
                            .unwrap();
                        assert_eq!(before, after, "step {step}");
                        let after_history = flaky
                            .inner
                            .history(&RecordKey::new(None, "view", &name))
                            .await
                            .unwrap()
                            .len();
                        assert_eq!(before_history, after_history, "step {step}");
                    } else {
                        assert!(["NOT_FOUND"].contains(&e.code()), "step {step}: {e:?}");
                    }
                }
                // The chain's answer (cached or not) agrees with the store.
                for n in 0..4 {
                    let name = format!("n{n}");
                    let truth = flaky
                        .inner
                        .get(&RecordKey::new(None, "view", &name))
                        .await
                        .unwrap()
                        .filter(|r| r.is_active);
                    let answer = loop {
                        match chain.load("view", &name).await {
                            Ok(r) if !r.is_degraded() => break r,
                            Ok(_) | Err(_) => continue, // an injected failure: ask again
                        }
                    };
                    match truth {
                        Some(rec) => {
                            assert_eq!(answer.layer(), Some(Layer::Database), "step {step} {name}");
                            assert_eq!(
                                answer.found.as_ref().and_then(Found::record),
                                Some(&rec),
                                "step {step} {name}"
                            );
                        }
                        None if n == 0 => {
                            assert_eq!(answer.layer(), Some(Layer::Registry), "step {step}")
                        }
                        None => assert_eq!(answer.found, None, "step {step} {name}"),
                    }
                }
            }
            assert!(
                errors > 10,
                "every {every}: only {errors} injected failures hit operations"
            );
            assert!(flaky.failures.get() > 0);
        });
    }
}

#[test]
fn the_memory_store_is_trusted_and_others_are_verified() {
    assert!(MemoryStore::new().holds_only_own_writes());
    assert!(!FlakyStore::new(0).holds_only_own_writes());
}

#[test]
fn a_tampered_record_is_corrupted_and_never_served() {
    block_on(async {
        // A store others can write to (a flaky store that never fails): the
        // memory store itself holds only the service's own writes and is
        // not re-verified.
        let store: Rc<dyn Store> = Rc::new(FlakyStore::new(0));
        let svc = MetadataService::builder_shared(Rc::clone(&store))
            .clock(clock())
            .build()
            .unwrap();
        let mut rec = svc
            .save("view", "v", json!({"a": 1}), opts())
            .await
            .unwrap()
            .record;
        svc.save("view", "w", json!({"b": 1}), opts())
            .await
            .unwrap();
        // Tamper with the stored head: its data no longer matches its
        // checksum (a write behind the service's back, at the next version).
        let expect = Expect::Version(rec.version);
        rec.data = Definition::from_value(json!({"a": "tampered"})).unwrap();
        rec.version += 1;
        let mut batch = Batch::new(None);
        batch.push(Change::Put {
            record: rec,
            expect,
        });
        store.commit(batch).await.unwrap();

        let err = svc.load("view", "v").await.unwrap_err();
        assert_eq!(err.code(), "CORRUPTED");
        assert!(matches!(&err, Error::Corrupted { key, .. } if key.name == "v"));
        assert_eq!(svc.load_many("view").await.unwrap_err().code(), "CORRUPTED");
        assert_eq!(
            svc.load("view", "w").await.unwrap().as_deref().cloned(),
            Some(json!({"b": 1}))
        );
        // Through the chain: reported as a failing database layer, and the
        // tampered data is not what comes back.
        let chain = HybridService::new(svc, None, HybridConfig::default());
        chain
            .register("view", "v", json!({"a": "registry"}))
            .unwrap();
        let r = chain.load("view", "v").await.unwrap();
        assert_eq!(r.degraded[0].error.code(), "CORRUPTED");
        assert_eq!(r.data(), Some(&json!({"a": "registry"})));
    });
}

/// A key-value backend whose stored texts a test can damage.
#[derive(Default, Clone)]
struct Damageable(Rc<std::cell::RefCell<std::collections::BTreeMap<String, String>>>);

#[async_trait::async_trait(?Send)]
impl KvBackend for Damageable {
    fn kind(&self) -> &str {
        "damageable"
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

#[test]
fn a_stored_version_with_no_next_is_corrupted_not_wrapped_to_zero() {
    block_on(async {
        let backend = Damageable::default();
        let store: Rc<dyn Store> = Rc::new(KvStore::new(backend.clone()));
        let svc = MetadataService::builder_shared(Rc::clone(&store))
            .build()
            .unwrap();
        svc.save("view", "a", json!({"v": 1}), opts())
            .await
            .unwrap();
        for version in [u64::MAX, (1 << 53) - 1] {
            {
                let mut map = backend.0.borrow_mut();
                let (key, text) = map
                    .iter()
                    .find(|(k, _)| k.starts_with("r/"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .unwrap();
                let mut record: Value = serde_json::from_str(&text).unwrap();
                record["version"] = json!(version);
                map.insert(key, serde_json::to_string(&record).unwrap());
            }
            let before = backend.0.borrow().clone();
            let err = svc
                .save("view", "a", json!({"v": 2}), opts())
                .await
                .unwrap_err();
            assert_eq!(err.code(), "CORRUPTED", "{err}");
            assert_eq!(
                svc.delete("view", "a", ChangeOptions::default())
                    .await
                    .unwrap_err()
                    .code(),
                "CORRUPTED"
            );
            assert_eq!(
                svc.purge("view", "a", ChangeOptions::default())
                    .await
                    .unwrap_err()
                    .code(),
                "CORRUPTED"
            );
            assert_eq!(*backend.0.borrow(), before, "nothing was written");
        }
    });
}

/// Found by the file_formats fuzz target: serde_json's `Value` reader (with
/// the raw_value feature) read an object whose first key is its private
/// raw-value token as the JSON text that key held.
#[test]
fn a_key_named_like_serde_jsons_raw_value_token_is_just_a_key() {
    let text = r#"{"$serde_json::private::RawValue":"{\"x\":1}"}"#;
    let expected = canonical::canonicalize_text(text).unwrap();
    assert!(expected.contains("RawValue"));
    for format in [FileFormat::Json, FileFormat::TypeScript] {
        let file = match format {
            FileFormat::TypeScript => format!("export default {text};"),
            _ => text.to_owned(),
        };
        let v = files::parse_file("views/a.view.x", &file, format).unwrap();
        assert_eq!(canonicalize(&v).unwrap(), expected, "{format:?}");
    }
    block_on(async {
        let svc = service();
        let data = objectstack_metadata::json::parse(text).unwrap();
        let item: SaveItem =
            serde_json::from_value(json!({"type": "view", "name": "a", "data": data})).unwrap();
        let out = svc.save_many(vec![item]).await.unwrap();
        assert_eq!(out[0].record.data.json_text(), text);
        let def = Definition::from_json_text(text).unwrap();
        assert_eq!(def.try_value().unwrap(), &data);
        assert_eq!(out[0].record.checksum, def.checksum());
    });
}
