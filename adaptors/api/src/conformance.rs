//! The conformance suite every adaptor must pass, written once.
//!
//! An adaptor crate runs it with a two-line `tests/conformance.rs`:
//!
//! ```ignore
//! fn harness() -> gat_adaptor::conformance::Harness { /* adaptor, resource, scratch dirs */ }
//! gat_adaptor::conformance_tests!(harness);
//! ```
//!
//! Each suite function checks one behaviour and panics with a message naming what was expected
//! and what happened. Jobs are plain `/bin/sh` scripts; their outputs come back through the
//! adaptor's own `fetch`, and their working directories are created with `place`, so the suite
//! works for remote resources too. Every wait is bounded ([`TIMEOUT`]).

use std::any::Any;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{Adaptor, Error, ExitStatus, JobSpec, NativeJob, NativeState, Resource, Signal};

/// Bound of every wait in the suite: generous, for loaded machines and remote hosts.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// What the suite needs to run against one adaptor.
pub struct Harness {
    pub adaptor: Arc<dyn Adaptor>,
    /// The resource jobs are submitted to.
    pub resource: Resource,
    /// A local directory for job directories and fetched outputs.
    pub scratch: PathBuf,
    /// A directory on the resource's host under which jobs get their working directories
    /// (the same as `scratch` for the local adaptor).
    pub remote_scratch: PathBuf,
    /// Kept alive as long as the harness (a temporary directory, a test server).
    pub guard: Option<Box<dyn Any + Send + Sync>>,
}

/// Poll `check` every 20 ms until it returns Some, or panic after `timeout` naming `what`.
pub fn wait_until<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

static CASE_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// One test case's directories: local (job dir, fetched files) and on the resource (working dir).
pub struct Case<'h> {
    pub h: &'h Harness,
    pub name: String,
    /// Local directory of this case.
    pub local: PathBuf,
    /// Working directory on the resource.
    pub work: PathBuf,
    fetches: AtomicUsize,
    /// Every job submitted through the case, stopped on drop if still running (a failing test
    /// leaves nothing behind).
    submitted: Mutex<Vec<NativeJob>>,
}

impl Drop for Case<'_> {
    fn drop(&mut self) {
        let jobs = std::mem::take(&mut *self.submitted.lock().unwrap_or_else(|p| p.into_inner()));
        for job in jobs {
            let running = match self.h.adaptor.poll(&[&job]) {
                Ok(states) => states.first().is_some_and(|s| !s.is_final()),
                Err(_) => true,
            };
            if running {
                let _ = self.h.adaptor.stop(&job);
            }
        }
    }
}

