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
    #[serde(default, deserialize_with = "count::exact")]
    pub offset: u64,
    /// Most matches to return (all when absent).
    #[serde(default, deserialize_with = "count::optional")]
    pub limit: Option<u64>,
}

/// Offsets and limits read from any non-negative integer, held to what
/// `u64` holds (a larger one, `1e21`, is `u64::MAX`): a count past what
/// the platform counts in `usize` (32 bits in WebAssembly), such as
/// JavaScript's `Number.MAX_SAFE_INTEGER` for "no limit", means as many as
/// there can be rather than an error, and a query's page still says the
/// count it was given.
pub(crate) mod count {
    use serde::de::{Deserialize, Deserializer, Error, Unexpected, Visitor};

    struct Count(u64);

    impl<'de> Deserialize<'de> for Count {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Count;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a non-negative integer")
                }
                fn visit_u64<E: Error>(self, v: u64) -> Result<Count, E> {
                    Ok(Count(v))
                }
                fn visit_i64<E: Error>(self, v: i64) -> Result<Count, E> {
                    match u64::try_from(v) {
                        Ok(v) => self.visit_u64(v),
                        Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
                    }
                }
                fn visit_f64<E: Error>(self, v: f64) -> Result<Count, E> {
                    // Integers past 2^64 arrive as doubles (1e21).
                    if v >= 0.0 && v.fract() == 0.0 {
                        // `as` saturates at u64::MAX.
                        Ok(Count(v as u64))
                    } else {
                        Err(E::invalid_value(Unexpected::Float(v), &self))
                    }
                }
            }
            d.deserialize_any(V)
        }
    }

    pub fn exact<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        Count::deserialize(d).map(|c| c.0)
    }

    pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Option::<Count>::deserialize(d).map(|c| c.map(|c| c.0))
    }

    /// [`optional`] held to what `usize` holds.
    pub fn optional_held<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
        optional(d).map(|c| c.map(held))
    }

    /// A count as a `usize`, at most `usize::MAX`.
    pub fn held(count: u64) -> usize {
        usize::try_from(count).unwrap_or(usize::MAX)
    }
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
    pub offset: u64,
    /// The page size asked for, if any.
    pub limit: Option<u64>,
}

impl QueryPage {
    /// Cuts one page out of all matches.
    pub fn paginate(matched: Vec<MetadataRecord>, offset: u64, limit: Option<u64>) -> Self {
        let total = matched.len();
        let items = matched
            .into_iter()
            .skip(count::held(offset))
            .take(limit.map_or(usize::MAX, count::held))
            .collect();
        QueryPage {
            items,
            total,
            offset,
            limit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_non_negative_integers_held_to_u64() {
        let q: Query = serde_json::from_str(r#"{"offset":2,"limit":1e21}"#).unwrap();
        assert_eq!((q.offset, q.limit), (2, Some(u64::MAX)));
        let q: Query = serde_json::from_str(r#"{"limit":null}"#).unwrap();
        assert_eq!((q.offset, q.limit), (0, None));
        let q: Query = serde_json::from_str(r#"{"limit":18446744073709551615}"#).unwrap();
        assert_eq!(q.limit, Some(u64::MAX));
        for bad in [r#"{"limit":-1}"#, r#"{"offset":1.5}"#, r#"{"limit":"2"}"#] {
            let e = serde_json::from_str::<Query>(bad).unwrap_err().to_string();
            assert!(e.contains("expected a non-negative integer"), "{bad}: {e}");
        }
    }
}
