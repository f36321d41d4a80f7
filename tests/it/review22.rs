//! Review of issue 22's session (paused time, signals installed before the run lock): what
//! an unlucky admin would hit. Each test here failed when written.

use std::time::{Duration, Instant};

use crate::harness::{record, Record, World, PUBLIC_IPV4};

/// Whether `pid` has a handler for SIGTERM (bit 15 of /proc/PID/status's SigCgt).
fn catches_sigterm(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("SigCgt:"))
                .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        })
        .is_some_and(|mask| mask & (1 << (libc::SIGTERM - 1)) != 0)
}

// A daemon that waits for the state directory's lock (a `--once` from the timer, or a
// second daemon, holds it) used to die at once on SIGTERM or Ctrl-C: no handler was installed
// yet. Since run_daemon's signals are installed before the lock, the signal is caught and
// nobody looks at it until the lock wait (30 s) is over: `systemctl stop` or Ctrl-C hang
// for half a minute, and a daemon that then gets the lock starts a cycle before it stops.
#[test]
fn a_daemon_waiting_for_the_run_lock_stops_promptly_on_sigterm() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", PUBLIC_IPV4),
    );
    let config = world.config(&format!(
        "[daemon]\ninterval = \"1h\"\n\n{}",
        record("home.example.com")
    ));
    let mut holder = world.spawn_ready(&config, &[]);
    let mut waiting = world.spawn(&config, &[]);
    // Until the second one is past its start-up (its handlers in place, or the old code's
    // lock wait under way): at most a second.
    let pid = waiting.child.id();
    let started = Instant::now();
    while !catches_sigterm(pid) && started.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(10));
    }
    waiting.signal("TERM");
    let stopping = Instant::now();
    let mut exited = None;
    while stopping.elapsed() < Duration::from_secs(3) {
        if let Ok(Some(status)) = waiting.child.try_wait() {
            exited = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let stderr = waiting.stderr_so_far();
    drop(waiting);
    assert_eq!(holder.terminate(), 0);
    assert!(
        exited.is_some(),
        "still running 3 s after SIGTERM while it waited for the run lock: {stderr}"
    );
}
