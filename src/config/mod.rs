//! Reads the config file and the environment, once, into a validated `Config`. This is the only
//! module that reads environment variables or user files; after `load` every other module gets
//! typed values (`DomainName`, `Family`, `Provider`, `Duration`) and never re-checks a string.
//! Every error names the file, the line and the key, and maps to exit code 2.

mod raw;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use crate::detect::Provider;
use crate::model::{DomainName, Family, ProxiedSetting, TtlSetting};
pub use crate::secret::{ApiToken, TokenSource};
use raw::{RawConfig, RawRecord};

/// Where the config lives when neither `--config` nor `$FLAREDNS_CONFIG` says otherwise.
pub const DEFAULT_PATH: &str = "/etc/flaredns/config.toml";
/// Cloudflare's API v4 base URL.
pub const DEFAULT_API_URL: &str = "https://api.cloudflare.com/client/v4";
/// The systemd credential name that `LoadCredential=` should use for the token.
pub const CREDENTIAL_NAME: &str = "cloudflare_api_token";

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub path: PathBuf,
    pub token: ApiToken,
    pub token_source: TokenSource,
    pub api_url: String,
    pub detect: DetectConfig,
    pub check: CheckMode,
    pub daemon: DaemonConfig,
    pub records: Vec<RecordConfig>,
    /// Where the zone cache lives; `None` when no state directory can be found.
    pub state_dir: Option<PathBuf>,
    /// Things worth a warning that do not stop the program (e.g. a world-readable token file).
    pub warnings: Vec<String>,
}

/// `[detect]`: providers per family, tried in order. An empty list turns the family off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetectConfig {
    pub ipv4: Vec<Provider>,
    pub ipv6: Vec<Provider>,
    pub timeout: Duration,
}

impl DetectConfig {
    /// The providers of one family.
    pub fn providers(&self, family: Family) -> &[Provider] {
        match family {
            Family::V4 => &self.ipv4,
            Family::V6 => &self.ipv6,
        }
    }
}

/// `[check].nameservers`: whom to ask whether records are already in sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckMode {
    /// The zone's own authoritative nameservers.
    Auto,
    /// Skip DNS; compare against the API every cycle.
    Api,
    /// These servers.
    Servers(Vec<SocketAddr>),
}

/// `[daemon]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaemonConfig {
    pub interval: Duration,
    /// No cycle runs longer than this: requests, waits and retries included.
    pub cycle_timeout: Duration,
    pub max_requests_per_cycle: u32,
    pub max_requests_per_hour: u32,
}

/// One `[[records]]` entry, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordConfig {
    pub name: DomainName,
    pub zone: Option<DomainName>,
    pub families: Vec<Family>,
    pub proxied: ProxiedSetting,
    pub ttl: TtlSetting,
    pub comment: Option<String>,
    pub replace_cname: bool,
}

/// A configuration problem. Every variant maps to exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {source}; pass --config PATH or set FLAREDNS_CONFIG")]
    Read { source: crate::files::FileError },
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}:{line}: `{key}`: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
    #[error("{}: no API token: set CLOUDFLARE_API_TOKEN, or `api_token_file` in [cloudflare], or use systemd's LoadCredential={CREDENTIAL_NAME}:PATH", path.display())]
    NoToken { path: PathBuf },
    #[error(
        "cannot read the API token from {source}; check the path and that this user may read it"
    )]
    TokenFile { source: crate::files::FileError },
    #[error("the API token in {token_source} {problem}; put exactly the token there (one line), or set CLOUDFLARE_API_TOKEN")]
    BadToken {
        token_source: TokenSource,
        problem: crate::secret::TokenProblem,
    },
    #[error("{}: no [[records]]: add at least one record to manage, e.g. [[records]] name = \"home.example.com\"", path.display())]
    NoRecords { path: PathBuf },
}

