//! The POSIX sh scripts run on the hosts. User data enters them only through
//! [`crate::quote::sh_quote`]; everything else here is constant code.
//!
//! Job files `<area>/.gat/jobs/<id>[.n].<name>` on the host (`area`: the resource's work_dir,
//! else `$HOME`; `<id>[.n]` is the job's `dir` in its NativeJob data). Flat files, no directory
//! per job: a `mkdir` is a process start, about a millisecond of every submit.
//! - `pid`: `JOBPID JOBSTART PARENTPID` (start time from /proc, against pid reuse), written once
//!   (O_EXCL: it claims the name) before submit answers. The job runs under `setsid`: its pid is
//!   also its session and process group, which stop() and signal() address.
//! - `exit`: `exited N S`, `signaled N S` or `unknown 0 S`, S = 1 when stop() asked for the end;
//!   one short write, the same content whoever writes it (below). Empty = not yet.
//! - `stop-requested`, `post-stage.claim`, `post-staged`, `post-stage-error`, `monitor`, `log`
//!   (stderr of the monitor). A stream the spec does not name goes to /dev/null, as on this
//!   machine: two files fewer per submit, and creating files is the slow part on a busy host.
//!
//! Jobs of older versions have a directory `<id>[.n]/` holding the same names and a `pid` of
//! `JOBPID JOBSTART MONITORPID MONITORSTART` (their own monitor records the exit); the poll,
//! stop and signal scripts still serve them.
//!
//! Exit code versus signal: a shell's `$?` is 128+N both for "killed by signal N" and for
//! "exit(128+N)". So no shell is asked: the job's parent never reaps it, the finished job stays a
//! zombie, and the kernel's raw wait status is read from field 52 (`exit_code`, Linux >= 3.5) of
//! `/proc/<job>/stat` (hosts without that field record `unknown`).
//!
//! The submit shell starts no program itself and waits for nothing but the job's pid: it forks a
//! subshell P that forks the job J and then `exec`s `sleep` (the parent that never reaps). J
//! redirects its stdio, waits without a process start until P is `sleep` (a shell may reap a
//! child that ends before that: dash did, 1 in 400 runs), sets its environment and `exec`s
//! `setsid` (no fork: J is no group leader), which `exec`s the program. Where the host's `env`
//! has `--default-signal`, J `exec`s it first, so the job starts with SIGINT and SIGQUIT at
//! their defaults rather than ignored, as the `&` that forked it left them. The submit shell learns
//! J's pid through a command substitution, fills `pid` and answers. The exit status is recorded
//! by the poll, stop and signal scripts ([`REAPER`]) when they find J a zombie of P, which they
//! then end. The first poll that sees J running also starts a monitor (once: `monitor` is its
//! lock) that looks with growing pauses (1 s to a minute) and does the same, so a job nobody
//! asks about any more leaves no zombie and no `sleep` behind.

use std::path::{Path, PathBuf};

use crate::quote::Script;

/// Exit codes of the remote scripts (ssh itself uses 255). Some are only documented here.
#[allow(dead_code)]
pub mod code {
    pub const NO_SETSID: i32 = 20;
    pub const JOB_DIR: i32 = 21;
    pub const WORKDIR: i32 = 22;
    pub const EXECUTABLE: i32 = 23;
    pub const STDIN: i32 = 24;
    pub const OUTPUT: i32 = 25;
    pub const WRITE_RUN: i32 = 26;
    pub const WRAPPER_SLOW: i32 = 27;
    pub const LAUNCH: i32 = 28;
    pub const NO_JOB: i32 = 30;
    pub const SURVIVED_KILL: i32 = 31;
    pub const FINISHED: i32 = 32;
    pub const KILL_FAILED: i32 = 33;
    pub const MKDIR: i32 = 34;
}

