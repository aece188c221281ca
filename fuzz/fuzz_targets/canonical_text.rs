//! Canonical JSON from text: never panics; what it accepts canonicalises
//! to a fixed point; and wherever the crate's JSON reader builds a value
//! from the same text, the value path gives the same canonical text. The
//! reader taken for lone surrogates agrees with serde_json's on all it
//! accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use objectstack_metadata::canonical::{canonicalize, canonicalize_text, canonicalize_text_utf16};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let utf16 = canonicalize_text_utf16(text);
    let Ok(canon) = canonicalize_text(text) else {
        assert!(utf16.is_err(), "only the UTF-16 reader took {text:?}");
        return;
    };
    assert_eq!(utf16.as_ref().ok(), Some(&canon), "the readers disagree");
    let again = canonicalize_text(&canon).expect("canonical text must parse again");
    assert_eq!(again, canon, "canonical form is not a fixed point");
    if let Ok(value) = objectstack_metadata::json::parse(text) {
        let from_value =
            canonicalize(&value).expect("the value path refused what the text path took");
        assert_eq!(from_value, canon, "text and value paths disagree");
    }
});
