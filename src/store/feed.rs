//! How changes reach everyone who reads a store.
//!
//! A [`Feed`] belongs to a store. [`crate::store::Store::commit`] announces
//! on it what it committed; embedders announce on it what was committed
//! elsewhere (another tab, another process on the same database). Listeners
//! hear every announcement at once and in no particular order across
//! sources: right for forgetting cached answers.
//!
//! A [`Follower`] turns that into a change stream: the changes of one scope,
//! each exactly once, in sequence order, with no gap. Where an announcement
//! skips ahead (a change committed by another process that this one has not
//! heard of), it reads the missing ones from the store's change log. It can
//! start from any sequence number, replaying what was committed after it.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::Store;
use crate::error::{Error, Result};
use crate::events::{ChangeEvent, ChangeQuery};
use crate::key::RecordKey;

/// Where an announced change was committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Through this store object, in this process.
    Local,
    /// Through this store object, in this process, copying what was
    /// committed elsewhere first (a cache mirroring its server): news to
    /// this store's other readers (other tabs) and to its subscribers alike.
    Mirrored,
    /// Elsewhere: another tab, process or machine.
    Remote,
}

impl Origin {
    /// Whether the change was first made elsewhere than this process.
    pub fn is_remote(self) -> bool {
        self != Origin::Local
    }

    /// Whether the change was committed through this store object (so
    /// other tabs on the same storage need telling).
    pub fn is_committed_here(self) -> bool {
        self != Origin::Remote
    }
}

/// Identifies a feed subscription, to cancel it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriptionId(u64);

type Listener = Rc<dyn Fn(&ChangeEvent, Origin)>;

/// Fans announced changes out to listeners.
#[derive(Default)]
pub struct Feed {
    next_id: Cell<u64>,
    listeners: RefCell<Vec<(SubscriptionId, Listener)>>,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("listeners", &self.listeners.borrow().len())
            .finish()
    }
}

impl Feed {
    /// A feed with no listener.
    pub fn new() -> Self {
        Feed::default()
    }

    /// Calls `listener` for every later announcement until unsubscribed.
    pub fn subscribe(&self, listener: impl Fn(&ChangeEvent, Origin) + 'static) -> SubscriptionId {
        let id = SubscriptionId(self.next_id.get());
        self.next_id.set(id.0 + 1);
        self.listeners.borrow_mut().push((id, Rc::new(listener)));
        id
    }

    /// Stops a subscription; false when it was not active.
    pub fn unsubscribe(&self, id: SubscriptionId) -> bool {
        let mut listeners = self.listeners.borrow_mut();
        let before = listeners.len();
        listeners.retain(|(i, _)| *i != id);
        listeners.len() != before
    }

    /// Number of active subscriptions.
    pub fn len(&self) -> usize {
        self.listeners.borrow().len()
    }

    /// True when nobody listens.
    pub fn is_empty(&self) -> bool {
        self.listeners.borrow().is_empty()
    }

    /// Tells every listener of `events`. Listeners may subscribe or
    /// unsubscribe from inside the call; that applies from the next
    /// announcement on.
    pub fn announce(&self, events: &[ChangeEvent], origin: Origin) {
        if events.is_empty() {
            return;
        }
        let listeners: Vec<Listener> = self
            .listeners
            .borrow()
            .iter()
            .map(|(_, l)| Rc::clone(l))
            .collect();
        for event in events {
            for listener in &listeners {
                listener(event, origin);
            }
        }
    }
}

/// Shared state of a follower and its feed listener.
struct Follow {
    tenant_id: Option<String>,
    /// The sequence number the next buffered event must have; 0 until the
    /// starting point is known.
    next: Cell<u64>,
    /// Announcements heard before the starting point was known.
    early: RefCell<Vec<ChangeEvent>>,
    /// Contiguous events ready to hand out, from `next - len` on.
    ready: RefCell<VecDeque<ChangeEvent>>,
    /// Highest sequence number announced: when above `next - 1`, the log
    /// holds changes not yet heard of in order.
    known: Cell<u64>,
    closed: Cell<bool>,
    notified: Cell<bool>,
    waker: RefCell<Option<Waker>>,
    /// The store's [`Store::epoch`] the stream's position belongs to.
    epoch: Cell<u64>,
    /// The last event handed out: what tells, once the epoch moves,
    /// whether the log is still the one it came from.
    last: RefCell<Option<ChangeEvent>>,
}

impl Follow {
    /// Takes an event of the followed scope into the stream, if it is the
    /// next one; notes a gap if it is beyond.
    fn offer(&self, event: ChangeEvent) {
        let next = self.next.get();
        if event.sequence == next {
            self.ready.borrow_mut().push_back(event);
            self.next.set(next + 1);
        } else if event.sequence > next {
            self.known.set(self.known.get().max(event.sequence));
        }
    }

