//! Decoding stored records and history entries: never panics; what decodes
//! encodes and decodes again to the same thing, with the same checksum; the
//! direct record reader and writer agree with the derived ones.
#![no_main]

use libfuzzer_sys::fuzz_target;
use objectstack_metadata::store::codec;
use objectstack_metadata::{MetadataRecord, RecordKey};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let key = RecordKey::new(None, "view", "all");
    let derived = serde_json::from_str::<MetadataRecord>(text);
    assert_eq!(codec::record(text, &key).ok(), derived.ok());
    if let Ok(record) = codec::record(text, &key) {
        let written = codec::encode_record(&record);
        assert_eq!(written, codec::encode(&record).unwrap());
        let again = codec::record(&written, &key).unwrap();
        assert_eq!(again, record);
        assert_eq!(again.data.checksum(), record.data.checksum());
        let _ = codec::check_record_at(record, &key);
    }
    if let Ok(entry) = codec::entry(text, &key) {
        let again = codec::entry(&codec::encode(&entry).unwrap(), &key).unwrap();
        assert_eq!(again, entry);
    }
    // A history listing: one stored text per line.
    let _ = codec::archived_of(text.lines().map(|l| Ok(l.to_owned())), &key);
    let _ = codec::records_in_scope(text.lines().map(|l| Ok(l.to_owned())), None, Some("view"));
});
