//! What the bindings hand back to JavaScript: records, outcomes,
//! resolutions and change events as fresh plain objects.

use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

use super::boundary::{
    describe_thrown, parse_json_text, to_js, written_array_to_js, ARRAY_TEXT_BYTES,
};
use crate::definition::Definition;
use crate::error::{Error, Result};
use crate::events::ChangeEvent;
use crate::hybrid::Resolution;
use crate::record::MetadataRecord;
use crate::record_json::{record_bound, record_text, write_record, DataAt};
use crate::service::SaveOutcome;

/// Sets `target[key]`.
pub fn set(target: &JsValue, key: &str, value: &JsValue) -> Result<()> {
    js_sys::Reflect::set(target, &JsValue::from_str(key), value)
        .map(|_| ())
        .map_err(|e| Error::Storage {
            message: describe_thrown(&e),
        })
}

/// `target[key]`, or undefined when reading it throws.
pub fn get(target: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// A record as a fresh object, its `data` being `data`.
pub fn record_to_js(record: &MetadataRecord, data: JsValue) -> Result<JsValue> {
    let out = parse_json_text(&record_text(record, DataAt::Omitted))?;
    set(&out, "data", &data)?;
    Ok(out)
}

/// A record with its own definition.
pub fn full_record_to_js(record: &MetadataRecord) -> Result<JsValue> {
    record_to_js(record, definition_to_js(&record.data)?)
}

/// Writes `{ changed, operation, record }` as JSON, the record's `data`
/// placed as asked (see `record_json`).
fn write_outcome(out: &mut String, outcome: &SaveOutcome, data_at: DataAt) {
    out.push_str("{\"changed\":");
    out.push_str(if outcome.changed { "true" } else { "false" });
    out.push_str(",\"operation\":");
    match outcome.operation {
        Some(op) => {
            out.push('"');
            out.push_str(op.as_str());
            out.push('"');
        }
        None => out.push_str("null"),
    }
    out.push_str(",\"record\":");
    write_record(out, &outcome.record, data_at);
    out.push('}');
}

#[wasm_bindgen(module = "/src/wasm/glue.js")]
extern "C" {
    /// Gives `target.record` a `data` parsed from `text` when first read.
    #[wasm_bindgen(js_name = withLazyData)]
    fn with_lazy_data(target: &JsValue, text: &JsValue);

    /// [`with_lazy_data`] for `targets[from]` on, one a text of `texts`,
    /// each ending where `ends` says.
    #[wasm_bindgen(js_name = withLazyDataFrom, catch)]
    fn with_lazy_data_from(
        targets: &JsValue,
        from: u32,
        texts: &[u8],
        ends: &[u32],
    ) -> std::result::Result<(), JsValue>;
}

/// `{ record, changed, operation }`, the record's `data` parsed from its
/// JSON text when first read: most callers never look at the definition
/// they have just saved. `text` is that JSON text as a JS string when the
/// caller holds it already (the argument the definition came from), which
/// saves copying it back out of the module.
pub fn outcome_to_js_with(outcome: &SaveOutcome, text: Option<&JsValue>) -> Result<JsValue> {
    let r = &outcome.record;
    let mut head = String::new();
    write_outcome(&mut head, outcome, DataAt::Omitted);
    let out = parse_json_text(&head)?;
    match text {
        Some(text) => with_lazy_data(&out, text),
        None => with_lazy_data(&out, &JsValue::from_str(r.data.json_text())),
    }
    Ok(out)
}

/// [`outcome_to_js_with`] the record's own text.
pub fn outcome_to_js(outcome: &SaveOutcome) -> Result<JsValue> {
    outcome_to_js_with(outcome, None)
}

/// Outcomes as an array, each record's `data` parsed from its text when
/// first read, as [`outcome_to_js`] gives it: the records' metadata cross
/// as one JSON text, their definitions' texts as UTF-8 bytes, about a
/// mebibyte at a time, decoded when read. A bulk save of
/// 2,000 corpus definitions had spent a sixth of its time decoding and
/// parsing the 10 MB of definitions its answer echoed (BENCHMARKS.md).
pub fn outcomes_to_js(outcomes: &[SaveOutcome]) -> Result<JsValue> {
    let out = written_array_to_js(
        outcomes,
        |o| record_bound(&o.record) + 64,
        |out, o| write_outcome(out, o, DataAt::Omitted),
    )?;
    let (mut texts, mut ends) = (String::new(), Vec::new());
    let mut from = 0;
    for (i, o) in outcomes.iter().enumerate() {
        let text = o.record.data.json_text();
        if texts.capacity() - texts.len() < text.len()
            && !super::alloc::grown(texts.try_reserve(text.len()))
        {
            return Err(super::alloc::exhausted("the result"));
        }
        texts.push_str(text);
        ends.push(texts.len() as u32);
        if texts.len() >= ARRAY_TEXT_BYTES || i + 1 == outcomes.len() {
            with_lazy_data_from(&out, from as u32, texts.as_bytes(), &ends).map_err(|e| {
                Error::Storage {
                    message: format!("cannot decode result: {}", describe_thrown(&e)),
                }
            })?;
            texts.clear();
            ends.clear();
            from = i + 1;
        }
    }
    Ok(out)
}

/// A definition as a fresh JS object: `JSON.parse` of its text.
pub fn definition_to_js(data: &Definition) -> Result<JsValue> {
    parse_json_text(data.json_text())
}

/// A change event, with `remote: true` when it was committed elsewhere.
pub fn event_to_js(event: &ChangeEvent, remote: bool) -> Result<JsValue> {
    let out = to_js(event)?;
    if remote {
        set(&out, "remote", &JsValue::TRUE)?;
    }
    Ok(out)
}

/// `{ data, layer, record, degraded, fromCache }`.
pub fn resolution_to_js(r: &Resolution) -> Result<JsValue> {
    let degraded: Vec<Value> = r
        .degraded
        .iter()
        .map(|d| json!({"layer": d.layer, "code": d.error.code(), "message": d.error.to_string()}))
        .collect();
    let out = to_js(&json!({
        "layer": r.layer(),
        "degraded": degraded,
        "fromCache": r.from_cache,
    }))?;
    let (data, record) = match &r.found {
        Some(found) => {
            let data = definition_to_js(found.definition())?;
            let record = match found.record() {
                Some(rec) => record_to_js(rec, data.clone())?,
                None => JsValue::NULL,
            };
            (data, record)
        }
        None => (JsValue::NULL, JsValue::NULL),
    };
    set(&out, "data", &data)?;
    set(&out, "record", &record)?;
    Ok(out)
}
