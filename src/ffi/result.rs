//! GATResult values, their messages, and the one mapping from engine errors to results.

use super::types::GATResult;
use crate::engine::Error;
use gat_adaptor::Error as AdaptorError;

/// GAT's own facility number.
pub const GAT_FACILITY: u32 = 1;

// Each code below is spelled as an expression (severity error = 3, GAT's facility, the code) that
// cbindgen can copy into include/gat.h; it cannot evaluate a const fn call.

/// An unspecified failure.
pub const GAT_FAIL: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 1) as GATResult;
/// The operation is not implemented (by this adaptor or this library).
pub const GAT_NOTIMPL: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 2) as GATResult;
/// Memory could not be allocated.
pub const GAT_MEMORYFAILURE: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 3) as GATResult;
/// An adaptor of this name is already registered.
pub const GAT_DUPLICATE_ADAPTOR: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 4) as GATResult;
/// An adaptor could not be loaded.
pub const GAT_ADAPTOR_LOAD_FAILED: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 5) as GATResult;
/// An adaptor has no registration function.
pub const GAT_NO_REGISTER_FUNCTION: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 6) as GATResult;
/// A configuration entry is given twice.
pub const GAT_DUPLICATE_CONFIG: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 7) as GATResult;
/// A file could not be opened.
pub const GAT_FILE_OPEN_ERROR: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 8) as GATResult;
/// No such key.
pub const GAT_NO_SUCH_KEY: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 9) as GATResult;
/// The key holds a value of another type.
pub const GAT_KEY_TYPE_ERROR: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 10) as GATResult;
/// A NULL, destroyed or wrong-type handle.
pub const GAT_INVALID_HANDLE: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 11) as GATResult;
/// An invalid parameter.
pub const GAT_INVALID_PARAMETER: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 12) as GATResult;
/// An unknown version.
pub const GAT_UNKNOWN_VERSION: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 13) as GATResult;
/// No adaptor is registered for this capability.
pub const GAT_NO_REGISTERED_CPI: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 14) as GATResult;
/// The text is not valid UTF-8.
pub const GAT_INVALID_ENCODING: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 15) as GATResult;
/// The encoding is incomplete.
pub const GAT_INCOMPLETE_ENCODING: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 16) as GATResult;
/// No adaptor can do this.
pub const GAT_NO_MATCHING_CPI: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 17) as GATResult;
/// No resource matches the description.
pub const GAT_NO_MATCHING_RESOURCE: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 18) as GATResult;
/// The object has no such interface.
pub const GAT_NO_MATCHING_INTERFACE: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 19) as GATResult;
/// The input is in an unknown or malformed format.
pub const GAT_UNKNOWN_FORMAT: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 20) as GATResult;
/// The key is already present.
pub const GAT_DUPLICATE_KEY: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 21) as GATResult;
/// A remote call failed.
pub const GAT_RPC_FAILED: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 22) as GATResult;
/// An input/output error.
pub const GAT_IO_ERROR: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 23) as GATResult;
/// The call is not allowed in the object's current state.
pub const GAT_INVALID_STATE: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 24) as GATResult;
/// The job is not checkpointable.
pub const GAT_NOT_CHECKPOINTABLE: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 25) as GATResult;
/// There is no checkpoint to restart from.
pub const GAT_NO_CHECKPOINT: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 26) as GATResult;
/// Every checkpoint of the job failed verification.
pub const GAT_CHECKPOINT_CORRUPT: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 27) as GATResult;
/// A deadline passed.
pub const GAT_TIMEOUT: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 28) as GATResult;
/// The host or daemon cannot be reached.
pub const GAT_UNREACHABLE: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 29) as GATResult;
/// Permission denied.
pub const GAT_PERMISSION_DENIED: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 30) as GATResult;
/// A transient failure: retrying may work.
pub const GAT_TRY_AGAIN: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 31) as GATResult;
/// The migration failed and was rolled back: the original job runs on.
pub const GAT_MIGRATION_ROLLED_BACK: GATResult = (3u32 << 30 | GAT_FACILITY << 16 | 32) as GATResult;

