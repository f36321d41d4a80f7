//! The vocabulary every other module speaks: record names, record types, families and the
//! per-record settings a user can pin. These are plain values with no I/O, so the planner and
//! the tests can build them freely; parsing user text into them happens once, in `config`.

use std::fmt;
use std::net::IpAddr;

/// An IP family. Each family is detected, checked and applied on its own, so an IPv6 failure
/// never blocks the IPv4 update. In files, events and labels it is `ipv4` or `ipv6`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Family {
    #[serde(rename = "ipv4")]
    V4,
    #[serde(rename = "ipv6")]
    V6,
}

impl Family {
    /// `ipv4` / `ipv6`.
    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        }
    }

    /// The DNS record type that carries an address of this family.
    pub fn record_type(self) -> &'static str {
        match self {
            Family::V4 => "A",
            Family::V6 => "AAAA",
        }
    }

    /// The family of an address.
    pub fn of(ip: IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// Parses "A" or "AAAA" (any case).
    pub fn from_record_type(text: &str) -> Option<Family> {
        match text.to_ascii_uppercase().as_str() {
            "A" => Some(Family::V4),
            "AAAA" => Some(Family::V6),
            _ => None,
        }
    }

    /// "IPv4" or "IPv6", for sentences.
    pub fn describe(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.record_type())
    }
}

/// True when `label` (an `xn--` label) decodes under UTS #46 and encodes back to itself.
fn is_idna_label(label: &str) -> bool {
    let (unicode, result) = idna::uts46::Uts46::new().to_unicode(
        label.as_bytes(),
        idna::uts46::AsciiDenyList::EMPTY,
        idna::uts46::Hyphens::Allow,
    );
    result.is_ok()
        && unicode != label
        && idna::domain_to_ascii(&unicode).is_ok_and(|ascii| ascii == label)
}

/// Why a text is not a `DomainName`. `Display` is a phrase fit to follow "invalid name"; the
/// canonical form of what was written (or the label at fault) travels with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("the name is longer than 253 characters")]
    TooLong,
    #[error("`{name}` is not fully qualified (write it with its zone, e.g. `{name}.example.com`)")]
    NotQualified { name: String },
    #[error("`{name}` has `*` inside a label or below the first label; only a leading `*.` label makes a wildcard")]
    MisplacedWildcard { name: String },
    #[error("`{name}` has an empty label")]
    EmptyLabel { name: String },
    #[error("label `{label}` is longer than 63 characters")]
    LabelTooLong { label: String },
    #[error("label `{label}` may hold only letters, digits, `-`, `_` and `*` (write internationalised names in their xn-- form)")]
    BadCharacter { label: String },
    #[error("label `{label}` starts with xn-- but is not a valid IDNA label; write the name in Unicode, or its xn-- form as IDNA gives it")]
    BadIdnaLabel { label: String },
    #[error("label `{label}` starts or ends with `-`")]
    EdgeHyphen { label: String },
    /// UTS #46 refuses this one character of a Unicode label.
    #[error("label `{label}` holds `{character}` (U+{:04X}), which IDNA (UTS #46) does not allow in a name", u32::from(*character))]
    IdnaCharacter { label: String, character: char },
    /// UTS #46 refuses the Unicode label as a whole.
    #[error("label `{label}` breaks the IDNA (UTS #46) rules (mixed right-to-left text, a misplaced joiner or combining mark, or a malformed xn-- label)")]
    IdnaRules { label: String },
}

/// A fully qualified DNS name in canonical form: lowercase, no trailing dot.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DomainName(String);

