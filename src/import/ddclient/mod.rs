//! ddclient.conf → `Imported`. Reads the format as ddclient 3.x does: `#` comments, `\`
//! continuation lines, `key=value` assignments separated by commas or spaces (values may be
//! quoted or backslash-escaped), then `host[,host…] [login [password]]`. A line of only
//! assignments sets globals for the hosts after it. Passwords are read first and may hold `#`,
//! as in ddclient. Only `protocol=cloudflare` hosts become records; the rest are comments.

mod read;
#[cfg(test)]
mod tests;

use std::net::IpAddr;

use super::emit::shown;
use super::imported::{Imported, Record, Secret, Section, TokenOrigin, Ttl};
use super::ParseError;
use crate::detect::Provider;
use crate::model::{DomainName, Family};

use read::{interval_seconds, read_entries, HostEntry, Settings};

/// ddclient's built-in check-IP services (`web=NAME`), which answer in their own formats.
const BUILTIN_WEB: &[&str] = &[
    "dyndns",
    "freedns",
    "googledomains",
    "he",
    "ip4only.me",
    "ip6only.me",
    "ipify-ipv4",
    "ipify-ipv6",
    "loopia",
    "myonlineportal",
    "noip-ipv4",
    "noip-ipv6",
    "nsupdate.info-ipv4",
    "nsupdate.info-ipv6",
    "zoneedit",
];

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
    let get = |key: &str| entry.settings.get(key);
    let mut say = |imported: &mut Imported, section: Section, text: String| {
        if said.insert(text.clone()) {
            imported.note(section, text);
        }
    };
    let protocol = get("protocol")
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
        return;
    }
    let name = match DomainName::parse(&entry.host) {
        Ok(name) => name,
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
            return;
        }
    };
    if let Some(ssl) = get("ssl") {
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
    if let Some(server) = get("server") {
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
    if let Some(timeout) = get("timeout") {
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
    if let Some(zone) = get("zone") {
        match DomainName::parse(&zone.value) {
            Ok(zone) if name.is_within(zone.as_str()) => record.zone = Some(zone),
            Ok(zone) => record.notes.push(format!("zone={zone} (line {}) does not hold {name}; the zone is found by the longest suffix instead", zone_line(&entry.settings))),
            Err(problem) => record.notes.push(format!("zone (line {}) is not a name ({problem}); the zone is found by the longest suffix instead", zone_line(&entry.settings))),
        }
    } else {
        record
            .notes
            .push("no zone= given: flaredns finds the zone by the longest suffix".to_string());
    }
    if let Some(ttl) = get("ttl") {
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
    if let Some(password) = get("password").filter(|p| !p.value.is_empty()) {
        let login = get("login").map(|s| s.value.as_str()).unwrap_or("token");
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
    } else {
        record.notes.push(format!(
            "{name} has no password= in ddclient; it uses the main token"
        ));
    }
    imported.add_record(record);
}

fn zone_line(settings: &Settings) -> usize {
    settings.get("zone").map(|s| s.line).unwrap_or(0)
}

/// The families a host is updated for, adding each family's provider to `[detect]`.
fn detection(
    settings: &Settings,
    imported: &mut Imported,
    say: &mut impl FnMut(&mut Imported, Section, String),
) -> Vec<Family> {
    let get = |key: &str| settings.get(key);
    // ddclient infers the strategy from the key that is set when `use…` is not.
    let infer = |keys: &[(&str, &str)]| {
        keys.iter()
            .filter(|(key, _)| get(key).is_some_and(|s| !is_flag(&s.value)))
            .map(|(_, strategy)| strategy.to_string())
            .next_back()
    };
    let old_ipv6_flag = get("ipv6").is_some_and(|s| is_true(&s.value));
    let legacy = get("use")
        .map(|s| s.value.clone())
        .or_else(|| infer(&[("web", "web"), ("if", "if"), ("ip", "ip")]));
    let v4 = get("usev4")
        .map(|s| s.value.clone())
        .or_else(|| infer(&[("webv4", "webv4"), ("ifv4", "ifv4"), ("ipv4", "ipv4")]))
        .or_else(|| legacy.clone().filter(|_| !old_ipv6_flag));
    let v6 = get("usev6")
        .map(|s| s.value.clone())
        .or_else(|| {
            infer(&[
                ("webv6", "webv6"),
                ("ifv6", "ifv6"),
                ("ipv6", "ipv6"),
                ("cmdv6", "cmdv6"),
            ])
        })
        .or_else(|| legacy.clone().filter(|_| old_ipv6_flag));
    let mut families = Vec::new();
    let v4 = match (&v4, &v6) {
        (None, None) => {
            say(
                imported,
                Section::Detect,
                "no use=/usev4= in ddclient: flaredns asks cloudflare.trace for the IPv4 address"
                    .to_string(),
            );
            Some("default".to_string())
        }
        _ => v4,
    };
    for (family, strategy) in [(Family::V4, v4), (Family::V6, v6)] {
        let Some(strategy) = strategy else { continue };
        if strategy == "disabled" || strategy == "no" {
            continue;
        }
        let provider = provider_of(&strategy, family, settings, imported, say);
        imported.provider(family, &provider);
        families.push(family);
    }
    families
}

fn is_flag(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "yes" | "no" | "true" | "false" | "1" | "0" | "on" | "off"
    )
}

fn is_true(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "yes" | "true" | "1" | "on"
    )
}

/// One ddclient strategy (`web`, `ifv4`, `ip`, `cmdv6`, a router name…) → a flaredns provider.
fn provider_of(
    strategy: &str,
    family: Family,
    settings: &Settings,
    imported: &mut Imported,
    say: &mut impl FnMut(&mut Imported, Section, String),
) -> String {
    const DEFAULT: &str = "cloudflare.trace";
    let get = |key: &str| settings.get(key);
    let line = |key: &str| get(key).map(|s| s.line).unwrap_or(0);
    let strategy = strategy.to_ascii_lowercase();
    let kind = strategy.trim_end_matches("v4").trim_end_matches("v6");
    match kind {
        "default" => DEFAULT.to_string(),
        "web" => {
            let key = if strategy == "web" {
                "web".to_string()
            } else {
                strategy.clone()
            };
            let skip = get(&format!("{key}-skip")).is_some();
            let Some(web) = get(&key) else {
                say(imported, Section::Detect, format!("use{}={strategy} with no {key}=: ddclient's default check-IP service is replaced by {DEFAULT}", family_suffix(&strategy)));
                return DEFAULT.to_string();
            };
            web_provider(&web.value, skip, web.line, imported, say)
        }
        "if" => match get(&strategy) {
            Some(iface) if Provider::parse(&format!("iface:{}", iface.value)).is_ok() => {
                format!("iface:{}", iface.value)
            }
            _ => {
                say(imported, Section::Detect, format!("use {strategy} without an interface name ({strategy}=): flaredns asks {DEFAULT}"));
                DEFAULT.to_string()
            }
        },
        "ip" => {
            match get(&strategy).and_then(|s| s.value.parse::<IpAddr>().ok()) {
                Some(ip) if Family::of(ip) == family => format!("static:{ip}"),
                _ => {
                    say(imported, Section::Detect, format!("{strategy}: no usable {} address given (line {}); flaredns asks {DEFAULT}", family.describe(), line(&strategy)));
                    DEFAULT.to_string()
                }
            }
        }
        "cmd" => {
            say(imported, Section::Detect, format!("{strategy}= (line {}): flaredns runs no command to detect the address; it asks {DEFAULT} (or use url:, iface: or static:)", line(&strategy)));
            DEFAULT.to_string()
        }
        _ => {
            say(imported, Section::Detect, format!("use={} reads a router's status page; flaredns asks {DEFAULT} instead (or iface:NAME on the router itself)", shown(&strategy)));
            DEFAULT.to_string()
        }
    }
}

fn family_suffix(strategy: &str) -> &'static str {
    if strategy.ends_with("v4") {
        "v4"
    } else if strategy.ends_with("v6") {
        "v6"
    } else {
        ""
    }
}

