//! Changes across tabs: every change this tab commits is posted to the
//! other tabs (and workers) of the same origin working on the same
//! namespace, which announce it on their store's feed as a remote change:
//! their read caches forget the record, their followers fill any gap from
//! the change log, and their subscribers hear of it with `remote: true`.
//!
//! BroadcastChannel where it exists; otherwise the `storage` event, raised
//! in other tabs when one writes a localStorage key.

use std::rc::Rc;

use js_sys::Reflect;
use wasm_bindgen::prelude::*;
use web_sys::{BroadcastChannel, MessageEvent, Storage, StorageEvent};

use super::boundary::{to_js, value_from_js};
use super::convert::get;
use crate::events::ChangeEvent;
use crate::store::{Feed, Origin, Store, SubscriptionId};

enum Transport {
    Broadcast(BroadcastChannel),
    Storage(Storage, String),
}

/// This tab's link to the others.
pub struct TabLink {
    transport: Rc<Transport>,
    store: Rc<dyn Store>,
    posting: SubscriptionId,
    // Kept alive as long as the link; removed on drop.
    handler: Closure<dyn FnMut(JsValue)>,
}

/// Handles a message from another tab: announce its change as remote.
fn receive(message: &JsValue, own_origin: &str, feed: &Feed) {
    if get(message, "origin").as_string().as_deref() == Some(own_origin) {
        return;
    }
    let event = value_from_js(&get(message, "event"), "event")
        .ok()
        .and_then(|v| serde_json::from_value::<ChangeEvent>(v).ok());
    if let Some(event) = event {
        feed.announce(&[event], Origin::Remote);
    }
}

fn post(transport: &Transport, origin: &str, event: &ChangeEvent) {
    let Ok(event) = to_js(event) else { return };
    let message = js_sys::Object::new();
    let _ = Reflect::set(
        &message,
        &JsValue::from_str("origin"),
        &JsValue::from_str(origin),
    );
    let _ = Reflect::set(&message, &JsValue::from_str("event"), &event);
    match transport {
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

impl TabLink {
    /// Joins the channel of `namespace` for `store`; `None` when the
    /// environment has neither BroadcastChannel nor localStorage events.
    pub fn open(namespace: &str, store: Rc<dyn Store>) -> Option<Self> {
        let origin = format!("{:x}", js_sys::Math::random().to_bits());
        let name = format!("objectstack-metadata/{namespace}");
        let (transport, handler) = match BroadcastChannel::new(&name) {
            Ok(channel) => {
                let (me, feed_store) = (origin.clone(), Rc::downgrade(&store));
                let handler = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
                    if let (Some(m), Some(s)) = (e.dyn_ref::<MessageEvent>(), feed_store.upgrade())
                    {
                        receive(&m.data(), &me, s.feed());
                    }
                });
                channel.set_onmessage(Some(handler.as_ref().unchecked_ref()));
                (Transport::Broadcast(channel), handler)
            }
            Err(_) => {
                let window = web_sys::window()?;
                let storage = window.local_storage().ok().flatten()?;
                let key = format!("{name}/.event");
                let (watched, me, feed_store) =
                    (key.clone(), origin.clone(), Rc::downgrade(&store));
                let handler = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
                    let Some(e) = e.dyn_ref::<StorageEvent>() else {
                        return;
                    };
                    if e.key().as_deref() != Some(watched.as_str()) {
                        return;
                    }
                    let message = e.new_value().and_then(|v| js_sys::JSON::parse(&v).ok());
                    if let (Some(m), Some(s)) = (message, feed_store.upgrade()) {
                        receive(&m, &me, s.feed());
                    }
                });
                window
                    .add_event_listener_with_callback("storage", handler.as_ref().unchecked_ref())
                    .ok()?;
                (Transport::Storage(storage, key), handler)
            }
        };
        let transport = Rc::new(transport);
        let outgoing = Rc::clone(&transport);
        // Every change committed through this store object, its own and
        // those it mirrored from a server; not those heard from other tabs.
        let posting = store.feed().subscribe(move |event, origin_of| {
            if origin_of.is_committed_here() {
                post(&outgoing, &origin, event);
            }
        });
        Some(TabLink {
            transport,
            store,
            posting,
            handler,
        })
    }
}

impl Drop for TabLink {
    fn drop(&mut self) {
        self.store.feed().unsubscribe(self.posting);
        match &*self.transport {
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
