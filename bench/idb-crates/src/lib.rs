//! IndexedDB by hand over web-sys (what the package does) against the rexie
//! crate (over the idb crate), on the same rows: see tests/compare.rs.
