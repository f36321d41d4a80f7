//! flaredns keeps Cloudflare A/AAAA records equal to this host's public address.
//!
//! One cycle is: `detect` the address → ask authoritative DNS (`observe`) whether the records
//! already answer it, so an unchanged address costs no API request → for the rest, list the
//! zone through the API and `plan` (a pure function) → `apply` the plan as one batch per zone.
//! `cycle` runs that pipeline; `daemon` repeats it; `doctor` explains what is wrong.
//!
//! Modules, in reading order (docs/ARCHITECTURE.md is the full map):
//! - `model`: the vocabulary (names, families, desired and observed records, zones).
//! - `plan`: desired vs observed → create / update / replace-cname / nothing. Start here.
//! - `reconcile`: what the remembered records allow: "in sync" or "list first", never a write.
//! - `waf`, `prefix`: the other pure planners (WAF list items; a LAN host's address).
//! - `config`: the TOML file and the environment, validated once into `Config`.
//! - `secret`: the token and secret URLs, which cannot be printed.
//! - `detect`: providers, the filter that refuses every non-global address, interfaces,
//!   the neighbour table and the netlink watch.
//! - `observe`, `dns`: the authoritative DNS check, one question over UDP (hickory-proto).
//! - `cloudflare`: the typed API client and the request budget every request passes.
//! - `zones`: which zone holds a name; the zone-id cache on disk.
//! - `apply`: a zone's actions as batches, bisected on a rejection.
//! - `cycle`: the engine and one pass (detect → desired → observe → list → plan → apply).
//! - `publish`: after a cycle, its typed facts (`CycleFacts`, built once), the status,
//!   metrics and notifications (`notify`, `metrics`), all read from those facts.
//! - `daemon`, `doctor`, `status`, `import`: what the binary does besides `--once`.
//! - `state`, `files`, `clock`: what is remembered, how files are read and written, time.
//! - `http`, `logging`, `systemd`, `error`, `cli`, `residency`: the edges.

pub mod apply;
/// The command line, as the SPEC defines it: parsing only, `run` decides what to do. The same
/// definition generates the man page and the completions (build.rs), so they cannot drift.
pub mod cli;
pub mod clock;
pub mod cloudflare;
pub mod config;
pub mod cycle;
pub mod daemon;
pub mod detect;
pub mod dns;
pub mod doctor;
pub mod error;
pub mod files;
pub mod http;
pub mod import;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod observe;
pub mod plan;
pub mod prefix;
pub mod publish;
pub mod reconcile;
pub mod residency;
pub mod secret;
pub mod state;
pub mod status;
pub mod systemd;
pub mod waf;
pub mod zones;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod invariants;

use cli::{Cli, Command};
use error::{Error, EXIT_CONFIG, EXIT_FAILED, EXIT_OK};

/// Runs what the command line asks for and returns the process exit code. Plans and doctor
/// reports go to stdout; everything else is logged to stderr.
pub async fn run(cli: &Cli) -> u8 {
    // Completions need no config.
    if let Some(Command::Completions { shell }) = &cli.command {
        stdout(completions(*shell));
        return EXIT_OK;
    }
    // Import reads another tool's file, not flaredns's config, and needs no token.
    if let Some(Command::Import { source, file }) = &cli.command {
        return import_config(*source, file.as_deref());
    }
    // `status` reads the state directory only: it needs no token.
    if let Some(Command::Status { json, check }) = &cli.command {
        return match config::status_view(cli.config.as_deref(), &config::process_env) {
            Ok(view) if *check => check_status(&view),
            Ok(view) => show_status(view.state_dir.as_deref(), *json),
            Err(error) => {
                tracing::error!("{error}");
                EXIT_CONFIG
            }
        };
    }
    let origin = config::locate(cli.config.as_deref(), &config::process_env);
    let config = match config::load_from(&origin, &config::process_env) {
        Ok(config) => config,
        Err(error) => {
            tracing::error!("{error}");
            return EXIT_CONFIG;
        }
    };
    for warning in config
        .warnings
        .iter()
        .chain(&config::unknown_process_variables())
    {
        tracing::warn!("{warning}");
    }
    match run_with(cli, config).await {
        Ok(code) => code,
        Err(error) => {
            tracing::error!("{error}");
            error.exit_code()
        }
    }
}

/// `flaredns import`: the config on stdout, where the token goes on stderr; exit 2 when the
/// input cannot be read.
fn import_config(source: cli::ImportSource, file: Option<&std::path::Path>) -> u8 {
    let tool = match source {
        cli::ImportSource::Ddclient => import::Tool::Ddclient,
        cli::ImportSource::Inadyn => import::Tool::Inadyn,
        cli::ImportSource::Favonia => import::Tool::Favonia,
    };
    // `vars_os`: `vars` panics on a variable that is not UTF-8; such a one is skipped.
    let env_vars = || {
        std::env::vars_os()
            .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
            .collect::<Vec<_>>()
    };
    match import::run(tool, file, &env_vars) {
        Ok(output) => {
            stdout(&output.config);
            for message in &output.messages {
                tracing::warn!("{message}");
            }
            EXIT_OK
        }
        Err(error) => {
            tracing::error!("{error}");
            EXIT_CONFIG
        }
    }
}

/// `flaredns status`: prints the last cycle; exit 0 when it succeeded.
fn show_status(dir: Option<&std::path::Path>, json: bool) -> u8 {
    match status::read(dir) {
        Ok(last) => {
            if json {
                stdout(&format!("{}\n", status::json(&last)));
            } else {
                stdout(&status::render(&last, crate::clock::wall_now()));
            }
            if last.success {
                EXIT_OK
            } else {
                EXIT_FAILED
            }
        }
        Err(message) => {
            tracing::error!("{message}");
            EXIT_FAILED
        }
    }
}

