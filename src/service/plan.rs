//! Write planning: what a change of one record becomes, as a pure function
//! of what was read (the record's head and where its history ends), who
//! acts and when. No I/O happens here, so the write loop can plan again
//! against a fresh read when a concurrent writer was first.

use crate::definition::Definition;
use crate::error::{Error, Result};
use crate::key::RecordKey;
use crate::record::{MetadataRecord, Operation, Source};
use crate::store::{Change, Current};

use super::options::Guard;

/// Who acts, when, and the source recorded by default.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub actor: &'a str,
    pub now: &'a str,
    pub default_source: Source,
}

/// What the caller wants to happen to one record.
#[derive(Debug, Clone)]
pub(crate) enum Intent {
    /// Upsert a definition.
    Save {
        data: Definition,
        tags: Option<Vec<String>>,
        source: Option<Source>,
        owner: Option<String>,
    },
    /// Write an earlier version's definition back.
    Rollback { data: Definition },
    /// Soft delete.
    Delete,
    /// Undo a soft delete.
    Restore,
    /// Remove the head for good.
    Purge,
}

/// What a write comes to.
#[derive(Debug, Clone)]
pub(crate) enum Plan {
    /// Nothing to write: the record stays as it is.
    Unchanged(MetadataRecord),
    /// One change to commit.
    Write(Change),
}

/// `CONFLICT` unless the head meets the caller's guard.
pub(crate) fn check_guard(
    key: &RecordKey,
    head: Option<&MetadataRecord>,
    guard: Guard<'_>,
) -> Result<()> {
    let actual_version = head.map_or(0, |r| r.version);
    let conflict = |expected: String, actual: String| Error::Conflict {
        key: Box::new(key.clone()),
        expected,
        actual,
        actual_version,
    };
    if let Some(v) = guard.version {
        if v != actual_version {
            return Err(conflict(
                format!("version {v}"),
                match head {
                    Some(_) => format!("version {actual_version}"),
                    None => "no record".into(),
                },
            ));
        }
    }
    if let Some(c) = guard.checksum {
        let actual = head.map(|r| r.checksum.as_str());
        if actual != Some(c) {
            return Err(conflict(
                format!("checksum {c}"),
                match actual {
                    Some(a) => format!("checksum {a}"),
                    None => "no record".into(),
                },
            ));
        }
    }
    Ok(())
}

/// Plans `intent` on `key` given what was read.
pub(crate) fn plan(
    ctx: &Context<'_>,
    key: &RecordKey,
    current: &Current,
    intent: &Intent,
) -> Result<Plan> {
    let head = current.record.as_ref();
    let expect = current.expect();
    if let Some(e) = &current.unreadable {
        // Only a save or rollback, which need nothing of the head, writes
        // over a head that cannot be read.
        if !matches!(intent, Intent::Save { .. } | Intent::Rollback { .. }) {
            return Err(e.clone());
        }
    }
    let missing =
        |what: &str| Error::not_found(key, Some(format!("no record in this scope to {what}")));
    match intent {
        Intent::Save {
            data,
            tags,
            source,
            owner,
        } => upsert(
            ctx,
            key,
            current,
            Upsert {
                data,
                tags: tags.as_ref(),
                source: *source,
                owner: owner.as_deref(),
                rollback: false,
            },
        ),
        Intent::Rollback { data } => upsert(
            ctx,
            key,
            current,
            Upsert {
                data,
                tags: None,
                source: None,
                owner: None,
                rollback: true,
            },
        ),
        Intent::Delete => {
            let head = head.ok_or_else(|| missing("delete"))?;
            if !head.is_active {
                return Err(Error::not_found(key, Some("already deleted".into())));
            }
            Ok(Plan::Write(Change::Put {
                record: transition(ctx, key, head, false, Operation::Delete)?,
                expect,
            }))
        }
        Intent::Restore => {
            let head = head.ok_or_else(|| missing("restore"))?;
            if head.is_active {
                return Ok(Plan::Unchanged(head.clone()));
            }
            Ok(Plan::Write(Change::Put {
                record: transition(ctx, key, head, true, Operation::Restore)?,
                expect,
            }))
        }
        Intent::Purge => {
            let head = head.ok_or_else(|| missing("purge"))?;
            let mut tombstone = head.to_history();
            tombstone.version = next_version(key, head.version)?;
            tombstone.operation = Operation::Purge;
            tombstone.is_active = false;
            tombstone.actor = ctx.actor.to_owned();
            tombstone.timestamp = ctx.now.to_owned();
            tombstone.seq = 0;
            Ok(Plan::Write(Change::Purge { tombstone, expect }))
        }
    }
}

/// The largest version: JavaScript numbers hold integers exactly up to
/// 2^53 - 1.
pub const MAX_VERSION: u64 = (1 << 53) - 1;

/// The version after `version`; `CORRUPTED` when the stored version is
/// already the largest one (a damaged store: no history grows that long),
/// rather than wrapping around to 0.
fn next_version(key: &RecordKey, version: u64) -> Result<u64> {
    version
        .checked_add(1)
        .filter(|v| *v <= MAX_VERSION)
        .ok_or_else(|| Error::Corrupted {
            key: Box::new(key.clone()),
            message: format!("stored version {version} has no next version"),
        })
}

