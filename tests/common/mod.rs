//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::cell::Cell;
use std::rc::Rc;

use async_trait::async_trait;
use objectstack_metadata::*;
use serde_json::Value;

pub use pollster::block_on;

/// 2026-01-01T00:00:00.000Z
pub const T0: i64 = 1_767_225_600_000;

pub fn clock() -> Rc<ManualClock> {
    Rc::new(ManualClock::new(T0, 1000))
}

/// A service over a fresh memory store with a deterministic clock.
pub fn service() -> MetadataService {
    MetadataService::builder(MemoryStore::new())
        .actor(Actor::new("alice", ["admin"]))
        .clock(clock())
        .build()
        .unwrap()
}

/// A service for `tenant` over a shared store.
pub fn tenant_service(store: &Rc<dyn Store>, tenant: Option<&str>, actor: &str) -> MetadataService {
    MetadataService::builder_shared(Rc::clone(store))
        .tenant(tenant)
        .actor(Actor::new(actor, ["admin"]))
        .clock(clock())
        .build()
        .unwrap()
}

/// The names `load_many(type)` returns, in its order.
pub async fn names_of(svc: &MetadataService, type_name: &str) -> Vec<String> {
    svc.load_many(type_name)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect()
}

pub fn opts() -> SaveOptions {
    SaveOptions::default()
}

pub fn expect_version(v: u64) -> SaveOptions {
    SaveOptions {
        expected_version: Some(v),
        ..SaveOptions::default()
    }
}

pub fn corpus() -> Vec<(String, String, Value)> {
    let text = include_str!("../data/platform-objects.json");
    let items: Vec<Value> = serde_json::from_str(text).unwrap();
    items
        .into_iter()
        .map(|i| {
            (
                i["type"].as_str().unwrap().to_owned(),
                i["name"].as_str().unwrap().to_owned(),
                i["data"].clone(),
            )
        })
        .collect()
}

/// A store that fails every `k`-th call (reads and commits alike) with a
/// storage error, before touching the inner store.
pub struct FlakyStore {
    pub inner: MemoryStore,
    pub every: u64,
    pub calls: Cell<u64>,
    pub failures: Cell<u64>,
}

impl FlakyStore {
    pub fn new(every: u64) -> Self {
        FlakyStore {
            inner: MemoryStore::new(),
            every,
            calls: Cell::new(0),
            failures: Cell::new(0),
        }
    }

    fn tick(&self, op: &str) -> Result<()> {
        let n = self.calls.get() + 1;
        self.calls.set(n);
        if self.every > 0 && n % self.every == 0 {
            self.failures.set(self.failures.get() + 1);
            return Err(Error::StorageUnavailable {
                message: format!("injected failure of {op} (call {n})"),
            });
        }
        Ok(())
    }
}

#[async_trait(?Send)]
impl Store for FlakyStore {
    fn kind(&self) -> &str {
        "flaky"
    }
    fn feed(&self) -> &Feed {
        self.inner.feed()
    }
    async fn get(&self, key: &RecordKey) -> Result<Option<MetadataRecord>> {
        self.tick("get")?;
        self.inner.get(key).await
    }
    async fn list(&self, t: Option<&str>, ty: Option<&str>) -> Result<Vec<MetadataRecord>> {
        self.tick("list")?;
        self.inner.list(t, ty).await
    }
    async fn history(&self, key: &RecordKey) -> Result<Vec<HistoryEntry>> {
        self.tick("history")?;
        self.inner.history(key).await
    }
    async fn changes(&self, t: Option<&str>, q: &ChangeQuery) -> Result<Vec<ChangeEvent>> {
        self.tick("changes")?;
        self.inner.changes(t, q).await
    }
    async fn last_sequence(&self, t: Option<&str>) -> Result<u64> {
        self.tick("last_sequence")?;
        self.inner.last_sequence(t).await
    }
    async fn apply(&self, batch: &Batch) -> Result<u64> {
        self.tick("apply")?;
        self.inner.apply(batch).await
    }
}
