//! The peak RSS of a program the benchmark runs, measured so that the benchmark's own size
//! does not leak into it.
//!
//! `wait4`'s `ru_maxrss` is not the child's own peak: at `execve` Linux records the high-water
//! mark of the address space being left, and a child that std starts with `posix_spawn`
//! (vfork) leaves the *parent's* address space, so the figure is at least the benchmark's own
//! RSS (a 40 MB parent reported 44 MB for a 5.7 MB run). Here the child is traced instead:
//! stopped at its exit, before its memory is released, its `VmHWM` (the high-water mark of the
//! address space `execve` gave it) is read from `/proc`.

use std::process::Command;

/// How a traced run ended.
pub struct Traced {
    /// The exit code (-1 when killed by a signal or not run).
    pub code: i32,
    /// `VmHWM` at exit, in KiB (0 when it could not be read).
    pub peak_rss_kib: i64,
}

/// Runs `command` to its end (at most `LONGEST_RUN`) and reads its peak RSS at exit.
pub fn run(command: &mut Command) -> Traced {
    run_within(command, LONGEST_RUN)
}

/// `run`, killing the program after `limit`.
#[allow(clippy::zombie_processes)] // reaped by waitpid in `trace`, which std cannot see
pub fn run_within(command: &mut Command, limit: std::time::Duration) -> Traced {
    use std::os::unix::process::CommandExt;
    // SAFETY: PTRACE_TRACEME only marks this (forked, not yet exec'd) child as traced by its
    // parent; it allocates nothing and is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            if libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let Ok(child) = command.spawn() else {
        return Traced {
            code: -1,
            peak_rss_kib: 0,
        };
    };
    let pid = child.id() as libc::pid_t;
    // A program that never ends must not hang the bench: killed after `limit`,
    // through a pidfd, which names this process even once its pid could be reused.
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as libc::c_int;
    if pidfd < 0 {
        eprintln!(
            "bench: no pidfd for the measured program ({}): a run that never ends is not stopped",
            std::io::Error::last_os_error()
        );
    }
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let done = done.clone();
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            while started.elapsed() < limit {
                if done.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            if pidfd >= 0 {
                kill_through(pidfd);
            }
        })
    };
    let traced = trace(pid);
    if traced.code == -1 && pidfd >= 0 {
        // However the trace ended (killed, or waitpid failed), the program does not outlive
        // it: a no-op when it is gone.
        kill_through(pidfd);
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = watchdog.join();
    if pidfd >= 0 {
        // SAFETY: our descriptor, closed once, after the watchdog that used it ended.
        unsafe { libc::close(pidfd) };
    }
    traced
}

/// SIGKILL through `pidfd`: it reaches only the process the descriptor was opened for, and
/// nothing once that process is gone (its pid may be reused by then).
fn kill_through(pidfd: libc::c_int) {
    // SAFETY: pidfd_send_signal takes a descriptor, a signal, no siginfo and no flags.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd,
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
}

/// How long one measured run may take.
const LONGEST_RUN: std::time::Duration = std::time::Duration::from_secs(300);

/// Follows the traced child `pid` to its end, reading its `VmHWM` at the exit stop.
fn trace(pid: libc::pid_t) -> Traced {
    let mut peak_rss_kib = 0;
    let mut status = 0;
    let mut options_set = false;
    loop {
        // SAFETY: waiting for our own child; status is a plain int.
        if unsafe { libc::waitpid(pid, &mut status, 0) } != pid {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Traced {
                code: -1,
                peak_rss_kib,
            };
        }
        if libc::WIFEXITED(status) {
            return Traced {
                code: libc::WEXITSTATUS(status),
                peak_rss_kib,
            };
        }
        if libc::WIFSIGNALED(status) {
            return Traced {
                code: -1,
                peak_rss_kib,
            };
        }
        let mut forward = 0;
        let event = status >> 16;
        if !options_set && libc::WSTOPSIG(status) == libc::SIGTRAP {
            // The stop after execve: ask for a stop at exit too, and for a later execve (a
            // wrapper that execs the program) to be an event stop: without the option the
            // kernel sends that execve a SIGTRAP, which, delivered, kills the program.
            options_set = true;
            // SAFETY: the child is in a ptrace-stop; the options are a plain flag word.
            unsafe {
                libc::ptrace(
                    libc::PTRACE_SETOPTIONS,
                    pid,
                    0,
                    (libc::PTRACE_O_TRACEEXIT | libc::PTRACE_O_TRACEEXEC) as libc::c_long,
                )
            };
        } else if event == libc::PTRACE_EVENT_EXIT {
            peak_rss_kib = vm_hwm(pid);
        } else if event == 0 {
            // A signal meant for the program: deliver it.
            forward = libc::WSTOPSIG(status);
        }
        // (Another event stop, an execve, has no signal to deliver.)
        // SAFETY: the child is in a ptrace-stop; continue it with `forward` (0: no signal).
        unsafe { libc::ptrace(libc::PTRACE_CONT, pid, 0, forward as libc::c_long) };
    }
}

/// `VmHWM` of a live process, in KiB.
fn vm_hwm(pid: libc::pid_t) -> i64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_that_never_ends_is_ended_at_its_limit() {
        let started = std::time::Instant::now();
        let mut command = Command::new("sleep");
        command.arg("30");
        let traced = run_within(&mut command, std::time::Duration::from_millis(200));
        assert_eq!(traced.code, -1, "killed");
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn a_small_child_of_a_large_parent_measures_small() {
        // Make this process large: wait4's figure would be at least this.
        let ballast = vec![1u8; 64 << 20];
        std::hint::black_box(&ballast);
        let traced = run(Command::new("true").stdout(std::process::Stdio::null()));
        assert_eq!(traced.code, 0);
        assert!(traced.peak_rss_kib > 0, "VmHWM was read");
        assert!(
            traced.peak_rss_kib < 32 << 10,
            "the parent's 64 MiB leaked in: {} KiB",
            traced.peak_rss_kib
        );
    }

    /// A wrapper that execs the program (`sh -c "exec …"`, an `INADYN_BIN` script): the
    /// second execve's SIGTRAP was delivered and killed it. (review3)
    #[test]
    fn a_child_that_execs_again_runs_to_its_end() {
        let traced = run(Command::new("sh").args(["-c", "exec sh -c 'exit 3'"]));
        assert_eq!(traced.code, 3);
        assert!(traced.peak_rss_kib > 64, "{} KiB", traced.peak_rss_kib);
    }

    #[test]
    fn exit_codes_come_through() {
        let traced = run(Command::new("sh").args(["-c", "exit 3"]));
        assert_eq!(traced.code, 3);
    }
}
