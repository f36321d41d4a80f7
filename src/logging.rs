//! Log set-up: tracing to stderr, without colour unless stderr is a terminal, and without
//! timestamps under systemd (journald adds its own). Third-party crates are held at `warn`
//! whatever `RUST_LOG` says, so that no HTTP library can ever print a request header (and so
//! the token) at trace level.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

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

/// The filter for a verbosity: -q errors, default info, -v debug, -vv trace; `RUST_LOG` wins
/// for flaredns's own lines.
pub fn filter(verbosity: i8) -> EnvFilter {
    let level = match verbosity {
        i8::MIN..=-1 => "error",
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let base = std::env::var("RUST_LOG")
        .ok()
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| level.to_string());
    let mut filter = EnvFilter::try_new(&base).unwrap_or_else(|_| EnvFilter::new(level));
    for name in QUIET_CRATES {
        if let Ok(directive) = format!("{name}=warn").parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// Installs the global subscriber. Call once, from `main` (or the demo).
pub fn init(verbosity: i8) {
    let under_journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(verbosity))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    // A second init (tests, the demo) is harmless, so its error is ignored.
    if under_journald {
        let _ = builder.without_time().try_init();
    } else {
        let _ = builder.try_init();
    }
}
