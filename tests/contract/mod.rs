//! The store contract suite: what every backend must do for the service to
//! be correct (see `objectstack_metadata::store`). Written once, run against
//! every backend: natively (memory, the key-value adapter over backends with
//! and without an atomic commit), in Node (host callbacks sync and async,
//! with and without `commit`, and SQLite) and in Chromium (IndexedDB,
//! localStorage).
//!
//! A backend is done when `run_all` passes on it.
#![allow(dead_code)]

use std::cell::RefCell;
use std::rc::Rc;

use async_trait::async_trait;
use futures::future::join_all;
use objectstack_metadata::*;
use serde_json::json;

/// A fault to inject into a backend's next calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The `n`-th write call from now fails before it touches anything.
    Before(u32),
    /// The `n`-th write call from now lands, then reports a failure.
    After(u32),
    /// No more faults.
    Off,
}

/// A fresh, empty store to test, and the means to inject faults into it.
pub struct Subject {
    pub store: Rc<dyn Store>,
    /// Arms a fault (counting the backend's write calls); `None` when the
    /// backend has no place to inject one.
    pub faults: Option<Rc<dyn Fn(Fault)>>,
    /// Whether calls interleave (an asynchronous backend), so concurrent
    /// writers really race.
    pub interleaves: bool,
}

/// Opens the stores the suite runs against.
#[async_trait(?Send)]
pub trait Factory {
    /// A label for failure messages.
    fn label(&self) -> String;
    /// A fresh, empty store.
    async fn open(&self) -> Subject;
    /// A second store object over the same data as `subject` (another
    /// connection, another tab), or `None` when the backend has no such
    /// thing (memory).
    async fn reopen(&self, subject: &Subject) -> Option<Rc<dyn Store>>;
}

fn at(ms: i64) -> String {
    clock::format_rfc3339(ms)
}

pub fn record(
    tenant: Option<&str>,
    type_name: &str,
    name: &str,
    version: u64,
    data: serde_json::Value,
) -> MetadataRecord {
    let data = Definition::from_value(data).expect("valid definition");
    MetadataRecord {
        type_name: type_name.into(),
        name: name.into(),
        checksum: data.checksum().to_owned(),
        data,
        version,
        source: Source::Database,
        is_active: true,
        owner: "alice".into(),
        tenant_id: tenant.map(str::to_owned),
        tags: vec![],
        created_at: at(1_000),
        updated_at: at(1_000 + version as i64),
        updated_by: Some("alice".into()),
        seq: 0,
        operation: if version == 1 {
            Operation::Create
        } else {
            Operation::Update
        },
    }
}

fn put(record: MetadataRecord, expect: Expect) -> Batch {
    let mut b = Batch::new(record.tenant_id.as_deref());
    b.push(Change::Put { record, expect });
    b
}

fn service(store: &Rc<dyn Store>, tenant: Option<&str>, actor: &str) -> MetadataService {
    MetadataService::builder_shared(Rc::clone(store))
        .tenant(tenant)
        .actor(Actor::new(actor, ["admin"]))
        .clock(Rc::new(ManualClock::new(1_767_225_600_000, 1000)))
        .build()
        .expect("service builds")
}

/// Everything a scope holds, as text: heads, the change log, the counter.
pub async fn snapshot(store: &dyn Store, tenant: Option<&str>) -> String {
    let heads: Vec<_> = store
        .list(tenant, None)
        .await
        .expect("list")
        .into_iter()
        .map(|r| {
            format!(
                "{}@{}#{} {} {}",
                r.key(),
                r.version,
                r.seq,
                r.is_active,
                r.checksum
            )
        })
        .collect();
    let log: Vec<_> = store
        .changes(tenant, &ChangeQuery::since(0))
        .await
        .expect("changes")
        .into_iter()
        .map(|e| {
            format!(
                "{} {:?} {}/{}@{}",
                e.sequence, e.operation, e.type_name, e.name, e.version
            )
        })
        .collect();
    let last = store.last_sequence(tenant).await.expect("last_sequence");
    format!("heads {heads:?}\nlog {log:?}\nlast {last}")
}

