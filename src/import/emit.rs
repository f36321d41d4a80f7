//! What an import found, as typed values (`Imported`), and the one writer that turns it into
//! flaredns's TOML. The three readers (ddclient, inadyn, favonia) only fill an `Imported`;
//! quoting, section order, token file names and the rule that nothing secret is printed live
//! here, once. It reads nothing and validates names no further than `DomainName` already does.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

use crate::model::{DomainName, Family};

/// Where the main token goes; further distinct tokens get `-2`, `-3`, … after it.
pub const TOKEN_FILE: &str = "/etc/flaredns/token";

/// A setting's value that must never be printed (a password, a token). `Debug` is redacted;
/// the text is kept only to tell two tokens apart and to scrub the output.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(text: &str) -> Secret {
        Secret(text.to_string())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where one token is in the input, so stderr can say where to copy it from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenOrigin {
    /// Written in the input at a line, under a key (`password=`, `CLOUDFLARE_API_TOKEN=`).
    Line {
        line: usize,
        key: String,
        secret: Secret,
    },
    /// A Global API Key with an e-mail (ddclient `login=EMAIL`): flaredns needs a token.
    GlobalKey { line: usize, secret: Secret },
    /// In an environment variable of this process.
    Env { name: String, secret: Secret },
    /// Already in a file; the config names that file.
    File { path: String },
}

impl TokenOrigin {
    fn secret(&self) -> Option<&Secret> {
        match self {
            TokenOrigin::Line { secret, .. }
            | TokenOrigin::GlobalKey { secret, .. }
            | TokenOrigin::Env { secret, .. } => Some(secret),
            TokenOrigin::File { .. } => None,
        }
    }
}

/// `ttl` of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    Auto,
    Seconds(u32),
}

impl Ttl {
    /// Reads the other tools' convention: 1 is Cloudflare's "automatic", 60..=86400 seconds.
    pub fn from_seconds(seconds: u64) -> Result<Ttl, String> {
        match seconds {
            1 => Ok(Ttl::Auto),
            60..=86400 => Ok(Ttl::Seconds(seconds as u32)),
            _ => Err(format!(
                "ttl {seconds} is outside Cloudflare's 60..86400 seconds (or 1 for automatic)"
            )),
        }
    }
}

/// One record to manage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub name: DomainName,
    pub zone: Option<DomainName>,
    /// The record types; emitted as `types` only when they differ from the enabled families.
    pub families: Vec<Family>,
    pub proxied: Option<bool>,
    pub ttl: Option<Ttl>,
    pub comment: Option<String>,
    /// Index into `Imported::tokens`; `None`: the main token.
    pub token: Option<usize>,
    /// Comments written just above the record.
    pub notes: Vec<String>,
}

impl Record {
    /// A record with nothing pinned.
    pub fn new(name: DomainName, families: Vec<Family>) -> Record {
        Record {
            name,
            zone: None,
            families,
            proxied: None,
            ttl: None,
            comment: None,
            token: None,
            notes: Vec::new(),
        }
    }
}

/// One `[[waf_lists]]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WafList {
    pub account: String,
    pub name: String,
    pub description: Option<String>,
    pub comment: Option<String>,
    pub ipv4_prefix: Option<u8>,
    pub ipv6_prefix: Option<u8>,
}

/// The section a note is printed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    General,
    Detect,
    Daemon,
    Records,
    Notify,
}

/// A setting that did not map, and why; printed as a `#` comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub section: Section,
    pub text: String,
}

/// What an import found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Imported {
    pub records: Vec<Record>,
    /// Providers per family in flaredns syntax; `[]` turns the family off.
    pub ipv4: Vec<String>,
    pub ipv6: Vec<String>,
    pub detect_timeout: Option<Duration>,
    pub interval: Option<Duration>,
    pub healthchecks: Option<String>,
    pub uptime_kuma: Option<String>,
    pub urls: Vec<String>,
    pub waf_lists: Vec<WafList>,
    pub notes: Vec<Note>,
    /// Distinct tokens in order of appearance; the first is the main token.
    pub tokens: Vec<TokenOrigin>,
    /// Indexes that keep merging linear: a 1 MiB input can name 100 000 hosts, and a
    /// search through everything seen per host would take hours.
    record_index: HashMap<DomainName, usize>,
    token_index: HashMap<TokenKey, usize>,
    provider_index: HashSet<(Family, String)>,
}

/// What makes two tokens the same: the secret, or the file that holds it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum TokenKey {
    Secret(Secret),
    File(String),
}

impl Imported {
    /// Adds a note to a section.
    pub fn note(&mut self, section: Section, text: impl Into<String>) {
        self.notes.push(Note {
            section,
            text: text.into(),
        });
    }

