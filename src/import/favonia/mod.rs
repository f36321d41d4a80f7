//! favonia/cloudflare-ddns settings → `Imported`. Its configuration is environment variables,
//! so this reads `KEY=VALUE` lines (a Docker env file, `export KEY=VALUE`, quoted values,
//! compose `- KEY=VALUE` list items and `KEY: value` map items) or this process's
//! environment. Only the variables cloudflare-ddns knows are read from the environment; a
//! value of an unknown key is never repeated, since it may be a secret.

mod env_file;
mod records;
#[cfg(test)]
mod tests;

use std::time::Duration;

use super::emit::shown;
use super::imported::{Imported, Secret, Section, TokenOrigin};
use super::ParseError;
use crate::detect::Provider;
use crate::model::Family;
use records::{records, waf_lists};

/// Every variable cloudflare-ddns reads (README, "All Settings").
const KNOWN: &[&str] = &[
    "CLOUDFLARE_API_TOKEN",
    "CLOUDFLARE_API_TOKEN_FILE",
    "CF_API_TOKEN",
    "CF_API_TOKEN_FILE",
    "DOMAINS",
    "IP4_DOMAINS",
    "IP6_DOMAINS",
    "WAF_LISTS",
    "IP4_PROVIDER",
    "IP6_PROVIDER",
    "UPDATE_CRON",
    "UPDATE_ON_START",
    "DELETE_ON_STOP",
    "CACHE_EXPIRATION",
    "TTL",
    "PROXIED",
    "RECORD_COMMENT",
    "WAF_LIST_DESCRIPTION",
    "WAF_LIST_ITEM_COMMENT",
    "DETECTION_TIMEOUT",
    "UPDATE_TIMEOUT",
    "HEALTHCHECKS",
    "UPTIMEKUMA",
    "SHOUTRRR",
    "SHOUTRRR_FILE",
    "TZ",
    "EMOJI",
    "QUIET",
    "PUID",
    "PGID",
    "IP4_DETECTION_FILTER",
    "IP6_DETECTION_FILTER",
    "IP4_DEFAULT_PREFIX_LEN",
    "IP6_DEFAULT_PREFIX_LEN",
    "MANAGED_RECORDS_COMMENT_REGEX",
    "MANAGED_WAF_LIST_ITEMS_COMMENT_REGEX",
    "CF_ACCOUNT_ID",
    "CLOUDFLARE_ACCOUNT_ID",
];

/// Where a variable came from, for notes and the token hint.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Place {
    Line(usize),
    Env,
}

impl Place {
    fn describe(&self, key: &str) -> String {
        match self {
            Place::Line(line) => format!("{key} (line {line})"),
            Place::Env => key.to_string(),
        }
    }
}

/// Parses an env file or a compose file's environment lines.
pub fn parse(text: &str) -> Result<Imported, ParseError> {
    let variables: Vec<(String, String, Place)> = env_file::assignments(text)?
        .into_iter()
        .map(|(key, value, line)| (key, value, Place::Line(line)))
        .collect();
    let mut imported = map(&variables);
    if variables.is_empty() {
        imported.note(
            Section::General,
            "no KEY=VALUE line was found; is this an env file?",
        );
    }
    Ok(imported)
}

/// This process's environment (only cloudflare-ddns's variables).
pub fn from_env(env: &[(String, String)]) -> Imported {
    let variables: Vec<(String, String, Place)> = env
        .iter()
        .filter(|(key, _)| KNOWN.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone(), Place::Env))
        .collect();
    map(&variables)
}

/// Go's `strconv.ParseBool`.
fn go_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A Go duration (`5m`, `1h30m`, `90s`) that flaredns can take, at least a second.
fn go_duration(text: &str) -> Option<Duration> {
    let duration = humantime::parse_duration(text.trim()).ok()?;
    (duration >= Duration::from_secs(1)).then_some(duration)
}

