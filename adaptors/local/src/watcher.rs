//! One background thread per `LocalAdaptor` that waits (epoll) for jobs to end and pushes their
//! final state to the event sink, after post-staging:
//! - jobs of this adaptor's job server: its exit notes on the server's socket;
//! - monitors: their pidfds; the ones that are children of this process are reaped (waitid on
//!   the pidfd, never waitpid(-1));
//! - jobs of another process's job server: the job's own pidfd, then its exit line in the
//!   record log (the server writes it once the job's tree is gone: looked for again shortly).
//!
//! When the adaptor is dropped the thread keeps going only until the monitors it started are
//! reaped (so none lingers as a zombie of the host), without calling the sink any more.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use gat_adaptor::{EventSink, NativeJob, NativeState};

use crate::jobserver::client::{JobServer, Notes};
use crate::jobserver::ExitNote;
use crate::sys::{Epoll, EventFd};

const WAKE_TOKEN: u64 = 0;
/// How often, and how long, the exit line of another server's ended job is looked for.
const EXIT_LINE_RECHECK: std::time::Duration = std::time::Duration::from_millis(5);
const EXIT_LINE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

struct Entry {
    job: NativeJob,
    job_dir: PathBuf,
    /// The monitor's pid, or the job's for a job of another process's server.
    monitor_pid: i32,
    /// Watching a job of another process's job server (the pidfd is the job's).
    served_elsewhere: bool,
    pidfd: OwnedFd,
    /// Started by this process: we must reap it, and then release its stack if it shares our
    /// memory.
    child: Option<OwnChild>,
}

/// A monitor this process started: its stack when it shares our memory (`spawn::MonitorStack`).
pub type OwnChild = Option<crate::spawn::MonitorStack>;

/// A job of this adaptor's job server, waiting for its exit note.
struct Served {
    job: NativeJob,
    job_dir: PathBuf,
    /// The epoll token of its server.
    server: u64,
    /// It has files to post-stage.
    post_stage: bool,
}

#[derive(Default)]
struct State {
    entries: HashMap<u64, Entry>,
    /// This adaptor's servers, by epoll token.
    servers: HashMap<u64, Arc<JobServer>>,
    /// Jobs of our servers, by request token.
    served: HashMap<u64, Served>,
    /// Exit notes that came before their job was handed to us (a short job's end can overtake
    /// the submitting thread).
    early: HashMap<u64, ExitNote>,
    /// Jobs of other processes' servers that ended before their exit line was written.
    rechecks: Vec<(Entry, std::time::Instant)>,
    next_token: u64,
    closing: bool,
}

