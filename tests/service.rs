//! The service's semantics: upsert, versions, no-ops, concurrency, soft
//! delete, restore, purge, history, rollback, query, batches and events.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::*;
use objectstack_metadata::*;
use serde_json::json;

#[test]
fn create_gives_version_one_with_full_record() {
    block_on(async {
        let svc = service();
        let data = json!({"label": "All accounts", "columns": ["name"]});
        let out = svc
            .save("view", "all_accounts", data.clone(), opts())
            .await
            .unwrap();
        assert!(out.changed);
        assert_eq!(out.operation, Some(Operation::Create));
        let r = out.record;
        assert_eq!(
            (r.version, r.is_active, r.source),
            (1, true, Source::Database)
        );
        assert_eq!(r.checksum, checksum(&data).unwrap());
        assert_eq!(r.owner, "alice");
        assert_eq!(r.updated_by.as_deref(), Some("alice"));
        assert_eq!(r.tenant_id, None);
        assert_eq!(r.created_at, "2026-01-01T00:00:00.000Z");
        assert_eq!(r.created_at, r.updated_at);
        assert_eq!(
            svc.load("view", "all_accounts")
                .await
                .unwrap()
                .as_deref()
                .cloned(),
            Some(data)
        );
        assert_eq!(
            svc.load_record("view", "all_accounts")
                .await
                .unwrap()
                .unwrap(),
            r
        );
    });
}

#[test]
fn identical_save_is_a_noop_even_with_reordered_keys() {
    block_on(async {
        let svc = service();
        let events = Rc::new(RefCell::new(Vec::new()));
        let sink = Rc::clone(&events);
        svc.feed()
            .subscribe(move |e, _| sink.borrow_mut().push(e.clone()));
        svc.save("view", "v", json!({"a": 1, "b": [1, 2]}), opts())
            .await
            .unwrap();
        let again = svc
            .save("view", "v", json!({"b": [1, 2.0], "a": 1}), opts())
            .await
            .unwrap();
        assert!(!again.changed);
        assert_eq!(again.operation, None);
        assert_eq!(again.record.version, 1);
        assert_eq!(svc.history("view", "v").await.unwrap().len(), 1);
        assert_eq!(events.borrow().len(), 1, "a no-op emits no event");
    });
}

#[test]
fn real_change_bumps_version_and_keeps_created_at() {
    block_on(async {
        let svc = service();
        let first = svc
            .save("view", "v", json!({"a": 1}), opts())
            .await
            .unwrap()
            .record;
        let second = svc
            .save("view", "v", json!({"a": 2}), opts())
            .await
            .unwrap();
        assert_eq!(second.operation, Some(Operation::Update));
        let r = second.record;
        assert_eq!(r.version, 2);
        assert_eq!(r.created_at, first.created_at);
        assert!(r.updated_at > first.updated_at);
        // A change of tags alone is a change too.
        let tagged = svc
            .save(
                "view",
                "v",
                json!({"a": 2}),
                SaveOptions {
                    tags: Some(vec!["crm".into()]),
                    ..opts()
                },
            )
            .await
            .unwrap();
        assert!(tagged.changed);
        assert_eq!(tagged.record.version, 3);
        assert_eq!(tagged.record.tags, vec!["crm".to_owned()]);
        // Tags are kept when a later save does not mention them.
        let kept = svc
            .save("view", "v", json!({"a": 3}), opts())
            .await
            .unwrap()
            .record;
        assert_eq!(kept.tags, vec!["crm".to_owned()]);
    });
}