    /// Adds a provider to a family's list unless it is there already.
    pub fn provider(&mut self, family: Family, provider: &str) {
        if !self.provider_index.insert((family, provider.to_string())) {
            return;
        }
        match family {
            Family::V4 => self.ipv4.push(provider.to_string()),
            Family::V6 => self.ipv6.push(provider.to_string()),
        }
    }

    /// The index of a token, adding it when it is new (same secret = same token).
    pub fn token(&mut self, origin: TokenOrigin) -> usize {
        let key = match (&origin, origin.secret()) {
            (_, Some(secret)) => TokenKey::Secret(secret.clone()),
            (TokenOrigin::File { path }, None) => TokenKey::File(path.clone()),
            (_, None) => TokenKey::File(String::new()),
        };
        if let Some(index) = self.token_index.get(&key) {
            return *index;
        }
        self.tokens.push(origin);
        self.token_index.insert(key, self.tokens.len() - 1);
        self.tokens.len() - 1
    }

    /// Adds a record, or merges its families into an earlier record of the same name (a
    /// config lists each name once; other tools list it once per family).
    pub fn add_record(&mut self, record: Record) {
        let known = self
            .record_index
            .get(&record.name)
            .and_then(|index| self.records.get_mut(*index));
        if let Some(known) = known {
            for family in record.families {
                if !known.families.contains(&family) {
                    known.families.push(family);
                    known.families.sort();
                }
            }
            if known.zone != record.zone
                || known.proxied != record.proxied
                || known.ttl != record.ttl
                || known.token != record.token
            {
                known.notes.push(format!(
                    "{} is listed more than once with different settings; the first one's are kept",
                    known.name
                ));
            }
            return;
        }
        self.record_index
            .insert(record.name.clone(), self.records.len());
        self.records.push(record);
    }

    /// The token file a token index is written to.
    pub fn token_file(&self, index: usize) -> String {
        match self.tokens.get(index) {
            Some(TokenOrigin::File { path }) => path.clone(),
            _ if index == 0 => TOKEN_FILE.to_string(),
            _ => format!("{TOKEN_FILE}-{}", index + 1),
        }
    }

    /// What stderr says about the tokens: where each one is and where it goes. Never the
    /// token itself.
    pub fn token_hints(&self, input: &str) -> Vec<String> {
        if self.tokens.is_empty() {
            return vec![format!("no API token found in {input}: create one (Zone.DNS Edit, Zone.Zone Read) and put it into {TOKEN_FILE}, mode 0600")];
        }
        self.tokens
            .iter()
            .enumerate()
            .map(|(index, origin)| {
                let file = self.token_file(index);
                match origin {
                    TokenOrigin::Line { line, key, .. } => format!("copy the token from {input} line {line} ({key}=) into {file}, mode 0600"),
                    TokenOrigin::GlobalKey { line, .. } => format!("{input} line {line} holds a Global API Key (login is an e-mail address); flaredns needs an API token instead: create one (Zone.DNS Edit, Zone.Zone Read) and put it into {file}, mode 0600"),
                    TokenOrigin::Env { name, .. } => format!("copy the token from the environment variable {name} into {file}, mode 0600"),
                    TokenOrigin::File { path } => format!("the config reads the token from {path}, as before; make sure the flaredns user may read it"),
                }
            })
            .collect()
    }

    /// The flaredns config, as TOML text.
    pub fn to_toml(&self, origin: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# flaredns config imported from {}.",
            comment_text(origin)
        );
        out.push_str("# Check it with `flaredns --config FILE check-config`, then look at what it would\n# do with `flaredns --config FILE --once --dry-run`.\n");
        self.notes_of(Section::General, &mut out);
        out.push_str("\n[cloudflare]\n");
        let _ = writeln!(out, "api_token_file = {}", quote(&self.token_file(0)));

        out.push_str("\n[detect]\n");
        self.notes_of(Section::Detect, &mut out);
        let (ipv4, ipv6) = self.enabled_lists();
        if self.ipv4.is_empty() && self.ipv6.is_empty() {
            out.push_str(
                "# both families were off in the input; flaredns needs one, so IPv4 is on\n",
            );
        }
        let _ = writeln!(out, "ipv4 = {}", list(&ipv4));
        let _ = writeln!(out, "ipv6 = {}", list(&ipv6));
        if let Some(timeout) = self.detect_timeout {
            let _ = writeln!(out, "timeout = {}", quote(&duration(timeout)));
        }

        let daemon_notes = self.notes.iter().any(|n| n.section == Section::Daemon);
        if self.interval.is_some() || daemon_notes {
            out.push_str("\n[daemon]\n");
            self.notes_of(Section::Daemon, &mut out);
            if let Some(interval) = self.interval {
                let _ = writeln!(out, "interval = {}", quote(&duration(interval)));
            }
        }