/// Loads the config at `path`, taking the token and state directory from `env`.
pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let text = crate::files::read_text(
        path,
        crate::files::MAX_CONFIG_BYTES,
        crate::files::Links::Follow,
    )
    .map_err(|source| ConfigError::Read { source })?;
    parse(path, &text, env)
}

/// The environment of this process, for `load`.
pub fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|value| !value.is_empty())
}

/// The config path from `--config`, else `$FLAREDNS_CONFIG`, else the default.
pub fn resolve_path(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| process_env("FLAREDNS_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_PATH))
}

/// Parses and validates config text; `path` is used for messages and relative token files.
pub fn parse(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|error| {
        let (line, column) = error
            .span()
            .map(|span| line_column(text, span.start))
            .unwrap_or((1, 1));
        ConfigError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message: error.message().trim().to_string(),
        }
    })?;
    Validator { path, text }.validate(raw, env)
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map(|newline| before.len() - newline)
        .unwrap_or(before.len() + 1);
    (line, column)
}

struct Validator<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Validator<'_> {
    fn invalid(
        &self,
        span: std::ops::Range<usize>,
        key: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line: line_column(self.text, span.start).0,
            key: key.to_string(),
            message: message.into(),
        }
    }

    fn validate(
        &self,
        raw: RawConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut warnings = Vec::new();
        let (token, token_source) = self.token(&raw, env, &mut warnings)?;

        let api_url = match &raw.cloudflare.api_url {
            None => DEFAULT_API_URL.to_string(),
            Some(url) => {
                let value = url.get_ref().trim().trim_end_matches('/');
                if !(value.starts_with("https://") || value.starts_with("http://")) {
                    return Err(self.invalid(
                        url.span(),
                        "cloudflare.api_url",
                        "must start with https:// (or http:// for a local stand-in)",
                    ));
                }
                if let Some(rest) = value.strip_prefix("http://") {
                    let host = rest.split('/').next().unwrap_or("");
                    let loopback = host.starts_with("127.")
                        || host.starts_with("localhost")
                        || host.starts_with("[::1]");
                    if !loopback {
                        warnings.push(format!(
                            "{}: `cloudflare.api_url` is plain http:// to {host}, so the API token travels unencrypted; use https://",
                            self.path.display()
                        ));
                    }
                }
                value.to_string()
            }
        };

        let timeout = self.duration(
            raw.detect.timeout.as_ref(),
            "detect.timeout",
            Duration::from_secs(5),
        )?;
        let ipv4 = self.providers(
            raw.detect.ipv4.as_deref(),
            Family::V4,
            vec![Provider::CloudflareTrace],
        )?;
        let ipv6 = self.providers(raw.detect.ipv6.as_deref(), Family::V6, vec![])?;
        let detect = DetectConfig {
            ipv4,
            ipv6,
            timeout,
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

        let interval = self.duration(
            raw.daemon.interval.as_ref(),
            "daemon.interval",
            Duration::from_secs(300),
        )?;
        let cycle_timeout = self.duration(
            raw.daemon.cycle_timeout.as_ref(),
            "daemon.cycle_timeout",
            Duration::from_secs(60),
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

        if raw.records.is_empty() {
            return Err(ConfigError::NoRecords {
                path: self.path.to_path_buf(),
            });
        }
        let mut records: Vec<RecordConfig> = Vec::with_capacity(raw.records.len());
        for raw_record in &raw.records {
            let record = self.record(raw_record, &enabled)?;
            if records.iter().any(|earlier| earlier.name == record.name) {
                return Err(self.invalid(raw_record.name.span(), "records.name", format!("{} is listed twice; merge the two entries (use `types` for several record types)", record.name)));
            }
            records.push(record);
        }

        let state_dir = raw
            .daemon
            .state_dir
            .as_ref()
            .map(|dir| PathBuf::from(dir.get_ref()))
            .or_else(|| {
                env("STATE_DIRECTORY").and_then(|dirs| dirs.split(':').next().map(PathBuf::from))
            })
            .or_else(|| env("HOME").map(|home| Path::new(&home).join(".local/state/flaredns")));

        Ok(Config {
            path: self.path.to_path_buf(),
            token,
            token_source,
            api_url,
            detect,
            check,
            daemon: DaemonConfig {
                interval,
                cycle_timeout,
                max_requests_per_cycle,
                max_requests_per_hour,
            },
            records,
            state_dir,
            warnings,
        })
    }

    fn token(
        &self,
        raw: &RawConfig,
        env: &dyn Fn(&str) -> Option<String>,
        warnings: &mut Vec<String>,
    ) -> Result<(ApiToken, TokenSource), ConfigError> {
        if let Some(value) = env("CLOUDFLARE_API_TOKEN") {
            let source = TokenSource::Environment;
            return ApiToken::new(&value)
                .map(|token| (token, source.clone()))
                .map_err(|problem| ConfigError::BadToken {
                    token_source: source,
                    problem,
                });
        }
        if let Some(directory) = env("CREDENTIALS_DIRECTORY") {
            let credential = Path::new(&directory).join(CREDENTIAL_NAME);
            if credential.exists() {
                return read_token_file(&credential, TokenSource::Credential(credential.clone()));
            }
        }
        if let Some(file) = &raw.cloudflare.api_token_file {
            let mut token_path = PathBuf::from(file.get_ref());
            if token_path.is_relative() {
                token_path = self
                    .path
                    .parent()
                    .unwrap_or(Path::new("."))
                    .join(token_path);
            }
            if let Some(warning) = loose_permissions(&token_path) {
                warnings.push(warning);
            }
            return read_token_file(&token_path, TokenSource::File(token_path.clone()));
        }
        if let Some(value) = &raw.cloudflare.api_token {
            if let Some(warning) = loose_permissions(self.path) {
                warnings.push(warning);
            }
            let source = TokenSource::ConfigFile;
            return ApiToken::new(value.get_ref())
                .map(|token| (token, source.clone()))
                .map_err(|problem| ConfigError::BadToken {
                    token_source: source,
                    problem,
                });
        }
        Err(ConfigError::NoToken {
            path: self.path.to_path_buf(),
        })
    }

    fn duration(
        &self,
        value: Option<&Spanned<String>>,
        key: &str,
        default: Duration,
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
            .ok_or_else(|| self.invalid(value.span(), key, "must be a whole number of at least 1"))
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
                        .ok_or_else(|| self.invalid(value.span(), key, format!("{item} is not an address; write \"ip\" or \"ip:port\" (\"[v6]:port\" for IPv6)")))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(CheckMode::Servers),
            _ => Err(self.invalid(value.span(), key, "must be \"auto\", \"api\", or a non-empty list of \"ip:port\" addresses")),
        }
    }

    fn record(&self, raw: &RawRecord, enabled: &[Family]) -> Result<RecordConfig, ConfigError> {
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

fn read_token_file(
    token_path: &Path,
    source: TokenSource,
) -> Result<(ApiToken, TokenSource), ConfigError> {
    let text = crate::files::read_text(
        token_path,
        crate::files::MAX_TOKEN_BYTES,
        crate::files::Links::Follow,
    )
    .map_err(|source| ConfigError::TokenFile { source })?;
    ApiToken::new(&text)
        .map(|token| (token, source.clone()))
        .map_err(|problem| ConfigError::BadToken {
            token_source: source,
            problem,
        })
}

#[cfg(unix)]
fn loose_permissions(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!("{} holds the API token and is readable by group or others (mode {:o}); run `chmod 600 {}`", path.display(), mode & 0o777, path.display())
    })
}

