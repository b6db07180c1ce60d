/*
 * gat.h: libgat, the GridLab Grid Application Toolkit (GAT) job-management C API.
 *
 * GENERATED FILE, do not edit. It is generated with cbindgen (cbindgen.toml) from the Rust
 * sources under src/ffi/; regenerate it with `make header`. tests/header.rs checks that it is
 * up to date and that it declares exactly the GAT symbols libgat.so exports.
 *
 * Conventions: every GATX_Create returns a handle or NULL (the reason is in
 * GAT_GetLastErrorMessage()); every GATX_Destroy(&h) accepts NULL and sets h to NULL; every other
 * call returns a GATResult and writes its out-parameters only on success. `_const` results belong
 * to the object they came from. Every call may be made from any thread.
 */

/* The guard is written here and closed in the trailer (not cbindgen's include_guard) so that the
 * GATResult macros of the trailer sit inside it. */
#ifndef GAT_H
#define GAT_H

#include <stddef.h>
#include <stdint.h>

// GAT's own facility number.
#define GAT_FACILITY 1

// The state of a job (c-api.md section 4).
typedef enum GATJobState {
    // Not (or no longer) submitted: after UnSchedule.
    GATJobState_Initial = 0,
    // Queued on its resource, not yet running.
    GATJobState_Scheduled = 1,
    // Running (also while a checkpoint is taken: info `checkpointing` = 1).
    GATJobState_Running = 2,
    // Ended: see info `stopreason` and `exitcode`.
    GATJobState_Stopped = 3,
    // Cannot be determined right now (host unreachable, daemon down); info `state.reason` says why.
    GATJobState_Unknown = 4,
} GATJobState;

// The class of a GAT object, as GATObject_GetType() reports it.
typedef enum GATType {
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
} GATType;

// Opaque object behind a GATContext handle: the GAT context: create one before any other call.
typedef struct GATContext_S GATContext_S;

// Opaque object behind a GATHardwareResourceDescription handle: what hardware a job needs: the section 6 hardware keys.
typedef struct GATHardwareResourceDescription_S GATHardwareResourceDescription_S;

// Opaque object behind a GATHardwareResource handle: a place where jobs run: local:, an SSH host, a Slurm partition.
typedef struct GATHardwareResource_S GATHardwareResource_S;

// Opaque object behind a GATJobDescription handle: a software description plus where (or on what) to run it.
typedef struct GATJobDescription_S GATJobDescription_S;

// Opaque object behind a GATJob handle: a submitted job.
typedef struct GATJob_S GATJob_S;

// Opaque object behind a GATList_GATResource handle: an ordered list of resources, best match first.
typedef struct GATList_GATResource_S GATList_GATResource_S;

// Opaque object behind a GATList_String handle: an ordered list of strings.
typedef struct GATList_String_S GATList_String_S;

// Opaque object behind a GATLocation handle: a path or a file: URI.
typedef struct GATLocation_S GATLocation_S;

// Opaque object behind a GATObject handle: the root of GAT's object model: any handle converts to and from it.
typedef struct GATObject_S GATObject_S;

// Opaque object behind a GATPreferences handle: string key/value preferences that steer adaptor choice and behaviour.
typedef struct GATPreferences_S GATPreferences_S;

// Opaque object behind a GATResourceBroker handle: finds resources and submits jobs.
typedef struct GATResourceBroker_S GATResourceBroker_S;

// Opaque object behind a GATResourceDescription handle: the base class of resource descriptions.
typedef struct GATResourceDescription_S GATResourceDescription_S;

// Opaque object behind a GATResource handle: the base class of resources.
typedef struct GATResource_S GATResource_S;

// Opaque object behind a GATSoftwareDescription handle: what to run: the c-api.md section 6 software keys.
typedef struct GATSoftwareDescription_S GATSoftwareDescription_S;

// Opaque object behind a GATString handle: an immutable string (a GATJobID is a GATString).
typedef struct GATString_S GATString_S;

// Opaque object behind a GATTable handle: a hash of key to one typed value.
typedef struct GATTable_S GATTable_S;

// Opaque object behind a GATTime handle: a point in time, seconds since the epoch.
typedef struct GATTime_S GATTime_S;

// 32-bit signed integer.
typedef int32_t GATint32;

// A GAT result: bits 31-30 severity (00 success, 01 info, 10 warning, 11 error), bit 29
// customer, bit 28 reserved, bits 27-16 facility, bits 15-0 code. Facility 1 is GAT itself.
typedef GATint32 GATResult;

// Read-only handle to a GATObject.
typedef const struct GATObject_S *GATObject_const;

// Handle to a GATResourceDescription: the base class of resource descriptions.
typedef struct GATResourceDescription_S *GATResourceDescription;

// Handle to a GATHardwareResourceDescription: what hardware a job needs: the section 6 hardware keys.
typedef struct GATHardwareResourceDescription_S *GATHardwareResourceDescription;

// Read-only handle to a GATResourceDescription.
typedef const struct GATResourceDescription_S *GATResourceDescription_const;

// Read-only handle to a GATHardwareResourceDescription.
typedef const struct GATHardwareResourceDescription_S *GATHardwareResourceDescription_const;

// Read-only handle to a GATHardwareResource.
typedef const struct GATHardwareResource_S *GATHardwareResource_const;

// Read-only handle to a GATResource.
typedef const struct GATResource_S *GATResource_const;

// Handle to a GATHardwareResource: a place where jobs run: local:, an SSH host, a Slurm partition.
typedef struct GATHardwareResource_S *GATHardwareResource;

// Handle to a GATResource: the base class of resources.
typedef struct GATResource_S *GATResource;

// Handle to a GATObject: the root of GAT's object model: any handle converts to and from it.
typedef struct GATObject_S *GATObject;

// Handle to a GATContext: the GAT context: create one before any other call.
typedef struct GATContext_S *GATContext;

// Read-only handle to a GATContext.
typedef const struct GATContext_S *GATContext_const;

// Handle to a GATPreferences: string key/value preferences that steer adaptor choice and behaviour.
typedef struct GATPreferences_S *GATPreferences;

// Read-only handle to a GATPreferences.
typedef const struct GATPreferences_S *GATPreferences_const;

// Handle to a GATTable: a hash of key to one typed value.
typedef struct GATTable_S *GATTable;

// Read-only handle to a GATTable.
typedef const struct GATTable_S *GATTable_const;

// Handle to a GATString: an immutable string (a GATJobID is a GATString).
typedef struct GATString_S *GATString;

// Read-only handle to a GATString.
typedef const struct GATString_S *GATString_const;