/// Runs every clause against fresh stores from `factory`.
pub async fn run_all(factory: &dyn Factory) {
    create_and_read(factory).await;
    expectations_refuse_and_write_nothing(factory).await;
    batches_are_all_or_nothing(factory).await;
    large_batches_check_every_expectation(factory).await;
    sequences_are_gap_free_per_scope(factory).await;
    superseded_heads_are_archived(factory).await;
    purge_keeps_history_and_versions_continue(factory).await;
    list_is_sorted_and_scoped(factory).await;
    concurrent_plain_saves_lose_nothing(factory).await;
    concurrent_guarded_saves_have_one_winner(factory).await;
    two_services_on_one_store_have_one_creator(factory).await;
    the_feed_and_followers_see_every_change(factory).await;
    a_second_store_object_shares_the_truth(factory).await;
    faults_leave_all_or_nothing(factory).await;
}

pub async fn create_and_read(factory: &dyn Factory) {
    let label = factory.label();
    let s = factory.open().await;
    let store = &s.store;
    assert_eq!(store.last_sequence(None).await.unwrap(), 0, "{label}");
    let r = record(None, "view", "a", 1, json!({"n": 1}));
    let events = store.commit(put(r.clone(), Expect::Absent)).await.unwrap();
    assert_eq!(events.len(), 1, "{label}");
    assert_eq!(events[0].sequence, 1, "{label}");
    let got = store.get(&r.key()).await.unwrap().expect("stored");
    assert_eq!(
        (got.version, got.seq, &got.checksum),
        (1, 1, &r.checksum),
        "{label}"
    );
    assert_eq!(got.data, r.data, "{label}");
    assert_eq!(store.last_sequence(None).await.unwrap(), 1, "{label}");
    let history = store.history(&r.key()).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|h| (h.version, h.seq))
            .collect::<Vec<_>>(),
        [(1, 1)],
        "{label}"
    );
    let current = store
        .read_current(&[r.key(), RecordKey::new(None, "view", "zz")])
        .await
        .unwrap();
    assert_eq!(current[0].last_version, 1, "{label}");
    assert_eq!(current[1], Current::default(), "{label}");
    assert_eq!(
        store
            .get(&RecordKey::new(Some("t"), "view", "a"))
            .await
            .unwrap(),
        None,
        "{label}"
    );
}

pub async fn expectations_refuse_and_write_nothing(factory: &dyn Factory) {
    let label = factory.label();
    let s = factory.open().await;
    let store = &s.store;
    let r = record(None, "view", "a", 1, json!({"n": 1}));
    store.commit(put(r.clone(), Expect::Absent)).await.unwrap();
    let before = snapshot(store.as_ref(), None).await;
    // Creating what exists.
    let err = store
        .commit(put(
            record(None, "view", "a", 1, json!({"n": 2})),
            Expect::Absent,
        ))
        .await
        .unwrap_err();
    match &err {
        Error::Conflict {
            expected,
            actual,
            actual_version,
            key,
        } => {
            assert_eq!(
                (expected.as_str(), actual.as_str(), *actual_version),
                ("no record", "version 1", 1),
                "{label}"
            );
            assert_eq!(key.name, "a", "{label}");
        }
        other => panic!("{label}: expected a conflict, got {other:?}"),
    }
    // Replacing a version that is not the head.
    let err = store
        .commit(put(
            record(None, "view", "a", 6, json!({"n": 3})),
            Expect::Version(5),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Conflict { expected, actual, .. } if expected == "version 5" && actual == "version 1"),
        "{label}: {err:?}"
    );
    // Updating what does not exist.
    let err = store
        .commit(put(
            record(None, "view", "nope", 2, json!({})),
            Expect::Version(1),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Conflict { actual, .. } if actual == "no record"),
        "{label}: {err:?}"
    );
    // Purging the wrong version.
    let mut tombstone = r.to_history();
    tombstone.version = 3;
    tombstone.operation = Operation::Purge;
    let mut b = Batch::new(None);
    b.push(Change::Purge {
        tombstone,
        expect: Expect::Version(2),
    });
    assert_eq!(
        store.commit(b).await.unwrap_err().code(),
        "CONFLICT",
        "{label}"
    );
    assert_eq!(
        snapshot(store.as_ref(), None).await,
        before,
        "{label}: a refused write changed something"
    );
}

