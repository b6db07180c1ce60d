//! Streaming one file off a host ([`ReadStream`]) and onto a host ([`write_from`]) through ssh,
//! with no copy on this machine in between: a migration between two hosts pipes the state from
//! one to the other in one pass (the engine tees it into its checkpoint store on the way).
//!
//! Why not scp/SFTP: an SFTP upload of 1 GiB to a host of the test bed takes 3.8 to 5.5 s where
//! `ssh host 'cat > file'` takes 1.6 to 1.8 s (docs/BENCHMARKS.md, SSH), and SFTP cannot read
//! from a stream.
//!
//! How the data and the script share ssh's stdin without the user's login shell parsing
//! either: the remote command is the constant [`STREAM_COMMAND`], which starts `/bin/sh`, reads
//! a first line holding the script's length in bytes, reads exactly that many bytes with
//! `dd bs=1` (so nothing of the data after it is consumed; dash's `-s` reads its input in
//! blocks and would swallow the data) and `eval`s them. The script is built with [`Script`]
//! (every path a single-quoted word) and is one function called on its last line, so a
//! script cut short runs nothing.
//!
//! Safety of the written file: the data goes to `<name>.gat-part-<pid>` and is renamed to
//! `<name>` only when its size is exactly the size announced; when this side fails (the reader
//! failed, ended early or went on past the size) it closes the stream short, or sends one byte
//! too many, so the host refuses the file. Every wait is bounded by the transfer deadline;
//! our end of each pipe is non-blocking and waited for with poll(2); ssh's stdin is a socket
//! written with MSG_NOSIGNAL (a host that hangs up never raises SIGPIPE in the calling program,
//! which may be a C program that did not ignore it). Every ssh started here is reaped: on
//! success by `finish`, otherwise when the stream is dropped (killed first).
//!
//! The ssh command lines use the transport's options (ControlPath, BatchMode...) with
//! `ControlMaster=no` in front: a stream rides on the host's master when there is one (the
//! adaptor makes sure of it with a transport call just before) and never becomes a master
//! itself, whose forked ControlPersist process would hold our pipes open.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use gat_adaptor::{Error, ReadStream, Result};

use crate::fdio::{self, find, set_nonblocking, wait_child, wait_ready};
use crate::quote::Script;

/// A scratch file for ssh's stderr or a short answer.
fn scratch() -> Result<File> {
    fdio::scratch(&std::env::temp_dir()).map_err(|e| Error::io("creating a scratch file", e))
}

/// What a scratch file holds, as a message text.
fn read_scratch(f: &File) -> String {
    fdio::text(&fdio::read_all(f))
}
use crate::transport::{connection_error, Host, BEGIN};

/// The remote command line (the login shell parses only this constant; see the module docs).
pub(crate) const STREAM_COMMAND: &str =
    "exec /bin/sh -c 'IFS= read -r n && s=$(dd bs=1 count=\"$n\" 2>/dev/null) && eval \"$s\"'";

/// Exit codes of the stream scripts.
pub(crate) mod code {
    pub const UNREADABLE: i32 = 66;
    pub const MKDIR: i32 = 73;
    pub const WRITE: i32 = 74;
    pub const SIZE: i32 = 75;
}

/// Bytes moved per read and write.
const CHUNK: usize = 1 << 20;
/// At most this much output a login script may print before the marker.
const MAX_PREAMBLE: usize = 64 * 1024;

/// The script that sends `path` (absolute) with the marker and its size in front.
pub(crate) fn read_script(path: &Path) -> Script {
    let mut s = Script::new();
    s.code("gat_main() {\nf=").path(path).code(
        r#"
[ -f "$f" ] && [ -r "$f" ] || { printf 'cannot read %s: not a readable regular file\n' "$f" >&2; exit 66; }
n=$(wc -c < "$f") || exit 66
printf 'GAT-BEGIN\n%s\n' $n
exec cat -- "$f"
}
gat_main
"#,
    );
    s
}

/// The transport call before a stream is opened (it also brings the host's master up): is
/// `path` a readable regular file? Exit 66 when not.
pub(crate) fn check_readable_script(path: &Path) -> Script {
    let mut s = Script::new();
    s.code("printf 'GAT-BEGIN\\n'\nf=").path(path).code(
        "\n[ -f \"$f\" ] && [ -r \"$f\" ] || { printf 'cannot read %s: not a readable regular file\\n' \"$f\" >&2; exit 66; }\n",
    );
    s
}

