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