/// The head after a delete or restore: the same data as a new version.
fn transition(
    ctx: &Context<'_>,
    key: &RecordKey,
    head: &MetadataRecord,
    is_active: bool,
    operation: Operation,
) -> Result<MetadataRecord> {
    Ok(MetadataRecord {
        version: next_version(key, head.version)?,
        is_active,
        updated_at: ctx.now.to_owned(),
        updated_by: Some(ctx.actor.to_owned()),
        seq: 0,
        operation,
        ..head.clone()
    })
}

/// The fields of a save or rollback.
struct Upsert<'a> {
    data: &'a Definition,
    /// New tags (kept when `None`).
    tags: Option<&'a Vec<String>>,
    /// The source asked for (the default when `None`).
    source: Option<Source>,
    /// New owner (kept, or the actor on create, when `None`).
    owner: Option<&'a str>,
    rollback: bool,
}

/// A save (or rollback): a no-op when the definition, tags, owner and
/// source are what is stored and the record is active; otherwise the next
/// version. A new row continues after a purged one, so versions never
/// repeat.
fn upsert(ctx: &Context<'_>, key: &RecordKey, current: &Current, u: Upsert<'_>) -> Result<Plan> {
    let Upsert {
        data,
        tags,
        source,
        owner,
        rollback,
    } = u;
    let checksum = data.checksum().to_owned();
    let effective_source = source.unwrap_or(ctx.default_source);
    let head = current.record.as_ref();
    if let Some(cur) = head {
        let unchanged = cur.is_active
            && cur.checksum == checksum
            && tags.is_none_or(|t| *t == cur.tags)
            && owner.is_none_or(|o| o == cur.owner)
            && source.is_none_or(|s| s == cur.source);
        if unchanged {
            return Ok(Plan::Unchanged(MetadataRecord {
                data: data.clone(),
                ..cur.clone()
            }));
        }
    }
    let operation = if rollback {
        Operation::Rollback
    } else if effective_source == Source::Migration {
        Operation::Import
    } else {
        match head {
            Some(cur) if cur.is_active => Operation::Update,
            // Saving over a soft-deleted record revives it.
            Some(_) => Operation::Restore,
            // Over a head that cannot be read: it is replaced.
            None if current.unreadable.is_some() => Operation::Update,
            None => Operation::Create,
        }
    };
    let record = match head {
        Some(cur) => MetadataRecord {
            type_name: key.type_name.clone(),
            name: key.name.clone(),
            data: data.clone(),
            version: next_version(key, cur.version)?,
            checksum,
            source: effective_source,
            is_active: true,
            owner: owner.map_or_else(|| cur.owner.clone(), str::to_owned),
            tenant_id: key.tenant_id.clone(),
            tags: tags.cloned().unwrap_or_else(|| cur.tags.clone()),
            created_at: cur.created_at.clone(),
            updated_at: ctx.now.to_owned(),
            updated_by: Some(ctx.actor.to_owned()),
            seq: 0,
            operation,
        },
        None => MetadataRecord {
            type_name: key.type_name.clone(),
            name: key.name.clone(),
            data: data.clone(),
            version: next_version(key, current.last_version)?,
            checksum,
            source: effective_source,
            is_active: true,
            owner: owner.map_or_else(|| ctx.actor.to_owned(), str::to_owned),
            tenant_id: key.tenant_id.clone(),
            tags: tags.cloned().unwrap_or_default(),
            created_at: ctx.now.to_owned(),
            updated_at: ctx.now.to_owned(),
            updated_by: Some(ctx.actor.to_owned()),
            seq: 0,
            operation,
        },
    };
    Ok(Plan::Write(Change::Put {
        record,
        expect: current.expect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Expect;
    use serde_json::json;

    fn save() -> Intent {
        Intent::Save {
            data: Definition::from_value(json!({ "n": 1 })).unwrap(),
            tags: None,
            source: None,
            owner: None,
        }
    }

    #[test]
    fn a_save_writes_over_a_head_that_cannot_be_read_and_nothing_else_does() {
        let key = RecordKey::new(None, "view", "v");
        let ctx = Context {
            actor: "alice",
            now: "2026-01-01T00:00:00.000Z",
            default_source: Source::Database,
        };
        let damaged = Error::Corrupted {
            key: Box::new(key.clone()),
            message: "the stored row */view/v has no JSON text".into(),
        };
        let current = Current {
            record: None,
            last_version: 4,
            unreadable: Some(damaged.clone()),
        };
        // The save replaces version 4, expecting it there.
        match plan(&ctx, &key, &current, &save()).unwrap() {
            Plan::Write(Change::Put { record, expect }) => {
                assert_eq!(expect, Expect::Version(4));
                assert_eq!(record.version, 5);
                assert_eq!(record.operation, Operation::Update);
                assert_eq!(record.owner, "alice");
            }
            other => panic!("{other:?}"),
        }
        // What needs the head is refused with what was read.
        for intent in [Intent::Delete, Intent::Restore, Intent::Purge] {
            assert_eq!(plan(&ctx, &key, &current, &intent).unwrap_err(), damaged);
        }
        // A readable head, and no head at all, as before.
        let none = Current::default();
        match plan(&ctx, &key, &none, &save()).unwrap() {
            Plan::Write(Change::Put { record, expect }) => {
                assert_eq!((expect, record.version), (Expect::Absent, 1));
                assert_eq!(record.operation, Operation::Create);
            }
            other => panic!("{other:?}"),
        }
    }
}
