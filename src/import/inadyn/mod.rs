//! inadyn.conf (its v2 format, libConfuse) → `Imported`. Reads `key = value` settings,
//! `{ a, b }` lists, `provider NAME { … }` and `custom NAME { … }` sections, `"…"` and `'…'`
//! strings, `#`, `//` and `/* */` comments and `include(…)`. Only Cloudflare provider
//! sections become records (`username` is the zone, `hostname` the names); everything else
//! becomes a comment. An unclosed brace, quote or comment is an error at its line.

mod syntax;
#[cfg(test)]
mod tests;

use super::emit::shown;
use super::imported::{Imported, Record, Secret, Section, TokenOrigin, Ttl};
use super::ParseError;
use crate::detect::Provider;
use crate::model::{DomainName, Family};
use syntax::{structure, tokenize, Block, Entry, File, Value};

/// Parses an inadyn.conf.
pub fn parse(text: &str) -> Result<Imported, ParseError> {
    let tokens = tokenize(text)?;
    let file = structure(&tokens)?;
    Ok(map(&file))
}
fn one(entry: &Entry) -> Option<&str> {
    match &entry.value {
        Value::One(text) => Some(text),
        _ => None,
    }
}

fn boolean(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Some(true),
        "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The parsed file → what flaredns should do.
fn map(file: &File) -> Imported {
    let mut imported = Imported::default();
    let mut allow_ipv6 = false;
    let mut global_iface: Option<String> = None;
    for entry in &file.globals {
        let value = one(entry).unwrap_or_default();
        let line = entry.line;
        match entry.key.as_str() {
            "period" => match value.parse::<u64>() {
                Ok(seconds @ 1..=604_800) => imported.interval = Some(std::time::Duration::from_secs(seconds)),
                _ => imported.note(Section::Daemon, format!("period = {} (line {line}) is not 1 second to 7 days; flaredns's default (5m) stays", shown(value))),
            },
            "allow-ipv6" => allow_ipv6 = boolean(value).unwrap_or(false),
            "iface" => global_iface = Some(value.to_string()),
            "verify-address" => imported.note(Section::Detect, format!("verify-address (line {line}): flaredns always refuses private, loopback, CGNAT and other non-global addresses; it cannot be turned off")),
            "forced-update" => imported.note(Section::Daemon, format!("forced-update (line {line}): flaredns asks the zone's authoritative DNS every interval and writes only when an answer differs, so no forced update is needed")),
            "secure-ssl" | "broken-rtc" | "ca-trust-file" => imported.note(Section::General, format!("{} (line {line}): flaredns always verifies certificates against the system's CA store; SSL_CERT_FILE names another bundle", entry.key)),
            "include" => imported.note(
                Section::General,
                format!("include (line {line}): the included file is not read; import its settings by hand"),
            ),
            "iterations" => imported.note(Section::Daemon, format!("iterations (line {line}): for a single run use `flaredns --once`")),
            _ => imported.note(Section::General, format!("`{}` (line {line}): not carried over (no flaredns equivalent)", shown(&entry.key))),
        }
    }
    for block in &file.blocks {
        let base = block
            .name
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if block.kind == "provider" && base.contains("cloudflare") {
            cloudflare_block(block, allow_ipv6, global_iface.as_deref(), &mut imported);
        } else {
            imported.note(
                Section::Records,
                format!(
                    "{} {} (line {}) is not Cloudflare: skipped",
                    shown(&block.kind),
                    shown(&block.name),
                    block.line
                ),
            );
        }
    }
    if imported.ipv4.is_empty() && imported.ipv6.is_empty() && !imported.records.is_empty() {
        imported.provider(Family::V4, "cloudflare.trace");
    }
    imported
}

/// One `provider cloudflare.com[:N] { … }` → records and a provider.
fn cloudflare_block(
    block: &Block,
    allow_ipv6: bool,
    global_iface: Option<&str>,
    imported: &mut Imported,
) {
    block_notes(block, imported);
    let family = block_provider(block, allow_ipv6, global_iface, imported);
    let shared = Shared::read(block, imported);
    for (host, line) in hostnames(block, imported) {
        let name = match DomainName::parse(&host) {
            Ok(name) => name,
            Err(problem) => {
                imported.note(
                    Section::Records,
                    format!(
                        "`{}` (line {line}) skipped: invalid name: {problem}",
                        shown(&host)
                    ),
                );
                continue;
            }
        };
        let mut record = Record::new(name.clone(), vec![family]);
        match &shared.zone {
            Some(zone) if name.is_within(zone.as_str()) => record.zone = Some(zone.clone()),
            Some(zone) => record.notes.push(format!(
                "{name} is not in zone {zone} (username); the zone is found by the longest suffix"
            )),
            None => {}
        }
        record.proxied = shared.proxied;
        record.ttl = shared.ttl;
        record.token = shared.token;
        imported.add_record(record);
    }
}

/// A block's setting, by key.
fn setting<'b>(block: &'b Block, key: &str) -> Option<&'b Entry> {
    block.entries.iter().find(|e| e.key == key)
}

