//! The daemon and `--once` in-process on paused time: the same `flaredns::run_daemon` and
//! `flaredns::run_once` the binary runs, with the stand-in's servers on the test's own runtime.
//!
//! Why: a daemon's behaviour is about time (a 1 s interval, jittered backoff, Retry-After,
//! a 5 s stop grace, reconcile intervals). Run as a process it can only be watched in real
//! seconds; here tokio's clock is paused and jumps to the next timer whenever every task (the
//! daemon's and the stand-in's) waits, so a minute of daemon life takes milliseconds and the
//! jitter is seeded. Requests still cross real loopback sockets, and a task woken by one keeps
//! the clock still. What needs the process itself (signals, sd_notify, a child's exit, a
//! network namespace) stays in the end-to-end tests that spawn the binary.
//!
//! A test is `#[tokio::test(start_paused = true)]` and starts with `Here::new().await`.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flaredns::daemon::{Event, Events};

use crate::harness::{Standin, World, TOKEN};

/// A world whose stand-in runs on this runtime, and the log of what flaredns said in it.
pub struct Here {
    pub world: World,
    logs: Logs,
    _log_guard: tracing::subscriber::DefaultGuard,
}

/// Everything flaredns logged on this test's thread, as the binary would print it.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).to_string()
    }
}

impl Here {
    /// A stand-in holding zone example.com on this runtime, flaredns's log captured at the
    /// binary's default level (on this thread: the runtime is the test's current thread), and
    /// the jitter seeded.
    pub async fn new() -> Here {
        let standin = Standin::start_here().await;
        standin.add_zone("example.com");
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .without_time()
            .with_max_level(tracing::Level::INFO)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        fastrand::seed(22);
        Here {
            world: World {
                standin,
                dir: tempfile::tempdir().expect("temp dir"),
                env: Vec::new(),
            },
            logs,
            _log_guard: guard,
        }
    }

    pub fn standin(&self) -> &Standin {
        &self.world.standin
    }

    /// What flaredns logged so far.
    pub fn log(&self) -> String {
        self.logs.text()
    }

    /// `text` read as the binary reads its config file, with the environment the end-to-end
    /// harness gives it (the stand-in's token, a scratch state directory, `world.env`).
    pub fn config(&self, text: &str) -> flaredns::config::Config {
        self.config_token(text, TOKEN)
    }

    /// `flaredns --once` in-process; its exit code.
    pub async fn once(&self, text: &str) -> u8 {
        self.once_config(self.config(text)).await
    }

    /// The daemon in-process while `script` runs; then a stop, as SIGTERM would. Returns the
    /// daemon's exit code and what the script returned. The script drives the daemon through
    /// `Control` (SIGUSR1, SIGHUP) and lets time pass with `tokio::time::sleep`.
    pub async fn daemon<T, F>(&self, text: &str, script: impl FnOnce(Control) -> F) -> (u8, T)
    where
        F: Future<Output = T>,
    {
        self.world.standin.clear_requests();
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        // A reload reads the config with the same environment the first read had.
        let env = self.env(TOKEN);
        let control = Control(sender.clone());
        let daemon = flaredns::run_daemon(self.config(text), false, move || {
            Channel(receiver, Box::new(env))
        });
        let script = script(control);
        tokio::pin!(daemon, script);
        let value = tokio::select! {
            code = &mut daemon => panic!("the daemon ended before the script: {code:?}\n{}", self.log()),
            value = &mut script => value,
        };
        let _ = sender.send(Event::Stop("SIGTERM"));
        let code = daemon
            .await
            .unwrap_or_else(|error| panic!("daemon: {error}"));
        (code, value)
    }
}

/// What a script tells the in-process daemon: the signals, as events.
#[derive(Clone)]
pub struct Control(tokio::sync::mpsc::UnboundedSender<Event>);

impl Control {
    /// SIGUSR1.
    pub fn run_now(&self) {
        let _ = self.0.send(Event::RunNow);
    }

    /// SIGHUP.
    pub fn reload(&self) {
        let _ = self.0.send(Event::Reload);
    }
}

/// The daemon's events from a channel (a closed channel is a stop), and the test's
/// environment instead of the process's.
type Env = Box<dyn Fn(&str) -> Option<String>>;
struct Channel(tokio::sync::mpsc::UnboundedReceiver<Event>, Env);

