//! The record host contract: storage over JavaScript callbacks for hosts
//! that are databases (SQLite, PostgreSQL), with real columns instead of
//! keys to parse. The host object has `contract: 'records'` and these
//! functions (each may answer directly or with a Promise):
//!
//! | function | answers |
//! |---|---|
//! | `get(key)` | the head of `key` (`{ tenant_id, type, name }`) as JSON text or an object, or null |
//! | `readCurrent(keys)` | per key, `{ record, lastVersion }`: the head (or null) and the highest version ever written |
//! | `list(tenant, type)` | the heads of a scope (`tenant` null: global), of one type when `type` is not null |
//! | `history(key)` | every version of `key`, oldest first: archived versions and the head, as history entries |
//! | `changes(tenant, { since, type, name, limit })` | the scope's change log after `since`, oldest first |
//! | `lastSequence(tenant)` | the scope's last sequence number (0: none) |
//! | `commit(batch)` | applies a batch (below), answers `{ firstSeq }` or `{ conflict: { index, found } }` |
//! | `watch(onChange)` (optional) | calls `onChange(event)` for changes committed by other processes; returns a function that stops |
//!
//! `commit(batch)` receives `{ tenant_id, changes: [{ tenant_id, type, name,
//! expect, record | tombstone }] }`, where `expect` is the head's version
//! the change replaces (null: no head), `record` a new head's columns and
//! `tombstone` a purge's history entry, their `data` as JSON text. In one
//! transaction the host must: check every `expect` against the head
//! (refusing the whole batch with `{ conflict: { index, found } }` when one
//! fails); take the next sequence numbers of the scope in batch order
//! (gap-free under concurrent writers: lock the scope's counter row);
//! insert each replaced head into the history unchanged (never replacing a
//! history row); write the new head, or delete it and insert the
//! tombstone; and answer the first sequence number taken.

use std::cell::RefCell;
use std::rc::Rc;

use async_trait::async_trait;
use js_sys::Array;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::boundary::{call_quietly, json_text_wrapping, parse_json_text, to_js};
use super::convert::get;
use super::host::{Host, Shape};
use crate::error::{Error, Result};
use crate::events::{ChangeEvent, ChangeQuery};
use crate::key::RecordKey;
use crate::record::{HistoryEntry, MetadataRecord, Operation, Source};
use crate::store::{codec, Batch, Change, Current, Feed, Origin, Store};

/// The functions every record host has.
const REQUIRED: [&str; 7] = [
    "get",
    "readCurrent",
    "list",
    "history",
    "changes",
    "lastSequence",
    "commit",
];

/// The callback given to a host's `watch`, and the function that stops it.
type Watching = (Closure<dyn FnMut(JsValue)>, JsValue);

/// A [`Store`] over a record host.
pub struct HostRecords {
    host: Host,
    feed: Feed,
    /// The callback given to the host's `watch`, and what stops it.
    watching: RefCell<Option<Watching>>,
}

impl std::fmt::Debug for HostRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostRecords")
            .field("kind", &self.host.kind())
            .finish()
    }
}

impl Drop for HostRecords {
    fn drop(&mut self) {
        if let Some((_, stop)) = self.watching.borrow_mut().take() {
            if let Some(f) = stop.dyn_ref::<js_sys::Function>() {
                call_quietly(f);
            }
        }
    }
}

/// A new head's columns as the host receives them.
#[derive(Serialize)]
struct RowOut<'a> {
    #[serde(rename = "type")]
    type_name: &'a str,
    name: &'a str,
    data: &'a str,
    version: u64,
    checksum: &'a str,
    source: Source,
    is_active: bool,
    owner: &'a str,
    tenant_id: Option<&'a str>,
    tags: &'a [String],
    created_at: &'a str,
    updated_at: &'a str,
    updated_by: Option<&'a str>,
    operation: Operation,
}

/// A purge's tombstone as the host receives it.
#[derive(Serialize)]
struct EntryOut<'a> {
    tenant_id: Option<&'a str>,
    #[serde(rename = "type")]
    type_name: &'a str,
    name: &'a str,
    version: u64,
    operation: Operation,
    checksum: &'a str,
    actor: &'a str,
    timestamp: &'a str,
    is_active: bool,
    data: &'a str,
}

#[derive(Serialize)]
struct ChangeOut<'a> {
    tenant_id: Option<&'a str>,
    #[serde(rename = "type")]
    type_name: &'a str,
    name: &'a str,
    expect: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<RowOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tombstone: Option<EntryOut<'a>>,
}

