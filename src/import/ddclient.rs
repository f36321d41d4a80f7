//! ddclient.conf → `Imported`. Reads the format as ddclient 3.x does: `#` comments, `\`
//! continuation lines, `key=value` assignments separated by commas or spaces (values may be
//! quoted or backslash-escaped), then `host[,host…] [login [password]]`. A line of only
//! assignments sets globals for the hosts after it. Passwords are read first and may hold `#`,
//! as in ddclient. Only `protocol=cloudflare` hosts become records; the rest are comments.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::emit::{shown, Imported, Record, Secret, Section, TokenOrigin, Ttl};
use super::{ParseError, Problem};
use crate::detect::Provider;
use crate::model::{DomainName, Family};

/// One assignment's value and the line it was written on.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Setting {
    value: String,
    line: usize,
}

type Settings = BTreeMap<String, Setting>;

/// One host with the settings in effect for it (globals, then its own line's).
#[derive(Debug)]
struct HostEntry {
    host: String,
    line: usize,
    settings: Settings,
}

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
const MAPPED: &[&str] = &[
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
    let (entries, globals, seen) = read_entries(text, &mut imported)?;
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
    let mut said = Vec::new();
    for entry in &entries {
        host_record(entry, &mut imported, &mut said);
    }
    if imported.ipv4.is_empty() && imported.ipv6.is_empty() && !imported.records.is_empty() {
        imported.provider(Family::V4, "cloudflare.trace");
    }
    Ok(imported)
}

/// Splits the file into host entries, the globals left at the end, and every key seen (with
/// its line, once per line).
fn read_entries(
    text: &str,
    imported: &mut Imported,
) -> Result<(Vec<HostEntry>, Settings, Vec<(String, usize)>), ParseError> {
    let mut globals = Settings::new();
    let mut entries = Vec::new();
    let mut seen: Vec<(String, usize)> = Vec::new();
    let mut logical = String::new();
    let mut segments: Vec<(usize, usize)> = Vec::new();
    let mut passwords: BTreeMap<String, Setting> = BTreeMap::new();
    let mut last_line = 0;
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        last_line = line_no;
        let mut line = raw.to_string();
        if let Some((key, value, replaced)) = password_assignment(&line) {
            passwords.insert(
                key,
                Setting {
                    value,
                    line: line_no,
                },
            );
            line = replaced;
        }
        if let Some(hash) = line.find('#') {
            line.truncate(hash);
        }
        segments.push((logical.len(), line_no));
        let trimmed = line.trim_end();
        if let Some(body) = trimmed.strip_suffix('\\') {
            logical.push_str(body);
            logical.push(' ');
            continue;
        }
        logical.push_str(trimmed);
        logical_line(
            &logical,
            &segments,
            &passwords,
            &mut globals,
            &mut entries,
            &mut seen,
        )?;
        logical.clear();
        segments.clear();
        passwords.clear();
    }
    if !segments.is_empty() {
        imported.note(Section::General, format!("the last line ({last_line}) ends with `\\`, continuing into nothing; ddclient drops that entry, flaredns read it as if it ended there"));
        logical_line(
            &logical,
            &segments,
            &passwords,
            &mut globals,
            &mut entries,
            &mut seen,
        )?;
    }
    Ok((entries, globals, seen))
}