/// `flaredns status --check`: one line, exit 0 while a cycle succeeded within two intervals
/// (the rule of `/healthz`, `metrics::health`), else 1.
fn check_status(view: &config::StatusView) -> u8 {
    let verdict = match status::read(view.state_dir.as_deref()) {
        Ok(last) => metrics::health(
            &metrics::Snapshot {
                last_success_at: last.last_success_at,
                interval: view.interval,
                last_error: last.last_error,
                ..metrics::Snapshot::default()
            },
            state::unix_now(),
        ),
        Err(error) => metrics::Health::Unknown(error),
    };
    stdout(&verdict.to_string());
    if verdict.is_healthy() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// Takes the state directory's run lock. Another run holding it is an error (exit 1); a
/// state directory that cannot hold a lock (missing and not creatable, writable by others)
/// is a warning, and the run goes on: it only costs the memory between runs.
async fn run_lock(config: &config::Config) -> Result<Option<state::RunLock>, Error> {
    let Some(dir) = &config.state_dir else {
        return Ok(None);
    };
    match state::RunLock::acquire(dir, state::LOCK_WAIT).await {
        Ok(lock) => Ok(Some(lock)),
        Err(busy @ state::LockError::Busy { .. }) => Err(busy.into()),
        Err(state::LockError::File(error)) => {
            tracing::warn!("running without the state directory's lock: {error}");
            Ok(None)
        }
    }
}

/// The completion script for a shell: generated by build.rs from the clap definition and
/// embedded, so the binary carries no generator.
pub fn completions(shell: cli::Shell) -> &'static str {
    match shell {
        cli::Shell::Bash => include_str!(concat!(env!("OUT_DIR"), "/flaredns.bash")),
        cli::Shell::Zsh => include_str!(concat!(env!("OUT_DIR"), "/_flaredns")),
        cli::Shell::Fish => include_str!(concat!(env!("OUT_DIR"), "/flaredns.fish")),
    }
}

async fn run_with(cli: &Cli, config: config::Config) -> Result<u8, Error> {
    match &cli.command {
        Some(Command::CheckConfig) => {
            stdout(&config.to_string());
            Ok(EXIT_OK)
        }
        Some(Command::Status { json, .. }) => Ok(show_status(config.state_dir.as_deref(), *json)),
        Some(Command::Completions { shell }) => {
            stdout(completions(*shell));
            Ok(EXIT_OK)
        }
        Some(Command::Import { source, file }) => Ok(import_config(*source, file.as_deref())),
        Some(Command::Doctor { json }) => {
            let report = doctor::run(config).await?;
            if *json {
                let document = serde_json::to_string_pretty(&report)
                    .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
                stdout(&format!("{document}\n"));
            } else {
                stdout(&report.render());
            }
            Ok(if report.problems > 0 {
                EXIT_FAILED
            } else {
                EXIT_OK
            })
        }
        None if cli.once => {
            let (code, plan) = run_once(config, cli.dry_run).await?;
            stdout(&plan);
            Ok(code)
        }
        None => run_daemon(config, cli.dry_run, daemon::Signals::install).await,
    }
}

/// `flaredns --once`: one cycle under the state directory's lock, its notifications
/// delivered (bounded). Returns the exit code of its result and what goes to stdout (the plan
/// on a dry run, else nothing). Tests run it in-process too.
pub async fn run_once(config: config::Config, dry_run: bool) -> Result<(u8, String), Error> {
    // One run at a time per state directory: a second waits, bounded.
    let _lock = run_lock(&config).await?;
    let mut publisher = publish::Publisher::new(&config);
    let mut engine = cycle::Engine::new(config)?;
    residency::release();
    let started = tokio::time::Instant::now();
    let report = engine.run_cycle(dry_run).await;
    residency::release();
    cycle::render::log(&report);
    publisher.after_cycle(&report, started.elapsed(), None);
    publisher.settle().await;
    let plan = if dry_run {
        cycle::render::plan(&report)
    } else {
        String::new()
    };
    let code = if report.success() {
        EXIT_OK
    } else {
        EXIT_FAILED
    };
    Ok((code, plan))
}

/// The daemon: the state directory's lock, the metrics server when configured, and the loop
/// until its events say stop. The binary passes the process's signals; tests on paused time
/// pass a channel. They are set up once the lock is held and the engine built, not before: a
/// handler installed earlier would swallow a SIGTERM sent while the lock is awaited.
pub async fn run_daemon<E: daemon::Events>(
    config: config::Config,
    dry_run: bool,
    events: impl FnOnce() -> E,
) -> Result<u8, Error> {
    let _lock = run_lock(&config).await?;
    let mut publisher = publish::Publisher::new(&config);
    if let Some(address) = config.metrics.listen {
        let bound = metrics::server::start(address, publisher.share())
            .map_err(|source| Error::Metrics { address, source })?;
        tracing::info!(
            "serving /metrics, /healthz, the page (/) and /status.json on http://{bound}"
        );
    }
    let mut engine = cycle::Engine::new(config)?;
    Ok(daemon::run(&mut engine, &mut publisher, dry_run, events()).await)
}

/// Writes to stdout. A reader that went away (`flaredns import … | head -1`) is not an
/// error worth a panic: the rest is dropped.
pub fn stdout(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
