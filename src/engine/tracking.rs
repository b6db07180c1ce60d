//! Keeping job records current: native states (pushed by adaptors or polled in batches) turned
//! into GAT states, the poller thread, and the state-changing calls Stop and UnSchedule.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Duration;

use gat_adaptor::{ExitStatus, NativeJob, NativeState};

use super::core::Engine;
use super::error::{Error, Result};
use super::job::{JobShared, JobState};
use super::journal::JobRecord;
use super::value::now_seconds;

/// The file in a job's directory where adaptors record post-staging failures.
const POST_STAGE_ERRORS: &str = "post-stage-error";
/// How often active polled jobs are polled once the youngest has run a while.
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// The quickest round: while a polled job is young, rounds come at a quarter of its age, so a
/// short job's end is seen within a few milliseconds and a long one costs a dozen extra polls in
/// its first second (an ssh poll through an open session is about a millisecond).
const FIRST_POLLS: Duration = Duration::from_millis(10);
/// Every this many rounds (1 s), pushed jobs are polled too: a safety net for an event that
/// never came (an adaptor that could not watch a job, e.g. pidfd_open refused under valgrind).
const FULL_POLL_EVERY: u64 = 5;

/// The poller thread's switch: started once, woken when a polled job arrives.
#[derive(Default)]
pub(crate) struct Poller {
    started: Mutex<bool>,
    wake: Condvar,
}

impl Poller {
    /// Start the thread if it is not running; wake it when `wake` (a polled job arrived). Jobs
    /// whose adaptor pushes events wait for the next round: waking the thread on every submit
    /// cost a context switch and a poll of every active job every fifth submit.
    pub(crate) fn start(&self, engine: Weak<Engine>, wake: bool) {
        let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
        if !*started {
            let spawned = std::thread::Builder::new().name("gat-poller".into()).spawn(move || poll_loop(engine));
            match spawned {
                Ok(_) => *started = true,
                Err(e) => tracing::warn!(target: "gat::engine", "cannot start the poller thread: {e}"),
            }
        }
        if wake {
            self.wake.notify_all();
        }
    }

    fn sleep(&self, how_long: Duration) {
        let started = self.started.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self.wake.wait_timeout(started, how_long);
    }
}

/// Runs while the engine lives (it holds only a weak reference between rounds).
fn poll_loop(engine: Weak<Engine>) {
    for round in 0u64.. {
        let Some(e) = engine.upgrade() else { return };
        let everything = round % FULL_POLL_EVERY == 0;
        let due: Vec<_> = e.active_jobs().into_iter().filter(|j| j.polled || everything).collect();
        e.poll_jobs(&due);
        drop(due);
        // What a handle's drop could not forget (someone else held the job at that moment).
        e.forget_unused_finished();
        let poller = e.poller.clone();
        let active = e.active_jobs();
        let pause = if active.is_empty() { POLL_INTERVAL * 5 } else { next_round(&active) };
        drop(active);
        drop(e);
        poller.sleep(pause);
    }
}

/// The pause before the next round: a quarter of the youngest polled job's run time so far,
/// between FIRST_POLLS and POLL_INTERVAL.
fn next_round(active: &[Arc<JobShared>]) -> Duration {
    let now = now_seconds();
    let youngest = active
        .iter()
        .filter(|j| j.polled)
        .filter_map(|j| {
            let r = j.record();
            r.start_time.or(r.schedule_time)
        })
        .map(|t| (now - t).max(0.0))
        .fold(f64::INFINITY, f64::min);
    if !youngest.is_finite() {
        return POLL_INTERVAL;
    }
    Duration::from_secs_f64(youngest / 4.0).clamp(FIRST_POLLS, POLL_INTERVAL)
}

