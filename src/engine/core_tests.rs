//! Engine tests against a mock adaptor whose jobs the test drives by hand.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gat_adaptor::{
    Adaptor, AttrValue, Capabilities, EventSink, ExitStatus, JobSpec, Load, NativeJob, NativeState, Requirements,
    Resource, Signal,
};
use gat_adaptor::{Error as AError, Result as AResult};

use super::*;
use crate::engine::broker::ordered_adaptors;
use crate::engine::description::{HardwareDescription, JobDescription, ResourceChoice, SoftwareDescription};
use crate::engine::job::JobState;
use crate::engine::preferences::Preferences;
use crate::engine::value::{Table, Value};

struct Mock {
    name: String,
    push: bool,
    queued: bool,
    load: f64,
    cpus: f64,
    states: Mutex<HashMap<String, NativeState>>,
    sink: Mutex<Option<EventSink>>,
    poll_error: Mutex<Option<String>>,
}

impl Mock {
    fn new(name: &str, push: bool) -> Arc<Mock> {
        Arc::new(Mock {
            name: name.into(),
            push,
            queued: false,
            load: 0.5,
            cpus: 2.0,
            states: Mutex::default(),
            sink: Mutex::default(),
            poll_error: Mutex::default(),
        })
    }

    fn resource(&self) -> Resource {
        let mut attributes = BTreeMap::new();
        attributes.insert("cpu.count".to_string(), AttrValue::Num(self.cpus));
        attributes.insert("os.name".to_string(), AttrValue::Str("Linux".into()));
        Resource {
            name: format!("{}-box", self.name),
            contact: format!("{}:", self.name),
            adaptor: self.name.clone(),
            attributes,
            load: Load { average: Some(self.load) },
            hostname: "mockhost".into(),
            work_dir: None,
        }
    }

    /// Change a job's state as the resource would; pushed when the mock pushes.
    fn set(&self, id: &str, state: NativeState) {
        self.states.lock().unwrap().insert(id.to_owned(), state.clone());
        if self.push {
            let sink = self.sink.lock().unwrap().clone().unwrap();
            let native = NativeJob { id: id.into(), native_id: format!("n-{id}"), ..Default::default() };
            sink(&native, state);
        }
    }
}

impl Adaptor for Mock {
    fn name(&self) -> &str {
        &self.name
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities { submit: true, poll: true, stop: true, push_events: self.push, ..Default::default() }
    }
    fn resources(&self, _: &Requirements) -> AResult<Vec<Resource>> {
        Ok(vec![self.resource()])
    }
    fn submit(&self, spec: &JobSpec, on: &Resource) -> AResult<NativeJob> {
        if spec.executable == "/missing" {
            return Err(AError::FileOpen("/missing: no such file".into()));
        }
        let state = if self.queued { NativeState::Queued } else { NativeState::Running };
        self.states.lock().unwrap().insert(spec.id.clone(), state);
        Ok(NativeJob {
            id: spec.id.clone(),
            native_id: format!("n-{}", spec.id),
            resource: on.name.clone(),
            hostname: "mockhost".into(),
            data: spec.job_dir.display().to_string(),
        })
    }
    fn poll(&self, jobs: &[&NativeJob]) -> AResult<Vec<NativeState>> {
        if let Some(e) = self.poll_error.lock().unwrap().clone() {
            return Err(AError::Unreachable(e));
        }
        let states = self.states.lock().unwrap();
        Ok(jobs
            .iter()
            .map(|j| states.get(&j.id).cloned().unwrap_or(NativeState::Lost { reason: "never seen".into() }))
            .collect())
    }
    fn signal(&self, _: &NativeJob, _: Signal) -> AResult<()> {
        Err(AError::unsupported(&self.name, "signal"))
    }
    fn stop(&self, job: &NativeJob) -> AResult<()> {
        let finished = NativeState::Finished { status: ExitStatus::Signaled(15), stopped_by_request: true };
        self.states.lock().unwrap().insert(job.id.clone(), finished);
        Ok(())
    }
    fn fetch(&self, _: &NativeJob, _: &[std::path::PathBuf], _: &Path) -> AResult<()> {
        Err(AError::unsupported(&self.name, "fetch"))
    }
    fn open_read(&self, _: &NativeJob, _: &Path) -> AResult<Box<dyn gat_adaptor::ReadStream>> {
        Err(AError::unsupported(&self.name, "open_read"))
    }
    fn write_from(&self, _: &Resource, _: &Path, _: &Path, _: u64, _: &mut dyn std::io::Read) -> AResult<()> {
        Err(AError::unsupported(&self.name, "write_from"))
    }
    fn resource_at(&self, _: &str) -> AResult<Option<Resource>> {
        Ok(None)
    }
    fn take(&self, _: &NativeJob, _: &[std::path::PathBuf], _: &Path) -> AResult<()> {
        Err(AError::unsupported(&self.name, "take"))
    }
    fn remove(&self, _: &NativeJob, _: &[std::path::PathBuf]) -> AResult<()> {
        Err(AError::unsupported(&self.name, "remove"))
    }
    fn signal_if_caught(&self, _: &NativeJob, _: gat_adaptor::Signal) -> AResult<bool> {
        Err(AError::unsupported(&self.name, "signal_if_caught"))
    }
    fn place(&self, _: &Resource, _: &Path, _: &Path) -> AResult<()> {
        Err(AError::unsupported(&self.name, "place"))
    }
    fn set_event_sink(&self, sink: EventSink) -> AResult<()> {
        *self.sink.lock().unwrap() = Some(sink);
        Ok(())
    }
}