// Handle to a GATList_String: an ordered list of strings.
typedef struct GATList_String_S *GATList_String;

// Read-only handle to a GATList_String.
typedef const struct GATList_String_S *GATList_String_const;

// Handle to a GATLocation: a path or a file: URI.
typedef struct GATLocation_S *GATLocation;

// Read-only handle to a GATLocation.
typedef const struct GATLocation_S *GATLocation_const;

// Handle to a GATTime: a point in time, seconds since the epoch.
typedef struct GATTime_S *GATTime;

// Read-only handle to a GATTime.
typedef const struct GATTime_S *GATTime_const;

// Handle to a GATSoftwareDescription: what to run: the c-api.md section 6 software keys.
typedef struct GATSoftwareDescription_S *GATSoftwareDescription;

// Read-only handle to a GATSoftwareDescription.
typedef const struct GATSoftwareDescription_S *GATSoftwareDescription_const;

// Handle to a GATJobDescription: a software description plus where (or on what) to run it.
typedef struct GATJobDescription_S *GATJobDescription;

// Read-only handle to a GATJobDescription.
typedef const struct GATJobDescription_S *GATJobDescription_const;

// Handle to a GATResourceBroker: finds resources and submits jobs.
typedef struct GATResourceBroker_S *GATResourceBroker;

// Read-only handle to a GATResourceBroker.
typedef const struct GATResourceBroker_S *GATResourceBroker_const;

// Handle to a GATList_GATResource: an ordered list of resources, best match first.
typedef struct GATList_GATResource_S *GATList_GATResource;

// Read-only handle to a GATList_GATResource.
typedef const struct GATList_GATResource_S *GATList_GATResource_const;

// Handle to a GATJob: a submitted job.
typedef struct GATJob_S *GATJob;

// Read-only handle to a GATJob.
typedef const struct GATJob_S *GATJob_const;

// 16-bit signed integer.
typedef int16_t GATint16;

// 64-bit signed integer.
typedef int64_t GATint64;

// 32-bit float.
typedef float GATfloat32;

// 64-bit float.
typedef double GATdouble64;

// 32-bit unsigned integer.
typedef uint32_t GATuint32;

// A position in a GATList_String: `position` is an index (GATList_String_Begin() gives 0), or
// -1 for the end (GATList_String_End()). Inserting puts the new string before `position`;
// inserting at the end appends.
typedef struct GATList_String_Iterator {
    // Index of the string the iterator is at; -1 is the end.
    GATint64 position;
} GATList_String_Iterator;

// Read-only job id.
typedef GATString_const GATJobID_const;

// GAT's boolean.
typedef GATint32 GATBool;

// 16-bit unsigned integer.
typedef uint16_t GATuint16;

// 64-bit unsigned integer.
typedef uint64_t GATuint64;

// A job id: a GATString (read it with GATString_GetBuffer()).
typedef GATString GATJobID;

// False.
#define GATFalse 0

// True.
#define GATTrue 1

// Success.
#define GAT_SUCCESS 0

// An unspecified failure.
#define GAT_FAIL (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 1)

// The operation is not implemented (by this adaptor or this library).
#define GAT_NOTIMPL (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 2)

// Memory could not be allocated.
#define GAT_MEMORYFAILURE (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 3)

// An adaptor of this name is already registered.
#define GAT_DUPLICATE_ADAPTOR (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 4)

// An adaptor could not be loaded.
#define GAT_ADAPTOR_LOAD_FAILED (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 5)

// An adaptor has no registration function.
#define GAT_NO_REGISTER_FUNCTION (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 6)

// A configuration entry is given twice.
#define GAT_DUPLICATE_CONFIG (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 7)

// A file could not be opened.
#define GAT_FILE_OPEN_ERROR (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 8)

// No such key.
#define GAT_NO_SUCH_KEY (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 9)

// The key holds a value of another type.
#define GAT_KEY_TYPE_ERROR (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 10)

// A NULL, destroyed or wrong-type handle.
#define GAT_INVALID_HANDLE (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 11)

// An invalid parameter.
#define GAT_INVALID_PARAMETER (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 12)

// An unknown version.
#define GAT_UNKNOWN_VERSION (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 13)

// No adaptor is registered for this capability.
#define GAT_NO_REGISTERED_CPI (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 14)

// The text is not valid UTF-8.
#define GAT_INVALID_ENCODING (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 15)

// The encoding is incomplete.
#define GAT_INCOMPLETE_ENCODING (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 16)

// No adaptor can do this.
#define GAT_NO_MATCHING_CPI (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 17)

// No resource matches the description.
#define GAT_NO_MATCHING_RESOURCE (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 18)

// The object has no such interface.
#define GAT_NO_MATCHING_INTERFACE (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 19)

// The input is in an unknown or malformed format.
#define GAT_UNKNOWN_FORMAT (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 20)

// The key is already present.
#define GAT_DUPLICATE_KEY (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 21)

// A remote call failed.
#define GAT_RPC_FAILED (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 22)

// An input/output error.
#define GAT_IO_ERROR (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 23)

// The call is not allowed in the object's current state.
#define GAT_INVALID_STATE (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 24)

// The job is not checkpointable.
#define GAT_NOT_CHECKPOINTABLE (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 25)

// There is no checkpoint to restart from.
#define GAT_NO_CHECKPOINT (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 26)

// Every checkpoint of the job failed verification.
#define GAT_CHECKPOINT_CORRUPT (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 27)

// A deadline passed.
#define GAT_TIMEOUT (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 28)

// The host or daemon cannot be reached.
#define GAT_UNREACHABLE (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 29)

// Permission denied.
#define GAT_PERMISSION_DENIED (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 30)

// A transient failure: retrying may work.
#define GAT_TRY_AGAIN (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 31)

// The migration failed and was rolled back: the original job runs on.
#define GAT_MIGRATION_ROLLED_BACK (GATResult)(((3u << 30) | (GAT_FACILITY << 16)) | 32)

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

// A static, human-readable description of `rc`. Never NULL; never needs freeing.
const char *GATResult_GetMessage(GATResult rc);

// Copy the calling thread's detailed text of its last failed call (which function, which
// adaptor or host, what the OS or the batch system said) into `buf`, with snprintf semantics:
// at most `len` bytes including the terminating NUL are written, and `buf` may be NULL when
// `len` is 0. Returns the full length of the text (excluding the NUL), so a return value
// >= `len` means the text was cut. An empty text means no call has failed on this thread.
size_t GAT_GetLastErrorMessage(char *buf, size_t len);

