//! inadyn.conf (its v2 format, libConfuse) → `Imported`. Reads `key = value` settings,
//! `{ a, b }` lists, `provider NAME { … }` and `custom NAME { … }` sections, `"…"` and `'…'`
//! strings, `#`, `//` and `/* */` comments and `include(…)`. Only Cloudflare provider
//! sections become records (`username` is the zone, `hostname` the names); everything else
//! becomes a comment. An unclosed brace, quote or comment is an error at its line.

use super::emit::{shown, Imported, Record, Secret, Section, TokenOrigin, Ttl};
use super::{ParseError, Problem};
use crate::detect::Provider;
use crate::model::{DomainName, Family};

/// One lexical token and its line.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Text(String),
    Equals,
    Open,
    Close,
    Comma,
    LeftParen,
    RightParen,
}

/// A setting's value.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    One(String),
    List(Vec<String>),
    /// `include("file")` and other function calls.
    Call(Vec<String>),
}

/// `key = value` with its line.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    key: String,
    value: Value,
    line: usize,
}

/// `provider NAME { … }` or `custom NAME { … }`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Block {
    kind: String,
    name: String,
    line: usize,
    entries: Vec<Entry>,
}

/// The file: global settings and sections, in order.
#[derive(Debug, Default)]
struct File {
    globals: Vec<Entry>,
    blocks: Vec<Block>,
}

/// Parses an inadyn.conf.
pub fn parse(text: &str) -> Result<Imported, ParseError> {
    let tokens = tokenize(text)?;
    let file = structure(&tokens)?;
    Ok(map(&file))
}

fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, ParseError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '#' => {
                while chars.peek().is_some_and(|c| *c != '\n') {
                    chars.next();
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                while chars.peek().is_some_and(|c| *c != '\n') {
                    chars.next();
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let start = line;
                chars.next();
                let mut previous = ' ';
                loop {
                    match chars.next() {
                        None => return Err(ParseError::at(start, Problem::UnclosedComment)),
                        Some('/') if previous == '*' => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            previous = c;
                        }
                    }
                }
            }
            '"' | '\'' => {
                let start = line;
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None => return Err(ParseError::at(start, Problem::UnclosedQuote)),
                        Some(q) if q == c => break,
                        Some('\\') if c == '"' => match chars.next() {
                            None => return Err(ParseError::at(start, Problem::UnclosedQuote)),
                            Some('n') => value.push('\n'),
                            Some('t') => value.push('\t'),
                            Some(other) => {
                                if other == '\n' {
                                    line += 1;
                                }
                                value.push(other);
                            }
                        },
                        Some(other) => {
                            if other == '\n' {
                                line += 1;
                            }
                            value.push(other);
                        }
                    }
                }
                tokens.push((Token::Text(value), start));
            }
            '=' => tokens.push((Token::Equals, line)),
            '{' => tokens.push((Token::Open, line)),
            '}' => tokens.push((Token::Close, line)),
            ',' => tokens.push((Token::Comma, line)),
            '(' => tokens.push((Token::LeftParen, line)),
            ')' => tokens.push((Token::RightParen, line)),
            first => {
                let mut word = String::new();
                let mut next = Some(first);
                while let Some(c) = next {
                    if c == '\\' {
                        match chars.next() {
                            Some('\n') => line += 1,
                            Some(escaped) => word.push(escaped),
                            None => {}
                        }
                    } else {
                        word.push(c);
                    }
                    let ends = |c: &char| c.is_whitespace() || "={},()#\"'".contains(*c);
                    next = match chars.peek() {
                        Some(c) if !ends(c) => chars.next(),
                        _ => None,
                    };
                }
                tokens.push((Token::Word(word), line));
            }
        }
    }
    Ok(tokens)
}

/// Tokens → settings and sections.
fn structure(tokens: &[(Token, usize)]) -> Result<File, ParseError> {
    let mut file = File::default();
    let mut position = 0;
    while position < tokens.len() {
        let (token, line) = &tokens[position];
        let Token::Word(key) = token else {
            return Err(unexpected(token, *line));
        };
        position += 1;
        match tokens.get(position) {
            Some((Token::Open, open_line)) => {
                let (entries, next) = section_body(tokens, position + 1, *open_line)?;
                file.blocks.push(Block {
                    kind: key.clone(),
                    name: String::new(),
                    line: *line,
                    entries,
                });
                position = next;
            }
            Some((Token::Word(name) | Token::Text(name), _))
                if matches!(tokens.get(position + 1), Some((Token::Open, _))) =>
            {
                let open_line = tokens[position + 1].1;
                let (entries, next) = section_body(tokens, position + 2, open_line)?;
                file.blocks.push(Block {
                    kind: key.clone(),
                    name: name.clone(),
                    line: *line,
                    entries,
                });
                position = next;
            }
            _ => {
                let (entry, next) = setting(tokens, position - 1)?;
                file.globals.push(entry);
                position = next;
            }
        }
    }
    Ok(file)
}

