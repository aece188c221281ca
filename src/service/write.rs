//! Writes: read, plan, commit conditionally, and start over when another
//! writer committed in between (the store refuses a change whose
//! expectation no longer holds). A plain save therefore never loses a
//! concurrent update and never duplicates a version; a guarded one is
//! checked again against what the other writer left. Where the store can
//! hold a write from its read to its commit (IndexedDB), the writes are
//! planned once against what the hold read and handed to the store in
//! pieces as they are planned.

use serde_json::Value;

use super::options::{
    ChangeOptions, Guard, SaveDefinition, SaveItem, SaveOptions, SaveOutcome, SaveText,
};
use super::plan::{self, Context, Intent, Plan};
use super::MetadataService;
use crate::access::Action;
use crate::definition::Definition;
use crate::error::{Error, Result};
use crate::events::ChangeEvent;
use crate::key::RecordKey;
use crate::record::{MetadataRecord, Operation};
use crate::store::{Batch, Change, Current, HeldError};
use crate::validate;
use std::collections::HashSet;

/// Most read-plan-commit rounds of one write that lose although nothing
/// they read had moved (a store that keeps refusing) before the conflict is
/// given up and reported. A round that lost to a writer that committed is
/// not counted: it shows progress, so any number of concurrent writers of
/// one record all get through (up to [`MAX_WRITE_ROUNDS`] rounds in all).
pub const MAX_WRITE_ATTEMPTS: usize = 64;

/// Most read-plan-commit rounds of one write in all, whatever moved: a
/// bound for a record that other writers never stop changing.
pub const MAX_WRITE_ROUNDS: usize = 4096;

/// Changes handed to a held write at a time: small enough that the store
/// starts writing soon after the hold, large enough that the crossings
/// do not count.
const HELD_PIECE: usize = 512;

/// Why a write stopped.
enum Stop {
    /// The hold ended before anything was written: plan and commit again
    /// conditionally (never leaves the write loop).
    Lost,
    /// The write at this index failed; nothing was written.
    At(usize, Error),
    /// The writes failed together, not for any one of them (the store's
    /// commit failed); nothing was written.
    Whole(Error),
    /// The answer could not be made: nothing was written if the write was
    /// held, else the writes were committed.
    Answer(Error),
}

impl Stop {
    /// The error, without the index of the write it is about.
    fn into_error(self) -> Error {
        match self {
            Stop::At(_, e) | Stop::Whole(e) | Stop::Answer(e) => e,
            Stop::Lost => Error::Storage {
                message: "a write lost a hold it never had".into(),
            },
        }
    }
}

/// What one write comes to against what was read: `CONFLICT` unless the
/// head meets its guard, else its plan.
fn plan_write(ctx: &Context<'_>, w: &Prepared, current: &Current) -> Result<Plan> {
    if let Some(e) = &current.unreadable {
        // Nothing to check a guard against.
        if !w.guard().is_none() {
            return Err(e.clone());
        }
    }
    plan::check_guard(&w.key, current.record.as_ref(), w.guard())?;
    plan::plan(ctx, &w.key, current, w.intent()?)
}

/// A read's or a commit's error as the stop of the writes: at the write
/// it is about (the record of a conflict or of a corrupted row), else of
/// them all.
fn blame(keys: &[RecordKey], e: Error) -> Stop {
    let at = keys.iter().position(
        |k| matches!(&e, Error::Conflict { key, .. } | Error::Corrupted { key, .. } if **key == *k),
    );
    match at {
        Some(i) => Stop::At(i, e),
        None => Stop::Whole(e),
    }
}

/// The plans as done, the changes written numbered in order from
/// `first_seq` (a batch's changes take consecutive sequence numbers).
fn done(plans: Vec<Plan>, first_seq: u64) -> Vec<Done> {
    let mut seqs = first_seq..;
    plans
        .into_iter()
        .map(|p| match p {
            Plan::Unchanged(r) => Done::Unchanged(r),
            Plan::Write(c) => Done::Written(c, seqs.next().unwrap_or(0)),
        })
        .collect()
}

/// One item of a batch save: its definition read, or still JSON text.
struct BatchItem {
    type_name: String,
    name: String,
    data: std::result::Result<Definition, String>,
    options: SaveOptions,
}

/// A validated write of one record, ready to plan.
struct Prepared {
    key: RecordKey,
    intent: Want,
    version: Option<u64>,
    checksum: Option<String>,
}

