//! One pass of the pipeline, as typed stages: detect → desired records → observe
//! (authoritative DNS) → resolve each pending record's zone (once) → per zone: list → plan →
//! apply. Each stage returns its own result; the `CycleReport` is assembled from them at the
//! end and nothing is printed here (`render` turns reports into words). A record that fails
//! (no address, no zone, a refusal, an API error) is reported and never stops the other
//! records or zones; a 403 about one zone stops only that zone.

pub mod render;
pub mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::apply;
use crate::cloudflare::{ApiCycle, ApiError, Client};
use crate::config::{CheckMode, Config, RecordConfig};
use crate::detect::{DetectError, Detector};
use crate::model::{DesiredRecord, Family, Zone};
use crate::observe::{self, DnsCheck, DnsVerdict};
use crate::plan::{self, Outcome};
use crate::state::StateDir;
use crate::zones::{ZoneDirectory, ZoneError};
pub use report::{
    CycleProblem, CycleReport, FailureKind, ProblemKey, RecordFailure, RecordReport, RecordState,
};

/// The long-lived parts a cycle needs: config, API client (with its budget), detector, zones.
pub struct Engine {
    pub config: Config,
    client: Client,
    detector: Detector,
    zones: ZoneDirectory,
    state: Option<Arc<StateDir>>,
}

/// A desired record and the config entry it came from.
struct Wanted {
    index: usize,
    record: DesiredRecord,
}

/// The borrowed parts one cycle works with.
struct Stages<'a, 'c> {
    config: &'a Config,
    api: &'a ApiCycle<'c>,
    detector: &'a Detector,
    zones: &'a mut ZoneDirectory,
    /// Each config entry's zone, resolved once per cycle.
    resolved: BTreeMap<usize, Result<Zone, ZoneError>>,
    dry_run: bool,
}

impl Engine {
    /// Builds the clients for a config.
    pub fn new(config: Config) -> Result<Engine, crate::http::SetupError> {
        let state = config
            .state_dir
            .as_deref()
            .map(|dir| Arc::new(StateDir::new(dir)));
        let client = new_client(&config, state.as_deref())?;
        let detector = Detector::new(config.detect.timeout);
        let zones = ZoneDirectory::new(&config, state.clone());
        Ok(Engine {
            config,
            client,
            detector,
            zones,
            state,
        })
    }

    /// Puts a new config in force. The API client, with its budget and backoff, is kept
    /// unless the API URL, token or limits changed, so a reload cannot be used to hammer
    /// Cloudflare; the zone directory is kept unless the API, token or state directory changed.
    pub fn reconfigure(&mut self, config: Config) -> Result<(), crate::http::SetupError> {
        let same_api = config.api_url == self.config.api_url && config.token == self.config.token;
        let same_limits = config.daemon.max_requests_per_cycle
            == self.config.daemon.max_requests_per_cycle
            && config.daemon.max_requests_per_hour == self.config.daemon.max_requests_per_hour;
        if config.state_dir != self.config.state_dir {
            self.state = config
                .state_dir
                .as_deref()
                .map(|dir| Arc::new(StateDir::new(dir)));
        }
        if !(same_api && same_limits) {
            self.client = new_client(&config, self.state.as_deref())?;
        }
        if !same_api || config.state_dir != self.config.state_dir {
            self.zones = ZoneDirectory::new(&config, self.state.clone());
        }
        self.detector = Detector::new(config.detect.timeout);
        self.config = config;
        Ok(())
    }

    /// The API client, for doctor and metrics.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The detector, for doctor.
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// The zone directory and the client, for doctor.
    pub fn zones_mut(&mut self) -> (&mut ZoneDirectory, &Client) {
        (&mut self.zones, &self.client)
    }