    fn hear(&self, event: &ChangeEvent) {
        if self.closed.get() || event.tenant_id != self.tenant_id {
            return;
        }
        if self.next.get() == 0 {
            self.early.borrow_mut().push(event.clone());
        } else {
            self.offer(event.clone());
        }
        self.notify();
    }

    fn notify(&self) {
        self.notified.set(true);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Whether the log may hold changes not yet in `ready`.
    fn behind(&self) -> bool {
        self.known.get() >= self.next.get()
    }
}

/// Resolves once the follow is notified (or at once if it was since the
/// last wait).
struct Notified<'a>(&'a Follow);

impl Future for Notified<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.notified.replace(false) || self.0.closed.get() {
            Poll::Ready(())
        } else {
            *self.0.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// The change the scope's log holds at `sequence`, if any.
async fn change_at(
    store: &dyn Store,
    tenant_id: Option<&str>,
    sequence: u64,
) -> Result<Option<ChangeEvent>> {
    let query = ChangeQuery {
        since: sequence.saturating_sub(1),
        limit: Some(1),
        ..ChangeQuery::default()
    };
    let found = store.changes(tenant_id, &query).await?;
    Ok(found.into_iter().find(|e| e.sequence == sequence))
}

/// `CORRUPTED` when `events`, an unfiltered read of the scope's log after
/// `since`, skip a change: the log runs on from `since` with no gap, and
/// one is a change the store lost (a row lost, or damaged out of the log's
/// order), said rather than left out in silence.
pub(crate) fn check_log(tenant_id: Option<&str>, since: u64, events: &[ChangeEvent]) -> Result<()> {
    match (since.saturating_add(1)..)
        .zip(events)
        .find(|(i, e)| e.sequence != *i)
    {
        Some((missing, e)) => Err(Error::Corrupted {
            key: Box::new(RecordKey::new(tenant_id, "*", "*")),
            message: format!(
                "the change log holds no change {missing}, and goes on at {}",
                e.sequence
            ),
        }),
        None => Ok(()),
    }
}

/// Most changes read from the log at once while catching up.
const CATCH_UP_PAGE: usize = 500;

/// The change stream of one scope: every change after a starting point,
/// each once, in sequence order, then every later one as it is committed.
///
/// ```
/// # pollster::block_on(async {
/// use std::rc::Rc;
/// use objectstack_metadata::*;
/// use serde_json::json;
/// let store: Rc<dyn Store> = Rc::new(MemoryStore::new());
/// let svc = MetadataService::builder_shared(Rc::clone(&store)).build().unwrap();
/// svc.save("view", "a", json!({"n": 1}), SaveOptions::default()).await.unwrap();
/// // From the start: the first change is replayed from the log...
/// let follower = store::Follower::start(Rc::clone(&store), None, Some(0)).await.unwrap();
/// svc.save("view", "a", json!({"n": 2}), SaveOptions::default()).await.unwrap();
/// assert_eq!(follower.next().await.unwrap().unwrap().sequence, 1);
/// // ...and the second arrives live.
/// assert_eq!(follower.next().await.unwrap().unwrap().sequence, 2);
/// # });
/// ```
pub struct Follower {
    store: Rc<dyn Store>,
    follow: Rc<Follow>,
    subscription: SubscriptionId,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("tenant_id", &self.follow.tenant_id)
            .field("next", &self.follow.next.get())
            .finish()
    }
}

impl Follower {
    /// Follows the scope `tenant_id` of `store` from after `since`
    /// (`None`: from the scope's last committed change, live only).
    pub async fn start(
        store: Rc<dyn Store>,
        tenant_id: Option<&str>,
        since: Option<u64>,
    ) -> Result<Follower> {
        let follow = Rc::new(Follow {
            tenant_id: tenant_id.map(str::to_owned),
            next: Cell::new(0),
            early: RefCell::default(),
            ready: RefCell::default(),
            known: Cell::new(0),
            closed: Cell::new(false),
            notified: Cell::new(false),
            waker: RefCell::default(),
            epoch: Cell::new(store.epoch()),
            last: RefCell::default(),
        });
        // Listen before reading where the log ends: nothing committed in
        // between can be missed.
        let hearing = Rc::clone(&follow);
        let subscription = store.feed().subscribe(move |e, _| hearing.hear(e));
        let follower = Follower {
            store: Rc::clone(&store),
            follow,
            subscription,
        };
        let from = match since {
            Some(s) => s,
            None => store.last_sequence(tenant_id).await?,
        };
        let follow = &follower.follow;
        // The change at the starting point stands for the last handed out:
        // what tells a log made anew from this one before any is (see
        // `Follower::same_log`).
        if from >= 1 {
            *follow.last.borrow_mut() = change_at(&*store, tenant_id, from).await?;
        }
        follow.next.set(from + 1);
        // Replaying from `since` means reading the log up to where it ends.
        let head = if since.is_some() {
            store.last_sequence(tenant_id).await?
        } else {
            from
        };
        follow.known.set(follow.known.get().max(head));
        let early = std::mem::take(&mut *follow.early.borrow_mut());
        for event in early {
            follow.offer(event);
        }
        Ok(follower)
    }

