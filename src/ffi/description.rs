//! Software, hardware-resource, resource and job descriptions. Each `_Create` checks its table
//! once (engine::description), so a malformed description fails here with the key named.

use std::sync::Arc;

use super::boundary;
use super::handle::{self, Body, Obj};
use super::object::{self, BorrowedSlot};
use super::table::TableObj;
use super::types::*;
use crate::engine::{HardwareDescription, JobDescription, ResourceChoice, Result, SoftwareDescription};

pub(crate) struct SoftwareDescriptionObj {
    pub(crate) description: Arc<SoftwareDescription>,
    /// GATSoftwareDescription_GetAttributes' table.
    attributes: BorrowedSlot,
}

impl SoftwareDescriptionObj {
    pub(crate) fn new(description: Arc<SoftwareDescription>) -> Self {
        SoftwareDescriptionObj { description, attributes: BorrowedSlot::new() }
    }
}

pub(crate) struct HardwareResourceDescriptionObj {
    pub(crate) description: Arc<HardwareDescription>,
    /// GATHardwareResourceDescription_GetAttributes' table.
    attributes: BorrowedSlot,
}

impl HardwareResourceDescriptionObj {
    pub(crate) fn new(description: Arc<HardwareDescription>) -> Self {
        HardwareResourceDescriptionObj { description, attributes: BorrowedSlot::new() }
    }
}

pub(crate) struct JobDescriptionObj {
    pub(crate) description: Arc<JobDescription>,
    /// GATJobDescription_GetSoftwareDescription's handle.
    software: BorrowedSlot,
}

impl JobDescriptionObj {
    pub(crate) fn new(description: Arc<JobDescription>) -> Self {
        JobDescriptionObj { description, software: BorrowedSlot::new() }
    }
}

/// The table inside a live GATTable handle.
fn table_arg(table: GATTable_const) -> Result<crate::engine::Table> {
    let obj = boundary::obj(table, GATType::GATType_GATTable, "table")?;
    let Body::Table(t) = &obj.body else { return Err(object::wrong_body("table")) };
    Ok(t.snapshot())
}

fn software_arg(sd: GATSoftwareDescription_const) -> Result<Arc<SoftwareDescription>> {
    let obj = boundary::obj(sd, GATType::GATType_GATSoftwareDescription, "software description")?;
    let Body::SoftwareDescription(s) = &obj.body else { return Err(object::wrong_body("software description")) };
    Ok(s.description.clone())
}

/// A context is not needed to describe a job; when one is given it must be live.
fn context_arg(context: GATContext) -> Result<()> {
    handle::lookup_opt(context, GATType::GATType_GATContext, "context").map(drop)
}

/// Create a software description from a table of the c-api.md section 6 keys (`location`
/// required; `arguments`, `environment`, `stdin`, `stdout`, `stderr`, `directory`,
/// `pre-staged files`, `post-staged files`, and the checkpoint keys). The table is copied. Without
/// `stdin` the job reads /dev/null; a stream without `stdout`/`stderr` is discarded, on this
/// machine and on ssh hosts alike: name a file to keep it. The caller owns
/// the result and releases it with GATSoftwareDescription_Destroy(). NULL on failure; the
/// last-error text names the key, what it held and what was expected.
#[no_mangle]
pub extern "C" fn GATSoftwareDescription_Create(table: GATTable_const) -> GATSoftwareDescription {
    boundary::create("GATSoftwareDescription_Create", || {
        let description = SoftwareDescription::from_table(&table_arg(table)?)?;
        Ok(Obj::new(Body::SoftwareDescription(SoftwareDescriptionObj::new(Arc::new(description)))))
    })
}

/// (ext) The table the description was made from, in `*attributes`: owned by the description
/// (valid until it is destroyed; never destroyed by the caller). Returns GAT_SUCCESS,
/// GAT_INVALID_HANDLE or GAT_INVALID_PARAMETER (NULL out-pointer).
#[no_mangle]
pub unsafe extern "C" fn GATSoftwareDescription_GetAttributes(
    description: GATSoftwareDescription_const,
    attributes: *mut GATTable_const,
) -> GATResult {
    boundary::call("GATSoftwareDescription_GetAttributes", || {
        let obj = boundary::obj(description, GATType::GATType_GATSoftwareDescription, "software description")?;
        let Body::SoftwareDescription(s) = &obj.body else { return Err(object::wrong_body("software description")) };
        boundary::check_out(attributes, "attributes")?;
        let table = s.attributes.get_or_register(|| Body::Table(TableObj::new(s.description.table.clone())));
        boundary::write_out(attributes, "attributes", table.cast_const().cast())
    })
}

/// Release a software description and set `*description` to NULL. NULL and
/// `*description == NULL` are accepted. Job descriptions made from it keep their own reference.
#[no_mangle]
pub unsafe extern "C" fn GATSoftwareDescription_Destroy(description: *mut GATSoftwareDescription) {
    boundary::destroy("GATSoftwareDescription_Destroy", description, GATType::GATType_GATSoftwareDescription)
}

/// Create a hardware resource description from a table of the section 6 hardware keys
/// (`memory.size`, `cpu.count`, `cpu.speed`, `disk.size` are minimums and may be any numeric
/// type; `cpu.type`, `machine.type`, `machine.node`, `os.name`, `os.type`, `os.release`,
/// `os.version` compare case-insensitively). A missing key matches anything. The caller owns the
/// result and releases it with GATHardwareResourceDescription_Destroy() (or, after
/// GATHardwareResourceDescription_ToGATResourceDescription(), GATResourceDescription_Destroy()).
/// NULL on failure; the last-error text names the key.
#[no_mangle]
pub extern "C" fn GATHardwareResourceDescription_Create(table: GATTable_const) -> GATHardwareResourceDescription {
    boundary::create("GATHardwareResourceDescription_Create", || {
        let description = HardwareDescription::from_table(&table_arg(table)?)?;
        Ok(Obj::new(Body::HardwareResourceDescription(HardwareResourceDescriptionObj::new(Arc::new(description)))))
    })
}

