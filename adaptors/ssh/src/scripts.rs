//! The POSIX sh scripts run on the hosts. User data enters them only through
//! [`crate::quote::sh_quote`]; everything else here is constant code.
//!
//! Job directory `<area>/.gat/jobs/<id>[.n]/` on the host (`area`: the resource's work_dir, else
//! `$HOME`):
//! - `launch` and `run`: the launcher and the monitor (below); `pid`: `JOBPID JOBSTART
//!   MONITORPID MONITORSTART` (start times from /proc, against pid reuse). The job runs under
//!   `setsid`: its pid is also its session and process group, which stop() and signal() address;
//! - `exit`: `exited N S`, `signaled N S` or `unknown 0 S`, S = 1 when stop() asked for the end;
//!   written once, atomically (tmp + mv);
//! - `stdout`, `stderr` unless the spec names files; `stop-requested`, `post-stage.claim`,
//!   `post-staged`, `post-stage-error`, `wrapper.log` (stderr of launcher and monitor).
//!
//! Exit code versus signal: a shell's `$?` is 128+N both for "killed by signal N" and for
//! "exit(128+N)". So no shell is asked. The job's parent is the launcher, which `exec`s `sleep`
//! right after forking the job and never reaps it (the job's first step, a tiny `sh -c` that then
//! `exec`s the program in place, waits until that exec happened), so the finished job stays a
//! zombie. The monitor, a separate detached sh, reads the kernel's raw wait status from field 52
//! (`exit_code`, Linux >= 3.5) of `/proc/<job>/stat`, ends the launcher and writes `exit`. It
//! looks every 10 ms during the first second, then every 50 ms, 200 ms, and after a minute once a
//! second (one `sleep` fork per look). Hosts without that /proc field record `unknown`.

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

/// Shared prelude: marker, tool paths, and a failure helper that removes a half-made job dir.
const PRELUDE: &str = r#"printf 'GAT-BEGIN\n'
gat_fail() { gat_c=$1; shift; printf '%s\n' "$*" >&2; [ -n "${d:-}" ] && [ -z "${gat_keep:-}" ] && rm -rf -- "$d"; exit "$gat_c"; }
gat_setsid=$(command -v setsid) || gat_fail 20 "setsid (util-linux) is not installed on this host"
gat_sleep=$(command -v sleep) || gat_fail 20 "sleep is not installed on this host"
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
}

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

/// Part 1 of a submit: job dir, working dir, checks, directories for staging. Leaves `$d`, `$wd`.
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
        r#"d="$gat_base/$gat_id"; gat_n=0
while ! mkdir -m 700 -- "$d" 2>/dev/null; do
  gat_n=$((gat_n+1)); [ $gat_n -lt 1000 ] || { d=; gat_fail 21 "cannot create a job directory under $gat_base"; }
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

/// Re-enter a prepared job dir in a later script (after staging).
pub fn resume(d: &[u8], wd: &[u8]) -> Script {
    let mut s = Script::new();
    s.code(PRELUDE);
    s.code("d=").word(d).code("; wd=").word(wd).code("\n");
    s.code("cd -- \"$wd\" 2>/dev/null || gat_fail 22 \"cannot enter the working directory\"\n");
    s
}

