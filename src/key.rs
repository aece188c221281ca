//! Record identity and collision-free storage keys.
//!
//! A record is identified by (tenant, type, name). Key-value backends
//! (localStorage, IndexedDB, host callbacks) need one string per record; the
//! encoding here is injective, so no crafted tenant, type or name can produce
//! another record's key:
//!
//! * type and name are validated identifiers (`[a-z][a-z0-9_]*`), so they never
//!   contain `/`, `%` or `*`;
//! * the tenant is percent-encoded (everything outside `[A-Za-z0-9_.-]`), so it
//!   never contains `/` or `*` either;
//! * the global scope is written `*`, which no encoded tenant can be.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The identity of one metadata record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordKey {
    /// Owning tenant; `None` is the global scope.
    pub tenant_id: Option<String>,
    /// Metadata type (`object`, `view`...).
    #[serde(rename = "type")]
    pub type_name: String,
    /// Name, unique within (tenant, type).
    pub name: String,
}

impl RecordKey {
    /// A key from its parts (not validated: see [`crate::validate`]).
    pub fn new(tenant_id: Option<&str>, type_name: &str, name: &str) -> Self {
        RecordKey {
            tenant_id: tenant_id.map(str::to_owned),
            type_name: type_name.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The same (type, name) in another scope.
    pub fn with_tenant(&self, tenant_id: Option<&str>) -> Self {
        RecordKey::new(tenant_id, &self.type_name, &self.name)
    }

    /// The string under which key-value backends store this record.
    pub fn storage_key(&self) -> String {
        let mut out = scope_prefix(self.tenant_id.as_deref());
        out.push_str(&self.type_name);
        out.push('/');
        out.push_str(&self.name);
        out
    }
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.tenant_id {
            Some(t) => write!(f, "{}/{} (tenant {t})", self.type_name, self.name),
            None => write!(f, "{}/{}", self.type_name, self.name),
        }
    }
}

/// The key prefix shared by every record of one scope: `*/` for global,
/// `<encoded tenant>/` otherwise.
pub fn scope_prefix(tenant_id: Option<&str>) -> String {
    match tenant_id {
        None => "*/".to_owned(),
        Some(t) => {
            let mut out = String::with_capacity(t.len() + 1);
            for b in t.bytes() {
                if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-') {
                    out.push(b as char);
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            out.push('/');
            out
        }
    }
}

/// The key prefix shared by every record of one type in one scope.
pub fn type_prefix(tenant_id: Option<&str>, type_name: &str) -> String {
    let mut out = scope_prefix(tenant_id);
    out.push_str(type_name);
    out.push('/');
    out
}
