//! Metadata files (JSON, YAML, TypeScript): parsing never panics, and a
//! definition read from any format renders in every format and reads back
//! with the same checksum.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use objectstack_metadata::files::{parse_file, render_file, FileFormat};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    format: u8,
    text: &'a str,
}

const FORMATS: [FileFormat; 3] = [FileFormat::Json, FileFormat::Yaml, FileFormat::TypeScript];

fuzz_target!(|input: Input<'_>| {
    let format = FORMATS[usize::from(input.format) % 3];
    let Ok(value) = parse_file("views/a.view.x", input.text, format) else {
        return;
    };
    let sum = objectstack_metadata::checksum(&value).expect("an accepted file has a checksum");
    for out in FORMATS {
        let text = render_file(&value, out).expect("an accepted definition renders");
        let back = parse_file("views/a.view.x", &text, out)
            .unwrap_or_else(|e| panic!("{out:?} does not read back: {e}\n{text}"));
        assert_eq!(
            objectstack_metadata::checksum(&back).unwrap(),
            sum,
            "{out:?} round trip changed the definition\n{text}"
        );
    }
});