    /// The next change of the stream: `None` once closed. Waits for one to
    /// be committed when the stream is up to date. A failure to read the
    /// log is returned and the stream can be polled again.
    pub async fn next(&self) -> Option<Result<ChangeEvent>> {
        let follow = &self.follow;
        loop {
            if follow.closed.get() {
                return None;
            }
            let epoch = self.store.epoch();
            if epoch != follow.epoch.get() {
                // The database was deleted or replaced under the store:
                // events heard since may be of a new log, numbered from 1
                // again, and taken for the old one's next.
                match self.same_log().await {
                    Ok(true) => follow.epoch.set(epoch),
                    Ok(false) => {
                        // A new log: followed from its start, read afresh.
                        follow.epoch.set(epoch);
                        follow.ready.borrow_mut().clear();
                        follow.next.set(1);
                        follow.known.set(u64::MAX);
                    }
                    Err(e) => return Some(Err(e)),
                }
                continue;
            }
            let event = follow.ready.borrow_mut().pop_front();
            if let Some(event) = event {
                *follow.last.borrow_mut() = Some(event.clone());
                return Some(Ok(event));
            }
            if follow.behind() {
                let before = follow.next.get();
                let query = ChangeQuery {
                    since: before - 1,
                    limit: Some(CATCH_UP_PAGE),
                    ..ChangeQuery::default()
                };
                let tenant_id = follow.tenant_id.as_deref();
                let gap = match self.store.changes(tenant_id, &query).await {
                    Ok(events) => {
                        let gap = check_log(tenant_id, query.since, &events);
                        for event in events {
                            follow.offer(event);
                        }
                        gap
                    }
                    Err(e) => return Some(Err(e)),
                };
                if follow.next.get() == before {
                    // The log goes on past a change it does not hold:
                    // said, rather than waited on in silence.
                    if let Err(e) = gap {
                        return Some(Err(e));
                    }
                    // Announced but not readable yet: wait for the next
                    // announcement rather than spin.
                    follow.known.set(before - 1);
                }
                continue;
            }
            Notified(follow).await;
        }
    }

    /// Whether the log is still the one the stream's position belongs to:
    /// it holds the last event handed out (or the one at the starting
    /// point) where it was (a log made anew numbers its changes from 1
    /// again, and an event of another record, version or time is not the
    /// same), or, for a stream from the log's start, it reaches that far.
    async fn same_log(&self) -> Result<bool> {
        let follow = &self.follow;
        let tenant_id = follow.tenant_id.as_deref();
        let last = follow.last.borrow().clone();
        match last {
            Some(last) => {
                let found = change_at(&*self.store, tenant_id, last.sequence).await?;
                // The change itself: which record, which version, what it
                // held, when (not how it is told, which a heard event and
                // one read back may word apart).
                Ok(found.is_some_and(|e| {
                    (
                        e.sequence,
                        &e.type_name,
                        &e.name,
                        e.version,
                        &e.checksum,
                        &e.timestamp,
                    ) == (
                        last.sequence,
                        &last.type_name,
                        &last.name,
                        last.version,
                        &last.checksum,
                        &last.timestamp,
                    )
                }))
            }
            None => Ok(self.store.last_sequence(tenant_id).await? + 1 >= follow.next.get()),
        }
    }

    /// Waits until a change is announced (or the stream ends), at once if
    /// one was since the stream last waited: what a reader whose
    /// [`Follower::next`] failed waits for before it asks again, rather
    /// than asking again at once or giving up.
    pub async fn announced(&self) {
        Notified(&self.follow).await;
    }

    /// The sequence number of the last change handed out or ready (the
    /// position to resume from).
    pub fn position(&self) -> u64 {
        let follow = &self.follow;
        follow
            .next
            .get()
            .saturating_sub(1 + follow.ready.borrow().len() as u64)
    }

    /// Ends the stream: a pending and every later [`Follower::next`]
    /// answers `None`.
    pub fn close(&self) {
        self.follow.closed.set(true);
        self.follow.notify();
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.store.feed().unsubscribe(self.subscription);
    }
}
