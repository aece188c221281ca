//! Reads: a record resolves to the tenant's own row, or to the global row
//! where the tenant has none; lists merge the two scopes the same way.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::MetadataService;
use crate::access::{Action, Permission};
use crate::clock;
use crate::definition::Definition;
use crate::error::{Error, Result};
use crate::events::{ChangeEvent, ChangeQuery};
use crate::query::{Query, QueryPage};
use crate::record::{HistoryEntry, MetadataRecord};
use crate::store::Follower;
use crate::validate;

impl MetadataService {
    /// The record a read of (type, name) resolves to in this scope: the
    /// tenant's own row when it has one (active or not), else the global row.
    async fn resolve(&self, type_name: &str, name: &str) -> Result<Option<MetadataRecord>> {
        let key = self.own_key(type_name, name)?;
        if let Some(own) = self.store.get(&key).await? {
            return self.verify(own).map(Some);
        }
        if self.tenant_id.is_some() {
            if let Some(global) = self.store.get(&key.with_tenant(None)).await? {
                return self.verify(global).map(Some);
            }
        }
        Ok(None)
    }

    /// The active definition of (type, name), or `None`.
    pub async fn load(&self, type_name: &str, name: &str) -> Result<Option<Definition>> {
        Ok(self.load_record(type_name, name).await?.map(|r| r.data))
    }

    /// The whole active record of (type, name), or `None`.
    ///
    /// A tenant's own row masks the global one, also when it is soft-deleted:
    /// that is how a tenant hides a global definition.
    pub async fn load_record(&self, type_name: &str, name: &str) -> Result<Option<MetadataRecord>> {
        self.check(Action::Load, type_name)?;
        Ok(self.resolve(type_name, name).await?.filter(|r| r.is_active))
    }

    /// The tenant's own row (active or not), without falling back to global.
    pub async fn load_own_record(
        &self,
        type_name: &str,
        name: &str,
    ) -> Result<Option<MetadataRecord>> {
        self.check(Action::Load, type_name)?;
        let key = self.own_key(type_name, name)?;
        match self.store.get(&key).await? {
            Some(r) => self.verify(r).map(Some),
            None => Ok(None),
        }
    }

    /// Every row visible in this scope, optionally of one type: the tenant's
    /// rows, plus global rows the tenant has no row for; sorted by type, name.
    async fn visible(&self, type_name: Option<&str>) -> Result<Vec<MetadataRecord>> {
        let own = self
            .store
            .list(self.tenant_id.as_deref(), type_name)
            .await?;
        if self.tenant_id.is_none() {
            return own.into_iter().map(|r| self.verify(r)).collect();
        }
        let global = self.store.list(None, type_name).await?;
        let mut merged: BTreeMap<(String, String), MetadataRecord> = BTreeMap::new();
        for r in global.into_iter().chain(own) {
            // Own rows come second and replace global ones.
            merged.insert((r.type_name.clone(), r.name.clone()), r);
        }
        merged.into_values().map(|r| self.verify(r)).collect()
    }

    /// All active records of a type, ordered by name.
    pub async fn load_many(&self, type_name: &str) -> Result<Vec<MetadataRecord>> {
        validate::type_name(type_name)?;
        self.check(Action::List, type_name)?;
        let mut rows = self.visible(Some(type_name)).await?;
        rows.retain(|r| r.is_active);
        Ok(rows)
    }

    /// Records matching `query` in this scope, a page at a time. Without a
    /// type filter, types the actor may not read are left out.
    pub async fn query(&self, query: &Query) -> Result<QueryPage> {
        if let Some(t) = &query.type_name {
            validate::type_name(t)?;
            self.check(Action::Query, t)?;
        }
        let since = match &query.updated_since {
            Some(s) => Some(clock::parse_rfc3339(s)?),
            None => None,
        };
        let rows = self.visible(query.type_name.as_deref()).await?;
        let mut matched = Vec::new();
        for r in rows {
            if !self
                .policy
                .allows(&self.actor, Permission::Read, &r.type_name)
            {
                continue;
            }
            if let Some(ms) = since {
                // Stored timestamps are the service's own format; an
                // unreadable one is corruption, not a non-match.
                let updated =
                    clock::parse_rfc3339(&r.updated_at).map_err(|e| Error::Corrupted {
                        key: Box::new(r.key()),
                        message: e.to_string(),
                    })?;
                if updated < ms {
                    continue;
                }
            }
            if query.matches(&r) {
                matched.push(r);
            }
        }
        Ok(QueryPage::paginate(matched, query.offset, query.limit))
    }