impl DomainName {
    /// Validates and canonicalises a name. A name written in Unicode (`bücher.example.com`)
    /// becomes its IDNA form (UTS #46, nontransitional: `xn--bcher-kva.example.com`), which is
    /// what Cloudflare and DNS hold.
    pub fn parse(text: &str) -> Result<DomainName, NameError> {
        let text = text.trim();
        let trimmed = if text.is_ascii() {
            text.trim_end_matches('.').to_ascii_lowercase()
        } else {
            idna_ascii(text)?.trim_end_matches('.').to_string()
        };
        if trimmed.is_empty() {
            return Err(NameError::Empty);
        }
        if trimmed.len() > 253 {
            return Err(NameError::TooLong);
        }
        if !trimmed.contains('.') {
            return Err(NameError::NotQualified { name: trimmed });
        }
        for (position, label) in trimmed.split('.').enumerate() {
            // A wildcard is a whole first label, `*.example.com`; `a*b` or `a.*.b` is not.
            if label.contains('*') && (label != "*" || position != 0) {
                return Err(NameError::MisplacedWildcard { name: trimmed });
            }
            if label.is_empty() {
                return Err(NameError::EmptyLabel { name: trimmed });
            }
            if label.len() > 63 {
                return Err(NameError::LabelTooLong {
                    label: label.to_string(),
                });
            }
            let valid = label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '*');
            if !valid {
                return Err(NameError::BadCharacter {
                    label: label.to_string(),
                });
            }
            // An `xn--` label must be the IDNA form of something: decoding it and encoding
            // the result again gives it back (`xn--zz` or a label decoding to a control
            // character does not).
            if label.starts_with("xn--") && !is_idna_label(label) {
                return Err(NameError::BadIdnaLabel {
                    label: label.to_string(),
                });
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(NameError::EdgeHyphen {
                    label: label.to_string(),
                });
            }
        }
        Ok(DomainName(trimmed))
    }

    /// The name as text (the `xn--` form of an internationalised name).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name in Unicode when it has an `xn--` label (`bücher.example.com`), for people;
    /// `None` when it reads the same either way.
    pub fn unicode(&self) -> Option<String> {
        if !self.0.split('.').any(|label| label.starts_with("xn--")) {
            return None;
        }
        let (unicode, result) = idna::uts46::Uts46::new().to_unicode(
            self.0.as_bytes(),
            idna::uts46::AsciiDenyList::EMPTY,
            idna::uts46::Hyphens::Allow,
        );
        (result.is_ok() && unicode != self.0).then(|| unicode.into_owned())
    }

    /// The name for people: `xn--bcher-kva.example.com (bücher.example.com)`, or just the
    /// name when it has no other form.
    pub fn shown(&self) -> String {
        match self.unicode() {
            Some(unicode) => format!("{} ({unicode})", self.0),
            None => self.0.clone(),
        }
    }

    /// True when `self` equals `zone` or lies below it.
    pub fn is_within(&self, zone: &str) -> bool {
        let zone = zone.trim_end_matches('.');
        self.0.eq_ignore_ascii_case(zone)
            || (self.0.len() > zone.len()
                && self.0.as_bytes()[self.0.len() - zone.len() - 1] == b'.'
                && self.0[self.0.len() - zone.len()..].eq_ignore_ascii_case(zone))
    }
}

/// A Unicode name in its IDNA form (UTS #46, nontransitional), or why UTS #46 refuses it: the
/// label, and the character when one alone is refused.
fn idna_ascii(text: &str) -> Result<String, NameError> {
    let to_ascii = |text: &str| {
        idna::uts46::Uts46::new()
            .to_ascii(
                text.as_bytes(),
                idna::uts46::AsciiDenyList::EMPTY,
                idna::uts46::Hyphens::Allow,
                idna::uts46::DnsLength::Ignore,
            )
            .map(|ascii| ascii.into_owned())
    };
    to_ascii(text).map_err(|_| {
        let label = text
            .split(['.', '\u{3002}', '\u{ff0e}', '\u{ff61}'])
            .find(|label| to_ascii(label).is_err())
            .unwrap_or(text);
        match label
            .chars()
            .find(|c| !c.is_ascii() && to_ascii(&c.to_string()).is_err())
        {
            Some(character) => NameError::IdnaCharacter {
                label: label.to_string(),
                character,
            },
            None => NameError::IdnaRules {
                label: label.to_string(),
            },
        }
    })
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `proxied` as configured: leave existing records alone, or force a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ProxiedSetting {
    #[default]
    Keep,
    Set(bool),
}

/// `ttl` as configured. `Auto` is Cloudflare's TTL 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TtlSetting {
    #[default]
    Keep,
    Auto,
    Seconds(u32),
}

impl TtlSetting {
    /// The wire value Cloudflare uses, when the config pins one.
    pub fn pinned(self) -> Option<u32> {
        match self {
            TtlSetting::Keep => None,
            TtlSetting::Auto => Some(1),
            TtlSetting::Seconds(seconds) => Some(seconds),
        }
    }
}

/// Cloudflare's TTL value meaning "automatic".
pub const TTL_AUTO: u32 = 1;

/// What the user asked for at one name, in one family, once the address is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredRecord {
    pub name: DomainName,
    pub family: Family,
    pub content: IpAddr,
    pub proxied: ProxiedSetting,
    pub ttl: TtlSetting,
    pub comment: Option<String>,
    pub replace_cname: bool,
}

/// A record as the API reports it. `record_type` is any type Cloudflare knows (the planner
/// must see CNAME, TXT and the rest to leave them alone), so it stays a string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedRecord {
    pub id: String,
    pub name: DomainName,
    pub record_type: String,
    pub content: String,
    pub proxied: bool,
    pub ttl: u32,
    pub comment: Option<String>,
}

/// A zone of the account: its id, apex name and authoritative nameservers.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Zone {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub name_servers: Vec<String>,
}

