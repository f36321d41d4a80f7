//! The test harness: a stand-in with a zone, a config written to a temp dir, and the real
//! `flaredns` binary run against it. `Outcome` carries the exit code, both output streams and
//! the API requests the run made.

use std::path::PathBuf;
use std::process::Command;

pub use flaredns_standin::{
    Fault, LoggedRequest, Record, Standin, PUBLIC_IPV4, PUBLIC_IPV6, TOKEN,
};

/// An address the tests treat as "the old one".
pub const OLD_IPV4: &str = "81.23.45.10";

/// A stand-in plus a scratch directory for config and state.
pub struct World {
    pub standin: Standin,
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub api: Vec<LoggedRequest>,
}

impl Outcome {
    /// Requests other than GET.
    pub fn writes(&self) -> Vec<&LoggedRequest> {
        self.api.iter().filter(|r| r.is_write()).collect()
    }

    /// The ERROR lines of the log.
    pub fn errors(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|line| line.contains("ERROR"))
            .collect()
    }

    /// stdout and stderr together, for text assertions.
    pub fn output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl World {
    /// A stand-in holding zone example.com.
    pub fn new() -> World {
        let standin = Standin::start();
        standin.add_zone("example.com");
        World {
            standin,
            dir: tempfile::tempdir().expect("temp dir"),
            env: Vec::new(),
        }
    }

    /// A full config: the stand-in's API, its trace echo, its DNS server, then `records`.
    pub fn config(&self, records: &str) -> String {
        format!(
            "[cloudflare]\napi_url = \"{}\"\n\n[detect]\nipv4 = [\"trace:{}\"]\ntimeout = \"2s\"\n\n[check]\nnameservers = [\"{}\"]\n\n{records}\n",
            self.standin.api_url(),
            self.standin.trace_url(),
            self.standin.dns_addr()
        )
    }

    /// A full config with a `[detect]` section of the test's own (`ipv4 = …`, `ipv6 = …`).
    /// `config(records)` in api mode: `[check] nameservers = "api"` (no DNS check; every record
    /// read through the API).
    pub fn config_api_mode(&self, records: &str) -> String {
        api_mode(&self.config(records))
    }

    pub fn config_detect(&self, detect: &str, records: &str) -> String {
        format!(
            "[cloudflare]\napi_url = \"{}\"\n\n[detect]\n{detect}\ntimeout = \"2s\"\n\n[check]\nnameservers = [\"{}\"]\n\n{records}\n",
            self.standin.api_url(),
            self.standin.dns_addr()
        )
    }

    /// Writes `config` and returns its path.
    pub fn write_config(&self, config: &str) -> PathBuf {
        let path = self.dir.path().join("config.toml");
        std::fs::write(&path, config).expect("write config");
        path
    }

    /// `flaredns --config <config> ARGS…` with a clean environment: the stand-in's token, a
    /// scratch state directory, and the test's own `env`. Writes the config and clears the
    /// request log first.
    fn command(&self, config: &str, args: &[&str]) -> Command {
        self.command_in(&[], config, args)
    }

    /// Like `command`, the binary run by `wrapper` (e.g. `ip netns exec NAME`).
    fn command_in(&self, wrapper: &[&str], config: &str, args: &[&str]) -> Command {
        let path = self.write_config(config);
        self.standin.clear_requests();
        let mut command = match wrapper.split_first() {
            None => Command::new(env!("CARGO_BIN_EXE_flaredns")),
            Some((program, rest)) => {
                let mut command = Command::new(program);
                command.args(rest).arg(env!("CARGO_BIN_EXE_flaredns"));
                command
            }
        };
        command
            .arg("--config")
            .arg(&path)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CLOUDFLARE_API_TOKEN", TOKEN)
            .env("STATE_DIRECTORY", self.dir.path().join("state"))
            .env("HOME", self.dir.path());
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    /// Runs `flaredns --config <config> ARGS…` and collects what it did.
    pub fn run(&self, config: &str, args: &[&str]) -> Outcome {
        self.collect(self.command(config, args))
    }

    /// Like `run`, with more environment variables.
    pub fn run_env(&self, config: &str, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let mut command = self.command(config, args);
        command.envs(env.iter().copied());
        self.collect(command)
    }

    /// Like `run`, the binary started by `wrapper` (`ip netns exec NAME`).
    pub fn run_in(&self, wrapper: &[&str], config: &str, args: &[&str]) -> Outcome {
        self.collect(self.command_in(wrapper, config, args))
    }

    /// Like `run`, without the token in the environment (the config names its source).
    pub fn run_without_token(&self, config: &str, args: &[&str]) -> Outcome {
        let mut command = self.command(config, args);
        command.env_remove("CLOUDFLARE_API_TOKEN");
        self.collect(command)
    }

    /// `flaredns ARGS…` exactly as given (no config written), with the test environment.
    pub fn run_raw(&self, args: &[&str]) -> Outcome {
        self.standin.clear_requests();
        let mut fresh = Command::new(env!("CARGO_BIN_EXE_flaredns"));
        fresh
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CLOUDFLARE_API_TOKEN", TOKEN)
            .env("STATE_DIRECTORY", self.dir.path().join("state"));
        self.collect(fresh)
    }

    fn collect(&self, mut command: Command) -> Outcome {
        let output = command.output().expect("run flaredns");
        Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).to_string(),
            api: self.standin.api_requests(),
        }
    }

    /// Starts `flaredns --config <config> ARGS…` in the background (the daemon).
    pub fn spawn(&self, config: &str, args: &[&str]) -> Daemon {
        self.spawn_command(self.command(config, args), None)
    }

    /// Like `spawn`, with a notification socket (`NOTIFY_SOCKET`) the test reads, and returns
    /// once the daemon said READY=1: its signal handlers are in place and its first cycle's
    /// DNS work is done. `Daemon::wait_for_cycles` then waits on the cycles it finishes.
    pub fn spawn_ready(&self, config: &str, args: &[&str]) -> Daemon {
        let notifications = Notifications::bind(&self.dir.path().join("harness-notify.sock"));
        let mut command = self.command(config, args);
        command.env("NOTIFY_SOCKET", &notifications.path);
        let mut daemon = self.spawn_command(command, Some(notifications));
        assert!(
            daemon.wait_for_cycles(1, 10.0),
            "no READY=1 within 10 s: {}",
            daemon.stderr_so_far()
        );
        daemon
    }

    fn spawn_command(&self, mut command: Command, notifications: Option<Notifications>) -> Daemon {
        command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().expect("spawn flaredns");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let reader = child.stderr.take().map(|pipe| {
            let stderr = stderr.clone();
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut all = stderr.lock().unwrap_or_else(|e| e.into_inner());
                    all.push_str(&line);
                    all.push('\n');
                }
            })
        });
        Daemon {
            child,
            stderr,
            reader,
            notifications,
        }
    }

    /// Runs `--once` with the records given and asserts nothing about it.
    pub fn once(&self, records: &str) -> Outcome {
        self.run(&self.config(records), &["--once"])
    }
}

