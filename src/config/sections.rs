//! The optional sections, raw → typed: `[notify]` (hooks, heartbeats, webhooks, service URLs,
//! events), `[metrics]` and `[[waf_lists]]`, each error with its key and line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::raw::RawConfig;
use super::raw::{RawMetrics, RawNotify};
use super::validate::Validator;
use super::{
    ConfigError, ConfigWarning, MetricsConfig, NotifyConfig, SecretUrl, WafListConfig,
    DEFAULT_NOTIFY_TIMEOUT, MAX_NOTIFY_TIMEOUT,
};

impl Validator<'_> {
    pub(super) fn notify(
        &self,
        raw: &RawNotify,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<NotifyConfig, ConfigError> {
        let url = |value: &Spanned<String>, key: &str| {
            SecretUrl::parse(value.get_ref())
                .map_err(|problem| self.invalid(value.span(), key, problem.to_string()))
        };
        let healthchecks = raw
            .healthchecks
            .as_ref()
            .map(|value| url(value, "notify.healthchecks"))
            .transpose()?;
        let uptime_kuma = raw
            .uptime_kuma
            .as_ref()
            .map(|value| url(value, "notify.uptime_kuma"))
            .transpose()?;
        let webhooks = raw
            .webhooks
            .iter()
            .flatten()
            .map(|value| url(value, "notify.webhooks"))
            .collect::<Result<Vec<_>, _>>()?;
        let exec = self.exec_hooks(raw, warnings)?;
        let urls = raw
            .urls
            .iter()
            .flatten()
            .map(|value| {
                crate::notify::services::ServiceUrl::parse(value.get_ref())
                    .map_err(|error| self.invalid(value.span(), "notify.urls", error.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let events = self.events(raw)?;
        let timeout = self.duration(
            raw.timeout.as_ref(),
            "notify.timeout",
            DEFAULT_NOTIFY_TIMEOUT,
            MAX_NOTIFY_TIMEOUT,
        )?;
        Ok(NotifyConfig {
            healthchecks,
            uptime_kuma,
            webhooks,
            exec,
            urls,
            events,
            timeout,
        })
    }

    /// `[notify].exec`: absolute paths only; a hook that cannot run is a warning.
    fn exec_hooks(
        &self,
        raw: &RawNotify,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<Vec<PathBuf>, ConfigError> {
        raw.exec
            .iter()
            .flatten()
            .map(|value| {
                let path = PathBuf::from(value.get_ref());
                if path.is_absolute() {
                    if let Some(problem) = hook_problem(&path) {
                        warnings.push(ConfigWarning::Hook {
                            path: path.clone(),
                            problem,
                        });
                    }
                    Ok(path)
                } else {
                    Err(self.invalid(
                        value.span(),
                        "notify.exec",
                        "must be an absolute path (a command is run without a shell and without PATH lookup)".to_string(),
                    ))
                }
            })
            .collect()
    }

    /// `[notify].events`: which events are sent (all when absent).
    fn events(&self, raw: &RawNotify) -> Result<Vec<crate::notify::EventKind>, ConfigError> {
        let Some(values) = &raw.events else {
            return Ok(ALL_EVENTS.to_vec());
        };
        values
            .iter()
            .map(|value| {
                ALL_EVENTS
                    .iter()
                    .find(|kind| kind.as_str() == value.get_ref().trim())
                    .copied()
                    .ok_or_else(|| {
                        self.invalid(
                            value.span(),
                            "notify.events",
                            format!(
                                "`{}` is not an event; use changed, failed, recovered or waf_list_changed",
                                crate::logging::one_line(value.get_ref())
                            ),
                        )
                    })
            })
            .collect()
    }

    pub(super) fn metrics(&self, raw: &RawMetrics) -> Result<MetricsConfig, ConfigError> {
        let listen = raw
            .listen
            .as_ref()
            .map(|value| {
                value.get_ref().trim().parse::<SocketAddr>().map_err(|_| {
                    self.invalid(
                        value.span(),
                        "metrics.listen",
                        format!("`{}` is not an address and port; write e.g. \"127.0.0.1:9797\" or \"[::1]:9797\"", value.get_ref()),
                    )
                })
            })
            .transpose()?;
        let textfile = raw
            .textfile
            .as_ref()
            .map(|value| {
                let path = PathBuf::from(value.get_ref());
                let named = path.file_name().is_some() && path.parent().is_some_and(|dir| !dir.as_os_str().is_empty());
                if path.is_absolute() && named {
                    Ok(path)
                } else {
                    Err(self.invalid(value.span(), "metrics.textfile", "must be an absolute path to a file, e.g. \"/var/lib/prometheus/node-exporter/flaredns.prom\""))
                }
            })
            .transpose()?;
        Ok(MetricsConfig { listen, textfile })
    }
}

/// `[daemon].state_dir`, else `$STATE_DIRECTORY` (its first entry), else
/// `~/.local/state/flaredns`.
pub(super) fn state_dir(raw: &RawConfig, env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    raw.daemon
        .state_dir
        .as_ref()
        .map(|dir| PathBuf::from(dir.get_ref()))
        .or_else(|| {
            env("STATE_DIRECTORY").and_then(|dirs| dirs.split(':').next().map(PathBuf::from))
        })
        .or_else(|| env("HOME").map(|home| Path::new(&home).join(".local/state/flaredns")))
}

/// Every event, the default of `[notify] events`.
const ALL_EVENTS: [crate::notify::EventKind; 4] = [
    crate::notify::EventKind::Changed,
    crate::notify::EventKind::Failed,
    crate::notify::EventKind::Recovered,
    crate::notify::EventKind::WafListChanged,
];

/// Why an exec hook cannot run, if it cannot: missing, not a file, not executable.
fn hook_problem(path: &Path) -> Option<String> {
    match std::fs::metadata(path) {
        Err(error) => Some(format!("cannot be read ({error})")),
        Ok(metadata) if !metadata.is_file() => Some("is not a file".to_string()),
        #[cfg(unix)]
        Ok(metadata) => {
            use std::os::unix::fs::PermissionsExt;
            (metadata.permissions().mode() & 0o111 == 0).then(|| "is not executable".to_string())
        }
        #[cfg(not(unix))]
        Ok(_) => None,
    }
}

impl Validator<'_> {
    pub(super) fn waf_list(
        &self,
        raw: &super::raw::RawWafList,
    ) -> Result<WafListConfig, ConfigError> {
        let account = raw.account.get_ref().trim().to_ascii_lowercase();
        if account.len() != 32 || !account.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.invalid(
                raw.account.span(),
                "waf_lists.account",
                "must be the account id: 32 hex digits (dashboard: the account's Overview, \"Account ID\")",
            ));
        }
        let name = raw.name.get_ref().trim().to_string();
        let valid_name = !name.is_empty()
            && name.len() <= 50
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid_name {
            return Err(self.invalid(
                raw.name.span(),
                "waf_lists.name",
                "must be 1 to 50 characters of a-z, 0-9 and _ (Cloudflare's rule for list names), e.g. \"home_ips\"",
            ));
        }
        Ok(WafListConfig {
            account,
            name,
            description: self.list_text(
                raw.description.as_ref(),
                "waf_lists.description",
                "this host's addresses, kept by flaredns",
                500,
            )?,
            comment: {
                let comment =
                    self.list_text(raw.comment.as_ref(), "waf_lists.comment", "flaredns", 500)?;
                if comment.trim().is_empty() {
                    let span = raw.comment.as_ref().map(Spanned::span).unwrap_or(0..0);
                    return Err(self.invalid(span, "waf_lists.comment", "must not be empty: it is how flaredns tells its items from everyone else's"));
                }
                comment
            },
            ipv4_prefix: self.list_prefix(
                raw.ipv4_prefix.as_ref(),
                "waf_lists.ipv4_prefix",
                8..=32,
                32,
            )?,
            ipv6_prefix: self.list_prefix(
                raw.ipv6_prefix.as_ref(),
                "waf_lists.ipv6_prefix",
                12..=128,
                64,
            )?,
            token: 0,
        })
    }

    /// A list's prefix length for one family: `default` when absent, else within `range`.
    fn list_prefix(
        &self,
        value: Option<&Spanned<i64>>,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
        default: u8,
    ) -> Result<u8, ConfigError> {
        match value {
            None => Ok(default),
            Some(value) if range.contains(value.get_ref()) => Ok(*value.get_ref() as u8),
            Some(value) => Err(self.invalid(
                value.span(),
                key,
                format!("must be from {} to {}", range.start(), range.end()),
            )),
        }
    }

    /// A list's text (description, comment): `default` when absent, else at most `max`
    /// characters and none a control character.
    fn list_text(
        &self,
        value: Option<&Spanned<String>>,
        key: &str,
        default: &str,
        max: usize,
    ) -> Result<String, ConfigError> {
        match value {
            None => Ok(default.to_string()),
            Some(value)
                if value.get_ref().chars().count() <= max
                    && !value.get_ref().chars().any(char::is_control) =>
            {
                Ok(value.get_ref().clone())
            }
            Some(value) => Err(self.invalid(
                value.span(),
                key,
                format!("must be at most {max} characters, with no control characters"),
            )),
        }
    }
}
