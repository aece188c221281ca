//! Crossing the JavaScript / WebAssembly boundary.
//!
//! Definitions cross as JSON text in both directions: `JSON.stringify` (after
//! a JavaScript-side check for what JSON cannot carry) into wasm, and
//! `JSON.parse` out of it. Measured against serde-wasm-bindgen's value walk
//! on the platform-objects corpus, text is the faster road for documents of
//! this size (see BENCHMARKS.md), and `JSON.parse` creates `__proto__` as an
//! own property where a property-by-property walk would set the prototype.
//!
//! Every core error becomes a real `Error` named `MetadataError` with the
//! stable `code` and its details as properties, built in one place.

use serde::Serialize;
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

use crate::error::{Error, Result};
use crate::key::RecordKey;

#[wasm_bindgen(module = "/src/wasm/glue.js")]
extern "C" {
    /// A JS string (as a value, not yet copied into the module); the
    /// `wrappers` outer levels of `value` hold definitions rather than
    /// being one (they do not count against the nesting limit).
    #[wasm_bindgen(js_name = toJsonText, catch)]
    fn to_json_text(
        value: &JsValue,
        max_bytes: f64,
        wrappers: u32,
    ) -> std::result::Result<JsValue, JsValue>;
    /// A call's options as [`to_json_text`] makes them, refusing (a
    /// TypeError) a Map, a Set, a boxed value: objects whose contents are
    /// not their members.
    #[wasm_bindgen(js_name = optionsText, catch)]
    fn options_text(value: &JsValue, max_bytes: f64) -> std::result::Result<JsValue, JsValue>;
    /// `saveMany`'s items as [`to_json_text`] sees them, each definition
    /// as a text of its own: `{ items, data, refused }`; a failure of one item
    /// throws `{ itemIndex, type, name, message, field? }`.
    #[wasm_bindgen(js_name = itemsToTexts, catch)]
    fn items_to_texts(items: &JsValue, max_bytes: f64) -> std::result::Result<JsValue, JsValue>;
    /// `TextEncoder.encodeInto(text from UTF-16 unit from, into)`: the
    /// UTF-8 bytes written.
    #[wasm_bindgen(js_name = encodeInto)]
    fn encode_into(text: &js_sys::JsString, from: u32, into: &mut [u8]) -> u32;
    /// The UTF-16 units the last [`encode_into`] read.
    #[wasm_bindgen(js_name = encodedUnits)]
    fn encoded_units() -> u32;
    #[wasm_bindgen(js_name = metadataError)]
    fn metadata_error(code: &str, message: &str, details: &JsValue) -> JsValue;
    /// A printable description of a thrown value.
    #[wasm_bindgen(js_name = describeThrown)]
    pub fn describe_thrown(value: &JsValue) -> String;
    /// The message alone of a thrown error.
    #[wasm_bindgen(js_name = thrownMessage)]
    pub fn thrown_message(value: &JsValue) -> String;
    /// The `name` of a thrown error (`QuotaExceededError`...), or "".
    #[wasm_bindgen(js_name = thrownName)]
    pub fn thrown_name(value: &JsValue) -> String;
    /// `host[name](...args)` as a Promise of plain data in `shape`, or a
    /// rejection with a plain `{ message, code, key }` (see
    /// [`super::host`]).
    #[wasm_bindgen(js_name = hostCall)]
    pub fn host_call(
        host: &js_sys::Object,
        name: &str,
        args: &js_sys::Array,
        shape: &str,
    ) -> js_sys::Promise;
    /// `create`'s options split into `{ store, rest }`, `rest` as JSON
    /// text; throws (a TypeError) for what cannot be read.
    #[wasm_bindgen(js_name = splitCreateOptions, catch)]
    pub fn split_create_options(
        options: &JsValue,
        max_bytes: f64,
    ) -> std::result::Result<JsValue, JsValue>;
    /// Calls `f()`, ignoring what it throws or rejects with.
    #[wasm_bindgen(js_name = callQuietly)]
    pub fn call_quietly(f: &js_sys::Function);
    /// Whether `host[name]` is a function.
    #[wasm_bindgen(js_name = hostHas)]
    pub fn host_has(host: &js_sys::Object, name: &str) -> bool;
    /// `host[name]` if it is a string.
    #[wasm_bindgen(js_name = hostString)]
    pub fn host_string(host: &js_sys::Object, name: &str) -> Option<String>;
}

/// Most bytes of JSON text any one argument (a value to hash, a batch of
/// definitions, a manifest) or host answer may take when it crosses into
/// the module; a single definition is held to
/// [`MAX_DATA_BYTES`](crate::validate::MAX_DATA_BYTES).
pub const MAX_ARG_BYTES: usize = 64 * 1024 * 1024;