/// A `[[records]]` entry for a name.
pub fn record(name: &str) -> String {
    format!("[[records]]\nname = \"{name}\"\n")
}

/// A flaredns daemon started by a test. Killed if the test forgets it.
pub struct Daemon {
    pub child: std::process::Child,
    /// Everything it wrote to stderr so far, read as it comes.
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
    /// What it told systemd, when started by `spawn_ready`.
    notifications: Option<Notifications>,
}

impl Daemon {
    /// Sends a signal by name (TERM, HUP, USR1…).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// SIGTERM, waits, and returns the exit code and everything it wrote to stderr.
    pub fn terminate_with_stderr(&mut self) -> (i32, String) {
        self.stop_with_stderr("TERM")
    }

    /// Like `terminate_with_stderr`, with `signal` (TERM, INT).
    pub fn stop_with_stderr(&mut self, signal: &str) -> (i32, String) {
        let code = self.stop_with(signal);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        (code, self.stderr_so_far())
    }

    /// What it wrote to stderr so far.
    pub fn stderr_so_far(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits (at most `seconds`) for a stderr line containing `pattern` and returns it.
    pub fn wait_for_line(&self, pattern: &str, seconds: f64) -> Option<String> {
        self.wait_for_line_with(&[pattern], seconds)
    }

    /// Waits (at most `seconds`) for a stderr line containing every one of `patterns`.
    pub fn wait_for_line_with(&self, patterns: &[&str], seconds: f64) -> Option<String> {
        let mut found = None;
        eventually(seconds, || {
            found = self
                .stderr_so_far()
                .lines()
                .find(|line| patterns.iter().all(|pattern| line.contains(pattern)))
                .map(str::to_string);
            found.is_some()
        });
        found
    }

    /// Waits (at most `seconds`) until the daemon has finished `count` cycles in all, as its
    /// notifications tell (READY=1 after the first, a STATUS= line after each later one).
    /// Only for a daemon started by `spawn_ready`.
    pub fn wait_for_cycles(&mut self, count: usize, seconds: f64) -> bool {
        let notifications = self
            .notifications
            .as_mut()
            .expect("a daemon started by spawn_ready");
        eventually(seconds, || notifications.cycles() >= count)
    }

    /// Everything it told systemd so far (a daemon started by `spawn_ready`).
    pub fn told_systemd(&mut self) -> Vec<String> {
        self.notifications
            .as_mut()
            .expect("a daemon started by spawn_ready")
            .read()
            .to_vec()
    }

    /// The port the daemon's metrics endpoint bound (`listen = "127.0.0.1:0"`), read from
    /// its start-up line: no port is picked, released and raced for.
    pub fn metrics_port(&self) -> u16 {
        let line = self
            .wait_for_line("serving /metrics", 10.0)
            .expect("the metrics endpoint started");
        line.rsplit(':')
            .next()
            .and_then(|port| port.trim().parse().ok())
            .expect("a port in the start-up line")
    }

    /// SIGTERM, then waits (at most 10 s) and returns the exit code.
    pub fn terminate(&mut self) -> i32 {
        self.stop_with("TERM")
    }

    /// Sends `signal` (TERM, INT) and waits at most 10 s for the exit; its code (-1: killed).
    pub fn stop_with(&mut self, signal: &str) -> i32 {
        self.signal(signal);
        for _ in 0..1000 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code().unwrap_or(-1);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = self.child.kill();
        panic!("flaredns did not exit within 10 s of SIG{signal}");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `condition` every 10 ms for at most `seconds`; true once it holds. (The daemon
/// answers in milliseconds: a coarser poll would be most of a test's waiting.)
pub fn eventually(seconds: f64, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs_f64(seconds);
    loop {
        if condition() {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

impl World {
    /// `flaredns ARGS…` with no `--config` (the default path, or the environment alone), the
    /// test environment and `env` on top.
    pub fn run_raw_env(&self, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        self.standin.clear_requests();
        let mut fresh = Command::new(env!("CARGO_BIN_EXE_flaredns"));
        fresh
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CLOUDFLARE_API_TOKEN", TOKEN)
            .env("STATE_DIRECTORY", self.dir.path().join("state"))
            .envs(env.iter().copied());
        self.collect(fresh)
    }
}

impl World {
    /// Like `run_without_token`, with more environment variables.
    pub fn run_without_token_env(
        &self,
        config: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Outcome {
        let mut command = self.command(config, args);
        command.env_remove("CLOUDFLARE_API_TOKEN");
        command.envs(env.iter().copied());
        self.collect(command)
    }
}

/// The test's end of a daemon's `NOTIFY_SOCKET`: every datagram it sent, in order.
pub struct Notifications {
    socket: std::os::unix::net::UnixDatagram,
    pub path: PathBuf,
    pub received: Vec<String>,
}

impl Notifications {
    /// Binds a socket at `path`.
    pub fn bind(path: &std::path::Path) -> Notifications {
        let socket = std::os::unix::net::UnixDatagram::bind(path).expect("bind notify socket");
        socket.set_nonblocking(true).expect("non-blocking");
        Notifications {
            socket,
            path: path.to_path_buf(),
            received: Vec::new(),
        }
    }

    /// Takes in what arrived since the last look.
    pub fn read(&mut self) -> &[String] {
        let mut buffer = [0u8; 4096];
        while let Ok(length) = self.socket.recv(&mut buffer) {
            self.received
                .push(String::from_utf8_lossy(&buffer[..length]).into_owned());
        }
        &self.received
    }

    /// Cycles finished: READY=1 after the first, a message that is only `STATUS=` after each
    /// later one (the stop sends `STOPPING=1` first, a reload `RELOADING=1`, the watchdog
    /// `WATCHDOG=1`).
    pub fn cycles(&mut self) -> usize {
        self.read()
            .iter()
            .filter(|message| message.starts_with("READY=1") || message.starts_with("STATUS="))
            .count()
    }
}

/// A harness config switched to api mode: its `nameservers` line becomes `"api"`.
pub fn api_mode(config: &str) -> String {
    config
        .lines()
        .map(|line| {
            if line.starts_with("nameservers = ") {
                "nameservers = \"api\"\n".to_string()
            } else {
                format!("{line}\n")
            }
        })
        .collect()
}
