//! Input validation: every check that stands between outside input and the
//! store. Each failure is a `VALIDATION` error naming the field; none panics.

use serde_json::Value;

use crate::canonical;
use crate::error::{Error, Result};

/// Longest accepted metadata type.
pub const MAX_TYPE_LEN: usize = 64;
/// Longest accepted record name.
pub const MAX_NAME_LEN: usize = 128;
/// Longest accepted tenant id, owner, actor or role.
pub const MAX_LABEL_LEN: usize = 128;
/// Longest accepted tag.
pub const MAX_TAG_LEN: usize = 64;
/// Most tags on one record.
pub const MAX_TAGS: usize = 64;
/// Largest accepted definition, as canonical JSON bytes.
pub const MAX_DATA_BYTES: usize = 8 * 1024 * 1024;
/// Longest JSON (or YAML, TypeScript) text of one definition that is read
/// at all: four times [`MAX_DATA_BYTES`], room for indentation. Longer text
/// is refused on its length, before it is parsed.
pub const MAX_TEXT_BYTES: usize = 4 * MAX_DATA_BYTES;

/// A metadata type: a lower snake case identifier of at most
/// [`MAX_TYPE_LEN`] bytes.
pub fn type_name(value: &str) -> Result<()> {
    identifier("type", value, MAX_TYPE_LEN)
}

/// A record name: a lower snake case identifier of at most
/// [`MAX_NAME_LEN`] bytes.
pub fn name(value: &str) -> Result<()> {
    identifier("name", value, MAX_NAME_LEN)
}

fn identifier(field: &str, value: &str, max: usize) -> Result<()> {
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return Err(Error::validation(field, "must not be empty"));
    }
    if bytes.len() > max {
        return Err(Error::validation(
            field,
            format!("longer than {max} characters"),
        ));
    }
    if !bytes[0].is_ascii_lowercase() {
        return Err(Error::validation(
            field,
            format!("{value:?} must start with a lowercase letter a-z"),
        ));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        return Err(Error::validation(
            field,
            format!(
                "{value:?} contains {bad:?}; only a-z, 0-9 and _ are allowed (lower snake case)"
            ),
        ));
    }
    Ok(())
}

/// A free-form label (tenant id, owner, actor, role): non-empty, at most
/// [`MAX_LABEL_LEN`] bytes, no control characters.
pub fn label(field: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::validation(field, "must not be empty"));
    }
    if value.len() > MAX_LABEL_LEN {
        return Err(Error::validation(
            field,
            format!("longer than {MAX_LABEL_LEN} bytes"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::validation(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Tags: at most [`MAX_TAGS`], each non-empty, at most [`MAX_TAG_LEN`] bytes,
/// no control characters and no commas (the metadata server's query strings
/// list tags with commas between: `?tags=crm,sales`). Returns them with
/// duplicates removed (first occurrence kept), since tags are a set.
pub fn tags(values: &[String]) -> Result<Vec<String>> {
    if values.len() > MAX_TAGS {
        return Err(Error::validation(
            "tags",
            format!("more than {MAX_TAGS} tags"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for tag in values {
        if tag.is_empty()
            || tag.len() > MAX_TAG_LEN
            || tag.chars().any(|c| c.is_control() || c == ',')
        {
            return Err(Error::validation(
                "tags",
                format!(
                    "{tag:?}: a tag has 1 to {MAX_TAG_LEN} bytes, no control characters and no commas"
                ),
            ));
        }
        if !out.contains(tag) {
            out.push(tag.clone());
        }
    }
    Ok(out)
}

/// A definition: a JSON object whose canonical form exists (finite numbers,
/// bounded nesting) and is at most [`MAX_DATA_BYTES`] long. Returns its
/// checksum, so callers canonicalize once.
pub fn data(value: &Value) -> Result<String> {
    if !value.is_object() {
        return Err(Error::validation(
            "data",
            format!("must be a JSON object, got {}", kind(value)),
        ));
    }
    let text = canonical::canonicalize(value)?;
    canonical_definition(&text)?;
    Ok(canonical::md5_hex(text.as_bytes()))
}

/// The largest integer a JavaScript number holds exactly
/// (`Number.MAX_SAFE_INTEGER`): no version passes it.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// An `expectedVersion` guard: at most [`MAX_SAFE_INTEGER`], which every
/// client of the metadata server (JavaScript numbers, the server's own
/// query parameter) can say exactly. A larger one is `VALIDATION`, not a
/// conflict with a version no record can have.
pub fn expected_version(version: Option<u64>) -> Result<Option<u64>> {
    match version {
        Some(v) if v > MAX_SAFE_INTEGER => Err(Error::validation(
            "expectedVersion",
            format!("{v} is past the largest safe integer ({MAX_SAFE_INTEGER})"),
        )),
        other => Ok(other),
    }
}

/// Checks the canonical JSON of a definition: an object, at most
/// [`MAX_DATA_BYTES`] long.
pub fn canonical_definition(canonical: &str) -> Result<()> {
    if !canonical.starts_with('{') {
        return Err(Error::validation("data", "must be a JSON object"));
    }
    if canonical.len() > MAX_DATA_BYTES {
        return Err(Error::validation(
            "data",
            format!(
                "{} bytes of canonical JSON; at most {MAX_DATA_BYTES} are accepted",
                canonical.len()
            ),
        ));
    }
    Ok(())
}

/// Parses JSON text into a value, mapping parse errors (syntax, nesting
/// deeper than [`MAX_DEPTH`](crate::canonical::MAX_DEPTH), numbers out of
/// range) to `VALIDATION`.
pub fn parse_json(text: &str) -> Result<Value> {
    crate::json::parse(text).map_err(|e| Error::validation("json", crate::json::error_message(&e)))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