/// JSON text of a JS value, or `VALIDATION` naming `field` and what JSON
/// cannot carry (non-finite numbers, BigInt, functions, cycles, depth, more
/// than [`MAX_ARG_BYTES`]).
pub fn json_text_from_js(value: &JsValue, field: &str) -> Result<String> {
    json_text_within(value, field, MAX_ARG_BYTES)
}

/// [`json_text_from_js`] of a value whose `wrappers` outer levels hold
/// definitions (records, or a list of them): each definition may nest as
/// deep as one given alone, which the core's readers then bound exactly.
pub fn json_text_wrapping(value: &JsValue, field: &str, wrappers: u32) -> Result<String> {
    Ok(json_texts(value, field, MAX_ARG_BYTES, wrappers)?.1)
}

/// [`json_text_from_js`] as the JS string the glue printed, not copied
/// into the module.
pub fn json_text_js(value: &JsValue, field: &str) -> Result<JsValue> {
    printed(value, field, MAX_ARG_BYTES, 0)
}

/// The JS string the glue prints `value` as (see `toJsonText`), or
/// `VALIDATION` naming `field`.
fn printed(value: &JsValue, field: &str, max_bytes: usize, wrappers: u32) -> Result<JsValue> {
    to_json_text(value, max_bytes as f64, wrappers)
        .map_err(|e| Error::validation(field, thrown_message(&e)))
}

/// [`json_text_from_js`] with a size limit of its own: the value is refused
/// as soon as its text is known to pass `max_bytes`, before it is
/// serialised whole or copied into the module.
pub fn json_text_within(value: &JsValue, field: &str, max_bytes: usize) -> Result<String> {
    Ok(json_texts_within(value, field, max_bytes)?.1)
}

/// [`json_text_within`], with the JS string the text was copied from.
pub fn json_texts_within(
    value: &JsValue,
    field: &str,
    max_bytes: usize,
) -> Result<(JsValue, String)> {
    json_texts(value, field, max_bytes, 0)
}

/// [`json_texts_within`] of a value whose `wrappers` outer levels hold
/// definitions (see [`json_text_wrapping`]).
fn json_texts(
    value: &JsValue,
    field: &str,
    max_bytes: usize,
    wrappers: u32,
) -> Result<(JsValue, String)> {
    let text = printed(value, field, max_bytes, wrappers)?;
    let copied = js_string(&text)?.unwrap_or_default();
    Ok((text, copied))
}

/// The JSON text of a call's options (see `optionsText` in `glue.js`), or
/// `VALIDATION` naming `field`.
pub fn options_json_text(value: &JsValue, field: &str) -> Result<String> {
    let text = options_text(value, MAX_ARG_BYTES as f64)
        .map_err(|e| Error::validation(field, thrown_message(&e)))?;
    Ok(js_string(&text)?.unwrap_or_default())
}

/// A list of items that each wrap a definition (`saveMany`'s `[{ type,
/// name, data }]`): the JSON text of the list with each item's `data`
/// written as 0 (see `itemsToTexts` in `glue.js`), and each definition's
/// own JSON text, item by item (`undefined` where an item has none). The
/// list and the item do not count against the nesting limit, which each
/// definition then meets on its own. An item that cannot be stored is a
/// batch error naming it (its key in the scope of `tenant_id`), as a
/// refused definition is.
pub fn items_texts(value: &JsValue, field: &str, tenant_id: Option<&str>) -> Result<ItemsTexts> {
    let texts = items_to_texts(value, MAX_ARG_BYTES as f64).map_err(|e| {
        // The glue's own plain object, whatever was thrown.
        let member = |name: &str| js_sys::Reflect::get(&e, &JsValue::from_str(name)).ok();
        let text = |name: &str| member(name).and_then(|v| v.as_string()).unwrap_or_default();
        match member("itemIndex").and_then(|v| v.as_f64()) {
            Some(index) if index >= 0.0 => Error::batch(
                index as usize,
                RecordKey::new(tenant_id, &text("type"), &text("name")),
                // The item's field at fault, where the glue names one.
                Error::validation(
                    member("field")
                        .and_then(|f| f.as_string())
                        .as_deref()
                        .unwrap_or("item"),
                    text("message"),
                ),
            ),
            _ => Error::validation(field, text("message")),
        }
    })?;
    let member = |name: &str| js_sys::Reflect::get(&texts, &JsValue::from_str(name));
    let items = member("items").ok().and_then(|t| js_string(&t).transpose());
    let data = member("data")
        .ok()
        .and_then(|d| d.dyn_into::<js_sys::Array>().ok());
    let refused = member("refused")
        .ok()
        .and_then(|r| r.dyn_into::<js_sys::Array>().ok())
        .and_then(|r| Some((r.get(0).as_f64()? as usize, r.get(1).as_string()?)));
    match (items, data) {
        (Some(items), Some(data)) => Ok(ItemsTexts {
            items: items?,
            data,
            refused,
        }),
        _ => Err(Error::Storage {
            message: "the items came across in no known form".into(),
        }),
    }
}

