//! Log set-up: tracing to stderr, without colour unless stderr is a terminal, and without
//! timestamps under systemd (journald adds its own). `RUST_LOG` takes a level or
//! `target=level` directives, but third-party crates are held at `warn` whatever it says, so
//! that no HTTP library can ever print a request header (and so the token) at trace level.
//! The filter is tracing-subscriber's `Targets`, not `EnvFilter`: no regex engine in the binary.
//! Under journald (`JOURNAL_STREAM` set) every line starts with its sd-daemon priority
//! (`<3>` error, `<4>` warning, `<6>` info, `<7>` debug), so `journalctl -p warning` shows
//! exactly the warnings and errors instead of everything at the stream's default level.

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
/// (a level or `target=level` directives) wins for flaredns's own lines. Every other target is
/// held at `warn` at most, whatever `RUST_LOG` says and however specific its target
/// (`hyper_util::client=trace` included).
pub fn filter(verbosity: i8, rust_log: Option<&str>) -> Targets {
    let mut own = match verbosity {
        i8::MIN..=-1 => LevelFilter::ERROR,
        0 => LevelFilter::INFO,
        1 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let mut directives: Vec<(String, LevelFilter)> = Vec::new();
    for directive in rust_log.unwrap_or_default().split(',') {
        let directive = directive.trim();
        if directive.is_empty() {
            continue;
        }
        match directive.split_once('=') {
            None => {
                if let Ok(level) = LevelFilter::from_str(directive) {
                    own = level;
                }
            }
            Some((target, level)) => {
                if let Ok(level) = LevelFilter::from_str(level.trim()) {
                    directives.push((target.trim().to_string(), level));
                }
            }
        }
    }
    let mut targets = Targets::new()
        .with_default(own.min(LevelFilter::WARN))
        .with_target("flaredns", own);
    for (target, level) in directives {
        let ours = target == "flaredns" || target.starts_with("flaredns");
        let level = if ours {
            level
        } else {
            level.min(LevelFilter::WARN)
        };
        targets = targets.with_target(target, level);
    }
    for name in QUIET_CRATES {
        let allowed = level_for(&targets, name).min(LevelFilter::WARN);
        targets = targets.with_target(*name, allowed);
    }
    targets
}

/// Text from outside (a server's message, a provider's answer) made safe for one log line:
/// line breaks and other control characters are escaped, so a hostile server cannot forge a
/// log line, and the text is cut at 300 characters.
pub fn one_line(text: &str) -> String {
    const MAX_CHARS: usize = 300;
    let mut out = String::new();
    for (count, character) in text.chars().enumerate() {
        if count == MAX_CHARS {
            out.push('…');
            break;
        }
        // Control characters, and the ones that reorder or break a line on a terminal
        // (bidirectional overrides, line and paragraph separators), are shown escaped.
        if character.is_control()
            || matches!(character, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        {
            out.extend(character.escape_default());
        } else {
            out.push(character);
        }
    }
    out
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
        // No colour: the ansi feature is left out to keep the binary under its 4 MiB budget.
        .with_ansi(false)
        .with_target(false);
    let registry = tracing_subscriber::registry().with(filter(verbosity, rust_log.as_deref()));
    // A second init (tests, the demo) is harmless, so its error is ignored.
    if under_journald {
        let format = tracing_subscriber::fmt::format()
            .without_time()
            .with_ansi(false)
            .with_target(false);
        let _ = registry
            .with(layer.event_format(Journald(format)))
            .try_init();
    } else {
        let _ = registry.with(layer).try_init();
    }
}

/// The sd-daemon prefix of a level (syslog's numbers: trace goes as debug).
pub fn priority(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "<3>",
        Level::WARN => "<4>",
        Level::INFO => "<6>",
        Level::DEBUG | Level::TRACE => "<7>",
    }
}

/// An event format that starts each line of an event with its priority.
struct Journald<F>(F);

impl<S, N, F> tracing_subscriber::fmt::FormatEvent<S, N> for Journald<F>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
    F: tracing_subscriber::fmt::FormatEvent<S, N>,
{
    fn format_event(
        &self,
        context: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut text = String::new();
        self.0.format_event(
            context,
            tracing_subscriber::fmt::format::Writer::new(&mut text),
            event,
        )?;
        // Each line: journald reads a prefix per line, and a line without one gets the
        // stream's default priority (info), which would hide a warning's second line.
        let prefix = priority(event.metadata().level());
        for line in text.lines() {
            writeln!(writer, "{prefix}{line}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_crates_never_log_below_warn() {
        for rust_log in [
            Some("trace"),
            Some("hyper=trace,reqwest=trace,trace"),
            Some("hyper_util::client=trace,trace"),
            Some("hyper_util::client::legacy=trace,h2::codec=trace,trace"),
            None,
        ] {
            let targets = filter(2, rust_log);
            for name in QUIET_CRATES.iter().chain(&[
                "hyper_util::client",
                "hyper_util::client::legacy",
                "h2::codec",
            ]) {
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

#[cfg(test)]
mod one_line_tests {
    use super::one_line;

    #[test]
    fn server_text_cannot_forge_a_log_line() {
        assert_eq!(
            one_line("bad\nERROR forged line\r\u{1b}[31m"),
            "bad\\nERROR forged line\\r\\u{1b}[31m"
        );
        assert_eq!(one_line(&"x".repeat(1000)).chars().count(), 301);
    }
}
