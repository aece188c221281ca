//! The in-memory registry: metadata registered by code (the ADR's
//! in-memory mode), the second layer of the fallback chain.

use serde_json::Value;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};

use crate::definition::Definition;
use crate::error::Result;
use crate::validate;

/// Told of every (type, name) registered or unregistered.
pub type Watcher = dyn Fn(&str, &str);

/// Code-registered definitions keyed by (type, name), shared by every chain
/// built on it (a service and the services derived from it).
#[derive(Default)]
pub struct Registry {
    items: RefCell<BTreeMap<(String, String), Definition>>,
    watchers: RefCell<Vec<Weak<Watcher>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("len", &self.len())
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Registers (or replaces) a definition, validated like a saved one.
    pub fn register(&self, type_name: &str, name: &str, data: Value) -> Result<()> {
        validate::type_name(type_name)?;
        validate::name(name)?;
        let definition = Definition::from_value(data)?;
        self.items
            .borrow_mut()
            .insert((type_name.to_owned(), name.to_owned()), definition);
        self.tell(type_name, name);
        Ok(())
    }

    /// Removes a definition; true when there was one.
    pub fn unregister(&self, type_name: &str, name: &str) -> bool {
        let removed = self
            .items
            .borrow_mut()
            .remove(&(type_name.to_owned(), name.to_owned()))
            .is_some();
        self.tell(type_name, name);
        removed
    }

    /// Calls `watcher` for every later change while it is alive (the
    /// registry holds it weakly).
    pub fn watch(&self, watcher: &Rc<Watcher>) {
        self.watchers.borrow_mut().push(Rc::downgrade(watcher));
    }

    fn tell(&self, type_name: &str, name: &str) {
        let watchers: Vec<Rc<Watcher>> = {
            let mut list = self.watchers.borrow_mut();
            list.retain(|w| w.strong_count() > 0);
            list.iter().filter_map(Weak::upgrade).collect()
        };
        for w in watchers {
            w(type_name, name);
        }
    }

    /// The definition registered for (type, name).
    pub fn get(&self, type_name: &str, name: &str) -> Option<Definition> {
        self.items
            .borrow()
            .get(&(type_name.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Every definition of a type, ordered by name.
    pub fn list(&self, type_name: &str) -> Vec<(String, Definition)> {
        self.items
            .borrow()
            .iter()
            .filter(|((t, _), _)| t == type_name)
            .map(|((_, n), v)| (n.clone(), v.clone()))
            .collect()
    }

    /// Number of registered definitions.
    pub fn len(&self) -> usize {
        self.items.borrow().len()
    }

    /// True when nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.items.borrow().is_empty()
    }
}
