//! Mirroring: a cache of a server (a browser's IndexedDB following its
//! metadata server) writes the server's records as they are, with the
//! server's versions, checksums and timestamps, rather than making versions
//! of its own. Only newer versions are written, so a late or repeated
//! delivery never takes the cache back.

use std::collections::BTreeMap;

use super::MetadataService;
use crate::error::{Error, Result};
use crate::events::ChangeEvent;
use crate::key::RecordKey;
use crate::record::{MetadataRecord, Operation};
use crate::store::{Batch, Change, Origin};
use crate::validate;

/// One thing to mirror.
#[derive(Debug, Clone, PartialEq)]
pub enum Mirrored {
    /// The server's record (active or soft-deleted), to hold as it is.
    Record(MetadataRecord),
    /// The server no longer has the record (purged): remove it.
    Gone(RecordKey),
}

impl Mirrored {
    fn key(&self) -> RecordKey {
        match self {
            Mirrored::Record(r) => r.key(),
            Mirrored::Gone(k) => k.clone(),
        }
    }
}

impl MetadataService {
    /// Writes what a server holds into this cache, per scope in one batch,
    /// announcing the changes as coming from `origin`. Records must be of
    /// this scope or the global one, valid, and match their checksum; a
    /// record not newer than the cached one is skipped.
    pub async fn mirror(&self, items: Vec<Mirrored>, origin: Origin) -> Result<Vec<ChangeEvent>> {
        let mut scopes: BTreeMap<Option<String>, Vec<Mirrored>> = BTreeMap::new();
        for item in items {
            let key = item.key();
            validate::type_name(&key.type_name)?;
            validate::name(&key.name)?;
            if !self.sees_scope(key.tenant_id.as_deref()) {
                return Err(Error::validation(
                    "records",
                    format!("{key} is outside this service's scopes"),
                ));
            }
            if let Mirrored::Record(r) = &item {
                let sum = r.data.checksum();
                if sum != r.checksum {
                    return Err(Error::validation(
                        "records",
                        format!(
                            "{key}: checksum {} does not match its data ({sum})",
                            r.checksum
                        ),
                    ));
                }
            }
            scopes.entry(key.tenant_id).or_default().push(item);
        }
        let mut events = Vec::new();
        for (tenant, items) in scopes {
            events.extend(self.mirror_scope(tenant.as_deref(), &items, origin).await?);
        }
        Ok(events)
    }

    async fn mirror_scope(
        &self,
        tenant: Option<&str>,
        items: &[Mirrored],
        origin: Origin,
    ) -> Result<Vec<ChangeEvent>> {
        let keys: Vec<RecordKey> = items.iter().map(Mirrored::key).collect();
        for attempt in 1.. {
            let current = self.store.read_current(&keys).await?;
            let mut batch = Batch::new(tenant);
            for (item, now) in items.iter().zip(&current) {
                let head = now.record.as_ref();
                let expect = now.expect();
                match item {
                    Mirrored::Record(r) => {
                        let newer = match (head, &now.unreadable) {
                            (Some(h), _) => {
                                h.version < r.version
                                    || (h.version == r.version && h.checksum != r.checksum)
                            }
                            // Over a head that cannot be read, only a later
                            // version (the damaged one is archived where its
                            // row says; an earlier one would go back).
                            (None, Some(_)) => now.last_version < r.version,
                            (None, None) => true,
                        };
                        if newer {
                            batch.push(Change::Put {
                                record: MetadataRecord {
                                    seq: 0,
                                    ..r.clone()
                                },
                                expect,
                            });
                        }
                    }
                    Mirrored::Gone(_) => {
                        if let Some(h) = head {
                            let mut tombstone = h.to_history();
                            tombstone.version = now.last_version.max(h.version) + 1;
                            tombstone.operation = Operation::Purge;
                            tombstone.is_active = false;
                            tombstone.seq = 0;
                            batch.push(Change::Purge { tombstone, expect });
                        }
                    }
                }
            }
            match self.store.commit_as(batch, origin).await {
                Err(Error::Conflict { .. }) if attempt < super::write::MAX_WRITE_ATTEMPTS => {
                    continue
                }
                other => return other,
            }
        }
        Ok(Vec::new())
    }
}