#[test]
fn expected_version_and_checksum_guard_writes() {
    block_on(async {
        let svc = service();
        svc.save("view", "v", json!({"a": 1}), expect_version(0))
            .await
            .unwrap();
        let err = svc
            .save("view", "v", json!({"a": 2}), expect_version(0))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "CONFLICT");
        match &err {
            Error::Conflict {
                actual_version,
                expected,
                ..
            } => {
                assert_eq!(*actual_version, 1);
                assert_eq!(expected, "version 0");
            }
            other => panic!("unexpected {other:?}"),
        }
        let err = svc
            .save("view", "v", json!({"a": 2}), expect_version(7))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "CONFLICT");
        let stale = SaveOptions {
            expected_checksum: Some(checksum(&json!({"a": 9})).unwrap()),
            ..opts()
        };
        assert_eq!(
            svc.save("view", "v", json!({"a": 2}), stale)
                .await
                .unwrap_err()
                .code(),
            "CONFLICT"
        );
        // Nothing was written by the refused saves.
        let r = svc.load_record("view", "v").await.unwrap().unwrap();
        assert_eq!((r.version, (*r.data).clone()), (1, json!({"a": 1})));
        assert_eq!(svc.history("view", "v").await.unwrap().len(), 1);
        // The right token succeeds.
        let ok = SaveOptions {
            expected_checksum: Some(r.checksum.clone()),
            expected_version: Some(1),
            ..opts()
        };
        assert_eq!(
            svc.save("view", "v", json!({"a": 2}), ok)
                .await
                .unwrap()
                .record
                .version,
            2
        );
        // A conflict is reported even when the data would be a no-op.
        assert_eq!(
            svc.save("view", "v", json!({"a": 2}), expect_version(1))
                .await
                .unwrap_err()
                .code(),
            "CONFLICT"
        );
        // Delete is guarded the same way.
        let del = ChangeOptions {
            expected_version: Some(1),
            expected_checksum: None,
        };
        assert_eq!(
            svc.delete("view", "v", del).await.unwrap_err().code(),
            "CONFLICT"
        );
        // A version past what a JavaScript number says exactly is refused.
        let past = (1u64 << 53, objectstack_metadata::validate::MAX_SAFE_INTEGER);
        let err = svc
            .save("view", "v", json!({"a": 3}), expect_version(past.0))
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), err.to_string().contains("expectedVersion")),
            ("VALIDATION", true)
        );
        let del = ChangeOptions {
            expected_version: Some(u64::MAX),
            expected_checksum: None,
        };
        assert_eq!(
            svc.delete("view", "v", del).await.unwrap_err().code(),
            "VALIDATION"
        );
        assert_eq!(
            svc.save("view", "v", json!({"a": 3}), expect_version(past.1))
                .await
                .unwrap_err()
                .code(),
            "CONFLICT"
        );
        assert!(svc.load("view", "v").await.unwrap().is_some());
        assert_eq!(svc.history("view", "v").await.unwrap().len(), 2);
    });
}

#[test]
fn load_many_is_active_only_and_ordered_by_name() {
    block_on(async {
        let svc = service();
        for n in ["zeta", "alpha", "mid"] {
            svc.save("view", n, json!({"n": n}), opts()).await.unwrap();
        }
        svc.save("object", "other_type", json!({}), opts())
            .await
            .unwrap();
        svc.delete("view", "mid", ChangeOptions::default())
            .await
            .unwrap();
        let names = names_of(&svc, "view").await;
        assert_eq!(names, ["alpha", "zeta"]);
    });
}

#[test]
fn soft_delete_restore_and_revive() {
    block_on(async {
        let svc = service();
        svc.save("view", "v", json!({"a": 1}), opts())
            .await
            .unwrap();
        let del = svc
            .delete("view", "v", ChangeOptions::default())
            .await
            .unwrap();
        assert_eq!((del.record.version, del.record.is_active), (2, false));
        assert_eq!(del.operation, Some(Operation::Delete));
        assert_eq!(
            svc.load("view", "v").await.unwrap().as_deref().cloned(),
            None
        );
        assert_eq!(svc.load_record("view", "v").await.unwrap(), None);
        assert!(
            svc.load_own_record("view", "v").await.unwrap().is_some(),
            "the row is still there"
        );
        assert_eq!(
            svc.delete("view", "v", ChangeOptions::default())
                .await
                .unwrap_err()
                .code(),
            "NOT_FOUND"
        );
        let restored = svc
            .restore("view", "v", ChangeOptions::default())
            .await
            .unwrap();
        assert_eq!(
            (restored.record.version, restored.record.is_active),
            (3, true)
        );
        // Restoring an active record changes nothing.
        assert!(
            !svc.restore("view", "v", ChangeOptions::default())
                .await
                .unwrap()
                .changed
        );
        // Saving over a deleted record revives it as a new version, even with the same data.
        svc.delete("view", "v", ChangeOptions::default())
            .await
            .unwrap();
        let revived = svc
            .save("view", "v", json!({"a": 1}), opts())
            .await
            .unwrap();
        assert_eq!(
            (revived.record.version, revived.record.is_active),
            (5, true)
        );
        assert_eq!(revived.operation, Some(Operation::Restore));
        let ops: Vec<_> = svc
            .history("view", "v")
            .await
            .unwrap()
            .iter()
            .map(|h| h.operation)
            .collect();
        use Operation::*;
        assert_eq!(ops, [Create, Delete, Restore, Delete, Restore]);
        assert_eq!(
            svc.restore("view", "missing", ChangeOptions::default())
                .await
                .unwrap_err()
                .code(),
            "NOT_FOUND"
        );
    });
}