/// `saveMany`'s items as they crossed (see [`items_texts`]).
pub struct ItemsTexts {
    /// The JSON text of the list, each item's definition written as 0.
    pub items: String,
    /// Each item's definition, its own JS string (`undefined` where none).
    pub data: js_sys::Array,
    /// The first item whose options are an object that JSON would make
    /// other options (a Map, a Promise), and why: refused in the items'
    /// order with what the core refuses itself.
    pub refused: Option<(usize, String)>,
}

/// A JS string copied into the module, once the heap has room for it and
/// for the work it brings (see [`super::alloc::admit`]); `None` for
/// anything else.
pub fn js_string(value: &JsValue) -> Result<Option<String>> {
    let Some(s) = value.dyn_ref::<js_sys::JsString>() else {
        return Ok(None);
    };
    // UTF-16 units; UTF-8 takes at most three bytes for each.
    let units = s.length() as usize;
    super::alloc::admit(3 * units)?;
    // TextEncoder.encodeInto straight into the module's memory: for ASCII
    // text several times faster than wasm-bindgen's own copy, which moves
    // ASCII one character at a time (BENCHMARKS.md). First into room for
    // ASCII and an eighth more, which takes most text in one go (the
    // corpus's definitions, accents and dashes included, need at most 0.4 %
    // more bytes than units): room for three bytes a unit was zeroed, then
    // given back, on every call.
    let room = units + units / 8 + 16;
    let mut bytes = vec![0u8; room];
    let mut written = encode_into(s, 0, &mut bytes) as usize;
    // The encoder stops only at a character that does not fit, four bytes
    // at most: with that much room left, the text is all there.
    if written + 4 > room {
        let read = encoded_units() as usize;
        if read < units {
            // The rest, from where it stopped, into room for the most it
            // can take.
            bytes.truncate(written);
            bytes.resize(written + 3 * (units - read), 0);
            written += encode_into(s, read as u32, &mut bytes[written..]) as usize;
        }
    }
    bytes.truncate(written);
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|e| Error::Storage {
            message: format!("a string came across as invalid UTF-8: {e}"),
        })
}

/// A `Uint8Array`'s bytes copied into the module, once the heap has room
/// for them and for the work they bring; `None` for anything else.
pub fn js_bytes(value: &JsValue) -> Result<Option<Vec<u8>>> {
    let Some(bytes) = value.dyn_ref::<js_sys::Uint8Array>() else {
        return Ok(None);
    };
    super::alloc::admit(bytes.length() as usize)?;
    Ok(Some(bytes.to_vec()))
}

/// A JS value as a `serde_json::Value`.
pub fn value_from_js(value: &JsValue, field: &str) -> Result<Value> {
    let text = json_text_from_js(value, field)?;
    crate::json::parse(&text).map_err(|e| Error::validation(field, crate::json::error_message(&e)))
}

/// A buffer that grows only while the heap has room: a result too large
/// for the module's memory is `QUOTA_EXCEEDED`, not an allocation failure
/// (which traps).
struct Bounded(Vec<u8>);

impl std::io::Write for Bounded {
    #[inline]
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.write_all(bytes).map(|()| bytes.len())
    }

    /// The heap is asked only when the buffer must grow: serde_json writes
    /// a member in several short pieces, which mostly fit.
    #[inline]
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.0.capacity() - self.0.len() < bytes.len() {
            self.grow(bytes.len())?;
        }
        self.0.extend_from_slice(bytes);
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Bounded {
    #[cold]
    fn grow(&mut self, more: usize) -> std::io::Result<()> {
        if super::alloc::grown(self.0.try_reserve(more)) {
            Ok(())
        } else {
            Err(std::io::ErrorKind::OutOfMemory.into())
        }
    }
}

fn encode_error(e: serde_json::Error) -> Error {
    if e.io_error_kind() == Some(std::io::ErrorKind::OutOfMemory) {
        super::alloc::exhausted("the result")
    } else {
        Error::Storage {
            message: format!("cannot encode result: {e}"),
        }
    }
}