impl<'h> Case<'h> {
    /// New case with a fresh working directory on the resource holding the files of `files`
    /// (name, contents).
    pub fn new(h: &'h Harness, name: &str, files: &[(&str, &[u8])]) -> Case<'h> {
        let n = CASE_COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("{name}-{n}-{}", std::process::id());
        let local = h.scratch.join(&name);
        let seed = local.join("seed");
        fs::create_dir_all(&seed).unwrap_or_else(|e| panic!("creating {}: {e}", seed.display()));
        for (file, contents) in files {
            fs::write(seed.join(file), contents)
                .unwrap_or_else(|e| panic!("writing seed file {file}: {e}"));
        }
        let work = h.remote_scratch.join(format!("{name}-work"));
        h.adaptor
            .place(&h.resource, &seed, &work)
            .unwrap_or_else(|e| {
                panic!(
                    "[{name}] place() could not create the working directory {}: {e}",
                    work.display()
                )
            });
        Case {
            h,
            name,
            local,
            work,
            fetches: AtomicUsize::new(0),
            submitted: Mutex::new(Vec::new()),
        }
    }

    /// A spec running `/bin/sh -c script sh args...` in this case's working directory.
    pub fn shell(&self, script: &str, args: &[&str]) -> JobSpec {
        let mut arguments = vec!["-c".to_string(), script.to_string(), "sh".to_string()];
        arguments.extend(args.iter().map(|a| a.to_string()));
        self.spec("/bin/sh", arguments)
    }

    pub fn spec(&self, executable: &str, arguments: Vec<String>) -> JobSpec {
        let n = CASE_COUNTER.fetch_add(1, Ordering::SeqCst);
        JobSpec {
            id: format!("conf-{}-{n}", self.name),
            executable: executable.to_string(),
            arguments,
            directory: Some(self.work.clone()),
            job_dir: self.local.join(format!("job-{n}")),
            ..JobSpec::default()
        }
    }

    pub fn submit(&self, spec: &JobSpec) -> NativeJob {
        let job = self
            .h
            .adaptor
            .submit(spec, &self.h.resource)
            .unwrap_or_else(|e| {
                panic!("[{}] submit of {:?} failed: {e}", self.name, spec.arguments)
            });
        self.submitted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(job.clone());
        job
    }

    pub fn poll(&self, job: &NativeJob) -> NativeState {
        let states = self
            .h
            .adaptor
            .poll(&[job])
            .unwrap_or_else(|e| panic!("[{}] poll failed: {e}", self.name));
        assert_eq!(
            states.len(),
            1,
            "[{}] poll of one job returned {} states",
            self.name,
            states.len()
        );
        states.into_iter().next().expect("one state")
    }

    /// Poll until the job's state is final.
    pub fn wait_final(&self, job: &NativeJob) -> NativeState {
        wait_until(
            TIMEOUT,
            &format!("[{}] job {} to finish", self.name, job.id),
            || {
                let s = self.poll(job);
                s.is_final().then_some(s)
            },
        )
    }

    /// Wait for the job to end with `expected`, not stopped by request.
    pub fn expect_exit(&self, job: &NativeJob, expected: ExitStatus) {
        let state = self.wait_final(job);
        assert_eq!(
            state,
            NativeState::Finished {
                status: expected,
                stopped_by_request: false
            },
            "[{}] job {} ended unexpectedly",
            self.name,
            job.id
        );
    }

    /// Fetch `name` from the job's working directory; None when the adaptor cannot (yet).
    pub fn try_fetch(&self, job: &NativeJob, name: &str) -> Option<Vec<u8>> {
        let k = self.fetches.fetch_add(1, Ordering::SeqCst);
        let into = self.local.join(format!("fetch-{k}"));
        fs::create_dir_all(&into).ok()?;
        self.h
            .adaptor
            .fetch(job, &[PathBuf::from(name)], &into)
            .ok()?;
        fs::read(into.join(name)).ok()
    }

    pub fn fetch(&self, job: &NativeJob, name: &str) -> Vec<u8> {
        self.try_fetch(job, name)
            .unwrap_or_else(|| panic!("[{}] fetching {name} of job {} failed", self.name, job.id))
    }

    /// Wait until the job has written `name` (and fetch it).
    pub fn wait_file(&self, job: &NativeJob, name: &str) -> Vec<u8> {
        wait_until(
            TIMEOUT,
            &format!("[{}] job {} to write {name}", self.name, job.id),
            || self.try_fetch(job, name),
        )
    }
}

/// Split NUL-terminated records.
fn nul_records(bytes: &[u8]) -> Vec<String> {
    let mut parts: Vec<String> = bytes
        .split(|&b| b == 0)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    if parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts
}

/// A job is Running (or Queued) right after submit, then Finished with exit 0.
pub fn lifecycle(h: &Harness) {
    let case = Case::new(h, "lifecycle", &[]);
    let spec = case.shell("sleep 1; exit 0", &[]);
    let job = case.submit(&spec);
    assert_eq!(
        job.id, spec.id,
        "[{}] the native job must keep libgat's id",
        case.name
    );
    assert_eq!(
        job.resource, h.resource.name,
        "[{}] the native job must name its resource",
        case.name
    );
    let first = case.poll(&job);
    assert!(
        matches!(first, NativeState::Running | NativeState::Queued),
        "[{}] right after submit the job should be Running or Queued, was {first:?}",
        case.name
    );
    case.expect_exit(&job, ExitStatus::Exited(0));
}

/// Exit codes come back exactly.
pub fn exit_codes(h: &Harness) {
    let case = Case::new(h, "exit-codes", &[]);
    let jobs: Vec<_> = [3, 0, 1, 255]
        .iter()
        .map(|code| {
            (
                code,
                case.submit(&case.shell("exit $1", &[&code.to_string()])),
            )
        })
        .collect();
    for (code, job) in jobs {
        case.expect_exit(&job, ExitStatus::Exited(*code));
    }
}

/// A job killed by a signal is reported as Signaled with that signal.
pub fn killed_by_signal(h: &Harness) {
    let case = Case::new(h, "signaled", &[]);
    let job = case.submit(&case.shell("kill -9 $$", &[]));
    case.expect_exit(&job, ExitStatus::Signaled(9));
}

/// Arguments arrive byte for byte; nothing in them is interpreted by a shell on the way.
pub fn arguments_arrive_verbatim(h: &Harness) {
    let case = Case::new(h, "arguments", &[]);
    let args = [
        "plain",
        "",
        " two  spaces ",
        "it's",
        "\"double\"",
        "$(touch pwned-dollar)",
        "`touch pwned-backtick`",
        "; touch pwned-semicolon",
        "line1\nline2",
        "tab\there",
        "*",
        "\\back\\slash",
        "$HOME ${PATH}",
        "-n",
        "ünïcødé",
    ];
    let job = case.submit(&case.shell("for a; do printf '%s\\0' \"$a\"; done > args.out", &args));
    case.expect_exit(&job, ExitStatus::Exited(0));
    let got = nul_records(&case.fetch(&job, "args.out"));
    assert_eq!(
        got, args,
        "[{}] arguments were altered on the way",
        case.name
    );
    for marker in ["pwned-dollar", "pwned-backtick", "pwned-semicolon"] {
        assert!(
            case.try_fetch(&job, marker).is_none(),
            "[{}] an argument was run as a command ({marker} exists)",
            case.name
        );
    }
}

/// Environment values arrive byte for byte, and GAT_JOB_ID is libgat's job id.
pub fn environment_arrives_verbatim(h: &Harness) {
    let case = Case::new(h, "environment", &[]);
    let vars = [
        ("GAT_CONF_PLAIN", "value"),
        ("GAT_CONF_SPACES", " a  b "),
        (
            "GAT_CONF_SPECIAL",
            "$(touch pwned) `id` ; 'q' \"dq\" \\ * \n end",
        ),
        ("GAT_CONF_EMPTY", ""),
    ];
    let mut spec = case.shell(
        "printf '%s\\0' \"$GAT_CONF_PLAIN\" \"$GAT_CONF_SPACES\" \"$GAT_CONF_SPECIAL\" \"${GAT_CONF_EMPTY-unset}\" \"$GAT_JOB_ID\" > env.out",
        &[],
    );
    spec.environment = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let job = case.submit(&spec);
    case.expect_exit(&job, ExitStatus::Exited(0));
    let got = nul_records(&case.fetch(&job, "env.out"));
    let mut expected: Vec<String> = vars.iter().map(|(_, v)| v.to_string()).collect();
    expected.push(spec.id.clone());
    assert_eq!(
        got, expected,
        "[{}] environment values (last: GAT_JOB_ID) were altered",
        case.name
    );
    assert!(
        case.try_fetch(&job, "pwned").is_none(),
        "[{}] an environment value was run as a command",
        case.name
    );
}

/// The job runs in the directory the spec names.
pub fn working_directory_is_honoured(h: &Harness) {
    let case = Case::new(h, "workdir", &[("seeded.txt", b"seed")]);
    let job = case.submit(&case.shell("cat seeded.txt > copy.txt && pwd -P > cwd.out", &[]));
    case.expect_exit(&job, ExitStatus::Exited(0));
    assert_eq!(
        case.fetch(&job, "copy.txt"),
        b"seed",
        "[{}] the job did not see the working directory's files",
        case.name
    );
    let cwd = String::from_utf8_lossy(&case.fetch(&job, "cwd.out"))
        .trim()
        .to_string();
    let dir_name = case
        .work
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    assert!(
        cwd.ends_with(&dir_name),
        "[{}] job ran in {cwd}, expected .../{dir_name}",
        case.name
    );
}

/// stdin, stdout and stderr go where the spec says; no stdin means an empty one.
pub fn stdio_redirection(h: &Harness) {
    let input: &[u8] = b"line one\nline two\n\xff binary \x00 byte\n";
    let case = Case::new(h, "stdio", &[("in.txt", input)]);
    let mut spec = case.shell("cat; echo to-stderr >&2", &[]);
    spec.stdin = Some(case.work.join("in.txt"));
    spec.stdout = Some(case.work.join("out.txt"));
    spec.stderr = Some(case.work.join("err.txt"));
    let job = case.submit(&spec);
    case.expect_exit(&job, ExitStatus::Exited(0));
    assert_eq!(
        case.fetch(&job, "out.txt"),
        input,
        "[{}] stdout does not hold stdin's bytes",
        case.name
    );
    assert_eq!(
        case.fetch(&job, "err.txt"),
        b"to-stderr\n",
        "[{}] stderr content",
        case.name
    );

    // Without stdin the job reads end-of-file at once (never the host's terminal).
    let job = case.submit(&case.shell("cat > from-stdin.txt", &[]));
    case.expect_exit(&job, ExitStatus::Exited(0));
    assert_eq!(
        case.fetch(&job, "from-stdin.txt"),
        b"",
        "[{}] default stdin is not empty",
        case.name
    );
}

/// Shell snippet: succeeds once none of the pids given as arguments is alive (zombies count as
/// gone), fails after about 10 s and writes the survivors to `alive.out`.
const ALL_GONE_CHECK: &str = r#"
i=0
while [ $i -lt 100 ]; do
  alive=""
  for p in "$@"; do
    if [ -r /proc/$p/stat ]; then
      st=$(sed 's/.*) //' /proc/$p/stat 2>/dev/null | cut -c1)
      [ -n "$st" ] && [ "$st" != Z ] && alive="$alive $p"
    fi
  done
  [ -z "$alive" ] && exit 0
  sleep 0.1
  i=$((i+1))
done
echo "$alive" > alive.out
exit 1
"#;

/// stop() ends the job and every process it started, and the end is recorded as stopped.
pub fn stop_ends_whole_tree(h: &Harness) {
    let case = Case::new(h, "stop-tree", &[]);
    let script = r#"
sleep 600 &
echo $! >> pids
sh -c 'sleep 600 & echo $! >> pids; echo x > inner.ready; wait' &
echo $! >> pids
echo $$ >> pids
while [ ! -e inner.ready ]; do sleep 0.05; done
echo ok > ready
wait
"#;
    let job = case.submit(&case.shell(script, &[]));
    case.wait_file(&job, "ready");
    let pids_text = String::from_utf8_lossy(&case.fetch(&job, "pids")).into_owned();
    let pids: Vec<&str> = pids_text.split_whitespace().collect();
    assert_eq!(
        pids.len(),
        4,
        "[{}] the job should have recorded 4 pids, got {pids:?}",
        case.name
    );

    h.adaptor
        .stop(&job)
        .unwrap_or_else(|e| panic!("[{}] stop failed: {e}", case.name));
    let state = case.wait_final(&job);
    assert!(
        matches!(
            state,
            NativeState::Finished {
                stopped_by_request: true,
                ..
            }
        ),
        "[{}] after stop the job should be Finished and stopped by request, was {state:?}",
        case.name
    );

    let checker = case.submit(&case.shell(ALL_GONE_CHECK, &pids));
    let verdict = case.wait_final(&checker);
    if verdict
        != (NativeState::Finished {
            status: ExitStatus::Exited(0),
            stopped_by_request: false,
        })
    {
        let alive = case
            .try_fetch(&checker, "alive.out")
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        panic!(
            "[{}] processes of the stopped job survive: {alive:?} (checker: {verdict:?})",
            case.name
        );
    }
}

/// Stopping a job that already finished is Ok and leaves its exit status alone.
pub fn stop_finished_job_is_ok(h: &Harness) {
    let case = Case::new(h, "stop-finished", &[]);
    let job = case.submit(&case.shell("exit 5", &[]));
    case.expect_exit(&job, ExitStatus::Exited(5));
    h.adaptor
        .stop(&job)
        .unwrap_or_else(|e| panic!("[{}] stop of a finished job failed: {e}", case.name));
    assert_eq!(
        case.poll(&job),
        NativeState::Finished {
            status: ExitStatus::Exited(5),
            stopped_by_request: false
        },
        "[{}] stop changed a finished job's state",
        case.name
    );
}

/// signal() reaches the job: it traps USR2, writes a marker and exits 7.
pub fn signal_delivery(h: &Harness) {
    let case = Case::new(h, "signal", &[]);
    // Traps run only between commands: wait on short background sleeps so USR2 is seen at once.
    let script = r#"
trap 'echo got > usr2.marker; exit 7' USR2
echo ok > ready
i=0
while [ $i -lt 600 ]; do sleep 0.1 & wait $!; i=$((i+1)); done
exit 1
"#;
    let job = case.submit(&case.shell(script, &[]));
    case.wait_file(&job, "ready");
    h.adaptor
        .signal(&job, Signal::Usr2)
        .unwrap_or_else(|e| panic!("[{}] signal failed: {e}", case.name));
    case.expect_exit(&job, ExitStatus::Exited(7));
    assert_eq!(
        case.fetch(&job, "usr2.marker"),
        b"got\n",
        "[{}] trap marker",
        case.name
    );
}

/// Signalling a finished job is an error (NoSuchJob), not a signal to some other process.
pub fn signal_finished_job_is_error(h: &Harness) {
    let case = Case::new(h, "signal-finished", &[]);
    let job = case.submit(&case.shell("exit 0", &[]));
    case.expect_exit(&job, ExitStatus::Exited(0));
    let r = h.adaptor.signal(&job, Signal::Usr1);
    assert!(
        matches!(r, Err(crate::Error::NoSuchJob(_))),
        "[{}] signal to a finished job gave {r:?}",
        case.name
    );
}

/// Twenty jobs at once all finish, each with its own exit code; poll is batched.
pub fn many_concurrent_jobs(h: &Harness) {
    let case = Case::new(h, "many", &[]);
    let jobs: Vec<NativeJob> = (0..20)
        .map(|i| case.submit(&case.shell("sleep 0.3; exit $1", &[&i.to_string()])))
        .collect();
    let refs: Vec<&NativeJob> = jobs.iter().collect();
    let states = wait_until(
        TIMEOUT,
        &format!("[{}] 20 jobs to finish", case.name),
        || {
            let states = h
                .adaptor
                .poll(&refs)
                .unwrap_or_else(|e| panic!("[{}] batched poll failed: {e}", case.name));
            assert_eq!(
                states.len(),
                refs.len(),
                "[{}] poll returned a wrong number of states",
                case.name
            );
            states.iter().all(|s| s.is_final()).then_some(states)
        },
    );
    for (i, state) in states.iter().enumerate() {
        assert_eq!(
            *state,
            NativeState::Finished {
                status: ExitStatus::Exited(i as i32),
                stopped_by_request: false
            },
            "[{}] job {i} of 20",
            case.name
        );
    }
}

/// A NativeJob rebuilt from its plain strings (as the journal keeps them) can be polled.
pub fn poll_by_fresh_value(h: &Harness) {
    let case = Case::new(h, "fresh-value", &[]);
    let job = case.submit(&case.shell("sleep 0.3; exit 4", &[]));
    let fresh = NativeJob {
        id: job.id.as_str().to_owned(),
        native_id: job.native_id.as_str().to_owned(),
        resource: job.resource.as_str().to_owned(),
        hostname: job.hostname.as_str().to_owned(),
        data: job.data.as_str().to_owned(),
    };
    case.expect_exit(&fresh, ExitStatus::Exited(4));
    case.expect_exit(&job.clone(), ExitStatus::Exited(4));
}

/// A program that does not exist is a submit error naming it, not a job dying with 127.
pub fn missing_executable_is_submit_error(h: &Harness) {
    let case = Case::new(h, "missing-exe", &[]);
    for exe in [
        "/nonexistent-gat-dir/no-such-program",
        "gat-no-such-program-5b1e",
    ] {
        let spec = case.spec(exe, vec![]);
        match h.adaptor.submit(&spec, &h.resource) {
            Ok(job) => {
                let _ = h.adaptor.stop(&job);
                panic!(
                    "[{}] submit of missing {exe} succeeded (job {job:?})",
                    case.name
                );
            }
            Err(e) => assert!(
                e.to_string().contains(exe),
                "[{}] the error should name {exe}: {e}",
                case.name
            ),
        }
    }
}

/// Bytes with every value and no short period, so a shifted or dropped chunk shows.
fn stream_data(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9E37_79B9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// A finished job whose working directory is the case's: what `open_read` reads from.
fn finished_job(case: &Case<'_>) -> NativeJob {
    let job = case.submit(&case.shell("exit 0", &[]));
    case.expect_exit(&job, ExitStatus::Exited(0));
    job
}

/// Whether the adaptor streams; one that does not must say so with `Unsupported`.
fn streams(h: &Harness, case: &Case<'_>) -> bool {
    if h.adaptor.capabilities().stream {
        return true;
    }
    let err = h
        .adaptor
        .write_from(&h.resource, &case.work, Path::new("x"), 1, &mut &b"x"[..])
        .expect_err("write_from without the stream capability must fail");
    assert!(matches!(err, Error::Unsupported { .. }), "[{}] expected Unsupported: {err}", case.name);
    false
}

/// `write_from` stores the bytes under the name (subdirectories created); `open_read` gives them
/// back with their size, relative to the job's working directory or absolute.
pub fn stream_round_trip(h: &Harness) {
    let case = Case::new(h, "stream", &[]);
    if !streams(h, &case) {
        return;
    }
    let data = stream_data(3 * 1024 * 1024 + 17);
    let name = "sub dir/it's $state";
    h.adaptor
        .write_from(&h.resource, &case.work, Path::new(name), data.len() as u64, &mut &data[..])
        .unwrap_or_else(|e| panic!("[{}] write_from failed: {e}", case.name));
    let job = finished_job(&case);
    assert!(case.fetch(&job, name) == data, "[{}] fetch of the streamed file differs", case.name);
    for path in [PathBuf::from(name), case.work.join(name)] {
        let mut stream = h
            .adaptor
            .open_read(&job, &path)
            .unwrap_or_else(|e| panic!("[{}] open_read {} failed: {e}", case.name, path.display()));
        assert_eq!(stream.size(), data.len() as u64, "[{}] size of {}", case.name, path.display());
        let mut got = Vec::new();
        stream
            .read_to_end(&mut got)
            .unwrap_or_else(|e| panic!("[{}] reading {} failed: {e}", case.name, path.display()));
        assert!(got == data, "[{}] {} read back differs ({} bytes)", case.name, path.display(), got.len());
        stream.finish().unwrap_or_else(|e| panic!("[{}] finish failed: {e}", case.name));
    }
    // An empty file streams too.
    h.adaptor
        .write_from(&h.resource, &case.work, Path::new("empty"), 0, &mut &b""[..])
        .unwrap_or_else(|e| panic!("[{}] write_from of 0 bytes failed: {e}", case.name));
    let mut stream = h.adaptor.open_read(&job, Path::new("empty")).expect("open_read of an empty file");
    let mut got = Vec::new();
    stream.read_to_end(&mut got).expect("reading an empty file");
    assert_eq!((stream.size(), got.len()), (0, 0));
    stream.finish().expect("finish");
}

/// A reader that gives `good` bytes, then fails.
struct FailingReader<'a> {
    good: &'a [u8],
}

impl Read for FailingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.good.is_empty() {
            return Err(std::io::Error::other("the source broke (test)"));
        }
        self.good.read(buf)
    }
}