/// What a write wants: an intent, or a save whose definition is still
/// JSON text, read (validated, its checksum computed) when it is first
/// planned, so that a held write reads it while the store writes the
/// changes planned before.
enum Want {
    Ready(Intent),
    Unread(Box<Unread>),
}

/// A save whose definition is still text.
struct Unread {
    text: String,
    tags: Option<Vec<String>>,
    source: Option<crate::record::Source>,
    owner: Option<String>,
}

impl Prepared {
    /// Reads the definition of an unread save (once).
    fn read(&mut self) -> Result<()> {
        if let Want::Unread(unread) = &mut self.intent {
            let data = Definition::from_json_text(std::mem::take(&mut unread.text))?;
            self.intent = Want::Ready(Intent::Save {
                data,
                tags: unread.tags.take(),
                source: unread.source,
                owner: unread.owner.take(),
            });
        }
        Ok(())
    }

    /// The intent, once read.
    fn intent(&self) -> Result<&Intent> {
        match &self.intent {
            Want::Ready(intent) => Ok(intent),
            Want::Unread(_) => Err(Error::Storage {
                message: format!("the definition of {} was planned unread", self.key),
            }),
        }
    }

    fn guard(&self) -> Guard<'_> {
        Guard {
            version: self.version,
            checksum: self.checksum.as_deref(),
        }
    }
}

/// What committing one plan gave.
enum Done {
    Unchanged(MetadataRecord),
    Written(Change, u64),
}

impl Done {
    /// The outcome of a write that leaves a head (every write but purge).
    fn outcome(self) -> Result<SaveOutcome> {
        Ok(match self {
            Done::Unchanged(record) => SaveOutcome {
                record,
                changed: false,
                operation: None,
            },
            Done::Written(Change::Put { mut record, .. }, seq) => {
                record.seq = seq;
                let operation = Some(record.operation);
                SaveOutcome {
                    record,
                    changed: true,
                    operation,
                }
            }
            Done::Written(Change::Purge { tombstone, .. }, _) => {
                return Err(Error::Storage {
                    message: format!("the purge of {} leaves no record", tombstone.key()),
                })
            }
        })
    }
}

impl MetadataService {
    fn context<'a>(&'a self, now: &'a str) -> Context<'a> {
        Context {
            actor: &self.actor.id,
            now,
            default_source: self.default_source,
        }
    }

    fn prepare_save(
        &self,
        type_name: &str,
        name: &str,
        data: std::result::Result<Definition, String>,
        options: &SaveOptions,
    ) -> Result<Prepared> {
        let key = self.own_key(type_name, name)?;
        self.check(Action::Save, type_name)?;
        if let Some(owner) = &options.owner {
            validate::label("owner", owner)?;
        }
        let tags = options.tags.as_deref().map(validate::tags).transpose()?;
        let (source, owner) = (options.source, options.owner.clone());
        Ok(Prepared {
            key,
            intent: match data {
                Ok(data) => Want::Ready(Intent::Save {
                    data,
                    tags,
                    source,
                    owner,
                }),
                Err(text) => Want::Unread(Box::new(Unread {
                    text,
                    tags,
                    source,
                    owner,
                })),
            },
            version: validate::expected_version(options.expected_version)?,
            checksum: options.expected_checksum.clone(),
        })
    }

    fn prepare_change(
        &self,
        action: Action,
        type_name: &str,
        name: &str,
        intent: Intent,
        options: &ChangeOptions,
    ) -> Result<Prepared> {
        let key = self.own_key(type_name, name)?;
        self.check(action, type_name)?;
        Ok(Prepared {
            key,
            intent: Want::Ready(intent),
            version: validate::expected_version(options.expected_version)?,
            checksum: options.expected_checksum.clone(),
        })
    }