#[test]
fn purge_removes_the_row_and_keeps_history() {
    block_on(async {
        let svc = service();
        svc.save("view", "v", json!({"a": 1}), opts())
            .await
            .unwrap();
        svc.save("view", "v", json!({"a": 2}), opts())
            .await
            .unwrap();
        svc.purge("view", "v", ChangeOptions::default())
            .await
            .unwrap();
        assert_eq!(svc.load_own_record("view", "v").await.unwrap(), None);
        assert!(svc.query(&Query::default()).await.unwrap().items.is_empty());
        let history = svc.history("view", "v").await.unwrap();
        assert_eq!(history.len(), 3);
        assert_eq!(history[2].operation, Operation::Purge);
        assert_eq!(history[2].version, 3);
        // Versions never repeat: a new row continues after the purge.
        let again = svc
            .save("view", "v", json!({"a": 3}), opts())
            .await
            .unwrap()
            .record;
        assert_eq!(again.version, 4);
        assert_eq!(
            svc.purge("view", "nothing", ChangeOptions::default())
                .await
                .unwrap_err()
                .code(),
            "NOT_FOUND"
        );
    });
}

#[test]
fn history_lists_every_version_with_its_data() {
    block_on(async {
        let svc = service();
        for i in 1..=3 {
            svc.save("flow", "f", json!({"step": i}), opts())
                .await
                .unwrap();
        }
        let h = svc.history("flow", "f").await.unwrap();
        assert_eq!(h.iter().map(|e| e.version).collect::<Vec<_>>(), [1, 2, 3]);
        for (i, e) in h.iter().enumerate() {
            assert_eq!(*e.data, json!({"step": i + 1}));
            assert_eq!(e.checksum, checksum(&e.data).unwrap());
            assert_eq!(e.actor, "alice");
            assert!(e.timestamp.starts_with("2026-01-01T00:00:0"));
        }
        assert!(h[0].timestamp < h[1].timestamp);
        assert!(svc.history("flow", "unknown").await.unwrap().is_empty());
    });
}

#[test]
fn rollback_writes_old_data_as_a_new_version() {
    block_on(async {
        let svc = service();
        for i in 1..=3 {
            svc.save("view", "v", json!({"step": i}), opts())
                .await
                .unwrap();
        }
        let rb = svc
            .rollback("view", "v", 1, ChangeOptions::default())
            .await
            .unwrap();
        assert_eq!(rb.operation, Some(Operation::Rollback));
        assert_eq!(
            (rb.record.version, (*rb.record.data).clone()),
            (4, json!({"step": 1}))
        );
        // Rolling back to what is already there is a no-op.
        assert!(
            !svc.rollback("view", "v", 4, ChangeOptions::default())
                .await
                .unwrap()
                .changed
        );
        assert_eq!(
            svc.rollback("view", "v", 99, ChangeOptions::default())
                .await
                .unwrap_err()
                .code(),
            "NOT_FOUND"
        );
        let guarded = ChangeOptions {
            expected_version: Some(3),
            expected_checksum: None,
        };
        assert_eq!(
            svc.rollback("view", "v", 2, guarded)
                .await
                .unwrap_err()
                .code(),
            "CONFLICT"
        );
        // Rollback also brings back a purged record.
        svc.purge("view", "v", ChangeOptions::default())
            .await
            .unwrap();
        let back = svc
            .rollback("view", "v", 3, ChangeOptions::default())
            .await
            .unwrap()
            .record;
        assert_eq!(
            (back.version, (*back.data).clone()),
            (6, json!({"step": 3}))
        );
    });
}