pub async fn batches_are_all_or_nothing(factory: &dyn Factory) {
    let label = factory.label();
    let s = factory.open().await;
    let store = &s.store;
    store
        .commit(put(
            record(Some("acme"), "view", "x", 1, json!({"x": 1})),
            Expect::Absent,
        ))
        .await
        .unwrap();
    let before = snapshot(store.as_ref(), Some("acme")).await;
    let mut b = Batch::new(Some("acme"));
    b.push(Change::Put {
        record: record(Some("acme"), "view", "a", 1, json!({"a": 1})),
        expect: Expect::Absent,
    });
    b.push(Change::Put {
        record: record(Some("acme"), "view", "b", 1, json!({"b": 1})),
        expect: Expect::Absent,
    });
    // The last one expects a version x does not have.
    b.push(Change::Put {
        record: record(Some("acme"), "view", "x", 3, json!({"x": 3})),
        expect: Expect::Version(2),
    });
    let err = store.commit(b).await.unwrap_err();
    assert!(
        matches!(&err, Error::Conflict { key, .. } if key.name == "x"),
        "{label}: {err:?}"
    );
    assert_eq!(
        snapshot(store.as_ref(), Some("acme")).await,
        before,
        "{label}: part of a refused batch was written"
    );
    // A batch outside its scope, or naming a record twice, is refused whole.
    let mut b = Batch::new(Some("acme"));
    b.push(Change::Put {
        record: record(None, "view", "g", 1, json!({})),
        expect: Expect::Absent,
    });
    assert_eq!(
        store.commit(b).await.unwrap_err().code(),
        "VALIDATION",
        "{label}"
    );
    let mut b = Batch::new(Some("acme"));
    for _ in 0..2 {
        b.push(Change::Put {
            record: record(Some("acme"), "view", "d", 1, json!({})),
            expect: Expect::Absent,
        });
    }
    assert_eq!(
        store.commit(b).await.unwrap_err().code(),
        "VALIDATION",
        "{label}"
    );
    assert_eq!(
        snapshot(store.as_ref(), Some("acme")).await,
        before,
        "{label}"
    );
}

/// A bulk batch (backends read many keys of one type at once): one record
/// among forty already exists, and the batch expects none of them to.
pub async fn large_batches_check_every_expectation(factory: &dyn Factory) {
    let label = factory.label();
    let s = factory.open().await;
    let store = &s.store;
    store
        .commit(put(
            record(None, "view", "n27", 1, json!({"first": true})),
            Expect::Absent,
        ))
        .await
        .unwrap();
    let before = snapshot(store.as_ref(), None).await;
    let bulk = |expect_27: Expect| {
        let mut b = Batch::new(None);
        for i in 0..40 {
            let expect = if i == 27 { expect_27 } else { Expect::Absent };
            let version = if i == 27 { 2 } else { 1 };
            b.push(Change::Put {
                record: record(None, "view", &format!("n{i:02}"), version, json!({"i": i})),
                expect,
            });
        }
        b
    };
    let err = store.commit(bulk(Expect::Absent)).await.unwrap_err();
    match &err {
        Error::Conflict { key, actual, .. } => {
            assert_eq!(key.name, "n27", "{label}");
            assert_eq!(actual, "version 1", "{label}");
        }
        other => panic!("{label}: expected a conflict, got {other:?}"),
    }
    assert_eq!(
        snapshot(store.as_ref(), None).await,
        before,
        "{label}: part of a refused bulk batch was written"
    );
    let events = store.commit(bulk(Expect::Version(1))).await.unwrap();
    assert_eq!(events.len(), 40, "{label}");
    assert_eq!(
        store.list(None, Some("view")).await.unwrap().len(),
        40,
        "{label}"
    );
    let history = store
        .history(&RecordKey::new(None, "view", "n27"))
        .await
        .unwrap();
    assert_eq!(
        history.iter().map(|h| h.version).collect::<Vec<_>>(),
        [1, 2],
        "{label}"
    );
    // Read back in bulk: every head, and where each history ends.
    let keys: Vec<RecordKey> = (0..40)
        .map(|i| RecordKey::new(None, "view", &format!("n{i:02}")))
        .collect();
    let current = store.read_current(&keys).await.unwrap();
    assert!(
        current
            .iter()
            .enumerate()
            .all(|(i, c)| c.last_version == if i == 27 { 2 } else { 1 }),
        "{label}"
    );
}

