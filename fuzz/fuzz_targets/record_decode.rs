//! Decoding stored records and history entries: never panics; what decodes
//! encodes and decodes again to the same thing, with the same checksum.
#![no_main]

use libfuzzer_sys::fuzz_target;
use objectstack_metadata::store::codec;
use objectstack_metadata::RecordKey;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let key = RecordKey::new(None, "view", "all");
    if let Ok(record) = codec::record(text, &key) {
        let again = codec::record(&codec::encode(&record).unwrap(), &key).unwrap();
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