        let enabled: Vec<Family> = [(Family::V4, &ipv4), (Family::V6, &ipv6)]
            .into_iter()
            .filter(|(_, providers)| !providers.is_empty())
            .map(|(family, _)| family)
            .collect();
        out.push('\n');
        self.notes_of(Section::Records, &mut out);
        if self.records.is_empty() && self.waf_lists.is_empty() {
            out.push_str("# No Cloudflare record was found; add one, e.g.:\n# [[records]]\n# name = \"home.example.com\"\n");
        }
        for record in &self.records {
            self.write_record(record, &enabled, &mut out);
        }
        for waf in &self.waf_lists {
            out.push_str("\n[[waf_lists]]\n");
            let _ = writeln!(out, "account = {}", quote(&waf.account));
            let _ = writeln!(out, "name = {}", quote(&waf.name));
            if let Some(description) = &waf.description {
                let _ = writeln!(out, "description = {}", quote(description));
            }
            if let Some(comment) = &waf.comment {
                let _ = writeln!(out, "comment = {}", quote(comment));
            }
            if let Some(prefix) = waf.ipv4_prefix {
                let _ = writeln!(out, "ipv4_prefix = {prefix}");
            }
            if let Some(prefix) = waf.ipv6_prefix {
                let _ = writeln!(out, "ipv6_prefix = {prefix}");
            }
        }

        let notify = self.healthchecks.is_some()
            || self.uptime_kuma.is_some()
            || !self.urls.is_empty()
            || self.notes.iter().any(|n| n.section == Section::Notify);
        if notify {
            out.push_str("\n[notify]\n");
            self.notes_of(Section::Notify, &mut out);
            if let Some(url) = &self.healthchecks {
                let _ = writeln!(out, "healthchecks = {}", quote(url));
            }
            if let Some(url) = &self.uptime_kuma {
                let _ = writeln!(out, "uptime_kuma = {}", quote(url));
            }
            if !self.urls.is_empty() {
                let _ = writeln!(out, "urls = {}", list(&self.urls));
            }
        }
        self.scrub(out)
    }

    /// The provider lists as written: at least one family stays on (flaredns refuses a
    /// config with both off), and IPv4 is the one kept.
    fn enabled_lists(&self) -> (Vec<String>, Vec<String>) {
        if self.ipv4.is_empty() && self.ipv6.is_empty() {
            return (vec!["cloudflare.trace".to_string()], Vec::new());
        }
        (self.ipv4.clone(), self.ipv6.clone())
    }

    fn write_record(&self, record: &Record, enabled: &[Family], out: &mut String) {
        let families: Vec<Family> = record
            .families
            .iter()
            .copied()
            .filter(|family| enabled.contains(family))
            .collect();
        out.push('\n');
        for note in &record.notes {
            let _ = writeln!(out, "# {}", comment_text(note));
        }
        if families.is_empty() {
            let types: Vec<&str> = record.families.iter().map(|f| f.record_type()).collect();
            let _ = writeln!(
                out,
                "# [[records]] name = {} was skipped: it has only {} records and that family's detection is off",
                quote(record.name.as_str()),
                types.join("/")
            );
            return;
        }
        out.push_str("[[records]]\n");
        let _ = writeln!(out, "name = {}", quote(record.name.as_str()));
        if let Some(zone) = &record.zone {
            let _ = writeln!(out, "zone = {}", quote(zone.as_str()));
        }
        if families != enabled {
            let types: Vec<String> = families
                .iter()
                .map(|f| f.record_type().to_string())
                .collect();
            let _ = writeln!(out, "types = {}", list(&types));
        }
        if let Some(proxied) = record.proxied {
            let _ = writeln!(out, "proxied = {proxied}");
        }
        match record.ttl {
            Some(Ttl::Auto) => out.push_str("ttl = \"auto\"\n"),
            Some(Ttl::Seconds(seconds)) => {
                let _ = writeln!(out, "ttl = {seconds}");
            }
            None => {}
        }
        if let Some(comment) = &record.comment {
            let _ = writeln!(out, "comment = {}", quote(comment));
        }
        if let Some(token) = record.token.filter(|index| *index > 0) {
            let _ = writeln!(out, "api_token_file = {}", quote(&self.token_file(token)));
        }
    }

    fn notes_of(&self, section: Section, out: &mut String) {
        for note in self.notes.iter().filter(|n| n.section == section) {
            let _ = writeln!(out, "# {}", comment_text(&note.text));
        }
    }

    /// Belt and braces: no token text survives in a comment, whatever a note quoted. Only
    /// comment lines are scrubbed (a token that happens to equal a key must not break the
    /// TOML), very short values are left alone, and nothing prints a password's value in the
    /// first place.
    fn scrub(&self, out: String) -> String {
        let secrets: Vec<&str> = self
            .tokens
            .iter()
            .filter_map(TokenOrigin::secret)
            .map(|secret| secret.0.as_str())
            .filter(|secret| secret.len() >= 8)
            // Real inputs hold a token or two; a hostile one with thousands must not make this
            // pass quadratic. Beyond these, the rule that no note quotes a password holds alone.
            .take(64)
            .collect();
        let mut scrubbed = String::with_capacity(out.len());
        for line in out.split_inclusive('\n') {
            if line.starts_with('#') {
                let mut line = line.to_string();
                for secret in &secrets {
                    line = line.replace(secret, "<redacted>");
                }
                // A token the reader did not recognise as one (a password continued on the
                // next line, read as a host) is still token-shaped: a long run of token
                // characters. No host label or option value in these formats looks like it.
                scrubbed.push_str(&redact_token_shaped(&line));
            } else {
                scrubbed.push_str(line);
            }
        }
        scrubbed
    }
}

