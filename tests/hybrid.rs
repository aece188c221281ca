//! The fallback chain: layer order, the read cache, degraded layers, strict
//! mode and the migration modes.

mod common;

use std::rc::Rc;

use async_trait::async_trait;
use common::*;
use objectstack_metadata::*;
use serde_json::{json, Value};

fn files() -> Rc<FileBundle> {
    Rc::new(
        FileBundle::from_files([
            ("views/home.view.json", r#"{"label": "Home (file)"}"#),
            (
                "views/only_file.view.yaml",
                "label: Only in files\ncolumns:\n  - name\n",
            ),
            (
                "objects/account.object.ts",
                "export default {\n  \"label\": \"Account\"\n};\n",
            ),
            ("README.md", "not metadata"),
        ])
        .unwrap(),
    )
}

fn chain(config: HybridConfig) -> (HybridService, Rc<FileBundle>) {
    let f = files();
    let db = MetadataService::builder(MemoryStore::new())
        .clock(clock())
        .build()
        .unwrap();
    (
        HybridService::new(db, Some(f.clone() as Rc<dyn FileSource>), config),
        f,
    )
}

#[test]
fn database_then_registry_then_files() {
    block_on(async {
        let (c, _) = chain(HybridConfig::default());
        let r = c.load("view", "home").await.unwrap();
        assert_eq!(
            (r.layer(), r.data().cloned()),
            (
                Some(Layer::Filesystem),
                Some(json!({"label": "Home (file)"}))
            )
        );
        c.register("view", "home", json!({"label": "Home (code)"}))
            .unwrap();
        assert_eq!(
            c.load("view", "home").await.unwrap().layer(),
            Some(Layer::Registry)
        );
        c.save("view", "home", json!({"label": "Home (db)"}), opts())
            .await
            .unwrap();
        let r = c.load("view", "home").await.unwrap();
        assert_eq!(r.layer(), Some(Layer::Database));
        assert_eq!(
            r.found.as_ref().and_then(Found::record).map(|r| r.version),
            Some(1)
        );
        // A soft delete in the database falls back to the registry (the ADR's is_active filter).
        c.delete("view", "home", ChangeOptions::default())
            .await
            .unwrap();
        assert_eq!(
            c.load("view", "home").await.unwrap().layer(),
            Some(Layer::Registry)
        );
        assert!(c.unregister("view", "home").unwrap());
        assert_eq!(
            c.load("view", "home").await.unwrap().layer(),
            Some(Layer::Filesystem)
        );
        assert_eq!(c.load("view", "nowhere").await.unwrap().found, None);
        assert_eq!(
            c.load("object", "account").await.unwrap().data(),
            Some(&json!({"label": "Account"}))
        );
    });
}

#[test]
fn load_many_merges_layers_by_precedence_and_warms_the_cache() {
    block_on(async {
        let (c, _) = chain(HybridConfig::default());
        c.register("view", "home", json!({"label": "code"}))
            .unwrap();
        c.register("view", "code_only", json!({})).unwrap();
        c.save("view", "db_only", json!({}), opts()).await.unwrap();
        let many = c.load_many("view").await.unwrap();
        let got: Vec<_> = many
            .items
            .iter()
            .map(|(n, f)| (n.as_str(), f.layer()))
            .collect();
        assert_eq!(
            got,
            [
                ("code_only", Layer::Registry),
                ("db_only", Layer::Database),
                ("home", Layer::Registry),
                ("only_file", Layer::Filesystem)
            ]
        );
        assert!(many.degraded.is_empty());
        assert!(c.load("view", "only_file").await.unwrap().from_cache);
    });
}

#[test]
fn cache_never_changes_an_answer() {
    block_on(async {
        let (c, _) = chain(HybridConfig::default());
        c.save("view", "v", json!({"n": 1}), opts()).await.unwrap();
        let first = c.load("view", "v").await.unwrap();
        assert!(!first.from_cache);
        let second = c.load("view", "v").await.unwrap();
        assert!(second.from_cache);
        assert_eq!(first.found, second.found);
        // A write through the chain invalidates.
        c.save("view", "v", json!({"n": 2}), opts()).await.unwrap();
        assert_eq!(
            c.load("view", "v").await.unwrap().data(),
            Some(&json!({"n": 2}))
        );
        // So does a write through the database service directly (change events).
        c.database()
            .save("view", "v", json!({"n": 3}), opts())
            .await
            .unwrap();
        assert_eq!(
            c.load("view", "v").await.unwrap().data(),
            Some(&json!({"n": 3}))
        );
        // A cached miss is invalidated by a later create.
        assert_eq!(c.load("view", "later").await.unwrap().found, None);
        c.database()
            .save("view", "later", json!({}), opts())
            .await
            .unwrap();
        assert_eq!(
            c.load("view", "later").await.unwrap().layer(),
            Some(Layer::Database)
        );
        // Purge too.
        c.database()
            .purge("view", "later", ChangeOptions::default())
            .await
            .unwrap();
        assert_eq!(c.load("view", "later").await.unwrap().found, None);
        // Explicit invalidation for changes made elsewhere.
        c.invalidate_all();
        assert_eq!(c.cached_len(), 0);
    });
}

/// A store whose every call fails.
#[derive(Default)]
struct DownStore(Feed);

#[async_trait(?Send)]
impl Store for DownStore {
    fn kind(&self) -> &str {
        "down"
    }
    fn feed(&self) -> &Feed {
        &self.0
    }
    async fn changes(&self, _: Option<&str>, _: &ChangeQuery) -> Result<Vec<ChangeEvent>> {
        Err(Error::StorageUnavailable {
            message: "connection lost".into(),
        })
    }
    async fn last_sequence(&self, _: Option<&str>) -> Result<u64> {
        Err(Error::StorageUnavailable {
            message: "connection lost".into(),
        })
    }
    async fn get(&self, _: &RecordKey) -> Result<Option<MetadataRecord>> {
        Err(Error::StorageUnavailable {
            message: "connection lost".into(),
        })
    }
    async fn list(&self, _: Option<&str>, _: Option<&str>) -> Result<Vec<MetadataRecord>> {
        Err(Error::StorageUnavailable {
            message: "connection lost".into(),
        })
    }
    async fn history(&self, _: &RecordKey) -> Result<Vec<HistoryEntry>> {
        Err(Error::StorageUnavailable {
            message: "connection lost".into(),
        })
    }
    async fn apply(&self, _: &Batch) -> Result<u64> {
        Err(Error::StorageUnavailable {
            message: "connection lost".into(),
        })
    }
}

fn down_chain(strict: bool) -> HybridService {
    let db = MetadataService::builder(DownStore::default())
        .clock(clock())
        .build()
        .unwrap();
    HybridService::new(
        db,
        Some(files() as Rc<dyn FileSource>),
        HybridConfig {
            strict,
            ..HybridConfig::default()
        },
    )
}

#[test]
fn a_failing_layer_is_degraded_not_a_miss() {
    block_on(async {
        let c = down_chain(false);
        let r = c.load("view", "home").await.unwrap();
        assert_eq!(r.layer(), Some(Layer::Filesystem));
        assert!(r.is_degraded());
        assert_eq!(r.degraded[0].layer, Layer::Database);
        assert_eq!(r.degraded[0].error.code(), "STORAGE_UNAVAILABLE");
        // Degraded answers are not cached.
        assert!(!c.load("view", "home").await.unwrap().from_cache);
        assert_eq!(c.cached_len(), 0);
        // A miss on a degraded chain says so too.
        let miss = c.load("view", "nowhere").await.unwrap();
        assert_eq!((miss.found.clone(), miss.is_degraded()), (None, true));
        let many = c.load_many("view").await.unwrap();
        assert_eq!(many.items.len(), 2);
        assert_eq!(many.degraded.len(), 1);
        // Writes fail with the store's error.
        assert_eq!(
            c.save("view", "x", json!({}), opts())
                .await
                .unwrap_err()
                .code(),
            "STORAGE_UNAVAILABLE"
        );
    });
}

#[test]
fn strict_mode_turns_a_failing_layer_into_an_error() {
    block_on(async {
        let c = down_chain(true);
        let err = c.load("view", "home").await.unwrap_err();
        assert_eq!(err.code(), "STORAGE_UNAVAILABLE");
        assert!(
            matches!(&err, Error::LayerFailed { layer, .. } if layer == "database"),
            "{err:?}"
        );
        assert_eq!(
            c.load_many("view").await.unwrap_err().code(),
            "STORAGE_UNAVAILABLE"
        );
    });
}

#[test]
fn caller_errors_are_not_layer_failures() {
    block_on(async {
        let db = MetadataService::builder(MemoryStore::new())
            .policy(AccessPolicy::deny_all())
            .actor(Actor::new("eve", ["nobody"]))
            .clock(clock())
            .build()
            .unwrap();
        let c = HybridService::new(
            db,
            Some(files() as Rc<dyn FileSource>),
            HybridConfig::default(),
        );
        // The file layer has it, but eve may not read views at all.
        assert_eq!(
            c.load("view", "home").await.unwrap_err().code(),
            "FORBIDDEN"
        );
        assert_eq!(c.load_many("view").await.unwrap_err().code(), "FORBIDDEN");
        assert_eq!(
            c.load("view", "Bad Name").await.unwrap_err().code(),
            "VALIDATION"
        );
    });
}

#[test]
fn database_primary_does_not_read_files() {
    block_on(async {
        let (c, _) = chain(HybridConfig {
            mode: ChainMode::DatabasePrimary,
            ..HybridConfig::default()
        });
        assert_eq!(c.load("view", "home").await.unwrap().found, None);
        c.register("view", "home", json!({"r": 1})).unwrap();
        assert_eq!(
            c.load("view", "home").await.unwrap().layer(),
            Some(Layer::Registry)
        );
        assert_eq!(c.load_many("view").await.unwrap().items.len(), 1);
    });
}

#[test]
fn write_both_mirrors_writes_to_files() {
    block_on(async {
        let (c, f) = chain(HybridConfig {
            mode: ChainMode::WriteBoth,
            ..HybridConfig::default()
        });
        let w = c
            .save("view", "new_view", json!({"label": "New"}), opts())
            .await
            .unwrap();
        assert!(w.degraded.is_empty());
        assert_eq!(
            f.load("view", "new_view").unwrap().as_deref(),
            Some(&json!({"label": "New"}))
        );
        c.delete("view", "new_view", ChangeOptions::default())
            .await
            .unwrap();
        assert_eq!(f.load("view", "new_view").unwrap(), None);
        // Every other write goes through the mode too: restore writes the
        // file back, rollback writes the version it restores, a batch and a
        // sync write each changed record, purge removes the file.
        c.restore("view", "new_view", ChangeOptions::default())
            .await
            .unwrap();
        assert_eq!(
            f.load("view", "new_view").unwrap().as_deref(),
            Some(&json!({"label": "New"}))
        );
        c.save("view", "new_view", json!({"label": "Newer"}), opts())
            .await
            .unwrap();
        c.rollback("view", "new_view", 1, ChangeOptions::default())
            .await
            .unwrap();
        assert_eq!(
            f.load("view", "new_view").unwrap().as_deref(),
            Some(&json!({"label": "New"}))
        );
        let items = vec![
            SaveItem {
                type_name: "view".into(),
                name: "batch_a".into(),
                data: json!({"n": 1}),
                options: opts(),
            },
            SaveItem {
                type_name: "app".into(),
                name: "batch_b".into(),
                data: json!({"n": 2}),
                options: opts(),
            },
        ];
        c.save_many(items).await.unwrap();
        assert_eq!(
            f.load("app", "batch_b").unwrap().as_deref(),
            Some(&json!({"n": 2}))
        );
        let data = json!({"synced": true});
        let manifest = vec![ManifestEntry {
            type_name: "view".into(),
            name: "synced".into(),
            version: None,
            checksum: checksum(&data).unwrap(),
            tenant_id: None,
        }];
        let fetched = data.clone();
        let result = c
            .sync(&manifest, |wanted| async move {
                Ok(wanted
                    .into_iter()
                    .map(|e| FetchedItem {
                        type_name: e.type_name,
                        name: e.name,
                        data: fetched.clone(),
                    })
                    .collect())
            })
            .await
            .unwrap();
        assert_eq!(result.applied.len(), 1);
        assert_eq!(f.load("view", "synced").unwrap().as_deref(), Some(&data));
        c.purge("view", "new_view", ChangeOptions::default())
            .await
            .unwrap();
        assert_eq!(f.load("view", "new_view").unwrap(), None);
        // The file layer never serves what the database purged.
        assert_eq!(c.load("view", "new_view").await.unwrap().found, None);
        // Read-both mode leaves files alone.
        let (c, f) = chain(HybridConfig::default());
        c.save("view", "db_view", json!({}), opts()).await.unwrap();
        assert_eq!(f.load("view", "db_view").unwrap(), None);
    });
}

#[test]
fn derived_chains_share_the_store_registry_and_files() {
    block_on(async {
        let (c, _) = chain(HybridConfig::default());
        let acme = c
            .derive(
                c.database()
                    .derive()
                    .tenant(Some("acme"))
                    .actor(Actor::new("bob", ["admin"]))
                    .build()
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(acme.database().tenant_id(), Some("acme"));
        // The registry and files are shared.
        c.register("view", "reg", json!({"from": "registry"}))
            .unwrap();
        assert_eq!(
            acme.load("view", "reg").await.unwrap().layer(),
            Some(Layer::Registry)
        );
        assert_eq!(
            acme.load("view", "home").await.unwrap().layer(),
            Some(Layer::Filesystem)
        );
        // A global change reaches the tenant's cache through the store.
        c.save("view", "shared", json!({"v": 1}), opts())
            .await
            .unwrap();
        assert_eq!(
            acme.load("view", "shared").await.unwrap().data(),
            Some(&json!({"v": 1}))
        );
        c.save("view", "shared", json!({"v": 2}), opts())
            .await
            .unwrap();
        assert_eq!(
            acme.load("view", "shared").await.unwrap().data(),
            Some(&json!({"v": 2}))
        );
        // A registry change reaches every chain's cache.
        c.register("view", "reg", json!({"from": "registry", "v": 2}))
            .unwrap();
        assert_eq!(
            acme.load("view", "reg").await.unwrap().data(),
            Some(&json!({"from": "registry", "v": 2}))
        );
        // Not another store.
        let other = MetadataService::builder(MemoryStore::new())
            .clock(clock())
            .build()
            .unwrap();
        assert_eq!(c.derive(other).unwrap_err().code(), "VALIDATION");
    });
}

#[test]
fn files_round_trip_in_every_format_without_changing_checksums() {
    for (type_name, name, data) in corpus() {
        for format in [FileFormat::Json, FileFormat::Yaml, FileFormat::TypeScript] {
            let path = files::file_path(&type_name, &name, format);
            let text = files::render_file(&data, format).unwrap();
            let (t, n, f) = files::parse_path(&path).unwrap();
            assert_eq!(
                (t.as_str(), n.as_str(), f),
                (type_name.as_str(), name.as_str(), format)
            );
            let back: Value = files::parse_file(&path, &text, format).unwrap();
            assert_eq!(checksum(&back).unwrap(), checksum(&data).unwrap(), "{path}");
            assert_eq!(back, data, "{path}");
            assert_eq!(
                files::render_file(&back, format).unwrap(),
                text,
                "deterministic: {path}"
            );
        }
    }
}

#[test]
fn bad_files_name_the_path() {
    for (path, text) in [
        ("views/a.view.json", "{not json"),
        ("views/b.view.yaml", "- just\n- a list\n"),
        ("views/c.view.yaml", "x: .inf\n"),
        ("views/d.view.yaml", "x: !custom 1\n"),
        ("views/e.view.ts", "const x = 1;"),
    ] {
        let err = FileBundle::from_files([(path, text)]).unwrap_err();
        assert_eq!(err.code(), "VALIDATION", "{path}");
        assert!(err.to_string().contains(path), "{err}");
    }
    let err =
        FileBundle::from_files([("a/x.view.json", "{}"), ("b/x.view.yaml", "{}")]).unwrap_err();
    assert!(err.to_string().contains("two files"), "{err}");
}
