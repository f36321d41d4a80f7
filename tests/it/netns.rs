//! A network namespace a test makes for itself (`ip netns add`), removed when dropped, and
//! the daemon run inside one: its stderr followed line by line, and barriers in the kernel's
//! own order instead of quiet windows. Tests that need a namespace say so loudly when they
//! cannot have it (not root, no iproute2); under CI (`CI` set, run as root) that is a
//! failure, never a silent pass.

use std::io::BufRead;
use std::process::{Child, Command};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

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
    /// A new namespace, or None (after printing why) where this machine cannot make one. Its
    /// interfaces get no IPv6 link-local address: one would appear a moment after its link
    /// comes up (and, on a veth, only after duplicate address detection, a second or two
    /// later), as a notification a daemon started meanwhile would count. The addresses a
    /// test adds are then the only ones, there the moment `ip` returns.
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
        // Without IPv6 (a kernel booted with ipv6.disable=1) there is no such file, and no
        // link-local address to keep out.
        let quiet = namespace
            .command("sh")
            .args([
                "-c",
                "f=/proc/sys/net/ipv6/conf/default/addr_gen_mode; [ ! -e $f ] || echo 1 > $f",
            ])
            .status()
            .is_ok_and(|status| status.success());
        assert!(quiet, "no link-local addresses in {}", namespace.0);
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

    /// The real binary inside the namespace with `config` and `-v`, its state directory
    /// beside the config, stderr piped (read it with `follow_stderr`). Its watch and signal
    /// windows are `WINDOW_DIVISOR` times shorter: every wait on them below is on an event.
    pub fn spawn_flaredns(&self, config: &std::path::Path) -> Child {
        let state = config.with_file_name("state");
        self.command(env!("CARGO_BIN_EXE_flaredns"))
            .arg("--config")
            .arg(config)
            .arg("-v")
            .env("CLOUDFLARE_API_TOKEN", "unused")
            .env("STATE_DIRECTORY", state)
            .env("FLAREDNS_TEST_WINDOW_DIVISOR", WINDOW_DIVISOR.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start the daemon in the namespace")
    }
}

impl Namespace {
    /// Moves the calling thread into this namespace (a network namespace is per thread):
    /// the sockets it opens from now on, a paused-time test's stand-in and daemon included,
    /// are in here, as are the processes it starts. The thread stays there until it ends.
    pub fn enter_this_thread(&self) {
        use std::os::unix::io::AsRawFd;
        let file = std::fs::File::open(format!("/run/netns/{}", self.0)).expect("netns file");
        // SAFETY: setns with a namespace file this function holds open; it changes only the
        // calling thread's network namespace.
        let entered = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(entered, 0, "setns into {}", self.0);
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// The daemons here settle a burst for 30 ms instead of 300, and start watch- and
/// signal-started cycles 100 ms apart instead of a second (a debug build's
/// `FLAREDNS_TEST_WINDOW_DIVISOR`; the windows themselves are unit-tested in `daemon/windows.rs`).
pub const WINDOW_DIVISOR: u32 = 10;

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

/// Every line a child writes to stderr, with when it arrived, read by a thread as it comes;
/// each line wakes whoever waits on the log, so no wait here polls.
#[derive(Default)]
pub struct Log {
    lines: Mutex<Vec<(Instant, String)>>,
    arrived: Condvar,
}

/// Starts following the child's stderr (which must be piped); the thread ends when the
/// child closes it.
pub fn follow_stderr(child: &mut Child) -> (Arc<Log>, std::thread::JoinHandle<()>) {
    let log = Arc::new(Log::default());
    let stderr = child.stderr.take().expect("stderr is piped");
    let reader = {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                log.lines
                    .lock()
                    .expect("lines")
                    .push((Instant::now(), line));
                log.arrived.notify_all();
            }
        })
    };
    (log, reader)
}

/// The lines in which the daemon says a watched change (an address, the neighbour table,
/// lost notifications) started a cycle or asked for one. It says so for the first change of
/// a burst, the moment it reads it.
const TOLD: [&str; 4] = [
    "an address changed",
    "a new address on",
    "the neighbour table changed",
    "notifications were lost",
];

impl Log {
    /// Waits (at most 10 s) until `condition` holds of the lines so far; true once it does.
    pub fn wait_until(&self, mut condition: impl FnMut(&[(Instant, String)]) -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut lines = self.lines.lock().expect("lines");
        loop {
            if condition(&lines) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            lines = self.arrived.wait_timeout(lines, left).expect("lines").0;
        }
    }

    /// When each cycle that finished since `since` finished.
    pub fn cycles_since(&self, since: Instant) -> Vec<Instant> {
        finished_since(&self.lines.lock().expect("lines"), since)
    }

    /// How long after `since` the first cycle finished, waiting for it (at most 10 s).
    pub fn wait_for_cycle(&self, since: Instant) -> Option<Duration> {
        let mut first = None;
        self.wait_until(|lines| {
            first = finished_since(lines, since).first().copied();
            first.is_some()
        });
        first.map(|at| at.duration_since(since))
    }

    /// The lines since `since` in which the daemon told a watched change, with when each
    /// came.
    pub fn told_since(&self, since: Instant) -> Vec<(Instant, String)> {
        told_since(&self.lines.lock().expect("lines"), since)
    }

    /// Every line so far, for a failure's message.
    pub fn text(&self) -> String {
        let lines = self.lines.lock().expect("lines");
        let text: Vec<&str> = lines.iter().map(|(_, line)| line.as_str()).collect();
        text.join("\n")
    }

    /// A barrier in the kernel's own order, instead of a quiet window: after changes that
    /// must start no cycle (made since `since`, with the daemon idle: its last cycle
    /// finished), `barrier` makes one that must, and this waits until the daemon has told a
    /// change and then finished a cycle. Returns what it told since `since`, for the test to
    /// compare with the barrier's line alone.
    ///
    /// Why that proves "nothing else": the kernel queues every notification on the daemon's
    /// one netlink socket in the order of the changes (a neighbour's or an IPv4 address's
    /// before `ip` returns), and the daemon reads them in that order and tells a change the
    /// moment it reads it, if no cycle is due from the watch yet. So had an earlier change
    /// counted, its line would come first, and the barrier's (part of the same burst) not at
    /// all; had none counted, the barrier's line is the only one. A cycle needs a told
    /// change (the interval is an hour and no signal is sent), so the caller's count of
    /// cycles since `since` must be exactly the barrier's one.
    pub fn told_before(&self, since: Instant, barrier: impl FnOnce()) -> Vec<String> {
        barrier();
        let done = self.wait_until(|lines| {
            told_since(lines, since)
                .first()
                .is_some_and(|(told, _)| !finished_since(lines, *told).is_empty())
        });
        assert!(
            done,
            "no change told, or no cycle after it:\n{}",
            self.text()
        );
        self.told_since(since)
            .into_iter()
            .map(|(_, line)| line)
            .collect()
    }
}

/// When each cycle in `lines` that finished since `since` finished.
pub fn finished_since(lines: &[(Instant, String)], since: Instant) -> Vec<Instant> {
    lines
        .iter()
        .filter(|(at, line)| *at >= since && line.contains("cycle finished"))
        .map(|(at, _)| *at)
        .collect()
}

/// The lines since `since` in which the daemon told a watched change, with when each came.
pub fn told_since(lines: &[(Instant, String)], since: Instant) -> Vec<(Instant, String)> {
    lines
        .iter()
        .filter(|(at, line)| *at >= since && TOLD.iter().any(|told| line.contains(told)))
        .cloned()
        .collect()
}