#[test]
fn query_filters_and_pages() {
    block_on(async {
        let svc = service();
        let tagged = |tags: &[&str], source| SaveOptions {
            tags: Some(tags.iter().map(|s| s.to_string()).collect()),
            source: Some(source),
            ..opts()
        };
        svc.save(
            "view",
            "a",
            json!({}),
            tagged(&["crm", "sales"], Source::Api),
        )
        .await
        .unwrap();
        svc.save("view", "b", json!({}), tagged(&["crm"], Source::Database))
            .await
            .unwrap();
        svc.save("view", "c", json!({}), tagged(&[], Source::Migration))
            .await
            .unwrap();
        svc.save(
            "object",
            "d",
            json!({}),
            SaveOptions {
                owner: Some("bob".into()),
                ..tagged(&["crm"], Source::Api)
            },
        )
        .await
        .unwrap();
        svc.delete("view", "b", ChangeOptions::default())
            .await
            .unwrap();
        let names = |p: QueryPage| p.items.into_iter().map(|r| r.name).collect::<Vec<_>>();

        assert_eq!(
            names(svc.query(&Query::of_type("view")).await.unwrap()),
            ["a", "b", "c"]
        );
        let q = Query {
            tags: vec!["crm".into()],
            ..Query::default()
        };
        assert_eq!(names(svc.query(&q).await.unwrap()), ["d", "a", "b"]);
        let q = Query {
            tags: vec!["crm".into(), "sales".into()],
            ..Query::default()
        };
        assert_eq!(names(svc.query(&q).await.unwrap()), ["a"]);
        let q = Query {
            source: Some(Source::Migration),
            ..Query::default()
        };
        assert_eq!(names(svc.query(&q).await.unwrap()), ["c"]);
        let q = Query {
            owner: Some("bob".into()),
            ..Query::default()
        };
        assert_eq!(names(svc.query(&q).await.unwrap()), ["d"]);
        let q = Query {
            active: Some(false),
            ..Query::default()
        };
        assert_eq!(names(svc.query(&q).await.unwrap()), ["b"]);
        // The clock advances 1 s per reading: c was written at :02.
        let q = Query {
            updated_since: Some("2026-01-01T00:00:02.000Z".into()),
            ..Query::default()
        };
        assert_eq!(names(svc.query(&q).await.unwrap()), ["d", "b", "c"]);
        let q = Query {
            updated_since: Some("2026-01-01T01:00:02+01:00".into()),
            ..Query::default()
        };
        assert_eq!(names(svc.query(&q).await.unwrap()), ["d", "b", "c"]);
        let bad = Query {
            updated_since: Some("yesterday".into()),
            ..Query::default()
        };
        assert_eq!(svc.query(&bad).await.unwrap_err().code(), "VALIDATION");
        let page = svc
            .query(&Query {
                offset: 1,
                limit: Some(2),
                ..Query::default()
            })
            .await
            .unwrap();
        assert_eq!((page.total, page.offset, page.limit), (4, 1, Some(2)));
        assert_eq!(names(page), ["a", "b"]);
    });
}

