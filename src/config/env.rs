//! The configuration from the environment, for containers and systemd's `Environment=`:
//! `FLAREDNS_<SECTION>_<KEY>` for every key of `[cloudflare]`, `[detect]`, `[check]`,
//! `[daemon]`, `[notify]` and `[metrics]`, `FLAREDNS_RECORDS` for records with default
//! settings, and `CLOUDFLARE_API_TOKEN_FILE` for the token file (Docker secrets).
//!
//! It does not validate anything: the variables become a TOML document that is parsed into
//! the same `RawConfig` as the file and laid over it, so one validation with one set of
//! bounds judges both. The document is parsed at an offset past the file's text, so every
//! span says whether a value came from the file (a line) or from a variable (its name).

use std::ops::Range;

use super::raw::{RawCheck, RawCloudflare, RawConfig, RawDaemon, RawDetect, RawMetrics, RawNotify};
use super::ConfigError;

/// How a variable's text becomes a TOML value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A string.
    Text,
    /// Comma-separated items; `none` is the empty list.
    List,
    /// Like `List`, but a comma separates items only when a `scheme://` follows it, so a URL
    /// may hold commas (`telegram://…?chats=1,2`).
    UrlList,
    /// A whole number.
    Number,
    /// `auto`, `api`, or a list of servers.
    Nameservers,
}

/// One key that a variable can set.
struct Setting {
    section: &'static str,
    key: &'static str,
    kind: Kind,
}

const fn setting(section: &'static str, key: &'static str, kind: Kind) -> Setting {
    Setting { section, key, kind }
}

/// Every key of the six sections, except `cloudflare.api_token`, whose variable keeps its
/// usual name (`CLOUDFLARE_API_TOKEN`, read by `token.rs`). A test checks this table against
/// the keys `raw.rs` accepts.
const SETTINGS: &[Setting] = &[
    setting("cloudflare", "api_token_file", Kind::Text),
    setting("cloudflare", "api_url", Kind::Text),
    setting("detect", "ipv4", Kind::List),
    setting("detect", "ipv6", Kind::List),
    setting("detect", "timeout", Kind::Text),
    setting("detect", "watch", Kind::List),
    setting("check", "nameservers", Kind::Nameservers),
    setting("check", "reconcile", Kind::Text),
    setting("daemon", "interval", Kind::Text),
    setting("daemon", "max_requests_per_cycle", Kind::Number),
    setting("daemon", "max_requests_per_hour", Kind::Number),
    setting("daemon", "state_dir", Kind::Text),
    setting("daemon", "cycle_timeout", Kind::Text),
    setting("notify", "healthchecks", Kind::Text),
    setting("notify", "uptime_kuma", Kind::Text),
    setting("notify", "webhooks", Kind::UrlList),
    setting("notify", "exec", Kind::List),
    setting("notify", "urls", Kind::UrlList),
    setting("notify", "events", Kind::List),
    setting("notify", "timeout", Kind::Text),
    setting("metrics", "listen", Kind::Text),
    setting("metrics", "textfile", Kind::Text),
];

/// Records to manage, comma-separated, each with default settings.
pub const RECORDS_VARIABLE: &str = "FLAREDNS_RECORDS";
/// The token file's usual name (Docker secrets: `/run/secrets/NAME`).
pub const TOKEN_FILE_VARIABLE: &str = "CLOUDFLARE_API_TOKEN_FILE";

/// The variable for a key: `FLAREDNS_DAEMON_INTERVAL` for `daemon.interval`.
pub fn variable(section: &str, key: &str) -> String {
    format!("FLAREDNS_{}_{}", section, key).to_ascii_uppercase()
}

/// What the environment sets, parsed, with the variable behind each span.
pub(super) struct EnvLayer {
    pub raw: RawConfig,
    /// Each value's byte range in `text`, and the variable it came from.
    pub origins: Vec<(Range<usize>, String)>,
    /// `key` (e.g. `daemon.interval`, `records.name`) → variable, for `check-config`.
    pub keys: Vec<(String, String)>,
    /// Where the document starts: every span at or past it is a variable's.
    pub offset: usize,
}