// The class of `object`: a `GATType_*` value; GATType_Unknown (with a last-error text) when
// `object` is NULL or not a live GAT handle.
enum GATType GATObject_GetType(GATObject_const object);

// Up-cast a hardware resource description to a resource description (the same pointer); NULL
// when `description` is not a live GATHardwareResourceDescription.
GATResourceDescription GATHardwareResourceDescription_ToGATResourceDescription(GATHardwareResourceDescription description);

// Read-only twin of GATHardwareResourceDescription_ToGATResourceDescription().
GATResourceDescription_const GATHardwareResourceDescription_ToGATResourceDescription_const(GATHardwareResourceDescription_const description);

// Down-cast a resource to a hardware resource (the same pointer); NULL (with a last-error text)
// when `resource` is not a live GATHardwareResource.
GATHardwareResource_const GATResource_ToGATHardwareResource_const(GATResource_const resource);

// Down-cast a resource to a hardware resource (the same pointer); NULL (with a last-error text)
// when `resource` is not a live GATHardwareResource.
GATHardwareResource GATResource_ToGATHardwareResource(GATResource resource);

// Up-cast a hardware resource to a resource (the same pointer); NULL when `resource` is not a
// live GATHardwareResource.
GATResource GATHardwareResource_ToGATResource(GATHardwareResource resource);

// Read-only twin of GATHardwareResource_ToGATResource().
GATResource_const GATHardwareResource_ToGATResource_const(GATHardwareResource_const resource);

// Up-cast the GAT context to a GATObject (the same pointer); NULL when `object` is not a live GATContext.
GATObject GATContext_ToGATObject(GATContext object);

// Up-cast the GAT context to a GATObject_const (the same pointer); NULL when `object` is not a live GATContext.
GATObject_const GATContext_ToGATObject_const(GATContext_const object);

// Down-cast a GATObject to GATContext (the same pointer); NULL (with a last-error text) when it is not a live GATContext.
GATContext GATObject_ToGATContext(GATObject object);

// Down-cast a GATObject_const to GATContext_const (the same pointer); NULL (with a last-error text) when it is not a live GATContext.
GATContext_const GATObject_ToGATContext_const(GATObject_const object);

// Up-cast preferences to a GATObject (the same pointer); NULL when `object` is not a live GATPreferences.
GATObject GATPreferences_ToGATObject(GATPreferences object);

// Up-cast preferences to a GATObject_const (the same pointer); NULL when `object` is not a live GATPreferences.
GATObject_const GATPreferences_ToGATObject_const(GATPreferences_const object);

// Down-cast a GATObject to GATPreferences (the same pointer); NULL (with a last-error text) when it is not a live GATPreferences.
GATPreferences GATObject_ToGATPreferences(GATObject object);

// Down-cast a GATObject_const to GATPreferences_const (the same pointer); NULL (with a last-error text) when it is not a live GATPreferences.
GATPreferences_const GATObject_ToGATPreferences_const(GATObject_const object);

// Up-cast a table to a GATObject (the same pointer); NULL when `object` is not a live GATTable.
GATObject GATTable_ToGATObject(GATTable object);

// Up-cast a table to a GATObject_const (the same pointer); NULL when `object` is not a live GATTable.
GATObject_const GATTable_ToGATObject_const(GATTable_const object);

// Down-cast a GATObject to GATTable (the same pointer); NULL (with a last-error text) when it is not a live GATTable.
GATTable GATObject_ToGATTable(GATObject object);

// Down-cast a GATObject_const to GATTable_const (the same pointer); NULL (with a last-error text) when it is not a live GATTable.
GATTable_const GATObject_ToGATTable_const(GATObject_const object);

// Up-cast a string to a GATObject (the same pointer); NULL when `object` is not a live GATString.
GATObject GATString_ToGATObject(GATString object);

// Up-cast a string to a GATObject_const (the same pointer); NULL when `object` is not a live GATString.
GATObject_const GATString_ToGATObject_const(GATString_const object);

// Down-cast a GATObject to GATString (the same pointer); NULL (with a last-error text) when it is not a live GATString.
GATString GATObject_ToGATString(GATObject object);

// Down-cast a GATObject_const to GATString_const (the same pointer); NULL (with a last-error text) when it is not a live GATString.
GATString_const GATObject_ToGATString_const(GATObject_const object);

// Up-cast a list of strings to a GATObject (the same pointer); NULL when `object` is not a live GATList_String.
GATObject GATList_String_ToGATObject(GATList_String object);

// Up-cast a list of strings to a GATObject_const (the same pointer); NULL when `object` is not a live GATList_String.
GATObject_const GATList_String_ToGATObject_const(GATList_String_const object);

// Down-cast a GATObject to GATList_String (the same pointer); NULL (with a last-error text) when it is not a live GATList_String.
GATList_String GATObject_ToGATList_String(GATObject object);

// Down-cast a GATObject_const to GATList_String_const (the same pointer); NULL (with a last-error text) when it is not a live GATList_String.
GATList_String_const GATObject_ToGATList_String_const(GATObject_const object);

// Up-cast a location to a GATObject (the same pointer); NULL when `object` is not a live GATLocation.
GATObject GATLocation_ToGATObject(GATLocation object);

// Up-cast a location to a GATObject_const (the same pointer); NULL when `object` is not a live GATLocation.
GATObject_const GATLocation_ToGATObject_const(GATLocation_const object);

// Down-cast a GATObject to GATLocation (the same pointer); NULL (with a last-error text) when it is not a live GATLocation.
GATLocation GATObject_ToGATLocation(GATObject object);

// Down-cast a GATObject_const to GATLocation_const (the same pointer); NULL (with a last-error text) when it is not a live GATLocation.
GATLocation_const GATObject_ToGATLocation_const(GATObject_const object);

// Up-cast a time to a GATObject (the same pointer); NULL when `object` is not a live GATTime.
GATObject GATTime_ToGATObject(GATTime object);

// Up-cast a time to a GATObject_const (the same pointer); NULL when `object` is not a live GATTime.
GATObject_const GATTime_ToGATObject_const(GATTime_const object);

// Down-cast a GATObject to GATTime (the same pointer); NULL (with a last-error text) when it is not a live GATTime.
GATTime GATObject_ToGATTime(GATObject object);

// Down-cast a GATObject_const to GATTime_const (the same pointer); NULL (with a last-error text) when it is not a live GATTime.
GATTime_const GATObject_ToGATTime_const(GATObject_const object);

// Up-cast a software description to a GATObject (the same pointer); NULL when `object` is not a live GATSoftwareDescription.
GATObject GATSoftwareDescription_ToGATObject(GATSoftwareDescription object);