/// Shared prelude: marker, tool paths and a failure helper (nothing to undo: the job's files
/// are made only once it starts). Tools are looked up with builtins: a command substitution
/// would fork.
const PRELUDE: &str = r#"printf 'GAT-BEGIN\n'
gat_fail() { gat_c=$1; shift; printf '%s\n' "$*" >&2; exit "$gat_c"; }
gat_which() {
  gat_found=; IFS=:; set -f
  for gat_p in $PATH; do
    case $gat_p in /*) [ -f "$gat_p/$1" ] && [ -x "$gat_p/$1" ] && { gat_found=$gat_p/$1; break; } ;; esac
  done
  unset IFS; set +f; [ -n "$gat_found" ]
}
gat_which setsid || gat_fail 20 "setsid (util-linux) is not installed on this host"
gat_setsid=$gat_found
gat_which sleep || gat_fail 20 "sleep is not installed on this host"
gat_sleep=$gat_found
"#;

/// Everything the submit script needs, already validated (no NUL, valid env names).
pub struct Launch<'a> {
    pub id: &'a str,
    pub work_dir: Option<&'a Path>,
    pub directory: Option<&'a Path>,
    pub executable: &'a str,
    pub arguments: &'a [String],
    /// Includes GAT_JOB_ID.
    pub environment: &'a [(String, String)],
    /// Variables set to paths under the working directory on the host (the engine's
    /// checkpoint protocol files); names checked to be identifiers.
    pub workdir_env: &'a [(String, PathBuf)],
    pub path_var: Option<&'a str>,
    pub stdin: Option<&'a Path>,
    pub stdout: Option<&'a Path>,
    pub stderr: Option<&'a Path>,
    /// Directories to create on the host (relative ones under the working directory).
    pub mkdirs: Vec<PathBuf>,
    /// The host's `env` has `--default-signal` (coreutils 8.31 and later): the job starts with
    /// SIGINT and SIGQUIT at their defaults, which a shell's `&` sets to ignored (see
    /// [`DEFAULT_SIGNALS_PROBE`]).
    pub reset_signals: bool,
}

/// Answers `yes` when the host's `env` can reset signals to their defaults. A job forked with
/// `&` by a non-interactive sh starts with SIGINT and SIGQUIT ignored, and dash cannot undo that
/// (`trap -` does not apply to signals it was told to ignore); `env --default-signal` can.
pub const DEFAULT_SIGNALS_PROBE: &str =
    "printf 'GAT-BEGIN\\n'\nenv --default-signal=INT,QUIT true </dev/null >/dev/null 2>&1 && echo yes\n";

/// A job id as a directory name: safe bytes kept, others replaced.
fn dir_name(id: &str) -> String {
    let s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("job{s}")
    } else {
        s
    }
}

/// `"$wd"/'rel'` or `'abs'`: a path on the host relative to the working directory.
fn under_wd(s: &mut Script, p: &Path) {
    if p.is_absolute() {
        s.path(p);
    } else {
        s.code("\"$wd\"/").path(p);
    }
}

/// Part 1 of a submit: job name, working dir, checks, directories for staging. Leaves `$d`, `$wd`.
pub fn prepare(l: &Launch) -> Script {
    let mut s = Script::new();
    s.code(PRELUDE);
    s.code("gat_area=");
    match l.work_dir {
        Some(w) => s.path(w),
        None => s.code("\"$HOME\""),
    };
    s.code("\ngat_base=\"$gat_area/.gat/jobs\"\n");
    s.code("[ -d \"$gat_base\" ] || mkdir -p -- \"$gat_base\" || gat_fail 21 \"cannot create $gat_base\"\n");
    s.code("gat_id=").word(dir_name(l.id)).code("\n");
    s.code(
        r#"# The job's name: a free one (no pid file, no older job dir); the pid file claims it at the end.
[ -w "$gat_base" ] || gat_fail 21 "cannot write job files into $gat_base"
d="$gat_base/$gat_id"; gat_n=0
while [ -e "$d.pid" ] || [ -e "$d" ]; do
  gat_n=$((gat_n+1)); [ $gat_n -lt 1000 ] || gat_fail 21 "cannot find a free job name under $gat_base"
  d="$gat_base/$gat_id.$gat_n"
done
cd -- "$gat_area" 2>/dev/null || gat_fail 22 "cannot enter $gat_area"
"#,
    );
    if let Some(dir) = l.directory {
        s.code("cd -- ").path(dir).code(" 2>/dev/null || gat_fail 22 \"working directory does not exist or is not accessible\"\n");
    }
    s.code("wd=$PWD\n");
    // The executable as execvp will find it: with the job's PATH, relative to the working dir.
    // (No subshell: every fork counts in the submit latency.)
    match l.path_var {
        Some(p) => s.code("gat_search=").word(p).code("\n"),
        None => s.code("gat_search=$PATH\n"),
    };
    s.code(
        r#"gat_exe_ok() {
  case $1 in */*) [ -f "$1" ] && [ -x "$1" ]; return ;; esac
  IFS=:; set -f
  for gat_p in $gat_search; do
    [ -n "$gat_p" ] || gat_p=.
    if [ -f "$gat_p/$1" ] && [ -x "$gat_p/$1" ]; then unset IFS; set +f; return 0; fi
  done
  unset IFS; set +f; return 1
}
"#,
    );
    s.code("gat_exe_ok ")
        .word(l.executable)
        .code(" || gat_fail 23 \"executable not found or not executable\"\n");
    if let Some(p) = l.stdin {
        s.code("{ [ -r ")
            .path(p)
            .code(" ] && [ ! -d ")
            .path(p)
            .code(" ]; } || gat_fail 24 \"stdin file is not readable\"\n");
    }
    for p in [l.stdout, l.stderr].into_iter().flatten() {
        // `true`, a regular builtin: a failed redirection does not end the script.
        s.code("{ true >> ")
            .path(p)
            .code("; } 2>/dev/null || gat_fail 25 \"cannot write output file\"\n");
    }
    for m in &l.mkdirs {
        s.code("mkdir -p -- ");
        under_wd(&mut s, m);
        s.code(" || gat_fail 34 \"cannot create a staging directory\"\n");
    }
    s
}

