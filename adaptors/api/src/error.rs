use std::fmt;

/// The one error type of every adaptor. The engine maps each variant to a GATResult exactly once.
/// Messages say which host, which path, what the OS or the batch system said; never a secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The adaptor cannot do this operation at all (maps to GAT_NOTIMPL).
    #[error("{adaptor} adaptor does not support {operation}")]
    Unsupported { adaptor: String, operation: &'static str },
    /// The job specification cannot be run as given (maps to GAT_INVALID_PARAMETER).
    #[error("{0}")]
    InvalidSpec(String),
    /// A file the job needs is missing or unreadable (maps to GAT_FILE_OPEN_ERROR).
    #[error("{0}")]
    FileOpen(String),
    /// The native job is not known to the resource (maps to GAT_INVALID_STATE).
    #[error("{0}")]
    NoSuchJob(String),
    /// The host or daemon cannot be reached (maps to GAT_UNREACHABLE).
    #[error("{0}")]
    Unreachable(String),
    /// Refused by the OS or the resource (maps to GAT_PERMISSION_DENIED).
    #[error("{0}")]
    PermissionDenied(String),
    /// A deadline passed (maps to GAT_TIMEOUT).
    #[error("{0}")]
    Timeout(String),
    /// Transient trouble; retrying may work (maps to GAT_TRY_AGAIN).
    #[error("{0}")]
    TryAgain(String),
    /// I/O failed (maps to GAT_IO_ERROR).
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    /// Anything else (maps to GAT_FAIL).
    #[error("{0}")]
    Failed(String),
}

impl Error {
    pub fn unsupported(adaptor: impl Into<String>, operation: &'static str) -> Self {
        Error::Unsupported { adaptor: adaptor.into(), operation }
    }

    /// An I/O error with what was being done when it happened.
    pub fn io(context: impl fmt::Display, source: std::io::Error) -> Self {
        Error::Io { context: context.to_string(), source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
