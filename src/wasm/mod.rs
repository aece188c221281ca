//! WebAssembly bindings: the core exposed to JavaScript with wasm-bindgen.
//!
//! Thin by design: every rule lives in the core; this module converts values
//! at the boundary ([`boundary`], [`convert`], [`options`]), adapts
//! JavaScript storage to the core's storage contract ([`host`],
//! [`host_kv`], [`host_records`], [`indexeddb`], [`local_storage`], opened
//! in [`open`]), builds services ([`create`]) and subscriptions
//! ([`subscribe`]), links tabs ([`tabs`]), guards the heap ([`alloc`]), and
//! exports the `MetadataService` class ([`service`], its methods only) and
//! the free functions below.

pub mod alloc;
pub mod boundary;
pub mod convert;
pub mod copies;
pub mod create;
pub mod host;
pub mod host_kv;
pub mod host_records;
pub mod indexeddb;
pub mod local_storage;
pub mod open;
pub mod options;
#[cfg(feature = "boundary-probe")]
pub mod probe;
pub mod service;
pub mod subscribe;
pub mod tabs;

use wasm_bindgen::prelude::*;

use crate::canonical;
use crate::error::Error;
use crate::files::{self, FileFormat};
use boundary::{js_result, json_text_from_js, to_js};

/// Longest file path `parseMetadataFile` reads.
const MAX_PATH: usize = 4096;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = include_str!("types.d.ts");

/// Canonical JSON text of any JSON-compatible value, byte-identical to
/// upstream ObjectStack's `canonicalize`.
#[wasm_bindgen(js_name = canonicalize)]
pub fn js_canonicalize(
    #[wasm_bindgen(unchecked_param_type = "unknown")] value: JsValue,
) -> Result<String, JsValue> {
    js_result(json_text_from_js(&value, "value").and_then(|t| canonical::canonicalize_text(&t)))
}

/// The JSON text this module reads `value` as (and stores, for a
/// definition): upstream's `canonicalize` walk without its sorting, so the
/// author's key order stays. Each `toJSON` is asked once, boxed values are
/// walked as objects, `undefined` members are left out; what JSON cannot
/// carry (`NaN`, a function, a cycle, nesting past 127 levels) is a
/// `VALIDATION` error of `data` saying where it is.
#[wasm_bindgen(js_name = jsonText, unchecked_return_type = "string")]
pub fn js_json_text(
    #[wasm_bindgen(unchecked_param_type = "unknown")] value: JsValue,
) -> Result<JsValue, JsValue> {
    js_result(boundary::json_text_js(&value, "data"))
}

/// Lowercase hex MD5 of the canonical JSON: the `checksum` of records.
#[wasm_bindgen(js_name = checksum)]
pub fn js_checksum(
    #[wasm_bindgen(unchecked_param_type = "unknown")] value: JsValue,
) -> Result<String, JsValue> {
    js_result(json_text_from_js(&value, "value").and_then(|t| canonical::checksum_text(&t)))
}

/// `sha256:<hex>` of the canonical JSON: upstream's content hash.
#[wasm_bindgen(js_name = contentHash)]
pub fn js_content_hash(
    #[wasm_bindgen(unchecked_param_type = "unknown")] value: JsValue,
) -> Result<String, JsValue> {
    js_result(json_text_from_js(&value, "value").and_then(|t| canonical::content_hash_text(&t)))
}

/// Parses a metadata file (`<folder>/<name>.<type>.json|yaml|yml|ts`):
/// returns `{ type, name, format, data }`, `null` for a path that is not a
/// metadata file, or throws a `VALIDATION` error naming the path. The
/// browser module reads no YAML: a YAML file throws `UNSUPPORTED` there.
#[wasm_bindgen(js_name = parseMetadataFile, unchecked_return_type = "ParsedMetadataFile | null")]
pub fn js_parse_metadata_file(
    #[wasm_bindgen(unchecked_param_type = "string")] path: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] text: JsValue,
) -> Result<JsValue, JsValue> {
    js_result((|| {
        let path = options::bounded_string_arg(&path, "path", MAX_PATH)?;
        let Some((type_name, name, format)) = files::parse_path(&path) else {
            return Ok(JsValue::NULL);
        };
        // Refused on its length, before it is copied into the module.
        let text = options::bounded_string_arg(&text, "file", crate::validate::MAX_TEXT_BYTES)
            .map_err(|e| Error::validation("file", format!("{path}: {e}")))?;
        let data = files::parse_file(&path, &text, format)?;
        to_js(&serde_json::json!({
            "type": type_name,
            "name": name,
            "format": format_name(format),
            "data": data,
        }))
    })())
}

/// Renders a definition as a metadata file: `{ path, text }` for
/// (type, name) in `format` (`json`, `yaml` or `typescript`; the browser
/// module writes no YAML and throws `UNSUPPORTED`).
#[wasm_bindgen(js_name = renderMetadataFile, unchecked_return_type = "RenderedMetadataFile")]
pub fn js_render_metadata_file(
    #[wasm_bindgen(js_name = "type", unchecked_param_type = "string")] type_name: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Record<string, unknown>")] data: JsValue,
    #[wasm_bindgen(unchecked_param_type = "FileFormatName")] format: JsValue,
) -> Result<JsValue, JsValue> {
    js_result((|| {
        let type_name = options::bounded_string_arg(&type_name, "type", MAX_PATH)?;
        let name = options::bounded_string_arg(&name, "name", MAX_PATH)?;
        crate::validate::type_name(&type_name)?;
        crate::validate::name(&name)?;
        let format = FileFormat::from_name(&options::bounded_string_arg(&format, "format", 64)?)?;
        let data = boundary::json_text_within(&data, "data", crate::validate::MAX_DATA_BYTES)
            .and_then(|t| {
                crate::json::parse(&t)
                    .map_err(|e| Error::validation("data", crate::json::error_message(&e)))
            })?;
        crate::validate::data(&data)?;
        let text = files::render_file(&data, format)?;
        to_js(&serde_json::json!({
            "path": files::file_path(&type_name, &name, format),
            "text": text,
        }))
    })())
}

fn format_name(format: FileFormat) -> &'static str {
    match format {
        FileFormat::Json => "json",
        FileFormat::Yaml => "yaml",
        FileFormat::TypeScript => "typescript",
    }
}

/// The module's memory: `{ heapBytes, memoryBytes, limitBytes }`, the bytes
/// allocated now, the linear memory reserved so far (it never shrinks) and
/// the most it can have.
#[wasm_bindgen(js_name = memoryUsage, unchecked_return_type = "MemoryUsage")]
pub fn js_memory_usage() -> Result<JsValue, JsValue> {
    js_result(to_js(&serde_json::json!({
        "heapBytes": alloc::heap_in_use(),
        "memoryBytes": alloc::memory_bytes(),
        "limitBytes": alloc::MEMORY_LIMIT,
    })))
}

/// True when `value` is an error raised by this library (a `MetadataError`
/// with a stable `code`).
#[wasm_bindgen(js_name = isMetadataError, unchecked_return_type = "value is MetadataError")]
pub fn js_is_metadata_error(
    #[wasm_bindgen(unchecked_param_type = "unknown")] value: &JsValue,
) -> bool {
    boundary::is_metadata_error(value)
}