pub async fn sequences_are_gap_free_per_scope(factory: &dyn Factory) {
    let label = factory.label();
    let s = factory.open().await;
    let store = &s.store;
    let mut b = Batch::new(Some("acme"));
    for n in ["c", "a", "b"] {
        b.push(Change::Put {
            record: record(Some("acme"), "view", n, 1, json!({"n": n})),
            expect: Expect::Absent,
        });
    }
    let events = store.commit(b).await.unwrap();
    assert_eq!(
        events
            .iter()
            .map(|e| (e.sequence, e.name.as_str()))
            .collect::<Vec<_>>(),
        [(1, "c"), (2, "a"), (3, "b")],
        "{label}"
    );
    // Another scope counts on its own; the global scope too.
    store
        .commit(put(
            record(Some("other"), "view", "a", 1, json!({})),
            Expect::Absent,
        ))
        .await
        .unwrap();
    store
        .commit(put(record(None, "view", "a", 1, json!({})), Expect::Absent))
        .await
        .unwrap();
    store
        .commit(put(
            record(Some("acme"), "app", "z", 1, json!({})),
            Expect::Absent,
        ))
        .await
        .unwrap();
    assert_eq!(
        store.last_sequence(Some("acme")).await.unwrap(),
        4,
        "{label}"
    );
    assert_eq!(
        store.last_sequence(Some("other")).await.unwrap(),
        1,
        "{label}"
    );
    assert_eq!(store.last_sequence(None).await.unwrap(), 1, "{label}");
    let log = store
        .changes(Some("acme"), &ChangeQuery::since(0))
        .await
        .unwrap();
    assert_eq!(
        log.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        [1, 2, 3, 4],
        "{label}"
    );
    assert!(
        log.iter().all(|e| e.tenant_id.as_deref() == Some("acme")),
        "{label}"
    );
    // `since` is exclusive; filters and limits apply.
    let q = ChangeQuery {
        since: 1,
        limit: Some(2),
        ..ChangeQuery::default()
    };
    assert_eq!(
        store
            .changes(Some("acme"), &q)
            .await
            .unwrap()
            .iter()
            .map(|e| e.sequence)
            .collect::<Vec<_>>(),
        [2, 3],
        "{label}"
    );
    let q = ChangeQuery {
        type_name: Some("app".into()),
        ..ChangeQuery::default()
    };
    assert_eq!(
        store
            .changes(Some("acme"), &q)
            .await
            .unwrap()
            .iter()
            .map(|e| e.sequence)
            .collect::<Vec<_>>(),
        [4],
        "{label}"
    );
    let q = ChangeQuery {
        name: Some("a".into()),
        ..ChangeQuery::default()
    };
    assert_eq!(
        store
            .changes(Some("acme"), &q)
            .await
            .unwrap()
            .iter()
            .map(|e| e.sequence)
            .collect::<Vec<_>>(),
        [2],
        "{label}"
    );
}

pub async fn superseded_heads_are_archived(factory: &dyn Factory) {
    let label = factory.label();
    let s = factory.open().await;
    let store = &s.store;
    let svc = service(store, None, "alice");
    svc.save("view", "a", json!({"v": 1}), SaveOptions::default())
        .await
        .unwrap();
    svc.save("view", "b", json!({"v": 1}), SaveOptions::default())
        .await
        .unwrap();
    svc.save("view", "a", json!({"v": 2}), SaveOptions::default())
        .await
        .unwrap();
    svc.delete("view", "a", ChangeOptions::default())
        .await
        .unwrap();
    let key = RecordKey::new(None, "view", "a");
    let history = store.history(&key).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|h| (h.version, h.seq, h.operation, h.is_active))
            .collect::<Vec<_>>(),
        [
            (1, 1, Operation::Create, true),
            (2, 3, Operation::Update, true),
            (3, 4, Operation::Delete, false)
        ],
        "{label}"
    );
    assert_eq!(history[0].data.value(), &json!({"v": 1}), "{label}");
    assert_eq!(history[1].data.value(), &json!({"v": 2}), "{label}");
    let log = store.changes(None, &ChangeQuery::since(0)).await.unwrap();
    assert_eq!(
        log.iter()
            .map(|e| (e.sequence, e.name.as_str(), e.version))
            .collect::<Vec<_>>(),
        [(1, "a", 1), (2, "b", 1), (3, "a", 2), (4, "a", 3)],
        "{label}"
    );
    let head = store.get(&key).await.unwrap().unwrap();
    assert_eq!(
        (head.version, head.seq, head.is_active, head.operation),
        (3, 4, false, Operation::Delete),
        "{label}"
    );
}

