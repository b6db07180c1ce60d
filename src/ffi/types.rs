//! The C-visible types: opaque handle types, primitive typedefs, enums and result codes.
//! cbindgen turns this file into most of include/gat.h, so every item carries its C documentation.
#![allow(non_camel_case_types, non_upper_case_globals)]

/// GAT's boolean.
pub type GATBool = GATint32;
/// False.
pub const GATFalse: GATBool = 0;
/// True.
pub const GATTrue: GATBool = 1;
/// 16-bit signed integer.
pub type GATint16 = i16;
/// 32-bit signed integer.
pub type GATint32 = i32;
/// 64-bit signed integer.
pub type GATint64 = i64;
/// 16-bit unsigned integer.
pub type GATuint16 = u16;
/// 32-bit unsigned integer.
pub type GATuint32 = u32;
/// 64-bit unsigned integer.
pub type GATuint64 = u64;
/// 32-bit float.
pub type GATfloat32 = f32;
/// 64-bit float.
pub type GATdouble64 = f64;


/// Opaque object behind a GATObject handle: the root of GAT's object model: any handle converts to and from it.
pub struct GATObject_S {
    _private: [u8; 0],
}
/// Handle to a GATObject: the root of GAT's object model: any handle converts to and from it.
pub type GATObject = *mut GATObject_S;
/// Read-only handle to a GATObject.
pub type GATObject_const = *const GATObject_S;

/// Opaque object behind a GATContext handle: the GAT context: create one before any other call.
pub struct GATContext_S {
    _private: [u8; 0],
}
/// Handle to a GATContext: the GAT context: create one before any other call.
pub type GATContext = *mut GATContext_S;
/// Read-only handle to a GATContext.
pub type GATContext_const = *const GATContext_S;

/// Opaque object behind a GATPreferences handle: string key/value preferences that steer adaptor choice and behaviour.
pub struct GATPreferences_S {
    _private: [u8; 0],
}
/// Handle to a GATPreferences: string key/value preferences that steer adaptor choice and behaviour.
pub type GATPreferences = *mut GATPreferences_S;
/// Read-only handle to a GATPreferences.
pub type GATPreferences_const = *const GATPreferences_S;

/// Opaque object behind a GATTable handle: a hash of key to one typed value.
pub struct GATTable_S {
    _private: [u8; 0],
}
/// Handle to a GATTable: a hash of key to one typed value.
pub type GATTable = *mut GATTable_S;
/// Read-only handle to a GATTable.
pub type GATTable_const = *const GATTable_S;

/// Opaque object behind a GATString handle: an immutable string (a GATJobID is a GATString).
pub struct GATString_S {
    _private: [u8; 0],
}
/// Handle to a GATString: an immutable string (a GATJobID is a GATString).
pub type GATString = *mut GATString_S;
/// Read-only handle to a GATString.
pub type GATString_const = *const GATString_S;

/// Opaque object behind a GATList_String handle: an ordered list of strings.
pub struct GATList_String_S {
    _private: [u8; 0],
}
/// Handle to a GATList_String: an ordered list of strings.
pub type GATList_String = *mut GATList_String_S;
/// Read-only handle to a GATList_String.
pub type GATList_String_const = *const GATList_String_S;

/// Opaque object behind a GATLocation handle: a path or a file: URI.
pub struct GATLocation_S {
    _private: [u8; 0],
}
/// Handle to a GATLocation: a path or a file: URI.
pub type GATLocation = *mut GATLocation_S;
/// Read-only handle to a GATLocation.
pub type GATLocation_const = *const GATLocation_S;

/// Opaque object behind a GATTime handle: a point in time, seconds since the epoch.
pub struct GATTime_S {
    _private: [u8; 0],
}
/// Handle to a GATTime: a point in time, seconds since the epoch.
pub type GATTime = *mut GATTime_S;
/// Read-only handle to a GATTime.
pub type GATTime_const = *const GATTime_S;

/// Opaque object behind a GATSoftwareDescription handle: what to run: the c-api.md section 6 software keys.
pub struct GATSoftwareDescription_S {
    _private: [u8; 0],
}
/// Handle to a GATSoftwareDescription: what to run: the c-api.md section 6 software keys.
pub type GATSoftwareDescription = *mut GATSoftwareDescription_S;
/// Read-only handle to a GATSoftwareDescription.
pub type GATSoftwareDescription_const = *const GATSoftwareDescription_S;

/// Opaque object behind a GATHardwareResourceDescription handle: what hardware a job needs: the section 6 hardware keys.
pub struct GATHardwareResourceDescription_S {
    _private: [u8; 0],
}
/// Handle to a GATHardwareResourceDescription: what hardware a job needs: the section 6 hardware keys.
pub type GATHardwareResourceDescription = *mut GATHardwareResourceDescription_S;
/// Read-only handle to a GATHardwareResourceDescription.
pub type GATHardwareResourceDescription_const = *const GATHardwareResourceDescription_S;