/// Input shorter or longer than announced, or failing, stores nothing under the name (an older
/// file stays as it was); names that leave the directory are refused.
pub fn stream_refuses_short_long_and_failing_input(h: &Harness) {
    let case = Case::new(h, "stream-refuse", &[]);
    if !streams(h, &case) {
        return;
    }
    let data = stream_data(2 * 1024 * 1024);
    let size = data.len() as u64;
    let job = finished_job(&case);
    let short = h.adaptor.write_from(&h.resource, &case.work, Path::new("short"), size, &mut &data[..data.len() - 1]);
    assert!(short.is_err(), "[{}] a stream one byte short was stored", case.name);
    assert!(case.try_fetch(&job, "short").is_none(), "[{}] a short stream left a file", case.name);
    let failing = h.adaptor.write_from(
        &h.resource,
        &case.work,
        Path::new("failing"),
        size,
        &mut FailingReader { good: &data[..data.len() / 2] },
    );
    let err = failing.expect_err("a failing reader must fail the write");
    assert!(err.to_string().contains("broke"), "[{}] the error should say what the source said: {err}", case.name);
    assert!(case.try_fetch(&job, "failing").is_none(), "[{}] a failed stream left a file", case.name);
    // An older file of the name stays untouched by a refused stream.
    h.adaptor
        .write_from(&h.resource, &case.work, Path::new("kept"), 3, &mut &b"old"[..])
        .unwrap_or_else(|e| panic!("[{}] write_from failed: {e}", case.name));
    let long = h.adaptor.write_from(&h.resource, &case.work, Path::new("kept"), size - 1, &mut &data[..]);
    assert!(long.is_err(), "[{}] a stream one byte long was stored", case.name);
    assert_eq!(case.fetch(&job, "kept"), b"old", "[{}] the older file changed", case.name);
    for bad in ["../escape", "", "/abs", "a/../b"] {
        let r = h.adaptor.write_from(&h.resource, &case.work, Path::new(bad), 1, &mut &b"x"[..]);
        assert!(matches!(r, Err(Error::InvalidSpec(_))), "[{}] name {bad:?} must be refused: {r:?}", case.name);
    }
}