    /// Runs one cycle. With `dry_run`, stops after the plan and sends only GET requests. The
    /// whole cycle ends by `[daemon].cycle_timeout`, whatever hangs.
    pub async fn run_cycle(&mut self, dry_run: bool) -> CycleReport {
        let timeout = self.config.daemon.cycle_timeout;
        let started = Instant::now();
        // The config caps cycle_timeout, so this cannot overflow; stay safe if it did.
        let deadline = started.checked_add(timeout).unwrap_or(started);
        let api = self.client.cycle(deadline);
        self.zones.start_cycle();
        let stages = Stages {
            config: &self.config,
            api: &api,
            detector: &self.detector,
            zones: &mut self.zones,
            resolved: BTreeMap::new(),
            dry_run,
        };
        // A little grace past the deadline lets requests that end at it report their own error.
        let grace = Duration::from_millis(500);
        let mut report = match tokio::time::timeout_at(deadline + grace, stages.run()).await {
            Ok(report) => report,
            Err(_) => CycleReport {
                dry_run,
                problems: vec![CycleProblem::Abandoned { timeout }],
                ..CycleReport::default()
            },
        };
        if let Some(state) = &self.state {
            state.write_rate_limit(self.client.rate_limited_until());
        }
        report.api_requests = api.requests_sent();
        report
    }
}

impl Stages<'_, '_> {
    async fn run(mut self) -> CycleReport {
        let mut report = CycleReport {
            dry_run: self.dry_run,
            ..CycleReport::default()
        };
        let (addresses, detect_errors) = self.detect().await;
        report.problems = detect_errors
            .into_iter()
            .map(CycleProblem::Detect)
            .collect();
        let (wanted, unknown) = self.desired(&addresses);
        report.addresses = addresses;
        report.records.extend(unknown);

        let in_sync = self.observe(&wanted).await;
        let mut pending = Vec::new();
        for (wanted, synced) in wanted.into_iter().zip(in_sync) {
            if synced {
                report.records.push(RecordReport {
                    name: wanted.record.name.clone(),
                    families: vec![wanted.record.family],
                    zone: None,
                    state: RecordState::InSync,
                });
            } else {
                pending.push(wanted);
            }
        }

        // A zone from the cache that answers 404 was deleted or re-created: list the zones
        // again and retry its records once, in this same cycle.
        for attempt in 0..2 {
            let (by_zone, no_zone) = self.group_by_zone(pending).await;
            report.records.extend(no_zone);
            let mut gone = Vec::new();
            for (zone, records) in by_zone.into_values() {
                let may_retry = attempt == 0 && !self.zones.listed_this_cycle();
                let before = self.api.requests_sent();
                match self.reconcile_zone(&zone, records, may_retry).await {
                    ZoneOutcome::Done(records) => report.records.extend(records),
                    ZoneOutcome::Gone(records) => gone.extend(records),
                }
                let spent = self.api.requests_sent() - before;
                *report.zone_requests.entry(zone.name.clone()).or_default() += spent;
            }
            if gone.is_empty() {
                break;
            }
            tracing::debug!("a cached zone is gone; listing the zones again");
            self.zones.forget();
            self.resolved.clear();
            pending = gone;
        }

        report
            .records
            .sort_by(|a, b| (&a.name, &a.families).cmp(&(&b.name, &b.families)));
        report
    }

    /// This host's address for every family a record wants, or why not.
    async fn detect(&self) -> (BTreeMap<Family, IpAddr>, Vec<DetectError>) {
        let families: BTreeSet<Family> = self
            .config
            .records
            .iter()
            .flat_map(|record| record.families.iter().copied())
            .collect();
        let mut addresses = BTreeMap::new();
        let mut errors = Vec::new();
        for family in families {
            match self
                .detector
                .detect(family, self.config.detect.providers(family))
                .await
            {
                Ok(ip) => {
                    addresses.insert(family, ip);
                }
                Err(error) => errors.push(error),
            }
        }
        (addresses, errors)
    }

