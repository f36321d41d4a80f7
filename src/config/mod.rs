//! Reads the config file and the environment, once, into a validated `Config`. This is the only
//! module that reads environment variables or user files; after `load` every other module gets
//! typed values (`DomainName`, `Family`, `Provider`, `Duration`) and never re-checks a string.
//! Every error names the file, the line and the key, and maps to exit code 2.

//!
//! Split along its seams: `raw` (the serde mirror), `env` (the environment as a layer over
//! the file), `validate` (raw → typed, section by section), `token` (where the token comes
//! from), `effective` (`check-config`'s printing), `error` (`ConfigError`, `ConfigWarning`).

mod effective;
pub mod env;
mod error;
pub use effective::toml_quote;
mod raw;
mod records;
mod sections;
#[cfg(test)]
mod tests;
mod token;
mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::detect::Provider;
use crate::model::{DomainName, Family, ProxiedSetting, TtlSetting};
pub use crate::secret::{ApiToken, SecretUrl, TokenSource};
pub use error::{ConfigError, ConfigWarning, TokenPathProblem};
use raw::RawConfig;
use validate::Validator;

/// Where the config lives when neither `--config` nor `$FLAREDNS_CONFIG` says otherwise.
pub const DEFAULT_PATH: &str = "/etc/flaredns/config.toml";
/// Cloudflare's API v4 base URL.
pub const DEFAULT_API_URL: &str = "https://api.cloudflare.com/client/v4";
/// The systemd credential name that `LoadCredential=` should use for the token.
pub const CREDENTIAL_NAME: &str = "cloudflare_api_token";

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The config file, or `(environment)` when the environment is the whole config.
    pub path: PathBuf,
    /// Where the config comes from, for a reload (SIGHUP) to read the same way.
    pub origin: Origin,
    /// Keys set by an environment variable (`daemon.interval` → `FLAREDNS_DAEMON_INTERVAL`;
    /// records as `records.name NAME`), for `check-config` to name the source.
    pub from_env: Vec<(String, String)>,
    /// Every token in use, each once; records point into it with `RecordConfig::token`.
    pub tokens: Vec<TokenEntry>,
    pub api_url: String,
    pub detect: DetectConfig,
    pub check: CheckMode,
    /// How long something DNS cannot confirm (a proxied record) is believed from memory.
    pub reconcile: Duration,
    pub daemon: DaemonConfig,
    pub records: Vec<RecordConfig>,
    /// Where the zone cache lives; `None` when no state directory can be found.
    pub state_dir: Option<PathBuf>,
    /// Things worth a warning that do not stop the program (e.g. a world-readable token file).
    pub warnings: Vec<ConfigWarning>,
    pub waf_lists: Vec<WafListConfig>,
    /// Records and WAF lists whose own token file cannot be read: each fails alone (exit 1)
    /// while everything else syncs, so a root-only second token under `DynamicUser=` does
    /// not lock the whole service out.
    pub unreadable: Vec<UnreadableToken>,
    pub notify: NotifyConfig,
    pub metrics: MetricsConfig,
}

/// Where a configuration comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A file, with the environment laid over it.
    File(PathBuf),
    /// The environment alone: no file was named, the default one is absent, and
    /// `FLAREDNS_RECORDS` is set.
    Environment,
}

/// What `Config::path` shows when the environment is the whole config.
pub const ENVIRONMENT_PATH: &str = "(environment)";

/// A record or WAF list left out because its own `api_token_file` cannot be read.
#[derive(Clone, Debug)]
pub struct UnreadableToken {
    pub user: TokenUser,
    /// Why (the sentence names the file and the fix, never the token).
    pub error: std::sync::Arc<ConfigError>,
}

/// Who needed a token that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenUser {
    Record {
        name: DomainName,
        families: Vec<Family>,
    },
    List {
        account: String,
        name: String,
    },
}

/// One `[[waf_lists]]` entry: a Cloudflare IP list kept holding this host's addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WafListConfig {
    pub account: String,
    pub name: String,
    pub description: String,
    /// The comment on the items flaredns adds; items without it are never touched.
    pub comment: String,
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
    /// Index into `Config::tokens`.
    pub token: usize,
}