/// Static description of each code, indexed by code.
pub(crate) fn message(rc: GATResult) -> &'static str {
    if rc == super::types::GAT_SUCCESS {
        return "success";
    }
    let severity = (rc as u32) >> 30;
    if severity < 2 {
        return "success (with information)";
    }
    if (rc as u32 >> 16) & 0xfff != GAT_FACILITY {
        return "a result from a facility libgat does not know";
    }
    match rc as u32 & 0xffff {
        1 => "an unspecified failure",
        2 => "the operation is not implemented (by this adaptor or this library)",
        3 => "memory could not be allocated",
        4 => "an adaptor of this name is already registered",
        5 => "an adaptor could not be loaded",
        6 => "an adaptor has no registration function",
        7 => "a configuration entry is given twice",
        8 => "a file could not be opened",
        9 => "no such key",
        10 => "the key holds a value of another type",
        11 => "a NULL, destroyed or wrong-type handle",
        12 => "an invalid parameter",
        13 => "an unknown version",
        14 => "no adaptor is registered for this capability",
        15 => "the text is not valid UTF-8",
        16 => "the encoding is incomplete",
        17 => "no adaptor can do this",
        18 => "no resource matches the description",
        19 => "the object has no such interface",
        20 => "the input is in an unknown or malformed format",
        21 => "the key is already present",
        22 => "a remote call failed",
        23 => "an input/output error",
        24 => "the call is not allowed in the object's current state",
        25 => "the job is not checkpointable",
        26 => "there is no checkpoint to restart from",
        27 => "every checkpoint of the job failed verification",
        28 => "a deadline passed",
        29 => "the host or daemon cannot be reached",
        30 => "permission denied",
        31 => "a transient failure: retrying may work",
        32 => "the migration failed and was rolled back: the original job runs on",
        _ => "an unknown GAT result code",
    }
}

/// The one match from errors to GATResult codes. Exhaustive on purpose: a new error variant must
/// be given its code here.
pub(crate) fn result_of(err: &Error) -> GATResult {
    match err {
        Error::InvalidHandle(_) => GAT_INVALID_HANDLE,
        Error::InvalidParameter(_) => GAT_INVALID_PARAMETER,
        Error::InvalidState(_) => GAT_INVALID_STATE,
        Error::NoSuchKey(_) => GAT_NO_SUCH_KEY,
        Error::KeyType(_) => GAT_KEY_TYPE_ERROR,
        Error::DuplicateKey(_) => GAT_DUPLICATE_KEY,
        Error::InvalidEncoding(_) => GAT_INVALID_ENCODING,
        Error::NotImplemented(_) => GAT_NOTIMPL,
        Error::NoMatchingResource(_) => GAT_NO_MATCHING_RESOURCE,
        Error::NoMatchingAdaptor(_) => GAT_NO_MATCHING_CPI,
        Error::UnknownFormat(_) => GAT_UNKNOWN_FORMAT,
        Error::FileOpen(_) => GAT_FILE_OPEN_ERROR,
        Error::Io(_) => GAT_IO_ERROR,
        Error::NotCheckpointable(_) => GAT_NOT_CHECKPOINTABLE,
        Error::NoCheckpoint(_) => GAT_NO_CHECKPOINT,
        Error::CheckpointCorrupt(_) => GAT_CHECKPOINT_CORRUPT,
        Error::Timeout(_) => GAT_TIMEOUT,
        Error::RolledBack(_) => GAT_MIGRATION_ROLLED_BACK,
        Error::Journal(_) => GAT_IO_ERROR,
        Error::Failed(_) => GAT_FAIL,
        Error::Adaptor(a) => match a {
            AdaptorError::Unsupported { .. } => GAT_NOTIMPL,
            AdaptorError::InvalidSpec(_) => GAT_INVALID_PARAMETER,
            AdaptorError::FileOpen(_) => GAT_FILE_OPEN_ERROR,
            AdaptorError::NoSuchJob(_) => GAT_INVALID_STATE,
            AdaptorError::Unreachable(_) => GAT_UNREACHABLE,
            AdaptorError::PermissionDenied(_) => GAT_PERMISSION_DENIED,
            AdaptorError::Timeout(_) => GAT_TIMEOUT,
            AdaptorError::TryAgain(_) => GAT_TRY_AGAIN,
            AdaptorError::Io { .. } => GAT_IO_ERROR,
            AdaptorError::Failed(_) => GAT_FAIL,
        },
    }
}