/// (ext) The table the description was made from, in `*attributes`: owned by the description.
/// Results as GATSoftwareDescription_GetAttributes().
#[no_mangle]
pub unsafe extern "C" fn GATHardwareResourceDescription_GetAttributes(
    description: GATHardwareResourceDescription_const,
    attributes: *mut GATTable_const,
) -> GATResult {
    boundary::call("GATHardwareResourceDescription_GetAttributes", || {
        let obj = boundary::obj(
            description,
            GATType::GATType_GATHardwareResourceDescription,
            "hardware resource description",
        )?;
        let Body::HardwareResourceDescription(h) = &obj.body else {
            return Err(object::wrong_body("hardware resource description"));
        };
        boundary::check_out(attributes, "attributes")?;
        let table = h.attributes.get_or_register(|| Body::Table(TableObj::new(h.description.table.clone())));
        boundary::write_out(attributes, "attributes", table.cast_const().cast())
    })
}

/// Release a hardware resource description and set `*description` to NULL. NULL and
/// `*description == NULL` are accepted.
#[no_mangle]
pub unsafe extern "C" fn GATHardwareResourceDescription_Destroy(description: *mut GATHardwareResourceDescription) {
    boundary::destroy(
        "GATHardwareResourceDescription_Destroy",
        description,
        GATType::GATType_GATHardwareResourceDescription,
    )
}

/// Release a resource description (the hardware resource description behind it) and set
/// `*description` to NULL. NULL and `*description == NULL` are accepted.
#[no_mangle]
pub unsafe extern "C" fn GATResourceDescription_Destroy(description: *mut GATResourceDescription) {
    boundary::destroy("GATResourceDescription_Destroy", description, GATType::GATType_GATResourceDescription)
}

fn job_description(software: Arc<SoftwareDescription>, resource: Option<ResourceChoice>) -> Obj {
    Obj::new(Body::JobDescription(JobDescriptionObj::new(Arc::new(JobDescription::new(software, resource)))))
}

/// Create a job description: `software` to run on `resource`, or, when `resource` is NULL,
/// wherever the broker chooses. `context` may be NULL. The caller owns the result and releases
/// it with GATJobDescription_Destroy(); the arguments may be destroyed afterwards. NULL on
/// failure (NULL or dead `software`, a `resource` that is not a live GATResource).
#[no_mangle]
pub extern "C" fn GATJobDescription_Create(
    context: GATContext,
    software: GATSoftwareDescription_const,
    resource: GATResource_const,
) -> GATJobDescription {
    boundary::create("GATJobDescription_Create", || {
        context_arg(context)?;
        let software = software_arg(software)?;
        let choice = match handle::lookup_opt(resource, GATType::GATType_GATResource, "resource")? {
            None => None,
            Some(obj) => match &obj.body {
                Body::HardwareResource(h) => Some(ResourceChoice::Resource(h.resource.clone())),
                _ => return Err(object::wrong_body("resource")),
            },
        };
        Ok(job_description(software, choice))
    })
}

/// Create a job description: `software` to run on a resource matching `resource` (chosen by the
/// broker), or anywhere when `resource` is NULL. `context` may be NULL. Ownership and failures
/// as GATJobDescription_Create().
#[no_mangle]
pub extern "C" fn GATJobDescription_Create_Description(
    context: GATContext,
    software: GATSoftwareDescription_const,
    resource: GATResourceDescription_const,
) -> GATJobDescription {
    boundary::create("GATJobDescription_Create_Description", || {
        context_arg(context)?;
        let software = software_arg(software)?;
        let choice = match handle::lookup_opt(resource, GATType::GATType_GATResourceDescription, "resource description")? {
            None => None,
            Some(obj) => match &obj.body {
                Body::HardwareResourceDescription(h) => Some(ResourceChoice::Description(h.description.clone())),
                _ => return Err(object::wrong_body("resource description")),
            },
        };
        Ok(job_description(software, choice))
    })
}

/// (ext) The software description of `description`, in `*software`: owned by the job
/// description (valid until it is destroyed; never destroyed by the caller). Returns GAT_SUCCESS,
/// GAT_INVALID_HANDLE or GAT_INVALID_PARAMETER (NULL out-pointer).
#[no_mangle]
pub unsafe extern "C" fn GATJobDescription_GetSoftwareDescription(
    description: GATJobDescription_const,
    software: *mut GATSoftwareDescription_const,
) -> GATResult {
    boundary::call("GATJobDescription_GetSoftwareDescription", || {
        let obj = boundary::obj(description, GATType::GATType_GATJobDescription, "job description")?;
        let Body::JobDescription(j) = &obj.body else { return Err(object::wrong_body("job description")) };
        boundary::check_out(software, "software")?;
        let sd = j.software.get_or_register(|| {
            Body::SoftwareDescription(SoftwareDescriptionObj::new(j.description.software.clone()))
        });
        boundary::write_out(software, "software", sd.cast_const().cast())
    })
}

/// Release a job description and set `*description` to NULL. NULL and `*description == NULL`
/// are accepted; jobs submitted with it keep their own copy.
#[no_mangle]
pub unsafe extern "C" fn GATJobDescription_Destroy(description: *mut GATJobDescription) {
    boundary::destroy("GATJobDescription_Destroy", description, GATType::GATType_GATJobDescription)
}
