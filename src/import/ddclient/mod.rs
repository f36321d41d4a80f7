//! ddclient.conf → `Imported`. Reads the format as ddclient 3.x does: `#` comments, `\`
//! continuation lines, `key=value` assignments separated by commas or spaces (values may be
//! quoted or backslash-escaped), then `host[,host…] [login [password]]`. A line of only
//! assignments sets globals for the hosts after it. Passwords are read first and may hold `#`,
//! as in ddclient. Only `protocol=cloudflare` hosts become records; the rest are comments.

mod detection;
mod read;
#[cfg(test)]
mod tests;

use super::emit::shown;
use super::imported::{Imported, Record, Secret, Section, TokenOrigin, Ttl};
use super::ParseError;
use crate::model::{DomainName, Family};

use detection::detection;
use read::{interval_seconds, read_entries, HostEntry, Settings};

/// Keys the mapping reads; every other key becomes a note.
pub(super) const MAPPED: &[&str] = &[
    "protocol",
    "zone",
    "ttl",
    "login",
    "password",
    "daemon",
    "use",
    "usev4",
    "usev6",
    "web",
    "webv4",
    "webv6",
    "web-skip",
    "webv4-skip",
    "webv6-skip",
    "if",
    "ifv4",
    "ifv6",
    "ip",
    "ipv4",
    "ipv6",
    "cmd",
    "cmdv4",
    "cmdv6",
    "host",
    "ssl",
    "server",
    "timeout",
];

/// Parses a ddclient.conf.
pub fn parse(text: &str) -> Result<Imported, ParseError> {
    let mut imported = Imported::default();
    let read::Parsed {
        entries,
        globals,
        seen,
    } = read_entries(text, &mut imported)?;
    for (key, line) in &seen {
        if !MAPPED.contains(&key.as_str()) {
            imported.note(
                Section::General,
                format!("`{key}` (line {line}): {}", unmapped_reason(key)),
            );
        }
    }
    let daemon = globals
        .get("daemon")
        .or_else(|| entries.iter().find_map(|e| e.settings.get("daemon")));
    if let Some(daemon) = daemon {
        match interval_seconds(&daemon.value) {
            Some(0) => imported.note(Section::Daemon, format!("daemon=0 (line {}): ddclient ran once; run `flaredns --once` from a timer (the flaredns-once.timer unit) instead", daemon.line)),
            Some(seconds) if seconds <= 7 * 24 * 3600 => imported.interval = Some(std::time::Duration::from_secs(seconds)),
            _ => imported.note(Section::Daemon, format!("daemon={} (line {}) is not an interval flaredns takes (1s to 7 days)", shown(&daemon.value), daemon.line)),
        }
    }
    let mut said = std::collections::HashSet::new();
    for entry in &entries {
        host_record(entry, &mut imported, &mut said);
    }
    if imported.ipv4.is_empty() && imported.ipv6.is_empty() && !imported.records.is_empty() {
        imported.provider(Family::V4, "cloudflare.trace");
    }
    Ok(imported)
}

/// Why a key ddclient knows has no place in flaredns's config.
fn unmapped_reason(key: &str) -> &'static str {
    match key {
        "syslog" | "quiet" | "verbose" | "debug" | "facility" | "priority" => "flaredns logs to stderr (the journal under systemd); -v and -q set the level",
        "mail" | "mail-failure" | "mail-from" => "flaredns sends no mail; [notify] has webhooks, healthchecks, exec hooks and service URLs",
        "pid" | "foreground" => "flaredns needs no PID file; systemd tracks the service",
        "cache" => "flaredns keeps what it remembers in its state directory",
        "postscript" => "flaredns's [notify] exec hooks get the event in FLAREDNS_* variables, not the address as an argument; set exec by hand if you need one",
        "max-interval" | "min-interval" | "min-error-interval" | "force" | "retry" => "flaredns asks the zone's authoritative DNS every interval instead of forcing updates, and backs off on errors by itself",
        "wildcard" | "mx" | "backupmx" | "static" | "custom" => "not a Cloudflare setting; a wildcard is its own [[records]] entry (*.example.com)",
        "proxy" => "not carried over: flaredns has no proxy setting",
        "if-skip" | "fw-banlocal" => "deprecated in ddclient, and it does nothing",
        "exec" => "flaredns does not run ddclient's commands",
        _ if key.starts_with("fw") || key.contains("password") => "a router's status page is not read by flaredns; it asks cloudflare.trace (or use iface:NAME on the router itself)",
        _ => "not carried over (no flaredns equivalent)",
    }
}

/// One host → a record (or a note saying why not), plus its detection.
fn host_record(
    entry: &HostEntry,
    imported: &mut Imported,
    said: &mut std::collections::HashSet<String>,
) {
    let mut say = |imported: &mut Imported, section: Section, text: String| {
        if said.insert(text.clone()) {
            imported.note(section, text);
        }
    };
    let Some(name) = cloudflare_name(entry, imported, &mut say) else {
        return;
    };
    connection(&entry.settings, imported, &mut say);
    let families = detection(&entry.settings, imported, &mut say);
    if families.is_empty() {
        say(
            imported,
            Section::Records,
            format!(
                "{name} (line {}) skipped: both its IPv4 and IPv6 detection are disabled",
                entry.line
            ),
        );
        return;
    }
    let mut record = Record::new(name.clone(), families);
    record_zone(&mut record, &name, &entry.settings);
    record_ttl(&mut record, &entry.settings);
    record_token(&mut record, &name, &entry.settings, imported);
    imported.add_record(record);
}

