//! Boundary probes for the benchmark (feature `boundary-probe`): the two
//! ways a definition can cross between JavaScript and wasm, measured on
//! the same documents. Not part of the package.

use std::cell::RefCell;

use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::prelude::*;

use super::boundary::{js_result, to_js, value_from_js};

thread_local! {
    static HELD: RefCell<Vec<Value>> = const { RefCell::new(Vec::new()) };
    static HELD_TEXT: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// JS -> Rust through JSON text (what the package does).
#[wasm_bindgen(js_name = probeInJson)]
pub fn probe_in_json(value: JsValue) -> Result<usize, JsValue> {
    js_result(value_from_js(&value, "value").map(|v| v.as_object().map_or(0, |o| o.len())))
}

/// JS -> Rust through serde-wasm-bindgen's walk of the JS value.
#[wasm_bindgen(js_name = probeInSerde)]
pub fn probe_in_serde(value: JsValue) -> Result<usize, JsValue> {
    let v: Value =
        serde_wasm_bindgen::from_value(value).map_err(|e| JsValue::from_str(&e.to_string()))?;
    Ok(v.as_object().map_or(0, |o| o.len()))
}

/// Keeps values (and their JSON text) in wasm for the output probes.
#[wasm_bindgen(js_name = probeHold)]
pub fn probe_hold(value: JsValue) -> Result<usize, JsValue> {
    let v = js_result(value_from_js(&value, "value"))?;
    let text = serde_json::to_string(&v).map_err(|e| JsValue::from_str(&e.to_string()))?;
    HELD_TEXT.with(|h| h.borrow_mut().push(text));
    HELD.with(|h| {
        h.borrow_mut().push(v);
        Ok(h.borrow().len() - 1)
    })
}

/// Rust -> JS through serde_json text and `JSON.parse` (what the package does).
#[wasm_bindgen(js_name = probeOutJson)]
pub fn probe_out_json(index: usize) -> Result<JsValue, JsValue> {
    HELD.with(|h| js_result(to_js(&h.borrow().get(index).cloned().unwrap_or_default())))
}

/// Rust -> JS from text serialised once and kept (a cache of converted text).
#[wasm_bindgen(js_name = probeOutCachedText)]
pub fn probe_out_cached_text(index: usize) -> Result<JsValue, JsValue> {
    HELD_TEXT.with(|h| js_sys::JSON::parse(&h.borrow().get(index).cloned().unwrap_or_default()))
}

/// Rust -> JS through serde-wasm-bindgen (JSON-compatible objects).
#[wasm_bindgen(js_name = probeOutSerde)]
pub fn probe_out_serde(index: usize) -> Result<JsValue, JsValue> {
    HELD.with(|h| {
        h.borrow()
            .get(index)
            .cloned()
            .unwrap_or_default()
            .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
            .map_err(|e| JsValue::from_str(&e.to_string()))
    })
}

/// MD5 of a string already in wasm memory (text passed in).
#[wasm_bindgen(js_name = probeMd5)]
pub fn probe_md5(text: &str) -> String {
    crate::canonical::md5_hex(text.as_bytes())
}

/// Canonical text from JSON text (no hashing).
#[wasm_bindgen(js_name = probeCanonText)]
pub fn probe_canon_text(text: &str) -> Result<usize, JsValue> {
    js_result(crate::canonical::canonicalize_text(text).map(|s| s.len()))
}

/// Passing a string in and doing nothing.
#[wasm_bindgen(js_name = probeStringIn)]
pub fn probe_string_in(text: &str) -> usize {
    text.len()
}

/// Parse JSON text into serde_json::Value only.
#[wasm_bindgen(js_name = probeParseValue)]
pub fn probe_parse_value(text: &str) -> usize {
    serde_json::from_str::<serde_json::Value>(text)
        .map_or(0, |v| v.as_object().map_or(0, |o| o.len()))
}