/// The variables → what flaredns should do.
fn map(variables: &[(String, String, Place)]) -> Imported {
    let mut imported = Imported::default();
    let get = |key: &str| {
        variables
            .iter()
            .rev()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, p)| (v.as_str(), p.clone()))
    };
    // A token given as a value wins over a token file: the value is what gets copied.
    let token_value = variables.iter().any(|(key, value, _)| {
        matches!(key.as_str(), "CLOUDFLARE_API_TOKEN" | "CF_API_TOKEN") && !value.is_empty()
    });
    for (key, value, place) in variables {
        setting(key, value, place, token_value, &mut imported);
    }
    providers(&get, &mut imported);
    records(&get, &mut imported);
    waf_lists(&get, &mut imported);
    imported
}

/// One variable that maps on its own: the token, the schedule, the detection timeout, the
/// heartbeats and the notify URLs. Those that combine (records, providers, WAF lists) are
/// read after every variable is known.
fn setting(key: &str, value: &str, place: &Place, token_value: bool, imported: &mut Imported) {
    let at = place.describe(key);
    if let Some((section, why)) = unmapped(key) {
        imported.note(section, format!("{at}: {why}"));
        return;
    }
    match key {
        "CLOUDFLARE_API_TOKEN" | "CF_API_TOKEN" if !value.is_empty() => {
            token(key, value, place, imported)
        }
        "CLOUDFLARE_API_TOKEN_FILE" | "CF_API_TOKEN_FILE" if !value.is_empty() => {
            token_file(value, &at, token_value, imported)
        }
        "UPDATE_CRON" => cron(value, &at, imported),
        "DETECTION_TIMEOUT" => detection_timeout(value, &at, imported),
        "HEALTHCHECKS" | "UPTIMEKUMA" => heartbeat(key, value, &at, imported),
        "SHOUTRRR" => shoutrrr(value, &at, imported),
        // Read after the loop, where they combine: records, providers, WAF lists.
        _ if KNOWN.contains(&key) => {}
        _ => imported.note(
            Section::General,
            format!("{at}: not a cloudflare-ddns setting flaredns knows; ignored"),
        ),
    }
}

/// `CLOUDFLARE_API_TOKEN` or `CF_API_TOKEN` given as a value.
fn token(key: &str, value: &str, place: &Place, imported: &mut Imported) {
    let secret = Secret::new(value);
    imported.token(match place {
        Place::Line(line) => TokenOrigin::Line {
            line: *line,
            key: key.to_string(),
            secret,
        },
        Place::Env => TokenOrigin::Env {
            name: key.to_string(),
            secret,
        },
    });
}

/// `CLOUDFLARE_API_TOKEN_FILE` or `CF_API_TOKEN_FILE`: kept unless the token is also a value.
fn token_file(path: &str, at: &str, token_value: bool, imported: &mut Imported) {
    if token_value {
        imported.note(Section::General, format!("{at}: the token is also given as a value (cloudflare-ddns requires both to be the same); the value is the one carried over"));
    } else {
        imported.token(TokenOrigin::File {
            path: path.to_string(),
        });
        imported.note(
            Section::General,
            format!(
                "{at}: the token file is kept; in a container it is the path inside the container"
            ),
        );
    }
}

/// `DETECTION_TIMEOUT`, when it is one flaredns takes (1s to 5m).
fn detection_timeout(value: &str, at: &str, imported: &mut Imported) {
    match go_duration(value) {
        Some(timeout) if timeout <= Duration::from_secs(300) => {
            imported.detect_timeout = Some(timeout)
        }
        _ => imported.note(
            Section::Detect,
            format!(
                "{at}={} is not 1s to 5m; flaredns's default (5s) stays",
                shown(value)
            ),
        ),
    }
}

