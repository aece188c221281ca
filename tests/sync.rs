//! Checksum sync against a remote manifest.

mod common;

use common::*;
use objectstack_metadata::*;
use serde_json::json;

fn entry(t: &str, n: &str, data: &serde_json::Value) -> ManifestEntry {
    ManifestEntry {
        type_name: t.into(),
        name: n.into(),
        version: Some(9),
        checksum: checksum(data).unwrap(),
        tenant_id: None,
    }
}

#[test]
fn diff_tells_stale_missing_extra_and_unchanged() {
    block_on(async {
        let svc = service();
        svc.save("view", "same", json!({"v": 1}), opts())
            .await
            .unwrap();
        svc.save("view", "old", json!({"v": 1}), opts())
            .await
            .unwrap();
        svc.save("view", "local_only", json!({}), opts())
            .await
            .unwrap();
        svc.save("view", "deleted", json!({"v": 1}), opts())
            .await
            .unwrap();
        svc.delete("view", "deleted", ChangeOptions::default())
            .await
            .unwrap();
        let manifest = vec![
            entry("view", "same", &json!({"v": 1})),
            entry("view", "old", &json!({"v": 2})),
            entry("view", "new", &json!({"v": 1})),
            entry("view", "deleted", &json!({"v": 1})),
        ];
        let plan = svc.diff_manifest(&manifest).await.unwrap();
        assert_eq!(plan.unchanged, 1);
        assert_eq!(
            plan.stale
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>(),
            ["old"]
        );
        assert_eq!(
            plan.missing
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>(),
            ["deleted", "new"]
        );
        assert_eq!(
            plan.extra
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>(),
            ["local_only"]
        );
        assert_eq!(plan.to_fetch().len(), 3);
    });
}

#[test]
fn apply_fetched_checks_every_checksum_and_is_all_or_nothing() {
    block_on(async {
        let svc = service();
        svc.save("view", "old", json!({"v": 1}), opts())
            .await
            .unwrap();
        let manifest = vec![
            entry("view", "old", &json!({"v": 2})),
            entry("view", "new", &json!({"n": 1})),
        ];
        let fetched = |old: serde_json::Value| {
            vec![
                FetchedItem {
                    type_name: "view".into(),
                    name: "new".into(),
                    data: json!({"n": 1}),
                },
                FetchedItem {
                    type_name: "view".into(),
                    name: "old".into(),
                    data: old,
                },
            ]
        };
        // A fetched body that does not match the manifest: nothing is applied.
        let err = svc
            .apply_fetched(&manifest, fetched(json!({"v": "tampered"})))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "VALIDATION");
        assert!(err.to_string().contains("view/old"), "{err}");
        assert_eq!(svc.load("view", "new").await.unwrap(), None);
        // Something not in the manifest is refused too.
        let stray = vec![FetchedItem {
            type_name: "view".into(),
            name: "stray".into(),
            data: json!({}),
        }];
        assert_eq!(
            svc.apply_fetched(&manifest, stray)
                .await
                .unwrap_err()
                .code(),
            "VALIDATION"
        );
        // The right bodies apply in one go, and the next diff is clean.
        let out = svc
            .apply_fetched(&manifest, fetched(json!({"v": 2})))
            .await
            .unwrap();
        assert!(out
            .iter()
            .all(|o| o.changed && o.record.source == Source::Api));
        let plan = svc.diff_manifest(&manifest).await.unwrap();
        assert_eq!((plan.unchanged, plan.to_fetch().len()), (2, 0));
    });
}

#[test]
fn bad_manifests_are_refused() {
    block_on(async {
        let svc = service();
        let mut bad = entry("view", "v", &json!({}));
        bad.checksum = "XYZ".into();
        assert_eq!(
            svc.diff_manifest(&[bad]).await.unwrap_err().code(),
            "VALIDATION"
        );
        let twice = vec![
            entry("view", "v", &json!({})),
            entry("view", "v", &json!({})),
        ];
        assert_eq!(
            svc.diff_manifest(&twice).await.unwrap_err().code(),
            "VALIDATION"
        );
        let mut bad_name = entry("view", "v", &json!({}));
        bad_name.name = "Bad Name".into();
        assert_eq!(
            svc.diff_manifest(&[bad_name]).await.unwrap_err().code(),
            "VALIDATION"
        );
    });
}

/// A server's records of (type, name) keys, as it hands them to a cache.
async fn fetch_from(
    server: &MetadataService,
    wanted: Vec<MirrorEntry>,
) -> Result<Vec<MetadataRecord>> {
    let mut out = Vec::new();
    for e in wanted {
        // The cache's manifest names the scope: read the server's row there.
        let scoped = server.derive().tenant(e.tenant_id.as_deref()).build()?;
        if let Some(r) = scoped.load_own_record(&e.type_name, &e.name).await? {
            out.push(r);
        }
    }
    Ok(out)
}