impl EnvLayer {
    /// The variable a span of the document belongs to.
    pub fn variable_at(&self, position: usize) -> Option<&str> {
        if position < self.offset {
            return None;
        }
        self.origins
            .iter()
            .find(|(range, _)| range.contains(&position))
            .or_else(|| {
                self.origins
                    .iter()
                    .rfind(|(range, _)| range.start <= position)
            })
            .map(|(_, variable)| variable.as_str())
    }
}

/// Reads every variable the config knows into a layer whose spans start at `offset`.
pub(super) fn read(
    env: &dyn Fn(&str) -> Option<String>,
    offset: usize,
) -> Result<EnvLayer, ConfigError> {
    let mut text = " ".repeat(offset);
    let mut origins = Vec::new();
    let mut keys = Vec::new();
    let mut current_section = "";
    let token_file = match (
        env(TOKEN_FILE_VARIABLE),
        env(&variable("cloudflare", "api_token_file")),
    ) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::EnvConflict {
                first: TOKEN_FILE_VARIABLE.to_string(),
                second: variable("cloudflare", "api_token_file"),
            })
        }
        (Some(value), None) => Some((TOKEN_FILE_VARIABLE.to_string(), value)),
        (None, Some(value)) => Some((variable("cloudflare", "api_token_file"), value)),
        (None, None) => None,
    };
    for setting in SETTINGS {
        let (name, value) = if setting.section == "cloudflare" && setting.key == "api_token_file" {
            match &token_file {
                Some((name, value)) => (name.clone(), value.clone()),
                None => continue,
            }
        } else {
            let name = variable(setting.section, setting.key);
            match env(&name) {
                Some(value) => (name, value),
                None => continue,
            }
        };
        let value = toml_value(setting, &name, &value)?;
        if current_section != setting.section {
            text.push_str(&format!("\n[{}]\n", setting.section));
            current_section = setting.section;
        }
        text.push_str(setting.key);
        text.push_str(" = ");
        let start = text.len();
        text.push_str(&value);
        origins.push((start..text.len().max(start + 1), name.clone()));
        text.push('\n');
        keys.push((format!("{}.{}", setting.section, setting.key), name));
    }
    if let Some(value) = env(RECORDS_VARIABLE) {
        for name in list_items(&value, Kind::List) {
            text.push_str("\n[[records]]\nname = ");
            let start = text.len();
            text.push_str(&quote(&name));
            origins.push((start..text.len(), RECORDS_VARIABLE.to_string()));
            text.push('\n');
            keys.push((format!("records.name {name}"), RECORDS_VARIABLE.to_string()));
        }
    }
    let raw: RawConfig = toml::from_str(&text).map_err(|error| {
        // The document is built from quoted values, so this is not the user's typo; name the
        // variable anyway and never quote its value.
        let position = error.span().map(|span| span.start).unwrap_or(offset);
        let variable = origins
            .iter()
            .rfind(|(range, _)| range.start <= position)
            .map(|(_, name)| name.clone())
            .unwrap_or_else(|| RECORDS_VARIABLE.to_string());
        ConfigError::EnvInvalid {
            variable,
            key: String::new(),
            message: super::hide_values(error.message().trim()),
        }
    })?;
    Ok(EnvLayer {
        raw,
        origins,
        keys,
        offset,
    })
}

/// A variable's text as a TOML value of the key's kind.
fn toml_value(setting: &Setting, name: &str, value: &str) -> Result<String, ConfigError> {
    let key = format!("{}.{}", setting.section, setting.key);
    Ok(match setting.kind {
        Kind::Text => quote(value.trim()),
        Kind::List | Kind::UrlList => array(&list_items(value, setting.kind)),
        Kind::Number => match value.trim().parse::<i64>() {
            Ok(number) => number.to_string(),
            Err(_) => {
                return Err(ConfigError::EnvInvalid {
                    variable: name.to_string(),
                    key,
                    message: "must be a whole number".to_string(),
                })
            }
        },
        Kind::Nameservers => match value.trim() {
            mode @ ("auto" | "api") => quote(mode),
            _ => array(&list_items(value, Kind::List)),
        },
    })
}

