//! Role-based access control: roles grant permissions on metadata types.
//!
//! ```
//! use objectstack_metadata::{AccessPolicy, Actor, Permission};
//! let policy = AccessPolicy::deny_all()
//!     .grant("designer", "view", &[Permission::Read, Permission::Write])
//!     .grant("auditor", "*", &[Permission::Read]);
//! let bob = Actor::new("bob", ["designer"]);
//! assert!(policy.allows(&bob, Permission::Write, "view"));
//! assert!(!policy.allows(&bob, Permission::Write, "object"));
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// load, loadMany, loadRecord, query, history.
    Read,
    /// save, saveMany, restore, rollback.
    Write,
    /// Soft delete.
    Delete,
    /// Everything, including purge.
    Admin,
}

impl Permission {
    /// The lowercase name used in errors and policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Write => "write",
            Permission::Delete => "delete",
            Permission::Admin => "admin",
        }
    }
}

/// What a caller asks the core to do: each action needs one permission on
/// the type it touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read one definition or record.
    Load,
    /// Read every definition of a type.
    List,
    /// Filter records.
    Query,
    /// Read a record's versions.
    History,
    /// Read the change log.
    Changes,
    /// Write a definition (one or a batch).
    Save,
    /// Soft-delete a record.
    Delete,
    /// Undo a soft delete.
    Restore,
    /// Remove a record's row for good.
    Purge,
    /// Write an earlier version back.
    Rollback,
    /// Put a definition in the registry layer.
    Register,
    /// Compare with, or apply, a remote manifest.
    Sync,
}

impl Action {
    /// The permission the action needs.
    pub fn permission(self) -> Permission {
        match self {
            Action::Load
            | Action::List
            | Action::Query
            | Action::History
            | Action::Changes
            | Action::Sync => Permission::Read,
            Action::Save | Action::Restore | Action::Rollback | Action::Register => {
                Permission::Write
            }
            Action::Delete => Permission::Delete,
            Action::Purge => Permission::Admin,
        }
    }

    /// The stable code errors carry (`operation`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Load => "load",
            Action::List => "list",
            Action::Query => "query",
            Action::History => "history",
            Action::Changes => "changes",
            Action::Save => "save",
            Action::Delete => "delete",
            Action::Restore => "restore",
            Action::Purge => "purge",
            Action::Rollback => "rollback",
            Action::Register => "register",
            Action::Sync => "sync",
        }
    }
}

/// The acting user and the roles they hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// User id, recorded as `owner` / `updated_by` / history actor.
    pub id: String,
    /// Roles the policy grants permissions to.
    #[serde(default)]
    pub roles: Vec<String>,
}

impl Actor {
    /// An actor with roles.
    pub fn new<I, S>(id: impl Into<String>, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Actor {
            id: id.into(),
            roles: roles.into_iter().map(Into::into).collect(),
        }
    }

    /// The `system` actor with no roles (enough under an allow-all policy).
    pub fn system() -> Self {
        Actor::new("system", Vec::<String>::new())
    }
}

/// Which roles may do what on which metadata types.
///
/// `roles` maps a role to a map from metadata type (or `*` for every type) to
/// the permissions granted; `admin` implies the other three. With
/// `allow_all`, every check passes (the default, for single-user setups).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessPolicy {
    /// When true, every operation is allowed (`allowAll` in JSON).
    #[serde(default)]
    pub allow_all: bool,
    /// role -> type (or `*`) -> permissions.
    #[serde(default)]
    pub roles: BTreeMap<String, BTreeMap<String, Vec<Permission>>>,
}

impl Default for AccessPolicy {
    fn default() -> Self {
        AccessPolicy::allow_all()
    }
}

impl AccessPolicy {
    /// Everything allowed.
    pub fn allow_all() -> Self {
        AccessPolicy {
            allow_all: true,
            roles: BTreeMap::new(),
        }
    }

    /// Nothing allowed until granted.
    pub fn deny_all() -> Self {
        AccessPolicy {
            allow_all: false,
            roles: BTreeMap::new(),
        }
    }

    /// Grants `permissions` on `type_pattern` (a type or `*`) to `role`.
    pub fn grant(mut self, role: &str, type_pattern: &str, permissions: &[Permission]) -> Self {
        let perms = self
            .roles
            .entry(role.to_owned())
            .or_default()
            .entry(type_pattern.to_owned())
            .or_default();
        for p in permissions {
            if !perms.contains(p) {
                perms.push(*p);
            }
        }
        self
    }

    /// True when one of `actor`'s roles grants `permission` (or admin) on
    /// `type_name` or on `*`.
    pub fn allows(&self, actor: &Actor, permission: Permission, type_name: &str) -> bool {
        if self.allow_all {
            return true;
        }
        actor.roles.iter().any(|role| {
            self.roles.get(role).is_some_and(|types| {
                [type_name, "*"].iter().any(|t| {
                    types.get(*t).is_some_and(|perms| {
                        perms.contains(&permission) || perms.contains(&Permission::Admin)
                    })
                })
            })
        })
    }

    /// `Ok` when `actor` may do `action` on `type_name`, else `FORBIDDEN`
    /// naming the action, type and permission.
    pub fn check(&self, actor: &Actor, action: Action, type_name: &str) -> Result<()> {
        let permission = action.permission();
        if self.allows(actor, permission, type_name) {
            Ok(())
        } else {
            Err(Error::Forbidden {
                operation: action.as_str().to_owned(),
                type_name: type_name.to_owned(),
                permission: permission.as_str().to_owned(),
                actor: actor.id.clone(),
            })
        }
    }
}
