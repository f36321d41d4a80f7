//! Knows the account's zones: which zone holds a name (longest suffix, or the pinned `zone`),
//! and whom to ask about it in DNS. Zone ids do not change, so the list is cached in memory and
//! on disk in the state directory; `--once` from cron then starts without an API request. A
//! name that no cached zone holds triggers one fresh listing before it is called missing, so
//! a newly added zone is found; a name still missing after that is remembered as missing for
//! `MISSING_FOR`, so one typo cannot re-list the account's zones every cycle and spend the
//! hourly budget that the valid records need.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cloudflare::{ApiCycle, ApiError};
use crate::config::{Config, RecordConfig};
use crate::model::{longest_suffix_zone, Zone};
use crate::secret::ApiToken;
use crate::state::{unix_now, StateDir};

/// A cached zone list older than this is fetched again.
const MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// A name that no zone holds is not looked for again (by listing zones) for this long.
pub const MISSING_FOR: Duration = Duration::from_secs(600);

/// The on-disk cache. It holds zone ids and nameserver names, never the token: the fingerprint
/// only tells whether the cache was written for the same token.
#[derive(Debug, Serialize, Deserialize)]
struct CacheFile {
    api_url: String,
    token_fingerprint: String,
    fetched_at: u64,
    zones: Vec<Zone>,
    /// Names no zone held at the last listing, with the unix time until which they are not
    /// looked for again.
    #[serde(default)]
    missing: BTreeMap<String, u64>,
}

/// The zone directory of one process.
pub struct ZoneDirectory {
    state: Option<Arc<StateDir>>,
    /// The cache's file name in the state directory (one per token).
    cache_file: String,
    api_url: String,
    token_fingerprint: String,
    zones: Option<(Vec<Zone>, u64)>,
    listed_this_cycle: bool,
    /// A failed listing is not repeated within the cycle: every record would pay for it again.
    failed_this_cycle: Option<ApiError>,
    nameservers: HashMap<String, Vec<SocketAddr>>,
    /// Names no zone holds, until when (unix seconds) they are not looked for again.
    missing: BTreeMap<String, u64>,
}

/// Why a record has no zone.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ZoneError {
    #[error("{0}")]
    Api(#[from] ApiError),
    #[error("no zone of this account holds {name}{}; check the name, and that the API token can read the zone (Zone:Read)", pinned.as_ref().map(|zone| format!(" (the record pins zone {zone})")).unwrap_or_default())]
    NotFound {
        name: String,
        pinned: Option<String>,
    },
}

impl ZoneDirectory {
    /// A directory for this config's API and token, reading the disk cache lazily.
    pub fn new(
        config: &Config,
        token: &ApiToken,
        cache_file: String,
        state: Option<Arc<StateDir>>,
    ) -> ZoneDirectory {
        ZoneDirectory {
            state,
            cache_file,
            api_url: config.api_url.clone(),
            token_fingerprint: token.fingerprint(),
            zones: None,
            listed_this_cycle: false,
            failed_this_cycle: None,
            nameservers: HashMap::new(),
            missing: BTreeMap::new(),
        }
    }

    /// Marks the start of a cycle: a missing name may trigger one fresh listing again.
    pub fn start_cycle(&mut self) {
        self.listed_this_cycle = false;
        self.failed_this_cycle = None;
    }

    /// The zone that holds this record, listing zones through the API only when needed.
    pub async fn zone_for(
        &mut self,
        record: &RecordConfig,
        api: &ApiCycle<'_>,
    ) -> Result<Zone, ZoneError> {
        if self.zones.is_none() {
            self.zones = self.read_cache();
        }
        if self.zones.is_none() {
            self.list(api).await?;
        }
        if let Some(zone) = self.find(record) {
            return Ok(zone);
        }
        let key = missing_key(record);
        let now = unix_now();
        let known_missing = self
            .missing
            .get(&key)
            .is_some_and(|until| *until > now && *until <= now + MISSING_FOR.as_secs());
        if !self.listed_this_cycle && !known_missing {
            self.list(api).await?;
            if let Some(zone) = self.find(record) {
                return Ok(zone);
            }
        }
        // Missing from a list fetched this cycle: remember it, so later cycles and runs do
        // not list the zones again just for this name.
        if self.listed_this_cycle && !known_missing {
            self.missing.insert(key, now + MISSING_FOR.as_secs());
            self.write_cache();
        }
        Err(ZoneError::NotFound {
            name: record.name.to_string(),
            pinned: record.zone.as_ref().map(ToString::to_string),
        })
    }

