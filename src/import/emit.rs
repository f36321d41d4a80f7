//! The one writer that turns an `Imported` into flaredns's TOML and the hints for stderr:
//! quoting, section order, token file names and the rule that nothing secret is printed live
//! here, once. It reads nothing and validates names no further than `DomainName` already does.

use std::fmt::Write as _;
use std::time::Duration;

use super::imported::{Imported, Record, Section, TokenOrigin, Ttl, WafList, TOKEN_FILE};
use crate::model::Family;

impl Imported {
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

    /// The flaredns config, as TOML text: the sections in the order the config documents
    /// them, each with its notes on top.
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
        let enabled = self.write_detect(&mut out);
        self.write_daemon(&mut out);
        out.push('\n');
        self.notes_of(Section::Records, &mut out);
        if self.records.is_empty() && self.waf_lists.is_empty() {
            out.push_str("# No Cloudflare record was found; add one, e.g.:\n# [[records]]\n# name = \"home.example.com\"\n");
        }
        for record in &self.records {
            self.write_record(record, &enabled, &mut out);
        }
        for waf in &self.waf_lists {
            write_waf_list(waf, &mut out);
        }
        self.write_notify(&mut out);
        self.scrub(out)
    }

    /// `[detect]`; returns the families it leaves on, which records are written for.
    fn write_detect(&self, out: &mut String) -> Vec<Family> {
        out.push_str("\n[detect]\n");
        self.notes_of(Section::Detect, out);
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
        [(Family::V4, &ipv4), (Family::V6, &ipv6)]
            .into_iter()
            .filter(|(_, providers)| !providers.is_empty())
            .map(|(family, _)| family)
            .collect()
    }

    /// `[daemon]`, when there is an interval or a note to put in it.
    fn write_daemon(&self, out: &mut String) {
        let daemon_notes = self.notes.iter().any(|n| n.section == Section::Daemon);
        if self.interval.is_none() && !daemon_notes {
            return;
        }
        out.push_str("\n[daemon]\n");
        self.notes_of(Section::Daemon, out);
        if let Some(interval) = self.interval {
            let _ = writeln!(out, "interval = {}", quote(&duration(interval)));
        }
    }

    /// `[notify]`, when there is a receiver or a note to put in it.
    fn write_notify(&self, out: &mut String) {
        let notify = self.healthchecks.is_some()
            || self.uptime_kuma.is_some()
            || !self.urls.is_empty()
            || self.notes.iter().any(|n| n.section == Section::Notify);
        if !notify {
            return;
        }
        out.push_str("\n[notify]\n");
        self.notes_of(Section::Notify, out);
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
            .map(|secret| secret.expose())
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

/// One `[[waf_lists]]` entry.
fn write_waf_list(waf: &WafList, out: &mut String) {
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
    use crate::import::imported::Secret;
    use crate::model::DomainName;

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
        let mut imported = Imported::default();
        imported.provider(Family::V4, "cloudflare.trace");
        imported.provider(Family::V6, "iface:eth0");
        imported.interval = Some(Duration::from_secs(300));
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