    /// Commits the writes all-or-nothing: in one held write where the
    /// store can hold one, else planning them again against a fresh read
    /// while a concurrent writer keeps winning. Either way each write is
    /// planned in order, its definition read first if it is still text,
    /// so the first write that fails is the one reported. Hands what was
    /// done to `answer`, once: a held write before the commit completes
    /// (the store is still writing; what it made is dropped if the commit
    /// fails, and the write is given up if it fails), others after. (Not
    /// generic: one copy of the write loop in the module.)
    async fn commit_all(
        &self,
        writes: &mut [Prepared],
        answer: &mut dyn FnMut(Vec<Done>) -> Result<()>,
    ) -> std::result::Result<(), Stop> {
        let keys: Vec<RecordKey> = writes.iter().map(|w| w.key.clone()).collect();
        let held = crate::store::hold(&*self.store, self.tenant_id.as_deref(), &keys)
            .await
            .map_err(|e| blame(&keys, e))?;
        if let Some(held) = held {
            match self.commit_held(writes, &keys, held, answer).await {
                Err(Stop::Lost) => {}
                other => return other,
            }
        }
        let (mut rounds, mut stalled) = (0, 0);
        let mut last_read: Option<Vec<u64>> = None;
        loop {
            rounds += 1;
            let read = self
                .store
                .read_current(&keys)
                .await
                .map_err(|e| blame(&keys, e))?;
            // The versions read: when they are what the round before read,
            // the conflict it lost was not to a writer that got through.
            let versions: Vec<u64> = read.iter().map(|c| c.last_version).collect();
            if last_read.as_ref() == Some(&versions) {
                stalled += 1;
            }
            last_read = Some(versions);
            let mut batch = Batch::new(self.tenant_id.as_deref());
            let plans = self.plan_all(writes, &read, &mut |_, change| {
                batch.push(change);
                Ok(())
            })?;
            match self.store.commit(batch).await {
                Ok(events) => {
                    let first_seq = events.first().map_or(0, |e| e.sequence);
                    return answer(done(plans, first_seq)).map_err(Stop::Answer);
                }
                Err(Error::Conflict { .. })
                    if stalled < MAX_WRITE_ATTEMPTS && rounds < MAX_WRITE_ROUNDS =>
                {
                    continue
                }
                Err(e) => return Err(blame(&keys, e)),
            }
        }
    }

    /// Plans each write against what was read (reading its definition
    /// first if it is still text), handing each change to `changed` as it
    /// is planned; the plans.
    fn plan_all(
        &self,
        writes: &mut [Prepared],
        read: &[Current],
        changed: &mut dyn FnMut(usize, Change) -> std::result::Result<(), Stop>,
    ) -> std::result::Result<Vec<Plan>, Stop> {
        let now = self.now();
        let ctx = self.context(&now);
        let mut plans = Vec::with_capacity(writes.len());
        for (i, (w, current)) in writes.iter_mut().zip(read).enumerate() {
            w.read().map_err(|e| Stop::At(i, e))?;
            let planned = plan_write(&ctx, w, current).map_err(|e| Stop::At(i, e))?;
            if let Plan::Write(change) = &planned {
                changed(i, change.clone())?;
            }
            plans.push(planned);
        }
        Ok(plans)
    }

    /// Plans the writes against what the hold read and hands them to the
    /// store in pieces as they are planned, so the store writes the first
    /// while the rest are planned; then commits. No `await` before the
    /// commit (see [`crate::store::Held`]).
    async fn commit_held(
        &self,
        writes: &mut [Prepared],
        keys: &[RecordKey],
        held: crate::store::hold::Hold<'_>,
        answer: &mut dyn FnMut(Vec<Done>) -> Result<()>,
    ) -> std::result::Result<(), Stop> {
        let crate::store::hold::Hold {
            current,
            mut holding,
        } = held;
        let mut piece = Vec::new();
        let mut hand_over = |piece: Vec<(usize, Change)>| {
            holding.write(piece).map_err(|e| match e {
                HeldError::Lost => Stop::Lost,
                HeldError::Failed(e) => blame(keys, e),
            })
        };
        let plans = self.plan_all(writes, &current, &mut |i, change| {
            piece.push((i, change));
            if piece.len() < HELD_PIECE {
                return Ok(());
            }
            hand_over(std::mem::take(&mut piece))
        })?;
        if !piece.is_empty() {
            hand_over(piece)?;
        }
        // Given up (the hold dropped) if the answer cannot be made.
        answer(done(plans, holding.first_seq())).map_err(Stop::Answer)?;
        holding.commit().await.map_err(|e| blame(keys, e))?;
        Ok(())
    }

    async fn write_one(&self, prepared: Prepared) -> Result<Done> {
        let mut done = Vec::new();
        let mut prepared = prepared;
        self.commit_all(std::slice::from_mut(&mut prepared), &mut |d| {
            done = d;
            Ok(())
        })
        .await
        .map_err(Stop::into_error)?;
        done.pop().ok_or_else(|| Error::Storage {
            message: "a write planned nothing".into(),
        })
    }