/// The script that stores its stdin as `target` (in the existing directory `parent`) when it
/// is exactly `size` bytes long.
pub(crate) fn write_script(parent: &Path, target: &Path, size: u64, mode: Option<u32>) -> Script {
    let mut s = Script::new();
    s.code("gat_main() {\nd=")
        .path(parent)
        .code("\nt=")
        .path(target)
        .code(&format!("\nn={size}\n"));
    if let Some(mode) = mode {
        s.code(&format!("gat_mode={:o}\n", mode & 0o7777));
    }
    s.code(
            r#"p="$t.gat-part-$$"
mkdir -p -- "$d" || exit 73
cat > "$p" || { rm -f -- "$p"; exit 74; }
got=$(wc -c < "$p") || { rm -f -- "$p"; exit 74; }
if [ "$got" -eq "$n" ] 2>/dev/null; then :; else
  rm -f -- "$p"
  printf 'refused: %s bytes arrived where %s were announced\n' $got $n >&2
  exit 75
fi
[ -z "${gat_mode-}" ] || chmod "$gat_mode" "$p" || { rm -f -- "$p"; exit 74; }
mv -f -- "$p" "$t" || { rm -f -- "$p"; exit 74; }
printf 'GAT-BEGIN\nstored\n'
}
gat_main
"#,
        );
    s
}

/// `mkdir -p` of each of `dirs` (exit 34 when one cannot be made), through the transport.
pub(crate) fn mkdirs_script(dirs: &[PathBuf]) -> Script {
    let mut s = Script::new();
    s.code("printf 'GAT-BEGIN\\n'\n");
    for d in dirs {
        s.code("mkdir -p -- ").path(d).code(" || exit 34\n");
    }
    s
}

/// A local tree `place` can send as streams: its directories and its regular files (path
/// relative to the top, size, mode), or None when it holds anything else (a symbolic link, a
/// device) or more than [`MAX_STREAMED_FILES`] files (one scp of many small files costs less
/// than an ssh per file).
pub(crate) struct Tree {
    pub dirs: Vec<PathBuf>,
    pub files: Vec<(PathBuf, u64, u32)>,
}

pub(crate) const MAX_STREAMED_FILES: usize = 4;

pub(crate) fn plan_tree(top: &Path) -> io::Result<Option<Tree>> {
    use std::os::unix::fs::PermissionsExt;
    fn walk(top: &Path, rel: &Path, tree: &mut Tree) -> io::Result<bool> {
        for entry in std::fs::read_dir(top.join(rel))? {
            let entry = entry?;
            let kind = entry.file_type()?;
            let path = rel.join(entry.file_name());
            if kind.is_dir() {
                tree.dirs.push(path.clone());
                if !walk(top, &path, tree)? {
                    return Ok(false);
                }
            } else if kind.is_file() {
                let meta = entry.metadata()?;
                tree.files.push((path, meta.len(), meta.permissions().mode()));
                if tree.files.len() > MAX_STREAMED_FILES {
                    return Ok(false);
                }
            } else {
                return Ok(false);
            }
        }
        Ok(true)
    }
    let mut tree = Tree { dirs: Vec::new(), files: Vec::new() };
    Ok(walk(top, Path::new(""), &mut tree)?.then_some(tree))
}

/// `<length>\n<script>`: what [`STREAM_COMMAND`] reads before the data.
fn framed(script: &Script) -> Vec<u8> {
    let mut v = format!("{}\n", script.bytes().len()).into_bytes();
    v.extend_from_slice(script.bytes());
    v
}

/// The ssh command line of a stream to `host`.
fn command(host: &Host, options: Vec<OsString>) -> Command {
    let mut cmd = Command::new("ssh");
    cmd.arg("-o")
        .arg("ControlMaster=no")
        .args(options)
        .arg("--")
        .arg(&host.target)
        .arg(STREAM_COMMAND);
    cmd
}

