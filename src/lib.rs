//! Database-driven metadata storage (ObjectStack ADR-0002) as a pure-Rust
//! core: `sys_metadata` records with versions and checksums byte-identical to
//! upstream ObjectStack's, a versioned, tenant-scoped, access-checked service
//! over a pluggable async store, and the hybrid fallback chain (database,
//! registry, files) with a read cache.
//!
//! The core knows nothing of JavaScript; the WebAssembly bindings live in
//! their own module, compiled only for `wasm32`.
#![deny(missing_docs)]

pub mod access;
pub mod canonical;
mod canonical_order;
mod canonical_utf16;
pub mod clock;
pub mod definition;
pub mod error;
pub mod events;
pub mod files;
pub mod hybrid;
pub mod json;
pub mod key;
pub mod query;
pub mod record;
mod record_json;
pub mod registry;
pub mod service;
mod sort;
pub mod store;
pub mod sync;
pub mod validate;
#[cfg(feature = "yaml")]
pub mod yaml;

pub use access::{AccessPolicy, Action, Actor, Permission};
pub use canonical::{canonicalize, checksum, content_hash};
#[cfg(not(target_arch = "wasm32"))]
pub use clock::SystemClock;
pub use clock::{Clock, ManualClock};
pub use definition::Definition;
pub use error::{Error, Result};
pub use events::{ChangeEvent, ChangeQuery};
pub use files::{FileBundle, FileFormat, FileSource};
pub use hybrid::{
    ChainMode, Found, HybridConfig, HybridService, HybridWrite, Layer, LayerFailure,
    ManyResolution, Resolution,
};
pub use key::RecordKey;
pub use query::{Query, QueryPage};
pub use record::{HistoryEntry, MetadataRecord, Operation, Source};
pub use registry::Registry;
pub use service::{
    ChangeOptions, Guard, MetadataService, MirrorEntry, Mirrored, Replicated, SaveDefinition,
    SaveItem, SaveOptions, SaveOutcome, SaveText, ServiceBuilder,
};
pub use store::{
    Batch, Change, Current, Expect, Feed, Follower, KvBackend, KvOp, KvStore, MemoryStore, Origin,
    Store, SubscriptionId,
};
pub use sync::{FetchedItem, ManifestEntry, SyncPlan, SyncResult};
#[cfg(target_arch = "wasm32")]
pub mod wasm;
