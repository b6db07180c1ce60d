//! One background thread per `LocalAdaptor` that waits (epoll over pidfds) for job monitors to
//! exit, reaps the ones that are children of this process (waitid on the pidfd, never
//! waitpid(-1)), runs post-staging and pushes the final state to the event sink.
//!
//! When the adaptor is dropped the thread keeps going only until the monitors it started are
//! reaped (so none lingers as a zombie of the host), without calling the sink any more.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use gat_adaptor::{EventSink, NativeJob};

use crate::sys::{Epoll, EventFd};

const WAKE_TOKEN: u64 = 0;

struct Entry {
    job: NativeJob,
    job_dir: PathBuf,
    monitor_pid: i32,
    pidfd: OwnedFd,
    /// Started by this process: we must reap it, and then release its stack if it shares our
    /// memory.
    child: Option<OwnChild>,
}

/// A monitor this process started: its stack when it shares our memory (`spawn::MonitorStack`).
pub type OwnChild = Option<crate::spawn::MonitorStack>;

#[derive(Default)]
struct State {
    entries: HashMap<u64, Entry>,
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

    /// Watch `monitor_pid` (once; repeated calls for the same monitor are ignored).
    pub fn watch(
        &self,
        job: &NativeJob,
        job_dir: PathBuf,
        monitor_pid: i32,
        pidfd: OwnedFd,
        child: Option<OwnChild>,
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
                pidfd,
                child,
            },
        );
        Ok(())
    }

    /// Monitors this process started that are still running (or not yet reaped).
    pub fn children(&self) -> usize {
        self.children.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// True when `monitor_pid` is already watched.
    pub fn is_watching(&self, monitor_pid: i32) -> bool {
        lock(&self.state)
            .entries
            .values()
            .any(|e| e.monitor_pid == monitor_pid)
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
                    if st.entries.is_empty() {
                        return;
                    }
                }
            }
            let tokens = match self.epoll.wait(-1) {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!("local adaptor watcher: epoll_wait failed: {e}");
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    continue;
                }
            };
            for token in tokens {
                if token == WAKE_TOKEN {
                    self.wake.drain();
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

    fn monitor_ended(&self, entry: Entry, closing: bool) {
        let _ = self.epoll.delete(entry.pidfd.as_raw_fd());
        if entry.child.is_some() {
            self.children.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            if let Err(e) = crate::sys::reap_pidfd(&entry.pidfd) {
                // ECHILD: another part of this process reaped it already; nothing is lost.
                tracing::debug!(monitor = entry.monitor_pid, "reaping job monitor: {e}");
            }
        }
        drop(entry.pidfd);
        let state = crate::state_after_monitor_exit(&self.records, &entry.job_dir, entry.monitor_pid);
        if !closing {
            let sink = lock(&self.sink).clone();
            if let Some(sink) = sink {
                sink(&entry.job, state);
            }
        }
        // The pidfd said it exited: nothing runs on its stack any more.
        if let Some(Some(stack)) = entry.child {
            stack.release();
        }
    }
}