#[test]
fn a_cache_replicates_its_server_as_it_is() {
    block_on(async {
        let server_store: std::rc::Rc<dyn Store> = std::rc::Rc::new(MemoryStore::new());
        let server = tenant_service(&server_store, Some("acme"), "alice");
        let global = tenant_service(&server_store, None, "root");
        global
            .save("view", "shared", json!({"g": 1}), opts())
            .await
            .unwrap();
        global
            .save("view", "shadowed", json!({"g": 1}), opts())
            .await
            .unwrap();
        server
            .save("view", "shadowed", json!({"t": 1}), opts())
            .await
            .unwrap();
        for i in 0..3 {
            server
                .save("view", "own", json!({"i": i}), opts())
                .await
                .unwrap();
        }
        let cache_store: std::rc::Rc<dyn Store> = std::rc::Rc::new(MemoryStore::new());
        let cache = tenant_service(&cache_store, Some("acme"), "alice");
        let heard = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let sink = std::rc::Rc::clone(&heard);
        cache_store
            .feed()
            .subscribe(move |e, origin| sink.borrow_mut().push((e.name.clone(), origin)));

        let manifest = server.manifest(None).await.unwrap();
        assert_eq!(
            manifest.len(),
            3,
            "own, shadowed (the tenant's) and shared (global)"
        );
        let done = cache
            .replicate(&manifest, |w| fetch_from(&server, w))
            .await
            .unwrap();
        assert_eq!((done.fetched, done.removed, done.unchanged), (3, 0, 0));
        // The server's versions, checksums and scopes, as they are.
        let own = cache.load_record("view", "own").await.unwrap().unwrap();
        assert_eq!(
            (own.version, own.data.value().clone()),
            (3, json!({"i": 2}))
        );
        assert_eq!(
            cache.load("view", "shadowed").await.unwrap().as_deref(),
            Some(&json!({"t": 1}))
        );
        assert_eq!(
            cache.load_own_record("view", "shared").await.unwrap(),
            None,
            "global rows stay global"
        );
        assert_eq!(
            cache.load("view", "shared").await.unwrap().as_deref(),
            Some(&json!({"g": 1}))
        );
        assert!(heard.borrow().iter().all(|(_, o)| *o == Origin::Mirrored));

        // Unchanged: nothing fetched, nothing written.
        let again = cache
            .replicate(&manifest, |w| fetch_from(&server, w))
            .await
            .unwrap();
        assert_eq!(
            (
                again.fetched,
                again.removed,
                again.unchanged,
                again.changes.len()
            ),
            (0, 0, 3, 0)
        );

        // The server changes, deletes and purges: the cache follows.
        server
            .save("view", "own", json!({"i": 9}), opts())
            .await
            .unwrap();
        server
            .delete("view", "shadowed", ChangeOptions::default())
            .await
            .unwrap();
        global
            .purge("view", "shared", ChangeOptions::default())
            .await
            .unwrap();
        let manifest = server.manifest(None).await.unwrap();
        let done = cache
            .replicate(&manifest, |w| fetch_from(&server, w))
            .await
            .unwrap();
        assert_eq!((done.fetched, done.removed), (1, 2), "{done:?}");
        assert_eq!(
            cache
                .load_record("view", "own")
                .await
                .unwrap()
                .unwrap()
                .version,
            4
        );
        assert_eq!(cache.load("view", "shadowed").await.unwrap(), None);
        assert_eq!(cache.load("view", "shared").await.unwrap(), None);

        // A late delivery of an older version never takes the cache back.
        let old = server.history("view", "own").await.unwrap()[0].clone();
        let stale = MetadataRecord {
            data: old.data.clone(),
            checksum: old.checksum.clone(),
            version: 1,
            ..cache.load_record("view", "own").await.unwrap().unwrap()
        };
        assert!(cache
            .mirror(vec![Mirrored::Record(stale)], Origin::Mirrored)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            cache
                .load_record("view", "own")
                .await
                .unwrap()
                .unwrap()
                .version,
            4
        );

        // A record whose data does not match its checksum, or of another
        // tenant, is refused whole.
        let mut forged = cache.load_record("view", "own").await.unwrap().unwrap();
        forged.version = 9;
        forged.data = Definition::from_value(json!({"forged": true})).unwrap();
        assert_eq!(
            cache
                .mirror(vec![Mirrored::Record(forged.clone())], Origin::Mirrored)
                .await
                .unwrap_err()
                .code(),
            "VALIDATION"
        );
        forged.checksum = forged.data.checksum().to_owned();
        forged.tenant_id = Some("globex".into());
        assert_eq!(
            cache
                .mirror(vec![Mirrored::Record(forged)], Origin::Mirrored)
                .await
                .unwrap_err()
                .code(),
            "VALIDATION"
        );
    });
}
