//! The key layout of key-value stores: two different records never share a
//! key, a record's key lies under its own scope's and type's prefixes and
//! under no other scope's, and history keys split back into their parts.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use objectstack_metadata::key::{scope_prefix, type_prefix};
use objectstack_metadata::store::layout;
use objectstack_metadata::{validate, RecordKey};

#[derive(Arbitrary, Debug)]
struct Id {
    tenant: Option<String>,
    type_name: String,
    name: String,
}

impl Id {
    fn key(&self) -> Option<RecordKey> {
        if let Some(t) = &self.tenant {
            validate::label("tenant", t).ok()?;
        }
        validate::type_name(&self.type_name).ok()?;
        validate::name(&self.name).ok()?;
        Some(RecordKey::new(
            self.tenant.as_deref(),
            &self.type_name,
            &self.name,
        ))
    }
}

fuzz_target!(|input: (Id, Id, u64, String)| {
    let (a, b, version, junk) = input;
    // Whatever a backend lists, splitting it never panics.
    let _ = layout::split_history_id(&junk);
    let (Some(ka), Some(kb)) = (a.key(), b.key()) else {
        return;
    };
    let (sa, sb) = (ka.storage_key(), kb.storage_key());
    assert_eq!(sa == sb, ka == kb, "{ka:?} and {kb:?} share a key");
    assert!(sa.starts_with(&type_prefix(ka.tenant_id.as_deref(), &ka.type_name)));
    assert!(sa.starts_with(&scope_prefix(ka.tenant_id.as_deref())));
    if ka.tenant_id != kb.tenant_id {
        assert!(!sa.starts_with(&scope_prefix(kb.tenant_id.as_deref())));
    }
    let history = layout::history_id(&ka, version);
    assert_eq!(
        layout::split_history_id(&history),
        Some((sa.as_str(), version))
    );
    assert!(history.starts_with(&layout::history_id_prefix(&ka)));
    if ka != kb {
        assert!(!history.starts_with(&layout::history_id_prefix(&kb)));
        assert_ne!(history, layout::history_id(&kb, version));
    }
});
