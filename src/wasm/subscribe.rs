//! `subscribe`: a JavaScript listener on a store's feed, or on a scope's
//! change stream replayed from a sequence number. Which events a listener
//! hears is the core's rule ([`crate::service::Audience`]); a listener (or
//! `onError`) that throws affects nothing (`call1` catches), and the
//! function returned unsubscribes (a second call does nothing).

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use js_sys::Function;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;

use super::boundary::error_to_js;
use super::convert::event_to_js;
use crate::error::{Error, Result};
use crate::hybrid::HybridService;
use crate::service::MetadataService;
use crate::store::Follower;

/// Every committed change `db`'s audience hears, as it is announced.
pub fn follow_feed(db: &MetadataService, listener: Function) -> JsValue {
    let audience = db.audience();
    let feed_store = Rc::clone(db.store());
    let id = feed_store.feed().subscribe(move |event, origin| {
        if !audience.hears(event) {
            return;
        }
        if let Ok(e) = event_to_js(event, origin.is_remote()) {
            let _ = listener.call1(&JsValue::NULL, &e);
        }
    });
    let store = Rc::downgrade(&feed_store);
    let stop = Closure::<dyn FnMut()>::new(move || {
        if let Some(s) = store.upgrade() {
            s.feed().unsubscribe(id);
        }
    });
    stop.into_js_value()
}

#[wasm_bindgen(module = "/src/wasm/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = splitOnError, catch)]
    fn split_on_error(options: &JsValue) -> std::result::Result<JsValue, JsValue>;
}

/// The change streams of one service, ended when it is freed; one that
/// starts after (its first read still pending then) ends as it starts.
#[derive(Default)]
pub struct Followers {
    list: RefCell<Vec<Weak<Follower>>>,
    gone: Cell<bool>,
}

impl Followers {
    /// Ends every stream, and any that starts later.
    pub fn close(&self) {
        self.gone.set(true);
        for follower in self.list.borrow().iter().filter_map(Weak::upgrade) {
            follower.close();
        }
    }
}

/// `subscribe`'s options without their `onError` member (a function, which
/// the options' JSON cannot carry), and that function. Split in
/// JavaScript, where whatever reading the options throws is caught.
pub fn on_error(options: JsValue) -> Result<(JsValue, Option<Function>)> {
    let split = split_on_error(&options)
        .map_err(|e| Error::validation("options", super::boundary::thrown_message(&e)))?;
    let callback = super::convert::get(&split, "onError").dyn_into().ok();
    Ok((super::convert::get(&split, "options"), callback))
}

/// The scope's changes after `since` from the change log, then as they
/// come, each once and in order; the stream is registered in `followers`,
/// so freeing the service ends it. A failure to read the log is told to
/// `on_error`: where the stream starts, it then ends; later, the stream
/// reads the log again once another change is announced.
pub fn follow_log(
    chain: Rc<HybridService>,
    followers: Rc<Followers>,
    listener: Function,
    on_error: Option<Function>,
    since: u64,
) -> JsValue {
    let tell = move |e: &Error| {
        if let Some(f) = &on_error {
            let _ = f.call1(&JsValue::NULL, &error_to_js(e));
        }
    };
    let started: Rc<RefCell<Option<Rc<Follower>>>> = Rc::default();
    let stopped = Rc::new(Cell::new(false));
    let (slot, halt) = (Rc::clone(&started), Rc::clone(&stopped));
    spawn_local(async move {
        // Unsubscribed, or its service freed.
        let ended = || halt.get() || followers.gone.get();
        let db = chain.database();
        let follower = match db.follow(Some(since)).await {
            Ok(f) => Rc::new(f),
            Err(e) => {
                if !ended() {
                    tell(&e);
                }
                return;
            }
        };
        if ended() {
            return;
        }
        followers.list.borrow_mut().push(Rc::downgrade(&follower));
        *slot.borrow_mut() = Some(Rc::clone(&follower));
        let audience = db.audience();
        loop {
            match follower.next().await {
                None => break,
                Some(Ok(event)) => {
                    if audience.hears(&event) {
                        if let Ok(e) = event_to_js(&event, false) {
                            let _ = listener.call1(&JsValue::NULL, &e);
                        }
                    }
                }
                // The log could not be read (a store that failed, a damaged
                // row): read again once another change is announced, rather
                // than ending the stream unheard.
                Some(Err(e)) => {
                    // (A read in flight when the stream ended tells no one.)
                    if ended() {
                        break;
                    }
                    tell(&e);
                    follower.announced().await
                }
            }
        }
    });
    let stop = Closure::<dyn FnMut()>::new(move || {
        stopped.set(true);
        if let Some(f) = started.borrow_mut().take() {
            f.close();
        }
    });
    stop.into_js_value()
}