/// `JSON.parse` of the UTF-8 JSON text in `bytes`.
fn parse_bytes(bytes: &[u8]) -> Result<JsValue> {
    let text = std::str::from_utf8(bytes).map_err(|e| Error::Storage {
        message: format!("cannot encode result: {e}"),
    })?;
    parse_json_text(text)
}

/// Any serializable value as a fresh JS value (through `JSON.parse`).
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue> {
    let mut out = Bounded(Vec::new());
    serde_json::to_writer(&mut out, value).map_err(encode_error)?;
    parse_bytes(&out.0)
}

/// Most JSON text [`written_array_to_js`] builds before handing it over.
pub const ARRAY_TEXT_BYTES: usize = 1 << 20;

/// Items as a fresh JS array, through `JSON.parse` of one text for most
/// answers: one crossing and one parse instead of one per item (a bulk
/// save's 10,000 outcomes, item by item, were 56 ms of the 170 it spent in
/// the module, in a profile in Chromium). `write` writes each item's JSON
/// text; past about a mebibyte of text the array is built in pieces, so
/// the module never holds a large answer whole. `bound` is the most bytes
/// `write` may write for an item: the room is taken from the heap before
/// the item is written (the module's memory full is `QUOTA_EXCEEDED`, not
/// a trap).
pub fn written_array_to_js<T>(
    items: &[T],
    bound: impl Fn(&T) -> usize,
    write: impl Fn(&mut String, &T),
) -> Result<JsValue> {
    let mut parts: Vec<js_sys::Array> = Vec::new();
    let mut out = String::new();
    let mut items = items.iter().peekable();
    loop {
        out.clear();
        out.push('[');
        let mut first = true;
        while let Some(item) = items.next_if(|_| first || out.len() < ARRAY_TEXT_BYTES) {
            let room = bound(item).saturating_add(2);
            if out.capacity() - out.len() < room && !super::alloc::grown(out.try_reserve(room)) {
                return Err(super::alloc::exhausted("the result"));
            }
            if !first {
                out.push(',');
            }
            write(&mut out, item);
            first = false;
        }
        out.push(']');
        parts.push(parse_json_text(&out)?.unchecked_into());
        if items.peek().is_none() {
            break;
        }
    }
    let mut whole = parts.remove(0);
    for part in &parts {
        whole = whole.concat(part);
    }
    Ok(whole.into())
}

/// `JSON.parse(text)`.
///
/// Text with a few characters beyond ASCII crosses as ASCII, each of them
/// written as its `\u` escape ([`ascii_json`]): Chromium's `TextDecoder`
/// takes ASCII about four times as fast as UTF-8 text with a few accents
/// or dashes (10 MB of corpus definitions: 5.7 against 20.5 ms), which
/// also leaves `JSON.parse` a one-byte string.
pub fn parse_json_text(text: &str) -> Result<JsValue> {
    js_sys::JSON::parse(&ascii_json(text)?).map_err(|e| Error::Storage {
        message: format!("cannot decode result: {}", describe_thrown(&e)),
    })
}

