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

use super::boundary::{parse_json_text, written_array_to_js};
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
        Ok(match self.plan(type_name, name, definition) {
            Plan::Copy(object) => copy_plain(&object),
            Plan::Parse(keep) => self.settle(keep, parse_json_text(definition.json_text())?),
        })
    }

    /// [`fresh`](Self::fresh) of many definitions of one type, in order:
    /// those parsed (not copied) are parsed together, from one JSON text
    /// (one crossing and one `JSON.parse` rather than one per definition).
    pub fn fresh_many<'d>(
        &self,
        type_name: &str,
        items: impl Iterator<Item = (&'d str, &'d Definition)>,
    ) -> Result<js_sys::Array> {
        let mut plans = Vec::new();
        let mut texts: Vec<&Definition> = Vec::new();
        for (name, definition) in items {
            let plan = self.plan(type_name, name, definition);
            if let Plan::Parse(_) = plan {
                texts.push(definition);
            }
            plans.push(plan);
        }
        let parsed: js_sys::Array = written_array_to_js(
            &texts,
            |d| d.json_text().len(),
            |out, d| out.push_str(d.json_text()),
        )?
        .unchecked_into();
        let out = js_sys::Array::new();
        let mut next = 0;
        for plan in plans {
            out.push(&match plan {
                Plan::Copy(object) => copy_plain(&object),
                Plan::Parse(keep) => {
                    next += 1;
                    self.settle(keep, parsed.get(next - 1))
                }
            });
        }
        Ok(out)
    }

    /// How to hand out `definition` for (type, name): a copy of the object
    /// kept for it, or its text parsed, the parsed object to be kept when
    /// this is its second request. A definition not kept yet is remembered.
    fn plan(&self, type_name: &str, name: &str, definition: &Definition) -> Plan {
        let key = (type_name.to_owned(), name.to_owned());
        if let Some(entry) = self.kept.borrow().get(&key) {
            if same(&entry.definition, definition) {
                return match &entry.object {
                    Some(object) => Plan::Copy(object.clone()),
                    // Asked for again: keep a parsed object from now on.
                    None => Plan::Parse(Some(key)),
                };
            }
        }
        self.remember(key, definition);
        Plan::Parse(None)
    }

    /// What a parsed definition hands out: the object itself, or, when it
    /// is kept under `keep`, a copy (the kept one stays private).
    fn settle(&self, keep: Option<(String, String)>, object: JsValue) -> JsValue {
        let Some(key) = keep else {
            return object;
        };
        let copy = copy_plain(&object);
        // Unless everything kept was dropped meanwhile.
        if let Some(entry) = self.kept.borrow_mut().get_mut(&key) {
            entry.object = Some(object);
        }
        copy
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

/// How [`Copies`] hands out one definition.
enum Plan {
    /// A copy of this kept object.
    Copy(JsValue),
    /// The text parsed; the object kept under this key (its second request)
    /// or not.
    Parse(Option<(String, String)>),
}

/// The same definition: one allocation, or the same JSON text (which parses
/// to the same object).
fn same(a: &Definition, b: &Definition) -> bool {
    Definition::ptr_eq(a, b) || same_text(a.json_text(), b.json_text())
}
