//! Record queries: filters and paging.

use serde::{Deserialize, Serialize};

use crate::record::{MetadataRecord, Source};

/// Filters for [`crate::MetadataService::query`]; every given filter must
/// match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Query {
    /// Only this metadata type.
    #[serde(rename = "type")]
    pub type_name: Option<String>,
    /// Only records carrying every one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Only records from this source.
    pub source: Option<Source>,
    /// Only records owned by this user.
    pub owner: Option<String>,
    /// Only active (true) or only deleted (false) records; both when absent.
    pub active: Option<bool>,
    /// Only records updated at or after this RFC 3339 time.
    pub updated_since: Option<String>,
    /// Matches to skip (paging).
    #[serde(default)]
    pub offset: usize,
    /// Most matches to return (all when absent).
    pub limit: Option<usize>,
}

impl Query {
    /// A query for every record of one type.
    pub fn of_type(type_name: &str) -> Self {
        Query {
            type_name: Some(type_name.to_owned()),
            ..Query::default()
        }
    }

    /// Whether `record` passes the tag, source, owner and active filters
    /// (type and time are applied by the service).
    pub fn matches(&self, record: &MetadataRecord) -> bool {
        self.tags.iter().all(|t| record.tags.contains(t))
            && self.source.is_none_or(|s| s == record.source)
            && self.owner.as_ref().is_none_or(|o| *o == record.owner)
            && self.active.is_none_or(|a| a == record.is_active)
    }
}

/// One page of query results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryPage {
    /// The records of this page, sorted by type then name.
    pub items: Vec<MetadataRecord>,
    /// How many records matched in all.
    pub total: usize,
    /// The offset this page starts at.
    pub offset: usize,
    /// The page size asked for, if any.
    pub limit: Option<usize>,
}

impl QueryPage {
    /// Cuts one page out of all matches.
    pub fn paginate(matched: Vec<MetadataRecord>, offset: usize, limit: Option<usize>) -> Self {
        let total = matched.len();
        let items = matched
            .into_iter()
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .collect();
        QueryPage {
            items,
            total,
            offset,
            limit,
        }
    }
}