/// `HEALTHCHECKS` or `UPTIMEKUMA`: a heartbeat URL.
fn heartbeat(key: &str, value: &str, at: &str, imported: &mut Imported) {
    if crate::secret::SecretUrl::parse(value).is_err() {
        imported.note(
            Section::Notify,
            format!("{at} is not an http(s) URL; not carried over"),
        );
    } else if key == "HEALTHCHECKS" {
        imported.healthchecks = Some(value.trim().to_string());
    } else {
        imported.uptime_kuma = Some(value.trim().to_string());
    }
}

/// `SHOUTRRR`: the service URLs, one per whitespace-separated item.
fn shoutrrr(value: &str, at: &str, imported: &mut Imported) {
    for url in value.split_whitespace().filter(|u| !u.starts_with('#')) {
        // Only the services flaredns speaks are carried over, so the config it prints is one
        // check-config accepts; the error never shows the URL.
        if let Err(error) = crate::notify::services::ServiceUrl::parse(url) {
            let scheme = url.split("://").next().unwrap_or_default();
            let scheme = if scheme.len() <= 16
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+')
            {
                scheme
            } else {
                "a"
            };
            imported.note(
                Section::Notify,
                format!("{at}: a {scheme}:// URL is not carried over: {error}"),
            );
        } else if url.contains("://") {
            imported.urls.push(url.to_string());
        } else {
            imported.note(
                Section::Notify,
                format!("{at}: an item is not a service URL; not carried over"),
            );
        }
    }
}

/// The settings that have no flaredns equivalent, with the section their note goes to and why.
fn unmapped(key: &str) -> Option<(Section, &'static str)> {
    Some(match key {
        "UPDATE_ON_START" => (Section::Daemon, "flaredns always checks at start"),
        "DELETE_ON_STOP" => (Section::Daemon, "flaredns never deletes records; they keep the last address when it stops"),
        "CACHE_EXPIRATION" => (Section::Daemon, "flaredns asks DNS first and re-reads the API once per [check] reconcile (default 1h) for what DNS cannot confirm"),
        "UPDATE_TIMEOUT" => (Section::Daemon, "[daemon] cycle_timeout bounds a whole cycle in flaredns (default 60s)"),
        "SHOUTRRR_FILE" => (Section::Notify, "copy the URLs from that file into [notify] urls"),
        "TZ" | "EMOJI" | "QUIET" | "PUID" | "PGID" => (Section::General, "logging and container settings do not carry over (flaredns logs in UTC to stderr; -q for less)"),
        "IP4_DETECTION_FILTER" | "IP6_DETECTION_FILTER" => (Section::Detect, "flaredns has no detection filter; it always refuses non-global addresses"),
        "MANAGED_RECORDS_COMMENT_REGEX" | "MANAGED_WAF_LIST_ITEMS_COMMENT_REGEX" => (Section::General, "flaredns manages exactly the names listed (and WAF list items with its comment)"),
        "CF_ACCOUNT_ID" | "CLOUDFLARE_ACCOUNT_ID" => (Section::General, "flaredns finds zones through the token; WAF lists name their account"),
        _ => return None,
    })
}

/// `UPDATE_CRON`: `@every D` and the named schedules map to an interval; a cron expression
/// does not.
fn cron(value: &str, at: &str, imported: &mut Imported) {
    let value = value.trim();
    let interval = match value {
        "@hourly" => Some(Duration::from_secs(3600)),
        "@daily" | "@midnight" => Some(Duration::from_secs(86400)),
        "@weekly" => Some(Duration::from_secs(7 * 86400)),
        "@once" => {
            imported.note(
                Section::Daemon,
                format!(
                    "{at}=@once: run `flaredns --once` (e.g. from the flaredns-once.timer unit)"
                ),
            );
            return;
        }
        _ => value.strip_prefix("@every").and_then(go_duration),
    };
    match interval {
        Some(interval) if interval <= Duration::from_secs(7 * 86400) => imported.interval = Some(interval),
        _ => imported.note(Section::Daemon, format!("{at}={} is a cron schedule; flaredns runs on an interval: set [daemon] interval (or use the flaredns-once.timer with OnCalendar=)", shown(value))),
    }
}