pub use crate::config::toml_quote as quote;

/// A TOML array of strings.
fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| quote(item)).collect();
    format!("[{}]", quoted.join(", "))
}

/// Text fit for one comment line: no line breaks or control characters, at most 300
/// characters (outside text is quoted in notes, and a comment must stay a comment).
pub fn comment_text(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    if text.chars().count() > 300 {
        out.push('…');
    }
    out
}

/// Outside text shown in a note: one line, at most 60 characters.
pub fn shown(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(60)
        .collect();
    if text.chars().count() > 60 {
        out.push('…');
    }
    out
}

/// A duration in humantime form ("5m", "1h 30m").
pub fn duration(value: Duration) -> String {
    humantime::format_duration(value).to_string()
}

/// `line` with every run of 30 or more token characters (letters, digits, `-`, `_`) replaced
/// by `<redacted>`: Cloudflare's API tokens are 40 such characters, global keys 37.
fn redact_token_shaped(line: &str) -> String {
    let token_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out = String::with_capacity(line.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 30 {
            out.push_str("<redacted>");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in line.chars() {
        if token_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> DomainName {
        DomainName::parse(text).expect("valid name")
    }

    #[test]
    fn quoting_escapes_what_toml_needs() {
        for (input, expected) in [
            ("plain", "\"plain\""),
            ("a\"b", "\"a\\\"b\""),
            ("a\\b", "\"a\\\\b\""),
            ("a\nb", "\"a\\u000Ab\""),
        ] {
            assert_eq!(quote(input), expected, "{input}");
        }
    }

    #[test]
    fn output_parses_as_toml_with_every_section() {
        let mut imported = Imported {
            ipv4: vec!["cloudflare.trace".to_string()],
            ipv6: vec!["iface:eth0".to_string()],
            interval: Some(Duration::from_secs(300)),
            ..Imported::default()
        };
        let mut record = Record::new(name("home.example.com"), vec![Family::V4]);
        record.ttl = Some(Ttl::Auto);
        record.proxied = Some(true);
        record.comment = Some("quote \" and\nnewline".to_string());
        imported.add_record(record);
        imported.add_record(Record::new(name("home.example.com"), vec![Family::V6]));
        imported.healthchecks = Some("https://hc-ping.com/uuid".to_string());
        imported.note(Section::Detect, "a note\nwith a line break");
        let text = imported.to_toml("test");
        let table: toml::Table = toml::from_str(&text).expect(&text);
        assert_eq!(table["daemon"]["interval"].as_str(), Some("5m"));
        let records = table["records"].as_array().expect("records");
        assert_eq!(records.len(), 1, "{text}");
        assert!(records[0].get("types").is_none(), "both families: {text}");
    }

    #[test]
    fn secrets_are_scrubbed_and_distinct_tokens_get_their_own_files() {
        let mut imported = Imported::default();
        let first = imported.token(TokenOrigin::Line {
            line: 3,
            key: "password".to_string(),
            secret: Secret::new("secret-token-one"),
        });
        let again = imported.token(TokenOrigin::Line {
            line: 9,
            key: "password".to_string(),
            secret: Secret::new("secret-token-one"),
        });
        let second = imported.token(TokenOrigin::Line {
            line: 12,
            key: "password".to_string(),
            secret: Secret::new("secret-token-two"),
        });
        assert_eq!((first, again, second), (0, 0, 1));
        let mut record = Record::new(name("a.example.com"), vec![Family::V4]);
        record.token = Some(second);
        imported.add_record(record);
        imported.note(Section::General, "oops secret-token-two");
        let text = imported.to_toml("test");
        assert!(!text.contains("secret-token"), "{text}");
        assert!(text.contains("/etc/flaredns/token-2"), "{text}");
        let hints = imported.token_hints("f.conf").join("\n");
        assert!(hints.contains("f.conf line 3 (password=)"), "{hints}");
        assert!(!hints.contains("secret-token"), "{hints}");
        assert_eq!(format!("{:?}", Secret::new("x")), "<redacted>");
    }
}
