//! Every line of the shared canonical-JSON vectors (computed by upstream
//! ObjectStack's own code) must give the same canonical text, MD5 and
//! SHA-256 here.

use objectstack_metadata::canonical::{canonicalize_text, checksum_text, content_hash_text};
use objectstack_metadata::{canonicalize, checksum, content_hash};
use serde_json::Value;

const VECTORS: &str = include_str!("data/canonical.jsonl");

#[test]
fn every_vector_matches_upstream() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for (line_no, line) in VECTORS.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let case: Value = serde_json::from_str(line).expect("vector line is JSON");
        let note = case["note"].as_str().unwrap_or("");
        let input = case["input"].as_str().expect("input text");
        let parsed: Result<Value, _> = serde_json::from_str(input);
        if let Some(err) = case.get("error") {
            let refused = match &parsed {
                Err(_) => true,
                Ok(v) => canonicalize(v).is_err(),
            };
            if !refused {
                failures.push(format!("line {line_no} ({note}): expected error {err}"));
            }
            checked += 1;
            continue;
        }
        let value = match parsed {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!(
                    "line {line_no} ({note}): input does not parse: {e}"
                ));
                continue;
            }
        };
        let canonical = canonicalize(&value).expect("canonicalize");
        if canonical != case["canonical"].as_str().unwrap() {
            failures.push(format!(
                "line {line_no} ({note}): canonical\n  got  {canonical}\n  want {}",
                case["canonical"]
            ));
            continue;
        }
        assert_eq!(
            checksum(&value).unwrap(),
            case["md5"].as_str().unwrap(),
            "md5 line {line_no}"
        );
        assert_eq!(
            content_hash(&value).unwrap(),
            case["sha256"].as_str().unwrap(),
            "sha256 line {line_no}"
        );
        // The same straight from the text, without building a Value.
        assert_eq!(
            canonicalize_text(input).unwrap(),
            canonical,
            "text line {line_no}"
        );
        assert_eq!(checksum_text(input).unwrap(), case["md5"].as_str().unwrap());
        assert_eq!(
            content_hash_text(input).unwrap(),
            case["sha256"].as_str().unwrap()
        );
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        checked,
        VECTORS.lines().filter(|l| !l.trim().is_empty()).count()
    );
    assert!(checked >= 400, "only {checked} vectors ran");
}

/// Lone surrogates, as `JSON.stringify` writes a JavaScript string holding
/// them: upstream hashes them (its `canonicalize` is `JSON.stringify` of a
/// sorted copy), so they are kept, sorted by code units and escaped again.
/// The expected values are upstream's `canonicalize`, MD5 and `hashSpec`.
#[test]
fn lone_surrogates_hash_as_upstream_hashes_them() {
    let input = r#"{"a":"\ud800","\udc00k":["x\udfff","😀"],"！":1,"\ud800x":2}"#;
    let canonical = r#"{"a":"\ud800","\ud800x":2,"\udc00k":["x\udfff","😀"],"！":1}"#;
    assert_eq!(canonicalize_text(input).unwrap(), canonical);
    assert_eq!(
        checksum_text(input).unwrap(),
        "f9336f4685d1b7cb5d7269510555ae5b"
    );
    assert_eq!(
        content_hash_text(input).unwrap(),
        "sha256:c2b44f2a8a3da138af8d58ab3ceeae77dd63d07100b56473e676817834100cf0"
    );
    // A definition holding them keeps its text and that checksum.
    let definition = objectstack_metadata::Definition::from_json_text(input).unwrap();
    assert_eq!(definition.checksum(), "f9336f4685d1b7cb5d7269510555ae5b");
    assert_eq!(definition.json_text(), input);
}