/// The entries of a section up to its `}`; returns them and the position after the `}`.
fn section_body(
    tokens: &[(Token, usize)],
    mut position: usize,
    open_line: usize,
) -> Result<(Vec<Entry>, usize), ParseError> {
    let mut entries = Vec::new();
    loop {
        match tokens.get(position) {
            None => return Err(ParseError::at(open_line, Problem::UnclosedBrace)),
            Some((Token::Close, _)) => return Ok((entries, position + 1)),
            Some((Token::Word(_), _)) => {
                if let Some((Token::Open, line)) = tokens.get(position + 1) {
                    return Err(ParseError::at(*line, Problem::Syntax("a section inside a section; inadyn's provider and custom sections do not nest".to_string())));
                }
                let (entry, next) = setting(tokens, position)?;
                entries.push(entry);
                position = next;
            }
            Some((token, line)) => return Err(unexpected(token, *line)),
        }
    }
}

/// `key = value`, `key = { a, b }` or `key(args)` at `position`.
fn setting(tokens: &[(Token, usize)], position: usize) -> Result<(Entry, usize), ParseError> {
    let (key, line) = match tokens.get(position) {
        Some((Token::Word(key), line)) => (key.clone(), *line),
        Some((token, line)) => return Err(unexpected(token, *line)),
        None => {
            return Err(ParseError::at(
                0,
                Problem::Syntax("unexpected end of file".to_string()),
            ))
        }
    };
    let value_of = |token: Option<&(Token, usize)>| match token {
        Some((Token::Word(text) | Token::Text(text), _)) => Some(text.clone()),
        _ => None,
    };
    match tokens.get(position + 1) {
        Some((Token::Equals, _)) => match tokens.get(position + 2) {
            Some((Token::Open, open_line)) => {
                let (items, next) = items(tokens, position + 3, *open_line, &Token::Close)?;
                Ok((
                    Entry {
                        key,
                        value: Value::List(items),
                        line,
                    },
                    next,
                ))
            }
            token => match value_of(token) {
                Some(value) => Ok((
                    Entry {
                        key,
                        value: Value::One(value),
                        line,
                    },
                    position + 3,
                )),
                None => Err(ParseError::at(
                    line,
                    Problem::Syntax(format!("`{}` has no value after `=`", shown(&key))),
                )),
            },
        },
        Some((Token::LeftParen, _)) => {
            let (items, next) = items(tokens, position + 2, line, &Token::RightParen)?;
            Ok((
                Entry {
                    key,
                    value: Value::Call(items),
                    line,
                },
                next,
            ))
        }
        _ => Err(ParseError::at(
            line,
            Problem::Syntax(format!("`{}` is not followed by `=`", shown(&key))),
        )),
    }
}

/// Comma-separated values up to `close`.
fn items(
    tokens: &[(Token, usize)],
    mut position: usize,
    open_line: usize,
    close: &Token,
) -> Result<(Vec<String>, usize), ParseError> {
    let mut items = Vec::new();
    loop {
        match tokens.get(position) {
            None => {
                let problem = if *close == Token::Close {
                    Problem::UnclosedBrace
                } else {
                    Problem::Syntax("the `(` opened here is never closed".to_string())
                };
                return Err(ParseError::at(open_line, problem));
            }
            Some((token, _)) if token == close => return Ok((items, position + 1)),
            Some((Token::Comma, _)) => {}
            Some((Token::Word(text) | Token::Text(text), _)) => items.push(text.clone()),
            Some((token, line)) => return Err(unexpected(token, *line)),
        }
        position += 1;
    }
}

