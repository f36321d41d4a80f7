//! A network namespace a test makes for itself (`ip netns add`), removed when dropped. Tests
//! that need one say so loudly when they cannot have it (not root, no iproute2); under CI
//! (`CI` set, run as root) that is a failure, never a silent pass.

use std::io::BufRead;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Says loudly that `test` cannot run on this machine and why; under CI (`CI` set) that is a
/// failure, never a silent pass.
pub fn skip(test: &str, reason: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must be able to run {test}: {reason}"
    );
    eprintln!("SKIPPED {test}: {reason}");
}

/// A namespace name no other test of this run uses: the process id and a counter, as tests
/// that make one run at the same time (16 threads).
pub fn unique_name(label: &str) -> String {
    static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let made = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("fl-{label}-{}-{made}", std::process::id())
}

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
        let name = unique_name(label);
        if !ip(&["netns", "add", &name]) {
            skip(
                label,
                "cannot create a network namespace (needs root and iproute2)",
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

/// A daemon config for the watch tests, in `dir`: detection from `iface:fl0` (private
/// addresses only, so each cycle ends at detection without an API request: the API is a
/// closed port by design), watching `watch`, a one-hour interval.
pub fn watch_config(dir: &std::path::Path, watch: &[&str]) -> std::path::PathBuf {
    let config = dir.join("config.toml");
    let watch: Vec<String> = watch.iter().map(|name| format!("\"{name}\"")).collect();
    std::fs::write(
        &config,
        format!(
            "[cloudflare]\napi_url = \"http://127.0.0.1:1/client/v4\"\n[detect]\nipv4 = [\"iface:fl0\"]\nwatch = [{}]\n[check]\nnameservers = \"api\"\n[daemon]\ninterval = \"1h\"\nstate_dir = \"{}\"\n[[records]]\nname = \"home.example.com\"\n",
            watch.join(", "),
            dir.join("state").display()
        ),
    )
    .expect("config");
    config
}

impl Namespace {
    /// The real binary inside the namespace with `config` and `-v`, stderr piped (read it
    /// with `follow_stderr`).
    pub fn spawn_flaredns(&self, config: &std::path::Path) -> Child {
        self.command(env!("CARGO_BIN_EXE_flaredns"))
            .arg("--config")
            .arg(config)
            .arg("-v")
            .env("CLOUDFLARE_API_TOKEN", "unused")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start the daemon in the namespace")
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

/// The lines since `since` in which the daemon says a watched change (an address, the
/// neighbour table, lost notifications) started a cycle or asked for one.
pub fn changes_told_since(lines: &Lines, since: Instant) -> Vec<String> {
    const TOLD: [&str; 4] = [
        "an address changed",
        "a new address on",
        "the neighbour table changed",
        "notifications were lost",
    ];
    lines
        .lock()
        .expect("lines")
        .iter()
        .filter(|(at, line)| *at >= since && TOLD.iter().any(|told| line.contains(told)))
        .map(|(_, line)| line.clone())
        .collect()
}

/// Sends SIGUSR1 to the daemon `pid` and waits (at most 10 s) for a cycle that finishes after
/// it: a barrier instead of a quiet window. Changes made before it were queued by the kernel
/// before the signal, and the daemon tells a change the moment it reads one, before or during
/// that cycle; so once this returns, `changes_told_since` shows whether any of them counted.
/// The daemon must log at `-v` ("cycle finished").
pub fn usr1_barrier(pid: u32, lines: &Lines) {
    let signalled = Instant::now();
    let status = Command::new("kill")
        .args(["-USR1", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -USR1 {pid}");
    let finished = crate::harness::eventually(10.0, || {
        lines
            .lock()
            .expect("lines")
            .iter()
            .any(|(at, line)| *at >= signalled && line.contains("cycle finished"))
    });
    assert!(finished, "no cycle within 10 s of SIGUSR1");
}