fn engine_with(dir: &Path, mocks: &[Arc<Mock>]) -> Arc<Engine> {
    let adaptors = mocks.iter().map(|m| m.clone() as Arc<dyn Adaptor>).collect();
    Engine::open(dir, adaptors).unwrap()
}

fn on(mock: &Mock, program: &str) -> JobDescription {
    let sw = SoftwareDescription::simple(program, &["a b"]).unwrap();
    let hr = HardwareResource { resource: mock.resource() };
    JobDescription::new(Arc::new(sw), Some(ResourceChoice::Resource(Arc::new(hr))))
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn pushed_end_is_recorded_in_memory_and_journal() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::new("mock", true);
    let engine = engine_with(dir.path(), std::slice::from_ref(&mock));
    let job = engine.submit(&on(&mock, "/bin/prog"), &Preferences::new()).unwrap();
    assert!(job.id().starts_with("gat-"));
    assert_eq!(job.state(), JobState::Running);
    let reason = job.info().get_str("selection.reason").unwrap().to_owned();
    assert!(reason.contains("mock-box"), "{reason}");
    let journalled = engine.journal.load(job.id()).unwrap().unwrap().selection_reason;
    assert_eq!(journalled, reason);
    mock.set(job.id(), NativeState::Finished { status: ExitStatus::Exited(3), stopped_by_request: false });
    assert_eq!(job.state(), JobState::Stopped);
    let info = job.info();
    assert_eq!(info.get("exitcode").unwrap(), &Value::Int32(3));
    assert_eq!(info.get_str("stopreason").unwrap(), "exited");
    assert_eq!(info.get_str("native.id").unwrap(), format!("n-{}", job.id()));
    assert_eq!(info.get_str("hostname").unwrap(), "mockhost");
    assert!(info.contains("starttime") && info.contains("stoptime") && info.contains("scheduletime"));
    let row = engine.journal.load(job.id()).unwrap().unwrap();
    assert_eq!((row.state, row.exit_code), (JobState::Stopped, Some(3)));
}