/// The items of a list variable: comma-separated and trimmed, empty items dropped; `none` is
/// the empty list. In a URL list a comma ends an item only when a `scheme://` follows.
fn list_items(value: &str, kind: Kind) -> Vec<String> {
    if value.trim().eq_ignore_ascii_case("none") {
        return Vec::new();
    }
    let mut items: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut rest = value;
    while let Some(comma) = rest.find(',') {
        let (before, after) = (&rest[..comma], &rest[comma + 1..]);
        current.push_str(before);
        if kind == Kind::UrlList && !starts_with_scheme(after.trim_start()) {
            current.push(',');
        } else {
            items.push(std::mem::take(&mut current));
        }
        rest = after;
    }
    current.push_str(rest);
    items.push(current);
    items
        .into_iter()
        .map(|item| item.trim().to_string())
        .filter(|item| !item.is_empty())
        .collect()
}

/// True when `text` opens with `scheme://` (letters, digits, `+`, `-`, `.`; a letter first).
fn starts_with_scheme(text: &str) -> bool {
    let Some(end) = text.find("://") else {
        return false;
    };
    let scheme = &text[..end];
    scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn quote(text: &str) -> String {
    super::toml_quote(text)
}

fn array(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| quote(item)).collect();
    format!("[{}]", quoted.join(", "))
}

/// Warnings for variables named like a setting of the six sections that no key has
/// (`FLAREDNS_DAEMON_INTERVALL`): a typo would otherwise leave the default in force silently.
/// Other `FLAREDNS_` names (`FLAREDNS_CONFIG`, `FLAREDNS_RECORDS`, tools' own) are not judged.
pub fn unknown_variables(names: impl Iterator<Item = String>) -> Vec<super::ConfigWarning> {
    let mut warnings: Vec<super::ConfigWarning> = names
        .filter_map(|name| {
            let section = SETTINGS
                .iter()
                .map(|setting| setting.section)
                .find(|section| name.starts_with(&variable(section, "")))?;
            let known = SETTINGS
                .iter()
                .any(|setting| variable(setting.section, setting.key) == name);
            if known {
                return None;
            }
            let keys: Vec<String> = SETTINGS
                .iter()
                .filter(|setting| setting.section == section)
                .map(|setting| variable(setting.section, setting.key))
                .collect();
            Some(super::ConfigWarning::UnknownVariable {
                variable: name,
                known: keys.join(", "),
            })
        })
        .collect();
    warnings.sort_by_key(ToString::to_string);
    warnings
}