impl Events for Channel {
    async fn next(&mut self) -> Event {
        self.0.recv().await.unwrap_or(Event::Stop("closed"))
    }

    fn env(&self, key: &str) -> Option<String> {
        (self.1)(key)
    }
}

/// Polls `condition` every 10 ms of virtual time for up to `seconds`; true once it holds.
pub async fn eventually(seconds: u64, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        if condition() {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// Helpers for the `--once` tests of waf, adversarial, resilience, doctor and the like, run
// in-process: doctor, `--dry-run`'s plan, and another token than the stand-in's.
impl Here {
    /// `text` read as `config` reads it, with `token` in `CLOUDFLARE_API_TOKEN`.
    pub fn config_token(&self, text: &str, token: &str) -> flaredns::config::Config {
        let path = self.world.write_config(text);
        flaredns::config::parse(&path, text, &self.env(token))
            .unwrap_or_else(|error| panic!("config: {error}\n{text}"))
    }

    /// The environment the end-to-end harness gives the binary, and nothing of this
    /// process's: `token`, the scratch state directory and home, and `world.env`.
    fn env(&self, token: &str) -> impl Fn(&str) -> Option<String> + 'static {
        let state = self.world.dir.path().join("state").display().to_string();
        let home = self.world.dir.path().display().to_string();
        let token = token.to_string();
        let env = self.world.env.clone();
        move |key| match key {
            "CLOUDFLARE_API_TOKEN" => Some(token.clone()),
            "STATE_DIRECTORY" => Some(state.clone()),
            "HOME" => Some(home.clone()),
            _ => env
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value.clone()),
        }
    }

    /// `once` with a config already read (e.g. by `config_token`).
    pub async fn once_config(&self, config: flaredns::config::Config) -> u8 {
        self.world.standin.clear_requests();
        flaredns::run_once(config, false)
            .await
            .unwrap_or_else(|error| panic!("--once: {error}"))
            .0
    }

    /// `flaredns doctor` in-process (`flaredns::doctor::run`): its exit code and the report
    /// as the binary prints it (src/lib.rs's Doctor branch).
    pub async fn doctor(&self, config: flaredns::config::Config) -> (u8, String) {
        self.world.standin.clear_requests();
        let report = flaredns::doctor::run(config)
            .await
            .unwrap_or_else(|error| panic!("doctor: {error}"));
        let code = if report.problems > 0 {
            flaredns::error::EXIT_FAILED
        } else {
            flaredns::error::EXIT_OK
        };
        (code, report.render())
    }

    /// `flaredns --once --dry-run` in-process: its exit code and the plan it prints.
    pub async fn dry_run(&self, text: &str) -> (u8, String) {
        self.world.standin.clear_requests();
        flaredns::run_once(self.config(text), true)
            .await
            .unwrap_or_else(|error| panic!("--once --dry-run: {error}"))
    }
}

// A cycle held open: for what must happen when something comes while a cycle runs.
impl Here {
    /// home.example.com out of date, and the first listing of records answered never: the
    /// first cycle stays under way until its `[daemon].cycle_timeout`.
    pub fn hang_the_first_listing(&self) {
        let standin = self.standin();
        standin.add_record(
            "example.com",
            crate::harness::Record::new("home.example.com", "A", crate::harness::OLD_IPV4),
        );
        standin.inject(crate::harness::Fault::hang().path("/dns_records").times(1));
    }

    /// Waits (virtual seconds) until the hung listing was asked for: the cycle is under way.
    pub async fn listing_asked(&self) -> bool {
        eventually(5, || {
            self.standin()
                .api_requests()
                .iter()
                .any(|request| request.path.contains("/dns_records"))
        })
        .await
    }
}

// What the stand-in saw of the daemon.
impl Here {
    /// A world whose home.example.com is in sync (at the stand-in's public address).
    pub async fn in_sync() -> Here {
        let here = Here::new().await;
        here.standin().add_record(
            "example.com",
            crate::harness::Record::new("home.example.com", "A", crate::harness::PUBLIC_IPV4),
        );
        here
    }

    /// When the stand-in saw each detection (one a cycle, for a config that detects through
    /// its trace echo), in virtual seconds since it started.
    pub fn cycle_starts(&self) -> Vec<f64> {
        self.standin()
            .requests()
            .iter()
            .filter(|request| request.path == "/cdn-cgi/trace")
            .map(|request| request.at)
            .collect()
    }
}