#[test]
fn a_finished_job_without_handles_is_forgotten_and_comes_back_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::new("mock", true);
    let engine = engine_with(dir.path(), std::slice::from_ref(&mock));
    let job = engine.submit(&on(&mock, "/bin/prog"), &Preferences::new()).unwrap();
    let id = job.id().to_owned();
    let second = job.clone();
    drop(job);
    // Running: kept, whatever the handles.
    drop(second);
    assert!(engine.live(&id).is_some(), "a running job stays tracked");
    let job = engine.attach(&id).unwrap();
    mock.set(&id, NativeState::Finished { status: ExitStatus::Exited(4), stopped_by_request: false });
    assert_eq!(job.state(), JobState::Stopped);
    let other = job.clone();
    drop(job);
    assert!(engine.live(&id).is_some(), "another handle still holds it");
    drop(other);
    // At once, or by the poller's next sweep when it held the job at that moment.
    wait_for("the finished job to be forgotten", || engine.live(&id).is_none());
    let back = engine.attach(&id).unwrap();
    assert_eq!(back.state(), JobState::Stopped);
    assert_eq!(back.info().get("exitcode").unwrap(), &Value::Int32(4));
}

#[test]
fn polled_jobs_are_kept_current_and_poll_failures_are_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::new("mock", false);
    let engine = engine_with(dir.path(), std::slice::from_ref(&mock));
    let job = engine.submit(&on(&mock, "/bin/prog"), &Preferences::new()).unwrap();
    assert_eq!(job.state(), JobState::Running);
    *mock.poll_error.lock().unwrap() = Some("host down".into());
    wait_for("Unknown", || job.state() == JobState::Unknown);
    assert!(job.info().get_str("state.reason").unwrap().contains("host down"));
    *mock.poll_error.lock().unwrap() = None;
    mock.set(job.id(), NativeState::Finished { status: ExitStatus::Exited(0), stopped_by_request: false });
    wait_for("Stopped", || job.state() == JobState::Stopped);
    assert!(!job.info().contains("state.reason"));
}

#[test]
fn pushed_jobs_are_still_polled_when_an_event_never_comes() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::new("mock", true);
    let engine = engine_with(dir.path(), std::slice::from_ref(&mock));
    let job = engine.submit(&on(&mock, "/bin/prog"), &Preferences::new()).unwrap();
    // The resource changes without telling the sink.
    let ended = NativeState::Finished { status: ExitStatus::Exited(4), stopped_by_request: false };
    mock.states.lock().unwrap().insert(job.id().to_owned(), ended);
    wait_for("the safety-net poll", || job.state() == JobState::Stopped);
    assert_eq!(job.info().get("exitcode").unwrap(), &Value::Int32(4));
}

#[test]
fn stop_and_wrong_state_calls() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::new("mock", true);
    let engine = engine_with(dir.path(), std::slice::from_ref(&mock));
    let job = engine.submit(&on(&mock, "/bin/prog"), &Preferences::new()).unwrap();
    assert!(matches!(job.unschedule(), Err(crate::engine::Error::InvalidState(m)) if m.contains("never Scheduled")));
    assert!(matches!(job.checkpoint(), Err(crate::engine::Error::NotCheckpointable(m)) if m.contains("checkpointable = 1")));
    assert!(matches!(job.migrate(None), Err(crate::engine::Error::NotCheckpointable(_))));
    job.stop().unwrap();
    assert_eq!(job.state(), JobState::Stopped);
    let info = job.info();
    assert_eq!(info.get_str("stopreason").unwrap(), "stopped");
    assert_eq!(info.get("signal").unwrap(), &Value::Int32(15));
    assert!(matches!(job.stop(), Err(crate::engine::Error::InvalidState(m)) if m.contains("stopped")));
    assert!(matches!(job.checkpoint(), Err(crate::engine::Error::NotCheckpointable(_))));
}

#[test]
fn queued_job_can_be_unscheduled() {
    let dir = tempfile::tempdir().unwrap();
    let mut mock = Mock::new("mock", false);
    Arc::get_mut(&mut mock).unwrap().queued = true;
    let engine = engine_with(dir.path(), std::slice::from_ref(&mock));
    let job = engine.submit(&on(&mock, "/bin/prog"), &Preferences::new()).unwrap();
    assert_eq!(job.state(), JobState::Scheduled);
    assert!(matches!(job.stop(), Err(crate::engine::Error::InvalidState(_))));
    job.unschedule().unwrap();
    assert_eq!(job.state(), JobState::Initial);
}