#[test]
fn save_many_is_all_or_nothing() {
    block_on(async {
        let svc = service();
        svc.save("view", "existing", json!({"v": 1}), opts())
            .await
            .unwrap();
        let item = |name: &str, data: serde_json::Value| SaveItem {
            type_name: "view".into(),
            name: name.into(),
            data,
            options: SaveOptions::default(),
        };
        let seen = Rc::new(RefCell::new(0));
        let counter = Rc::clone(&seen);
        svc.feed().subscribe(move |_, _| *counter.borrow_mut() += 1);

        // An invalid item in the middle: nothing is written, and the error names it.
        let err = svc
            .save_many(vec![
                item("one", json!({})),
                item("existing", json!({"v": 2})),
                item("bad", json!([1])),
            ])
            .await
            .unwrap_err();
        assert_eq!(err.code(), "VALIDATION");
        match &err {
            Error::Batch { index, key, .. } => assert_eq!((*index, key.name.as_str()), (2, "bad")),
            other => panic!("unexpected {other:?}"),
        }
        // A conflict in the last item: nothing is written either.
        let mut conflicting = item("existing", json!({"v": 3}));
        conflicting.options.expected_version = Some(5);
        let err = svc
            .save_many(vec![item("one", json!({})), conflicting])
            .await
            .unwrap_err();
        assert_eq!(err.code(), "CONFLICT");
        // The same record twice is refused.
        let err = svc
            .save_many(vec![item("one", json!({})), item("one", json!({"x": 1}))])
            .await
            .unwrap_err();
        assert_eq!(err.code(), "VALIDATION");
        assert_eq!(
            svc.load("view", "one").await.unwrap().as_deref().cloned(),
            None
        );
        assert_eq!(
            svc.load("view", "existing")
                .await
                .unwrap()
                .as_deref()
                .cloned(),
            Some(json!({"v": 1}))
        );
        assert_eq!(*seen.borrow(), 0);

        let outs = svc
            .save_many(vec![
                item("one", json!({})),
                item("existing", json!({"v": 1})),
                item("two", json!({"t": 2})),
            ])
            .await
            .unwrap();
        assert_eq!(
            outs.iter().map(|o| o.changed).collect::<Vec<_>>(),
            [true, false, true]
        );
        assert_eq!(*seen.borrow(), 2, "one event per changed record");
        assert_eq!(svc.load_many("view").await.unwrap().len(), 3);
    });
}

#[test]
fn migration_source_is_recorded_as_import() {
    block_on(async {
        let svc = service();
        let o = SaveOptions {
            source: Some(Source::Migration),
            ..opts()
        };
        let out = svc
            .save("object", "account", json!({"label": "Account"}), o)
            .await
            .unwrap();
        assert_eq!(out.operation, Some(Operation::Import));
        assert_eq!(out.record.source, Source::Migration);
        assert_eq!(
            svc.history("object", "account").await.unwrap()[0].operation,
            Operation::Import
        );
    });
}

#[test]
fn events_carry_every_committed_change_in_order() {
    block_on(async {
        let svc = service();
        let log = Rc::new(RefCell::new(Vec::new()));
        let sink = Rc::clone(&log);
        let sub = svc
            .feed()
            .subscribe(move |e, _| sink.borrow_mut().push(e.clone()));
        svc.save("view", "v", json!({"a": 1}), opts())
            .await
            .unwrap();
        svc.save("view", "v", json!({"a": 1}), opts())
            .await
            .unwrap(); // no-op
        let _ = svc
            .save("view", "v", json!({"a": 5}), expect_version(9))
            .await; // refused
        let _ = svc.save("view", "Bad", json!({}), opts()).await; // invalid
        svc.save("view", "v", json!({"a": 2}), opts())
            .await
            .unwrap();
        svc.delete("view", "v", ChangeOptions::default())
            .await
            .unwrap();
        svc.restore("view", "v", ChangeOptions::default())
            .await
            .unwrap();
        svc.rollback("view", "v", 1, ChangeOptions::default())
            .await
            .unwrap();
        svc.purge("view", "v", ChangeOptions::default())
            .await
            .unwrap();
        let log = log.borrow().clone();
        use Operation::*;
        let ops: Vec<_> = log.iter().map(|e| e.operation).collect();
        assert_eq!(ops, [Create, Update, Delete, Restore, Rollback, Purge]);
        assert_eq!(
            log.iter().map(|e| e.sequence).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5, 6]
        );
        assert_eq!(
            log.iter().map(|e| e.version).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5, 6]
        );
        assert_eq!(log[0].checksum, checksum(&json!({"a": 1})).unwrap());
        assert_eq!(
            (
                log[0].type_name.as_str(),
                log[0].name.as_str(),
                log[0].tenant_id.clone()
            ),
            ("view", "v", None)
        );
        assert!(svc.feed().unsubscribe(sub));
        svc.save("view", "w", json!({}), opts()).await.unwrap();
        assert_eq!(log.len(), 6, "nothing after unsubscribing");
        // The sequence numbers are the stored change log's.
        assert_eq!(svc.last_sequence().await.unwrap(), 7);
        let stored: Vec<_> = svc
            .changes(&ChangeQuery::since(0))
            .await
            .unwrap()
            .iter()
            .map(|e| (e.sequence, e.operation))
            .collect();
        assert_eq!(
            stored,
            [
                (1, Create),
                (2, Update),
                (3, Delete),
                (4, Restore),
                (5, Rollback),
                (6, Purge),
                (7, Create)
            ]
        );
    });
}

