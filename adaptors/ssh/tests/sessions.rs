//! The remote shells the transport keeps open between calls (src/session.rs), against a private
//! sshd on 127.0.0.1: calls stay apart, bad scripts and deadlines cost only their session, and a
//! host that allows one channel per connection (MaxSessions 1) still answers every call.

mod common;

use std::time::{Duration, Instant};

use common::{Sshd, TestAdaptor};
use gat_adaptor::{Adaptor, Error};
use gat_adaptor_ssh::Timeouts;

fn adaptor(sshd: &Sshd, sessions: usize) -> TestAdaptor {
    TestAdaptor::with(vec![sshd.resource_config("s")], |a| {
        a.with_sessions_per_host(sessions).with_timeouts(Timeouts {
            call: Duration::from_secs(2),
            ..Timeouts::default()
        })
    })
}

/// `(code, stdout after the marker)` of one call.
fn call(ta: &TestAdaptor, script: &str) -> (i32, String) {
    let (code, out) = ta.adaptor.run_script("s", script).expect("call");
    (code, String::from_utf8(out).expect("utf-8"))
}

/// The remote shell that ran the call: `$$` in a request's subshell is the session's shell.
fn shell_pid(ta: &TestAdaptor) -> String {
    call(ta, "printf 'GAT-BEGIN\\n%s' \"$$\"").1
}

#[test]
fn calls_share_a_shell_but_nothing_else() {
    let sshd = Sshd::start();
    let ta = adaptor(&sshd, 1);
    let first = shell_pid(&ta);
    assert_eq!(call(&ta, "printf 'GAT-BEGIN\\n'; cd /; gat_v=1; trap 'echo trapped' EXIT; exit 7"), (7, "trapped\n".into()));
    let (code, out) = call(&ta, "printf 'GAT-BEGIN\\n%s %s' \"${gat_v-unset}\" \"$(pwd)\"");
    assert_eq!(code, 0);
    assert!(out.starts_with("unset /"), "variables and cd of a call stay in it: {out:?}");
    assert_ne!(out, "unset /", "the next call starts in the login directory again");
    // Output without a final newline, and the end marker's look-alikes, stay the call's own.
    assert_eq!(call(&ta, "printf 'GAT-BEGIN\\nGAT-END-1 0\\nno newline'"), (0, "GAT-END-1 0\nno newline".into()));
    assert_eq!(shell_pid(&ta), first, "one session served every call");
}

#[test]
fn a_call_reading_stdin_gets_nothing_and_cannot_eat_the_next() {
    let sshd = Sshd::start();
    let ta = adaptor(&sshd, 1);
    let first = shell_pid(&ta);
    let t = Instant::now();
    assert_eq!(call(&ta, "printf 'GAT-BEGIN\\n'; cat; read -r x; echo \"read $?\""), (0, "read 1\n".into()));
    assert!(t.elapsed() < Duration::from_secs(2), "stdin of a call is empty, not the session's input");
    assert_eq!(call(&ta, "printf 'GAT-BEGIN\\nafter'"), (0, "after".into()));
    assert_eq!(shell_pid(&ta), first);
}

#[test]
fn a_syntax_error_is_reported_and_only_its_session_is_lost() {
    let sshd = Sshd::start();
    let ta = adaptor(&sshd, 1);
    let first = shell_pid(&ta);
    let e = ta.adaptor.run_script("s", "printf 'GAT-BEGIN\\n'; if then fi").expect_err("syntax error");
    assert!(e.to_string().contains("Syntax error") || e.to_string().contains("syntax error"), "{e}");
    let second = shell_pid(&ta);
    assert!(!second.is_empty() && second != first, "a new session took over ({first} -> {second})");
}

#[test]
fn a_call_past_its_deadline_times_out_and_the_next_call_works() {
    let sshd = Sshd::start();
    let ta = adaptor(&sshd, 1);
    let first = shell_pid(&ta);
    let t = Instant::now();
    let e = ta.adaptor.run_script("s", "printf 'GAT-BEGIN\\n'; sleep 30").expect_err("deadline");
    assert!(matches!(e, Error::Timeout(_)), "{e}");
    assert!(t.elapsed() < Duration::from_secs(10), "the deadline (2 s) held: {:?}", t.elapsed());
    assert_eq!(call(&ta, "printf 'GAT-BEGIN\\nok'"), (0, "ok".into()));
    assert_ne!(shell_pid(&ta), first);
}

#[test]
fn megabytes_pass_both_ways_at_once() {
    let sshd = Sshd::start();
    let ta = adaptor(&sshd, 1);
    // 2 MiB of script (comments) and 3 MiB of answer: neither side may wait for the other.
    let filler = format!("#{}\n", "x".repeat(1023)).repeat(2048);
    let script = format!("{filler}printf 'GAT-BEGIN\\n'; head -c 3145728 /dev/zero | tr '\\0' y; printf end >&2\n");
    let (code, out) = ta.adaptor.run_script("s", &script).expect("big call");
    assert_eq!(code, 0);
    assert_eq!(out.len(), 3 << 20);
    assert!(out.iter().all(|b| *b == b'y'));
}

#[test]
fn calls_beyond_the_open_sessions_run_their_own_ssh() {
    let sshd = Sshd::start();
    let ta = adaptor(&sshd, 2);
    std::thread::scope(|s| {
        let calls: Vec<_> = (0..8)
            .map(|i| {
                let ta = &ta;
                s.spawn(move || call(ta, &format!("printf 'GAT-BEGIN\\n{i}'; sleep 0.3")))
            })
            .collect();
        for (i, c) in calls.into_iter().enumerate() {
            assert_eq!(c.join().expect("caller"), (0, i.to_string()));
        }
    });
    let off = adaptor(&sshd, 0);
    assert_ne!(shell_pid(&off), shell_pid(&off), "without sessions every call has its own shell");
}

#[test]
fn a_host_allowing_one_channel_per_connection_still_answers_every_call() {
    let sshd = Sshd::start_with_max_sessions(1);
    let ta = adaptor(&sshd, 4);
    // The first call opens the master connection; its session holds the one channel.
    assert_eq!(call(&ta, "printf 'GAT-BEGIN\\nfirst'"), (0, "first".into()));
    // A transfer while that session idles is refused a channel there: ssh connects on its own.
    let files = common::open_tempdir(0o755);
    std::fs::write(files.path().join("note"), "placed").expect("file");
    let target = sshd.work_dir().join("placed");
    let on = ta.resource("s");
    ta.adaptor.place(&on, files.path(), &target).expect("place beside an idle session");
    // Calls one after the other.
    for i in 0..3 {
        let (code, out) = call(&ta, &format!("printf 'GAT-BEGIN\\n{i}'; cat '{}/note'", target.display()));
        assert_eq!((code, out), (0, format!("{i}placed")));
    }
    // Calls at the same moment: the sessions beyond the first connect on their own too.
    std::thread::scope(|s| {
        let calls: Vec<_> = (0..4)
            .map(|i| {
                let ta = &ta;
                s.spawn(move || call(ta, &format!("printf 'GAT-BEGIN\\n{i}'; sleep 0.2")))
            })
            .collect();
        for (i, c) in calls.into_iter().enumerate() {
            assert_eq!(c.join().expect("caller"), (0, i.to_string()));
        }
    });
}