    /// The desired records, and a failure for each record whose family has no address.
    fn desired(&self, addresses: &BTreeMap<Family, IpAddr>) -> (Vec<Wanted>, Vec<RecordReport>) {
        let mut wanted = Vec::new();
        let mut unknown = Vec::new();
        for (index, record) in self.config.records.iter().enumerate() {
            for family in &record.families {
                match addresses.get(family) {
                    Some(ip) => wanted.push(Wanted {
                        index,
                        record: desired_record(record, *family, *ip),
                    }),
                    None => unknown.push(RecordReport {
                        name: record.name.clone(),
                        families: vec![*family],
                        zone: None,
                        state: RecordState::Failed(RecordFailure::NoAddress {
                            name: record.name.clone(),
                            family: *family,
                        }),
                    }),
                }
            }
        }
        (wanted, unknown)
    }

    /// The zone of config entry `index`, resolved at most once per cycle.
    async fn zone_of(&mut self, index: usize) -> Result<Zone, ZoneError> {
        if let Some(known) = self.resolved.get(&index) {
            return known.clone();
        }
        let zone = self
            .zones
            .zone_for(&self.config.records[index], self.api)
            .await;
        self.resolved.insert(index, zone.clone());
        zone
    }

    /// Which desired records DNS already shows in sync. DNS failures only mean "ask the API".
    async fn observe(&mut self, wanted: &[Wanted]) -> Vec<bool> {
        let mut in_sync = vec![false; wanted.len()];
        let mut groups: BTreeMap<Vec<SocketAddr>, Vec<usize>> = BTreeMap::new();
        for (position, entry) in wanted.iter().enumerate() {
            let servers = match &self.config.check {
                CheckMode::Api => return in_sync,
                CheckMode::Servers(servers) => servers.clone(),
                CheckMode::Auto => match self.zone_of(entry.index).await {
                    Ok(zone) => self.zones.nameservers(&zone).await,
                    // The API phase reports the zone problem for this record.
                    Err(_) => Vec::new(),
                },
            };
            if !servers.is_empty() {
                groups.entry(servers).or_default().push(position);
            }
        }
        let mut warned = false;
        for (servers, positions) in groups {
            let checks: Vec<DnsCheck> = positions
                .iter()
                .map(|position| DnsCheck::for_record(&wanted[*position].record))
                .collect();
            let verdicts = observe::check_all(
                &servers,
                &checks,
                self.config.detect.timeout.min(Duration::from_secs(3)),
            )
            .await;
            for (position, verdict) in positions.into_iter().zip(verdicts) {
                let record = &wanted[position].record;
                match verdict {
                    DnsVerdict::InSync => in_sync[position] = true,
                    DnsVerdict::NeedsApi(reason) => tracing::debug!(
                        "{} {}: {reason}; comparing through the API",
                        record.family,
                        record.name
                    ),
                    DnsVerdict::Unreachable(error) => {
                        if !warned {
                            let shown: Vec<String> =
                                servers.iter().map(ToString::to_string).collect();
                            tracing::warn!("DNS servers {} did not answer ({error}); comparing through the API instead", shown.join(", "));
                            warned = true;
                        }
                    }
                }
            }
        }
        in_sync
    }

    /// Groups pending records by zone; a record without one is reported as failed.
    async fn group_by_zone(
        &mut self,
        pending: Vec<Wanted>,
    ) -> (BTreeMap<String, (Zone, Vec<Wanted>)>, Vec<RecordReport>) {
        let mut by_zone: BTreeMap<String, (Zone, Vec<Wanted>)> = BTreeMap::new();
        let mut failed = Vec::new();
        for wanted in pending {
            match self.zone_of(wanted.index).await {
                Ok(zone) => by_zone
                    .entry(zone.id.clone())
                    .or_insert_with(|| (zone, Vec::new()))
                    .1
                    .push(wanted),
                Err(error) => failed.push(RecordReport {
                    name: wanted.record.name.clone(),
                    families: vec![wanted.record.family],
                    zone: None,
                    state: RecordState::Failed(RecordFailure::NoZone {
                        name: wanted.record.name.clone(),
                        family: wanted.record.family,
                        error,
                    }),
                }),
            }
        }
        (by_zone, failed)
    }

