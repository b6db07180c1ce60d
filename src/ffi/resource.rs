//! GATHardwareResource and GATList_GATResource. (The GATObject/GATResource converters are in
//! object.rs.)

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use super::boundary;
use super::broker::context_engine;
use super::handle::{self, Body, Obj};
use super::object::{wrong_body, BorrowedSlot};
use super::table::TableObj;
use super::types::*;
use crate::engine::{HardwareResource, Result};

pub(crate) struct HardwareResourceObj {
    pub(crate) resource: Arc<HardwareResource>,
    name: CString,
    /// The last GetDescription answer.
    description: BorrowedSlot,
}

impl HardwareResourceObj {
    pub(crate) fn new(resource: Arc<HardwareResource>) -> Self {
        let name = boundary::c_string(resource.name());
        HardwareResourceObj { resource, name, description: BorrowedSlot::new() }
    }
}

/// A FindResources answer: the resources, each with the borrowed handle Get hands out.
pub(crate) struct ListResourceObj {
    items: Vec<usize>,
}

impl ListResourceObj {
    pub(crate) fn new(resources: Vec<Arc<HardwareResource>>) -> Self {
        let items = resources
            .into_iter()
            .map(|r| {
                let obj = Obj::borrowed(Body::HardwareResource(HardwareResourceObj::new(r)));
                handle::register_arc(Arc::new(obj)) as usize
            })
            .collect();
        ListResourceObj { items }
    }
}

impl Drop for ListResourceObj {
    fn drop(&mut self) {
        for ptr in self.items.drain(..) {
            handle::forget(ptr as *const c_void);
        }
    }
}

fn with_resource<T>(hr: GATHardwareResource_const, f: impl FnOnce(&HardwareResourceObj) -> Result<T>) -> Result<T> {
    let obj = boundary::obj(hr, GATType::GATType_GATHardwareResource, "resource")?;
    match &obj.body {
        Body::HardwareResource(r) => f(r),
        _ => Err(wrong_body("resource")),
    }
}

fn with_list<T>(list: GATList_GATResource_const, f: impl FnOnce(&ListResourceObj) -> T) -> Result<T> {
    let obj = boundary::obj(list, GATType::GATType_GATList_GATResource, "list")?;
    match &obj.body {
        Body::ListResource(l) => Ok(f(l)),
        _ => Err(wrong_body("list")),
    }
}

/// (ext) The hardware resource `contact` names: a configured resource name, or a contact such as
/// `local:`. `ssh://user@host:port`, `slurm://partition` and `slurm+ssh://login-host/partition`
/// are recognised, but their adaptors are not in this build yet. The caller owns the handle and
/// releases it with GATHardwareResource_Destroy(). NULL on failure, with the reason in the last
/// error (an unknown name, or an adaptor this build lacks).
#[no_mangle]
pub unsafe extern "C" fn GATHardwareResource_Create(context: GATContext, contact: *const c_char) -> GATHardwareResource {
    boundary::create("GATHardwareResource_Create", || {
        let engine = context_engine(context)?;
        let contact = boundary::str_arg(contact, "contact")?;
        let resource = engine.hardware_resource(contact)?;
        Ok(Obj::new(Body::HardwareResource(HardwareResourceObj::new(Arc::new(resource)))))
    })
}

/// (ext) The resource's name (its configured name, or its contact such as `local:`). Owned by the
/// resource; valid until it is destroyed. NULL for a bad handle.
#[no_mangle]
pub extern "C" fn GATHardwareResource_GetName(resource: GATHardwareResource_const) -> *const c_char {
    boundary::value("GATHardwareResource_GetName", std::ptr::null(), || {
        // The CString lives inside the registered object, which outlives this call.
        with_resource(resource, |r| Ok(r.name.as_ptr()))
    })
}

/// (ext) The resource's attributes: the c-api.md section 6 keys it knows (`cpu.count`,
/// `memory.size` in GB, `os.name`, ...), `load.average`, and `load.sched`, `load.stop`,
/// `load.checkpoint` where configured. `*attributes` is owned by the resource and stays valid
/// until it is destroyed or this call is made again on it.
#[no_mangle]
pub unsafe extern "C" fn GATHardwareResource_GetDescription(
    resource: GATHardwareResource_const,
    attributes: *mut GATTable_const,
) -> GATResult {
    boundary::call("GATHardwareResource_GetDescription", || {
        boundary::check_out(attributes, "attributes")?;
        let table = with_resource(resource, |r| {
            let table = TableObj::new(r.resource.description());
            Ok(r.description.replace(Body::Table(table)))
        })?;
        boundary::write_out(attributes, "attributes", table as GATTable_const)
    })
}

/// (ext) Release a hardware resource and set `*resource` to NULL; NULL and `*resource == NULL`
/// are accepted. Resources taken from a GATList_GATResource belong to the list: destroying one
/// is refused.
#[no_mangle]
pub unsafe extern "C" fn GATHardwareResource_Destroy(resource: *mut GATHardwareResource) {
    boundary::destroy("GATHardwareResource_Destroy", resource, GATType::GATType_GATHardwareResource)
}

/// (ext) The number of resources in the list (0 for a bad handle).
#[no_mangle]
pub extern "C" fn GATList_GATResource_Size(list: GATList_GATResource_const) -> GATuint32 {
    boundary::value("GATList_GATResource_Size", 0, || {
        with_list(list, |l| l.items.len().try_into().unwrap_or(GATuint32::MAX))
    })
}

/// (ext) The resource at `index` (0 is the best match), owned by the list: valid until the list is
/// destroyed. Convert it with GATResource_ToGATHardwareResource_const(). NULL when `index` is out
/// of range or the handle is bad.
#[no_mangle]
pub extern "C" fn GATList_GATResource_Get(list: GATList_GATResource_const, index: GATuint32) -> GATResource_const {
    boundary::value("GATList_GATResource_Get", std::ptr::null(), || {
        let (item, len) = with_list(list, |l| (l.items.get(index as usize).copied(), l.items.len()))?;
        item.map(|p| p as GATResource_const).ok_or_else(|| {
            crate::engine::Error::InvalidParameter(format!("index {index} is out of range (the list has {len})"))
        })
    })
}

/// (ext) Release a resource list and set `*list` to NULL; NULL and `*list == NULL` are accepted.
/// The resources taken from it become invalid.
#[no_mangle]
pub unsafe extern "C" fn GATList_GATResource_Destroy(list: *mut GATList_GATResource) {
    boundary::destroy("GATList_GATResource_Destroy", list, GATType::GATType_GATList_GATResource)
}