/// The answer of [`prepare`] when it runs alone (staging follows): `d\0wd\0host\0`.
pub fn prepare_answer(s: &mut Script) {
    s.code("printf '%s\\0%s\\0' \"$d\" \"$wd\"\n");
}

/// Re-enter a prepared job in a later script (after staging).
pub fn resume(d: &[u8], wd: &[u8]) -> Script {
    let mut s = Script::new();
    s.code(PRELUDE);
    s.code("d=").word(d).code("; wd=").word(wd).code("\n");
    s.code("cd -- \"$wd\" 2>/dev/null || gat_fail 22 \"cannot enter the working directory\"\n");
    s
}

/// Part 2: start the job, record its pid. Answers `d\0wd\0host\0pid\0`. See the module doc.
pub fn launch(s: &mut Script, l: &Launch) {
    s.code(
        r#"gat_env=; gat_which env && gat_env=$gat_found
gat_cpid=$( (
  exec </dev/null 2>/dev/null
  (
    # Let go of the pipe to the submit shell first: creating the output files may wait for a
    # busy file system's journal, and nothing needs to wait for that.
    exec >/dev/null
    exec <"#,
    );
    match l.stdin {
        Some(p) => s.path(p),
        None => s.code("/dev/null"),
    };
    s.code(" >");
    match l.stdout {
        Some(p) => s.path(p),
        None => s.code("/dev/null"),
    };
    s.code(" 2>");
    match l.stderr {
        Some(p) => s.path(p),
        None => s.code("/dev/null"),
    };
    s.code(
        r#"
    { IFS= read -r gat_l < /proc/self/stat; } 2>/dev/null; gat_r=${gat_l##*) }; set -f; set -- $gat_r; set +f
    # A few quick looks, then a millisecond's sleep between looks: on a busy host P needs the CPU
    # this loop would burn to get to its exec (bounded: 100 quick looks, then about 2 s).
    gat_i=0
    while [ $gat_i -lt 2100 ]; do
      { read -r gat_c < "/proc/$2/comm"; } 2>/dev/null || break; [ "$gat_c" != sh ] && break
      gat_i=$((gat_i+1)); [ $gat_i -gt 100 ] && "$gat_sleep" 0.001
    done
"#,
    );
    for (k, v) in l.environment {
        // Names were checked to be identifiers; values are quoted words.
        s.code("    export ").code(k).code("=").word(v).code("\n");
    }
    for (k, rel) in l.workdir_env {
        s.code("    export ").code(k).code("=");
        under_wd(s, rel);
        s.code("\n");
    }
    let mut command = Script::new();
    command.code("\"$gat_setsid\" -- ").word(l.executable);
    for a in l.arguments {
        command.code(" ").word(a);
    }
    if l.reset_signals {
        s.code("    [ -z \"$gat_env\" ] || exec \"$gat_env\" --default-signal=INT,QUIT ").append(&command).code("\n");
    }
    s.code("    exec ").append(&command);
    s.code(
        r#"
  ) &
  echo $!
  exec "$gat_sleep" 2147483647 >/dev/null
) & )
case $gat_cpid in
  ''|*[!0-9]*) gat_fail 28 "the job did not start" ;;
esac
{ IFS= read -r gat_l < "/proc/$gat_cpid/stat"; } 2>/dev/null || gat_fail 28 "the job's process vanished at once"
gat_r=${gat_l##*) }; set -f; set -- $gat_r; set +f
# One write() of a short line, before submit returns (no reader comes earlier); O_EXCL: only
# a submit of the same job id at the same moment could have taken the name since.
set -C
{ printf '%s %s %s\n' "$gat_cpid" "${20}" "$2" > "$d.pid"; } 2>/dev/null || { kill -9 "$gat_cpid" "$2"; gat_fail 21 "job name $d taken by another submit"; }
set +C
{ read -r gat_host < /proc/sys/kernel/hostname; } 2>/dev/null || gat_host=$(uname -n)
printf '%s\0%s\0%s\0%s\0' "$d" "$wd" "$gat_host" "$gat_cpid"
"#,
    );
}

/// Shell functions of the poll, stop and signal scripts and the monitor.
///
/// `gat_look DIR`: 0 while the job runs; 1 when it ended and `exit` holds its status (read into
/// `gat_a gat_b gat_c`), recorded here if the job was a zombie of its parent P, which is then
/// ended; 2 when it is gone and nothing recorded its status (P was killed, or no job started).
const REAPER: &str = r#"gat_files() { if [ -d "$1" ]; then gat_f=$1/; else gat_f=$1.; fi; }
gat_pids() { gat_pid=; gat_st=; gat_par=; gat_old=; { IFS=' ' read -r gat_pid gat_st gat_par gat_old < "${gat_f}pid"; } 2>/dev/null; }
gat_stat() { { IFS= read -r gat_l < "/proc/$1/stat"; } 2>/dev/null || return 1; gat_r=${gat_l##*) }; set -f; set -- $gat_r; set +f; gat_state=$1; gat_ppid=$2; gat_start=${20}; gat_code=${50:-}; }
gat_exit() { gat_a=; gat_b=; gat_c=; { IFS=' ' read -r gat_a gat_b gat_c < "${gat_f}exit"; } 2>/dev/null; [ -n "$gat_a" ]; }
gat_look() {
  gat_files "$1"
  gat_exit && return 1
  gat_pids
  if [ -n "$gat_old" ]; then
    # An older version's job: its own monitor (pid and start in fields 3 and 4) records the exit.
    gat_stat "$gat_par" && [ "$gat_start" = "$gat_old" ] && [ "$gat_state" != Z ] && return 0
    gat_stat "$gat_pid" && [ "$gat_start" = "$gat_st" ] && [ "$gat_state" != Z ] && return 0
    gat_exit && return 1
    return 2
  fi
  if [ -z "$gat_pid" ] || ! gat_stat "$gat_pid" || [ "$gat_start" != "$gat_st" ]; then
    gat_exit && return 1  # another reaper was quicker
    # Gone unrecorded (it died before P became sleep, or P was killed): end P if it is still
    # there. Started no later than the job, it is P and not a later process with its pid.
    [ -n "$gat_par" ] && gat_stat "$gat_par" && [ "$gat_start" -le "${gat_st:-0}" ] && kill -9 "$gat_par" 2>/dev/null
    return 2
  fi
  case $gat_state in Z|X) ;; *) return 0 ;; esac
  set -- /proc/$gat_pid/task/*
  [ $# -le 1 ] || return 0  # a zombie leader with live threads still runs
  [ "$gat_ppid" = "$gat_par" ] || return 2  # P is gone: init reaps the job, its status is lost
  case $gat_code in
    ''|*[!0-9]*) gat_res="unknown 0" ;;
    *) if [ $((gat_code & 127)) -eq 0 ]; then gat_res="exited $(((gat_code >> 8) & 255))"; else gat_res="signaled $((gat_code & 127))"; fi ;;
  esac
  gat_s=0; [ -e "${gat_f}stop-requested" ] && gat_s=1
  # Same content whoever writes it (the zombie's status does not change); one short write.
  printf '%s %s\n' "$gat_res" "$gat_s" > "${gat_f}exit" || return 2
  # The job is still P's zombie, so P is still this job's: end it (init then reaps the job).
  kill -9 "$gat_par" 2>/dev/null
  gat_exit
  return 1
}
"#;

/// One status line per job dir, in order:
/// `F how n stop claim` | `R` | `N` | `L reason`.
/// A running job without a monitor gets one here (see the module doc).
pub fn poll(jobs: &[(&[u8], bool)]) -> Script {
    let mut s = Script::new();
    s.code("printf 'GAT-BEGIN\\n'\n").code(REAPER);
    s.code(
        r#"gat_finished() {
  gat_claim=0
  if [ "$2" = 1 ] && [ ! -e "${gat_f}post-staged" ] && mkdir "${gat_f}post-stage.claim" 2>/dev/null; then gat_claim=1; fi
  echo "F $gat_a $gat_b ${gat_c:-0} $gat_claim"
}
gat_watch() {
  [ -z "$gat_old" ] && [ ! -e "${gat_f}monitor" ] || return 0
  # `true`, a regular builtin: a failed redirection does not end the script.
  set -C; { true > "${gat_f}monitor"; } 2>/dev/null; gat_ok=$?; set +C
  [ $gat_ok = 0 ] || return 0
  gat_md=$1
  (
    gat_iv=1
    while sleep $gat_iv && gat_look "$gat_md"; do
      [ $gat_iv -lt 60 ] && gat_iv=$((gat_iv * 2))
    done
  ) </dev/null >/dev/null 2>>"${gat_f}log" &
}
gat_one() {
  gat_look "$1"
  case $? in
    0) gat_watch "$1"; echo R ;;
    1) gat_finished "$@" ;;
    *) if [ ! -e "${gat_f}pid" ]; then echo N
       elif [ -z "$gat_pid" ]; then echo "L the job never started"
       elif [ -n "$gat_old" ]; then echo "L the job monitor (pid $gat_par) is gone and recorded no exit status"
       else echo "L the job (pid $gat_pid) is gone and so is its parent (pid $gat_par), which held its exit status"
       fi ;;
  esac
}
"#,
    );
    for (dir, post) in jobs {
        s.code("gat_one ")
            .word(dir)
            .code(if *post { " 1\n" } else { " 0\n" });
    }
    s
}

/// True while a process of the job's group is alive (zombies count as gone). `kill -0` first:
/// it counts zombies too, but answers without reading every /proc entry.
const GROUP_ALIVE: &str = r#"gat_group_alive() {
  kill -0 -"$gat_pid" 2>/dev/null || return 1
  for gat_sf in /proc/[0-9]*/stat; do
    { IFS= read -r gat_l < "$gat_sf"; } 2>/dev/null || continue
    gat_r=${gat_l##*) }; set -f; set -- $gat_r; set +f
    [ "$3" = "$gat_pid" ] && [ "$1" != Z ] && [ "$1" != X ] && return 0
  done
  return 1
}
"#;

/// TERM to the job's process group, `grace_ticks` x 50 ms, KILL, then wait (10 s) until the
/// exit is recorded (or the job is gone) and the group is empty. Prints `done` for an already
/// finished job.
pub fn stop(dir: &[u8], grace_ticks: u32) -> Script {
    let mut s = Script::new();
    s.code("printf 'GAT-BEGIN\\n'\n")
        .code(REAPER)
        .code(GROUP_ALIVE);
    s.code("d=").word(dir).code("\n");
    s.code(&format!(
        r#"gat_look "$d"; [ $? = 1 ] && {{ echo done; exit 0; }}
[ -f "${{gat_f}}pid" ] || {{ echo "no job in $d" >&2; exit 30; }}
gat_ended() {{ gat_look "$d"; [ $? != 0 ] && ! gat_group_alive; }}
: > "${{gat_f}}stop-requested"
# Before its exec of setsid (a millisecond after submit) the job has no group of its own yet.
kill -15 -$gat_pid 2>/dev/null || kill -15 $gat_pid 2>/dev/null
gat_i=0
while [ $gat_i -lt {grace_ticks} ]; do
  gat_ended && {{ echo stopped; exit 0; }}
  sleep 0.05; gat_i=$((gat_i+1))
done
kill -9 -$gat_pid 2>/dev/null || kill -9 $gat_pid 2>/dev/null
gat_i=0
while [ $gat_i -lt 200 ]; do
  gat_ended && {{ echo killed; exit 0; }}
  sleep 0.05; gat_i=$((gat_i+1))
done
echo "processes of the job survive SIGKILL after 10 s" >&2; exit 31
"#
    ));
    s
}

/// Checks shared by the signal scripts: the job must exist and run.
const RUNNING: &str = r#"gat_look "$d"; gat_rc=$?
[ $gat_rc = 1 ] && { echo "the job has finished" >&2; exit 32; }
[ -f "${gat_f}pid" ] || { echo "no job in $d" >&2; exit 30; }
[ $gat_rc = 2 ] && { echo "the job's process is gone" >&2; exit 32; }
"#;

/// Deliver signal `n` to the job's process group.
pub fn signal(dir: &[u8], n: i32) -> Script {
    let mut s = Script::new();
    s.code("printf 'GAT-BEGIN\\n'\n").code(REAPER);
    s.code("d=").word(dir).code("\n").code(RUNNING);
    // Before its exec of setsid the job has no group of its own yet (see stop).
    s.code(&format!(
        "kill -{n} -$gat_pid 2>/dev/null || kill -{n} $gat_pid || exit 33\n"
    ));
    s
}

/// Signal `n` to the job's main process only, and only if it has a handler for it (SigCgt in
/// /proc/PID/status). Prints `caught` or `not-caught`.
pub fn signal_if_caught(dir: &[u8], n: i32) -> Script {
    let mut s = Script::new();
    s.code("printf 'GAT-BEGIN\\n'\n").code(REAPER);
    s.code("d=").word(dir).code("\n").code(RUNNING);
    s.code(&format!(
        r#"gat_mask=
while read -r gat_k gat_v; do [ "$gat_k" = SigCgt: ] && gat_mask=$gat_v; done < "/proc/$gat_pid/status"
[ -n "$gat_mask" ] || {{ echo "cannot read the job's signal handlers" >&2; exit 33; }}
gat_i=0
while [ $gat_i -lt {digit} ] && [ -n "$gat_mask" ]; do gat_mask=${{gat_mask%?}}; gat_i=$((gat_i+1)); done
gat_h=${{gat_mask#"${{gat_mask%?}}"}}
if [ -n "$gat_h" ] && [ $(( (0x$gat_h >> {bit}) & 1 )) -eq 1 ]; then
  kill -{n} $gat_pid || exit 33
  echo caught
else
  echo not-caught
fi
"#,
        digit = (n - 1) / 4,
        bit = (n - 1) % 4
    ));
    s
}

/// Remove files (relative ones under the working directory); missing files are fine.
pub fn remove(wd: &[u8], paths: &[&Path]) -> Script {
    let mut s = Script::new();
    s.code("printf 'GAT-BEGIN\\n'\nwd=")
        .word(wd)
        .code("\ngat_rc=0\n");
    for p in paths {
        s.code("rm -f -- ");
        under_wd(&mut s, p);
        s.code(" || gat_rc=35\n");
    }
    s.code("exit $gat_rc\n");
    s
}

/// `key=value` lines describing the host; `area` is where disk space is measured.
pub fn resources(work_dir: Option<&Path>) -> Script {
    let mut s = Script::new();
    s.code("printf 'GAT-BEGIN\\n'\ngat_area=");
    match work_dir {
        Some(w) => s.path(w),
        None => s.code("\"$HOME\""),
    };
    s.code(
        r#"
printf 'hostname=%s\n' "$(uname -n)"
printf 'cpu.count=%s\n' "$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null)"
printf 'machine.type=%s\n' "$(uname -m)"
printf 'os.name=%s\n' "$(uname -s)"
printf 'os.release=%s\n' "$(uname -r)"
printf 'os.version=%s\n' "$(uname -v)"
while read -r gat_k gat_v gat_rest; do [ "$gat_k" = MemTotal: ] && { printf 'memory.kib=%s\n' "$gat_v"; break; }; done < /proc/meminfo
read -r gat_l1 gat_rest < /proc/loadavg && printf 'load=%s\n' "$gat_l1"
while IFS=: read -r gat_k gat_v; do
  case $gat_k in "model name"*) printf 'cpu.type=%s\n' "${gat_v# }"; break ;; esac
done < /proc/cpuinfo
while IFS=: read -r gat_k gat_v; do
  case $gat_k in "cpu MHz"*) printf 'cpu.mhz=%s\n' "${gat_v# }"; break ;; esac
done < /proc/cpuinfo
printf 'disk.kib=%s\n' "$(df -Pk "$gat_area" 2>/dev/null | awk 'NR==2 {print $4}')"
"#,
    );
    s
}

/// `mkdir -p` of one directory.
pub fn mkdir(dir: &Path) -> Script {
    let mut s = Script::new();
    s.code("printf 'GAT-BEGIN\\n'\nmkdir -p -- ")
        .path(dir)
        .code(" || exit 34\n");
    s
}

/// Mark post-staging done (and record failures).
pub fn post_staged(dir: &[u8], error: Option<&str>) -> Script {
    let mut s = Script::new();
    s.code("printf 'GAT-BEGIN\\n'\nd=").word(dir).code("\n");
    s.code("if [ -d \"$d\" ]; then gat_f=$d/; else gat_f=$d.; fi\n");
    if let Some(e) = error {
        s.code("printf '%s\\n' ")
            .word(e)
            .code(" > \"${gat_f}post-stage-error\"\n");
    }
    s.code(": > \"${gat_f}post-staged\"\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_names_are_safe() {
        assert_eq!(dir_name("conf-a-1"), "conf-a-1");
        assert_eq!(dir_name("../x y"), "job.._x_y");
        assert_eq!(dir_name(""), "job");
        assert_eq!(dir_name("a/b"), "a_b");
    }
}
