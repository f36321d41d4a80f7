//! Knows the account's zones: which zone holds a name (longest suffix, or the pinned `zone`),
//! and whom to ask about it in DNS. Zone ids do not change, so the list is cached in memory and
//! on disk in the state directory; `--once` from cron then starts without an API request. A
//! name that no cached zone holds triggers one fresh listing per cycle before it is called
//! missing, so a newly added zone is found.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::cloudflare::{ApiError, Client};
use crate::config::{Config, RecordConfig};
use crate::model::{longest_suffix_zone, Zone};

/// A cached zone list older than this is fetched again.
const MAX_AGE: Duration = Duration::from_secs(24 * 3600);
const CACHE_FILE: &str = "zones.json";

/// The on-disk cache. It holds zone ids and nameserver names, never the token: the fingerprint
/// only tells whether the cache was written for the same token.
#[derive(Debug, Serialize, Deserialize)]
struct CacheFile {
    api_url: String,
    token_fingerprint: String,
    fetched_at: u64,
    zones: Vec<Zone>,
}

/// The zone directory of one process.
pub struct ZoneDirectory {
    cache_path: Option<PathBuf>,
    api_url: String,
    token_fingerprint: String,
    zones: Option<(Vec<Zone>, u64)>,
    listed_this_cycle: bool,
    /// A failed listing is not repeated within the cycle: every record would pay for it again.
    failed_this_cycle: Option<ApiError>,
    nameservers: HashMap<String, Vec<SocketAddr>>,
}

/// Why a record has no zone.
#[derive(Debug, thiserror::Error)]
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
    pub fn new(config: &Config) -> ZoneDirectory {
        ZoneDirectory {
            cache_path: config.state_dir.as_ref().map(|dir| dir.join(CACHE_FILE)),
            api_url: config.api_url.clone(),
            token_fingerprint: config.token.fingerprint(),
            zones: None,
            listed_this_cycle: false,
            failed_this_cycle: None,
            nameservers: HashMap::new(),
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
        client: &Client,
    ) -> Result<Zone, ZoneError> {
        if self.zones.is_none() {
            self.zones = self.read_cache();
        }
        if self.zones.is_none() {
            self.list(client).await?;
        }
        if let Some(zone) = self.find(record) {
            return Ok(zone);
        }
        if !self.listed_this_cycle {
            self.list(client).await?;
            if let Some(zone) = self.find(record) {
                return Ok(zone);
            }
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
        if let Some(path) = &self.cache_path {
            let _ = std::fs::remove_file(path);
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
                .find(|zone| zone.name.eq_ignore_ascii_case(pinned.as_str()))
                .cloned(),
            None => longest_suffix_zone(&record.name, zones).cloned(),
        }
    }

    async fn list(&mut self, client: &Client) -> Result<(), ApiError> {
        if let Some(error) = &self.failed_this_cycle {
            return Err(error.clone());
        }
        let zones = match client.list_zones().await {
            Ok(zones) => zones,
            Err(error) => {
                self.failed_this_cycle = Some(error.clone());
                return Err(error);
            }
        };
        let now = unix_now();
        tracing::debug!(count = zones.len(), "listed the account's zones");
        self.listed_this_cycle = true;
        self.write_cache(&zones, now);
        self.zones = Some((zones, now));
        Ok(())
    }

    fn read_cache(&self) -> Option<(Vec<Zone>, u64)> {
        let path = self.cache_path.as_ref()?;
        let text = std::fs::read_to_string(path).ok()?;
        let cache: CacheFile = serde_json::from_str(&text).ok()?;
        let fresh = unix_now().saturating_sub(cache.fetched_at) < MAX_AGE.as_secs();
        (fresh
            && cache.api_url == self.api_url
            && cache.token_fingerprint == self.token_fingerprint)
            .then_some((cache.zones, cache.fetched_at))
    }

    fn write_cache(&self, zones: &[Zone], fetched_at: u64) {
        let Some(path) = &self.cache_path else { return };
        let cache = CacheFile {
            api_url: self.api_url.clone(),
            token_fingerprint: self.token_fingerprint.clone(),
            fetched_at,
            zones: zones.to_vec(),
        };
        let result = (|| -> std::io::Result<()> {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let text = serde_json::to_string_pretty(&cache).map_err(std::io::Error::other)?;
            let temporary = path.with_extension("json.tmp");
            std::fs::write(&temporary, text)?;
            std::fs::rename(&temporary, path)
        })();
        if let Err(error) = result {
            tracing::debug!(path = %path.display(), "cannot write the zone cache (zones will be listed again next run): {error}");
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}