/// The host's name when it is a `protocol=cloudflare` host with a valid name; else a note.
fn cloudflare_name(
    entry: &HostEntry,
    imported: &mut Imported,
    say: &mut impl FnMut(&mut Imported, Section, String),
) -> Option<DomainName> {
    let protocol = entry
        .settings
        .get("protocol")
        .map(|s| s.value.as_str())
        .unwrap_or("dyndns2");
    if protocol != "cloudflare" {
        say(
            imported,
            Section::Records,
            format!(
                "`{}` (line {}) uses protocol={}, not Cloudflare: skipped",
                shown(&entry.host),
                entry.line,
                shown(protocol)
            ),
        );
        return None;
    }
    match DomainName::parse(&entry.host) {
        Ok(name) => Some(name),
        Err(problem) => {
            say(
                imported,
                Section::Records,
                format!(
                    "`{}` (line {}) skipped: invalid name: {problem}",
                    shown(&entry.host),
                    entry.line
                ),
            );
            None
        }
    }
}

/// How ddclient connects: `ssl` and `server` (notes only: flaredns talks to
/// api.cloudflare.com over HTTPS) and `timeout` (flaredns's detection timeout).
fn connection(
    settings: &Settings,
    imported: &mut Imported,
    say: &mut impl FnMut(&mut Imported, Section, String),
) {
    if let Some(ssl) = settings.get("ssl") {
        say(
            imported,
            Section::General,
            format!(
                "ssl={} (line {}): implicit, flaredns talks to Cloudflare over HTTPS only",
                shown(&ssl.value),
                ssl.line
            ),
        );
    }
    if let Some(server) = settings.get("server") {
        let value = server.value.trim_end_matches('/');
        if value != "api.cloudflare.com/client/v4" && value != "api.cloudflare.com" {
            say(
                imported,
                Section::General,
                format!(
                    "server={} (line {}) is not carried over: flaredns talks to api.cloudflare.com",
                    shown(value),
                    server.line
                ),
            );
        }
    }
    if let Some(timeout) = settings.get("timeout") {
        match interval_seconds(&timeout.value) {
            Some(seconds @ 1..=300) => {
                imported.detect_timeout = Some(std::time::Duration::from_secs(seconds))
            }
            _ => say(
                imported,
                Section::Detect,
                format!(
                    "timeout={} (line {}) is not 1 to 300 seconds; flaredns's default (5s) stays",
                    shown(&timeout.value),
                    timeout.line
                ),
            ),
        }
    }
}

/// `zone=`, when it holds the name; else a note on the record.
fn record_zone(record: &mut Record, name: &DomainName, settings: &Settings) {
    let Some(zone) = settings.get("zone") else {
        record
            .notes
            .push("no zone= given: flaredns finds the zone by the longest suffix".to_string());
        return;
    };
    match DomainName::parse(&zone.value) {
        Ok(zone) if name.is_within(zone.as_str()) => record.zone = Some(zone),
        Ok(zone) => record.notes.push(format!("zone={zone} (line {}) does not hold {name}; the zone is found by the longest suffix instead", zone_line(settings))),
        Err(problem) => record.notes.push(format!("zone (line {}) is not a name ({problem}); the zone is found by the longest suffix instead", zone_line(settings))),
    }
}

/// `ttl=`, when it is one Cloudflare takes; else a note on the record.
fn record_ttl(record: &mut Record, settings: &Settings) {
    let Some(ttl) = settings.get("ttl") else {
        return;
    };
    match interval_seconds(&ttl.value)
        .ok_or_else(|| format!("ttl={} is not a number of seconds", shown(&ttl.value)))
        .and_then(|seconds| Ttl::from_seconds(seconds).map_err(|error| error.to_string()))
    {
        Ok(value) => record.ttl = Some(value),
        Err(problem) => record.notes.push(format!(
            "line {}: {problem}; the record's TTL is kept as it is",
            ttl.line
        )),
    }
}

/// `password=` → the record's token: a Global API Key when `login=` is an e-mail address.
fn record_token(
    record: &mut Record,
    name: &DomainName,
    settings: &Settings,
    imported: &mut Imported,
) {
    let Some(password) = settings.get("password").filter(|p| !p.value.is_empty()) else {
        record.notes.push(format!(
            "{name} has no password= in ddclient; it uses the main token"
        ));
        return;
    };
    let login = settings
        .get("login")
        .map(|s| s.value.as_str())
        .unwrap_or("token");
    let secret = Secret::new(password.value.trim_end_matches(','));
    let origin = if login.contains('@') {
        TokenOrigin::GlobalKey {
            line: password.line,
            secret,
        }
    } else {
        TokenOrigin::Line {
            line: password.line,
            key: "password".to_string(),
            secret,
        }
    };
    record.token = Some(imported.token(origin));
}

fn zone_line(settings: &Settings) -> usize {
    settings.get("zone").map(|s| s.line).unwrap_or(0)
}
