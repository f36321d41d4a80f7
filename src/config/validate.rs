//! Raw TOML → typed `Config`, one section at a time. Every error carries the file, the line
//! and the key (`Spanned`), and every number and duration is bounded here, so nothing later
//! has to guard against a value of ten billion years.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::raw::{RawConfig, RawRecord};
use super::raw::{RawMetrics, RawNotify};
use super::{
    line_column, CheckMode, Config, ConfigError, ConfigWarning, DaemonConfig, DetectConfig,
    MetricsConfig, NotifyConfig, RecordConfig, SecretUrl, TokenEntry, TokenUser, UnreadableToken,
    WafListConfig, DEFAULT_API_URL, DEFAULT_NOTIFY_TIMEOUT, DEFAULT_RECONCILE, MAX_CYCLE_TIMEOUT,
    MAX_DETECT_TIMEOUT, MAX_INTERVAL, MAX_NOTIFY_TIMEOUT, MAX_RECONCILE, MIN_RECONCILE,
};
use crate::detect::Provider;
use crate::model::{DomainName, Family, ProxiedSetting, TtlSetting};

/// The default `[daemon].interval`.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);

/// Validation state: the file's path and text, and the environment's layer, for error
/// positions (a line of the file, or the variable a value came from).
pub(super) struct Validator<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    pub env: Option<&'a super::env::EnvLayer>,
}

