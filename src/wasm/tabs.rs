//! Change events across tabs: every committed change is posted to the
//! other tabs (and workers) of the same origin working on the same
//! namespace, whose read caches then forget the changed record and whose
//! subscribers hear of it with `remote: true`.
//!
//! BroadcastChannel where it exists; otherwise the `storage` event, raised
//! in other tabs when one writes a localStorage key.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::*;
use web_sys::{BroadcastChannel, MessageEvent, Storage, StorageEvent};

use crate::hybrid::HybridService;

/// The JS listeners of one service (`subscribe`).
#[derive(Default)]
pub struct Listeners {
    next: Cell<u64>,
    list: RefCell<Vec<(u64, Function)>>,
}

impl Listeners {
    /// Adds a listener; returns its id.
    pub fn add(&self, f: Function) -> u64 {
        let id = self.next.get();
        self.next.set(id + 1);
        self.list.borrow_mut().push((id, f));
        id
    }

    /// Removes a listener.
    pub fn remove(&self, id: u64) {
        self.list.borrow_mut().retain(|(i, _)| *i != id);
    }

    /// Calls every listener with `event`; a listener that throws does not
    /// stop the others.
    pub fn notify(&self, event: &JsValue) {
        let list: Vec<Function> = self.list.borrow().iter().map(|(_, f)| f.clone()).collect();
        for f in list {
            let _ = f.call1(&JsValue::NULL, event);
        }
    }
}

enum Transport {
    Broadcast(BroadcastChannel),
    Storage(Storage, String),
}

/// This tab's link to the others.
pub struct TabLink {
    origin: String,
    transport: Transport,
    // Kept alive as long as the link; removed on drop.
    handler: Closure<dyn FnMut(JsValue)>,
}

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
}

/// Handles a message from another tab: forget the record, tell listeners.
fn receive(message: &JsValue, own_origin: &str, chain: &HybridService, listeners: &Listeners) {
    if get(message, "origin").as_string().as_deref() == Some(own_origin) {
        return;
    }
    let event = get(message, "event");
    match (
        get(&event, "type").as_string(),
        get(&event, "name").as_string(),
    ) {
        (Some(t), Some(n)) => chain.invalidate(&t, &n),
        _ => {
            chain.invalidate_all();
            return;
        }
    }
    let _ = Reflect::set(&event, &JsValue::from_str("remote"), &JsValue::TRUE);
    listeners.notify(&event);
}

impl TabLink {
    /// Joins the channel of `namespace`; `None` when the environment has
    /// neither BroadcastChannel nor localStorage events.
    pub fn open(
        namespace: &str,
        chain: Rc<HybridService>,
        listeners: Rc<Listeners>,
    ) -> Option<Self> {
        let origin = format!("{:x}", js_sys::Math::random().to_bits());
        let name = format!("objectstack-metadata/{namespace}");
        let me = origin.clone();
        if let Ok(channel) = BroadcastChannel::new(&name) {
            let handler = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
                if let Some(m) = e.dyn_ref::<MessageEvent>() {
                    receive(&m.data(), &me, &chain, &listeners);
                }
            });
            channel.set_onmessage(Some(handler.as_ref().unchecked_ref()));
            return Some(TabLink {
                origin,
                transport: Transport::Broadcast(channel),
                handler,
            });
        }
        let window = web_sys::window()?;
        let storage = window.local_storage().ok().flatten()?;
        let key = format!("{name}/.event");
        let watched = key.clone();
        let handler = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let Some(e) = e.dyn_ref::<StorageEvent>() else {
                return;
            };
            if e.key().as_deref() != Some(watched.as_str()) {
                return;
            }
            if let Some(message) = e.new_value().and_then(|v| js_sys::JSON::parse(&v).ok()) {
                receive(&message, &me, &chain, &listeners);
            }
        });
        window
            .add_event_listener_with_callback("storage", handler.as_ref().unchecked_ref())
            .ok()?;
        Some(TabLink {
            origin,
            transport: Transport::Storage(storage, key),
            handler,
        })
    }

    /// Tells the other tabs of a committed change (a ChangeEvent object).
    pub fn post(&self, event: &JsValue) {
        let message = js_sys::Object::new();
        let _ = Reflect::set(
            &message,
            &JsValue::from_str("origin"),
            &JsValue::from_str(&self.origin),
        );
        let _ = Reflect::set(&message, &JsValue::from_str("event"), event);
        match &self.transport {
            Transport::Broadcast(channel) => {
                let _ = channel.post_message(&message);
            }
            Transport::Storage(storage, key) => {
                // A nonce makes every write a change, so every write fires.
                let _ = Reflect::set(
                    &message,
                    &JsValue::from_str("nonce"),
                    &JsValue::from(js_sys::Math::random()),
                );
                if let Ok(text) = js_sys::JSON::stringify(&message) {
                    let _ = storage.set_item(key, &String::from(text));
                }
            }
        }
    }
}

impl Drop for TabLink {
    fn drop(&mut self) {
        match &self.transport {
            Transport::Broadcast(channel) => {
                channel.set_onmessage(None);
                channel.close();
            }
            Transport::Storage(..) => {
                if let Some(window) = web_sys::window() {
                    let _ = window.remove_event_listener_with_callback(
                        "storage",
                        self.handler.as_ref().unchecked_ref(),
                    );
                }
            }
        }
    }
}