/// Picks the zone for a name: the longest zone name that the name lies within.
pub fn longest_suffix_zone<'z>(name: &DomainName, zones: &'z [Zone]) -> Option<&'z Zone> {
    zones
        .iter()
        .filter(|zone| name.is_within(&zone.name))
        .max_by_key(|zone| zone.name.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str) -> Zone {
        Zone {
            id: format!("id-{name}"),
            name: name.to_string(),
            name_servers: vec![],
        }
    }

    #[test]
    fn names_are_canonicalised() {
        assert_eq!(
            DomainName::parse("Home.Example.COM.").map(|n| n.0),
            Ok("home.example.com".to_string())
        );
    }

    #[test]
    fn bad_names_are_refused_by_kind() {
        let label = |text: &str| text.to_string();
        let long_label = "a".repeat(64);
        let long_name = format!("{}.example.com", ["abcdefghij"; 25].join("."));
        let cases = [
            (".", NameError::Empty),
            (long_name.as_str(), NameError::TooLong),
            (
                "Localhost.",
                NameError::NotQualified {
                    name: label("localhost"),
                },
            ),
            (
                "a.*.example.com",
                NameError::MisplacedWildcard {
                    name: label("a.*.example.com"),
                },
            ),
            (
                "a*b.example.com",
                NameError::MisplacedWildcard {
                    name: label("a*b.example.com"),
                },
            ),
            (
                "a..b",
                NameError::EmptyLabel {
                    name: label("a..b"),
                },
            ),
            (
                &format!("{long_label}.example.com"),
                NameError::LabelTooLong {
                    label: long_label.clone(),
                },
            ),
            (
                "bad name.example.com",
                NameError::BadCharacter {
                    label: label("bad name"),
                },
            ),
            (
                "xn--zz.example.com",
                NameError::BadIdnaLabel {
                    label: label("xn--zz"),
                },
            ),
            (
                "-a.example.com",
                NameError::EdgeHyphen { label: label("-a") },
            ),
            (
                "a\u{fffd}.example.com",
                NameError::IdnaCharacter {
                    label: label("a\u{fffd}"),
                    character: '\u{fffd}',
                },
            ),
            (
                "a\u{200d}b.bücher.example.com",
                NameError::IdnaCharacter {
                    label: label("a\u{200d}b"),
                    character: '\u{200d}',
                },
            ),
            // Each character is allowed; left-to-right and Hebrew in one label are not.
            (
                "a\u{5d0}.example.com",
                NameError::IdnaRules {
                    label: label("a\u{5d0}"),
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(DomainName::parse(text), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn unicode_names_become_their_idna_form_and_show_both() {
        let name = DomainName::parse("Bücher.Example.com.").expect("valid");
        assert_eq!(name.as_str(), "xn--bcher-kva.example.com");
        assert_eq!(name.unicode().as_deref(), Some("bücher.example.com"));
        assert_eq!(
            name.shown(),
            "xn--bcher-kva.example.com (bücher.example.com)"
        );
        // Nontransitional: ß stays ß (xn--zca), it does not become ss.
        assert_eq!(
            DomainName::parse("straße.example.com").map(|n| n.0),
            Ok("xn--strae-oqa.example.com".to_string())
        );
        assert_eq!(
            DomainName::parse("xn--bcher-kva.example.com").map(|n| n.unicode()),
            Ok(Some("bücher.example.com".to_string()))
        );
        assert_eq!(
            DomainName::parse("home.example.com").map(|n| n.unicode()),
            Ok(None)
        );
        assert_eq!(
            DomainName::parse("*.bücher.example.com").map(|n| n.0),
            Ok("*.xn--bcher-kva.example.com".to_string())
        );
        let refused = DomainName::parse("a\u{200d}b.bücher.example.com").expect_err("a joiner");
        assert!(refused.to_string().contains("UTS #46"), "{refused}");
        let refused = DomainName::parse("a\u{fffd}.example.com").expect_err("U+FFFD");
        assert!(refused.to_string().contains("U+FFFD"), "{refused}");
    }

    #[test]
    fn within_respects_label_boundaries() {
        let name = DomainName::parse("home.example.com").expect("valid");
        assert!(name.is_within("example.com"));
        assert!(name.is_within("home.example.com"));
        assert!(!name.is_within("ample.com"));
        assert!(!name.is_within("other.com"));
    }

    #[test]
    fn longest_suffix_wins_for_nested_zones() {
        let zones = vec![
            zone("example.net"),
            zone("lab.example.net"),
            zone("example.com"),
        ];
        let name = DomainName::parse("nas.lab.example.net").expect("valid");
        assert_eq!(
            longest_suffix_zone(&name, &zones).map(|z| z.name.as_str()),
            Some("lab.example.net")
        );
        let name = DomainName::parse("www.example.net").expect("valid");
        assert_eq!(
            longest_suffix_zone(&name, &zones).map(|z| z.name.as_str()),
            Some("example.net")
        );
        let name = DomainName::parse("www.example.org").expect("valid");
        assert_eq!(longest_suffix_zone(&name, &zones), None);
    }
}