// Up-cast a software description to a GATObject_const (the same pointer); NULL when `object` is not a live GATSoftwareDescription.
GATObject_const GATSoftwareDescription_ToGATObject_const(GATSoftwareDescription_const object);

// Down-cast a GATObject to GATSoftwareDescription (the same pointer); NULL (with a last-error text) when it is not a live GATSoftwareDescription.
GATSoftwareDescription GATObject_ToGATSoftwareDescription(GATObject object);

// Down-cast a GATObject_const to GATSoftwareDescription_const (the same pointer); NULL (with a last-error text) when it is not a live GATSoftwareDescription.
GATSoftwareDescription_const GATObject_ToGATSoftwareDescription_const(GATObject_const object);

// Up-cast a hardware resource description to a GATObject (the same pointer); NULL when `object` is not a live GATHardwareResourceDescription.
GATObject GATHardwareResourceDescription_ToGATObject(GATHardwareResourceDescription object);

// Up-cast a hardware resource description to a GATObject_const (the same pointer); NULL when `object` is not a live GATHardwareResourceDescription.
GATObject_const GATHardwareResourceDescription_ToGATObject_const(GATHardwareResourceDescription_const object);

// Down-cast a GATObject to GATHardwareResourceDescription (the same pointer); NULL (with a last-error text) when it is not a live GATHardwareResourceDescription.
GATHardwareResourceDescription GATObject_ToGATHardwareResourceDescription(GATObject object);

// Down-cast a GATObject_const to GATHardwareResourceDescription_const (the same pointer); NULL (with a last-error text) when it is not a live GATHardwareResourceDescription.
GATHardwareResourceDescription_const GATObject_ToGATHardwareResourceDescription_const(GATObject_const object);

// Up-cast a resource description (any kind) to a GATObject (the same pointer); NULL when `object` is not a live GATResourceDescription.
GATObject GATResourceDescription_ToGATObject(GATResourceDescription object);

// Up-cast a resource description (any kind) to a GATObject_const (the same pointer); NULL when `object` is not a live GATResourceDescription.
GATObject_const GATResourceDescription_ToGATObject_const(GATResourceDescription_const object);

// Down-cast a GATObject to GATResourceDescription (the same pointer); NULL (with a last-error text) when it is not a live GATResourceDescription.
GATResourceDescription GATObject_ToGATResourceDescription(GATObject object);

// Down-cast a GATObject_const to GATResourceDescription_const (the same pointer); NULL (with a last-error text) when it is not a live GATResourceDescription.
GATResourceDescription_const GATObject_ToGATResourceDescription_const(GATObject_const object);

// Up-cast a job description to a GATObject (the same pointer); NULL when `object` is not a live GATJobDescription.
GATObject GATJobDescription_ToGATObject(GATJobDescription object);

// Up-cast a job description to a GATObject_const (the same pointer); NULL when `object` is not a live GATJobDescription.
GATObject_const GATJobDescription_ToGATObject_const(GATJobDescription_const object);

// Down-cast a GATObject to GATJobDescription (the same pointer); NULL (with a last-error text) when it is not a live GATJobDescription.
GATJobDescription GATObject_ToGATJobDescription(GATObject object);

// Down-cast a GATObject_const to GATJobDescription_const (the same pointer); NULL (with a last-error text) when it is not a live GATJobDescription.
GATJobDescription_const GATObject_ToGATJobDescription_const(GATObject_const object);

// Up-cast a resource broker to a GATObject (the same pointer); NULL when `object` is not a live GATResourceBroker.
GATObject GATResourceBroker_ToGATObject(GATResourceBroker object);

// Up-cast a resource broker to a GATObject_const (the same pointer); NULL when `object` is not a live GATResourceBroker.
GATObject_const GATResourceBroker_ToGATObject_const(GATResourceBroker_const object);

// Down-cast a GATObject to GATResourceBroker (the same pointer); NULL (with a last-error text) when it is not a live GATResourceBroker.
GATResourceBroker GATObject_ToGATResourceBroker(GATObject object);

// Down-cast a GATObject_const to GATResourceBroker_const (the same pointer); NULL (with a last-error text) when it is not a live GATResourceBroker.
GATResourceBroker_const GATObject_ToGATResourceBroker_const(GATObject_const object);

// Up-cast a list of resources to a GATObject (the same pointer); NULL when `object` is not a live GATList_GATResource.
GATObject GATList_GATResource_ToGATObject(GATList_GATResource object);

// Up-cast a list of resources to a GATObject_const (the same pointer); NULL when `object` is not a live GATList_GATResource.
GATObject_const GATList_GATResource_ToGATObject_const(GATList_GATResource_const object);

// Down-cast a GATObject to GATList_GATResource (the same pointer); NULL (with a last-error text) when it is not a live GATList_GATResource.
GATList_GATResource GATObject_ToGATList_GATResource(GATObject object);

// Down-cast a GATObject_const to GATList_GATResource_const (the same pointer); NULL (with a last-error text) when it is not a live GATList_GATResource.
GATList_GATResource_const GATObject_ToGATList_GATResource_const(GATObject_const object);

// Up-cast a resource (any kind) to a GATObject (the same pointer); NULL when `object` is not a live GATResource.
GATObject GATResource_ToGATObject(GATResource object);

// Up-cast a resource (any kind) to a GATObject_const (the same pointer); NULL when `object` is not a live GATResource.
GATObject_const GATResource_ToGATObject_const(GATResource_const object);

// Down-cast a GATObject to GATResource (the same pointer); NULL (with a last-error text) when it is not a live GATResource.
GATResource GATObject_ToGATResource(GATObject object);

// Down-cast a GATObject_const to GATResource_const (the same pointer); NULL (with a last-error text) when it is not a live GATResource.
GATResource_const GATObject_ToGATResource_const(GATObject_const object);

// Up-cast a hardware resource to a GATObject (the same pointer); NULL when `object` is not a live GATHardwareResource.
GATObject GATHardwareResource_ToGATObject(GATHardwareResource object);

// Up-cast a hardware resource to a GATObject_const (the same pointer); NULL when `object` is not a live GATHardwareResource.
GATObject_const GATHardwareResource_ToGATObject_const(GATHardwareResource_const object);

// Down-cast a GATObject to GATHardwareResource (the same pointer); NULL (with a last-error text) when it is not a live GATHardwareResource.
GATHardwareResource GATObject_ToGATHardwareResource(GATObject object);

// Down-cast a GATObject_const to GATHardwareResource_const (the same pointer); NULL (with a last-error text) when it is not a live GATHardwareResource.
GATHardwareResource_const GATObject_ToGATHardwareResource_const(GATObject_const object);