/// One read from a non-blocking descriptor, waiting for data until `deadline`.
fn read_deadline(src: &mut ChildStdout, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
    loop {
        match src.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_ready(src, libc::POLLIN, deadline)?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Send all of `data` on the non-blocking socket `sock` (MSG_NOSIGNAL), waiting until `deadline`.
fn send_all(sock: &OwnedFd, mut data: &[u8], deadline: Instant) -> io::Result<()> {
    while !data.is_empty() {
        match fdio::send(sock, data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_ready(sock, libc::POLLOUT, deadline)?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A connected pair of unix stream sockets: (ours, non-blocking; the child's).
fn socket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let (ours, theirs) = fdio::socket_pair()?;
    // Larger socket buffers: fewer wake-ups of ssh per MiB.
    let size: libc::c_int = 1 << 20;
    // SAFETY: setsockopt with a pointer to an int and its size.
    unsafe {
        libc::setsockopt(
            ours.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    Ok((ours, theirs))
}

/// A started ssh, killed and reaped on drop unless it was waited for.
struct Ssh {
    child: Option<Child>,
    err: File,
}

impl Ssh {
    fn spawn(mut cmd: Command, stdin: Stdio, stdout: Stdio) -> Result<Ssh> {
        let err = scratch()?;
        let err_copy = err.try_clone().map_err(|e| Error::io("duplicating a scratch file descriptor", e))?;
        cmd.stdin(stdin).stdout(stdout).stderr(Stdio::from(err_copy));
        let child = cmd
            .spawn()
            .map_err(|e| Error::Failed(format!("cannot run ssh (is OpenSSH installed?): {e}")))?;
        Ok(Ssh { child: Some(child), err })
    }

    /// Wait for the exit until `deadline`: Ok((code, stderr)), or Timeout.
    fn wait(&mut self, host: &Host, deadline: Instant, what: &str) -> Result<(i32, String)> {
        let Some(mut child) = self.child.take() else {
            return Err(Error::Failed(format!("{what} on {}: waited for twice", host.contact)));
        };
        let status = wait_child(&mut child, deadline)
            .map_err(|e| Error::io(format!("waiting for ssh to {}", host.contact), e))?;
        let err = read_scratch(&self.err);
        match status {
            Some(st) => Ok((st.code().unwrap_or(255), err)),
            None => Err(Error::Timeout(format!(
                "{what} on {} did not end within the transfer deadline{}",
                host.contact,
                if err.is_empty() { String::new() } else { format!(": {err}") }
            ))),
        }
    }
}

impl Drop for Ssh {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A file streamed off a host: `ssh host` running [`read_script`].
pub(crate) struct SshReadStream {
    ssh: Ssh,
    out: ChildStdout,
    host: Host,
    path: String,
    size: u64,
    left: u64,
    /// Data bytes read along with the header, served first.
    pending: Vec<u8>,
    deadline: Instant,
}

impl SshReadStream {
    /// Start streaming `path` (absolute) off `host`; returns once its size is known.
    pub(crate) fn open(host: &Host, options: Vec<OsString>, path: &Path, timeout: Duration) -> Result<SshReadStream> {
        let deadline = Instant::now() + timeout;
        let input = fdio::scratch_holding(&std::env::temp_dir(), &framed(&read_script(path)))
            .map_err(|e| Error::io("writing the remote script to a scratch file", e))?;
        let mut ssh = Ssh::spawn(command(host, options), Stdio::from(input), Stdio::piped())?;
        let out = ssh
            .child
            .as_mut()
            .and_then(|c| c.stdout.take())
            .ok_or_else(|| Error::Failed("ssh was started without its stdout".into()))?;
        set_nonblocking(out.as_raw_fd()).map_err(|e| Error::io("preparing the stream from ssh", e))?;
        // SAFETY: fcntl on our pipe end; a larger pipe means fewer wake-ups (failure is harmless).
        unsafe { libc::fcntl(out.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
        let mut stream = SshReadStream {
            ssh,
            out,
            host: host.clone(),
            path: path.display().to_string(),
            size: 0,
            left: 0,
            pending: Vec::new(),
            deadline,
        };
        stream.read_header()?;
        Ok(stream)
    }

    /// Read up to the marker and the size line; what comes after them is data.
    fn read_header(&mut self) -> Result<()> {
        let mut got: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if let Some(i) = find(&got, BEGIN) {
                let rest = &got[i + BEGIN.len()..];
                if let Some(nl) = rest.iter().position(|&b| b == b'\n') {
                    let size = std::str::from_utf8(&rest[..nl]).ok().and_then(|t| t.trim().parse::<u64>().ok());
                    let Some(size) = size else {
                        return Err(Error::Failed(format!(
                            "ssh to {} sent no size for {}: {:?}",
                            self.host.contact,
                            self.path,
                            String::from_utf8_lossy(&rest[..nl])
                        )));
                    };
                    self.size = size;
                    self.left = size;
                    self.pending = rest[nl + 1..].to_vec();
                    return Ok(());
                }
            }
            if got.len() > MAX_PREAMBLE + 64 {
                return Err(Error::Failed(format!(
                    "ssh to {} printed {} bytes before the stream of {} began",
                    self.host.contact,
                    got.len(),
                    self.path
                )));
            }
            match read_deadline(&mut self.out, &mut buf, self.deadline) {
                Ok(0) => return Err(self.failed_before_data()),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    return Err(Error::Timeout(format!(
                        "reading {} on {}: no data within the transfer deadline",
                        self.path, self.host.contact
                    )))
                }
                Err(e) => return Err(Error::io(format!("reading {} from {}", self.path, self.host.contact), e)),
            }
        }
    }

    /// The stream ended before its header: say why (the file, or the connection).
    fn failed_before_data(&mut self) -> Error {
        match self.ssh.wait(&self.host, self.deadline, "reading a file") {
            Err(e) => e,
            Ok((255, err)) => connection_error(&self.host, "ssh", &err),
            Ok((code::UNREADABLE, err)) => Error::FileOpen(format!("on {}: {err}", self.host.contact)),
            Ok((c, err)) => Error::Failed(format!(
                "reading {} on {} failed (exit {c}): {err}",
                self.path, self.host.contact
            )),
        }
    }
}

impl Read for SshReadStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            // The size announced is reached: the stream must end here.
            let extra = if self.pending.is_empty() {
                read_deadline(&mut self.out, &mut buf[..1], self.deadline)?
            } else {
                self.pending.len()
            };
            return if extra == 0 {
                Ok(0)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} on {} grew past its {} bytes while it was read", self.path, self.host.contact, self.size),
                ))
            };
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = if !self.pending.is_empty() {
            let n = want.min(self.pending.len());
            buf[..n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            n
        } else {
            read_deadline(&mut self.out, &mut buf[..want], self.deadline).map_err(|e| {
                if e.kind() == io::ErrorKind::TimedOut {
                    io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("reading {} on {}: the transfer deadline passed", self.path, self.host.contact),
                    )
                } else {
                    e
                }
            })?
        };
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the stream of {} from {} ended after {} of {} bytes",
                    self.path,
                    self.host.contact,
                    self.size - self.left,
                    self.size
                ),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

impl ReadStream for SshReadStream {
    fn size(&self) -> u64 {
        self.size
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        if self.left != 0 {
            return Err(Error::Failed(format!(
                "the stream of {} from {} was finished after {} of {} bytes",
                self.path,
                self.host.contact,
                self.size - self.left,
                self.size
            )));
        }
        let (code, err) = self.ssh.wait(&self.host, self.deadline, "reading a file")?;
        match code {
            0 => Ok(()),
            255 => Err(connection_error(&self.host, "ssh", &err)),
            c => Err(Error::Failed(format!(
                "reading {} on {} ended with exit {c}: {err}",
                self.path, self.host.contact
            ))),
        }
    }
}

/// Write the `size` bytes of `from` as `target` (absolute; its directory `parent`) on `host`
/// (see the module docs for how a failure leaves no file under that name).
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_from(
    host: &Host,
    options: Vec<OsString>,
    parent: &Path,
    target: &Path,
    size: u64,
    mode: Option<u32>,
    from: &mut dyn Read,
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let (sock, theirs) = socket_pair().map_err(|e| Error::io("creating the stream to ssh", e))?;
    let answer = scratch()?;
    let answer_copy = answer
        .try_clone()
        .map_err(|e| Error::io("duplicating a scratch file descriptor", e))?;
    let mut ssh = Ssh::spawn(command(host, options), Stdio::from(theirs), Stdio::from(answer_copy))?;
    let what = format!("writing {} on {}", target.display(), host.contact);
    // Ours: a failure of the source (`Err(reader)`), or of the way to the host (`Err(sending)`).
    let mut source_failed: Option<io::Error> = None;
    let mut sending_failed: Option<io::Error> = None;
    let send = |data: &[u8], failed: &mut Option<io::Error>| -> bool {
        match send_all(&sock, data, deadline) {
            Ok(()) => true,
            Err(e) => {
                *failed = Some(e);
                false
            }
        }
    };
    if send(&framed(&write_script(parent, target, size, mode)), &mut sending_failed) {
        let mut buf = vec![0u8; CHUNK];
        let mut left = size;
        loop {
            let want = if left == 0 { 1 } else { buf.len().min(usize::try_from(left).unwrap_or(usize::MAX)) };
            let n = match from.read(&mut buf[..want]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    source_failed = Some(e);
                    break;
                }
            };
            if left == 0 {
                if n != 0 {
                    // One byte too many makes the host refuse the file.
                    let _ = send(&buf[..1], &mut sending_failed);
                    source_failed = Some(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("the data goes on past the {size} bytes announced"),
                    ));
                }
                break;
            }
            if n == 0 {
                source_failed = Some(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the data ended after {} of {size} bytes", size - left),
                ));
                break;
            }
            if !send(&buf[..n], &mut sending_failed) {
                break;
            }
            left -= n as u64;
        }
    }
    // The end of the data: the host checks the size and answers.
    // SAFETY: shutdown(2) of our socket's sending side.
    unsafe { libc::shutdown(sock.as_raw_fd(), libc::SHUT_WR) };
    drop(sock);
    let timed_out = sending_failed.as_ref().is_some_and(|e| e.kind() == io::ErrorKind::TimedOut);
    let wait_until = if timed_out { Instant::now() } else { deadline };
    let waited = ssh.wait(host, wait_until, "writing a file");
    if let Some(e) = source_failed {
        return Err(Error::io(format!("{what}: the source failed, nothing was stored"), e));
    }
    if timed_out {
        return Err(Error::Timeout(format!("{what}: the transfer deadline passed")));
    }
    let (code, err) = waited?;
    let stored = read_scratch(&answer);
    match code {
        0 if stored.contains("stored") => Ok(()),
        0 => Err(Error::Failed(format!("{what}: the host gave no answer ({stored:?})"))),
        255 if !stored.contains("GAT-BEGIN") => {
            let said = match (&sending_failed, err.is_empty()) {
                (Some(e), true) => format!("the connection broke while the data was sent ({e})"),
                (Some(e), false) => format!("{err} (while the data was sent: {e})"),
                (None, _) => err,
            };
            Err(connection_error(host, "ssh", &said))
        }
        code::MKDIR => Err(Error::PermissionDenied(format!("{what}: cannot create {}: {err}", parent.display()))),
        code::SIZE => Err(Error::Failed(format!("{what}: {err}"))),
        code::WRITE => Err(Error::Failed(format!("{what}: the host could not write the file: {err}"))),
        c => Err(Error::Failed(format!(
            "{what} failed (exit {c}){}: {err}",
            sending_failed.map(|e| format!(" after the connection broke ({e})")).unwrap_or_default()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The constant command, then a framed script and data, through a real /bin/sh: the script
    /// runs and the data after it reaches `cat` untouched.
    #[test]
    fn the_stream_command_runs_the_framed_script_and_leaves_the_data() {
        let dir = std::env::temp_dir().join(format!("gat-stream-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let target = dir.join("sub dir/it's $(x)");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let script = write_script(target.parent().unwrap(), &target, data.len() as u64, Some(0o640));
        let mut input = framed(&script);
        input.extend_from_slice(&data);
        let run = |input: &[u8]| {
            use std::io::Write;
            let inner = STREAM_COMMAND.strip_prefix("exec ").unwrap();
            let mut child = Command::new("/bin/sh")
                .arg("-c")
                .arg(inner)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(input).unwrap();
            child.wait_with_output().unwrap()
        };
        let out = run(&input);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("stored"));
        assert_eq!(std::fs::read(&target).unwrap(), data);
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o7777, 0o640);
        }
        // Short: refused, and the older file stays as it was.
        let script = write_script(target.parent().unwrap(), &target, data.len() as u64 + 1, None);
        let mut input = framed(&script);
        input.extend_from_slice(b"other");
        let out = run(&input);
        assert_eq!(out.status.code(), Some(code::SIZE), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::read(&target).unwrap(), data);
        assert_eq!(std::fs::read_dir(target.parent().unwrap()).unwrap().count(), 1, "no part file left");
        // The read script: marker, size, bytes.
        let mut input = framed(&read_script(&target));
        input.extend_from_slice(b"ignored");
        let out = run(&input);
        let mut expected = format!("GAT-BEGIN\n{}\n", data.len()).into_bytes();
        expected.extend_from_slice(&data);
        assert_eq!(out.stdout, expected);
        let out = run(&framed(&read_script(&dir.join("missing"))));
        assert_eq!(out.status.code(), Some(code::UNREADABLE));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