/// One record a server holds, as its manifest for caches lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorEntry {
    /// The record's scope (`None`: global).
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Metadata type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Record name.
    pub name: String,
    /// The server's version.
    pub version: u64,
    /// The server's checksum.
    pub checksum: String,
}

impl MirrorEntry {
    /// The record's identity.
    pub fn key(&self) -> RecordKey {
        RecordKey::new(self.tenant_id.as_deref(), &self.type_name, &self.name)
    }
}

/// What [`MetadataService::replicate`] did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Replicated {
    /// Records fetched and written (new or newer on the server).
    pub fetched: usize,
    /// Records the server no longer has, removed here.
    pub removed: usize,
    /// Records already as the server has them.
    pub unchanged: usize,
    /// The changes committed here.
    pub changes: Vec<ChangeEvent>,
}

impl MetadataService {
    /// Brings this cache in line with a server's manifest of every active
    /// record the caller can read there: asks `fetch` for the records that
    /// are missing or at another version here (the server's whole records),
    /// mirrors them, and removes the active records the manifest no longer
    /// lists. Changes are announced as `Mirrored`.
    pub async fn replicate<F, Fut>(&self, manifest: &[MirrorEntry], fetch: F) -> Result<Replicated>
    where
        F: FnOnce(Vec<MirrorEntry>) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<MetadataRecord>>>,
    {
        let mut listed = BTreeMap::new();
        for entry in manifest {
            validate::type_name(&entry.type_name)?;
            validate::name(&entry.name)?;
            if listed.insert(entry.key(), entry).is_some() {
                return Err(Error::validation(
                    "manifest",
                    format!("{} is listed twice", entry.key()),
                ));
            }
        }
        let local = self.local_heads().await?;
        let mut wanted = Vec::new();
        let mut unchanged = 0;
        for (key, entry) in &listed {
            match local.get(key) {
                Some(r)
                    if r.is_active
                        && r.version == entry.version
                        && r.checksum == entry.checksum =>
                {
                    unchanged += 1
                }
                _ => wanted.push((*entry).clone()),
            }
        }
        let gone: Vec<Mirrored> = local
            .into_iter()
            .filter(|(key, r)| r.is_active && !listed.contains_key(key))
            .map(|(key, _)| Mirrored::Gone(key))
            .collect();
        let removed = gone.len();
        let mut items = gone;
        let fetched = if wanted.is_empty() {
            0
        } else {
            let expected: BTreeMap<RecordKey, String> = wanted
                .iter()
                .map(|e| (e.key(), e.checksum.clone()))
                .collect();
            let records = fetch(wanted).await?;
            for r in &records {
                if !expected.contains_key(&r.key()) {
                    return Err(Error::validation(
                        "fetched",
                        format!("{} was not asked for", r.key()),
                    ));
                }
            }
            let n = records.len();
            items.extend(records.into_iter().map(Mirrored::Record));
            n
        };
        let changes = self.mirror(items, Origin::Mirrored).await?;
        Ok(Replicated {
            fetched,
            removed,
            unchanged,
            changes,
        })
    }

    /// Every head this cache holds in its scopes (its own and, for a
    /// tenant, the global one).
    async fn local_heads(&self) -> Result<BTreeMap<RecordKey, MetadataRecord>> {
        let mut out = BTreeMap::new();
        let mut scopes = vec![None];
        if let Some(t) = &self.tenant_id {
            scopes.push(Some(t.as_str()));
        }
        for scope in scopes {
            for r in self.store.list(scope, None).await? {
                out.insert(r.key(), self.verify(r)?);
            }
        }
        Ok(out)
    }
}