pub struct Watcher {
    state: Mutex<State>,
    /// Monitors this process started that have not been reaped yet.
    children: std::sync::atomic::AtomicUsize,
    epoll: Epoll,
    wake: EventFd,
    sink: Arc<Mutex<Option<EventSink>>>,
    records: Arc<crate::records::RecordBook>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not stop reaping: the data stays consistent per operation.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Watcher {
    /// Create the watcher and start its thread.
    pub fn start(
        sink: Arc<Mutex<Option<EventSink>>>,
        records: Arc<crate::records::RecordBook>,
    ) -> io::Result<Arc<Watcher>> {
        let watcher = Arc::new(Watcher {
            state: Mutex::new(State {
                next_token: WAKE_TOKEN + 1,
                ..State::default()
            }),
            children: Default::default(),
            epoll: Epoll::new()?,
            wake: EventFd::new()?,
            sink,
            records,
        });
        watcher.epoll.add(watcher.wake.raw(), WAKE_TOKEN)?;
        let runner = Arc::clone(&watcher);
        std::thread::Builder::new()
            .name("gat-local-watch".into())
            .spawn(move || runner.run())?;
        Ok(watcher)
    }

    /// Take exit notes from `server` from now on.
    pub fn add_server(&self, server: &Arc<JobServer>) -> io::Result<()> {
        let mut st = lock(&self.state);
        let token = st.next_token;
        st.next_token += 1;
        self.epoll.add(server.raw_fd(), token)?;
        st.servers.insert(token, Arc::clone(server));
        Ok(())
    }

    /// Report the end of `job`, started by `server` with request `token`.
    pub fn watch_served(&self, server: &Arc<JobServer>, token: u64, job: &NativeJob, job_dir: PathBuf, post_stage: bool) {
        let mut st = lock(&self.state);
        let server_token = st.servers.iter().find(|(_, s)| Arc::ptr_eq(s, server)).map(|(t, _)| *t);
        let served = Served { job: job.clone(), job_dir, server: server_token.unwrap_or(0), post_stage };
        if let Some(note) = st.early.remove(&token) {
            drop(st);
            self.deliver(&served, note);
            return;
        }
        if server_token.is_none() {
            // Not a server of ours any more (it went away meanwhile): the record log knows.
            drop(st);
            self.report(&served.job, crate::state_after_monitor_exit(&self.records, &served.job_dir));
            return;
        }
        st.served.insert(token, served);
    }

    /// True when `job_pid` is one of our servers' jobs (their notes are awaited already).
    pub fn serves(&self, job_pid: i32) -> bool {
        let pid = job_pid.to_string();
        lock(&self.state).served.values().any(|s| s.job.native_id == pid)
    }

    /// Watch a job of another process's server through the job's own pidfd.
    pub fn watch_served_elsewhere(&self, job: &NativeJob, job_dir: PathBuf, job_pid: i32, pidfd: OwnedFd) -> io::Result<()> {
        self.watch_entry(job, job_dir, job_pid, pidfd, None, true).map_err(|(e, _)| e)
    }

    /// Watch `monitor_pid` (once; repeated calls for the same monitor are ignored).
    pub fn watch(
        &self,
        job: &NativeJob,
        job_dir: PathBuf,
        monitor_pid: i32,
        pidfd: OwnedFd,
        child: Option<OwnChild>,
    ) -> Result<(), (io::Error, OwnChild)> {
        self.watch_entry(job, job_dir, monitor_pid, pidfd, child, false)
    }

    fn watch_entry(
        &self,
        job: &NativeJob,
        job_dir: PathBuf,
        monitor_pid: i32,
        pidfd: OwnedFd,
        child: Option<OwnChild>,
        served_elsewhere: bool,
    ) -> Result<(), (io::Error, OwnChild)> {
        let mut st = lock(&self.state);
        if let Some(existing) = st
            .entries
            .values_mut()
            .find(|e| e.monitor_pid == monitor_pid)
        {
            if existing.child.is_none() {
                existing.child = child;
            }
            return Ok(());
        }
        let token = st.next_token;
        st.next_token += 1;
        if let Err(e) = self.epoll.add(pidfd.as_raw_fd(), token) {
            return Err((e, child.flatten()));
        }
        if child.is_some() {
            self.children.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        st.entries.insert(
            token,
            Entry {
                job: job.clone(),
                job_dir,
                monitor_pid,
                served_elsewhere,
                pidfd,
                child,
            },
        );
        Ok(())
    }

    /// Jobs this process started that are still running (monitors not yet reaped, and jobs of
    /// our servers).
    pub fn children(&self) -> usize {
        self.children.load(std::sync::atomic::Ordering::Relaxed) + lock(&self.state).served.len()
    }

    /// True when `monitor_pid` is already watched.
    pub fn is_watching(&self, monitor_pid: i32) -> bool {
        let st = lock(&self.state);
        st.entries.values().chain(st.rechecks.iter().map(|(e, _)| e)).any(|e| e.monitor_pid == monitor_pid)
    }

    /// The adaptor is going away: stop reporting, finish reaping our children, then end.
    pub fn close(&self) {
        lock(&self.state).closing = true;
        self.wake.wake();
    }

    fn run(self: Arc<Self>) {
        loop {
            {
                let mut st = lock(&self.state);
                if st.closing {
                    // Monitors we did not start need nothing from us any more.
                    let foreign: Vec<u64> = st
                        .entries
                        .iter()
                        .filter(|(_, e)| e.child.is_none())
                        .map(|(t, _)| *t)
                        .collect();
                    for token in foreign {
                        if let Some(e) = st.entries.remove(&token) {
                            let _ = self.epoll.delete(e.pidfd.as_raw_fd());
                        }
                    }
                    // Servers are not our children: they run on with their jobs.
                    for (_, server) in st.servers.drain() {
                        let _ = self.epoll.delete(server.raw_fd());
                    }
                    st.served.clear();
                    st.early.clear();
                    st.rechecks.clear();
                    if st.entries.is_empty() {
                        return;
                    }
                }
            }
            let timeout = if lock(&self.state).rechecks.is_empty() { -1 } else { EXIT_LINE_RECHECK.as_millis() as i32 };
            let tokens = match self.epoll.wait(timeout) {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!("local adaptor watcher: epoll_wait failed: {e}");
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    continue;
                }
            };
            self.recheck_exit_lines();
            for token in tokens {
                if token == WAKE_TOKEN {
                    self.wake.drain();
                    continue;
                }
                let server = lock(&self.state).servers.get(&token).cloned();
                if let Some(server) = server {
                    self.take_notes(token, &server);
                    continue;
                }
                let (entry, closing) = {
                    let mut st = lock(&self.state);
                    (st.entries.remove(&token), st.closing)
                };
                if let Some(entry) = entry {
                    self.monitor_ended(entry, closing);
                }
            }
        }
    }

    /// Deliver the exit notes waiting from `server`; when it is gone, what the record log says
    /// of each of its jobs.
    fn take_notes(&self, server_token: u64, server: &Arc<JobServer>) {
        match server.read_notes() {
            Notes::Some(notes) => {
                for note in notes {
                    let served = {
                        let mut st = lock(&self.state);
                        match st.served.remove(&note.token) {
                            Some(served) => served,
                            None => {
                                st.early.insert(note.token, note);
                                continue;
                            }
                        }
                    };
                    self.deliver(&served, note);
                }
            }
            Notes::Gone => {
                let orphaned: Vec<Served> = {
                    let mut st = lock(&self.state);
                    st.servers.remove(&server_token);
                    let tokens: Vec<u64> =
                        st.served.iter().filter(|(_, s)| s.server == server_token).map(|(t, _)| *t).collect();
                    tokens.into_iter().filter_map(|t| st.served.remove(&t)).collect()
                };
                let _ = self.epoll.delete(server.raw_fd());
                tracing::warn!("the local job server ended unexpectedly; {} of its jobs are looked up in the record log", orphaned.len());
                for served in orphaned {
                    self.report(&served.job, crate::state_after_monitor_exit(&self.records, &served.job_dir));
                }
            }
        }
    }

    fn deliver(&self, served: &Served, note: ExitNote) {
        if served.post_stage {
            crate::staging::post_stage_once(&served.job_dir);
        }
        self.report(&served.job, NativeState::Finished { status: note.status(), stopped_by_request: note.stopped });
    }

    fn report(&self, job: &NativeJob, state: NativeState) {
        if lock(&self.state).closing {
            return;
        }
        let sink = lock(&self.sink).clone();
        if let Some(sink) = sink {
            sink(job, state);
        }
    }

    /// Jobs of other servers whose exit line was missing when they ended: report the ones that
    /// have it now; give up on the ones past their patience (the engine's poll is the net).
    fn recheck_exit_lines(&self) {
        let due: Vec<(Entry, std::time::Instant)> = std::mem::take(&mut lock(&self.state).rechecks);
        let mut again = Vec::new();
        for (entry, since) in due {
            match self.records.read_exit(&entry.job_dir) {
                Ok(Some(exit)) => {
                    crate::staging::post_stage_once(&entry.job_dir);
                    self.report(&entry.job, NativeState::Finished { status: exit.status, stopped_by_request: exit.stopped });
                }
                _ if since.elapsed() < EXIT_LINE_PATIENCE => again.push((entry, since)),
                _ => {}
            }
        }
        lock(&self.state).rechecks.extend(again);
    }

    fn monitor_ended(&self, entry: Entry, closing: bool) {
        let _ = self.epoll.delete(entry.pidfd.as_raw_fd());
        if entry.served_elsewhere {
            // The job ended; its server writes the exit line once the job's tree is gone.
            lock(&self.state).rechecks.push((entry, std::time::Instant::now()));
            return;
        }
        if entry.child.is_some() {
            self.children.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            if let Err(e) = crate::sys::reap_pidfd(&entry.pidfd) {
                // ECHILD: another part of this process reaped it already; nothing is lost.
                tracing::debug!(monitor = entry.monitor_pid, "reaping job monitor: {e}");
            }
        }
        drop(entry.pidfd);
        if !closing {
            self.report(&entry.job, crate::state_after_monitor_exit(&self.records, &entry.job_dir));
        }
        // The pidfd said it exited: nothing runs on its stack any more.
        if let Some(Some(stack)) = entry.child {
            stack.release();
        }
    }
}