/// `open_read` of a missing file is a file error; a stream of a file that grows while it is
/// read fails instead of ending short; a stream dropped half-read is abandoned cleanly.
pub fn open_read_refuses_missing_and_changing_files(h: &Harness) {
    let case = Case::new(h, "stream-read", &[]);
    if !streams(h, &case) {
        return;
    }
    let job = finished_job(&case);
    match h.adaptor.open_read(&job, Path::new("no-such-file")) {
        Err(Error::FileOpen(m)) => assert!(m.contains("no-such-file"), "[{}] the error names the file: {m}", case.name),
        Err(e) => panic!("[{}] open_read of a missing file: expected FileOpen, got {e}", case.name),
        Ok(_) => panic!("[{}] open_read of a missing file succeeded", case.name),
    }
    // Larger than what the pipes and windows on the way hold, so the sender is still reading
    // the file when it grows.
    let data = stream_data(24 * 1024 * 1024);
    h.adaptor
        .write_from(&h.resource, &case.work, Path::new("growing"), data.len() as u64, &mut &data[..])
        .unwrap_or_else(|e| panic!("[{}] write_from failed: {e}", case.name));
    let mut stream = h.adaptor.open_read(&job, Path::new("growing")).expect("open_read");
    let mut first = [0u8; 1];
    stream.read_exact(&mut first).expect("the first byte");
    let grow = case.submit(&case.shell("printf more >> growing", &[]));
    case.expect_exit(&grow, ExitStatus::Exited(0));
    let mut rest = Vec::new();
    let err = stream.read_to_end(&mut rest).expect_err("a file that grew while read must not read as complete");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "[{}] {err}", case.name);
    drop(stream);
    // Dropped half-read: nothing is left waiting, and the next stream works.
    let mut stream = h.adaptor.open_read(&job, Path::new("growing")).expect("open_read");
    let mut some = vec![0u8; 4096];
    stream.read_exact(&mut some).expect("some bytes");
    drop(stream);
    let mut stream = h.adaptor.open_read(&job, Path::new("growing")).expect("open_read after a dropped one");
    assert_eq!(stream.size(), data.len() as u64 + 4);
    let mut all = Vec::new();
    stream.read_to_end(&mut all).expect("read");
    assert!(all[..data.len()] == data[..] && &all[data.len()..] == b"more");
    stream.finish().expect("finish");
}