/// Opaque object behind a GATResourceDescription handle: the base class of resource descriptions.
pub struct GATResourceDescription_S {
    _private: [u8; 0],
}
/// Handle to a GATResourceDescription: the base class of resource descriptions.
pub type GATResourceDescription = *mut GATResourceDescription_S;
/// Read-only handle to a GATResourceDescription.
pub type GATResourceDescription_const = *const GATResourceDescription_S;

/// Opaque object behind a GATJobDescription handle: a software description plus where (or on what) to run it.
pub struct GATJobDescription_S {
    _private: [u8; 0],
}
/// Handle to a GATJobDescription: a software description plus where (or on what) to run it.
pub type GATJobDescription = *mut GATJobDescription_S;
/// Read-only handle to a GATJobDescription.
pub type GATJobDescription_const = *const GATJobDescription_S;

/// Opaque object behind a GATResourceBroker handle: finds resources and submits jobs.
pub struct GATResourceBroker_S {
    _private: [u8; 0],
}
/// Handle to a GATResourceBroker: finds resources and submits jobs.
pub type GATResourceBroker = *mut GATResourceBroker_S;
/// Read-only handle to a GATResourceBroker.
pub type GATResourceBroker_const = *const GATResourceBroker_S;

/// Opaque object behind a GATList_GATResource handle: an ordered list of resources, best match first.
pub struct GATList_GATResource_S {
    _private: [u8; 0],
}
/// Handle to a GATList_GATResource: an ordered list of resources, best match first.
pub type GATList_GATResource = *mut GATList_GATResource_S;
/// Read-only handle to a GATList_GATResource.
pub type GATList_GATResource_const = *const GATList_GATResource_S;

/// Opaque object behind a GATResource handle: the base class of resources.
pub struct GATResource_S {
    _private: [u8; 0],
}
/// Handle to a GATResource: the base class of resources.
pub type GATResource = *mut GATResource_S;
/// Read-only handle to a GATResource.
pub type GATResource_const = *const GATResource_S;

/// Opaque object behind a GATHardwareResource handle: a place where jobs run: local:, an SSH host, a Slurm partition.
pub struct GATHardwareResource_S {
    _private: [u8; 0],
}
/// Handle to a GATHardwareResource: a place where jobs run: local:, an SSH host, a Slurm partition.
pub type GATHardwareResource = *mut GATHardwareResource_S;
/// Read-only handle to a GATHardwareResource.
pub type GATHardwareResource_const = *const GATHardwareResource_S;

/// Opaque object behind a GATJob handle: a submitted job.
pub struct GATJob_S {
    _private: [u8; 0],
}
/// Handle to a GATJob: a submitted job.
pub type GATJob = *mut GATJob_S;
/// Read-only handle to a GATJob.
pub type GATJob_const = *const GATJob_S;

/// A job id: a GATString (read it with GATString_GetBuffer()).
pub type GATJobID = GATString;
/// Read-only job id.
pub type GATJobID_const = GATString_const;

/// The class of a GAT object, as GATObject_GetType() reports it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GATType {
    GATType_Unknown = 0,
    GATType_GATContext = 1,
    GATType_GATPreferences = 2,
    GATType_GATTable = 3,
    GATType_GATString = 4,
    GATType_GATList_String = 5,
    GATType_GATLocation = 6,
    GATType_GATTime = 7,
    GATType_GATSoftwareDescription = 8,
    GATType_GATHardwareResourceDescription = 9,
    GATType_GATResourceDescription = 10,
    GATType_GATJobDescription = 11,
    GATType_GATResourceBroker = 12,
    GATType_GATList_GATResource = 13,
    GATType_GATResource = 14,
    GATType_GATHardwareResource = 15,
    GATType_GATJob = 16,
}

/// The state of a job (c-api.md section 4).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GATJobState {
    /// Not (or no longer) submitted: after UnSchedule.
    GATJobState_Initial = 0,
    /// Queued on its resource, not yet running.
    GATJobState_Scheduled = 1,
    /// Running (also while a checkpoint is taken: info `checkpointing` = 1).
    GATJobState_Running = 2,
    /// Ended: see info `stopreason` and `exitcode`.
    GATJobState_Stopped = 3,
    /// Cannot be determined right now (host unreachable, daemon down); info `state.reason` says why.
    GATJobState_Unknown = 4,
}

/// A GAT result: bits 31-30 severity (00 success, 01 info, 10 warning, 11 error), bit 29
/// customer, bit 28 reserved, bits 27-16 facility, bits 15-0 code. Facility 1 is GAT itself.
pub type GATResult = GATint32;

/// Success.
pub const GAT_SUCCESS: GATResult = 0;