/// Notes for the block's settings that have no flaredns equivalent.
fn block_notes(block: &Block, imported: &mut Imported) {
    for entry in &block.entries {
        let line = entry.line;
        match entry.key.as_str() {
            "username" | "password" | "hostname" | "ttl" | "proxied" | "checkip-server" | "checkip-path" | "checkip-ssl" | "iface" => {}
            "ssl" => imported.note(Section::General, format!("ssl (line {line}): implicit, flaredns talks to Cloudflare over HTTPS only")),
            "checkip-command" => imported.note(Section::Detect, format!("checkip-command (line {line}): flaredns runs no command to detect the address; use url:, iface: or static: providers")),
            "wildcard" => imported.note(Section::Records, format!("wildcard (line {line}): a wildcard is its own [[records]] entry (*.example.com)")),
            "include" => imported.note(Section::General, format!("include (line {line}): the included file is not read; import its settings by hand")),
            other => imported.note(Section::General, format!("`{}` (line {line}): not carried over (no flaredns equivalent)", shown(other))),
        }
    }
}

/// The block's `iface` or `checkip-*` → a provider for the family its checkip server
/// answers in, which is the family of its records.
fn block_provider(
    block: &Block,
    allow_ipv6: bool,
    global_iface: Option<&str>,
    imported: &mut Imported,
) -> Family {
    let text = |key: &str| setting(block, key).and_then(one);
    let server = text("checkip-server");
    let v6 = server.is_some_and(looks_ipv6);
    let family = if v6 { Family::V6 } else { Family::V4 };
    if v6 && !allow_ipv6 {
        imported.note(Section::Detect, format!("{} (line {}) checks an IPv6 address but allow-ipv6 is not true, so inadyn discarded it; flaredns will manage the AAAA records", shown(&block.name), block.line));
    }
    let iface = text("iface").or(global_iface);
    let provider = match iface {
        Some(iface) if Provider::parse(&format!("iface:{iface}")).is_ok() => {
            format!("iface:{iface}")
        }
        _ => {
            let ssl = text("checkip-ssl").and_then(boolean).unwrap_or(true);
            checkip_provider(server, text("checkip-path"), ssl, block.line, imported)
        }
    };
    imported.provider(family, &provider);
    family
}

/// What every record of one block shares: the zone (`username`), the token (`password`),
/// `proxied` and `ttl`.
struct Shared {
    zone: Option<DomainName>,
    token: Option<usize>,
    proxied: Option<bool>,
    ttl: Option<Ttl>,
}

impl Shared {
    /// Reads them in a fixed order (zone, token, proxied, ttl), the order of their notes.
    fn read(block: &Block, imported: &mut Imported) -> Shared {
        let zone = zone(block, imported);
        let token = setting(block, "password").and_then(|entry| {
            one(entry).map(|value| TokenOrigin::Line {
                line: entry.line,
                key: "password".to_string(),
                secret: Secret::new(value),
            })
        });
        let token = token.map(|origin| imported.token(origin));
        let proxied = proxied(block, imported);
        let ttl = ttl(block, imported);
        Shared {
            zone,
            token,
            proxied,
            ttl,
        }
    }
}

/// `username`, which the Cloudflare plugin takes as the zone.
fn zone(block: &Block, imported: &mut Imported) -> Option<DomainName> {
    let entry = setting(block, "username")?;
    let zone = one(entry)?;
    match DomainName::parse(zone) {
        Ok(zone) => Some(zone),
        Err(problem) => {
            imported.note(Section::Records, format!("username (the zone) at line {} is not a name ({problem}); zones are found by the longest suffix", entry.line));
            None
        }
    }
}