// Up-cast a job to a GATObject (the same pointer); NULL when `object` is not a live GATJob.
GATObject GATJob_ToGATObject(GATJob object);

// Up-cast a job to a GATObject_const (the same pointer); NULL when `object` is not a live GATJob.
GATObject_const GATJob_ToGATObject_const(GATJob_const object);

// Down-cast a GATObject to GATJob (the same pointer); NULL (with a last-error text) when it is not a live GATJob.
GATJob GATObject_ToGATJob(GATObject object);

// Down-cast a GATObject_const to GATJob_const (the same pointer); NULL (with a last-error text) when it is not a live GATJob.
GATJob_const GATObject_ToGATJob_const(GATObject_const object);

// Create a GAT context. The caller owns it and releases it with GATContext_Destroy(). Cheap and
// never fails for lack of configuration: the engine (state directory, configured resources) is
// opened on first use by a broker or job call, and errors surface there.
GATContext GATContext_Create(void);

// Release a context and set `*context` to NULL. NULL and `*context == NULL` are accepted.
// Brokers, jobs and descriptions made with it stay usable.
void GATContext_Destroy(GATContext *context);

// Create an empty set of preferences. The caller owns it and releases it with
// GATPreferences_Destroy(). Objects created with it keep their own copy.
GATPreferences GATPreferences_Create(void);

// Set preference `key` to `value` (both copied); a later value for the same key replaces the
// earlier one. Returns GAT_SUCCESS, GAT_INVALID_HANDLE, GAT_INVALID_PARAMETER (NULL or empty
// key, NULL value) or GAT_INVALID_ENCODING (not UTF-8).
GATResult GATPreferences_Add(GATPreferences preferences, const char *key, const char *value);

// Release preferences and set `*preferences` to NULL. NULL and `*preferences == NULL` are
// accepted.
void GATPreferences_Destroy(GATPreferences *preferences);

// Create an empty table. The caller owns it and releases it with GATTable_Destroy().
GATTable GATTable_Create(void);

// Release a table and set `*table` to NULL; strings and objects its getters handed out become
// invalid. NULL and `*table == NULL` are accepted; a table owned by another object (a job's
// info, a description's attributes) is refused and left alone.
void GATTable_Destroy(GATTable *table);

// Add a copy of the string `value` under `key`. Returns GAT_SUCCESS, GAT_DUPLICATE_KEY (the key
// is already there; its value is kept), GAT_INVALID_HANDLE, GAT_INVALID_PARAMETER (NULL or empty
// key, NULL value) or GAT_INVALID_ENCODING (not UTF-8).
GATResult GATTable_Add_String(GATTable table, const char *key, const char *value);

// Add a 16-bit integer under `key`. Results as GATTable_Add_String().
GATResult GATTable_Add_int16(GATTable table, const char *key, GATint16 value);

// Add a 32-bit integer under `key`. Results as GATTable_Add_String().
GATResult GATTable_Add_int32(GATTable table, const char *key, GATint32 value);

// Add a 64-bit integer under `key`. Results as GATTable_Add_String().
GATResult GATTable_Add_int64(GATTable table, const char *key, GATint64 value);

// Add a 32-bit float under `key`. Results as GATTable_Add_String().
GATResult GATTable_Add_float(GATTable table, const char *key, GATfloat32 value);

// Add a 64-bit float under `key`. Results as GATTable_Add_String().
GATResult GATTable_Add_double(GATTable table, const char *key, GATdouble64 value);

// Add a copy of `value` under `key`: the table keeps its own copy, so `value` may be destroyed
// afterwards. Only a GATString, GATList_String, GATLocation, GATTime or GATTable can be stored;
// another class gives GAT_INVALID_PARAMETER, a dead handle GAT_INVALID_HANDLE. Other results as
// GATTable_Add_String().
GATResult GATTable_Add_GATObject(GATTable table, const char *key, GATObject_const value);

// Read the string under `key` into `*value`. The string is owned by the table and stays valid
// until the key is removed or the table destroyed. Returns GAT_SUCCESS, GAT_NO_SUCH_KEY,
// GAT_KEY_TYPE_ERROR (the value is not a string), GAT_INVALID_HANDLE or GAT_INVALID_PARAMETER
// (NULL key or out-pointer).
GATResult GATTable_Get_String(GATTable_const table, const char *key, const char **value);

// Read the number under `key` as a 16-bit integer. Any numeric value converts when it fits
// exactly; otherwise GAT_KEY_TYPE_ERROR. Other results as GATTable_Get_String().
GATResult GATTable_Get_int16(GATTable_const table, const char *key, GATint16 *value);

// Read the number under `key` as a 32-bit integer; converts as GATTable_Get_int16().
GATResult GATTable_Get_int32(GATTable_const table, const char *key, GATint32 *value);

// Read the number under `key` as a 64-bit integer; converts as GATTable_Get_int16().
GATResult GATTable_Get_int64(GATTable_const table, const char *key, GATint64 *value);

// Read the number under `key` as a 32-bit float (any numeric value within its range).
// Other results as GATTable_Get_String().
GATResult GATTable_Get_float(GATTable_const table, const char *key, GATfloat32 *value);

// Read the number under `key` as a 64-bit float (any numeric value). Other results as
// GATTable_Get_String().
GATResult GATTable_Get_double(GATTable_const table, const char *key, GATdouble64 *value);

// Read the object under `key` (a GATString, GATList_String, GATLocation, GATTime or GATTable;
// GATObject_GetType() tells which). The handle is owned by the table: valid until the key is
// removed or the table destroyed, and never destroyed by the caller. GAT_KEY_TYPE_ERROR when the
// value is a plain string or number. Other results as GATTable_Get_String().
GATResult GATTable_Get_GATObject(GATTable_const table, const char *key, GATObject_const *value);

// Remove `key` and its value; strings and objects handed out for it become invalid. Returns
// GAT_SUCCESS, GAT_NO_SUCH_KEY, GAT_INVALID_HANDLE or GAT_INVALID_PARAMETER.
GATResult GATTable_Remove(GATTable table, const char *key);

// (ext) The number of keys; 0 (with a last-error text) when `table` is not a live GATTable.
GATuint32 GATTable_Size(GATTable_const table);

// (ext) The keys, sorted, as a new list in `*keys`; the caller releases it with
// GATList_String_Destroy(). Returns GAT_SUCCESS, GAT_INVALID_HANDLE or GAT_INVALID_PARAMETER
// (NULL out-pointer).
GATResult GATTable_GetKeys(GATTable_const table, GATList_String *keys);

