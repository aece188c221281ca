//! Checksum sync: compare the local records with a remote manifest (type,
//! name, version, checksum, e.g. from a server), and apply a fetched set in
//! one transaction, so a client pulls only what changed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::access::Action;
use crate::definition::Definition;
use crate::error::{Error, Result};
use crate::record::Source;
use crate::service::{MetadataService, MirrorEntry, SaveItem, SaveOptions, SaveOutcome};
use crate::validate;

/// One line of a remote manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    /// Metadata type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Record name.
    pub name: String,
    /// The remote version (informational: versions are per store).
    #[serde(default)]
    pub version: Option<u64>,
    /// The remote checksum: what decides.
    pub checksum: String,
    /// The record's scope on the server, when the manifest says (a cache's
    /// manifest does; comparison is by type and name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

/// How the local records compare with a manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncPlan {
    /// Present here with another checksum: to fetch.
    pub stale: Vec<ManifestEntry>,
    /// Absent here (or deleted): to fetch.
    pub missing: Vec<ManifestEntry>,
    /// Active here, absent from the manifest (local version and checksum).
    pub extra: Vec<ManifestEntry>,
    /// Identical on both sides.
    pub unchanged: usize,
}

impl SyncPlan {
    /// The entries to fetch: stale, then missing.
    pub fn to_fetch(&self) -> Vec<ManifestEntry> {
        self.stale.iter().chain(&self.missing).cloned().collect()
    }
}

/// What [`crate::HybridService::sync`] did: the comparison, and the
/// outcomes of what it applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncResult {
    /// How the local records compared with the manifest.
    pub plan: SyncPlan,
    /// The stale and missing records fetched and applied.
    pub applied: Vec<SaveOutcome>,
}

/// A fetched definition, to apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FetchedItem {
    /// Metadata type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Record name.
    pub name: String,
    /// The definition.
    #[serde(deserialize_with = "crate::json::deserialize_apart")]
    pub data: Value,
}

fn check_entry(e: &ManifestEntry) -> Result<()> {
    validate::type_name(&e.type_name)?;
    validate::name(&e.name)?;
    let hex = e.checksum.len() == 32
        && e.checksum
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !hex {
        return Err(Error::validation(
            "manifest",
            format!(
                "{}/{}: checksum {:?} is not 32 lowercase hex digits",
                e.type_name, e.name, e.checksum
            ),
        ));
    }
    Ok(())
}

impl MetadataService {
    /// This scope's manifest: every active record it can read (the tenant's,
    /// and global ones it has no row for), optionally of one type, as
    /// (type, name, version, checksum), ordered by type and name. What a
    /// server hands its caches to sync by.
    pub async fn manifest(&self, type_name: Option<&str>) -> Result<Vec<MirrorEntry>> {
        let page = self
            .query(&crate::query::Query {
                type_name: type_name.map(str::to_owned),
                active: Some(true),
                ..Default::default()
            })
            .await?;
        Ok(page
            .items
            .into_iter()
            .map(|r| MirrorEntry {
                tenant_id: r.tenant_id,
                type_name: r.type_name,
                name: r.name,
                version: r.version,
                checksum: r.checksum,
            })
            .collect())
    }

    /// Compares this scope's active records with `manifest`. Types the actor
    /// may not read are left out of `extra`; a manifest naming one is
    /// `FORBIDDEN`.
    pub async fn diff_manifest(&self, manifest: &[ManifestEntry]) -> Result<SyncPlan> {
        let mut remote: BTreeMap<(&str, &str), &ManifestEntry> = BTreeMap::new();
        for e in manifest {
            check_entry(e)?;
            self.check(Action::Sync, &e.type_name)?;
            if remote.insert((&e.type_name, &e.name), e).is_some() {
                return Err(Error::validation(
                    "manifest",
                    format!("{}/{} is listed twice", e.type_name, e.name),
                ));
            }
        }
        let local: Vec<_> = self
            .query(&crate::query::Query {
                active: Some(true),
                ..Default::default()
            })
            .await?
            .items;
        let mut plan = SyncPlan::default();
        let mut seen = BTreeMap::new();
        for r in &local {
            seen.insert((r.type_name.as_str(), r.name.as_str()), r);
            if !remote.contains_key(&(r.type_name.as_str(), r.name.as_str())) {
                plan.extra.push(ManifestEntry {
                    type_name: r.type_name.clone(),
                    name: r.name.clone(),
                    version: Some(r.version),
                    checksum: r.checksum.clone(),
                    tenant_id: None,
                });
            }
        }
        for (key, e) in remote {
            match seen.get(&key) {
                Some(r) if r.checksum == e.checksum => plan.unchanged += 1,
                Some(_) => plan.stale.push(e.clone()),
                None => plan.missing.push(e.clone()),
            }
        }
        Ok(plan)
    }

    /// Applies fetched definitions in one all-or-nothing batch (source
    /// `api`). Each must be listed in `manifest` with the checksum of its
    /// data; otherwise nothing is written and the error names it.
    pub async fn apply_fetched(
        &self,
        manifest: &[ManifestEntry],
        fetched: Vec<FetchedItem>,
    ) -> Result<Vec<SaveOutcome>> {
        let expected: BTreeMap<(&str, &str), &str> = manifest
            .iter()
            .map(|e| ((e.type_name.as_str(), e.name.as_str()), e.checksum.as_str()))
            .collect();
        let mut items = Vec::with_capacity(fetched.len());
        for f in fetched {
            let want = expected
                .get(&(f.type_name.as_str(), f.name.as_str()))
                .copied()
                .ok_or_else(|| {
                    Error::validation(
                        "fetched",
                        format!("{}/{} is not in the manifest", f.type_name, f.name),
                    )
                })?;
            let got = Definition::from_value(f.data.clone())?;
            if got.checksum() != want {
                return Err(Error::validation(
                    "fetched",
                    format!(
                        "{}/{} arrived with checksum {} but the manifest says {want}",
                        f.type_name,
                        f.name,
                        got.checksum()
                    ),
                ));
            }
            items.push(SaveItem {
                type_name: f.type_name,
                name: f.name,
                data: f.data,
                options: SaveOptions {
                    source: Some(Source::Api),
                    ..SaveOptions::default()
                },
            });
        }
        self.save_many(items).await
    }
}

impl crate::hybrid::HybridService {
    /// Brings the local records in line with `manifest`: compares, asks
    /// `fetch` for the stale and missing entries only, and applies what it
    /// returns in one verified batch (see
    /// [`MetadataService::apply_fetched`]), mirroring each change.
    pub async fn sync<F, Fut>(&self, manifest: &[ManifestEntry], fetch: F) -> Result<SyncResult>
    where
        F: FnOnce(Vec<ManifestEntry>) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<FetchedItem>>>,
    {
        let plan = self.database().diff_manifest(manifest).await?;
        let wanted = plan.to_fetch();
        let applied = if wanted.is_empty() {
            Vec::new()
        } else {
            let items = fetch(wanted).await?;
            self.apply_fetched(manifest, items).await?.outcome
        };
        Ok(SyncResult { plan, applied })
    }
}