/// Where the first byte at or above 0x80 (a character beyond ASCII) of
/// `bytes` is, eight bytes at a time.
fn first_non_ascii(bytes: &[u8]) -> Option<usize> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut words {
        let high = u64::from_le_bytes(chunk.try_into().unwrap_or_default()) & HIGH;
        if high != 0 {
            return Some(at + (high.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b >= 0x80)
        .map(|p| at + p)
}

/// Calls `each` with the ASCII before each character of `rest` beyond
/// ASCII, and that character, while it answers true; returns the ASCII
/// after the last, or `None` when `each` stopped it.
fn beyond_ascii<'a>(
    mut rest: &'a str,
    each: &mut dyn FnMut(&'a str, char) -> bool,
) -> Option<&'a str> {
    while let Some(at) = first_non_ascii(rest.as_bytes()) {
        let (ascii, tail) = rest.split_at(at);
        let mut chars = tail.chars();
        let Some(c) = chars.next() else { break };
        if !each(ascii, c) {
            return None;
        }
        rest = chars.as_str();
    }
    Some(rest)
}

/// JSON text as ASCII: every character beyond ASCII, which JSON text holds
/// only inside strings, written as its `\u` escape (two for one beyond
/// the BMP), so the text parses to the same value. ASCII text is itself,
/// and so is text whose escapes would make it an eighth longer or more:
/// for text mostly beyond Latin-1 (Chinese, say) the escapes cost more to
/// parse than the UTF-8 costs to decode.
pub fn ascii_json(text: &str) -> Result<std::borrow::Cow<'_, str>> {
    let most = text.len() + text.len() / 8;
    let mut len = 0;
    let counted = beyond_ascii(text, &mut |ascii, c| {
        len += ascii.len() + 6 * c.len_utf16();
        len <= most
    });
    let Some(last) = counted.filter(|_| len > 0) else {
        return Ok(std::borrow::Cow::Borrowed(text));
    };
    if len + last.len() > most {
        return Ok(std::borrow::Cow::Borrowed(text));
    }
    let mut out = String::new();
    if !super::alloc::grown(out.try_reserve_exact(len + last.len())) {
        return Err(super::alloc::exhausted("the result"));
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let last = beyond_ascii(text, &mut |ascii, c| {
        out.push_str(ascii);
        for unit in c.encode_utf16(&mut [0; 2]) {
            out.push_str("\\u");
            for shift in [12, 8, 4, 0] {
                out.push(char::from(HEX[usize::from((*unit >> shift) & 0xf)]));
            }
        }
        true
    })
    .unwrap_or_default();
    out.push_str(last);
    Ok(std::borrow::Cow::Owned(out))
}

fn key_details(key: &RecordKey) -> Value {
    json!({ "tenantId": key.tenant_id, "type": key.type_name, "name": key.name })
}

fn details(error: &Error, out: &mut serde_json::Map<String, Value>) {
    match error {
        Error::NotFound { key, detail } => {
            out.insert("key".into(), key_details(key));
            if let Some(d) = detail {
                out.insert("detail".into(), json!(d));
            }
        }
        Error::Conflict {
            key,
            expected,
            actual,
            actual_version,
        } => {
            out.insert("key".into(), key_details(key));
            out.insert("expected".into(), json!(expected));
            out.insert("actual".into(), json!(actual));
            out.insert("actualVersion".into(), json!(actual_version));
        }
        Error::Validation { field, .. } => {
            out.insert("field".into(), json!(field));
        }
        Error::Forbidden {
            operation,
            type_name,
            permission,
            actor,
        } => {
            out.insert("operation".into(), json!(operation));
            out.insert("type".into(), json!(type_name));
            out.insert("permission".into(), json!(permission));
            out.insert("actor".into(), json!(actor));
        }
        Error::Corrupted { key, .. } => {
            out.insert("key".into(), key_details(key));
        }
        Error::HostCallbackFailed { operation, .. } => {
            out.insert("operation".into(), json!(operation));
        }
        Error::LayerFailed { layer, source } => {
            out.insert("layer".into(), json!(layer));
            details(source, out);
        }
        Error::Batch { index, key, source } => {
            details(source, out);
            out.insert("index".into(), json!(index));
            out.insert("key".into(), key_details(key));
        }
        Error::StorageUnavailable { .. }
        | Error::QuotaExceeded { .. }
        | Error::Unsupported { .. }
        | Error::Storage { .. } => {}
    }
}

/// The JS `Error` for a core error.
pub fn error_to_js(error: &Error) -> JsValue {
    let mut map = serde_json::Map::new();
    details(error, &mut map);
    let details = serde_json::to_string(&map)
        .ok()
        .and_then(|t| js_sys::JSON::parse(&t).ok())
        .unwrap_or(JsValue::NULL);
    metadata_error(error.code(), &error.to_string(), &details)
}

/// A method's work, boxed: every method shares one instantiation of the
/// Promise glue (measured: a generic one per method cost several KB each).
type Work = std::pin::Pin<Box<dyn std::future::Future<Output = Result<JsValue>>>>;

/// Runs `work` as a Promise: resolved with its value, rejected with a
/// `MetadataError`.
pub fn promise<F>(work: F) -> js_sys::Promise
where
    F: std::future::Future<Output = Result<JsValue>> + 'static,
{
    run(Box::pin(work))
}

fn run(work: Work) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(async move { work.await.map_err(|e| error_to_js(&e)) })
}

/// A core result as a wasm-bindgen result.
pub fn js_result<T>(result: Result<T>) -> std::result::Result<T, JsValue> {
    result.map_err(|e| error_to_js(&e))
}

/// Whether a JS value is one of our errors.
pub fn is_metadata_error(value: &JsValue) -> bool {
    value.is_instance_of::<js_sys::Error>()
        && thrown_name(value) == "MetadataError"
        && js_sys::Reflect::get(value, &JsValue::from_str("code"))
            .ok()
            .and_then(|c| c.as_string())
            .is_some()
}