/// ddclient reads `…password…=VALUE` before removing comments, so a password may hold `#`.
/// Returns the key, the value and the line with the value replaced by `dummy`.
fn password_assignment(line: &str) -> Option<(String, String, String)> {
    let hash = line.find('#').unwrap_or(line.len());
    let at = line[..hash].find("password")?;
    let key_start = line[..at]
        .char_indices()
        .filter(|(_, c)| c.is_whitespace() || *c == ',')
        .last()
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0);
    let after = at + "password".len();
    let equals = after + line[after..].find('=')?;
    let between = line[after..equals].trim_end();
    if between.chars().any(char::is_whitespace) {
        return None;
    }
    let key = &line[key_start..after + between.len()];
    if !is_key(key) {
        return None;
    }
    let value_start =
        equals + 1 + (line[equals + 1..].len() - line[equals + 1..].trim_start().len());
    let rest = &line[value_start..];
    let (value, end) = if let Some(quoted) = rest.strip_prefix('\'') {
        let close = quoted.find('\'')?;
        (&quoted[..close], value_start + close + 2)
    } else {
        let len = rest
            .find(|c: char| c.is_whitespace() || c == ',')
            .unwrap_or(rest.len());
        (&rest[..len], value_start + len)
    };
    let replaced = format!("{}{key}=dummy{}", &line[..key_start], &line[end..]);
    Some((key.to_ascii_lowercase(), value.to_string(), replaced))
}

