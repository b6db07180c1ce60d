/// Every failure the engine reports. `src/ffi/result.rs` maps each variant to one GATResult code;
/// the message becomes the caller's last-error text, so it says what was wrong and where.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A NULL, destroyed or wrong-type handle reached the library.
    #[error("{0}")]
    InvalidHandle(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    NoSuchKey(String),
    #[error("{0}")]
    KeyType(String),
    #[error("{0}")]
    DuplicateKey(String),
    #[error("{0}")]
    InvalidEncoding(String),
    #[error("{0}")]
    NotImplemented(String),
    #[error("{0}")]
    NoMatchingResource(String),
    #[error("{0}")]
    NoMatchingAdaptor(String),
    #[error("{0}")]
    UnknownFormat(String),
    #[error("{0}")]
    FileOpen(String),
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    NotCheckpointable(String),
    #[error("{0}")]
    NoCheckpoint(String),
    #[error("{0}")]
    CheckpointCorrupt(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    RolledBack(String),
    /// The journal (the SQLite job database) failed.
    #[error("journal: {0}")]
    Journal(String),
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Adaptor(#[from] gat_adaptor::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Prefix the message with where it happened, keeping the kind.
    pub fn context(self, what: impl std::fmt::Display) -> Error {
        use Error::*;
        match self {
            InvalidHandle(m) => InvalidHandle(format!("{what}: {m}")),
            InvalidParameter(m) => InvalidParameter(format!("{what}: {m}")),
            InvalidState(m) => InvalidState(format!("{what}: {m}")),
            NoSuchKey(m) => NoSuchKey(format!("{what}: {m}")),
            KeyType(m) => KeyType(format!("{what}: {m}")),
            DuplicateKey(m) => DuplicateKey(format!("{what}: {m}")),
            InvalidEncoding(m) => InvalidEncoding(format!("{what}: {m}")),
            NotImplemented(m) => NotImplemented(format!("{what}: {m}")),
            NoMatchingResource(m) => NoMatchingResource(format!("{what}: {m}")),
            NoMatchingAdaptor(m) => NoMatchingAdaptor(format!("{what}: {m}")),
            UnknownFormat(m) => UnknownFormat(format!("{what}: {m}")),
            FileOpen(m) => FileOpen(format!("{what}: {m}")),
            Io(m) => Io(format!("{what}: {m}")),
            NotCheckpointable(m) => NotCheckpointable(format!("{what}: {m}")),
            NoCheckpoint(m) => NoCheckpoint(format!("{what}: {m}")),
            CheckpointCorrupt(m) => CheckpointCorrupt(format!("{what}: {m}")),
            Timeout(m) => Timeout(format!("{what}: {m}")),
            RolledBack(m) => RolledBack(format!("{what}: {m}")),
            Journal(m) => Journal(format!("{what}: {m}")),
            Failed(m) => Failed(format!("{what}: {m}")),
            Adaptor(e) => super::tracking::adaptor_error(e, what),
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Journal(e.to_string())
    }
}