// Create a string holding a copy of `text`. The caller owns it and releases it with
// GATString_Destroy(). NULL (GAT_INVALID_PARAMETER) or text that is not UTF-8 gives NULL; the
// reason is in the last-error text.
GATString GATString_Create(const char *text);

// The NUL-terminated text of `string`, owned by it and valid until it is destroyed. NULL when
// `string` is not a live GATString (the reason is in the last-error text).
const char *GATString_GetBuffer(GATString_const string);

// Release a string and set `*string` to NULL. NULL and `*string == NULL` are accepted; a
// string owned by another object (a job id, a table value) is refused and left alone.
void GATString_Destroy(GATString *string);

// Create an empty list of strings. The caller owns it and releases it with
// GATList_String_Destroy().
GATList_String GATList_String_Create(void);

// The position of the first string (index 0). A bad handle gives the end position and a
// last-error text.
struct GATList_String_Iterator GATList_String_Begin(GATList_String_const list);

// The position after the last string: inserting there appends, as in
// `GATList_String_Insert(l, GATList_String_End(l), s)`.
struct GATList_String_Iterator GATList_String_End(GATList_String_const list);

// Insert a copy of `value` before `position`. Returns GAT_SUCCESS, GAT_INVALID_HANDLE,
// GAT_INVALID_PARAMETER (NULL value, position outside the list) or GAT_INVALID_ENCODING.
GATResult GATList_String_Insert(GATList_String list,
                                struct GATList_String_Iterator position,
                                const char *value);

// The number of strings in the list; 0 (with a last-error text) when `list` is not a live
// GATList_String.
GATuint32 GATList_String_Size(GATList_String_const list);

// The string at `index` (0-based), owned by the list: valid until that string is removed or
// the list destroyed. NULL when the index is out of range or `list` is not a live list.
const char *GATList_String_Get(GATList_String_const list, GATuint32 index);

// (ext) Remove the string at `index`; pointers to it from GATList_String_Get() become invalid.
// Returns GAT_SUCCESS, GAT_INVALID_HANDLE or GAT_INVALID_PARAMETER (index out of range).
GATResult GATList_String_Remove(GATList_String list, GATuint32 index);

// Release a list and set `*list` to NULL. NULL and `*list == NULL` are accepted; a list owned
// by another object (a table value) is refused and left alone.
void GATList_String_Destroy(GATList_String *list);

// Create a location from a path or a `file:` URI (`file:///dir/prog`, `file://localhost/...`).
// The caller owns it and releases it with GATLocation_Destroy(). NULL, empty text, another host
// or another scheme (`http://`, `ssh://`) gives NULL; the reason is in the last-error text.
GATLocation GATLocation_Create(const char *uri);

// (ext) The local path the location names (a `file:` URI reduced to its path), owned by the
// location and valid until it is destroyed. NULL when `location` is not a live GATLocation.
const char *GATLocation_GetPath(GATLocation_const location);

// Release a location and set `*location` to NULL. NULL and `*location == NULL` are accepted.
void GATLocation_Destroy(GATLocation *location);

// Create a time `seconds_since_epoch` seconds after 1970-01-01 UTC; 0 means now. The caller owns
// it and releases it with GATTime_Destroy(). A negative or non-finite value gives NULL (the
// reason is in the last-error text).
GATTime GATTime_Create(GATdouble64 seconds_since_epoch);

// (ext) The time in seconds since the epoch; 0 (with a last-error text) when `time` is not a
// live GATTime.
GATdouble64 GATTime_GetSeconds(GATTime_const time);

// Release a time and set `*time` to NULL. NULL and `*time == NULL` are accepted; a time owned
// by another object (an info-table value) is refused and left alone.
void GATTime_Destroy(GATTime *time);

// Create a software description from a table of the c-api.md section 6 keys (`location`
// required; `arguments`, `environment`, `stdin`, `stdout`, `stderr`, `directory`,
// `pre-staged files`, `post-staged files`, and the checkpoint keys). The table is copied. Without
// `stdin` the job reads /dev/null; a stream without `stdout`/`stderr` is discarded, on this
// machine and on ssh hosts alike: name a file to keep it. The caller owns
// the result and releases it with GATSoftwareDescription_Destroy(). NULL on failure; the
// last-error text names the key, what it held and what was expected.
GATSoftwareDescription GATSoftwareDescription_Create(GATTable_const table);

// (ext) The table the description was made from, in `*attributes`: owned by the description
// (valid until it is destroyed; never destroyed by the caller). Returns GAT_SUCCESS,
// GAT_INVALID_HANDLE or GAT_INVALID_PARAMETER (NULL out-pointer).
GATResult GATSoftwareDescription_GetAttributes(GATSoftwareDescription_const description,
                                               GATTable_const *attributes);

// Release a software description and set `*description` to NULL. NULL and
// `*description == NULL` are accepted. Job descriptions made from it keep their own reference.
void GATSoftwareDescription_Destroy(GATSoftwareDescription *description);

// Create a hardware resource description from a table of the section 6 hardware keys
// (`memory.size`, `cpu.count`, `cpu.speed`, `disk.size` are minimums and may be any numeric
// type; `cpu.type`, `machine.type`, `machine.node`, `os.name`, `os.type`, `os.release`,
// `os.version` compare case-insensitively). A missing key matches anything. The caller owns the
// result and releases it with GATHardwareResourceDescription_Destroy() (or, after
// GATHardwareResourceDescription_ToGATResourceDescription(), GATResourceDescription_Destroy()).
// NULL on failure; the last-error text names the key.
GATHardwareResourceDescription GATHardwareResourceDescription_Create(GATTable_const table);

// (ext) The table the description was made from, in `*attributes`: owned by the description.
// Results as GATSoftwareDescription_GetAttributes().
GATResult GATHardwareResourceDescription_GetAttributes(GATHardwareResourceDescription_const description,
                                                       GATTable_const *attributes);

// Release a hardware resource description and set `*description` to NULL. NULL and
// `*description == NULL` are accepted.
void GATHardwareResourceDescription_Destroy(GATHardwareResourceDescription *description);

// Release a resource description (the hardware resource description behind it) and set
// `*description` to NULL. NULL and `*description == NULL` are accepted.
void GATResourceDescription_Destroy(GATResourceDescription *description);

// Create a job description: `software` to run on `resource`, or, when `resource` is NULL,
// wherever the broker chooses. `context` may be NULL. The caller owns the result and releases
// it with GATJobDescription_Destroy(); the arguments may be destroyed afterwards. NULL on
// failure (NULL or dead `software`, a `resource` that is not a live GATResource).
GATJobDescription GATJobDescription_Create(GATContext context,
                                           GATSoftwareDescription_const software,
                                           GATResource_const resource);