    /// Every version of (type, name), oldest first: the tenant's own history,
    /// or the global record's when the tenant has none. An entry whose data
    /// does not match its checksum is `CORRUPTED`, never served.
    pub async fn history(&self, type_name: &str, name: &str) -> Result<Vec<HistoryEntry>> {
        self.check(Action::History, type_name)?;
        let key = self.own_key(type_name, name)?;
        let mut entries = self.store.history(&key).await?;
        if entries.is_empty() && self.tenant_id.is_some() {
            entries = self.store.history(&key.with_tenant(None)).await?;
        }
        if self.verify_reads && !self.store.holds_only_own_writes() {
            for h in &entries {
                let sum = h.data.checksum();
                if sum != h.checksum {
                    return Err(Error::Corrupted {
                        key: Box::new(h.key()),
                        message: format!(
                            "history entry of version {} has checksum {} but its data has {sum}",
                            h.version, h.checksum
                        ),
                    });
                }
            }
        }
        Ok(entries)
    }

    /// This scope's change log: the changes after `query.since`, oldest
    /// first, at most `query.limit` of them. Types the actor may not read
    /// are left out (a type filter the actor may not read is
    /// `FORBIDDEN`); a limit counts the changes the actor may read, the
    /// log read on past those it may not, in pages that double.
    pub async fn changes(&self, query: &ChangeQuery) -> Result<Vec<ChangeEvent>> {
        if let Some(t) = &query.type_name {
            validate::type_name(t)?;
            self.check(Action::Changes, t)?;
        }
        if let Some(n) = &query.name {
            validate::name(n)?;
        }
        let mut page = query.clone();
        let mut out = Vec::new();
        loop {
            let events = self.store.changes(self.tenant_id.as_deref(), &page).await?;
            if page.type_name.is_none() && page.name.is_none() {
                crate::store::feed::check_log(self.tenant_id.as_deref(), page.since, &events)?;
            }
            // A full page may have more after it.
            let more = page.limit.is_some_and(|l| events.len() >= l);
            let last = events.last().map(|e| e.sequence);
            out.extend(events.into_iter().filter(|e| {
                self.policy
                    .allows(&self.actor, Permission::Read, &e.type_name)
            }));
            match (query.limit, last) {
                (Some(limit), Some(last)) if more && out.len() < limit => {
                    // On from there, each page twice the last: a few
                    // reads past however many hidden changes, not one a
                    // limit's worth of them.
                    page.since = last;
                    page.limit = page.limit.map(|l| l.saturating_mul(2));
                }
                _ => break,
            }
        }
        if let Some(limit) = query.limit {
            out.truncate(limit);
        }
        Ok(out)
    }

    /// The sequence number of this scope's last committed change.
    pub async fn last_sequence(&self) -> Result<u64> {
        self.store.last_sequence(self.tenant_id.as_deref()).await
    }

    /// This scope's change stream from after `since` (`None`: from now on):
    /// every change once, in order, with no gap (see [`Follower`]). The
    /// caller filters by what it may read ([`MetadataService::may_read`]).
    pub async fn follow(&self, since: Option<u64>) -> Result<Follower> {
        Follower::start(Rc::clone(&self.store), self.tenant_id.as_deref(), since).await
    }

    /// Whether the actor may read metadata of `type_name`.
    pub fn may_read(&self, type_name: &str) -> bool {
        self.policy.allows(&self.actor, Permission::Read, type_name)
    }

    /// Who this service's subscribers are: the rule of which change events
    /// they are told of, detached from the service (a listener keeps it
    /// without keeping the service alive).
    pub fn audience(&self) -> Audience {
        Audience {
            tenant_id: self.tenant_id.clone(),
            actor: self.actor.clone(),
            policy: self.policy.clone(),
        }
    }
}

/// Which change events a service's subscribers are told of: changes of its
/// own scope or the global scope it falls back to, of types its actor may
/// read.
#[derive(Debug, Clone)]
pub struct Audience {
    tenant_id: Option<String>,
    actor: crate::access::Actor,
    policy: crate::access::AccessPolicy,
}

impl Audience {
    /// Whether a subscriber is told of `event`.
    pub fn hears(&self, event: &crate::events::ChangeEvent) -> bool {
        super::scope_seen(self.tenant_id.as_deref(), event.tenant_id.as_deref())
            && self
                .policy
                .allows(&self.actor, Permission::Read, &event.type_name)
    }
}