    /// Upserts (type, name) with `data` in this scope.
    ///
    /// Creating gives version 1; a save that changes nothing (same checksum,
    /// tags, owner, source, still active) is a no-op; anything else is a new
    /// version with `created_at` kept. `expected_version` /
    /// `expected_checksum` make it conditional (`CONFLICT`, nothing written).
    pub async fn save(
        &self,
        type_name: &str,
        name: &str,
        data: Value,
        options: SaveOptions,
    ) -> Result<SaveOutcome> {
        // Checked before the (costly) definition is built.
        self.own_key(type_name, name)?;
        self.check(Action::Save, type_name)?;
        let data = Definition::from_value(data)?;
        self.save_definition(type_name, name, data, options).await
    }

    /// [`MetadataService::save`] of a definition already validated (for
    /// instance built from JSON text with [`Definition::from_json_text`]).
    pub async fn save_definition(
        &self,
        type_name: &str,
        name: &str,
        data: Definition,
        options: SaveOptions,
    ) -> Result<SaveOutcome> {
        let prepared = self.prepare_save(type_name, name, Ok(data), &options)?;
        self.write_one(prepared).await?.outcome()
    }

    /// Saves several records all-or-nothing: if any item fails validation,
    /// access, concurrency or storage, nothing is written and the error names
    /// the item. No-op items are reported unchanged.
    pub async fn save_many(&self, items: Vec<SaveItem>) -> Result<Vec<SaveOutcome>> {
        let mut definitions = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let key = RecordKey::new(self.tenant_id.as_deref(), &item.type_name, &item.name);
            // Checked before the (costly) definition is built.
            let data = (|| {
                self.own_key(&item.type_name, &item.name)?;
                self.check(Action::Save, &item.type_name)?;
                Definition::from_value(item.data)
            })()
            .map_err(|e| Error::batch(index, key, e))?;
            definitions.push(SaveDefinition {
                type_name: item.type_name,
                name: item.name,
                data,
                options: item.options,
            });
        }
        self.save_many_definitions(definitions).await
    }

    /// [`MetadataService::save_many`] of definitions already validated
    /// (for instance read from a request body as JSON text).
    pub async fn save_many_definitions(
        &self,
        items: Vec<SaveDefinition>,
    ) -> Result<Vec<SaveOutcome>> {
        let (outcomes, ()) = self.save_many_answered(items, |_| Ok(())).await?;
        Ok(outcomes)
    }

    /// [`MetadataService::save_many_definitions`], answering also what
    /// `answer` makes of the outcomes. A store that holds its write calls
    /// it while the commit is still under way (an answer for JavaScript is
    /// built while IndexedDB writes): what it made is dropped if the
    /// commit fails, and if it fails, nothing is written and its error is
    /// the answer. Other stores call it once the batch is committed.
    pub async fn save_many_answered<T>(
        &self,
        items: Vec<SaveDefinition>,
        answer: impl FnOnce(&[SaveOutcome]) -> Result<T>,
    ) -> Result<(Vec<SaveOutcome>, T)> {
        let items = items.into_iter().map(|i| BatchItem {
            type_name: i.type_name,
            name: i.name,
            data: Ok(i.data),
            options: i.options,
        });
        self.answered(items.collect(), answer).await
    }

    /// [`MetadataService::save_many_answered`] of definitions that are
    /// still JSON text: each is read when its write is planned, which a
    /// held write does while the store writes what was planned before.
    /// A definition refused is a batch error naming its item, as the others.
    pub async fn save_texts_answered<T>(
        &self,
        items: Vec<SaveText>,
        answer: impl FnOnce(&[SaveOutcome]) -> Result<T>,
    ) -> Result<(Vec<SaveOutcome>, T)> {
        let items = items.into_iter().map(|i| BatchItem {
            type_name: i.type_name,
            name: i.name,
            data: Err(i.data),
            options: i.options,
        });
        self.answered(items.collect(), answer).await
    }

    async fn answered<T>(
        &self,
        items: Vec<BatchItem>,
        answer: impl FnOnce(&[SaveOutcome]) -> Result<T>,
    ) -> Result<(Vec<SaveOutcome>, T)> {
        let mut answer = Some(answer);
        let mut answered = None;
        let outcomes = self
            .save_many_with(items, &mut |outcomes| {
                let answer = answer.take().ok_or_else(|| Error::Storage {
                    message: "a batch was answered twice".into(),
                })?;
                answered = Some(answer(outcomes)?);
                Ok(())
            })
            .await?;
        let answered = answered.ok_or_else(|| Error::Storage {
            message: "a batch was committed without its outcomes".into(),
        })?;
        Ok((outcomes, answered))
    }

    /// The batch saves, not generic: one copy in the module.
    async fn save_many_with(
        &self,
        items: Vec<BatchItem>,
        answer: &mut dyn FnMut(&[SaveOutcome]) -> Result<()>,
    ) -> Result<Vec<SaveOutcome>> {
        let mut prepared: Vec<Prepared> = Vec::with_capacity(items.len());
        let mut seen = HashSet::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let key = RecordKey::new(self.tenant_id.as_deref(), &item.type_name, &item.name);
            let p = self
                .prepare_save(&item.type_name, &item.name, item.data, &item.options)
                .map_err(|e| Error::batch(index, key.clone(), e))?;
            if !seen.insert(p.key.clone()) {
                return Err(Error::batch(
                    index,
                    key,
                    Error::validation("items", "the same record appears twice in one batch"),
                ));
            }
            prepared.push(p);
        }
        if prepared.is_empty() {
            answer(&[])?;
            return Ok(Vec::new());
        }
        let mut outcomes = Vec::new();
        self.commit_all(&mut prepared, &mut |done| {
            outcomes = done
                .into_iter()
                .map(Done::outcome)
                .collect::<Result<Vec<_>>>()?;
            answer(&outcomes)
        })
        .await
        .map_err(|stop| match stop {
            Stop::At(index, e) => Error::batch(index, prepared[index].key.clone(), e),
            other => other.into_error(),
        })?;
        Ok(outcomes)
    }

    /// Soft-deletes (type, name): `is_active` becomes false in a new version.
    pub async fn delete(
        &self,
        type_name: &str,
        name: &str,
        options: ChangeOptions,
    ) -> Result<SaveOutcome> {
        let p = self.prepare_change(Action::Delete, type_name, name, Intent::Delete, &options)?;
        self.write_one(p).await?.outcome()
    }

    /// Undoes a soft delete as a new version (a no-op on an active record).
    pub async fn restore(
        &self,
        type_name: &str,
        name: &str,
        options: ChangeOptions,
    ) -> Result<SaveOutcome> {
        let p = self.prepare_change(Action::Restore, type_name, name, Intent::Restore, &options)?;
        self.write_one(p).await?.outcome()
    }

    /// Removes (type, name)'s row for good. Its history stays, with a final
    /// `purge` entry, and a later save continues its version numbers.
    /// Answers the purge's change event.
    pub async fn purge(
        &self,
        type_name: &str,
        name: &str,
        options: ChangeOptions,
    ) -> Result<ChangeEvent> {
        let p = self.prepare_change(Action::Purge, type_name, name, Intent::Purge, &options)?;
        match self.write_one(p).await? {
            Done::Written(change, seq) => Ok(change.event(seq)),
            Done::Unchanged(_) => Err(Error::Storage {
                message: "a purge planned no change".into(),
            }),
        }
    }

    /// Writes the data of an earlier `version` back as a new version (also
    /// after a purge). A no-op when it equals the current active data.
    pub async fn rollback(
        &self,
        type_name: &str,
        name: &str,
        version: u64,
        options: ChangeOptions,
    ) -> Result<SaveOutcome> {
        let key = self.own_key(type_name, name)?;
        self.check(Action::Rollback, type_name)?;
        let history = self.store.history(&key).await?;
        let entry = history
            .into_iter()
            .find(|h| h.version == version && h.operation != Operation::Purge)
            .ok_or_else(|| Error::not_found(&key, Some(format!("no version {version}"))))?;
        if entry.data.checksum() != entry.checksum {
            return Err(Error::Corrupted {
                key: Box::new(key),
                message: format!("history entry of version {version} does not match its checksum"),
            });
        }
        let p = self.prepare_change(
            Action::Rollback,
            type_name,
            name,
            Intent::Rollback { data: entry.data },
            &options,
        )?;
        self.write_one(p).await?.outcome()
    }
}