/// Part 2: start the job and its monitor, record their pids. Answers `d\0wd\0host\0pid\0`.
///
/// The launcher starts in the background (its own session) and writes the job's pid to `cpid`
/// right after forking it; the monitor is started without waiting for it. The `pid` file is
/// written here, before the answer.
pub fn launch(s: &mut Script, l: &Launch) {
    s.code("printf '%s' ")
        .word(launcher(l).into_bytes())
        .code(" > \"$d/launch\" || gat_fail 26 \"cannot write $d/launch\"\n");
    s.code("printf '%s' ")
        .word(MONITOR)
        .code(" > \"$d/run\" || gat_fail 26 \"cannot write $d/run\"\n");
    s.code(
        r#"gat_stat() { { IFS= read -r gat_l < "/proc/$1/stat"; } 2>/dev/null || return 1; gat_r=${gat_l##*) }; set -f; set -- $gat_r; set +f; gat_ppid=$2; gat_start=${20}; }
"$gat_setsid" /bin/sh "$d/launch" "$d" "$wd" "$gat_setsid" "$gat_sleep" </dev/null >/dev/null 2>"$d/wrapper.log" &
# The launcher writes the job's pid within a millisecond or two: look without forking first.
gat_i=0; gat_cpid=
until { IFS= read -r gat_cpid < "$d/cpid"; } 2>/dev/null; do
  gat_i=$((gat_i+1))
  if [ $gat_i -gt 300 ]; then
    [ $gat_i -gt 2300 ] && gat_fail 27 "the job did not start within 10 s: $(cat "$d/wrapper.log" 2>/dev/null)"
    "$gat_sleep" 0.005
  fi
done
case $gat_cpid in
  ''|*[!0-9]*) gat_fail 28 "the job did not start: ${gat_cpid#error } $(cat "$d/wrapper.log" 2>/dev/null)" ;;
esac
gat_stat "$gat_cpid" || gat_fail 28 "the job's process vanished at once"
gat_cstart=$gat_start; gat_parent=$gat_ppid
"$gat_setsid" /bin/sh "$d/run" "$d" "$gat_cpid" "$gat_parent" "$gat_sleep" </dev/null >/dev/null 2>>"$d/wrapper.log" &
gat_w=$!
gat_stat $gat_w; gat_wstart=$gat_start
# One write() of a short line, before submit returns (no reader comes earlier): no mv needed.
printf '%s %s %s %s\n' "$gat_cpid" "$gat_cstart" "$gat_w" "$gat_wstart" > "$d/pid"
{ read -r gat_host < /proc/sys/kernel/hostname; } 2>/dev/null || gat_host=$(uname -n)
printf '%s\0%s\0%s\0%s\0' "$d" "$wd" "$gat_host" "$gat_cpid"
"#,
    );
}

/// The launcher: `sh launch DIR WORKDIR SETSID SLEEP`, run under `setsid` (its own session).
/// Starts the job under `setsid` (the job's own session and process group), writes its pid,
/// then becomes a `sleep` that never reaps it. The job's first step (`gat_gate`) waits until
/// that exec happened, so a job that dies at once still stays a zombie for the monitor.
fn launcher(l: &Launch) -> Script {
    let mut s = Script::new();
    s.code(
        r#"d=$1; wd=$2; gat_setsid=$3; gat_sleep=$4
cd -- "$wd" || { echo "error cannot enter the working directory" > "$d/cpid"; exit 1; }
gat_gate='gat_i=0; while [ $gat_i -lt 100000 ]; do { read -r gat_c < /proc/$PPID/comm; } 2>/dev/null || break; [ "$gat_c" != sh ] && break; gat_i=$((gat_i+1)); done; unset gat_i gat_c; exec "$@"'
"#,
    );
    for (k, v) in l.environment {
        // Names were checked to be identifiers; values are quoted words.
        s.code(k).code("=").word(v).code(" ");
    }
    for (k, rel) in l.workdir_env {
        s.code(k).code("=");
        under_wd(&mut s, rel);
        s.code(" ");
    }
    s.code("\"$gat_setsid\" -- /bin/sh -c \"$gat_gate\" gat-job ")
        .word(l.executable);
    for a in l.arguments {
        s.code(" ").word(a);
    }
    s.code(" < ");
    match l.stdin {
        Some(p) => s.path(p),
        None => s.code("/dev/null"),
    };
    s.code(" > ");
    match l.stdout {
        Some(p) => s.path(p),
        None => s.code("\"$d/stdout\""),
    };
    s.code(" 2> ");
    match l.stderr {
        Some(p) => s.path(p),
        None => s.code("\"$d/stderr\""),
    };
    s.code(
        r#" &
echo $! > "$d/cpid"
exec "$gat_sleep" 2147483647
"#,
    );
    s
}

