//! Handles: every GAT object handed to C is an `Arc<Obj>` kept alive by a registry of live
//! handles. A C pointer is only dereferenced after the registry has vouched for it, so NULL,
//! destroyed (best effort: until the address is reused) and wrong-type handles become
//! GAT_INVALID_HANDLE instead of a crash. A call holds its own `Arc` while it runs, so a
//! concurrent Destroy from another thread cannot free the object under it.

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::{Arc, Mutex, OnceLock};

use super::types::GATType;
use crate::engine::{Error, Result};

/// The body of each class lives in that class's file under src/ffi/.
pub(crate) enum Body {
    Context(super::context::ContextObj),
    Preferences(super::preferences::PreferencesObj),
    Table(super::table::TableObj),
    String(super::string::StringObj),
    ListString(super::list::ListStringObj),
    Location(super::location::LocationObj),
    Time(super::time::TimeObj),
    SoftwareDescription(super::description::SoftwareDescriptionObj),
    HardwareResourceDescription(super::description::HardwareResourceDescriptionObj),
    JobDescription(super::description::JobDescriptionObj),
    ResourceBroker(super::broker::ResourceBrokerObj),
    ListResource(super::resource::ListResourceObj),
    HardwareResource(super::resource::HardwareResourceObj),
    Job(super::job::JobObj),
}

pub(crate) struct Obj {
    /// Handed out as a `_const` query result: owned by the object it came from, so Destroy by the
    /// caller is refused.
    pub(crate) borrowed: bool,
    pub(crate) body: Body,
}

impl Obj {
    pub(crate) fn new(body: Body) -> Obj {
        Obj { borrowed: false, body }
    }

    pub(crate) fn borrowed(body: Body) -> Obj {
        Obj { borrowed: true, body }
    }

    pub(crate) fn gat_type(&self) -> GATType {
        use GATType::*;
        match &self.body {
            Body::Context(_) => GATType_GATContext,
            Body::Preferences(_) => GATType_GATPreferences,
            Body::Table(_) => GATType_GATTable,
            Body::String(_) => GATType_GATString,
            Body::ListString(_) => GATType_GATList_String,
            Body::Location(_) => GATType_GATLocation,
            Body::Time(_) => GATType_GATTime,
            Body::SoftwareDescription(_) => GATType_GATSoftwareDescription,
            Body::HardwareResourceDescription(_) => GATType_GATHardwareResourceDescription,
            Body::JobDescription(_) => GATType_GATJobDescription,
            Body::ResourceBroker(_) => GATType_GATResourceBroker,
            Body::ListResource(_) => GATType_GATList_GATResource,
            Body::HardwareResource(_) => GATType_GATHardwareResource,
            Body::Job(_) => GATType_GATJob,
        }
    }

    /// True when this object may be used where `wanted` is expected (GAT's class tree:
    /// everything is a GATObject; a hardware resource is a resource; a hardware resource
    /// description is a resource description).
    pub(crate) fn is_a(&self, wanted: GATType) -> bool {
        use GATType::*;
        let actual = self.gat_type();
        actual == wanted
            || wanted == GATType_GATObject_ANY
            || (wanted == GATType_GATResource && actual == GATType_GATHardwareResource)
            || (wanted == GATType_GATResourceDescription
                && actual == GATType_GATHardwareResourceDescription)
    }
}

/// Used with `lookup` to accept any class.
#[allow(non_upper_case_globals)]
pub(crate) const GATType_GATObject_ANY: GATType = GATType::GATType_Unknown;

type Registry = Mutex<HashMap<usize, Arc<Obj>>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

fn lock() -> std::sync::MutexGuard<'static, HashMap<usize, Arc<Obj>>> {
    // A panic elsewhere never leaves the map half-updated (single inserts/removes), so a
    // poisoned lock is still consistent.
    registry().lock().unwrap_or_else(|e| e.into_inner())
}

/// Register a new object and return the pointer C will hold.
pub(crate) fn register<T>(obj: Obj) -> *mut T {
    register_arc(Arc::new(obj)).cast()
}

/// Register an existing shared object (e.g. a query result the parent keeps).
pub(crate) fn register_arc(obj: Arc<Obj>) -> *mut c_void {
    let ptr = Arc::as_ptr(&obj) as *mut c_void;
    lock().insert(ptr as usize, obj);
    ptr
}

/// The live object behind `ptr`, if it is a handle of class `wanted` (or a subclass).
/// `what` names the parameter for the error text.
pub(crate) fn lookup<T>(ptr: *const T, wanted: GATType, what: &str) -> Result<Arc<Obj>> {
    if ptr.is_null() {
        return Err(Error::InvalidHandle(format!("{what} is NULL")));
    }
    let obj = lock()
        .get(&(ptr as usize))
        .cloned()
        .ok_or_else(|| Error::InvalidHandle(format!("{what} is not a live GAT handle (destroyed, or never created)")))?;
    if !obj.is_a(wanted) {
        return Err(Error::InvalidHandle(format!(
            "{what} is a {}, not a {}",
            type_name(obj.gat_type()),
            type_name(wanted)
        )));
    }
    Ok(obj)
}

/// Like `lookup`, but NULL is allowed (and gives None).
pub(crate) fn lookup_opt<T>(ptr: *const T, wanted: GATType, what: &str) -> Result<Option<Arc<Obj>>> {
    if ptr.is_null() {
        Ok(None)
    } else {
        lookup(ptr, wanted, what).map(Some)
    }
}

/// Remove a handle from the registry (Destroy). Borrowed handles are refused.
pub(crate) fn unregister<T>(ptr: *const T, wanted: GATType, what: &str) -> Result<Arc<Obj>> {
    let mut map = lock();
    let obj = map
        .get(&(ptr as usize))
        .ok_or_else(|| Error::InvalidHandle(format!("{what} is not a live GAT handle (destroyed twice?)")))?;
    if !obj.is_a(wanted) {
        return Err(Error::InvalidHandle(format!(
            "{what} is a {}, not a {}",
            type_name(obj.gat_type()),
            type_name(wanted)
        )));
    }
    if obj.borrowed {
        return Err(Error::InvalidHandle(format!(
            "{what} is owned by the object it came from and must not be destroyed"
        )));
    }
    Ok(map.remove(&(ptr as usize)).expect("checked above"))
}

/// Drop a borrowed handle the parent replaces or releases.
pub(crate) fn forget(ptr: *const c_void) {
    // Drop the object only after the registry lock is released: its own Drop may forget the
    // borrowed handles it cached (a table inside a table), which takes the lock again.
    let removed = lock().remove(&(ptr as usize));
    drop(removed);
}

pub(crate) fn type_name(t: GATType) -> &'static str {
    use GATType::*;
    match t {
        GATType_Unknown => "GATObject",
        GATType_GATContext => "GATContext",
        GATType_GATPreferences => "GATPreferences",
        GATType_GATTable => "GATTable",
        GATType_GATString => "GATString",
        GATType_GATList_String => "GATList_String",
        GATType_GATLocation => "GATLocation",
        GATType_GATTime => "GATTime",
        GATType_GATSoftwareDescription => "GATSoftwareDescription",
        GATType_GATHardwareResourceDescription => "GATHardwareResourceDescription",
        GATType_GATResourceDescription => "GATResourceDescription",
        GATType_GATJobDescription => "GATJobDescription",
        GATType_GATResourceBroker => "GATResourceBroker",
        GATType_GATList_GATResource => "GATList_GATResource",
        GATType_GATResource => "GATResource",
        GATType_GATHardwareResource => "GATHardwareResource",
        GATType_GATJob => "GATJob",
    }
}
