//! GATResourceBroker: finds resources and submits jobs. Also the small argument readers the
//! job and resource files share (context -> engine, optional preferences).

use std::sync::Arc;

use super::boundary;
use super::handle::{self, Body, Obj};
use super::job::JobObj;
use super::object::wrong_body;
use super::resource::ListResourceObj;
use super::types::*;
use crate::engine::{Broker, Engine, Preferences, Result};

pub(crate) struct ResourceBrokerObj {
    pub(crate) broker: Broker,
}

/// The engine behind a live context.
pub(crate) fn context_engine(context: GATContext_const) -> Result<Arc<Engine>> {
    let obj = boundary::obj(context, GATType::GATType_GATContext, "context")?;
    match &obj.body {
        Body::Context(c) => c.engine(),
        _ => Err(wrong_body("context")),
    }
}

/// A copy of optional preferences (NULL: none).
pub(crate) fn preferences(prefs: GATPreferences_const) -> Result<Preferences> {
    match handle::lookup_opt(prefs, GATType::GATType_GATPreferences, "preferences")? {
        None => Ok(Preferences::new()),
        Some(obj) => match &obj.body {
            Body::Preferences(p) => Ok(p.snapshot()),
            _ => Err(wrong_body("preferences")),
        },
    }
}

fn vo_name(vo: GATString) -> Result<Option<String>> {
    match handle::lookup_opt(vo, GATType::GATType_GATString, "vo_name")? {
        None => Ok(None),
        Some(obj) => match &obj.body {
            Body::String(s) => Ok(Some(s.as_str())),
            _ => Err(wrong_body("vo_name")),
        },
    }
}

fn with_broker<T>(broker: GATResourceBroker, f: impl FnOnce(&Broker) -> Result<T>) -> Result<T> {
    let obj = boundary::obj(broker, GATType::GATType_GATResourceBroker, "broker")?;
    match &obj.body {
        Body::ResourceBroker(b) => f(&b.broker),
        _ => Err(wrong_body("broker")),
    }
}

/// Create a resource broker on `context` (a live GATContext). `preferences` (may be NULL) steer
/// adaptor choice (`resourcebroker.adaptor.name`: a comma list, `!name` excludes) and are copied;
/// `vo_name` (may be NULL) is kept for the record. The caller owns the broker and releases it with
/// GATResourceBroker_Destroy(). NULL on failure (a bad context, an unusable state directory or
/// configuration: see GAT_GetLastErrorMessage()).
#[no_mangle]
pub extern "C" fn GATResourceBroker_Create(
    context: GATContext,
    preferences: GATPreferences_const,
    vo_name: GATString,
) -> GATResourceBroker {
    boundary::create("GATResourceBroker_Create", || {
        let engine = context_engine(context)?;
        let broker = Broker::new(engine, self::preferences(preferences)?, self::vo_name(vo_name)?);
        Ok(Obj::new(Body::ResourceBroker(ResourceBrokerObj { broker })))
    })
}

/// Release a broker and set `*broker` to NULL; NULL and `*broker == NULL` are accepted. Jobs it
/// submitted run on, and their handles stay valid.
#[no_mangle]
pub unsafe extern "C" fn GATResourceBroker_Destroy(broker: *mut GATResourceBroker) {
    boundary::destroy("GATResourceBroker_Destroy", broker, GATType::GATType_GATResourceBroker)
}

/// Submit the job `description` says: on its resource, else on the best resource matching its
/// resource description, else on `local:`. The job is recorded in the journal before it is
/// started. On success `*job` is a new handle the caller releases with GATJob_Destroy() (the job
/// runs on). Results: GAT_INVALID_HANDLE, GAT_INVALID_PARAMETER (NULL `job`),
/// GAT_NO_MATCHING_RESOURCE, GAT_NOTIMPL (the resource's adaptor is not in this build),
/// GAT_FILE_OPEN_ERROR (program or file missing), GAT_IO_ERROR.
#[no_mangle]
pub unsafe extern "C" fn GATResourceBroker_SubmitJob(
    broker: GATResourceBroker,
    description: GATJobDescription_const,
    job: *mut GATJob,
) -> GATResult {
    boundary::call("GATResourceBroker_SubmitJob", || {
        boundary::check_out(job, "job")?;
        let jd = boundary::obj(description, GATType::GATType_GATJobDescription, "description")?;
        let Body::JobDescription(jd) = &jd.body else { return Err(wrong_body("description")) };
        let submitted = with_broker(broker, |b| b.submit(&jd.description))?;
        let handle = handle::register::<GATJob_S>(Obj::new(Body::Job(JobObj::new(submitted))));
        boundary::write_out(job, "job", handle)
    })
}

/// Find the resources matching `description` (a GATHardwareResourceDescription as a
/// GATResourceDescription), best match first: matching attributes, below their `loadsched`, then
/// lowest load per CPU, highest configured priority, name. On success `*resources` is a new list
/// the caller releases with GATList_GATResource_Destroy(). None matching: GAT_NO_MATCHING_RESOURCE,
/// and the last-error text says why each resource was passed over.
#[no_mangle]
pub unsafe extern "C" fn GATResourceBroker_FindResources(
    broker: GATResourceBroker,
    description: GATResourceDescription_const,
    resources: *mut GATList_GATResource,
) -> GATResult {
    boundary::call("GATResourceBroker_FindResources", || {
        boundary::check_out(resources, "resources")?;
        let rd = boundary::obj(description, GATType::GATType_GATResourceDescription, "description")?;
        let Body::HardwareResourceDescription(hd) = &rd.body else { return Err(wrong_body("description")) };
        let found = with_broker(broker, |b| b.find_resources(&hd.description))?;
        let list = ListResourceObj::new(found.into_iter().map(Arc::new).collect());
        let handle = handle::register::<GATList_GATResource_S>(Obj::new(Body::ListResource(list)));
        boundary::write_out(resources, "resources", handle)
    })
}