#[cfg(not(unix))]
fn loose_permissions(_path: &Path) -> Option<String> {
    None
}

impl fmt::Display for Config {
    /// The effective config as TOML, token redacted, defaults filled in.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted = |items: &[Provider]| {
            items
                .iter()
                .map(|p| format!("\"{p}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(f, "# effective configuration of {}", self.path.display())?;
        writeln!(f, "[cloudflare]")?;
        writeln!(
            f,
            "api_token = \"<redacted>\"   # from {}",
            self.token_source
        )?;
        writeln!(f, "api_url = \"{}\"", self.api_url)?;
        writeln!(f, "\n[detect]")?;
        writeln!(f, "ipv4 = [{}]", quoted(&self.detect.ipv4))?;
        writeln!(f, "ipv6 = [{}]", quoted(&self.detect.ipv6))?;
        writeln!(
            f,
            "timeout = \"{}\"",
            humantime::format_duration(self.detect.timeout)
        )?;
        writeln!(f, "\n[check]")?;
        match &self.check {
            CheckMode::Auto => writeln!(f, "nameservers = \"auto\"")?,
            CheckMode::Api => writeln!(f, "nameservers = \"api\"")?,
            CheckMode::Servers(servers) => {
                let list: Vec<String> = servers
                    .iter()
                    .map(|server| format!("\"{server}\""))
                    .collect();
                writeln!(f, "nameservers = [{}]", list.join(", "))?
            }
        }
        writeln!(f, "\n[daemon]")?;
        writeln!(
            f,
            "interval = \"{}\"",
            humantime::format_duration(self.daemon.interval)
        )?;
        writeln!(
            f,
            "max_requests_per_cycle = {}",
            self.daemon.max_requests_per_cycle
        )?;
        writeln!(
            f,
            "max_requests_per_hour = {}",
            self.daemon.max_requests_per_hour
        )?;
        if let Some(dir) = &self.state_dir {
            writeln!(
                f,
                "state_dir = {}",
                toml::Value::String(dir.display().to_string())
            )?;
        }
        for record in &self.records {
            writeln!(f, "\n[[records]]")?;
            writeln!(f, "name = \"{}\"", record.name)?;
            if let Some(zone) = &record.zone {
                writeln!(f, "zone = \"{zone}\"")?;
            }
            let types: Vec<String> = record
                .families
                .iter()
                .map(|family| format!("\"{family}\""))
                .collect();
            writeln!(f, "types = [{}]", types.join(", "))?;
            match record.proxied {
                ProxiedSetting::Keep => writeln!(f, "proxied = \"keep\"")?,
                ProxiedSetting::Set(flag) => writeln!(f, "proxied = {flag}")?,
            }
            match record.ttl {
                TtlSetting::Keep => writeln!(f, "ttl = \"keep\"")?,
                TtlSetting::Auto => writeln!(f, "ttl = \"auto\"")?,
                TtlSetting::Seconds(seconds) => writeln!(f, "ttl = {seconds}")?,
            }
            if let Some(comment) = &record.comment {
                writeln!(f, "comment = {}", toml::Value::String(comment.clone()))?;
            }
            writeln!(f, "replace_cname = {}", record.replace_cname)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_with_token(key: &str) -> Option<String> {
        (key == "CLOUDFLARE_API_TOKEN").then(|| "test-token".to_string())
    }

    fn parse_text(text: &str) -> Result<Config, ConfigError> {
        parse(
            Path::new("/etc/flaredns/config.toml"),
            text,
            &env_with_token,
        )
    }

    #[test]
    fn minimal_config_takes_defaults() {
        let config = parse_text("[[records]]\nname = \"home.example.com\"\n").expect("valid");
        assert_eq!(config.detect.ipv4, vec![Provider::CloudflareTrace]);
        assert!(config.detect.ipv6.is_empty());
        assert_eq!(config.check, CheckMode::Auto);
        assert_eq!(config.daemon.interval, Duration::from_secs(300));
        assert_eq!(config.records[0].families, vec![Family::V4]);
        assert_eq!(config.token_source, TokenSource::Environment);
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let error = parse_text("[daemon]\ninterval = \"1m\"\n\n[[records]]\nname = \"home.example.com\"\nproxyed = true\n").expect_err("unknown key");
        let text = error.to_string();
        assert!(text.contains("proxyed"), "{text}");
        assert!(text.contains("config.toml:6"), "{text}");
    }

    #[test]
    fn invalid_values_name_key_and_line() {
        let cases = [
            (
                "[daemon]\ninterval = \"soon\"\n[[records]]\nname = \"a.example.com\"\n",
                "daemon.interval",
                2,
            ),
            (
                "[[records]]\nname = \"a.example.com\"\nttl = 5\n",
                "records.ttl",
                3,
            ),
            ("[[records]]\nname = \"localhost\"\n", "records.name", 2),
            (
                "[detect]\nipv4 = [\"carrier-pigeon\"]\n[[records]]\nname = \"a.example.com\"\n",
                "detect.ipv4",
                2,
            ),
            (
                "[[records]]\nname = \"a.example.com\"\ntypes = [\"AAAA\"]\n",
                "records.types",
                3,
            ),
            (
                "[check]\nnameservers = [\"not-an-ip\"]\n[[records]]\nname = \"a.example.com\"\n",
                "check.nameservers",
                2,
            ),
        ];
        for (text, key, line) in cases {
            let error = parse_text(text).expect_err(key).to_string();
            assert!(error.contains(&format!("`{key}`")), "{error}");
            assert!(error.contains(&format!("config.toml:{line}:")), "{error}");
        }
    }

    #[test]
    fn token_precedence_env_then_credential_then_file_then_inline() {
        let dir = std::env::temp_dir().join(format!("flaredns-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join(CREDENTIAL_NAME), "from-credential\n").expect("write");
        std::fs::write(dir.join("token"), "from-file\n").expect("write");
        let text = format!("[cloudflare]\napi_token = \"inline\"\napi_token_file = \"{}\"\n[[records]]\nname = \"a.example.com\"\n", dir.join("token").display());
        let credentials = dir.display().to_string();
        let with_credentials =
            move |key: &str| (key == "CREDENTIALS_DIRECTORY").then(|| credentials.clone());
        let config = parse(Path::new("c.toml"), &text, &with_credentials).expect("valid");
        assert_eq!(config.token.expose(), "from-credential");
        let config = parse(Path::new("c.toml"), &text, &|_| None).expect("valid");
        assert_eq!(config.token.expose(), "from-file");
        let config = parse(Path::new("c.toml"), &text, &env_with_token).expect("valid");
        assert_eq!(config.token.expose(), "test-token");
        let inline_only =
            "[cloudflare]\napi_token = \"inline\"\n[[records]]\nname = \"a.example.com\"\n";
        let config = parse(Path::new("c.toml"), inline_only, &|_| None).expect("valid");
        assert_eq!(config.token.expose(), "inline");
        assert!(matches!(
            parse(
                Path::new("c.toml"),
                "[[records]]\nname = \"a.example.com\"\n",
                &|_| None
            ),
            Err(ConfigError::NoToken { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn plain_http_to_anything_but_loopback_is_warned_about() {
        let text = |url: &str| {
            format!("[cloudflare]\napi_url = \"{url}\"\n[[records]]\nname = \"a.example.com\"\n")
        };
        let remote = parse_text(&text("http://api.example.net/client/v4")).expect("valid");
        assert!(
            remote.warnings.iter().any(|w| w.contains("unencrypted")),
            "{:?}",
            remote.warnings
        );
        let local = parse_text(&text("http://127.0.0.1:8080/client/v4")).expect("valid");
        assert!(local.warnings.is_empty(), "{:?}", local.warnings);
    }

    #[test]
    fn effective_config_never_shows_the_token() {
        let text =
            "[cloudflare]\napi_token = \"sup3r-secret\"\n[[records]]\nname = \"a.example.com\"\n";
        let config = parse(Path::new("c.toml"), text, &|_| None).expect("valid");
        let shown = format!("{config}\n{config:?}");
        assert!(!shown.contains("sup3r-secret"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}
