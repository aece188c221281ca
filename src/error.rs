//! The one error type of the crate.
//!
//! Every variant has a stable machine-readable [`Error::code`]; the JavaScript
//! bindings expose it as `error.code`, so callers branch on the code and never
//! on the message text.

use crate::key::RecordKey;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the metadata core.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The record (or the requested version of it) does not exist.
    #[error("{key} not found{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    NotFound {
        /// The record that was looked up.
        key: Box<RecordKey>,
        /// What exactly was missing (a version, an active row...).
        detail: Option<String>,
    },

    /// Optimistic concurrency failed: the stored record is not the one the
    /// caller based its change on. Nothing was written.
    #[error("conflict on {key}: expected {expected}, found {actual}")]
    Conflict {
        /// The record whose write was refused.
        key: Box<RecordKey>,
        /// What the caller expected (`version 3`, `checksum ab12...`).
        expected: String,
        /// What is stored (`version 4`, `no record`...).
        actual: String,
        /// The stored version (0 when there is no record).
        actual_version: u64,
    },

    /// Input failed validation: bad identifier, non-object data, hostile
    /// nesting, non-finite number. Nothing was changed.
    #[error("invalid {field}: {message}")]
    Validation {
        /// Which input was wrong (`type`, `name`, `data`, `tenant`...).
        field: String,
        /// Why.
        message: String,
    },

    /// The access policy refused the operation.
    #[error("{actor} lacks the {permission} permission on metadata of type '{type_name}' (operation: {operation})")]
    Forbidden {
        /// The operation attempted ([`crate::access::Action`]'s code:
        /// `save`, `delete`, `purge`...).
        operation: String,
        /// The metadata type it was attempted on.
        type_name: String,
        /// The permission it needs (`read`, `write`, `delete`, `admin`).
        permission: String,
        /// The acting user.
        actor: String,
    },

    /// The storage backend cannot be used (closed, blocked, unreachable).
    #[error("storage unavailable: {message}")]
    StorageUnavailable {
        /// The backend's own explanation.
        message: String,
    },

    /// The backend is out of space; nothing of the failed write was kept.
    #[error("storage quota exceeded: {message}")]
    QuotaExceeded {
        /// The backend's own explanation.
        message: String,
    },

    /// A stored record does not match its own checksum, or cannot be decoded.
    #[error("corrupted record {key}: {message}")]
    Corrupted {
        /// The damaged record.
        key: Box<RecordKey>,
        /// What is wrong with it.
        message: String,
    },

    /// A host-provided storage callback threw or rejected.
    #[error("host callback '{operation}' failed: {message}")]
    HostCallbackFailed {
        /// The callback that failed (`get`, `put`, `list`...).
        operation: String,
        /// The error it raised.
        message: String,
    },

    /// A fallback-chain layer failed and the chain runs in strict mode.
    #[error("{layer} layer failed: {source}")]
    LayerFailed {
        /// The layer that failed (`database`, `registry`, `filesystem`).
        layer: String,
        /// The layer's error.
        source: Box<Error>,
    },

    /// One record of an all-or-nothing batch failed; nothing was written.
    #[error("batch item {index} ({key}) failed: {source}")]
    Batch {
        /// Position of the failing item in the batch.
        index: usize,
        /// The failing record.
        key: Box<RecordKey>,
        /// Why it failed.
        source: Box<Error>,
    },

    /// The operation is not supported by this component.
    #[error("unsupported: {message}")]
    Unsupported {
        /// What was attempted.
        message: String,
    },

    /// A storage backend failed in a way none of the above describes.
    #[error("storage error: {message}")]
    Storage {
        /// The backend's own explanation.
        message: String,
    },
}

impl Error {
    /// The stable code of this error, as JavaScript sees it in `error.code`.
    ///
    /// Wrapping variants ([`Error::Batch`], [`Error::LayerFailed`]) report the
    /// code of the error they wrap, so a conflict inside a batch is still a
    /// `CONFLICT`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "NOT_FOUND",
            Error::Conflict { .. } => "CONFLICT",
            Error::Validation { .. } => "VALIDATION",
            Error::Forbidden { .. } => "FORBIDDEN",
            Error::StorageUnavailable { .. } => "STORAGE_UNAVAILABLE",
            Error::QuotaExceeded { .. } => "QUOTA_EXCEEDED",
            Error::Corrupted { .. } => "CORRUPTED",
            Error::HostCallbackFailed { .. } => "HOST_CALLBACK_FAILED",
            Error::LayerFailed { source, .. } | Error::Batch { source, .. } => source.code(),
            Error::Unsupported { .. } => "UNSUPPORTED",
            Error::Storage { .. } => "STORAGE_ERROR",
        }
    }

    /// Shorthand for a [`Error::Validation`].
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for a [`Error::Batch`]: item `index`, of `key`, failed
    /// with `source`.
    pub fn batch(index: usize, key: RecordKey, source: Error) -> Self {
        Error::Batch {
            index,
            key: Box::new(key),
            source: Box::new(source),
        }
    }

    /// Shorthand for a [`Error::NotFound`].
    pub fn not_found(key: &RecordKey, detail: Option<String>) -> Self {
        Error::NotFound {
            key: Box::new(key.clone()),
            detail,
        }
    }

    /// The innermost error, looking through [`Error::Batch`] and
    /// [`Error::LayerFailed`].
    pub fn root(&self) -> &Error {
        match self {
            Error::LayerFailed { source, .. } | Error::Batch { source, .. } => source.root(),
            other => other,
        }
    }
}