/// An option name: a letter, then letters, digits, `_` and `-`.
fn is_key(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// One logical line (continuations joined): assignments, then hosts, login, password.
fn logical_line(
    logical: &str,
    segments: &[(usize, usize)],
    passwords: &BTreeMap<String, Setting>,
    globals: &mut Settings,
    entries: &mut Vec<HostEntry>,
    seen: &mut Vec<(String, usize)>,
) -> Result<(), ParseError> {
    let line_at = |offset: usize| {
        segments
            .iter()
            .rev()
            .find(|(start, _)| *start <= offset)
            .or(segments.first())
            .map(|(_, line)| *line)
            .unwrap_or(1)
    };
    let mut locals = Settings::new();
    let mut rest = logical;
    loop {
        let skipped = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        let offset = logical.len() - skipped.len();
        let Some(equals) = skipped.find('=') else {
            break;
        };
        let key = &skipped[..equals];
        if !is_key(key) {
            break;
        }
        let (value, consumed) = assignment_value(&skipped[equals + 1..]).map_err(|quote_at| {
            ParseError::at(
                line_at(offset + equals + 1 + quote_at),
                Problem::UnclosedQuote,
            )
        })?;
        let key = key.to_ascii_lowercase();
        let line = line_at(offset);
        let setting = match passwords.get(&key) {
            Some(password) if value == "dummy" => password.clone(),
            _ => Setting { value, line },
        };
        if !seen.iter().any(|(k, l)| *k == key && *l == setting.line) {
            seen.push((key.clone(), setting.line));
        }
        locals.insert(key, setting);
        rest = &skipped[equals + 1 + consumed..];
    }
    let rest_offset = logical.len() - rest.len();
    let mut args: Vec<String> = Vec::new();
    let normalised = normalise_commas(rest);
    for word in normalised.split_whitespace() {
        args.push(word.to_string());
    }
    if let Some(host) = locals.get("host") {
        match args.first_mut() {
            Some(first) => {
                first.push(',');
                first.push_str(&host.value);
            }
            None => args.push(host.value.clone()),
        }
    }
    if args.is_empty() {
        globals.extend(locals);
        return Ok(());
    }
    let line = line_at(rest_offset + rest.len() - rest.trim_start().len());
    let mut settings = globals.clone();
    settings.extend(locals);
    if let Some(login) = args.get(1) {
        settings.insert(
            "login".to_string(),
            Setting {
                value: login.clone(),
                line,
            },
        );
    }
    if let Some(password) = args.get(2) {
        settings.insert(
            "password".to_string(),
            Setting {
                value: password.clone(),
                line,
            },
        );
    }
    for host in args[0].split(',').filter(|h| !h.is_empty()) {
        entries.retain(|entry| entry.host != host);
        entries.push(HostEntry {
            host: host.to_string(),
            line,
            settings: settings.clone(),
        });
    }
    Ok(())
}

/// `\s*,\s*` → `,`, as ddclient canonifies the host list.
fn normalise_commas(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (index, part) in text.split(',').enumerate() {
        if index > 0 {
            while out.ends_with(char::is_whitespace) {
                out.pop();
            }
            out.push(',');
            out.push_str(part.trim_start());
        } else {
            out.push_str(part);
        }
    }
    out
}

/// A value after `=`: backslash escapes, `'…'` and `"…"` quoting, ended by an unquoted space
/// or comma. Returns the value and the bytes consumed; an unclosed quote is an error at the
/// quote's offset.
fn assignment_value(text: &str) -> Result<(String, usize), usize> {
    let mut value = String::new();
    let mut escape = false;
    let mut quote: Option<(char, usize)> = None;
    for (index, c) in text.char_indices() {
        if escape {
            value.push(c);
            escape = false;
        } else if c == '\\' {
            escape = true;
        } else if quote.is_some_and(|(q, _)| q == c) {
            quote = None;
        } else if quote.is_none() && (c == '\'' || c == '"') {
            quote = Some((c, index));
        } else if quote.is_none() && (c.is_whitespace() || c == ',') {
            return Ok((value, index));
        } else {
            value.push(c);
        }
    }
    match quote {
        Some((_, at)) => Err(at),
        None => Ok((value, text.len())),
    }
}

/// ddclient's interval syntax: `300`, `300s`, `5m`, `2h`, `1d`.
fn interval_seconds(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let number: u64 = text[..digits].parse().ok()?;
    let unit = text[digits..].to_ascii_lowercase();
    let factor = match unit.as_str() {
        "" | "s" | "seconds" => 1,
        "m" | "minutes" => 60,
        "h" | "hours" => 3600,
        "d" | "days" => 86400,
        _ => return None,
    };
    number.checked_mul(factor)
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
fn host_record(entry: &HostEntry, imported: &mut Imported, said: &mut Vec<String>) {
    let get = |key: &str| entry.settings.get(key);
    let mut say = |imported: &mut Imported, section: Section, text: String| {
        if !said.contains(&text) {
            said.push(text.clone());
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
            .and_then(Ttl::from_seconds)
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
            .last()
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
                "1.1.1.1" | "1.0.0.1" | "cloudflare.com" | "www.cloudflare.com" | "one.one.one.one"
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

#[cfg(test)]
mod tests {
    use super::*;

    fn import(text: &str) -> Imported {
        parse(text).expect("parses")
    }

    fn names(imported: &Imported) -> Vec<String> {
        imported
            .records
            .iter()
            .map(|r| r.name.to_string())
            .collect()
    }

    #[test]
    fn blocks_with_continuations_quotes_and_two_zones() {
        let imported = import(
            "daemon=300\nssl=yes\nuse=web, web=https://api.ipify.org\n\
             protocol=cloudflare, \\\nzone=example.com, \\\nttl=1, \\\nlogin=token, \\\npassword='tok#en-one' \\\nhome.example.com,vpn.example.com\n\
             protocol=cloudflare, zone=example.org, login=token, password=token-two \\\n  www.example.org\n",
        );
        assert_eq!(
            names(&imported),
            ["home.example.com", "vpn.example.com", "www.example.org"]
        );
        assert_eq!(
            imported.records[0]
                .zone
                .as_ref()
                .map(|z| z.to_string())
                .as_deref(),
            Some("example.com")
        );
        assert_eq!(
            imported.records[2]
                .zone
                .as_ref()
                .map(|z| z.to_string())
                .as_deref(),
            Some("example.org")
        );
        assert_eq!(imported.records[0].ttl, Some(Ttl::Auto));
        assert_eq!(imported.interval, Some(std::time::Duration::from_secs(300)));
        assert_eq!(imported.ipv4, ["url:https://api.ipify.org"]);
        assert_eq!(imported.tokens.len(), 2);
        assert!(
            matches!(imported.tokens[0], TokenOrigin::Line { line: 8, .. }),
            "{:?}",
            imported.tokens
        );
        assert_eq!(
            (imported.records[0].token, imported.records[2].token),
            (Some(0), Some(1))
        );
        let text = imported.to_toml("test");
        assert!(
            !text.contains("tok#en-one") && !text.contains("token-two"),
            "{text}"
        );
    }

    #[test]
    fn strategies_map_to_providers() {
        for (line, v4, v6) in [
            (
                "usev4=webv4, webv4=ipify-ipv4",
                vec!["cloudflare.trace"],
                vec![],
            ),
            ("use=if, if=eth0", vec!["iface:eth0"], vec![]),
            (
                "usev4=ifv4, ifv4=ppp0, usev6=ifv6, ifv6=ppp0",
                vec!["iface:ppp0"],
                vec!["iface:ppp0"],
            ),
            (
                "usev6=webv6, webv6=https://[2606:4700:4700::1111]/cdn-cgi/trace",
                vec![],
                vec!["trace:https://[2606:4700:4700::1111]/cdn-cgi/trace"],
            ),
            ("use=ip, ip=81.23.45.99", vec!["static:81.23.45.99"], vec![]),
            ("use=cmd, cmd=/bin/true", vec!["cloudflare.trace"], vec![]),
            (
                "use=linksys, fw=192.168.1.1",
                vec!["cloudflare.trace"],
                vec![],
            ),
            (
                "use=web, web=checkip.dyndns.org/, web-skip='IP Address'",
                vec!["cloudflare.trace"],
                vec![],
            ),
            ("", vec!["cloudflare.trace"], vec![]),
        ] {
            let imported = import(&format!("{line}\nprotocol=cloudflare, zone=example.com, login=token, password=t home.example.com\n"));
            assert_eq!(
                (imported.ipv4.clone(), imported.ipv6.clone()),
                (
                    v4.iter().map(|s| s.to_string()).collect(),
                    v6.iter().map(|s| s.to_string()).collect()
                ),
                "{line}"
            );
        }
    }

    #[test]
    fn other_protocols_bad_names_and_global_keys_become_comments() {
        let imported = import(
            "protocol=dyndns2, server=members.dyndns.org, login=me, password=secret1 me.dyndns.org\n\
             protocol=cloudflare, zone=example.com, login=me@example.com, password=globalkey1 bad_name,-x-.example.com,ok.example.com\n\
             mail=root\n",
        );
        assert_eq!(names(&imported), ["ok.example.com"]);
        let notes: Vec<&str> = imported.notes.iter().map(|n| n.text.as_str()).collect();
        assert!(
            notes.iter().any(|n| n.contains("protocol=dyndns2")),
            "{notes:?}"
        );
        assert!(
            notes
                .iter()
                .any(|n| n.contains("bad_name") && n.contains("invalid name")),
            "{notes:?}"
        );
        assert!(notes.iter().any(|n| n.starts_with("`mail`")), "{notes:?}");
        assert!(matches!(
            imported.tokens[0],
            TokenOrigin::GlobalKey { line: 2, .. }
        ));
        assert!(!notes
            .iter()
            .any(|n| n.contains("secret1") || n.contains("globalkey1")));
    }

    #[test]
    fn positional_login_and_password_and_host_option() {
        let imported = import("protocol=cloudflare, zone=example.com, host=b.example.com a.example.com token positional-secret\n");
        assert_eq!(names(&imported), ["a.example.com", "b.example.com"]);
        assert!(matches!(
            imported.tokens[0],
            TokenOrigin::Line { line: 1, .. }
        ));
    }

    #[test]
    fn unclosed_quote_is_an_error_at_its_line() {
        let error = parse("ssl=yes\nprotocol=cloudflare, \\\n web='abc \\\n home.example.com\n")
            .expect_err("unclosed");
        assert_eq!((error.line, error.problem), (3, Problem::UnclosedQuote));
    }

    #[test]
    fn intervals() {
        for (text, seconds) in [
            ("300", Some(300)),
            ("5m", Some(300)),
            ("2h", Some(7200)),
            ("1d", Some(86400)),
            ("soon", None),
            ("99999999999999999999d", None),
        ] {
            assert_eq!(interval_seconds(text), seconds, "{text}");
        }
    }
}
