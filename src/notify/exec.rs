//! Exec hooks: each configured command (an absolute path, no arguments) runs once per event
//! with the event's fields in `FLAREDNS_*` variables and nothing else of flaredns's
//! environment (so never the API token), stdin closed and its output on flaredns's stderr. A
//! hook runs in its own process group, which is ended when the hook exits (or is killed at
//! the deadline): a child it left in the background would otherwise hold flaredns's stderr
//! open, and cron waits for that. A hook that must leave work running starts it in its own
//! session (`setsid`, `systemd-run`).

use std::path::Path;
use std::process::Stdio;

use tokio::time::Instant;

use super::deliver::Failure;
use super::Event;

/// The PATH a hook gets: the system's directories, nothing from flaredns's environment.
const HOOK_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Runs `command` for `event`, bounded by `deadline`.
pub(super) async fn run(command: &Path, event: &Event, deadline: Instant) -> Result<(), Failure> {
    let mut process = tokio::process::Command::new(command);
    process
        .env_clear()
        .env("PATH", HOOK_PATH)
        .stdin(Stdio::null())
        .stdout(stderr())
        .stderr(stderr())
        .kill_on_drop(true)
        // Its own process group, so that the group can be ended: children too.
        .process_group(0);
    for (key, value) in event.fields() {
        process.env(format!("FLAREDNS_{key}"), value);
    }
    let failure = |reason: String| Failure {
        reason,
        answered: true,
    };
    let mut child = process
        .spawn()
        .map_err(|error| failure(format!("cannot start it: {error}")))?;
    // Taken now: once the hook is reaped the child no longer knows its id, but the group
    // keeps that id while any member lives, so the number cannot name another process.
    let group = child.id().and_then(|pid| i32::try_from(pid).ok());
    let result = match tokio::time::timeout_at(deadline, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(failure(format!("it exited with {status}"))),
        Ok(Err(error)) => Err(failure(format!("waiting for it failed: {error}"))),
        Err(_) => Err(Failure {
            reason: "it did not finish within [notify].timeout and was killed (with its children)"
                .to_string(),
            answered: false,
        }),
    };
    if let Some(group) = group {
        // SAFETY: kill sends a signal to the process group we created; it touches no memory.
        // ESRCH (the group is already empty) is the usual, harmless answer.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
    }
    if result.is_err() {
        let _ = child.kill().await;
    }
    result
}

/// flaredns's stderr for the hook's output (stdout carries plans and reports).
fn stderr() -> Stdio {
    use std::os::fd::AsFd;
    match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => Stdio::from(fd),
        Err(_) => Stdio::null(),
    }
}