/// The new record for a native state. A Stopped job stays Stopped: a final state is final.
fn update(r: &mut JobRecord, state: NativeState, native: Option<&NativeJob>, stop_requested: bool) {
    // A final state is final; an unscheduled job's end is no news.
    if r.state == JobState::Stopped || (r.state == JobState::Initial && stop_requested) {
        return;
    }
    if let Some(n) = native.filter(|_| r.native_id.is_empty()) {
        r.native_id = n.native_id.clone();
        r.native_data = n.data.clone();
        if !n.hostname.is_empty() {
            r.hostname = n.hostname.clone();
        }
    }
    let now = now_seconds();
    match state {
        NativeState::Queued => {
            r.state = JobState::Scheduled;
            r.state_reason = None;
        }
        NativeState::Running => {
            r.state = JobState::Running;
            r.state_reason = None;
            r.start_time.get_or_insert(now);
        }
        NativeState::Finished { status, stopped_by_request } => {
            r.state = JobState::Stopped;
            r.state_reason = None;
            r.stop_time = Some(now);
            let (code, signal, reason) = match status {
                ExitStatus::Exited(code) => (Some(code), None, "exited"),
                // Ended by a signal nobody in libgat sent.
                ExitStatus::Signaled(sig) => (None, Some(sig), "failed"),
            };
            r.exit_code = code;
            r.signal = signal;
            let stopped = stopped_by_request || stop_requested;
            r.stop_reason = Some(if stopped { "stopped" } else { reason }.to_owned());
        }
        NativeState::Unknown { reason } => {
            r.state = JobState::Unknown;
            r.state_reason = Some(reason);
        }
        NativeState::Lost { reason } => {
            r.state = JobState::Stopped;
            r.stop_time = Some(now);
            r.stop_reason = Some("lost".into());
            r.state_reason = Some(reason);
        }
    }
}

impl Engine {
    /// Record a native state of `job`.
    pub(crate) fn apply(&self, job: &JobShared, state: NativeState, native: Option<&NativeJob>) {
        // News of a run the job has left behind (it was restarted from a checkpoint) is stale.
        if let Some(n) = native {
            let current = job.record().native_id.clone();
            if !current.is_empty() && !n.native_id.is_empty() && n.native_id != current {
                return;
            }
        }
        // A checkpoint is asking this run to save its state: it may end because of that.
        if state.is_final() && job.ops.holding.load(Ordering::SeqCst) {
            *job.ops.held.lock().unwrap_or_else(|e| e.into_inner()) = Some(state);
            return;
        }
        let stop_requested = job.stop_was_requested();
        // Adaptors finish post-staging before they report the end, recording failures in the job
        // directory; read them once here so GetInfo never does I/O.
        let post_stage_errors = match state {
            NativeState::Finished { .. }
                if !job.description.software.post_staged.is_empty() && job.record().state != JobState::Stopped =>
            {
                self.post_stage_errors(&job.id)
            }
            _ => None,
        };
        self.update_record_soon(job, |r| {
            let was_stopped = r.state == JobState::Stopped;
            update(r, state, native, stop_requested);
            if !was_stopped && r.state == JobState::Stopped {
                r.post_stage_errors = post_stage_errors;
            }
        });
    }

