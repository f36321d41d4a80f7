//! The serde mirror of the TOML file, exactly as written, with spans so that validation errors
//! can name the line. Unknown keys are rejected here (`deny_unknown_fields`). Nothing outside
//! `config` sees these types: `Config` is what the rest of the program uses.

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub cloudflare: RawCloudflare,
    #[serde(default)]
    pub detect: RawDetect,
    #[serde(default)]
    pub check: RawCheck,
    #[serde(default)]
    pub daemon: RawDaemon,
    #[serde(default)]
    pub records: Vec<RawRecord>,
    #[serde(default)]
    pub waf_lists: Vec<RawWafList>,
    #[serde(default)]
    pub notify: RawNotify,
    #[serde(default)]
    pub metrics: RawMetrics,
}

/// One `[[waf_lists]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWafList {
    pub account: Spanned<String>,
    pub name: Spanned<String>,
    pub description: Option<Spanned<String>>,
    pub comment: Option<Spanned<String>>,
    pub ipv4_prefix: Option<Spanned<i64>>,
    pub ipv6_prefix: Option<Spanned<i64>>,
    pub api_token_file: Option<Spanned<String>>,
}

/// `[notify]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNotify {
    pub healthchecks: Option<Spanned<String>>,
    pub uptime_kuma: Option<Spanned<String>>,
    pub webhooks: Option<Vec<Spanned<String>>>,
    pub exec: Option<Vec<Spanned<String>>>,
    pub urls: Option<Vec<Spanned<String>>>,
    pub events: Option<Vec<Spanned<String>>>,
    pub timeout: Option<Spanned<String>>,
}

/// `[metrics]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetrics {
    pub listen: Option<Spanned<String>>,
    pub textfile: Option<Spanned<String>>,
}

/// `[cloudflare]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCloudflare {
    pub api_token: Option<Spanned<String>>,
    pub api_token_file: Option<Spanned<String>>,
    pub api_url: Option<Spanned<String>>,
}

/// `[detect]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDetect {
    pub ipv4: Option<Vec<Spanned<String>>>,
    pub ipv6: Option<Vec<Spanned<String>>>,
    pub timeout: Option<Spanned<String>>,
    pub watch: Option<Vec<Spanned<String>>>,
}

/// `[check]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCheck {
    pub nameservers: Option<Spanned<toml::Value>>,
    pub reconcile: Option<Spanned<String>>,
}

/// `[daemon]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDaemon {
    pub interval: Option<Spanned<String>>,
    pub max_requests_per_cycle: Option<Spanned<i64>>,
    pub max_requests_per_hour: Option<Spanned<i64>>,
    pub state_dir: Option<Spanned<String>>,
    pub cycle_timeout: Option<Spanned<String>>,
}

/// One `[[records]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRecord {
    pub name: Spanned<String>,
    pub zone: Option<Spanned<String>>,
    pub types: Option<Vec<Spanned<String>>>,
    pub proxied: Option<Spanned<toml::Value>>,
    pub ttl: Option<Spanned<toml::Value>>,
    pub comment: Option<Spanned<String>>,
    pub replace_cname: Option<bool>,
    pub api_token_file: Option<Spanned<String>>,
    pub ipv6_host: Option<Spanned<String>>,
    pub ipv6_prefix_from: Option<Spanned<String>>,
}
