//! Writes held from their read to their commit.
//!
//! A store that can keep one write transaction open from the read a writer
//! plans against to the commit ([`Store::hold`]) spares the writer the
//! second check of every expectation: nothing else writes in between. It
//! also lets the writer hand its changes over as it plans them, so the
//! store works on the first while the writer plans the rest (IndexedDB
//! writes in the browser's storage thread while the page plans).
//!
//! [`Holding`] is what writers use: it checks every change against what
//! the hold read, as [`Batch::check`](super::Batch::check) and the commit's expectations would,
//! before the store sees it, and announces what was committed.

use async_trait::async_trait;

use super::{Change, Current, Expect, Origin, Store};
use crate::error::{Error, Result};
use crate::events::ChangeEvent;
use crate::key::RecordKey;

/// Why a held write failed.
#[derive(Debug)]
pub enum HeldError {
    /// The transaction ended before anything was written (a browser that
    /// does not keep it open through the writer's planning): the writer
    /// reads and plans again, committing conditionally instead.
    Lost,
    /// Anything else; nothing is written.
    Failed(Error),
}

impl From<Error> for HeldError {
    fn from(e: Error) -> Self {
        HeldError::Failed(e)
    }
}

/// A store's write transaction, held open by [`Store::hold`].
///
/// Its writes and its [`Held::finish`] must all come before the writer
/// yields to the event loop (no `await` between them): a store may end a
/// transaction that has nothing left to do. Dropping it without `finish`
/// discards everything written.
#[async_trait(?Send)]
pub trait Held {
    /// Writes `changes` at the scope's next sequence numbers, in order,
    /// without waiting for the store. Each is of a key the hold read, at
    /// most once, and expects what the hold read for it ([`Holding`] checks
    /// this).
    fn write(&mut self, changes: &[Change]) -> std::result::Result<(), HeldError>;

    /// Commits what was written.
    async fn finish(self: Box<Self>) -> Result<()>;
}

/// A hold as writers use it: checks each change before the store sees it,
/// and announces the committed changes on the store's feed.
pub struct Holding<'a> {
    store: &'a dyn Store,
    keys: &'a [RecordKey],
    expect: Vec<Expect>,
    written: Vec<bool>,
    first_seq: u64,
    changes: Vec<Change>,
    held: Box<dyn Held + 'a>,
}

/// What [`hold`] read, and the hold.
pub struct Hold<'a> {
    /// For each key, in order: its head and where its history ends.
    pub current: Vec<Current>,
    /// Where the writes go.
    pub holding: Holding<'a>,
}

/// Holds a write of `keys` (all of the scope `tenant_id`) on `store`;
/// `None` when the store cannot hold one (see [`Store::hold`]).
pub async fn hold<'a>(
    store: &'a dyn Store,
    tenant_id: Option<&str>,
    keys: &'a [RecordKey],
) -> Result<Option<Hold<'a>>> {
    if let Some(key) = keys.iter().find(|k| k.tenant_id.as_deref() != tenant_id) {
        return Err(Error::validation(
            "batch",
            format!("{key} is outside the batch's scope"),
        ));
    }
    let mut seen = std::collections::HashSet::with_capacity(keys.len());
    if let Some(key) = keys.iter().find(|k| !seen.insert(*k)) {
        return Err(Error::validation(
            "batch",
            format!("{key} appears twice in one batch"),
        ));
    }
    let Some((current, first_seq, held)) = store.hold(tenant_id, keys).await? else {
        return Ok(None);
    };
    if current.len() != keys.len() {
        return Err(Error::Storage {
            message: format!(
                "{} held {} keys and read {}",
                store.kind(),
                keys.len(),
                current.len()
            ),
        });
    }
    let expect = current.iter().map(Current::expect).collect();
    Ok(Some(Hold {
        current,
        holding: Holding {
            store,
            keys,
            expect,
            written: vec![false; keys.len()],
            first_seq,
            changes: Vec::new(),
            held,
        },
    }))
}

impl Holding<'_> {
    /// Writes `changes`, each of the held key at its index. `VALIDATION`
    /// for a change of another key, of a key already written, or a purge
    /// of nothing; `CONFLICT` for one that expects other than what the
    /// hold read. Nothing of these is handed to the store. After an error
    /// from the store the holding is of no more use: drop it.
    pub fn write(&mut self, changes: Vec<(usize, Change)>) -> std::result::Result<(), HeldError> {
        let mut in_piece = std::collections::HashSet::with_capacity(changes.len());
        for (index, change) in &changes {
            let key = change.key();
            if self.keys.get(*index) != Some(&key)
                || self.written[*index]
                || !in_piece.insert(*index)
            {
                return Err(Error::validation(
                    "batch",
                    format!("{key} was not held, or is written twice"),
                )
                .into());
            }
            if let Change::Purge {
                expect: Expect::Absent,
                ..
            } = change
            {
                return Err(Error::validation(
                    "batch",
                    format!("a purge of {key} must expect a version"),
                )
                .into());
            }
            let read = self.expect[*index];
            if change.expect() != read {
                return Err(change.expect().conflict(&key, read.version()).into());
            }
        }
        let start = self.changes.len();
        self.changes
            .extend(changes.into_iter().map(|(index, change)| {
                self.written[index] = true;
                change
            }));
        self.held.write(&self.changes[start..])?;
        Ok(())
    }

    /// The sequence number the first change written gets (the others
    /// follow in the order written).
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// Commits what was written and announces it; its events.
    pub async fn commit(self) -> Result<Vec<ChangeEvent>> {
        self.held.finish().await?;
        let events: Vec<ChangeEvent> = (self.first_seq..)
            .zip(&self.changes)
            .map(|(seq, c)| c.event(seq))
            .collect();
        if !events.is_empty() {
            self.store.feed().announce(&events, Origin::Local);
        }
        Ok(events)
    }
}