#[test]
fn batches_of_definition_texts_are_read_when_planned_and_all_or_nothing() {
    block_on(async {
        let svc = service();
        let item = |name: &str, data: &str| SaveText {
            type_name: "view".into(),
            name: name.into(),
            data: data.into(),
            options: SaveOptions::default(),
        };
        // A refused text in the middle (not an object; not JSON): nothing
        // is written, the error names its item, nothing is answered.
        for bad in ["[1]", "{\"a\":", "{\"a\":\"\u{1}\"}"] {
            let mut answered = false;
            let err = svc
                .save_texts_answered(
                    vec![item("one", "{}"), item("bad", bad), item("two", "{}")],
                    |_| {
                        answered = true;
                        Ok(())
                    },
                )
                .await
                .unwrap_err();
            assert_eq!(err.code(), "VALIDATION", "{bad}");
            match &err {
                Error::Batch { index, key, .. } => {
                    assert_eq!((*index, key.name.as_str()), (1, "bad"))
                }
                other => panic!("unexpected {other:?}"),
            }
            assert!(!answered);
        }
        assert_eq!(svc.last_sequence().await.unwrap(), 0);
        // Read as JSON text reads them: the same checksum as from a value,
        // the answer made of the outcomes.
        let (outcomes, versions) = svc
            .save_texts_answered(
                vec![item("one", "{\"b\":1,\"a\":[true]}"), item("two", "{}")],
                |o| Ok(o.iter().map(|o| o.record.version).collect::<Vec<_>>()),
            )
            .await
            .unwrap();
        assert_eq!(versions, [1, 1]);
        let expected = Definition::from_value(json!({"a": [true], "b": 1})).unwrap();
        assert_eq!(outcomes[0].record.checksum, expected.checksum());
        assert_eq!(
            svc.load("view", "one").await.unwrap().unwrap().value(),
            &json!({"b": 1, "a": [true]})
        );
    });
}

#[test]
fn a_batch_reports_its_first_failing_item_in_order() {
    block_on(async {
        let svc = service();
        svc.save("view", "a", json!({}), opts()).await.unwrap();
        let item = |name: &str, data: &str, expected_version| SaveText {
            type_name: "view".into(),
            name: name.into(),
            data: data.into(),
            options: SaveOptions {
                expected_version,
                ..SaveOptions::default()
            },
        };
        // A guard that fails before a definition that is refused: the
        // guard's item is reported, as a held write (IndexedDB) reports it.
        let err = svc
            .save_texts_answered(
                vec![item("a", "{}", Some(7)), item("b", "[1]", None)],
                |_| Ok(()),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Batch { index: 0, source, .. } if source.code() == "CONFLICT"),
            "{err:?}"
        );
        // An answer that cannot be made is the error, after the commit
        // here (a store that holds its write gives the write up instead).
        let err = svc
            .save_texts_answered(vec![item("c", "{}", None)], |_| -> Result<()> {
                Err(Error::QuotaExceeded {
                    message: "no room for the answer".into(),
                })
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), "QUOTA_EXCEEDED");
    });
}