    /// True when the zone list was fetched from the API during this cycle (not from a cache).
    pub fn listed_this_cycle(&self) -> bool {
        self.listed_this_cycle
    }

    /// Drops the zone list, in memory and on disk, so the next lookup lists zones afresh.
    pub fn forget(&mut self) {
        self.zones = None;
        self.nameservers.clear();
        if let Some(state) = &self.state {
            state.remove(&self.cache_file);
        }
    }

    /// The addresses of a zone's authoritative nameservers (resolved once per process).
    pub async fn nameservers(&mut self, zone: &Zone) -> Vec<SocketAddr> {
        if let Some(known) = self.nameservers.get(&zone.id) {
            return known.clone();
        }
        let mut addresses = Vec::new();
        for server in &zone.name_servers {
            // The local stand-in hands out "ip:port"; Cloudflare hands out host names.
            if let Ok(address) = server.parse::<SocketAddr>() {
                addresses.push(address);
                continue;
            }
            match tokio::net::lookup_host((server.as_str(), 53)).await {
                Ok(found) => addresses.extend(found),
                Err(error) => tracing::debug!(server, "cannot resolve nameserver: {error}"),
            }
        }
        if !addresses.is_empty() {
            self.nameservers.insert(zone.id.clone(), addresses.clone());
        }
        addresses
    }

    fn find(&self, record: &RecordConfig) -> Option<Zone> {
        let (zones, _) = self.zones.as_ref()?;
        match &record.zone {
            Some(pinned) => zones
                .iter()
                .find(|zone| {
                    zone.name
                        .trim_end_matches('.')
                        .eq_ignore_ascii_case(pinned.as_str())
                })
                .cloned(),
            None => longest_suffix_zone(&record.name, zones).cloned(),
        }
    }

    async fn list(&mut self, api: &ApiCycle<'_>) -> Result<(), ApiError> {
        if let Some(error) = &self.failed_this_cycle {
            return Err(error.clone());
        }
        let zones = match api.list_zones().await {
            Ok(zones) => zones,
            Err(error) => {
                self.failed_this_cycle = Some(error.clone());
                return Err(error);
            }
        };
        let now = unix_now();
        tracing::debug!(count = zones.len(), "listed the account's zones");
        self.listed_this_cycle = true;
        // A fresh list answers afresh for every name.
        self.missing.clear();
        self.zones = Some((zones, now));
        self.write_cache();
        Ok(())
    }

    fn read_cache(&mut self) -> Option<(Vec<Zone>, u64)> {
        let cache: CacheFile = self.state.as_ref()?.read_json(&self.cache_file)?;
        let now = unix_now();
        // A time in the future (a clock that went back, or a hand-made file) is not fresh.
        let fresh = cache.fetched_at <= now && now - cache.fetched_at < MAX_AGE.as_secs();
        let ours =
            cache.api_url == self.api_url && cache.token_fingerprint == self.token_fingerprint;
        if !(fresh && ours) {
            return None;
        }
        self.missing = cache.missing;
        Some((cache.zones, cache.fetched_at))
    }

    fn write_cache(&self) {
        let (Some(state), Some((zones, fetched_at))) = (&self.state, &self.zones) else {
            return;
        };
        let cache = CacheFile {
            api_url: self.api_url.clone(),
            token_fingerprint: self.token_fingerprint.clone(),
            fetched_at: *fetched_at,
            zones: zones.clone(),
            missing: self.missing.clone(),
        };
        state.write_json(&self.cache_file, &cache);
    }
}

/// The key under which a missing name is remembered: the name, and the pinned zone if any.
fn missing_key(record: &RecordConfig) -> String {
    match &record.zone {
        Some(zone) => format!("{} in {zone}", record.name),
        None => record.name.to_string(),
    }
}