#[test]
fn failed_submit_is_an_error_and_journalled_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::new("mock", true);
    let engine = engine_with(dir.path(), std::slice::from_ref(&mock));
    let err = engine.submit(&on(&mock, "/missing"), &Preferences::new()).err().unwrap();
    let text = err.to_string();
    assert!(text.contains("/missing"), "{text}");
    // The message names the job; the journal keeps it as a failed job.
    let id = text.split_whitespace().find(|w| w.starts_with("gat-")).expect("job id in the message");
    let row = engine.journal.load(id).unwrap().expect("journalled before the adaptor call");
    assert_eq!((row.state, row.stop_reason.as_deref()), (JobState::Stopped, Some("failed")));
    assert!(engine.live(id).is_none());
}

#[test]
fn another_engine_re_attaches_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::new("mock", true);
    let first = engine_with(dir.path(), std::slice::from_ref(&mock));
    let job = first.submit(&on(&mock, "/bin/prog"), &Preferences::new()).unwrap();
    let id = job.id().to_owned();
    // A second engine stands for another process: it shares the journal and polls.
    let quiet = Mock::new("mock", false);
    *quiet.states.lock().unwrap() = mock.states.lock().unwrap().clone();
    let second = engine_with(dir.path(), std::slice::from_ref(&quiet));
    let again = second.attach(&id).unwrap();
    assert_eq!(again.state(), JobState::Running);
    assert_eq!(again.description().software.arguments, vec!["a b".to_string()]);
    quiet.set(&id, NativeState::Finished { status: ExitStatus::Exited(7), stopped_by_request: false });
    wait_for("Stopped", || again.state() == JobState::Stopped);
    assert_eq!(again.info().get("exitcode").unwrap(), &Value::Int32(7));
    assert!(matches!(second.attach("gat-nope"), Err(crate::engine::Error::InvalidParameter(_))));
    // An engine without the job's adaptor says so, and does not guess.
    let third = engine_with(dir.path(), &[]);
    let mut row = second.journal.load(&id).unwrap().unwrap();
    row.id = "gat-ssh-job".into();
    row.adaptor = "ssh".into();
    row.state = JobState::Running;
    second.journal.save(&row).unwrap();
    let far = third.attach("gat-ssh-job").unwrap();
    assert_eq!(far.state(), JobState::Unknown);
    assert!(far.info().get_str("state.reason").unwrap().contains("not available in this build"));
}

#[test]
fn adaptor_preference_orders_and_excludes() {
    let a: Arc<dyn Adaptor> = Mock::new("a", true);
    let b: Arc<dyn Adaptor> = Mock::new("b", true);
    let c: Arc<dyn Adaptor> = Mock::new("c", true);
    let all = vec![a, b, c];
    let names = |p: &str| {
        let mut prefs = Preferences::new();
        prefs.add("resourcebroker.adaptor.name", p);
        ordered_adaptors(&all, &prefs).iter().map(|a| a.name().to_owned()).collect::<Vec<_>>().join(",")
    };
    assert_eq!(names(""), "a,b,c");
    assert_eq!(names("c, b"), "c,b,a");
    assert_eq!(names("!a"), "b,c");
    assert_eq!(names("b,!c"), "b,a");
}

#[test]
fn without_a_resource_the_preferred_adaptor_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let a = Mock::new("a", true);
    let b = Mock::new("b", true);
    let engine = engine_with(dir.path(), &[a, b]);
    let sw = Arc::new(SoftwareDescription::simple("/bin/prog", &[]).unwrap());
    let mut prefs = Preferences::new();
    prefs.add("resourcebroker.adaptor.name", "b");
    let job = engine.submit(&JobDescription::new(sw.clone(), None), &prefs).unwrap();
    assert_eq!(job.info().get_str("adaptor").unwrap(), "b");
    prefs.add("resourcebroker.adaptor.name", "!a,!b");
    let err = engine.submit(&JobDescription::new(sw, None), &prefs).err().unwrap();
    assert!(matches!(err, crate::engine::Error::NoMatchingResource(m) if m.contains("excluded")));
}

