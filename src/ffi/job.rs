//! GATJob: a submitted job. Queries answer from the state the engine keeps current.

use std::ffi::{c_char, c_int};
use std::time::Duration;
use std::sync::Arc;

use super::boundary;
use super::broker::{context_engine, preferences};
use super::description::JobDescriptionObj;
use super::handle::{self, Body, Obj};
use super::object::{wrong_body, BorrowedSlot};
use super::string::StringObj;
use super::table::TableObj;
use super::types::*;
use crate::engine::{Error, HardwareResource, Job, JobState, Result};

pub(crate) struct JobObj {
    pub(crate) job: Job,
    id: BorrowedSlot,
    description: BorrowedSlot,
    info: BorrowedSlot,
}

impl JobObj {
    pub(crate) fn new(job: Job) -> Self {
        JobObj { job, id: BorrowedSlot::new(), description: BorrowedSlot::new(), info: BorrowedSlot::new() }
    }
}

fn with_job<T>(job: GATJob_const, f: impl FnOnce(&JobObj) -> Result<T>) -> Result<T> {
    let obj = boundary::obj(job, GATType::GATType_GATJob, "job")?;
    match &obj.body {
        Body::Job(j) => f(j),
        _ => Err(wrong_body("job")),
    }
}

fn gat_state(state: JobState) -> GATJobState {
    match state {
        JobState::Initial => GATJobState::GATJobState_Initial,
        JobState::Scheduled => GATJobState::GATJobState_Scheduled,
        JobState::Running => GATJobState::GATJobState_Running,
        JobState::Stopped => GATJobState::GATJobState_Stopped,
        JobState::Unknown => GATJobState::GATJobState_Unknown,
    }
}

fn target(hr: GATHardwareResource_const) -> Result<Option<Arc<HardwareResource>>> {
    match handle::lookup_opt(hr, GATType::GATType_GATHardwareResource, "hardware resource")? {
        None => Ok(None),
        Some(obj) => match &obj.body {
            Body::HardwareResource(r) => Ok(Some(r.resource.clone())),
            _ => Err(wrong_body("hardware resource")),
        },
    }
}

fn job_handle(job: Job) -> GATJob {
    handle::register::<GATJob_S>(Obj::new(Body::Job(JobObj::new(job))))
}

/// The job's current state, from what libgat keeps current (no round trip to the resource).
/// GATJobState_Unknown when it cannot be determined right now (info `state.reason` says why).
#[no_mangle]
pub unsafe extern "C" fn GATJob_GetState(job: GATJob_const, state: *mut GATJobState) -> GATResult {
    boundary::call("GATJob_GetState", || {
        let now = with_job(job, |j| Ok(j.job.state()))?;
        boundary::write_out(state, "state", gat_state(now))
    })
}

/// (ext) Block until the job is in `state` or a later one (the order is Initial, Scheduled,
/// Running, Stopped; a Stopped job ends every wait, so waiting for Running returns when a short
/// job has already ended), or until `timeout` seconds passed (negative: no limit; 0: just look).
/// The state then goes to `*reached`. The wait sleeps: it costs no CPU while the job runs, and
/// wakes as soon as libgat learns the news (at once for `local:` jobs; within a poll round for
/// polled resources). `state` is a GATJobState value; GATJobState_Unknown waits for exactly
/// Unknown (a job passes through Unknown while its host is unreachable; other waits go on).
/// Results: GAT_SUCCESS (`*reached` written); GAT_TIMEOUT (not reached in time: GetState says
/// where it is); GAT_INVALID_PARAMETER (`state` not a GATJobState, `timeout` NaN, `reached`
/// NULL); GAT_INVALID_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn GATJob_WaitForState(
    job: GATJob_const,
    state: c_int,
    timeout: GATdouble64,
    reached: *mut GATJobState,
) -> GATResult {
    boundary::call("GATJob_WaitForState", || {
        boundary::check_out(reached, "reached")?;
        let wanted = match state {
            0 => JobState::Initial,
            1 => JobState::Scheduled,
            2 => JobState::Running,
            3 => JobState::Stopped,
            4 => JobState::Unknown,
            _ => return Err(Error::InvalidParameter(format!("state {state} is not a GATJobState (0 to 4)"))),
        };
        if timeout.is_nan() {
            return Err(Error::InvalidParameter("timeout is NaN".into()));
        }
        // Negative, or too long to represent (infinity): no limit.
        let limit = if timeout < 0.0 { None } else { Duration::try_from_secs_f64(timeout).ok() };
        let now = with_job(job, |j| Ok(j.job.wait_for_state(wanted, limit)))?;
        if !now.has_reached(wanted) {
            return Err(Error::Timeout(format!(
                "the job did not reach {} within {timeout} s (it is {})",
                wanted.as_str(),
                now.as_str()
            )));
        }
        boundary::write_out(reached, "reached", gat_state(now))
    })
}