pub async fn purge_keeps_history_and_versions_continue(factory: &dyn Factory) {
    let label = factory.label();
    let s = factory.open().await;
    let store = &s.store;
    let svc = service(store, Some("acme"), "alice");
    svc.save("view", "p", json!({"v": 1}), SaveOptions::default())
        .await
        .unwrap();
    svc.save("view", "p", json!({"v": 2}), SaveOptions::default())
        .await
        .unwrap();
    let purged = svc
        .purge("view", "p", ChangeOptions::default())
        .await
        .unwrap();
    assert_eq!(
        (purged.sequence, purged.version, purged.operation),
        (3, 3, Operation::Purge),
        "{label}"
    );
    let key = RecordKey::new(Some("acme"), "view", "p");
    assert_eq!(store.get(&key).await.unwrap(), None, "{label}");
    let history = store.history(&key).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|h| (h.version, h.seq))
            .collect::<Vec<_>>(),
        [(1, 1), (2, 2), (3, 3)],
        "{label}"
    );
    assert_eq!(
        store
            .read_current(std::slice::from_ref(&key))
            .await
            .unwrap()[0]
            .last_version,
        3,
        "{label}"
    );
    let again = svc
        .save("view", "p", json!({"v": 4}), SaveOptions::default())
        .await
        .unwrap();
    assert_eq!((again.record.version, again.record.seq), (4, 4), "{label}");
    assert_eq!(store.history(&key).await.unwrap().len(), 4, "{label}");
}

pub async fn list_is_sorted_and_scoped(factory: &dyn Factory) {
    let label = factory.label();
    let s = factory.open().await;
    let store = &s.store;
    for (tenant, t, n) in [
        (None, "view", "b"),
        (None, "app", "z"),
        (None, "view", "a"),
        (Some("acme"), "view", "c"),
        (Some("acme%"), "view", "d"),
    ] {
        store
            .commit(put(record(tenant, t, n, 1, json!({})), Expect::Absent))
            .await
            .unwrap();
    }
    let names = |rs: Vec<MetadataRecord>| {
        rs.into_iter()
            .map(|r| format!("{}/{}", r.type_name, r.name))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(store.list(None, None).await.unwrap()),
        ["app/z", "view/a", "view/b"],
        "{label}"
    );
    assert_eq!(
        names(store.list(None, Some("view")).await.unwrap()),
        ["view/a", "view/b"],
        "{label}"
    );
    assert_eq!(
        names(store.list(Some("acme"), None).await.unwrap()),
        ["view/c"],
        "{label}"
    );
    assert_eq!(
        names(store.list(Some("acme%"), None).await.unwrap()),
        ["view/d"],
        "{label}"
    );
    assert!(
        store.list(Some("nobody"), None).await.unwrap().is_empty(),
        "{label}"
    );
}

pub async fn concurrent_plain_saves_lose_nothing(factory: &dyn Factory) {
    let label = factory.label();
    let s = factory.open().await;
    let store = &s.store;
    let svc = service(store, None, "alice");
    svc.save("view", "hot", json!({"n": 0}), SaveOptions::default())
        .await
        .unwrap();
    let outcomes = join_all(
        (1..=20).map(|i| svc.save("view", "hot", json!({"n": i}), SaveOptions::default())),
    )
    .await;
    let mut versions: Vec<u64> = outcomes
        .into_iter()
        .map(|o| {
            o.expect("a plain save never fails for a concurrent one")
                .record
                .version
        })
        .collect();
    versions.sort_unstable();
    assert_eq!(
        versions,
        (2..=21).collect::<Vec<_>>(),
        "{label}: versions duplicated or lost"
    );
    let history = svc.history("view", "hot").await.unwrap();
    assert_eq!(history.len(), 21, "{label}: history lost an update");
    let mut ns: Vec<i64> = history
        .iter()
        .map(|h| h.data["n"].as_i64().unwrap())
        .collect();
    ns.sort_unstable();
    assert_eq!(ns, (0..=20).collect::<Vec<_>>(), "{label}");
    assert_eq!(store.last_sequence(None).await.unwrap(), 21, "{label}");
}