fn unexpected(token: &Token, line: usize) -> ParseError {
    match token {
        Token::Close => ParseError::at(line, Problem::UnexpectedClose),
        Token::Word(word) | Token::Text(word) => ParseError::at(
            line,
            Problem::Syntax(format!(
                "`{}` is not a setting (expected `name = value`)",
                shown(word)
            )),
        ),
        _ => ParseError::at(
            line,
            Problem::Syntax("expected a setting name here".to_string()),
        ),
    }
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
    let get = |key: &str| block.entries.iter().find(|e| e.key == key);
    let text = |key: &str| get(key).and_then(one);
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

    let zone = match get("username").and_then(one) {
        Some(zone) => match DomainName::parse(zone) {
            Ok(zone) => Some(zone),
            Err(problem) => {
                imported.note(Section::Records, format!("username (the zone) at line {} is not a name ({problem}); zones are found by the longest suffix", get("username").map(|e| e.line).unwrap_or(0)));
                None
            }
        },
        None => None,
    };
    let token = get("password").and_then(|entry| {
        one(entry).map(|value| TokenOrigin::Line {
            line: entry.line,
            key: "password".to_string(),
            secret: Secret::new(value),
        })
    });
    let token = token.map(|origin| imported.token(origin));
    let proxied = get("proxied").and_then(|entry| {
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
    });
    let ttl = get("ttl").and_then(|entry| {
        match one(entry)
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| "ttl is not a number of seconds".to_string())
            .and_then(Ttl::from_seconds)
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
    });
    let hostnames: Vec<(String, usize)> = match get("hostname") {
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
    };
    for (host, line) in hostnames {
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
        match &zone {
            Some(zone) if name.is_within(zone.as_str()) => record.zone = Some(zone.clone()),
            Some(zone) => record.notes.push(format!(
                "{name} is not in zone {zone} (username); the zone is found by the longest suffix"
            )),
            None => {}
        }
        record.proxied = proxied;
        record.ttl = ttl;
        record.token = token;
        imported.add_record(record);
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

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_FAMILIES: &str = r#"# IPv4 and IPv6, two zones
period = 300
allow-ipv6 = true
verify-address = false

provider cloudflare.com:1 {
    checkip-server = 1.1.1.1
    checkip-path = /cdn-cgi/trace
    username = example.com
    password = "secret-token-1" # a comment
    hostname = { "home.example.com", "vpn.example.com" }
    ttl = 1
    proxied = false
}
provider cloudflare.com:2 {
    checkip-server = dns64.cloudflare-dns.com
    checkip-path = /cdn-cgi/trace
    username = example.com
    password = secret-token-1
    hostname = home.example.com
}
/* another account */
provider default@cloudflare.com:3 {
    username = example.org
    password = 'secret-token-2'
    hostname = www.example.org
    proxied = true
    ttl = 300
}
custom namecheap {
    username = me
    password = x
    ddns-server = dynamicdns.park-your-domain.com
    hostname = { "@", "www" }
}
provider freedns { username = a  password = b  hostname = c.example.net }
"#;

    #[test]
    fn several_blocks_hostnames_and_families() {
        let imported = parse(TWO_FAMILIES).expect("parses");
        let records: Vec<(String, Vec<Family>)> = imported
            .records
            .iter()
            .map(|r| (r.name.to_string(), r.families.clone()))
            .collect();
        assert_eq!(
            records,
            [
                ("home.example.com".to_string(), vec![Family::V4, Family::V6]),
                ("vpn.example.com".to_string(), vec![Family::V4]),
                ("www.example.org".to_string(), vec![Family::V4]),
            ]
        );
        assert_eq!(imported.ipv4, ["cloudflare.trace"]);
        assert_eq!(imported.ipv6, ["cloudflare.trace"]);
        assert_eq!(imported.interval, Some(std::time::Duration::from_secs(300)));
        assert_eq!(imported.tokens.len(), 2);
        assert_eq!(imported.records[2].proxied, Some(true));
        assert_eq!(imported.records[2].ttl, Some(Ttl::Seconds(300)));
        assert_eq!(imported.records[0].ttl, Some(Ttl::Auto));
        let notes: Vec<&str> = imported.notes.iter().map(|n| n.text.as_str()).collect();
        assert!(
            notes.iter().any(|n| n.starts_with("custom namecheap")),
            "{notes:?}"
        );
        assert!(
            notes.iter().any(|n| n.starts_with("provider freedns")),
            "{notes:?}"
        );
        assert!(
            notes.iter().any(|n| n.starts_with("verify-address")),
            "{notes:?}"
        );
        let text = imported.to_toml("test");
        assert!(!text.contains("secret-token"), "{text}");
    }

    #[test]
    fn malformed_input_names_the_line() {
        for (text, line, problem) in [
            (
                "period = 300\nprovider cloudflare.com {\n  username = a\n",
                2,
                Problem::UnclosedBrace,
            ),
            (
                "provider cloudflare.com {\n  hostname = { \"a\", \"b\"\n}\n",
                1,
                Problem::UnclosedBrace,
            ),
            ("period = 300\n}\n", 2, Problem::UnexpectedClose),
            ("x = 1\npassword = \"abc\n", 2, Problem::UnclosedQuote),
            ("x = 1\n/* never\nclosed\n", 2, Problem::UnclosedComment),
        ] {
            let error = parse(text).expect_err(text);
            assert_eq!((error.line, error.problem), (line, problem), "{text}");
        }
        assert!(matches!(
            parse("period 300\n").map_err(|e| e.problem),
            Err(Problem::Syntax(_))
        ));
    }

    #[test]
    fn checkip_servers_map_to_providers() {
        for (server, path, ssl, expected) in [
            (None, None, true, "cloudflare.trace"),
            (Some("default"), None, true, "cloudflare.trace"),
            (
                Some("1.1.1.1"),
                Some("/cdn-cgi/trace"),
                true,
                "cloudflare.trace",
            ),
            (
                Some("trace.example.net"),
                Some("/cdn-cgi/trace"),
                true,
                "trace:https://trace.example.net/cdn-cgi/trace",
            ),
            (
                Some("api.ipify.org"),
                None,
                true,
                "url:https://api.ipify.org/",
            ),
            (
                Some("checkip.example.com:8080"),
                Some("ip"),
                false,
                "url:http://checkip.example.com:8080/ip",
            ),
        ] {
            let mut imported = Imported::default();
            assert_eq!(
                checkip_provider(server, path, ssl, 1, &mut imported),
                expected,
                "{server:?}"
            );
        }
    }
}