/// `proxied`, when it is true or false.
fn proxied(block: &Block, imported: &mut Imported) -> Option<bool> {
    let entry = setting(block, "proxied")?;
    let parsed = one(entry).and_then(boolean);
    if parsed.is_none() {
        imported.note(
            Section::Records,
            format!(
                "proxied at line {} is not true or false; proxied is kept as it is",
                entry.line
            ),
        );
    }
    parsed
}

/// `ttl`, when it is one Cloudflare takes.
fn ttl(block: &Block, imported: &mut Imported) -> Option<Ttl> {
    let entry = setting(block, "ttl")?;
    match one(entry)
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| "ttl is not a number of seconds".to_string())
        .and_then(|seconds| Ttl::from_seconds(seconds).map_err(|error| error.to_string()))
    {
        Ok(ttl) => Some(ttl),
        Err(problem) => {
            imported.note(
                Section::Records,
                format!("line {}: {problem}; the TTL is kept as it is", entry.line),
            );
            None
        }
    }
}

/// `hostname`, one name or a list, each with its line; a note when there is none.
fn hostnames(block: &Block, imported: &mut Imported) -> Vec<(String, usize)> {
    match setting(block, "hostname") {
        Some(Entry {
            value: Value::One(name),
            line,
            ..
        }) => vec![(name.clone(), *line)],
        Some(Entry {
            value: Value::List(names),
            line,
            ..
        }) => names.iter().map(|n| (n.clone(), *line)).collect(),
        _ => {
            imported.note(
                Section::Records,
                format!(
                    "{} (line {}) has no hostname: nothing to import",
                    shown(&block.name),
                    block.line
                ),
            );
            Vec::new()
        }
    }
}

/// Whether a checkip server answers over IPv6 (its name or address says so).
fn looks_ipv6(server: &str) -> bool {
    let host = server.trim_start_matches('[');
    host.matches(':').count() >= 2
        || host == "dns64.cloudflare-dns.com"
        || ["ipv6.", "v6.", "ip6.", "api6.", "ipv6-"]
            .iter()
            .any(|prefix| host.starts_with(prefix))
}

/// `checkip-server` and `checkip-path` → a provider. inadyn's own default and Cloudflare's
/// trace hosts become cloudflare.trace.
fn checkip_provider(
    server: Option<&str>,
    path: Option<&str>,
    ssl: bool,
    line: usize,
    imported: &mut Imported,
) -> String {
    const DEFAULT: &str = "cloudflare.trace";
    let Some(server) = server.filter(|s| *s != "default") else {
        return DEFAULT.to_string();
    };
    let host = if server.matches(':').count() >= 2 && !server.starts_with('[') {
        format!("[{server}]")
    } else {
        server.to_string()
    };
    let path = path.unwrap_or("/");
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    let scheme = if ssl { "https" } else { "http" };
    let url = format!("{scheme}://{host}{path}");
    let bare_host = host
        .split(']')
        .next()
        .unwrap_or_default()
        .trim_start_matches('[');
    let bare_host = if host.starts_with('[') {
        bare_host
    } else {
        host.split(':').next().unwrap_or_default()
    };
    if path.trim_end_matches('/').ends_with("/cdn-cgi/trace") {
        let cloudflare = matches!(
            bare_host,
            "1.1.1.1"
                | "1.0.0.1"
                | "dns64.cloudflare-dns.com"
                | "cloudflare-dns.com"
                | "one.one.one.one"
                | "cloudflare.com"
                | "www.cloudflare.com"
                | "2606:4700:4700::1111"
                | "2606:4700:4700::1001"
        );
        return if cloudflare {
            DEFAULT.to_string()
        } else {
            format!("trace:{url}")
        };
    }
    let provider = format!("url:{url}");
    if Provider::parse(&provider).is_err() {
        imported.note(
            Section::Detect,
            format!(
                "checkip-server {} (line {line}) does not make a URL; flaredns asks {DEFAULT}",
                shown(server)
            ),
        );
        return DEFAULT.to_string();
    }
    imported.note(
        Section::Detect,
        format!(
            "{} (line {line}): flaredns reads the whole answer as the address",
            shown(&provider)
        ),
    );
    provider
}