/// The job's id (read it with GATString_GetBuffer()); owned by the job handle, valid until it is
/// destroyed. The id re-attaches to the job from any process: GATJob_Create().
#[no_mangle]
pub unsafe extern "C" fn GATJob_GetJobID(job: GATJob_const, id: *mut GATJobID_const) -> GATResult {
    boundary::call("GATJob_GetJobID", || {
        boundary::check_out(id, "id")?;
        let handle = with_job(job, |j| Ok(j.id.get_or_register(|| Body::String(StringObj::new(j.job.id())))))?;
        boundary::write_out(id, "id", handle as GATJobID_const)
    })
}

/// The job's description; owned by the job handle, valid until it is destroyed.
#[no_mangle]
pub unsafe extern "C" fn GATJob_GetJobDescription(job: GATJob_const, description: *mut GATJobDescription_const) -> GATResult {
    boundary::call("GATJob_GetJobDescription", || {
        boundary::check_out(description, "description")?;
        let handle = with_job(job, |j| {
            Ok(j.description.get_or_register(|| Body::JobDescription(JobDescriptionObj::new(j.job.description()))))
        })?;
        boundary::write_out(description, "description", handle as GATJobDescription_const)
    })
}

/// A fresh table about the job: `hostname`, `scheduletime`, `starttime`, `stoptime` (GATTime),
/// `checkpointable` (int16), `state`, `adaptor`, `resource`, `native.id`, `exitcode` (int32, once
/// stopped), `signal` (int32, when a signal ended it), `stopreason` (`exited`, `stopped`,
/// `failed`, `lost`, `migrated`), `checkpoint.generation` (int32), `selection.reason`,
/// `state.reason` (why the state is Unknown), `poststage.errors` (files that could not be copied
/// back); only the keys that apply. Owned by the job handle:
/// valid until it is destroyed or GetInfo is called again on it.
#[no_mangle]
pub unsafe extern "C" fn GATJob_GetInfo(job: GATJob_const, info: *mut GATTable_const) -> GATResult {
    boundary::call("GATJob_GetInfo", || {
        boundary::check_out(info, "info")?;
        let handle = with_job(job, |j| Ok(j.info.replace(Body::Table(TableObj::new(j.job.info())))))?;
        boundary::write_out(info, "info", handle as GATTable_const)
    })
}

/// Take a Scheduled job off its queue (back to Initial). Any other state: GAT_INVALID_STATE (jobs
/// on `local:` start at once and are never Scheduled).
#[no_mangle]
pub extern "C" fn GATJob_UnSchedule(job: GATJob_const) -> GATResult {
    boundary::call("GATJob_UnSchedule", || with_job(job, |j| j.job.unschedule()))
}

/// Stop a Running job: its whole process tree ends (TERM, a grace period, KILL) and the job is
/// Stopped with info `stopreason` = `stopped`. Any other state: GAT_INVALID_STATE.
#[no_mangle]
pub extern "C" fn GATJob_Stop(job: GATJob) -> GATResult {
    boundary::call("GATJob_Stop", || with_job(job, |j| j.job.stop()))
}