/// The monitor: `sh run DIR JOBPID PARENTPID SLEEP`. Waits (polling /proc) until the job is a
/// zombie, reads its raw wait status, kills the non-reaping parent, writes `exit` atomically.
const MONITOR: &str = r#"d=$1; gat_cpid=$2; gat_parent=$3; gat_sleep=$4
gat_stat() { { IFS= read -r gat_l < "/proc/$1/stat"; } 2>/dev/null || return 1; gat_r=${gat_l##*) }; set -f; set -- $gat_r; set +f; gat_state=$1; gat_start=${20}; gat_code=${50:-}; }
gat_pstart=; gat_stat $gat_parent && gat_pstart=$gat_start
gat_n=0; gat_iv=0.01; gat_raw=
while gat_stat $gat_cpid; do
  if [ "$gat_state" = Z ] || [ "$gat_state" = X ]; then
    gat_raw=$gat_code
    set -- /proc/$gat_cpid/task/*
    [ $# -le 1 ] && break  # a zombie leader with live threads is still running
  fi
  gat_n=$((gat_n+1))
  case $gat_n in 100) gat_iv=0.05 ;; 280) gat_iv=0.2 ;; 530) gat_iv=1 ;; esac
  "$gat_sleep" $gat_iv
done
gat_stop=0; [ -e "$d/stop-requested" ] && gat_stop=1
# Free the zombie: end its parent (checked by start time, against pid reuse).
gat_stat $gat_parent && [ "$gat_start" = "$gat_pstart" ] && kill -9 $gat_parent 2>/dev/null
case $gat_raw in
  ''|*[!0-9]*) gat_res="unknown 0" ;;
  *) if [ $((gat_raw & 127)) -eq 0 ]; then gat_res="exited $(((gat_raw >> 8) & 255))"; else gat_res="signaled $((gat_raw & 127))"; fi ;;
esac
printf '%s %s\n' "$gat_res" "$gat_stop" > "$d/exit.tmp" && mv -f "$d/exit.tmp" "$d/exit"
"#;

/// Helpers of the poll and stop scripts.
const ALIVE: &str = r#"gat_alive() {
  [ -n "$1" ] || return 1
  gat_want=$2
  { IFS= read -r gat_l < "/proc/$1/stat"; } 2>/dev/null || return 1
  gat_r=${gat_l##*) }; set -f; set -- $gat_r; set +f
  [ "$1" != Z ] && [ "$1" != X ] && [ "${20}" = "$gat_want" ]
}
gat_pids() { gat_pid=; gat_st=; gat_wpid=; gat_wst=; { IFS=' ' read -r gat_pid gat_st gat_wpid gat_wst < "$1/pid"; } 2>/dev/null; }
"#;

/// One status line per job dir, in order:
/// `F how n stop claim` | `R` | `N` | `L reason`.
pub fn poll(jobs: &[(&[u8], bool)]) -> Script {
    let mut s = Script::new();
    s.code("printf 'GAT-BEGIN\\n'\n").code(ALIVE);
    s.code(
        r#"gat_finished() {
  IFS=' ' read -r gat_a gat_b gat_c < "$1/exit" || return 1
  gat_claim=0
  if [ "$2" = 1 ] && [ ! -e "$1/post-staged" ] && mkdir "$1/post-stage.claim" 2>/dev/null; then gat_claim=1; fi
  echo "F $gat_a $gat_b ${gat_c:-0} $gat_claim"
}
gat_one() {
  if [ -f "$1/exit" ]; then gat_finished "$@" && return
  elif [ ! -d "$1" ]; then echo N; return
  fi
  gat_pids "$1"
  if gat_alive "$gat_wpid" "$gat_wst" || gat_alive "$gat_pid" "$gat_st"; then echo R; return; fi
  # The monitor may have finished between the checks.
  if [ -f "$1/exit" ]; then gat_finished "$@" && return; fi
  if [ -n "$gat_wpid" ]; then echo "L the job monitor (pid $gat_wpid) is gone and recorded no exit status"
  else echo "L the job never started"; fi
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

/// True once no process of the job's group is alive (zombies count as gone).
const GROUP_ALIVE: &str = r#"gat_group_alive() {
  for gat_f in /proc/[0-9]*/stat; do
    { IFS= read -r gat_l < "$gat_f"; } 2>/dev/null || continue
    gat_r=${gat_l##*) }; set -f; set -- $gat_r; set +f
    [ "$3" = "$gat_cpid" ] && [ "$1" != Z ] && [ "$1" != X ] && return 0
  done
  return 1
}
"#;

/// TERM to the job's process group, `grace_ticks` x 50 ms, KILL, then wait (10 s) until the
/// exit is recorded and the group is empty. Prints `done` for an already finished job.
pub fn stop(dir: &[u8], grace_ticks: u32) -> Script {
    let mut s = Script::new();
    s.code("printf 'GAT-BEGIN\\n'\n").code(GROUP_ALIVE);
    s.code("d=").word(dir).code("\n");
    s.code(&format!(
        r#"[ -f "$d/exit" ] && {{ echo done; exit 0; }}
[ -f "$d/pid" ] || {{ echo "no job in $d" >&2; exit 30; }}
IFS=' ' read -r gat_cpid gat_cst < "$d/pid"
: > "$d/stop-requested"
kill -15 -$gat_cpid 2>/dev/null
gat_i=0
while [ $gat_i -lt {grace_ticks} ]; do
  if [ -f "$d/exit" ] && ! gat_group_alive; then echo stopped; exit 0; fi
  sleep 0.05; gat_i=$((gat_i+1))
done
kill -9 -$gat_cpid 2>/dev/null
gat_i=0
while [ $gat_i -lt 200 ]; do
  if [ -f "$d/exit" ] && ! gat_group_alive; then echo killed; exit 0; fi
  sleep 0.05; gat_i=$((gat_i+1))
done
echo "processes of the job survive SIGKILL after 10 s" >&2; exit 31
"#
    ));
    s
}

/// Deliver signal `n` to the job's process group.
pub fn signal(dir: &[u8], n: i32) -> Script {
    let mut s = Script::new();
    s.code("printf 'GAT-BEGIN\\n'\n");
    s.code("d=").word(dir).code("\n");
    s.code(&format!(
        r#"[ -f "$d/exit" ] && {{ echo "the job has finished" >&2; exit 32; }}
[ -f "$d/pid" ] || {{ echo "no job in $d" >&2; exit 30; }}
IFS=' ' read -r gat_cpid gat_cst < "$d/pid"
kill -{n} -$gat_cpid || exit 33
"#
    ));
    s
}

/// Signal `n` to the job's main process only, and only if it has a handler for it (SigCgt in
/// /proc/PID/status). Prints `caught` or `not-caught`.
pub fn signal_if_caught(dir: &[u8], n: i32) -> Script {
    let mut s = Script::new();
    s.code("printf 'GAT-BEGIN\\n'\n").code(ALIVE);
    s.code("d=").word(dir).code("\n");
    s.code(&format!(
        r#"[ -f "$d/exit" ] && {{ echo "the job has finished" >&2; exit 32; }}
[ -f "$d/pid" ] || {{ echo "no job in $d" >&2; exit 30; }}
gat_pids "$d"
gat_alive "$gat_pid" "$gat_st" || {{ echo "the job's process is gone" >&2; exit 32; }}
gat_mask=
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
    if let Some(e) = error {
        s.code("printf '%s\\n' ")
            .word(e)
            .code(" > \"$d/post-stage-error\"\n");
    }
    s.code(": > \"$d/post-staged\"\n");
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
