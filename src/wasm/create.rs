//! Building what `MetadataService.create` returns from its options: the
//! store (see [`super::open`]), the service over it, the file layer, the
//! chain, and the link to other tabs when the store is shared with them.

use std::rc::Rc;

use wasm_bindgen::JsValue;

use super::open::open_store;
use super::options::create_options;
use super::tabs::TabLink;
use crate::access::Actor;
use crate::clock::Clock;
use crate::error::Result;
use crate::files::{FileBundle, FileSource};
use crate::hybrid::{HybridConfig, HybridService};
use crate::service::MetadataService;
use crate::store::Store;

/// `Date.now()`: the standard clock panics on wasm32.
pub struct JsClock;

impl Clock for JsClock {
    fn now_ms(&self) -> i64 {
        js_sys::Date::now() as i64
    }
}

/// What a new `MetadataService` holds.
pub struct Created {
    /// The chain over the chosen store.
    pub chain: Rc<HybridService>,
    /// How the store was chosen.
    pub store_note: String,
    /// The link to other tabs, when changes are shared with them.
    pub tabs: Option<TabLink>,
}

/// A service from `create`'s options (see the class docs).
pub async fn create(options: &JsValue) -> Result<Created> {
    let (store, mut o) = create_options(options)?;
    let namespace = o.namespace.clone().unwrap_or_else(|| "default".to_owned());
    crate::validate::label("namespace", &namespace)?;
    let bucket = o.bucket()?;
    let (store, chosen) = open_store(&store, &namespace, bucket.as_ref()).await?;
    // Databases in different buckets are different data: so are their
    // change channels.
    let channel = match &chosen.bucket {
        Some(b) => format!("{namespace}@{b}"),
        None => namespace.clone(),
    };
    let mut builder = MetadataService::builder_shared(Rc::clone(&store))
        .tenant(o.tenant.as_deref())
        .actor(Actor::new(
            o.actor.clone().unwrap_or_else(|| "system".to_owned()),
            o.roles.clone().unwrap_or_default(),
        ))
        .policy(o.policy.take().map(|p| p.0).unwrap_or_default())
        .clock(Rc::new(JsClock))
        .verify_reads(o.verify_reads.unwrap_or(true));
    if let Some(source) = o.source {
        builder = builder.default_source(source);
    }
    let db = builder.build()?;
    let files: Option<Rc<dyn FileSource>> = match &o.files {
        Some(files) => Some(Rc::new(FileBundle::from_files(
            files.iter().map(|(p, t)| (p.as_str(), t.as_str())),
        )?)),
        None => None,
    };
    let config = HybridConfig {
        mode: o.mode.unwrap_or_default(),
        strict: o.strict.unwrap_or(false),
        cache: o.cache.unwrap_or(true),
    };
    let chain = Rc::new(HybridService::new(db, files, config));
    // The store says whether other contexts share its data (the core's
    // rule); the caller may say otherwise.
    let tabs = if o.broadcast.unwrap_or(store.shared_across_contexts()) {
        TabLink::open(&channel, store)
    } else {
        None
    };
    Ok(Created {
        chain,
        store_note: chosen.note,
        tabs,
    })
}
