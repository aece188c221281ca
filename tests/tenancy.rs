//! Tenant scoping: a tenant sees its own records, and global ones where it
//! has none; never another tenant's; crafted identifiers never collide.

mod common;

use std::collections::HashSet;
use std::rc::Rc;

use common::*;
use objectstack_metadata::*;
use serde_json::json;

fn shared() -> Rc<dyn Store> {
    Rc::new(MemoryStore::new())
}

#[test]
fn tenant_record_over_global_record_never_another_tenants() {
    block_on(async {
        let store = shared();
        let global = tenant_service(&store, None, "ops");
        let acme = tenant_service(&store, Some("acme"), "alice");
        let globex = tenant_service(&store, Some("globex"), "gary");

        global
            .save("view", "home", json!({"label": "Global home"}), opts())
            .await
            .unwrap();
        global
            .save("view", "list", json!({"label": "Global list"}), opts())
            .await
            .unwrap();
        acme.save("view", "home", json!({"label": "Acme home"}), opts())
            .await
            .unwrap();
        acme.save("view", "secret", json!({"label": "Acme only"}), opts())
            .await
            .unwrap();

        assert_eq!(
            acme.load("view", "home").await.unwrap().as_deref().cloned(),
            Some(json!({"label": "Acme home"}))
        );
        assert_eq!(
            acme.load("view", "list").await.unwrap().as_deref().cloned(),
            Some(json!({"label": "Global list"}))
        );
        assert_eq!(
            globex
                .load("view", "home")
                .await
                .unwrap()
                .as_deref()
                .cloned(),
            Some(json!({"label": "Global home"}))
        );
        assert_eq!(
            globex
                .load("view", "secret")
                .await
                .unwrap()
                .as_deref()
                .cloned(),
            None
        );
        assert_eq!(
            global
                .load("view", "secret")
                .await
                .unwrap()
                .as_deref()
                .cloned(),
            None,
            "global never sees tenant rows"
        );
        let rec = acme.load_record("view", "list").await.unwrap().unwrap();
        assert_eq!(rec.tenant_id, None, "the record says it is global");

        let names = |rs: Vec<MetadataRecord>| {
            rs.into_iter()
                .map(|r| (r.name, r.tenant_id))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(acme.load_many("view").await.unwrap()),
            [
                ("home".into(), Some("acme".into())),
                ("list".into(), None),
                ("secret".into(), Some("acme".into()))
            ]
        );
        assert_eq!(
            names(globex.load_many("view").await.unwrap()),
            [("home".into(), None), ("list".into(), None)]
        );
        assert_eq!(globex.query(&Query::default()).await.unwrap().total, 2);
        assert!(globex.history("view", "secret").await.unwrap().is_empty());
    });
}

#[test]
fn tenant_writes_stay_in_the_tenant() {
    block_on(async {
        let store = shared();
        let global = tenant_service(&store, None, "ops");
        let acme = tenant_service(&store, Some("acme"), "alice");
        global
            .save("view", "home", json!({"v": "global"}), opts())
            .await
            .unwrap();

        // Overriding a global record creates the tenant's own version 1.
        let own = acme
            .save("view", "home", json!({"v": "acme"}), opts())
            .await
            .unwrap()
            .record;
        assert_eq!((own.version, own.tenant_id.as_deref()), (1, Some("acme")));
        assert_eq!(
            global
                .load("view", "home")
                .await
                .unwrap()
                .as_deref()
                .cloned(),
            Some(json!({"v": "global"}))
        );
        // A tenant cannot delete, purge or restore a global record.
        acme.purge("view", "home", ChangeOptions::default())
            .await
            .unwrap();
        for err in [
            acme.delete("view", "home", ChangeOptions::default())
                .await
                .unwrap_err(),
            acme.purge("view", "home", ChangeOptions::default())
                .await
                .unwrap_err(),
            acme.restore("view", "home", ChangeOptions::default())
                .await
                .unwrap_err(),
        ] {
            assert_eq!(err.code(), "NOT_FOUND");
        }
        assert_eq!(
            global
                .load("view", "home")
                .await
                .unwrap()
                .as_deref()
                .cloned(),
            Some(json!({"v": "global"}))
        );
        assert_eq!(
            acme.load("view", "home").await.unwrap().as_deref().cloned(),
            Some(json!({"v": "global"}))
        );
        // A soft-deleted tenant row hides the global one until restored.
        acme.save("view", "home", json!({"v": "acme2"}), opts())
            .await
            .unwrap();
        acme.delete("view", "home", ChangeOptions::default())
            .await
            .unwrap();
        assert_eq!(
            acme.load("view", "home").await.unwrap().as_deref().cloned(),
            None
        );
        acme.restore("view", "home", ChangeOptions::default())
            .await
            .unwrap();
        assert_eq!(
            acme.load("view", "home").await.unwrap().as_deref().cloned(),
            Some(json!({"v": "acme2"}))
        );
        // Events name the tenant.
        let seen = Rc::new(std::cell::RefCell::new(None));
        let s = Rc::clone(&seen);
        acme.feed()
            .subscribe(move |e, _| *s.borrow_mut() = e.tenant_id.clone());
        acme.save("view", "home", json!({"v": "acme3"}), opts())
            .await
            .unwrap();
        assert_eq!(seen.borrow().as_deref(), Some("acme"));
    });
}

#[test]
fn crafted_identifiers_never_share_a_storage_key() {
    let tenants = [
        None,
        Some("a"),
        Some("a/view"),
        Some("*"),
        Some("%2A"),
        Some("a%2Fview"),
        Some("a/"),
        Some(" a"),
        Some("é"),
        Some("%C3%A9"),
        Some("_"),
        Some("a.b"),
        Some("a-b"),
    ];
    let parts = [
        ("view", "x"),
        ("view", "x_y"),
        ("view_x", "y"),
        ("vie", "wx"),
        ("v", "iew_x"),
    ];
    let mut seen = HashSet::new();
    for t in tenants {
        for (ty, n) in parts {
            let key = RecordKey::new(t, ty, n).storage_key();
            assert!(seen.insert(key.clone()), "collision on {key}");
        }
    }
    assert_eq!(seen.len(), tenants.len() * parts.len());
}

#[test]
fn crafted_tenants_are_isolated_in_a_real_store() {
    block_on(async {
        let store = shared();
        let tenants = ["a", "a/view", "*", "%2A", "a%2Fview", "é", "%C3%A9"];
        for t in tenants {
            let svc = tenant_service(&store, Some(t), "u");
            svc.save("view", "x", json!({"owner": t}), opts())
                .await
                .unwrap();
        }
        let global = tenant_service(&store, None, "u");
        assert_eq!(
            global.load("view", "x").await.unwrap().as_deref().cloned(),
            None
        );
        for t in tenants {
            let svc = tenant_service(&store, Some(t), "u");
            assert_eq!(
                svc.load("view", "x").await.unwrap().as_deref().cloned(),
                Some(json!({"owner": t})),
                "tenant {t:?}"
            );
            assert_eq!(
                svc.load_many("view").await.unwrap().len(),
                1,
                "tenant {t:?}"
            );
            assert_eq!(
                svc.history("view", "x").await.unwrap().len(),
                1,
                "tenant {t:?}"
            );
        }
    });
}

#[test]
fn bad_tenant_ids_are_refused() {
    for bad in ["", "a\nb", &"t".repeat(129)] {
        let err = MetadataService::builder(MemoryStore::new())
            .tenant(Some(bad))
            .clock(clock())
            .build()
            .unwrap_err();
        assert_eq!(err.code(), "VALIDATION", "{bad:?}");
    }
}