/// `[notify]`: who hears about changes and failures. URLs are secrets (`SecretUrl`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyConfig {
    pub healthchecks: Option<SecretUrl>,
    pub uptime_kuma: Option<SecretUrl>,
    pub webhooks: Vec<SecretUrl>,
    /// Absolute paths of commands run once per event.
    pub exec: Vec<PathBuf>,
    /// Shoutrrr-style service URLs, parsed.
    pub urls: Vec<crate::notify::services::ServiceUrl>,
    /// Which events go to `urls` (default: all).
    pub events: Vec<crate::notify::EventKind>,
    /// Each delivery ends by then, retries included (not the whole queue).
    pub timeout: Duration,
}

/// `[metrics]`: where the daemon serves /metrics and /healthz, and the textfile for cron.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsConfig {
    pub listen: Option<SocketAddr>,
    pub textfile: Option<PathBuf>,
}

/// One API token and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenEntry {
    pub token: ApiToken,
    pub source: TokenSource,
}

/// `[detect]`: providers per family, tried in order. An empty list turns the family off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetectConfig {
    pub ipv4: Vec<Provider>,
    pub ipv6: Vec<Provider>,
    pub timeout: Duration,
    /// Interfaces whose address changes start a cycle at once (the daemon, via netlink).
    pub watch: Vec<String>,
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
    /// Index into `Config::tokens`.
    pub token: usize,
    /// A LAN host: this interface id in the /64 of the detected IPv6 address, or the address
    /// the neighbour table shows for a MAC in that prefix (AAAA only).
    pub ipv6_host: Option<crate::prefix::HostId>,
    /// Where the prefix for `ipv6_host` comes from instead of the detected IPv6 address.
    pub ipv6_prefix_from: Option<Provider>,
}

impl Config {
    /// The MACs named by `ipv6_host = "neigh:MAC"`, each once, in config order.
    pub fn neighbour_macs(&self) -> Vec<[u8; 6]> {
        let mut macs = Vec::new();
        for record in &self.records {
            if let Some(crate::prefix::HostId::Neighbour(mac)) = record.ipv6_host {
                if !macs.contains(&mac) {
                    macs.push(mac);
                }
            }
        }
        macs
    }
}

impl RecordConfig {
    /// True when the record's address comes from detection of its families (not from
    /// `ipv6_prefix_from`).
    pub fn uses_detection(&self) -> bool {
        self.ipv6_prefix_from.is_none()
    }
}

/// The longest `[daemon].interval`: a week (with a watch, long intervals are fine).
pub const MAX_INTERVAL: Duration = Duration::from_secs(7 * 24 * 3600);
/// The longest `[daemon].cycle_timeout`.
pub const MAX_CYCLE_TIMEOUT: Duration = Duration::from_secs(3600);
/// The default `[check].reconcile`.
pub const DEFAULT_RECONCILE: Duration = Duration::from_secs(3600);
/// The shortest and longest `[check].reconcile`.
pub const MIN_RECONCILE: Duration = Duration::from_secs(1);
pub const MAX_RECONCILE: Duration = Duration::from_secs(7 * 24 * 3600);
/// The default and longest `[notify].timeout`.
pub const DEFAULT_NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);
pub const MAX_NOTIFY_TIMEOUT: Duration = Duration::from_secs(300);
/// The longest `[detect].timeout`.
pub const MAX_DETECT_TIMEOUT: Duration = Duration::from_secs(300);

/// Loads the config at `path` with the environment over it, taking the token and state
/// directory from `env`.
pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    load_from(&Origin::File(path.to_path_buf()), env)
}

/// Loads the config from where `locate` found it.
pub fn load_from(
    origin: &Origin,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    match origin {
        Origin::File(path) => {
            let text = read_file(path)?;
            let mut config = parse(path, &text, env)?;
            config.origin = origin.clone();
            Ok(config)
        }
        Origin::Environment => {
            let mut config = parse(Path::new(ENVIRONMENT_PATH), "", env)?;
            config.origin = Origin::Environment;
            Ok(config)
        }
    }
}

