//! Jobs: the in-memory record the engine keeps current, and the calls a job handle offers.
//! Queries (state, info) answer from the record under a mutex and never touch the journal or the
//! adaptor, so they stay cheap.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use gat_adaptor::{Adaptor, NativeJob, NativeState};

use super::core::Engine;
use super::description::JobDescription;
use super::error::{Error, Result};
use super::journal::JobRecord;
use super::value::{ObjectValue, Table, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JobState {
    #[default]
    Initial,
    Scheduled,
    Running,
    Stopped,
    Unknown,
}

impl JobState {
    /// `self` is `wanted`, or a later step of Initial, Scheduled, Running, Stopped.
    pub fn has_reached(self, wanted: JobState) -> bool {
        let step = |s: JobState| match s {
            JobState::Initial => Some(0),
            JobState::Scheduled => Some(1),
            JobState::Running => Some(2),
            JobState::Stopped => Some(3),
            JobState::Unknown => None,
        };
        self == wanted || matches!((step(self), step(wanted)), (Some(a), Some(b)) if a >= b)
    }

    /// The name used in the journal and the info table's `state` key.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Initial => "initial",
            JobState::Scheduled => "scheduled",
            JobState::Running => "running",
            JobState::Stopped => "stopped",
            JobState::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Option<JobState> {
        [JobState::Initial, JobState::Scheduled, JobState::Running, JobState::Stopped, JobState::Unknown]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One job as the engine tracks it; shared by every handle to it and by the engine's poller.
pub(crate) struct JobShared {
    pub(crate) id: String,
    /// None when the job's adaptor is not available in this build (then the state is Unknown).
    pub(crate) adaptor: Option<Arc<dyn Adaptor>>,
    pub(crate) description: Arc<JobDescription>,
    pub(crate) record: Mutex<JobRecord>,
    /// Serialises journal writes of this job so an older record never overwrites a newer one.
    pub(crate) journal_order: Mutex<()>,
    /// The engine polls this job (its adaptor does not push events, or another process submitted it).
    pub(crate) polled: bool,
    /// libgat's Stop ended the job: its end is `stopped`, whatever the exit status says.
    pub(crate) stop_requested: AtomicBool,
    /// Coordination of checkpoints and migrations with the event stream.
    pub(crate) ops: OpSync,
    /// Notified (with `record` held) whenever the record changes: `Job::wait_for_state` sleeps on it.
    pub(crate) changed: Condvar,
}

/// While a checkpoint is taken, the job may exit because it was asked to (checkpoint-and-exit):
/// its end is held here for the checkpoint to interpret instead of ending the GAT job.
#[derive(Default)]
pub(crate) struct OpSync {
    /// One checkpoint or migration of a job at a time (in this process).
    pub(crate) running: Mutex<()>,
    pub(crate) holding: AtomicBool,
    pub(crate) held: Mutex<Option<NativeState>>,
}

impl OpSync {
    pub(crate) fn take_held(&self) -> Option<NativeState> {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

impl JobShared {
    pub(crate) fn record(&self) -> MutexGuard<'_, JobRecord> {
        // Updates are plain field assignments: a panic cannot leave the record half-written.
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn native(&self) -> NativeJob {
        let r = self.record();
        NativeJob {
            id: r.id.clone(),
            native_id: r.native_id.clone(),
            resource: r.resource.clone(),
            hostname: r.hostname.clone(),
            data: r.native_data.clone(),
        }
    }

    pub(crate) fn state(&self) -> JobState {
        self.record().state
    }

    /// Block until the state is `wanted` or past it (Stopped ends every wait) or `timeout` passed
    /// (None: no limit); the state then. Unknown is no step on the way: the wait goes on through it.
    pub(crate) fn wait_for_state(&self, wanted: JobState, timeout: Option<Duration>) -> JobState {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut record = self.record();
        loop {
            if record.state.has_reached(wanted) {
                return record.state;
            }
            record = match deadline {
                None => self.changed.wait(record).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return record.state;
                    }
                    self.changed.wait_timeout(record, d - now).unwrap_or_else(|e| e.into_inner()).0
                }
            };
        }
    }

    pub(crate) fn stop_was_requested(&self) -> bool {
        self.stop_requested.load(Ordering::SeqCst)
    }
}

/// A job handle as the engine offers it: the shared job plus the engine that keeps it current.
#[derive(Clone)]
pub struct Job {
    pub(crate) engine: Arc<Engine>,
    pub(crate) shared: Arc<JobShared>,
}

impl Drop for Job {
    fn drop(&mut self) {
        self.engine.forget_if_unused(&self.shared);
    }
}

impl Job {
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    pub fn state(&self) -> JobState {
        self.shared.state()
    }

    /// Block until the job is in `wanted` or a later state (Initial, Scheduled, Running, Stopped:
    /// a Stopped job ends every wait), or until `timeout` passed (None: no limit). The state then.
    pub fn wait_for_state(&self, wanted: JobState, timeout: Option<Duration>) -> JobState {
        self.shared.wait_for_state(wanted, timeout)
    }

    pub fn description(&self) -> Arc<JobDescription> {
        self.shared.description.clone()
    }

    /// A fresh info table (c-api.md section 5): only the keys that apply now.
    pub fn info(&self) -> Table {
        let checkpointable = self.shared.description.software.checkpointable;
        info_table(&self.shared.record(), checkpointable)
    }

    /// Stop a Running job: its whole process tree ends; the job is Stopped (`stopped`).
    pub fn stop(&self) -> Result<()> {
        self.require(JobState::Running, "Stop", "only a Running job can be stopped")?;
        self.engine.stop_job(&self.shared)
    }

    /// Take a Scheduled job off its queue: back to Initial.
    pub fn unschedule(&self) -> Result<()> {
        self.require(
            JobState::Scheduled,
            "UnSchedule",
            "only a Scheduled job can be unscheduled (jobs on local: start at once and are never Scheduled)",
        )?;
        self.engine.unschedule_job(&self.shared)
    }

    pub(crate) fn require(&self, wanted: JobState, call: &str, why: &str) -> Result<()> {
        let now = self.state();
        if now == wanted {
            Ok(())
        } else {
            Err(Error::InvalidState(format!("{call}: job {} is {}; {why}", self.id(), now.as_str())))
        }
    }
}

fn time(t: f64) -> Value {
    Value::Object(ObjectValue::Time(t))
}

/// The info table of a record.
pub(crate) fn info_table(r: &JobRecord, checkpointable: bool) -> Table {
    let mut t = Table::new();
    let text = |s: &str| Value::String(s.to_owned());
    t.set("state", text(r.state.as_str()));
    t.set("checkpointable", Value::Int16(checkpointable.into()));
    t.set("checkpoint.generation", Value::Int32(r.checkpoint_generation.try_into().unwrap_or(i32::MAX)));
    t.set("adaptor", text(&r.adaptor));
    t.set("resource", text(&r.resource));
    if !r.selection_reason.is_empty() {
        t.set("selection.reason", text(&r.selection_reason));
    }
    let optional = [("hostname", &r.hostname), ("native.id", &r.native_id)];
    for (key, value) in optional {
        if !value.is_empty() {
            t.set(key, text(value));
        }
    }
    if r.checkpointing {
        t.set("checkpointing", Value::Int16(1));
    }
    let times = [
        ("scheduletime", r.schedule_time),
        ("starttime", r.start_time),
        ("stoptime", r.stop_time),
        ("checkpoint.time", r.checkpoint_time),
    ];
    for (key, value) in times {
        if let Some(v) = value {
            t.set(key, time(v));
        }
    }
    if r.state == JobState::Stopped {
        if let Some(reason) = &r.stop_reason {
            t.set("stopreason", text(reason));
        }
        if let Some(code) = r.exit_code {
            t.set("exitcode", Value::Int32(code));
        }
        if let Some(sig) = r.signal {
            t.set("signal", Value::Int32(sig));
        }
    }
    if let Some(errors) = &r.post_stage_errors {
        t.set("poststage.errors", text(errors));
    }
    if let Some(reason) = &r.state_reason {
        t.set("state.reason", text(reason));
    }
    let links = [("migrated.from", &r.predecessor), ("migrated.to", &r.successor)];
    for (key, value) in links {
        if let Some(v) = value {
            t.set(key, text(v));
        }
    }
    t
}

#[cfg(test)]
mod state_order_tests {
    use super::JobState::*;

    #[test]
    fn later_states_reach_earlier_ones_and_unknown_only_itself() {
        assert!(Running.has_reached(Scheduled) && Stopped.has_reached(Running) && Stopped.has_reached(Initial));
        assert!(!Scheduled.has_reached(Running) && !Running.has_reached(Stopped));
        assert!(Unknown.has_reached(Unknown) && !Unknown.has_reached(Running) && !Stopped.has_reached(Unknown));
    }
}