#[test]
fn find_resources_ranks_by_load_per_cpu_and_explains_misses() {
    let dir = tempfile::tempdir().unwrap();
    let mut busy = Mock::new("busy", true);
    Arc::get_mut(&mut busy).unwrap().load = 3.0;
    let idle = Mock::new("idle", true);
    let engine = engine_with(dir.path(), &[busy.clone(), idle.clone()]);
    let mut t = Table::new();
    t.add("os.name", Value::String("linux".into())).unwrap();
    let hd = HardwareDescription::from_table(&t).unwrap();
    let found = engine.find_resources(&hd, &Preferences::new()).unwrap();
    let names: Vec<_> = found.iter().map(|r| r.name().to_owned()).collect();
    assert_eq!(names, ["idle-box", "busy-box"]);
    let mut t = Table::new();
    t.add("cpu.count", Value::Int32(64)).unwrap();
    let hd = HardwareDescription::from_table(&t).unwrap();
    match engine.find_resources(&hd, &Preferences::new()) {
        Err(crate::engine::Error::NoMatchingResource(m)) => assert!(m.contains("cpu.count") && m.contains("idle-box"), "{m}"),
        other => panic!("{:?}", other.map(|v| v.len())),
    }
    // A described job goes to the best match.
    let mut t = Table::new();
    t.add("cpu.count", Value::Int32(1)).unwrap();
    let hd = Arc::new(HardwareDescription::from_table(&t).unwrap());
    let sw = Arc::new(SoftwareDescription::simple("/bin/prog", &[]).unwrap());
    let job = engine.submit(&JobDescription::new(sw, Some(ResourceChoice::Description(hd))), &Preferences::new()).unwrap();
    assert_eq!(job.info().get_str("resource").unwrap(), "idle-box");
    assert!(job.info().get_str("selection.reason").unwrap().contains("best of 2"));
}

#[test]
fn unknown_contacts_and_missing_adaptors_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_with(dir.path(), &[]);
    assert!(matches!(engine.hardware_resource("ssh://u@h"), Err(crate::engine::Error::NotImplemented(m)) if m.contains("ssh adaptor is not available")));
    assert!(matches!(engine.hardware_resource("slurm+ssh://h/p"), Err(crate::engine::Error::NotImplemented(m)) if m.contains("slurm")));
    assert!(matches!(engine.hardware_resource("nowhere"), Err(crate::engine::Error::InvalidParameter(_))));
}

#[test]
fn state_dir_follows_gat_state_dir_then_xdg_then_home() {
    let from = |vars: &[(&str, &str)]| {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        super::state_dir_from(|name| vars.get(name).map(Into::into))
    };
    let all = [("GAT_STATE_DIR", "/s"), ("XDG_STATE_HOME", "/x"), ("HOME", "/h")];
    assert_eq!(from(&all).unwrap(), Path::new("/s"));
    assert_eq!(from(&all[1..]).unwrap(), Path::new("/x/gat"));
    assert_eq!(from(&[("GAT_STATE_DIR", ""), ("HOME", "/h")]).unwrap(), Path::new("/h/.local/state/gat"));
    assert!(matches!(from(&[]), Err(crate::engine::Error::FileOpen(m)) if m.contains("GAT_STATE_DIR")));
}

#[test]
fn state_and_job_directories_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("deep/state");
    let mock = Mock::new("mock", true);
    let engine = engine_with(&state, std::slice::from_ref(&mock));
    let job = engine.submit(&on(&mock, "/bin/prog"), &Preferences::new()).unwrap();
    for d in [state.clone(), state.join("jobs")] {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", d.display());
    }
    assert!(state.join("journal.sqlite").is_file());
    // A job that is not checkpointable gets no job directory from the engine.
    assert!(!engine.job_dir(job.id()).exists());
}