    /// Lists one zone's records, plans, and applies (unless a dry run). When the zone answers
    /// 404 and `may_retry`, its records come back for another try after a fresh zone list.
    async fn reconcile_zone(
        &mut self,
        zone: &Zone,
        pending: Vec<Wanted>,
        may_retry: bool,
    ) -> ZoneOutcome {
        let observed = match self.api.list_records(&zone.id).await {
            Ok(observed) => observed,
            Err(error) => {
                let zone_gone = matches!(error, ApiError::Api { status: 404, .. });
                if zone_gone && may_retry {
                    return ZoneOutcome::Gone(pending);
                }
                // Gone for good: do not keep it in the cache for a day.
                if zone_gone {
                    self.zones.forget();
                }
                let records = pending
                    .into_iter()
                    .map(|wanted| RecordReport {
                        name: wanted.record.name.clone(),
                        families: vec![wanted.record.family],
                        zone: Some(zone.name.clone()),
                        state: RecordState::Failed(RecordFailure::ListFailed {
                            name: wanted.record.name,
                            family: wanted.record.family,
                            zone: zone.name.clone(),
                            error: error.clone(),
                        }),
                    })
                    .collect();
                return ZoneOutcome::Done(records);
            }
        };
        let desired: Vec<DesiredRecord> = pending.into_iter().map(|wanted| wanted.record).collect();
        let plan = plan::plan(&desired, &observed);
        let mut records = Vec::new();
        let mut changes = Vec::new();
        for step in plan.steps {
            let state = match step.outcome {
                Outcome::InSync => RecordState::InSync,
                Outcome::Refused(refusal) => RecordState::Failed(RecordFailure::Refused {
                    name: step.name.clone(),
                    families: step.families.clone(),
                    zone: zone.name.clone(),
                    refusal,
                }),
                Outcome::Change(action) if self.dry_run => RecordState::WouldChange(action),
                Outcome::Change(action) => {
                    changes.push((step.name, step.families, action));
                    continue;
                }
            };
            records.push(RecordReport {
                name: step.name,
                families: step.families,
                zone: Some(zone.name.clone()),
                state,
            });
        }
        if changes.is_empty() {
            return ZoneOutcome::Done(records);
        }
        let actions: Vec<&plan::Action> = changes.iter().map(|(_, _, action)| action).collect();
        let applied = apply::apply_zone(self.api, zone, &actions).await;
        for ((name, families, action), result) in changes.into_iter().zip(applied) {
            let state = match result {
                Ok(()) => RecordState::Changed(action),
                Err(error) => RecordState::Failed(RecordFailure::Write {
                    zone: zone.name.clone(),
                    action,
                    error,
                }),
            };
            records.push(RecordReport {
                name,
                families,
                zone: Some(zone.name.clone()),
                state,
            });
        }
        ZoneOutcome::Done(records)
    }
}

/// What became of one zone's records.
enum ZoneOutcome {
    Done(Vec<RecordReport>),
    /// The zone answered 404: its records, for another try after a fresh zone list.
    Gone(Vec<Wanted>),
}

/// The API client for a config, honouring a Retry-After that an earlier run remembered.
fn new_client(
    config: &Config,
    state: Option<&StateDir>,
) -> Result<Client, crate::http::SetupError> {
    let client = Client::new(
        &config.api_url,
        config.token.clone(),
        config.daemon.max_requests_per_cycle,
        config.daemon.max_requests_per_hour,
    )?;
    if let Some(until) = state.and_then(StateDir::read_rate_limit) {
        client.defer_until(until);
    }
    Ok(client)
}

/// The desired record for one config entry and family at this host's address.
pub fn desired_record(record: &RecordConfig, family: Family, content: IpAddr) -> DesiredRecord {
    DesiredRecord {
        name: record.name.clone(),
        family,
        content,
        proxied: record.proxied,
        ttl: record.ttl,
        comment: record.comment.clone(),
        replace_cname: record.replace_cname,
    }
}