/// One favonia provider → a flaredns provider; `None` turns the family off.
fn provider(value: &str, family: Family, at: &str, imported: &mut Imported) -> Option<String> {
    const DEFAULT: &str = "cloudflare.trace";
    let value = value.trim();
    let mapped = match value {
        "none" => return None,
        "cloudflare.trace" => DEFAULT.to_string(),
        "cloudflare.doh" => {
            imported.note(Section::Detect, format!("{at}=cloudflare.doh → cloudflare.dns: the same whoami.cloudflare question, asked over plain DNS to 1.1.1.1 / 2606:4700:4700::1111"));
            "cloudflare.dns".to_string()
        }
        "local" => {
            imported.note(Section::Detect, format!("{at}=local: flaredns has no route-based provider; {DEFAULT} is used, or write iface:NAME with your uplink interface"));
            DEFAULT.to_string()
        }
        "static.empty" => {
            imported.note(
                Section::Detect,
                format!("{at}=static.empty: flaredns never empties records; this family is off"),
            );
            return None;
        }
        _ => {
            if let Some(iface) = value.strip_prefix("local.iface:") {
                format!("iface:{iface}")
            } else if let Some(url) = value
                .strip_prefix("url.via4:")
                .or_else(|| value.strip_prefix("url.via6:"))
            {
                imported.note(
                    Section::Detect,
                    format!(
                        "{at}: flaredns asks an {} provider over {}, whatever the via",
                        family.describe(),
                        family.describe()
                    ),
                );
                format!("url:{url}")
            } else if let Some(addresses) = value.strip_prefix("static:") {
                let mut all = addresses.split(',').map(str::trim);
                let first = all.next().unwrap_or_default();
                if all.next().is_some() {
                    imported.note(Section::Detect, format!("{at}: flaredns publishes one address per family; the first one is kept"));
                }
                format!("static:{first}")
            } else if value.starts_with("file:") {
                imported.note(Section::Detect, format!("{at}: flaredns reads no address file; {DEFAULT} is used (static:ADDR or url:URL may fit)"));
                DEFAULT.to_string()
            } else {
                value.to_string()
            }
        }
    };
    match Provider::parse(&mapped) {
        Ok(Provider::Static(ip)) if Family::of(ip) != family => {
            imported.note(
                Section::Detect,
                format!(
                    "{at}: {ip} is not an {} address; {DEFAULT} is used",
                    family.describe()
                ),
            );
            Some(DEFAULT.to_string())
        }
        Ok(_) => Some(mapped),
        Err(problem) => {
            imported.note(
                Section::Detect,
                format!("{at}: {problem}; {DEFAULT} is used"),
            );
            Some(DEFAULT.to_string())
        }
    }
}

/// Looks a variable up for the settings that combine: its last value and where it was set.
type Get<'a> = dyn Fn(&str) -> Option<(&'a str, Place)> + 'a;

/// `IP4_PROVIDER` and `IP6_PROVIDER`, each defaulting to cloudflare.trace as in cloudflare-ddns.
fn providers<'a>(get: &Get<'a>, imported: &mut Imported) {
    let detection = [(Family::V4, "IP4_PROVIDER"), (Family::V6, "IP6_PROVIDER")];
    for (family, key) in detection {
        let (value, place) = get(key).unwrap_or(("cloudflare.trace", Place::Env));
        let at = place.describe(key);
        if let Some(provider) = provider(value, family, &at, imported) {
            imported.provider(family, &provider);
        }
    }
    if get("IP6_PROVIDER").is_none() {
        imported.note(Section::Detect, "IPv6 is on because cloudflare-ddns's IP6_PROVIDER defaults to cloudflare.trace; write ipv6 = [] if this host has no IPv6");
    }
}
