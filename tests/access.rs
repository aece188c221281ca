//! Access control: every operation is checked; a refusal is FORBIDDEN,
//! names the operation and type, writes nothing and emits nothing.

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::*;
use objectstack_metadata::*;
use serde_json::json;

fn svc_with(store: &Rc<dyn Store>, policy: AccessPolicy, actor: Actor) -> MetadataService {
    MetadataService::builder_shared(Rc::clone(store))
        .policy(policy)
        .actor(actor)
        .clock(clock())
        .build()
        .unwrap()
}

fn policy() -> AccessPolicy {
    AccessPolicy::deny_all()
        .grant("viewer", "*", &[Permission::Read])
        .grant("designer", "view", &[Permission::Read, Permission::Write])
        .grant("cleaner", "view", &[Permission::Delete])
        .grant("admin", "*", &[Permission::Admin])
}

fn forbidden(err: Error, operation: &str, type_name: &str) {
    match err {
        Error::Forbidden {
            operation: o,
            type_name: t,
            ..
        } => {
            assert_eq!((o.as_str(), t.as_str()), (operation, type_name));
        }
        other => panic!("expected FORBIDDEN for {operation}, got {other:?}"),
    }
}

#[test]
fn every_operation_is_checked() {
    block_on(async {
        let store: Rc<dyn Store> = Rc::new(MemoryStore::new());
        let admin = svc_with(&store, policy(), Actor::new("root", ["admin"]));
        admin
            .save("view", "v", json!({"a": 1}), opts())
            .await
            .unwrap();
        admin
            .save("object", "o", json!({"a": 1}), opts())
            .await
            .unwrap();

        let nobody = svc_with(&store, policy(), Actor::new("eve", Vec::<String>::new()));
        let none = ChangeOptions::default;
        forbidden(nobody.load("view", "v").await.unwrap_err(), "load", "view");
        forbidden(
            nobody.load_record("view", "v").await.unwrap_err(),
            "load",
            "view",
        );
        forbidden(nobody.load_many("view").await.unwrap_err(), "list", "view");
        forbidden(
            nobody.history("view", "v").await.unwrap_err(),
            "history",
            "view",
        );
        forbidden(
            nobody.query(&Query::of_type("view")).await.unwrap_err(),
            "query",
            "view",
        );
        forbidden(
            nobody
                .save("view", "v", json!({}), opts())
                .await
                .unwrap_err(),
            "save",
            "view",
        );
        forbidden(
            nobody.delete("view", "v", none()).await.unwrap_err(),
            "delete",
            "view",
        );
        forbidden(
            nobody.restore("view", "v", none()).await.unwrap_err(),
            "restore",
            "view",
        );
        forbidden(
            nobody.rollback("view", "v", 1, none()).await.unwrap_err(),
            "rollback",
            "view",
        );
        forbidden(
            nobody.purge("view", "v", none()).await.unwrap_err(),
            "purge",
            "view",
        );
        let item = SaveItem {
            type_name: "view".into(),
            name: "n".into(),
            data: json!({}),
            options: opts(),
        };
        let err = nobody.save_many(vec![item]).await.unwrap_err();
        assert_eq!(err.code(), "FORBIDDEN");
        // Without a type filter, query leaves unreadable types out instead.
        assert_eq!(nobody.query(&Query::default()).await.unwrap().total, 0);
    });
}

#[test]
fn roles_grant_per_type_with_wildcard_and_admin() {
    block_on(async {
        let store: Rc<dyn Store> = Rc::new(MemoryStore::new());
        let admin = svc_with(&store, policy(), Actor::new("root", ["admin"]));
        admin
            .save("view", "v", json!({"a": 1}), opts())
            .await
            .unwrap();
        admin
            .save("object", "o", json!({"a": 1}), opts())
            .await
            .unwrap();

        let viewer = svc_with(&store, policy(), Actor::new("val", ["viewer"]));
        assert!(viewer.load("object", "o").await.unwrap().is_some());
        forbidden(
            viewer
                .save("object", "o", json!({}), opts())
                .await
                .unwrap_err(),
            "save",
            "object",
        );

        let designer = svc_with(&store, policy(), Actor::new("dan", ["designer"]));
        let writes = Rc::new(Cell::new(0));
        let w = Rc::clone(&writes);
        designer.feed().subscribe(move |_, _| w.set(w.get() + 1));
        designer
            .save("view", "v", json!({"a": 2}), opts())
            .await
            .unwrap();
        forbidden(
            designer
                .save("object", "o", json!({"a": 2}), opts())
                .await
                .unwrap_err(),
            "save",
            "object",
        );
        forbidden(
            designer.load("object", "o").await.unwrap_err(),
            "load",
            "object",
        );
        forbidden(
            designer
                .delete("view", "v", ChangeOptions::default())
                .await
                .unwrap_err(),
            "delete",
            "view",
        );
        assert_eq!(writes.get(), 1, "refused operations emit nothing");
        assert_eq!(
            admin.load("object", "o").await.unwrap().as_deref().cloned(),
            Some(json!({"a": 1})),
            "refused save wrote nothing"
        );
        // Query without a type shows only what the actor may read.
        let page = designer.query(&Query::default()).await.unwrap();
        assert_eq!(
            page.items
                .iter()
                .map(|r| r.type_name.as_str())
                .collect::<Vec<_>>(),
            ["view"]
        );

        let cleaner = svc_with(&store, policy(), Actor::new("cid", ["cleaner", "viewer"]));
        cleaner
            .delete("view", "v", ChangeOptions::default())
            .await
            .unwrap();
        forbidden(
            cleaner
                .purge("view", "v", ChangeOptions::default())
                .await
                .unwrap_err(),
            "purge",
            "view",
        );
        admin
            .purge("view", "v", ChangeOptions::default())
            .await
            .unwrap();
    });
}

#[test]
fn policies_deserialize_from_json() {
    let p: AccessPolicy = serde_json::from_value(json!({
        "roles": {"designer": {"view": ["read", "write"]}, "admin": {"*": ["admin"]}}
    }))
    .unwrap();
    assert!(!p.allow_all);
    assert!(p.allows(&Actor::new("d", ["designer"]), Permission::Write, "view"));
    assert!(!p.allows(&Actor::new("d", ["designer"]), Permission::Delete, "view"));
    assert!(p.allows(&Actor::new("a", ["admin"]), Permission::Delete, "flow"));
    assert!(AccessPolicy::default().allows(&Actor::system(), Permission::Admin, "x"));
    let bad: Result<AccessPolicy, _> =
        serde_json::from_value(json!({"roles": {"r": {"view": ["fly"]}}}));
    assert!(bad.is_err());
}