pub async fn concurrent_guarded_saves_have_one_winner(factory: &dyn Factory) {
    let label = factory.label();
    let s = factory.open().await;
    let store = &s.store;
    let svc = service(store, None, "alice");
    svc.save("view", "g", json!({"n": 0}), SaveOptions::default())
        .await
        .unwrap();
    svc.save("view", "g", json!({"n": 1}), SaveOptions::default())
        .await
        .unwrap();
    let guarded = SaveOptions {
        expected_version: Some(2),
        ..SaveOptions::default()
    };
    let outcomes =
        join_all((0..20).map(|i| svc.save("view", "g", json!({"n": 100 + i}), guarded.clone())))
            .await;
    let wins = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(wins, 1, "{label}: guarded saves won {wins} times");
    for o in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert_eq!(o.code(), "CONFLICT", "{label}: {o}");
    }
    assert_eq!(svc.history("view", "g").await.unwrap().len(), 3, "{label}");
}

pub async fn two_services_on_one_store_have_one_creator(factory: &dyn Factory) {
    let label = factory.label();
    let s = factory.open().await;
    let a = service(&s.store, Some("acme"), "alice");
    let b = service(&s.store, Some("acme"), "bob");
    let create = SaveOptions {
        expected_version: Some(0),
        ..SaveOptions::default()
    };
    let outcomes = join_all((0..10).map(|i| {
        let svc = if i % 2 == 0 { &a } else { &b };
        svc.save("view", "once", json!({"by": i}), create.clone())
    }))
    .await;
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{label}");
    assert_eq!(a.history("view", "once").await.unwrap().len(), 1, "{label}");
}

pub async fn the_feed_and_followers_see_every_change(factory: &dyn Factory) {
    let label = factory.label();
    let s = factory.open().await;
    let store = &s.store;
    let heard = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&heard);
    let sub = store
        .feed()
        .subscribe(move |e, origin| sink.borrow_mut().push((e.sequence, origin)));
    let svc = service(store, None, "alice");
    svc.save("view", "a", json!({"v": 1}), SaveOptions::default())
        .await
        .unwrap();
    svc.save("view", "a", json!({"v": 1}), SaveOptions::default())
        .await
        .unwrap(); // no-op
    svc.save("view", "b", json!({"v": 1}), SaveOptions::default())
        .await
        .unwrap();
    assert_eq!(
        *heard.borrow(),
        [(1, Origin::Local), (2, Origin::Local)],
        "{label}"
    );
    store.feed().unsubscribe(sub);
    // A follower from 0 replays, then goes live.
    let follower = Follower::start(Rc::clone(store), None, Some(0))
        .await
        .unwrap();
    svc.save("view", "c", json!({"v": 1}), SaveOptions::default())
        .await
        .unwrap();
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(follower.next().await.unwrap().unwrap().sequence);
    }
    assert_eq!(got, [1, 2, 3], "{label}");
    // A change announced from elsewhere beyond what was heard: the follower
    // reads the gap from the log, and hands each change out once.
    let write_behind = |n: &str, v: u64| {
        put(
            record(None, "view", n, v, json!({"behind": n})),
            if v == 1 {
                Expect::Absent
            } else {
                Expect::Version(v - 1)
            },
        )
    };
    let first = store.apply(&write_behind("d", 1)).await.unwrap(); // committed, not announced
    let second = store.apply(&write_behind("e", 1)).await.unwrap();
    assert_eq!((first, second), (4, 5), "{label}");
    let announced = write_behind("e", 1).events(second);
    store.feed().announce(&announced, Origin::Remote);
    store.feed().announce(&announced, Origin::Remote); // twice: once out
    assert_eq!(follower.next().await.unwrap().unwrap().name, "d", "{label}");
    assert_eq!(follower.next().await.unwrap().unwrap().name, "e", "{label}");
    assert_eq!(follower.position(), 5, "{label}");
    // Live only: from the end of the log.
    let live = Follower::start(Rc::clone(store), None, None).await.unwrap();
    svc.save("view", "f", json!({}), SaveOptions::default())
        .await
        .unwrap();
    assert_eq!(live.next().await.unwrap().unwrap().sequence, 6, "{label}");
    // Other scopes are not in the stream.
    let tenant = service(store, Some("acme"), "alice");
    tenant
        .save("view", "t", json!({}), SaveOptions::default())
        .await
        .unwrap();
    svc.save("view", "g", json!({}), SaveOptions::default())
        .await
        .unwrap();
    assert_eq!(live.next().await.unwrap().unwrap().name, "g", "{label}");
    live.close();
    assert!(live.next().await.is_none(), "{label}");
}