/// Expands to one `#[test]` per suite function, each building a fresh harness with `$harness()`.
#[macro_export]
macro_rules! conformance_tests {
    ($harness:path) => {
        $crate::conformance_tests!(@each $harness;
            lifecycle,
            exit_codes,
            killed_by_signal,
            arguments_arrive_verbatim,
            environment_arrives_verbatim,
            working_directory_is_honoured,
            stdio_redirection,
            stop_ends_whole_tree,
            stop_finished_job_is_ok,
            signal_delivery,
            signal_finished_job_is_error,
            many_concurrent_jobs,
            poll_by_fresh_value,
            missing_executable_is_submit_error,
            stream_round_trip,
            stream_refuses_short_long_and_failing_input,
            open_read_refuses_missing_and_changing_files
        );
    };
    (@each $harness:path; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let harness = $harness();
                $crate::conformance::$name(&harness);
            }
        )*
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_records_split() {
        assert_eq!(nul_records(b"a\0\0b c\0"), vec!["a", "", "b c"]);
        assert!(nul_records(b"").is_empty());
    }

    #[test]
    fn wait_until_returns_value() {
        let mut n = 0;
        assert_eq!(
            wait_until(Duration::from_secs(1), "counter", || {
                n += 1;
                (n >= 3).then_some(n)
            }),
            3
        );
    }

    #[test]
    #[should_panic(expected = "timed out")]
    fn wait_until_panics_on_timeout() {
        wait_until(Duration::from_millis(50), "never", || None::<()>);
    }
}
