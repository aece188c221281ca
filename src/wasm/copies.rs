//! The definitions a service hands out and takes in, kept per (type, name)
//! with their parsed objects.
//!
//! Every `load` answers with a new object the caller may change, as
//! upstream's `get` does. Parsing the definition's JSON text each time
//! (`JSON.parse`) costs about twice what copying an already parsed object
//! costs (a plain recursive copy; measured in BENCHMARKS.md), so a service
//! keeps the parsed object of the definition it handed out last, private
//! to it, and answers with copies of that. A save whose JSON text is the
//! text of the definition kept takes that definition as it is: the same
//! text is the same definition, validated and checksummed once.
//!
//! The chain still decides what a load returns and the store what a save
//! does: a kept object is used only for the very definition the chain
//! resolved (the same shared allocation, or the same JSON text, which
//! parses to the same object). A definition is parsed for keeping only on
//! its second request, so one-off reads cost what they did. The kept texts
//! are bounded ([`MAX_KEPT_BYTES`]); past the bound everything kept is
//! dropped.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use wasm_bindgen::prelude::*;

use super::boundary::parse_json_text;
use crate::definition::{same_text, Definition};
use crate::error::Result;

#[wasm_bindgen(module = "/src/wasm/glue.js")]
extern "C" {
    /// A deep copy of plain JSON data (what `JSON.parse` makes).
    #[wasm_bindgen(js_name = copyPlain)]
    fn copy_plain(value: &JsValue) -> JsValue;
}

/// Most JSON text, summed, whose parsed objects a service keeps.
pub const MAX_KEPT_BYTES: usize = 16 * 1024 * 1024;

struct Kept {
    definition: Definition,
    /// `None` until the definition is asked for a second time.
    object: Option<JsValue>,
}

/// The parsed definitions one service keeps (see the module documentation).
#[derive(Default)]
pub struct Copies {
    kept: RefCell<HashMap<(String, String), Kept>>,
    bytes: Cell<usize>,
}

impl Copies {
    /// A fresh JS object of `definition`, the one the chain resolved for
    /// (type, name).
    pub fn fresh(&self, type_name: &str, name: &str, definition: &Definition) -> Result<JsValue> {
        let key = (type_name.to_owned(), name.to_owned());
        {
            let mut kept = self.kept.borrow_mut();
            if let Some(entry) = kept.get_mut(&key) {
                if same(&entry.definition, definition) {
                    if let Some(object) = &entry.object {
                        return Ok(copy_plain(object));
                    }
                    // Asked for again: keep a parsed object from now on.
                    let object = parse_json_text(definition.json_text())?;
                    let out = copy_plain(&object);
                    entry.object = Some(object);
                    return Ok(out);
                }
            }
        }
        self.remember(key, definition);
        parse_json_text(definition.json_text())
    }

    /// The definition of `text` for (type, name): the one kept when its
    /// text is this text (validated and checksummed once already: the same
    /// text is the same definition), else a new one.
    pub fn definition(&self, type_name: &str, name: &str, text: String) -> Result<Definition> {
        let kept = self.kept.borrow();
        match kept.get(&(type_name.to_owned(), name.to_owned())) {
            Some(entry) if same_text(entry.definition.json_text(), &text) => {
                Ok(entry.definition.clone())
            }
            _ => Definition::from_json_text(text),
        }
    }

    /// Notes `definition` as what (type, name) holds after a write.
    pub fn took(&self, type_name: &str, name: &str, definition: &Definition) {
        let key = (type_name.to_owned(), name.to_owned());
        let known = self
            .kept
            .borrow()
            .get(&key)
            .is_some_and(|e| same(&e.definition, definition));
        if !known {
            self.remember(key, definition);
        }
    }

    /// Keeps `definition` (not yet parsed) for `key`, within the bound.
    fn remember(&self, key: (String, String), definition: &Definition) {
        let mut kept = self.kept.borrow_mut();
        if let Some(old) = kept.remove(&key) {
            let size = old.definition.json_text().len();
            self.bytes.set(self.bytes.get().saturating_sub(size));
        }
        let size = definition.json_text().len();
        if size > MAX_KEPT_BYTES {
            return;
        }
        if self.bytes.get() + size > MAX_KEPT_BYTES {
            kept.clear();
            self.bytes.set(0);
        }
        self.bytes.set(self.bytes.get() + size);
        kept.insert(
            key,
            Kept {
                definition: definition.clone(),
                object: None,
            },
        );
    }
}

/// The same definition: one allocation, or the same JSON text (which parses
/// to the same object).
fn same(a: &Definition, b: &Definition) -> bool {
    Definition::ptr_eq(a, b) || same_text(a.json_text(), b.json_text())
}