pub async fn a_second_store_object_shares_the_truth(factory: &dyn Factory) {
    let label = factory.label();
    let s = factory.open().await;
    let Some(other) = factory.reopen(&s).await else {
        return;
    };
    let a = service(&s.store, None, "alice");
    let b = service(&other, None, "bob");
    a.save("view", "x", json!({"v": 1}), SaveOptions::default())
        .await
        .unwrap();
    // Both objects plan against version 1; the second to commit conflicts
    // and plans again, so neither update is lost.
    let (ra, rb) = futures::join!(
        a.save("view", "x", json!({"v": "a"}), SaveOptions::default()),
        b.save("view", "x", json!({"v": "b"}), SaveOptions::default())
    );
    let mut versions = vec![ra.unwrap().record.version, rb.unwrap().record.version];
    versions.sort_unstable();
    assert_eq!(versions, [2, 3], "{label}");
    assert_eq!(other.last_sequence(None).await.unwrap(), 3, "{label}");
    let guarded = SaveOptions {
        expected_version: Some(3),
        ..SaveOptions::default()
    };
    let (ga, gb) = futures::join!(
        a.save("view", "x", json!({"v": "ga"}), guarded.clone()),
        b.save("view", "x", json!({"v": "gb"}), guarded)
    );
    assert_eq!(u8::from(ga.is_ok()) + u8::from(gb.is_ok()), 1, "{label}");
    assert_eq!(
        snapshot(s.store.as_ref(), None).await,
        snapshot(other.as_ref(), None).await,
        "{label}"
    );
}

pub async fn faults_leave_all_or_nothing(factory: &dyn Factory) {
    let label = factory.label();
    for k in 1..=8 {
        for after in [false, true] {
            let s = factory.open().await;
            let Some(faults) = s.faults.clone() else {
                return;
            };
            let store = &s.store;
            let svc = service(store, None, "alice");
            svc.save("view", "keep", json!({"v": 1}), SaveOptions::default())
                .await
                .unwrap();
            svc.save("view", "keep", json!({"v": 2}), SaveOptions::default())
                .await
                .unwrap();
            let before = snapshot(store.as_ref(), None).await;
            faults(if after {
                Fault::After(k)
            } else {
                Fault::Before(k)
            });
            let items: Vec<SaveItem> = (0..3)
                .map(|i| SaveItem {
                    type_name: "view".into(),
                    name: format!("n{i}"),
                    data: json!({"i": i}),
                    options: SaveOptions::default(),
                })
                .chain([SaveItem {
                    type_name: "view".into(),
                    name: "keep".into(),
                    data: json!({"v": 3}),
                    options: SaveOptions::default(),
                }])
                .collect();
            let result = svc.save_many(items).await;
            faults(Fault::Off);
            let now = snapshot(store.as_ref(), None).await;
            if result.is_ok() {
                // The fault fell beyond the batch's writes, or the write
                // landed: everything is there.
                assert_eq!(
                    store.last_sequence(None).await.unwrap(),
                    6,
                    "{label} k={k} after={after}"
                );
            } else if now != before {
                // Landed, then reported a failure: all of it, never a part.
                assert_eq!(
                    store.last_sequence(None).await.unwrap(),
                    6,
                    "{label} k={k} after={after}: partial batch\n{now}"
                );
                assert_eq!(
                    store.list(None, None).await.unwrap().len(),
                    4,
                    "{label} k={k} after={after}"
                );
                assert_eq!(
                    store
                        .history(&RecordKey::new(None, "view", "keep"))
                        .await
                        .unwrap()
                        .len(),
                    3,
                    "{label}"
                );
            }
            // And the store still works.
            svc.save("view", "later", json!({"k": k}), SaveOptions::default())
                .await
                .unwrap();
            let last = store.last_sequence(None).await.unwrap();
            let log = store.changes(None, &ChangeQuery::since(0)).await.unwrap();
            assert_eq!(
                log.iter().map(|e| e.sequence).collect::<Vec<_>>(),
                (1..=last).collect::<Vec<_>>(),
                "{label} k={k} after={after}: the log has a gap"
            );
        }
    }
}