/// Lays the environment's values over the file's: a variable replaces the key it names;
/// `FLAREDNS_RECORDS` adds records after the file's. The destructuring is exhaustive, so a
/// key added to `raw.rs` does not compile until it is decided here.
pub(super) fn overlay(file: &mut RawConfig, env: RawConfig) {
    let RawConfig {
        cloudflare,
        detect,
        check,
        daemon,
        records,
        waf_lists,
        notify,
        metrics,
    } = env;
    let RawCloudflare {
        api_token,
        api_token_file,
        api_url,
    } = cloudflare;
    replace(&mut file.cloudflare.api_token, api_token);
    replace(&mut file.cloudflare.api_token_file, api_token_file);
    replace(&mut file.cloudflare.api_url, api_url);
    let RawDetect {
        ipv4,
        ipv6,
        timeout,
        watch,
    } = detect;
    replace(&mut file.detect.ipv4, ipv4);
    replace(&mut file.detect.ipv6, ipv6);
    replace(&mut file.detect.timeout, timeout);
    replace(&mut file.detect.watch, watch);
    let RawCheck {
        nameservers,
        reconcile,
    } = check;
    replace(&mut file.check.nameservers, nameservers);
    replace(&mut file.check.reconcile, reconcile);
    let RawDaemon {
        interval,
        max_requests_per_cycle,
        max_requests_per_hour,
        state_dir,
        cycle_timeout,
    } = daemon;
    replace(&mut file.daemon.interval, interval);
    replace(
        &mut file.daemon.max_requests_per_cycle,
        max_requests_per_cycle,
    );
    replace(
        &mut file.daemon.max_requests_per_hour,
        max_requests_per_hour,
    );
    replace(&mut file.daemon.state_dir, state_dir);
    replace(&mut file.daemon.cycle_timeout, cycle_timeout);
    let RawNotify {
        healthchecks,
        uptime_kuma,
        webhooks,
        exec,
        urls,
        events,
        timeout,
    } = notify;
    replace(&mut file.notify.healthchecks, healthchecks);
    replace(&mut file.notify.uptime_kuma, uptime_kuma);
    replace(&mut file.notify.webhooks, webhooks);
    replace(&mut file.notify.exec, exec);
    replace(&mut file.notify.urls, urls);
    replace(&mut file.notify.events, events);
    replace(&mut file.notify.timeout, timeout);
    let RawMetrics { listen, textfile } = metrics;
    replace(&mut file.metrics.listen, listen);
    replace(&mut file.metrics.textfile, textfile);
    file.records.extend(records);
    file.waf_lists.extend(waf_lists);
}

fn replace<T>(slot: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *slot = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_variable_is_warned_about() {
        let names = [
            "FLAREDNS_DAEMON_INTERVALL",
            "FLAREDNS_DAEMON_INTERVAL",
            "FLAREDNS_CONFIG",
            "FLAREDNS_RECORDS",
            "FLAREDNS_BIN",
            "FLAREDNS_CLOUDFLARE_API_TOKEN_FILE",
        ];
        let warnings = unknown_variables(names.iter().map(|name| name.to_string()));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let text = warnings[0].to_string();
        assert!(text.starts_with("FLAREDNS_DAEMON_INTERVALL "), "{text}");
        assert!(text.contains("FLAREDNS_DAEMON_INTERVAL,"), "{text}");
    }

    #[test]
    fn url_lists_split_only_before_a_scheme() {
        assert_eq!(
            list_items(
                "telegram://t@telegram?chats=1,2, ntfy://ntfy.sh/x,generic://h/p",
                Kind::UrlList
            ),
            vec![
                "telegram://t@telegram?chats=1,2",
                "ntfy://ntfy.sh/x",
                "generic://h/p"
            ]
        );
        assert_eq!(list_items("a, b,,c ", Kind::List), vec!["a", "b", "c"]);
        assert!(list_items("none", Kind::List).is_empty());
        assert!(list_items(" NONE ", Kind::UrlList).is_empty());
    }

    /// Every key of the six sections has a variable: the keys are read from serde's own
    /// "expected one of" message for an unknown key, so a key added to `raw.rs` fails here
    /// until it is in `SETTINGS`.
    #[test]
    fn every_key_of_the_sections_has_a_variable() {
        for section in [
            "cloudflare",
            "detect",
            "check",
            "daemon",
            "notify",
            "metrics",
        ] {
            let probe = format!("[{section}]\nno_such_key_probe = 1\n");
            let error = toml::from_str::<RawConfig>(&probe).expect_err("unknown key");
            let message = error.to_string();
            let expected = message
                .split("expected")
                .nth(1)
                .unwrap_or_else(|| panic!("no key list in {message}"));
            let keys: Vec<&str> = expected
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|key| !key.is_empty())
                .collect();
            assert!(!keys.is_empty(), "{message}");
            for key in keys {
                let known = SETTINGS
                    .iter()
                    .any(|setting| setting.section == section && setting.key == key);
                let exempt = section == "cloudflare" && key == "api_token";
                assert!(
                    known || exempt,
                    "{section}.{key} has no environment variable"
                );
            }
        }
    }
}