/// Where the config comes from: `--config`, else `$FLAREDNS_CONFIG` (a file named this way
/// must exist), else the default file; when that is absent and `FLAREDNS_RECORDS` is set, the
/// environment alone.
pub fn locate(flag: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Origin {
    if let Some(path) = flag {
        return Origin::File(path.to_path_buf());
    }
    if let Some(path) = env("FLAREDNS_CONFIG") {
        return Origin::File(PathBuf::from(path));
    }
    let default = PathBuf::from(DEFAULT_PATH);
    let absent = matches!(
        std::fs::symlink_metadata(&default),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound
    );
    if absent && env(env::RECORDS_VARIABLE).is_some() {
        Origin::Environment
    } else {
        Origin::File(default)
    }
}

/// What `status` needs from a config, without validating the rest or reading a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusView {
    pub state_dir: Option<PathBuf>,
    /// `[daemon].interval`: `status --check` allows two of them since the last success.
    pub interval: Duration,
}

/// The state directory and interval a config names (file and environment), without
/// validating the rest or reading a token: for `status`, which sends nothing. With no config
/// file at the default path, the environment alone is read, `FLAREDNS_RECORDS` or not.
pub fn status_view(
    flag: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<StatusView, ConfigError> {
    let (path, text) = match locate(flag, env) {
        Origin::File(path)
            if flag.is_none() && env("FLAREDNS_CONFIG").is_none() && !path.exists() =>
        {
            (PathBuf::from(ENVIRONMENT_PATH), String::new())
        }
        Origin::File(path) => {
            let text = read_file(&path)?;
            (path, text)
        }
        Origin::Environment => (PathBuf::from(ENVIRONMENT_PATH), String::new()),
    };
    let raw = layered(&path, &text, env)?;
    let validator = Validator {
        path: &path,
        text: &text,
        env: Some(&raw.1),
    };
    let interval = validator.interval(&raw.0)?;
    Ok(StatusView {
        state_dir: validate::state_dir(&raw.0, env),
        interval,
    })
}

fn read_file(path: &Path) -> Result<String, ConfigError> {
    crate::files::read_text(
        path,
        crate::files::MAX_CONFIG_BYTES,
        crate::files::Links::Follow,
    )
    .map_err(|source| ConfigError::Read { source })
}

/// Warnings for this process's variables that look like settings but name none.
pub fn unknown_process_variables() -> Vec<ConfigWarning> {
    // `vars_os`: `vars` panics on a variable that is not UTF-8; such a one is skipped.
    env::unknown_variables(std::env::vars_os().filter_map(|(name, _)| name.into_string().ok()))
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
    let (raw, layer) = layered(path, text, env)?;
    let mut config = Validator {
        path,
        text,
        env: Some(&layer),
    }
    .validate(raw, env)?;
    config.from_env = layer.keys;
    Ok(config)
}

/// The file's raw config with the environment's laid over it, and the environment's layer
/// (which variable each span came from).
fn layered(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(RawConfig, env::EnvLayer), ConfigError> {
    let mut raw: RawConfig = toml::from_str(text).map_err(|error| {
        let (line, column) = error
            .span()
            .map(|span| line_column(text, span.start))
            .unwrap_or((1, 1));
        ConfigError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message: hide_values(error.message().trim()),
        }
    })?;
    // The environment's document starts past the file's text, so spans never collide.
    let mut layer = env::read(env, text.len() + 1)?;
    env::overlay(&mut raw, std::mem::take(&mut layer.raw));
    Ok((raw, layer))
}

/// A TOML error message without the values it quotes: `webhooks = "https://ntfy.sh/SECRET"`
/// (a string where a list belongs) must not print the URL. Key names (in backticks) stay.
fn hide_values(message: &str) -> String {
    let mut shown = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '"' {
            if !inside {
                shown.push_str("(value hidden)");
            }
            inside = !inside;
        } else if !inside {
            shown.push(c);
        }
    }
    shown
}

pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map(|newline| before.len() - newline)
        .unwrap_or(before.len() + 1);
    (line, column)
}
