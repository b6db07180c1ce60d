//! System calls made without libc, for the job monitor.
//!
//! On x86_64 the monitor is a process that shares the creating process's memory (`CLONE_VM`,
//! see `monitor.rs`): it is started as cheaply as a thread, but it runs with the creating
//! thread's thread pointer. Every libc wrapper may touch that thread's memory (errno on failure,
//! the cancellation state in glibc's cancellable calls), and that thread may exit long before the
//! monitor does. So the monitor makes its system calls here, by number, and nothing here reads or
//! writes thread-local storage. Results follow the kernel's convention: `>= 0` success, `-errno`
//! failure.
//!
//! On other architectures the same calls go through `libc::syscall` (which sets errno), and the
//! monitor is a forked process with its own copy of everything, so that is safe there.

use std::os::fd::RawFd;

/// Monitors are started with `CLONE_VM` (see `clone_on_stack`) on this architecture.
pub const CLONE_VM_MONITORS: bool = cfg!(target_arch = "x86_64");

#[cfg(target_arch = "x86_64")]
mod arch {
    use std::arch::asm;

    /// # Safety
    /// A raw system call: the caller guarantees the arguments are what system call `n` expects.
    #[inline(always)]
    pub unsafe fn syscall6(n: i64, a: [usize; 6]) -> isize {
        let ret: isize;
        asm!(
            "syscall",
            inlateout("rax") n as isize => ret,
            in("rdi") a[0],
            in("rsi") a[1],
            in("rdx") a[2],
            in("r10") a[3],
            in("r8") a[4],
            in("r9") a[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
        ret
    }

    /// `clone(flags, stack_top)`: the child starts on `stack_top` (16-byte aligned) and calls
    /// `entry(arg)`, which never returns. The parent gets the child's pid or `-errno`.
    ///
    /// # Safety
    /// `stack_top` must be the aligned top of memory the child may use as its stack for its whole
    /// life; with `CLONE_VM` everything `entry` touches must stay valid that long.
    pub unsafe fn clone_on_stack(
        flags: usize,
        stack_top: *mut u8,
        entry: unsafe extern "C" fn(*mut libc::c_void) -> !,
        arg: *mut libc::c_void,
    ) -> isize {
        let ret: isize;
        // The child returns from the syscall with rax = 0 on the new stack and every other
        // register as the parent had it: r12 and r13 still hold arg and entry.
        asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "mov rdi, r12",
            "call r13",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone as isize => ret,
            in("rdi") flags,
            in("rsi") stack_top,
            in("rdx") 0usize,
            in("r10") 0usize,
            in("r8") 0usize,
            in("r12") arg,
            in("r13") entry,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
        ret
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod arch {
    /// # Safety
    /// As for `libc::syscall` with these arguments. Sets errno (see the module doc).
    pub unsafe fn syscall6(n: i64, a: [usize; 6]) -> isize {
        let r = libc::syscall(n as libc::c_long, a[0], a[1], a[2], a[3], a[4], a[5]);
        if r < 0 {
            -(*libc::__errno_location() as isize)
        } else {
            r as isize
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub use arch::clone_on_stack;

/// True under Valgrind, which runs clones only as threads or forks: monitors are forked there.
/// Asked once, with Valgrind's RUNNING_ON_VALGRIND client request (a no-op sequence natively).
pub fn running_on_valgrind() -> bool {
    use std::sync::OnceLock;
    static ANSWER: OnceLock<bool> = OnceLock::new();
    *ANSWER.get_or_init(valgrind_request_running)
}

#[cfg(target_arch = "x86_64")]
fn valgrind_request_running() -> bool {
    const RUNNING_ON_VALGRIND: u64 = 0x1001;
    let request: [u64; 6] = [RUNNING_ON_VALGRIND, 0, 0, 0, 0, 0];
    let mut result: u64 = 0;
    // SAFETY: Valgrind's documented client-request preamble for amd64: four rotations of rdi
    // that add up to 128 bits (rdi ends unchanged) and `xchg rbx, rbx`; natively nothing
    // changes, under Valgrind rdx receives the answer.
    unsafe {
        std::arch::asm!(
            "rol rdi, 3",
            "rol rdi, 13",
            "rol rdi, 61",
            "rol rdi, 51",
            "xchg rbx, rbx",
            inout("rdx") result,
            in("rax") request.as_ptr(),
            inout("rdi") 0u64 => _,
            options(nostack),
        );
    }
    result != 0
}

#[cfg(not(target_arch = "x86_64"))]
fn valgrind_request_running() -> bool {
    false
}

// Thin typed wrappers. SAFETY for all: each passes its arguments to the system call of the same
// name; pointers must be valid as that call requires (documented per function where it matters).

#[inline(always)]
fn sys(n: libc::c_long, a: [usize; 6]) -> isize {
    // SAFETY: see the wrappers below: each builds `a` as its system call expects.
    // c_long is i64 on 64-bit targets: the cast is for the others.
    #[allow(clippy::unnecessary_cast)]
    let n = n as i64;
    unsafe { arch::syscall6(n, a) }
}

pub fn getpid() -> i32 {
    sys(libc::SYS_getpid, [0; 6]) as i32
}

pub fn setsid() -> isize {
    sys(libc::SYS_setsid, [0; 6])
}

pub fn setpgid(pid: i32, pgid: i32) -> isize {
    sys(libc::SYS_setpgid, [pid as usize, pgid as usize, 0, 0, 0, 0])
}

pub fn set_child_subreaper() -> isize {
    sys(libc::SYS_prctl, [libc::PR_SET_CHILD_SUBREAPER as usize, 1, 0, 0, 0, 0])
}

pub fn kill(pid: i32, sig: i32) -> isize {
    sys(libc::SYS_kill, [pid as isize as usize, sig as usize, 0, 0, 0, 0])
}

pub fn close(fd: RawFd) -> isize {
    sys(libc::SYS_close, [fd as usize, 0, 0, 0, 0, 0])
}

pub fn dup3(old: RawFd, new: RawFd, flags: i32) -> isize {
    sys(libc::SYS_dup3, [old as usize, new as usize, flags as usize, 0, 0, 0])
}

pub fn fcntl(fd: RawFd, cmd: i32, arg: usize) -> isize {
    sys(libc::SYS_fcntl, [fd as usize, cmd as usize, arg, 0, 0, 0])
}

pub fn close_range(first: u32, last: u32) -> isize {
    sys(libc::SYS_close_range, [first as usize, last as usize, 0, 0, 0, 0])
}

pub fn exit(code: i32) -> ! {
    sys(libc::SYS_exit_group, [code as usize, 0, 0, 0, 0, 0]);
    // exit_group does not return; should it, the loop keeps this `-> !` honest.
    loop {
        sys(libc::SYS_exit, [code as usize, 0, 0, 0, 0, 0]);
    }
}

/// # Safety
/// `buf` valid for `len` bytes.
pub unsafe fn write(fd: RawFd, buf: *const u8, len: usize) -> isize {
    sys(libc::SYS_write, [fd as usize, buf as usize, len, 0, 0, 0])
}

/// # Safety
/// `iov` points to `count` valid iovecs.
pub unsafe fn writev(fd: RawFd, iov: *const libc::iovec, count: usize) -> isize {
    sys(libc::SYS_writev, [fd as usize, iov as usize, count, 0, 0, 0])
}

/// # Safety
/// `buf` valid for writing `len` bytes.
pub unsafe fn read(fd: RawFd, buf: *mut u8, len: usize) -> isize {
    sys(libc::SYS_read, [fd as usize, buf as usize, len, 0, 0, 0])
}

/// # Safety
/// `path` NUL-terminated.
pub unsafe fn open(path: *const libc::c_char, flags: i32) -> isize {
    sys(
        libc::SYS_openat,
        [libc::AT_FDCWD as isize as usize, path as usize, flags as usize, 0, 0, 0],
    )
}

/// # Safety
/// `path` NUL-terminated.
pub unsafe fn exists(path: *const libc::c_char) -> bool {
    sys(
        libc::SYS_faccessat,
        [libc::AT_FDCWD as isize as usize, path as usize, libc::F_OK as usize, 0, 0, 0],
    ) == 0
}

/// # Safety
/// `path` NUL-terminated.
pub unsafe fn chdir(path: *const libc::c_char) -> isize {
    sys(libc::SYS_chdir, [path as usize, 0, 0, 0, 0, 0])
}

/// # Safety
/// All three NUL-terminated, the arrays NULL-terminated.
pub unsafe fn execve(
    path: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
) -> isize {
    sys(libc::SYS_execve, [path as usize, argv as usize, envp as usize, 0, 0, 0])
}

/// `wait4(pid, &status, options)`: the pid reaped (0 with WNOHANG and nothing to reap), or
/// `-errno`.
pub fn wait4(pid: i32, status: &mut i32, options: i32) -> isize {
    sys(
        libc::SYS_wait4,
        [pid as isize as usize, status as *mut i32 as usize, options as usize, 0, 0, 0],
    )
}

/// The kernel's signal set: one bit per signal, signal n at bit n-1 (64 signals on Linux).
pub type SigSet = u64;

pub fn sig_bit(sig: i32) -> SigSet {
    1u64 << (sig - 1)
}

const KERNEL_SIGSET_SIZE: usize = 8;

pub fn sigprocmask_set(mask: SigSet) -> isize {
    sys(
        libc::SYS_rt_sigprocmask,
        [libc::SIG_SETMASK as usize, &mask as *const SigSet as usize, 0, KERNEL_SIGSET_SIZE, 0, 0],
    )
}

/// Set signal `sig` to its default action. An all-zero kernel sigaction is SIG_DFL with no flags
/// and an empty mask on every architecture.
pub fn signal_default(sig: i32) -> isize {
    let action = [0u64; 4];
    sys(
        libc::SYS_rt_sigaction,
        [sig as usize, action.as_ptr() as usize, 0, KERNEL_SIGSET_SIZE, 0, 0],
    )
}

/// Wait up to `timeout_ms` for a signal of `set` (which must be blocked): its number, or
/// `-errno` (`-EAGAIN` on timeout).
pub fn sigtimedwait(set: SigSet, timeout_ms: i64) -> isize {
    let timeout = libc::timespec {
        tv_sec: (timeout_ms / 1000) as libc::time_t,
        tv_nsec: ((timeout_ms % 1000) * 1_000_000) as libc::c_long,
    };
    sys(
        libc::SYS_rt_sigtimedwait,
        [
            &set as *const SigSet as usize,
            0,
            &timeout as *const libc::timespec as usize,
            KERNEL_SIGSET_SIZE,
            0,
            0,
        ],
    )
}

/// Milliseconds of CLOCK_MONOTONIC (the system call, not the vDSO: no libc).
pub fn now_ms() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    sys(
        libc::SYS_clock_gettime,
        [libc::CLOCK_MONOTONIC as usize, &mut ts as *mut libc::timespec as usize, 0, 0, 0, 0],
    );
    // time_t and c_long are i64 only on 64-bit targets: the casts are for the others.
    #[allow(clippy::unnecessary_cast)]
    let ms = ts.tv_sec as i64 * 1000 + ts.tv_nsec as i64 / 1_000_000;
    ms
}
