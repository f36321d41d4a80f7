//! Reads the config file and the environment, once, into a validated `Config`. This is the only
//! module that reads environment variables or user files; after `load` every other module gets
//! typed values (`DomainName`, `Family`, `Provider`, `Duration`) and never re-checks a string.
//! Every error names the file, the line and the key, and maps to exit code 2.

//!
//! Split along its seams: `raw` (the serde mirror), `validate` (raw → typed, section by
//! section), `token` (where the token comes from), `effective` (`check-config`'s printing).

mod effective;
pub use effective::toml_quote;
mod raw;
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
    pub path: PathBuf,
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
        "cannot read the API token from {source}; check the path and that this user may read it (under systemd's DynamicUser=, use api_token_file = \"credential:NAME\" with LoadCredential=NAME:PATH)"
    )]
    TokenFile { source: crate::files::FileError },
    #[error("{}:{line}: `{key}`: {problem}", path.display())]
    TokenPath {
        path: PathBuf,
        line: usize,
        key: String,
        problem: TokenPathProblem,
    },
    #[error("the API token in {token_source} {problem}; put exactly the token there (one line), or set CLOUDFLARE_API_TOKEN")]
    BadToken {
        token_source: TokenSource,
        problem: crate::secret::TokenProblem,
    },
    #[error("{}: no [[records]]: add at least one record to manage, e.g. [[records]] name = \"home.example.com\"", path.display())]
    NoRecords { path: PathBuf },
}

/// Why an `api_token_file` value cannot name a token file. The value is never shown: it may
/// be the token itself, pasted into the wrong key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenPathProblem {
    #[error("looks like a token, not a path; put the token in a file (mode 0600) and name that file here")]
    LooksLikeToken,
    #[error("names a systemd credential, but $CREDENTIALS_DIRECTORY is not set; add LoadCredential=NAME:PATH to the unit")]
    NoCredentialsDirectory,
    #[error("`credential:` must be followed by a credential name without `/`")]
    BadCredentialName,
}

/// Something in the config that works but that a careful admin would change. `Display` is
/// the sentence, ending with the next step.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigWarning {
    #[error("{} holds the API token and is readable by group or others (mode {mode:o}); run `chmod 600 {}`", path.display(), path.display())]
    LooseToken { path: PathBuf, mode: u32 },
    #[error("{}: `cloudflare.api_url` is plain http:// to {host}, so the API token travels unencrypted; use https://", config.display())]
    PlainHttp { config: PathBuf, host: String },
    #[error("the exec hook {} {problem}; it will fail at the first event: fix the path or `chmod +x` it", path.display())]
    Hook { path: PathBuf, problem: String },
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

/// The state directory a config names, without validating the rest or reading a token: for
/// `status`, which reads the state directory and nothing else.
pub fn state_dir_of(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<PathBuf>, ConfigError> {
    let text = crate::files::read_text(
        path,
        crate::files::MAX_CONFIG_BYTES,
        crate::files::Links::Follow,
    )
    .map_err(|source| ConfigError::Read { source })?;
    let raw: RawConfig = toml::from_str(&text).map_err(|error| {
        let (line, column) = error
            .span()
            .map(|span| line_column(&text, span.start))
            .unwrap_or((1, 1));
        ConfigError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message: hide_values(error.message().trim()),
        }
    })?;
    Ok(validate::state_dir(&raw, env))
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
            message: hide_values(error.message().trim()),
        }
    })?;
    Validator { path, text }.validate(raw, env)
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