/// `web=` → a provider: ddclient's named services and pages that need `web-skip` become
/// cloudflare.trace; a trace URL stays a trace; any other URL is read as a bare address.
fn web_provider(
    value: &str,
    skip: bool,
    line: usize,
    imported: &mut Imported,
    say: &mut impl FnMut(&mut Imported, Section, String),
) -> String {
    const DEFAULT: &str = "cloudflare.trace";
    if BUILTIN_WEB.contains(&value) {
        say(imported, Section::Detect, format!("web={value} (line {line}) is ddclient's built-in check-IP service; flaredns asks {DEFAULT} instead, one third party fewer"));
        return DEFAULT.to_string();
    }
    let url = if value.starts_with("https://") || value.starts_with("http://") {
        value.to_string()
    } else {
        format!("https://{value}")
    };
    let Ok(parsed) = url::Url::parse(&url) else {
        say(
            imported,
            Section::Detect,
            format!(
                "web={} (line {line}) is not a URL; flaredns asks {DEFAULT}",
                shown(value)
            ),
        );
        return DEFAULT.to_string();
    };
    if parsed
        .path()
        .trim_end_matches('/')
        .ends_with("/cdn-cgi/trace")
    {
        let cloudflare = matches!(
            parsed.host_str(),
            Some(
                "1.1.1.1"
                    | "1.0.0.1"
                    | "[2606:4700:4700::1111]"
                    | "[2606:4700:4700::1001]"
                    | "cloudflare.com"
                    | "www.cloudflare.com"
                    | "one.one.one.one"
            )
        );
        return if cloudflare {
            DEFAULT.to_string()
        } else {
            format!("trace:{url}")
        };
    }
    if skip {
        say(imported, Section::Detect, format!("web={} (line {line}) answers a page that needs web-skip; flaredns reads bare addresses or Cloudflare traces, so it asks {DEFAULT}", shown(value)));
        return DEFAULT.to_string();
    }
    let provider = format!("url:{url}");
    if Provider::parse(&provider).is_err() {
        return DEFAULT.to_string();
    }
    say(
        imported,
        Section::Detect,
        format!(
            "url:{} (line {line}): flaredns reads the whole answer as the address",
            shown(&url)
        ),
    );
    provider
}
