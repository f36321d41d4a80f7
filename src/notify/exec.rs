//! Exec hooks: each configured command (an absolute path, no arguments) runs once per event
//! with the event's fields in `FLAREDNS_*` variables and nothing else of flaredns's
//! environment (so never the API token), stdin closed and its output on flaredns's stderr. A
//! hook still running at the deadline is killed.

use std::path::Path;
use std::process::Stdio;

use tokio::time::Instant;

use super::{Event, Outcome};

/// The PATH a hook gets: the system's directories, nothing from flaredns's environment.
const HOOK_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Runs `command` for `event`, bounded by `deadline`.
pub(super) async fn run(command: &Path, event: &Event, deadline: Instant) -> Outcome {
    let receiver = format!("exec hook {}", command.display());
    let mut process = tokio::process::Command::new(command);
    process
        .env_clear()
        .env("PATH", HOOK_PATH)
        .stdin(Stdio::null())
        .stdout(stderr())
        .stderr(stderr())
        .kill_on_drop(true)
        // Its own process group: at the timeout the whole group is killed, children too.
        .process_group(0);
    for (key, value) in event.fields() {
        process.env(format!("FLAREDNS_{key}"), value);
    }
    let error = match process.spawn() {
        Err(error) => Some(format!("cannot start it: {error}")),
        Ok(mut child) => {
            match tokio::time::timeout_at(deadline, child.wait()).await {
                Ok(Ok(status)) if status.success() => None,
                Ok(Ok(status)) => Some(format!("it exited with {status}")),
                Ok(Err(error)) => Some(format!("waiting for it failed: {error}")),
                Err(_) => {
                    if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
                        // SAFETY: kill sends a signal to the process group we created; it
                        // touches no memory.
                        unsafe {
                            libc::kill(-pid, libc::SIGKILL);
                        }
                    }
                    let _ = child.kill().await;
                    Some("it did not finish within [notify].timeout and was killed (with its children)".to_string())
                }
            }
        }
    };
    Outcome { receiver, error }
}

/// flaredns's stderr for the hook's output (stdout carries plans and reports).
fn stderr() -> Stdio {
    use std::os::fd::AsFd;
    match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => Stdio::from(fd),
        Err(_) => Stdio::null(),
    }
}