/// Checkpoint a Running, checkpointable job (software description key `checkpointable` = 1; the
/// program follows the protocol of docs/instrumenting.md). The job is asked for its state (the
/// `checkpoint.signal`, default SIGUSR2), the state is kept as a new verified generation, and the
/// job keeps running; a program that exits after saving (GNU Queue style) is restarted in place
/// from that state. Info `checkpoint.generation` and `checkpoint.time` name the newest state.
/// Results: GAT_SUCCESS; GAT_NOT_CHECKPOINTABLE; GAT_INVALID_STATE (not Running); GAT_TIMEOUT
/// (no state within `checkpoint.timeout` seconds, or the program never installed a handler for
/// the signal: then it was not sent; either way the job runs on untouched);
/// GAT_CHECKPOINT_CORRUPT (the job answered but its state cannot be read); GAT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn GATJob_Checkpoint(job: GATJob) -> GATResult {
    boundary::call("GATJob_Checkpoint", || with_job(job, |j| j.job.checkpoint()))
}

/// Migrate the job to `resource` (NULL: libgat chooses another resource that can run it).
/// A Running job is checkpointed first (frozen, so no work is lost), its newest good state is
/// placed on the target and restarted there, and only once the new job runs does the original
/// end (Stopped, stopreason `migrated`, info `migrated.to`). A job Stopped by a failure (`lost`,
/// `failed`) restarts from its last good checkpoint. `*migrated` receives the new job (the
/// caller owns it; info `migrated.from`). Results: GAT_SUCCESS; GAT_NOT_CHECKPOINTABLE;
/// GAT_INVALID_STATE; GAT_TIMEOUT (the job did not save its state; it runs on untouched);
/// GAT_CHECKPOINT_CORRUPT (no generation verifies); GAT_NO_MATCHING_RESOURCE;
/// GAT_MIGRATION_ROLLED_BACK (a later step failed: the original runs on, or stays restartable;
/// the last-error text says why).
#[no_mangle]
pub unsafe extern "C" fn GATJob_Migrate(job: GATJob_const, resource: GATHardwareResource_const, migrated: *mut GATJob) -> GATResult {
    boundary::call("GATJob_Migrate", || {
        boundary::check_out(migrated, "migrated")?;
        let to = target(resource)?;
        let new_job = with_job(job, |j| j.job.migrate(to))?;
        boundary::write_out(migrated, "migrated", job_handle(new_job))
    })
}

/// Start a copy of a Running job from a fresh checkpoint on `resource` (NULL: libgat chooses
/// another resource); the original runs on. `*clone` receives the new job (the caller owns it).
/// Results as for GATJob_Migrate().
#[no_mangle]
pub unsafe extern "C" fn GATJob_CloneJob(job: GATJob_const, resource: GATHardwareResource_const, clone: *mut GATJob) -> GATResult {
    boundary::call("GATJob_CloneJob", || {
        boundary::check_out(clone, "clone")?;
        let to = target(resource)?;
        let new_job = with_job(job, |j| j.job.clone_job(to))?;
        boundary::write_out(clone, "clone", job_handle(new_job))
    })
}

/// Release the job handle and set `*job` to NULL; NULL and `*job == NULL` are accepted. The job
/// itself runs on (re-attach with GATJob_Create()); the id, description and info handed out by
/// this handle become invalid.
#[no_mangle]
pub unsafe extern "C" fn GATJob_Destroy(job: *mut GATJob) {
    boundary::destroy("GATJob_Destroy", job, GATType::GATType_GATJob)
}

/// (ext) Re-attach to the job `jobid` (from GATJob_GetJobID(), possibly in another process) through
/// the journal of the state directory. `preferences` may be NULL. The caller owns the handle and
/// releases it with GATJob_Destroy(). NULL when the id is unknown (see GAT_GetLastErrorMessage()).
#[no_mangle]
pub unsafe extern "C" fn GATJob_Create(context: GATContext, preferences: GATPreferences_const, jobid: *const c_char) -> GATJob {
    boundary::value("GATJob_Create", std::ptr::null_mut(), || {
        let engine = context_engine(context)?;
        let _prefs = self::preferences(preferences)?;
        let id = boundary::str_arg(jobid, "jobid")?;
        Ok(job_handle(engine.attach(id)?))
    })
}
