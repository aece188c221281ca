//! A first-come first-served async lock for one thread (no runtime needed):
//! what serialises the commits of a backend that has no transactions of its
//! own, so two writers of one process never interleave their steps.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct State {
    held: Cell<bool>,
    /// Tickets in arrival order, with the waker of each waiting task.
    queue: RefCell<VecDeque<(u64, Option<Waker>)>>,
    next_ticket: Cell<u64>,
}

/// The lock.
#[derive(Default, Clone)]
pub struct LocalLock(Rc<State>);

impl std::fmt::Debug for LocalLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLock")
            .field("held", &self.0.held.get())
            .finish()
    }
}

/// Held until dropped.
pub struct Guard(Rc<State>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.held.set(false);
        if let Some((_, Some(waker))) = self
            .0
            .queue
            .borrow_mut()
            .front_mut()
            .map(|(t, w)| (*t, w.take()))
        {
            waker.wake();
        }
    }
}

struct Acquire {
    state: Rc<State>,
    ticket: Option<u64>,
}

impl Future for Acquire {
    type Output = Guard;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Guard> {
        let state = Rc::clone(&self.state);
        let ticket = match self.ticket {
            Some(t) => t,
            None => {
                let t = state.next_ticket.get();
                state.next_ticket.set(t + 1);
                state.queue.borrow_mut().push_back((t, None));
                self.ticket = Some(t);
                t
            }
        };
        let first = state.queue.borrow().front().map(|(t, _)| *t) == Some(ticket);
        if first && !state.held.get() {
            state.queue.borrow_mut().pop_front();
            state.held.set(true);
            self.ticket = None;
            return Poll::Ready(Guard(state));
        }
        if let Some(slot) = state
            .queue
            .borrow_mut()
            .iter_mut()
            .find(|(t, _)| *t == ticket)
        {
            slot.1 = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Drop for Acquire {
    /// A waiter that gives up leaves the queue, and passes the turn on if it
    /// was next.
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            let mut queue = self.state.queue.borrow_mut();
            let was_first = queue.front().map(|(t, _)| *t) == Some(ticket);
            queue.retain(|(t, _)| *t != ticket);
            if was_first && !self.state.held.get() {
                if let Some((_, Some(waker))) = queue.front_mut().map(|(t, w)| (*t, w.take())) {
                    waker.wake();
                }
            }
        }
    }
}

impl LocalLock {
    /// A free lock.
    pub fn new() -> Self {
        LocalLock::default()
    }

    /// Waits for the lock; it is released when the guard drops.
    pub fn acquire(&self) -> impl Future<Output = Guard> {
        Acquire {
            state: Rc::clone(&self.0),
            ticket: None,
        }
    }
}
