//! A network namespace a test makes for itself (`ip netns add`), removed when dropped. Tests
//! that need one say so loudly when they cannot have it (not root, no iproute2); under CI
//! (`CI` set, run as root) that is a failure, never a silent pass.

use std::io::BufRead;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Runs `ip ARGS…`; true when it succeeded.
pub fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .output()
        .map(|output| output.status.success())
        .unwrap_or(false)
}

/// A namespace named after the test and the process, with loopback up.
pub struct Namespace(pub String);

impl Namespace {
    /// A new namespace, or None (after printing why) where this machine cannot make one.
    pub fn new(label: &str) -> Option<Namespace> {
        let name = format!("fl-{label}-{}", std::process::id());
        if !ip(&["netns", "add", &name]) {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must be able to create a network namespace (root and iproute2)"
            );
            eprintln!(
                "SKIPPED {label}: cannot create a network namespace (needs root and iproute2)"
            );
            return None;
        }
        let namespace = Namespace(name);
        assert!(namespace.ip(&["link", "set", "lo", "up"]));
        Some(namespace)
    }

    /// `ip -n NAME ARGS…`.
    pub fn ip(&self, args: &[&str]) -> bool {
        let mut all = vec!["-n", self.0.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// An interface that is up: a dummy where the kernel has the module, else a veth end.
    pub fn add_interface(&self, name: &str) -> bool {
        let peer = format!("{name}p");
        (self.ip(&["link", "add", name, "type", "dummy"])
            || self.ip(&["link", "add", name, "type", "veth", "peer", "name", &peer]))
            && self.ip(&["link", "set", name, "up"])
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.0, program]);
        command
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Every line a child writes to stderr, with when it arrived, read by a thread as it comes;
/// the thread ends when the child closes stderr.
pub type Lines = Arc<Mutex<Vec<(Instant, String)>>>;

/// Starts collecting the child's stderr (which must be piped).
pub fn follow_stderr(child: &mut Child) -> (Lines, std::thread::JoinHandle<()>) {
    let lines: Lines = Arc::new(Mutex::new(Vec::new()));
    let stderr = child.stderr.take().expect("stderr is piped");
    let reader = {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                lines.lock().expect("lines").push((Instant::now(), line));
            }
        })
    };
    (lines, reader)
}
