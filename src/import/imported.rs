//! What an import found, as typed values: the records, providers, tokens (never printed:
//! `Secret`) and notes the three readers (ddclient, inadyn, favonia) fill in, merged as they
//! come (a name listed once per family is one record; the same secret is one token). It
//! writes nothing: `emit` turns an `Imported` into flaredns's TOML.

use std::collections::{HashMap, HashSet};
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

    /// The secret itself, for scrubbing it out of the output.
    pub(super) fn expose(&self) -> &str {
        &self.0
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
    /// The secret, unless the token is in a file.
    pub(super) fn secret(&self) -> Option<&Secret> {
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
    pub fn from_seconds(seconds: u64) -> Result<Ttl, TtlOutOfRange> {
        match seconds {
            1 => Ok(Ttl::Auto),
            60..=86400 => Ok(Ttl::Seconds(seconds as u32)),
            _ => Err(TtlOutOfRange { seconds }),
        }
    }
}

/// A TTL Cloudflare does not take. `Display` is the phrase for a note.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("ttl {seconds} is outside Cloudflare's 60..86400 seconds (or 1 for automatic)")]
pub struct TtlOutOfRange {
    pub seconds: u64,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_follow_cloudflares_range() {
        for (seconds, expected) in [
            (1, Ok(Ttl::Auto)),
            (60, Ok(Ttl::Seconds(60))),
            (86400, Ok(Ttl::Seconds(86400))),
            (0, Err(TtlOutOfRange { seconds: 0 })),
            (59, Err(TtlOutOfRange { seconds: 59 })),
            (86401, Err(TtlOutOfRange { seconds: 86401 })),
            (u64::MAX, Err(TtlOutOfRange { seconds: u64::MAX })),
        ] {
            assert_eq!(Ttl::from_seconds(seconds), expected, "{seconds}");
        }
        assert_eq!(
            TtlOutOfRange { seconds: 5 }.to_string(),
            "ttl 5 is outside Cloudflare's 60..86400 seconds (or 1 for automatic)"
        );
    }
}
