//! Raw TOML → typed `Config`: the whole config and its required sections here; one record
//! in `records`, the optional sections in `sections`. Every error carries the file, the line
//! and the key (`Spanned`), and every number and duration is bounded here, so nothing later
//! has to guard against a value of ten billion years.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::raw::RawConfig;
pub(super) use super::sections::state_dir;
use super::token::Tokens;
use super::{
    line_column, CheckMode, Config, ConfigError, ConfigWarning, DaemonConfig, DetectConfig,
    RecordConfig, TokenUser, WafListConfig, DEFAULT_API_URL, DEFAULT_RECONCILE, MAX_CYCLE_TIMEOUT,
    MAX_DETECT_TIMEOUT, MAX_INTERVAL, MAX_RECONCILE, MIN_RECONCILE,
};
use crate::detect::Provider;
use crate::model::Family;

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
        let api_url = self.api_url(&raw, &mut warnings)?;
        let (detect, enabled) = self.detect(&raw)?;
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
        let daemon = self.daemon(&raw)?;

        if raw.records.is_empty() && raw.waf_lists.is_empty() {
            return Err(ConfigError::NoRecords {
                path: self.path.to_path_buf(),
            });
        }
        // The main token is read only when a record uses it, so a config whose every record
        // names its own token file needs no other.
        let mut tokens = Tokens {
            env,
            entries: Vec::new(),
            unreadable: Vec::new(),
        };
        let records = self.records(&raw, &enabled, &mut tokens, &mut warnings)?;
        let waf_lists = self.waf_lists(&raw, &mut tokens, &mut warnings)?;
        let state_dir = state_dir(&raw, env);
        let notify = self.notify(&raw.notify, &mut warnings)?;

        Ok(Config {
            path: self.path.to_path_buf(),
            origin: super::Origin::File(self.path.to_path_buf()),
            from_env: Vec::new(),
            tokens: tokens.entries,
            unreadable: tokens.unreadable,
            api_url,
            detect,
            check,
            reconcile,
            daemon,
            records,
            state_dir,
            warnings,
            notify,
            waf_lists,
            metrics: self.metrics(&raw.metrics)?,
        })
    }

    /// `[cloudflare].api_url`: an http(s) base URL without query, fragment or credentials,
    /// in its parsed form; plain http to another host is a warning.
    fn api_url(
        &self,
        raw: &RawConfig,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<String, ConfigError> {
        let Some(url) = &raw.cloudflare.api_url else {
            return Ok(DEFAULT_API_URL.to_string());
        };
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
        Ok(parsed.as_str().trim_end_matches('/').to_string())
    }

    /// `[detect]`, and the families it can detect (at least one).
    fn detect(&self, raw: &RawConfig) -> Result<(DetectConfig, Vec<Family>), ConfigError> {
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
            .map(|name| self.interface_name(name))
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
        Ok((detect, enabled))
    }

    /// One `[detect].watch` entry: a kernel interface name.
    fn interface_name(&self, name: &Spanned<String>) -> Result<String, ConfigError> {
        let text = name.get_ref().trim();
        let valid = !text.is_empty()
            && text.len() < 16
            && text
                .chars()
                .all(|c| c.is_ascii_graphic() && c != '/' && c != ':');
        if valid {
            Ok(text.to_string())
        } else {
            Err(self.invalid(
                name.span(),
                "detect.watch",
                format!("`{text}` is not an interface name (1 to 15 characters, no `/`, `:` or spaces), e.g. \"ppp0\""),
            ))
        }
    }

    /// `[daemon]`'s interval, cycle timeout and request limits.
    fn daemon(&self, raw: &RawConfig) -> Result<DaemonConfig, ConfigError> {
        let interval = self.interval(raw)?;
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
        Ok(DaemonConfig {
            interval,
            cycle_timeout,
            max_requests_per_cycle,
            max_requests_per_hour,
        })
    }

    /// `[[records]]`, each with its token; a record whose own token file cannot be read is
    /// set aside in `tokens.unreadable` rather than failing the config.
    fn records(
        &self,
        raw: &RawConfig,
        enabled: &[Family],
        tokens: &mut Tokens<'_>,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<Vec<RecordConfig>, ConfigError> {
        let mut records: Vec<RecordConfig> = Vec::with_capacity(raw.records.len());
        for raw_record in &raw.records {
            let mut record = self.record(raw_record, enabled)?;
            if records.iter().any(|earlier| earlier.name == record.name)
                || tokens.unreadable.iter().any(|earlier| {
                    matches!(&earlier.user, TokenUser::Record { name, .. } if *name == record.name)
                })
            {
                return Err(self.invalid(raw_record.name.span(), "records.name", format!("{} is listed twice; merge the two entries (use `types` for several record types)", record.name)));
            }
            let own_file = raw_record.api_token_file.as_ref();
            let user = || TokenUser::Record {
                name: record.name.clone(),
                families: record.families.clone(),
            };
            match self.token_for(own_file, raw, tokens, warnings, user)? {
                Some(token) => record.token = token,
                None => continue,
            }
            records.push(record);
        }
        Ok(records)
    }

    /// `[[waf_lists]]`, each with its token, as `records` does.
    fn waf_lists(
        &self,
        raw: &RawConfig,
        tokens: &mut Tokens<'_>,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<Vec<WafListConfig>, ConfigError> {
        let mut waf_lists: Vec<WafListConfig> = Vec::new();
        for list in &raw.waf_lists {
            let mut config = self.waf_list(list)?;
            let own_file = list.api_token_file.as_ref();
            let user = || TokenUser::List {
                account: config.account.clone(),
                name: config.name.clone(),
            };
            match self.token_for(own_file, raw, tokens, warnings, user)? {
                Some(token) => config.token = token,
                None => continue,
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
        Ok(waf_lists)
    }

    pub(super) fn duration(
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

    pub(super) fn count(
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

    pub(super) fn providers(
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
                    .map_err(|problem| self.invalid(entry.span(), key, problem.to_string()))?;
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

    pub(super) fn check_mode(
        &self,
        value: &Spanned<toml::Value>,
    ) -> Result<CheckMode, ConfigError> {
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
}

pub(super) fn parse_server(text: &str) -> Option<SocketAddr> {
    text.parse::<SocketAddr>().ok().or_else(|| {
        text.parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

/// True when an http:// URL's host is this machine: `localhost` or a loopback address, read
/// from the parsed URL (so `localhost.evil.com` and `127.0.0.1.evil.com` are not).
pub(super) fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
