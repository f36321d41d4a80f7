//! Log set-up: tracing to stderr, without colour unless stderr is a terminal, and without
//! timestamps under systemd (journald adds its own). `RUST_LOG` takes a level or
//! `target=level` directives, but third-party crates are held at `warn` whatever it says, so
//! that no HTTP library can ever print a request header (and so the token) at trace level.
//! The filter is tracing-subscriber's `Targets`, not `EnvFilter`: no regex engine in the binary.

use std::io::IsTerminal;
use std::str::FromStr;

use tracing::level_filters::LevelFilter;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Crates that could log request details at debug or trace level.
const QUIET_CRATES: &[&str] = &[
    "hyper",
    "hyper_util",
    "reqwest",
    "h2",
    "rustls",
    "hickory_proto",
    "hickory_resolver",
    "hickory_net",
    "tower",
];

/// The filter for a verbosity: -q errors, default info, -v debug, -vv trace; `RUST_LOG`
/// (a level or directives) wins for flaredns's own lines.
pub fn filter(verbosity: i8, rust_log: Option<&str>) -> Targets {
    let level = match verbosity {
        i8::MIN..=-1 => LevelFilter::ERROR,
        0 => LevelFilter::INFO,
        1 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let mut targets = rust_log
        .filter(|value| !value.trim().is_empty())
        .and_then(|value| Targets::from_str(value).ok())
        .unwrap_or_else(|| Targets::new().with_default(level));
    for name in QUIET_CRATES {
        let allowed = level_for(&targets, name).min(LevelFilter::WARN);
        targets = targets.with_target(*name, allowed);
    }
    targets
}

/// The most verbose level `targets` lets through for `target`.
pub fn level_for(targets: &Targets, target: &str) -> LevelFilter {
    [
        Level::TRACE,
        Level::DEBUG,
        Level::INFO,
        Level::WARN,
        Level::ERROR,
    ]
    .into_iter()
    .find(|level| targets.would_enable(target, level))
    .map_or(LevelFilter::OFF, LevelFilter::from_level)
}

/// Installs the global subscriber. Call once, from `main` (or the demo).
pub fn init(verbosity: i8) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let under_journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let registry = tracing_subscriber::registry().with(filter(verbosity, rust_log.as_deref()));
    // A second init (tests, the demo) is harmless, so its error is ignored.
    if under_journald {
        let _ = registry.with(layer.without_time()).try_init();
    } else {
        let _ = registry.with(layer).try_init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_crates_never_log_below_warn() {
        for rust_log in [Some("trace"), Some("hyper=trace,reqwest=trace,trace"), None] {
            let targets = filter(2, rust_log);
            for name in QUIET_CRATES {
                assert!(
                    level_for(&targets, name) <= LevelFilter::WARN,
                    "{name} with {rust_log:?}"
                );
                assert!(
                    !targets.would_enable(name, &Level::DEBUG),
                    "{name} with {rust_log:?}"
                );
            }
            assert_eq!(level_for(&targets, "flaredns"), LevelFilter::TRACE);
        }
        assert_eq!(level_for(&filter(-1, None), "flaredns"), LevelFilter::ERROR);
        assert_eq!(
            level_for(&filter(0, Some("flaredns=debug")), "flaredns"),
            LevelFilter::DEBUG
        );
    }
}