impl Validator<'_> {
    pub(super) fn invalid(
        &self,
        span: std::ops::Range<usize>,
        key: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        if let Some(variable) = self.variable_at(&span) {
            return ConfigError::EnvInvalid {
                variable: variable.to_string(),
                key: key.to_string(),
                message: message.into(),
            };
        }
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line: line_column(self.text, span.start).0,
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// The environment variable a span belongs to, or `None` for the file's spans.
    pub(super) fn variable_at(&self, span: &std::ops::Range<usize>) -> Option<&str> {
        self.env.and_then(|layer| layer.variable_at(span.start))
    }

    /// `[daemon].interval`, validated (for `status --check`, which needs nothing else).
    pub(super) fn interval(&self, raw: &RawConfig) -> Result<Duration, ConfigError> {
        self.duration(
            raw.daemon.interval.as_ref(),
            "daemon.interval",
            DEFAULT_INTERVAL,
            MAX_INTERVAL,
        )
    }

    pub(super) fn validate(
        &self,
        raw: RawConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut warnings = Vec::new();

        let api_url = match &raw.cloudflare.api_url {
            None => DEFAULT_API_URL.to_string(),
            Some(url) => {
                let value = url.get_ref().trim().trim_end_matches('/');
                let parsed = url::Url::parse(value).map_err(|error| {
                    self.invalid(
                        url.span(),
                        "cloudflare.api_url",
                        format!("is not a URL ({error})"),
                    )
                })?;
                if !matches!(parsed.scheme(), "https" | "http") {
                    return Err(self.invalid(
                        url.span(),
                        "cloudflare.api_url",
                        "must start with https:// (or http:// for a local stand-in)",
                    ));
                }
                if parsed.query().is_some() || parsed.fragment().is_some() {
                    return Err(self.invalid(
                        url.span(),
                        "cloudflare.api_url",
                        "must be a base URL without `?query` or `#fragment`, e.g. https://api.cloudflare.com/client/v4",
                    ));
                }
                if !parsed.username().is_empty() || parsed.password().is_some() {
                    return Err(self.invalid(
                        url.span(),
                        "cloudflare.api_url",
                        "must not carry a user name or password (`user@host`); the token is the only credential",
                    ));
                }
                if parsed.scheme() == "http" && !is_loopback_host(&parsed) {
                    let config = match self.variable_at(&url.span()) {
                        Some(variable) => PathBuf::from(variable),
                        None => self.path.to_path_buf(),
                    };
                    warnings.push(ConfigWarning::PlainHttp {
                        config,
                        host: parsed.host_str().unwrap_or_default().to_string(),
                    });
                }
                // The parsed form: scheme and host in lower case.
                parsed.as_str().trim_end_matches('/').to_string()
            }
        };

        let timeout = self.duration(
            raw.detect.timeout.as_ref(),
            "detect.timeout",
            Duration::from_secs(5),
            MAX_DETECT_TIMEOUT,
        )?;
        let ipv4 = self.providers(
            raw.detect.ipv4.as_deref(),
            Family::V4,
            vec![Provider::CloudflareTrace],
        )?;
        let ipv6 = self.providers(raw.detect.ipv6.as_deref(), Family::V6, vec![])?;
        let watch = raw
            .detect
            .watch
            .iter()
            .flatten()
            .map(|name| {
                let text = name.get_ref().trim();
                let valid = !text.is_empty()
                    && text.len() < 16
                    && text.chars().all(|c| c.is_ascii_graphic() && c != '/' && c != ':');
                if valid {
                    Ok(text.to_string())
                } else {
                    Err(self.invalid(
                        name.span(),
                        "detect.watch",
                        format!("`{text}` is not an interface name (1 to 15 characters, no `/`, `:` or spaces), e.g. \"ppp0\""),
                    ))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let detect = DetectConfig {
            ipv4,
            ipv6,
            timeout,
            watch,
        };
        let enabled: Vec<Family> = [Family::V4, Family::V6]
            .into_iter()
            .filter(|family| !detect.providers(*family).is_empty())
            .collect();
        if enabled.is_empty() {
            let span = raw
                .detect
                .ipv4
                .as_ref()
                .and_then(|list| list.first())
                .map(Spanned::span)
                .unwrap_or(0..0);
            return Err(self.invalid(span, "detect.ipv4", "both [detect].ipv4 and [detect].ipv6 are empty, so there is no address to publish; list at least one provider"));
        }

        let check = match &raw.check.nameservers {
            None => CheckMode::Auto,
            Some(value) => self.check_mode(value)?,
        };
        let reconcile = self.duration(
            raw.check.reconcile.as_ref(),
            "check.reconcile",
            DEFAULT_RECONCILE,
            MAX_RECONCILE,
        )?;
        debug_assert!(MIN_RECONCILE <= reconcile);

        let interval = self.interval(&raw)?;
        let cycle_timeout = self.duration(
            raw.daemon.cycle_timeout.as_ref(),
            "daemon.cycle_timeout",
            Duration::from_secs(60),
            MAX_CYCLE_TIMEOUT,
        )?;
        let max_requests_per_cycle = self.count(
            raw.daemon.max_requests_per_cycle.as_ref(),
            "daemon.max_requests_per_cycle",
            250,
        )?;
        let max_requests_per_hour = self.count(
            raw.daemon.max_requests_per_hour.as_ref(),
            "daemon.max_requests_per_hour",
            1200,
        )?;

        if raw.records.is_empty() && raw.waf_lists.is_empty() {
            return Err(ConfigError::NoRecords {
                path: self.path.to_path_buf(),
            });
        }
        // The main token is read only when a record uses it, so a config whose every record
        // names its own token file needs no other.
        let mut tokens: Vec<TokenEntry> = Vec::new();
        let mut unreadable: Vec<UnreadableToken> = Vec::new();
        let mut records: Vec<RecordConfig> = Vec::with_capacity(raw.records.len());
        for raw_record in &raw.records {
            let mut record = self.record(raw_record, &enabled)?;
            if records.iter().any(|earlier| earlier.name == record.name)
                || unreadable.iter().any(|earlier| {
                    matches!(&earlier.user, TokenUser::Record { name, .. } if *name == record.name)
                })
            {
                return Err(self.invalid(raw_record.name.span(), "records.name", format!("{} is listed twice; merge the two entries (use `types` for several record types)", record.name)));
            }
            let own_file = raw_record.api_token_file.as_ref();
            match self.token_index(own_file, &raw, env, &mut tokens, &mut warnings) {
                Ok(token) => record.token = token,
                Err(error) if own_file.is_some() && is_unreadable(&error) => {
                    unreadable.push(UnreadableToken {
                        user: TokenUser::Record {
                            name: record.name.clone(),
                            families: record.families.clone(),
                        },
                        error: std::sync::Arc::new(error),
                    });
                    continue;
                }
                Err(error) => return Err(error),
            }
            records.push(record);
        }

        let mut waf_lists: Vec<WafListConfig> = Vec::new();
        for list in &raw.waf_lists {
            let mut config = self.waf_list(list)?;
            let own_file = list.api_token_file.as_ref();
            match self.token_index(own_file, &raw, env, &mut tokens, &mut warnings) {
                Ok(token) => config.token = token,
                Err(error) if own_file.is_some() && is_unreadable(&error) => {
                    unreadable.push(UnreadableToken {
                        user: TokenUser::List {
                            account: config.account.clone(),
                            name: config.name.clone(),
                        },
                        error: std::sync::Arc::new(error),
                    });
                    continue;
                }
                Err(error) => return Err(error),
            }
            if waf_lists
                .iter()
                .any(|earlier| earlier.account == config.account && earlier.name == config.name)
            {
                return Err(self.invalid(
                    list.name.span(),
                    "waf_lists.name",
                    format!(
                        "list {} of account {} is listed twice",
                        config.name, config.account
                    ),
                ));
            }
            waf_lists.push(config);
        }
        let state_dir = state_dir(&raw, env);
        let notify = self.notify(&raw.notify, &mut warnings)?;

        Ok(Config {
            path: self.path.to_path_buf(),
            origin: super::Origin::File(self.path.to_path_buf()),
            from_env: Vec::new(),
            tokens,
            unreadable,
            api_url,
            detect,
            check,
            reconcile,
            daemon: DaemonConfig {
                interval,
                cycle_timeout,
                max_requests_per_cycle,
                max_requests_per_hour,
            },
            records,
            state_dir,
            warnings,
            notify,
            waf_lists,
            metrics: self.metrics(&raw.metrics)?,
        })
    }

    fn duration(
        &self,
        value: Option<&Spanned<String>>,
        key: &str,
        default: Duration,
        max: Duration,
    ) -> Result<Duration, ConfigError> {
        let Some(value) = value else {
            return Ok(default);
        };
        let duration = humantime::parse_duration(value.get_ref().trim()).map_err(|error| {
            self.invalid(
                value.span(),
                key,
                format!(
                    "`{}` is not a duration ({error}); write e.g. \"30s\", \"5m\" or \"1h\"",
                    value.get_ref()
                ),
            )
        })?;
        if duration < Duration::from_secs(1) {
            return Err(self.invalid(value.span(), key, "must be at least 1s"));
        }
        if duration > max {
            return Err(self.invalid(
                value.span(),
                key,
                format!("must be at most {}", humantime::format_duration(max)),
            ));
        }
        Ok(duration)
    }

    fn count(
        &self,
        value: Option<&Spanned<i64>>,
        key: &str,
        default: u32,
    ) -> Result<u32, ConfigError> {
        let Some(value) = value else {
            return Ok(default);
        };
        u32::try_from(*value.get_ref())
            .ok()
            .filter(|count| *count >= 1)
            .ok_or_else(|| {
                self.invalid(
                    value.span(),
                    key,
                    "must be a whole number from 1 to 4294967295",
                )
            })
    }

    fn providers(
        &self,
        list: Option<&[Spanned<String>]>,
        family: Family,
        default: Vec<Provider>,
    ) -> Result<Vec<Provider>, ConfigError> {
        let key = match family {
            Family::V4 => "detect.ipv4",
            Family::V6 => "detect.ipv6",
        };
        let Some(list) = list else { return Ok(default) };
        list.iter()
            .map(|entry| {
                let provider = Provider::parse(entry.get_ref())
                    .map_err(|message| self.invalid(entry.span(), key, message))?;
                if let Provider::Static(ip) = provider {
                    if Family::of(ip) != family {
                        return Err(self.invalid(
                            entry.span(),
                            key,
                            format!("{ip} is not an {} address", family.describe()),
                        ));
                    }
                }
                Ok(provider)
            })
            .collect()
    }

    fn check_mode(&self, value: &Spanned<toml::Value>) -> Result<CheckMode, ConfigError> {
        let key = "check.nameservers";
        match value.get_ref() {
            toml::Value::String(text) if text == "auto" => Ok(CheckMode::Auto),
            toml::Value::String(text) if text == "api" => Ok(CheckMode::Api),
            toml::Value::Array(items) if !items.is_empty() => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .and_then(parse_server)
                        .ok_or_else(|| self.invalid(value.span(), key, "each item must be an address; write \"ip\" or \"ip:port\" (\"[v6]:port\" for IPv6)"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(CheckMode::Servers),
            _ => Err(self.invalid(value.span(), key, "must be \"auto\", \"api\", or a non-empty list of \"ip:port\" addresses")),
        }
    }

    fn record(&self, raw: &RawRecord, enabled: &[Family]) -> Result<RecordConfig, ConfigError> {
        let ipv6_host = raw
            .ipv6_host
            .as_ref()
            .map(|value| {
                crate::prefix::HostId::parse(value.get_ref())
                    .map_err(|message| self.invalid(value.span(), "records.ipv6_host", message))
            })
            .transpose()?;
        let ipv6_prefix_from = raw
            .ipv6_prefix_from
            .as_ref()
            .map(|value| {
                if ipv6_host.is_none() {
                    return Err(self.invalid(
                        value.span(),
                        "records.ipv6_prefix_from",
                        "goes with `ipv6_host`: it says where that host's prefix comes from",
                    ));
                }
                Provider::parse(value.get_ref()).map_err(|message| {
                    self.invalid(value.span(), "records.ipv6_prefix_from", message)
                })
            })
            .transpose()?;
        // A LAN host is AAAA only; its prefix may come from elsewhere than [detect].ipv6.
        let mut enabled = enabled.to_vec();
        if ipv6_host.is_some() {
            if let Some(a) = raw
                .types
                .iter()
                .flatten()
                .find(|entry| Family::from_record_type(entry.get_ref()) == Some(Family::V4))
            {
                return Err(self.invalid(
                    a.span(),
                    "records.types",
                    "a record with `ipv6_host` is AAAA only: its address is derived from an IPv6 prefix",
                ));
            }
            enabled = if ipv6_prefix_from.is_some() || enabled.contains(&Family::V6) {
                vec![Family::V6]
            } else {
                let span = raw.ipv6_host.as_ref().map(Spanned::span).unwrap_or(0..0);
                return Err(self.invalid(span, "records.ipv6_host", "needs an IPv6 prefix: add a provider to [detect].ipv6, or set `ipv6_prefix_from` (e.g. \"iface:lan0\")"));
            };
        }
        let enabled = enabled.as_slice();
        let name = DomainName::parse(raw.name.get_ref()).map_err(|message| {
            self.invalid(
                raw.name.span(),
                "records.name",
                format!("invalid name: {message}"),
            )
        })?;
        let zone = match &raw.zone {
            None => None,
            Some(zone) => {
                let parsed = DomainName::parse(zone.get_ref()).map_err(|message| {
                    self.invalid(
                        zone.span(),
                        "records.zone",
                        format!("invalid zone: {message}"),
                    )
                })?;
                if !name.is_within(parsed.as_str()) {
                    return Err(self.invalid(
                        zone.span(),
                        "records.zone",
                        format!("{name} is not inside zone {parsed}"),
                    ));
                }
                Some(parsed)
            }
        };
        let families = match &raw.types {
            None => enabled.to_vec(),
            Some(types) => {
                let mut families = Vec::new();
                for entry in types {
                    let family = Family::from_record_type(entry.get_ref()).ok_or_else(|| {
                        self.invalid(
                            entry.span(),
                            "records.types",
                            format!(
                                "`{}` is not a type flaredns manages; use \"A\" and/or \"AAAA\"",
                                entry.get_ref()
                            ),
                        )
                    })?;
                    if !enabled.contains(&family) {
                        return Err(self.invalid(
                            entry.span(),
                            "records.types",
                            format!("{name} asks for {family} records but [detect].{} is empty; add a provider there or drop {family} here", if family == Family::V4 { "ipv4" } else { "ipv6" }),
                        ));
                    }
                    if !families.contains(&family) {
                        families.push(family);
                    }
                }
                if families.is_empty() {
                    return Err(self.invalid(
                        raw.name.span(),
                        "records.types",
                        format!("{name} has an empty `types` list"),
                    ));
                }
                families.sort();
                families
            }
        };
        let proxied = match &raw.proxied {
            None => ProxiedSetting::Keep,
            Some(value) => match value.get_ref() {
                toml::Value::Boolean(flag) => ProxiedSetting::Set(*flag),
                toml::Value::String(text) if text == "keep" => ProxiedSetting::Keep,
                _ => {
                    return Err(self.invalid(
                        value.span(),
                        "records.proxied",
                        "must be \"keep\", true or false",
                    ))
                }
            },
        };
        let ttl = match &raw.ttl {
            None => TtlSetting::Keep,
            Some(value) => match value.get_ref() {
                toml::Value::String(text) if text == "keep" => TtlSetting::Keep,
                toml::Value::String(text) if text == "auto" => TtlSetting::Auto,
                toml::Value::Integer(1) => TtlSetting::Auto,
                toml::Value::Integer(seconds) if (60..=86400).contains(seconds) => {
                    TtlSetting::Seconds(*seconds as u32)
                }
                _ => {
                    return Err(self.invalid(
                        value.span(),
                        "records.ttl",
                        "must be \"keep\", \"auto\", or a number of seconds from 60 to 86400",
                    ))
                }
            },
        };
        let comment = match &raw.comment {
            None => None,
            Some(text) if text.get_ref().chars().count() > 100 => {
                return Err(self.invalid(
                    text.span(),
                    "records.comment",
                    "is longer than 100 characters, Cloudflare's limit on the Free plan",
                ))
            }
            Some(text) => Some(text.get_ref().clone()),
        };
        Ok(RecordConfig {
            name,
            zone,
            families,
            proxied,
            ttl,
            comment,
            replace_cname: raw.replace_cname.unwrap_or(false),
            token: 0,
            ipv6_host,
            ipv6_prefix_from,
        })
    }
}

fn parse_server(text: &str) -> Option<SocketAddr> {
    text.parse::<SocketAddr>().ok().or_else(|| {
        text.parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

/// True when an http:// URL's host is this machine: `localhost` or a loopback address, read
/// from the parsed URL (so `localhost.evil.com` and `127.0.0.1.evil.com` are not).
fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl Validator<'_> {
    fn notify(
        &self,
        raw: &RawNotify,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<NotifyConfig, ConfigError> {
        let url = |value: &Spanned<String>, key: &str| {
            SecretUrl::parse(value.get_ref())
                .map_err(|message| self.invalid(value.span(), key, message))
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
        let exec = raw
            .exec
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
            .collect::<Result<Vec<_>, _>>()?;
        let urls = raw
            .urls
            .iter()
            .flatten()
            .map(|value| {
                crate::notify::services::ServiceUrl::parse(value.get_ref())
                    .map_err(|error| self.invalid(value.span(), "notify.urls", error.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let events = match &raw.events {
            None => ALL_EVENTS.to_vec(),
            Some(values) => values
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
                .collect::<Result<Vec<_>, _>>()?,
        };
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

    fn metrics(&self, raw: &RawMetrics) -> Result<MetricsConfig, ConfigError> {
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
    fn waf_list(&self, raw: &super::raw::RawWafList) -> Result<WafListConfig, ConfigError> {
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
        let prefix = |value: Option<&Spanned<i64>>,
                      key: &str,
                      range: std::ops::RangeInclusive<i64>,
                      default: u8| {
            match value {
                None => Ok(default),
                Some(value) if range.contains(value.get_ref()) => Ok(*value.get_ref() as u8),
                Some(value) => Err(self.invalid(
                    value.span(),
                    key,
                    format!("must be from {} to {}", range.start(), range.end()),
                )),
            }
        };
        let text =
            |value: Option<&Spanned<String>>, key: &str, default: &str, max: usize| match value {
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
            };
        Ok(WafListConfig {
            account,
            name,
            description: text(
                raw.description.as_ref(),
                "waf_lists.description",
                "this host's addresses, kept by flaredns",
                500,
            )?,
            comment: {
                let comment = text(raw.comment.as_ref(), "waf_lists.comment", "flaredns", 500)?;
                if comment.trim().is_empty() {
                    let span = raw.comment.as_ref().map(Spanned::span).unwrap_or(0..0);
                    return Err(self.invalid(span, "waf_lists.comment", "must not be empty: it is how flaredns tells its items from everyone else's"));
                }
                comment
            },
            ipv4_prefix: prefix(
                raw.ipv4_prefix.as_ref(),
                "waf_lists.ipv4_prefix",
                8..=32,
                32,
            )?,
            ipv6_prefix: prefix(
                raw.ipv6_prefix.as_ref(),
                "waf_lists.ipv6_prefix",
                12..=128,
                64,
            )?,
            token: 0,
        })
    }
}

/// True for a token error that only the entry naming the file should fail for: the file
/// cannot be read (missing, not this user's to read) or the credential directory is absent.
/// A token that reads but is malformed stays a config error.
fn is_unreadable(error: &ConfigError) -> bool {
    matches!(
        error,
        ConfigError::TokenFile { .. }
            | ConfigError::TokenPath {
                problem: super::TokenPathProblem::NoCredentialsDirectory,
                ..
            }
    )
}
