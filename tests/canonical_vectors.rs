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