    fn post_stage_errors(&self, id: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.job_dir(id).join(POST_STAGE_ERRORS)).ok()?;
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_owned())
    }

    /// Poll `jobs` in one batch per adaptor and record what each answers. A failed poll makes
    /// the jobs Unknown with the reason: never a guess.
    pub(crate) fn poll_jobs(&self, jobs: &[Arc<JobShared>]) {
        let mut by_adaptor: BTreeMap<String, Vec<&Arc<JobShared>>> = BTreeMap::new();
        for job in jobs {
            if let Some(a) = &job.adaptor {
                by_adaptor.entry(a.name().to_owned()).or_default().push(job);
            }
        }
        for group in by_adaptor.values() {
            let Some(adaptor) = group[0].adaptor.as_ref() else { continue };
            if !adaptor.capabilities().poll {
                continue;
            }
            let natives: Vec<NativeJob> = group.iter().map(|j| j.native()).collect();
            let refs: Vec<&NativeJob> = natives.iter().collect();
            match adaptor.poll(&refs) {
                Ok(states) if states.len() == group.len() => {
                    for ((job, state), native) in group.iter().zip(states).zip(&natives) {
                        self.apply(job, state, Some(native));
                    }
                }
                Ok(states) => self.all_unknown(group, &format!(
                    "the {} adaptor answered {} states for {} jobs",
                    adaptor.name(),
                    states.len(),
                    group.len()
                )),
                Err(e) => self.all_unknown(group, &format!("polling the {} adaptor failed: {e}", adaptor.name())),
            }
        }
    }

    fn all_unknown(&self, jobs: &[&Arc<JobShared>], reason: &str) {
        for job in jobs {
            self.apply(job, NativeState::Unknown { reason: reason.to_owned() }, None);
        }
    }

    /// End a Running job's whole tree; it ends Stopped with stopreason `stopped`.
    pub(crate) fn stop_job(&self, job: &JobShared) -> Result<()> {
        let adaptor = job.adaptor.as_ref().ok_or_else(|| unavailable(job))?;
        if !adaptor.capabilities().stop {
            return Err(Error::NotImplemented(format!("the {} adaptor cannot stop jobs", adaptor.name())));
        }
        job.stop_requested.store(true, Ordering::SeqCst);
        let native = job.native();
        adaptor.stop(&native).map_err(|e| adaptor_error(e, format!("Stop of job {}", job.id)))?;
        // The adaptor returns once the job is gone; one poll fetches how it ended.
        if adaptor.capabilities().poll {
            if let Ok(mut states) = adaptor.poll(&[&native]) {
                if let Some(state) = states.pop().filter(NativeState::is_final) {
                    self.apply(job, state, None);
                }
            }
        }
        self.update_record(job, |r| {
            if r.state != JobState::Stopped {
                r.state = JobState::Stopped;
                r.stop_reason = Some("stopped".into());
                r.stop_time = Some(now_seconds());
            }
        });
        Ok(())
    }

    /// Take a Scheduled job off its queue: back to Initial.
    pub(crate) fn unschedule_job(&self, job: &JobShared) -> Result<()> {
        let adaptor = job.adaptor.as_ref().ok_or_else(|| unavailable(job))?;
        job.stop_requested.store(true, Ordering::SeqCst);
        adaptor
            .stop(&job.native())
            .map_err(|e| adaptor_error(e, format!("UnSchedule of job {}", job.id)))?;
        self.update_record(job, |r| {
            r.state = JobState::Initial;
            r.schedule_time = None;
        });
        Ok(())
    }
}

fn unavailable(job: &JobShared) -> Error {
    let reason = job.record().state_reason.clone().unwrap_or_default();
    Error::NotImplemented(format!("job {}: {reason}", job.id))
}

/// An adaptor's error with where it happened in front, keeping its kind (and so its GATResult):
/// `Error::context` leaves adaptor errors as they are.
pub(crate) fn adaptor_error(e: gat_adaptor::Error, what: impl std::fmt::Display) -> Error {
    use gat_adaptor::Error as A;
    let prefixed = |m: String| format!("{what}: {m}");
    Error::Adaptor(match e {
        A::Unsupported { .. } => return Error::NotImplemented(prefixed(e.to_string())),
        A::InvalidSpec(m) => A::InvalidSpec(prefixed(m)),
        A::FileOpen(m) => A::FileOpen(prefixed(m)),
        A::NoSuchJob(m) => A::NoSuchJob(prefixed(m)),
        A::Unreachable(m) => A::Unreachable(prefixed(m)),
        A::PermissionDenied(m) => A::PermissionDenied(prefixed(m)),
        A::Timeout(m) => A::Timeout(prefixed(m)),
        A::TryAgain(m) => A::TryAgain(prefixed(m)),
        A::Io { context, source } => A::Io { context: prefixed(context), source },
        A::Failed(m) => A::Failed(prefixed(m)),
    })
}