#[derive(Serialize)]
struct BatchOut<'a> {
    tenant_id: Option<&'a str>,
    changes: Vec<ChangeOut<'a>>,
}

fn row_out(r: &MetadataRecord) -> RowOut<'_> {
    RowOut {
        type_name: &r.type_name,
        name: &r.name,
        data: r.data.json_text(),
        version: r.version,
        checksum: &r.checksum,
        source: r.source,
        is_active: r.is_active,
        owner: &r.owner,
        tenant_id: r.tenant_id.as_deref(),
        tags: &r.tags,
        created_at: &r.created_at,
        updated_at: &r.updated_at,
        updated_by: r.updated_by.as_deref(),
        operation: r.operation,
    }
}

fn entry_out(h: &HistoryEntry) -> EntryOut<'_> {
    EntryOut {
        tenant_id: h.tenant_id.as_deref(),
        type_name: &h.type_name,
        name: &h.name,
        version: h.version,
        operation: h.operation,
        checksum: &h.checksum,
        actor: &h.actor,
        timestamp: &h.timestamp,
        is_active: h.is_active,
        data: h.data.json_text(),
    }
}

fn change_out(c: &Change) -> ChangeOut<'_> {
    let expect = c.expect().version();
    match c {
        Change::Put { record, .. } => ChangeOut {
            tenant_id: record.tenant_id.as_deref(),
            type_name: &record.type_name,
            name: &record.name,
            expect,
            record: Some(row_out(record)),
            tombstone: None,
        },
        Change::Purge { tombstone, .. } => ChangeOut {
            tenant_id: tombstone.tenant_id.as_deref(),
            type_name: &tombstone.type_name,
            name: &tombstone.name,
            expect,
            record: None,
            tombstone: Some(entry_out(tombstone)),
        },
    }
}

fn tenant_arg(tenant_id: Option<&str>) -> JsValue {
    tenant_id.map_or(JsValue::NULL, JsValue::from_str)
}

/// JSON text of a value a host answered (text, or plain data).
fn text_of(value: &JsValue, operation: &str) -> Result<Option<String>> {
    if value.is_null() || value.is_undefined() {
        return Ok(None);
    }
    match super::boundary::js_string(value)? {
        Some(t) => Ok(Some(t)),
        None => {
            // A record or event: its own level does not count against its
            // definition's nesting.
            json_text_wrapping(value, "answer", 1)
                .map(Some)
                .map_err(|e| Error::HostCallbackFailed {
                    operation: operation.to_owned(),
                    message: e.to_string(),
                })
        }
    }
}

impl HostRecords {
    /// Checks that `host` has the functions of the contract.
    pub fn new(host: Host) -> Result<Self> {
        host.require(&REQUIRED, "record")?;
        Ok(HostRecords {
            host,
            feed: Feed::new(),
            watching: RefCell::new(None),
        })
    }

    /// Hears, through the host's optional `watch(onChange)`, the changes
    /// committed by other processes on the same database, and announces them
    /// on the feed (whose followers fill any gap from the change log).
    pub async fn watch(self: &Rc<Self>) -> Result<()> {
        if !self.host.has("watch") {
            return Ok(());
        }
        let me = Rc::downgrade(self);
        let on_change = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
            let Some(store) = me.upgrade() else { return };
            let decoded = text_of(&event, "watch")
                .ok()
                .flatten()
                .and_then(|t| serde_json::from_str::<ChangeEvent>(&t).ok());
            // An event that does not decode still says the store changed:
            // nothing to announce, and the next change's gap is read from
            // the log.
            if let Some(event) = decoded {
                store.feed.announce(&[event], Origin::Remote);
            }
        });
        let stop = self
            .host
            .call("watch", &[on_change.as_ref().clone()], Shape::Raw)
            .await?;
        *self.watching.borrow_mut() = Some((on_change, stop));
        Ok(())
    }

    fn bad_answer(operation: &str, message: impl Into<String>) -> Error {
        Error::HostCallbackFailed {
            operation: operation.to_owned(),
            message: message.into(),
        }
    }
}

#[async_trait(?Send)]
impl Store for HostRecords {
    fn kind(&self) -> &str {
        self.host.kind()
    }

    fn feed(&self) -> &Feed {
        &self.feed
    }

    async fn get(&self, key: &RecordKey) -> Result<Option<MetadataRecord>> {
        match self.host.text("get", &[to_js(key)?]).await? {
            None => Ok(None),
            Some(text) => codec::record_at(&text, key).map(Some),
        }
    }