// Create a job description: `software` to run on a resource matching `resource` (chosen by the
// broker), or anywhere when `resource` is NULL. `context` may be NULL. Ownership and failures
// as GATJobDescription_Create().
GATJobDescription GATJobDescription_Create_Description(GATContext context,
                                                       GATSoftwareDescription_const software,
                                                       GATResourceDescription_const resource);

// (ext) The software description of `description`, in `*software`: owned by the job
// description (valid until it is destroyed; never destroyed by the caller). Returns GAT_SUCCESS,
// GAT_INVALID_HANDLE or GAT_INVALID_PARAMETER (NULL out-pointer).
GATResult GATJobDescription_GetSoftwareDescription(GATJobDescription_const description,
                                                   GATSoftwareDescription_const *software);

// Release a job description and set `*description` to NULL. NULL and `*description == NULL`
// are accepted; jobs submitted with it keep their own copy.
void GATJobDescription_Destroy(GATJobDescription *description);

// Create a resource broker on `context` (a live GATContext). `preferences` (may be NULL) steer
// adaptor choice (`resourcebroker.adaptor.name`: a comma list, `!name` excludes) and are copied;
// `vo_name` (may be NULL) is kept for the record. The caller owns the broker and releases it with
// GATResourceBroker_Destroy(). NULL on failure (a bad context, an unusable state directory or
// configuration: see GAT_GetLastErrorMessage()).
GATResourceBroker GATResourceBroker_Create(GATContext context,
                                           GATPreferences_const preferences,
                                           GATString vo_name);

// Release a broker and set `*broker` to NULL; NULL and `*broker == NULL` are accepted. Jobs it
// submitted run on, and their handles stay valid.
void GATResourceBroker_Destroy(GATResourceBroker *broker);

// Submit the job `description` says: on its resource, else on the best resource matching its
// resource description, else on `local:`. The job is recorded in the journal before it is
// started. On success `*job` is a new handle the caller releases with GATJob_Destroy() (the job
// runs on). Results: GAT_INVALID_HANDLE, GAT_INVALID_PARAMETER (NULL `job`),
// GAT_NO_MATCHING_RESOURCE, GAT_NOTIMPL (the resource's adaptor is not in this build),
// GAT_FILE_OPEN_ERROR (program or file missing), GAT_IO_ERROR.
GATResult GATResourceBroker_SubmitJob(GATResourceBroker broker,
                                      GATJobDescription_const description,
                                      GATJob *job);

// Find the resources matching `description` (a GATHardwareResourceDescription as a
// GATResourceDescription), best match first: matching attributes, below their `loadsched`, then
// lowest load per CPU, highest configured priority, name. On success `*resources` is a new list
// the caller releases with GATList_GATResource_Destroy(). None matching: GAT_NO_MATCHING_RESOURCE,
// and the last-error text says why each resource was passed over.
GATResult GATResourceBroker_FindResources(GATResourceBroker broker,
                                          GATResourceDescription_const description,
                                          GATList_GATResource *resources);

// (ext) The hardware resource `contact` names: a configured resource name, or a contact such as
// `local:`. `ssh://user@host:port`, `slurm://partition` and `slurm+ssh://login-host/partition`
// are recognised, but their adaptors are not in this build yet. The caller owns the handle and
// releases it with GATHardwareResource_Destroy(). NULL on failure, with the reason in the last
// error (an unknown name, or an adaptor this build lacks).
GATHardwareResource GATHardwareResource_Create(GATContext context, const char *contact);

// (ext) The resource's name (its configured name, or its contact such as `local:`). Owned by the
// resource; valid until it is destroyed. NULL for a bad handle.
const char *GATHardwareResource_GetName(GATHardwareResource_const resource);

// (ext) The resource's attributes: the c-api.md section 6 keys it knows (`cpu.count`,
// `memory.size` in GB, `os.name`, ...), `load.average`, and `load.sched`, `load.stop`,
// `load.checkpoint` where configured. `*attributes` is owned by the resource and stays valid
// until it is destroyed or this call is made again on it.
GATResult GATHardwareResource_GetDescription(GATHardwareResource_const resource,
                                             GATTable_const *attributes);

// (ext) Release a hardware resource and set `*resource` to NULL; NULL and `*resource == NULL`
// are accepted. Resources taken from a GATList_GATResource belong to the list: destroying one
// is refused.
void GATHardwareResource_Destroy(GATHardwareResource *resource);

// (ext) The number of resources in the list (0 for a bad handle).
GATuint32 GATList_GATResource_Size(GATList_GATResource_const list);

// (ext) The resource at `index` (0 is the best match), owned by the list: valid until the list is
// destroyed. Convert it with GATResource_ToGATHardwareResource_const(). NULL when `index` is out
// of range or the handle is bad.
GATResource_const GATList_GATResource_Get(GATList_GATResource_const list, GATuint32 index);

// (ext) Release a resource list and set `*list` to NULL; NULL and `*list == NULL` are accepted.
// The resources taken from it become invalid.
void GATList_GATResource_Destroy(GATList_GATResource *list);

// The job's current state, from what libgat keeps current (no round trip to the resource).
// GATJobState_Unknown when it cannot be determined right now (info `state.reason` says why).
GATResult GATJob_GetState(GATJob_const job, enum GATJobState *state);

// (ext) Block until the job is in `state` or a later one (the order is Initial, Scheduled,
// Running, Stopped; a Stopped job ends every wait, so waiting for Running returns when a short
// job has already ended), or until `timeout` seconds passed (negative: no limit; 0: just look).
// The state then goes to `*reached`. The wait sleeps: it costs no CPU while the job runs, and
// wakes as soon as libgat learns the news (at once for `local:` jobs; within a poll round for
// polled resources). `state` is a GATJobState value; GATJobState_Unknown waits for exactly
// Unknown (a job passes through Unknown while its host is unreachable; other waits go on).
// Results: GAT_SUCCESS (`*reached` written); GAT_TIMEOUT (not reached in time: GetState says
// where it is); GAT_INVALID_PARAMETER (`state` not a GATJobState, `timeout` NaN, `reached`
// NULL); GAT_INVALID_HANDLE.
GATResult GATJob_WaitForState(GATJob_const job,
                              int state,
                              GATdouble64 timeout,
                              enum GATJobState *reached);

// The job's id (read it with GATString_GetBuffer()); owned by the job handle, valid until it is
// destroyed. The id re-attaches to the job from any process: GATJob_Create().
GATResult GATJob_GetJobID(GATJob_const job, GATJobID_const *id);

// The job's description; owned by the job handle, valid until it is destroyed.
GATResult GATJob_GetJobDescription(GATJob_const job, GATJobDescription_const *description);

// A fresh table about the job: `hostname`, `scheduletime`, `starttime`, `stoptime` (GATTime),
// `checkpointable` (int16), `state`, `adaptor`, `resource`, `native.id`, `exitcode` (int32, once
// stopped), `signal` (int32, when a signal ended it), `stopreason` (`exited`, `stopped`,
// `failed`, `lost`, `migrated`), `checkpoint.generation` (int32), `selection.reason`,
// `state.reason` (why the state is Unknown), `poststage.errors` (files that could not be copied
// back); only the keys that apply. Owned by the job handle:
// valid until it is destroyed or GetInfo is called again on it.
GATResult GATJob_GetInfo(GATJob_const job, GATTable_const *info);

// Take a Scheduled job off its queue (back to Initial). Any other state: GAT_INVALID_STATE (jobs
// on `local:` start at once and are never Scheduled).
GATResult GATJob_UnSchedule(GATJob_const job);

// Stop a Running job: its whole process tree ends (TERM, a grace period, KILL) and the job is
// Stopped with info `stopreason` = `stopped`. Any other state: GAT_INVALID_STATE.
GATResult GATJob_Stop(GATJob job);

// Checkpoint a Running, checkpointable job (software description key `checkpointable` = 1; the
// program follows the protocol of docs/instrumenting.md). The job is asked for its state (the
// `checkpoint.signal`, default SIGUSR2), the state is kept as a new verified generation, and the
// job keeps running; a program that exits after saving (GNU Queue style) is restarted in place
// from that state. Info `checkpoint.generation` and `checkpoint.time` name the newest state.
// Results: GAT_SUCCESS; GAT_NOT_CHECKPOINTABLE; GAT_INVALID_STATE (not Running); GAT_TIMEOUT
// (no state within `checkpoint.timeout` seconds, or the program never installed a handler for
// the signal: then it was not sent; either way the job runs on untouched);
// GAT_CHECKPOINT_CORRUPT (the job answered but its state cannot be read); GAT_INVALID_HANDLE.
GATResult GATJob_Checkpoint(GATJob job);

// Migrate the job to `resource` (NULL: libgat chooses another resource that can run it).
// A Running job is checkpointed first (frozen, so no work is lost), its newest good state is
// placed on the target and restarted there, and only once the new job runs does the original
// end (Stopped, stopreason `migrated`, info `migrated.to`). A job Stopped by a failure (`lost`,
// `failed`) restarts from its last good checkpoint. `*migrated` receives the new job (the
// caller owns it; info `migrated.from`). Results: GAT_SUCCESS; GAT_NOT_CHECKPOINTABLE;
// GAT_INVALID_STATE; GAT_TIMEOUT (the job did not save its state; it runs on untouched);
// GAT_CHECKPOINT_CORRUPT (no generation verifies); GAT_NO_MATCHING_RESOURCE;
// GAT_MIGRATION_ROLLED_BACK (a later step failed: the original runs on, or stays restartable;
// the last-error text says why).
GATResult GATJob_Migrate(GATJob_const job, GATHardwareResource_const resource, GATJob *migrated);

// Start a copy of a Running job from a fresh checkpoint on `resource` (NULL: libgat chooses
// another resource); the original runs on. `*clone` receives the new job (the caller owns it).
// Results as for GATJob_Migrate().
GATResult GATJob_CloneJob(GATJob_const job, GATHardwareResource_const resource, GATJob *clone);

// Release the job handle and set `*job` to NULL; NULL and `*job == NULL` are accepted. The job
// itself runs on (re-attach with GATJob_Create()); the id, description and info handed out by
// this handle become invalid.
void GATJob_Destroy(GATJob *job);

// (ext) Re-attach to the job `jobid` (from GATJob_GetJobID(), possibly in another process) through
// the journal of the state directory. `preferences` may be NULL. The caller owns the handle and
// releases it with GATJob_Destroy(). NULL when the id is unknown (see GAT_GetLastErrorMessage()).
GATJob GATJob_Create(GATContext context, GATPreferences_const preferences, const char *jobid);

// GATTrue when this run resumes from a checkpoint (GAT_RESTART_FILE is set).
GATBool GATSelf_IsRestart(void);

// The state file to resume from, or NULL when this run is not a restart. Owned by libgat;
// valid for the life of the process.
const char *GATSelf_RestartFile(void);

// Where to write the next checkpoint state, or NULL when this program does not run as a
// checkpointable libgat job. Owned by libgat; valid for the life of the process.
const char *GATSelf_CheckpointFile(void);

// GATTrue when a checkpoint has been asked for (the checkpoint signal arrived) and
// GATSelf_CheckpointDone() has not been called since. Cheap: poll it in the main loop.
GATBool GATSelf_CheckpointRequested(void);

// The state is completely written to GATSelf_CheckpointFile(): make it durable, publish it to
// libgat and clear the request. The program then goes on (or exits, if it prefers).
// Results: GAT_SUCCESS; GAT_INVALID_STATE when not running as a checkpointable libgat job;
// GAT_FILE_OPEN_ERROR when the state file is missing; GAT_IO_ERROR when it cannot be synced.
GATResult GATSelf_CheckpointDone(void);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

/* GATResult inspection (GAT manual). A GATResult holds, from the top bit down: severity (2 bits:
 * 0 success, 1 information, 2 warning, 3 error), customer (1), reserved (1), facility (12) and
 * code (16). */

/* Severity of rc: 0 success, 1 information, 2 warning, 3 error. */
#define GAT_RESULT_SEVERITY(rc) ((int)(((uint32_t)(rc) >> 30) & 0x3u))
/* Facility of rc: 1 is GAT itself. */
#define GAT_RESULT_FACILITY(rc) ((int)(((uint32_t)(rc) >> 16) & 0xFFFu))
/* Code of rc within its facility: GAT_RESULT_CODE(GAT_NO_SUCH_KEY) == 9. */
#define GAT_RESULT_CODE(rc) ((int)((uint32_t)(rc) & 0xFFFFu))
/* True when rc reports success (severity success or information). */
#define GAT_SUCCEEDED(rc) (GAT_RESULT_SEVERITY(rc) < 2)
/* True when rc reports a failure (severity warning or error). */
#define GAT_FAILED(rc) (!GAT_SUCCEEDED(rc))

#endif /* GAT_H */