    async fn read_current(&self, keys: &[RecordKey]) -> Result<Vec<Current>> {
        let answer = self
            .host
            .call("readCurrent", &[to_js(keys)?], Shape::Current)
            .await?;
        if !Array::is_array(&answer) {
            return Err(Self::bad_answer("readCurrent", "did not return an array"));
        }
        let items: Array = answer.unchecked_into();
        if items.length() as usize != keys.len() {
            return Err(Self::bad_answer(
                "readCurrent",
                format!(
                    "answered {} entries for {} keys",
                    items.length(),
                    keys.len()
                ),
            ));
        }
        keys.iter()
            .zip(items.iter())
            .map(|(key, item)| {
                let record = match text_of(&get(&item, "record"), "readCurrent")? {
                    Some(text) => Some(codec::record_at(&text, key)?),
                    None => None,
                };
                let last = get(&item, "lastVersion").as_f64().unwrap_or(0.0);
                if !(last >= 0.0 && last.fract() == 0.0) {
                    return Err(Self::bad_answer(
                        "readCurrent",
                        "lastVersion is not a non-negative integer",
                    ));
                }
                let last_version = (last as u64).max(record.as_ref().map_or(0, |r| r.version));
                Ok(Current {
                    record,
                    last_version,
                    unreadable: None,
                })
            })
            .collect()
    }

    async fn list(
        &self,
        tenant_id: Option<&str>,
        type_name: Option<&str>,
    ) -> Result<Vec<MetadataRecord>> {
        let texts = self
            .host
            .texts(
                "list",
                &[
                    tenant_arg(tenant_id),
                    type_name.map_or(JsValue::NULL, JsValue::from_str),
                ],
            )
            .await?;
        codec::records_in_scope(texts.into_iter().map(Ok), tenant_id, type_name)
    }

    async fn history(&self, key: &RecordKey) -> Result<Vec<HistoryEntry>> {
        let texts = self.host.texts("history", &[to_js(key)?]).await?;
        codec::archived_of(texts.into_iter().map(Ok), key)
    }

    async fn changes(
        &self,
        tenant_id: Option<&str>,
        query: &ChangeQuery,
    ) -> Result<Vec<ChangeEvent>> {
        let texts = self
            .host
            .texts("changes", &[tenant_arg(tenant_id), to_js(query)?])
            .await?;
        let scope = RecordKey::new(tenant_id, "*", "*");
        let mut events = Vec::with_capacity(texts.len());
        for text in texts {
            let event: ChangeEvent = serde_json::from_str(&text).map_err(|e| Error::Corrupted {
                key: Box::new(scope.clone()),
                message: format!("a change log entry does not decode: {e}"),
            })?;
            if event.tenant_id.as_deref() != tenant_id {
                return Err(Error::Corrupted {
                    key: Box::new(event.key()),
                    message: format!("listed in the change log of {scope} but belongs elsewhere"),
                });
            }
            events.push(event);
        }
        Ok(query.finish(events))
    }

    async fn last_sequence(&self, tenant_id: Option<&str>) -> Result<u64> {
        self.host
            .count("lastSequence", &[tenant_arg(tenant_id)])
            .await
    }

    async fn apply(&self, batch: &Batch) -> Result<u64> {
        let out = BatchOut {
            tenant_id: batch.tenant_id.as_deref(),
            changes: batch.changes.iter().map(change_out).collect(),
        };
        let text = codec::encode(&out)?;
        let answer = self
            .host
            .call("commit", &[parse_json_text(&text)?], Shape::Data)
            .await?;
        let conflict = get(&answer, "conflict");
        if conflict.is_object() {
            let index = get(&conflict, "index").as_f64().unwrap_or(-1.0);
            let change = (index >= 0.0)
                .then(|| batch.changes.get(index as usize))
                .flatten()
                .ok_or_else(|| {
                    Self::bad_answer("commit", "reported a conflict on no change of the batch")
                })?;
            let found = get(&conflict, "found").as_f64().map(|v| v as u64);
            return Err(change.expect().conflict(&change.key(), found));
        }
        match get(&answer, "firstSeq").as_f64() {
            Some(first) if first >= 1.0 && first.fract() == 0.0 => Ok(first as u64),
            _ => Err(Self::bad_answer(
                "commit",
                "answered neither { firstSeq } nor { conflict }",
            )),
        }
    }
}

/// Whether a host value asks for the record contract.
pub fn is_record_host(host: &Host) -> bool {
    super::boundary::host_string(host.object(), "contract").as_deref() == Some("records")
}
