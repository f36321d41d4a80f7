//! One pass of the pipeline: detect → observe (authoritative DNS) → plan → apply. It returns a
//! `CycleReport` and prints nothing, so `--once`, the daemon and the demo all share it. A
//! record that fails (no address, no zone, a refusal, an API error) is reported and never
//! stops the other records or zones.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::time::Instant;

use crate::apply;
use crate::cloudflare::{ApiError, Client};
use crate::config::{CheckMode, Config, RecordConfig};
use crate::detect::Detector;
use crate::model::{DesiredRecord, DomainName, Family, Zone};
use crate::observe::{self, DnsCheck, DnsVerdict};
use crate::plan::{self, Action, Outcome};
use crate::zones::ZoneDirectory;

/// What happened to one managed record (one family, or all families of a CNAME replacement).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordStatus {
    InSync,
    Changed(Action),
    WouldChange(Action),
    Failed(String),
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordReport {
    pub name: DomainName,
    pub families: Vec<Family>,
    pub zone: Option<String>,
    pub status: RecordStatus,
}

/// Everything a cycle did, for printing, exit codes and systemd status.
#[derive(Clone, Debug, Default)]
pub struct CycleReport {
    pub addresses: BTreeMap<Family, IpAddr>,
    pub errors: Vec<String>,
    pub records: Vec<RecordReport>,
    pub api_requests: u32,
    pub dry_run: bool,
}

impl CycleReport {
    /// True when every managed record is in sync (or, in a dry run, was planned).
    pub fn success(&self) -> bool {
        self.errors.is_empty()
            && !self
                .records
                .iter()
                .any(|record| matches!(record.status, RecordStatus::Failed(_)))
    }

    /// Logs the outcome: one line per change and per problem; records in sync only at debug.
    pub fn log(&self) {
        self.log_since(&BTreeSet::new());
    }

    /// Every problem of this cycle, as the sentences that are logged.
    pub fn problems(&self) -> BTreeSet<String> {
        let failed = self
            .records
            .iter()
            .filter_map(|record| match &record.status {
                RecordStatus::Failed(message) => Some(message.clone()),
                _ => None,
            });
        self.errors.iter().cloned().chain(failed).collect()
    }

    /// The problems with their numbers blanked out: "backing off until 16:20:05" and "until
    /// 16:25:40" are the same problem, and should be logged once.
    pub fn problem_keys(&self) -> BTreeSet<String> {
        self.problems()
            .iter()
            .map(|problem| problem_key(problem))
            .collect()
    }

    /// Logs like `log`, but a problem already logged last cycle (its key in `previous`, from
    /// `problem_keys`) drops to debug,
    /// so a daemon waiting out an outage does not repeat the same error every interval; and
    /// says so when problems of the last cycle are gone.
    pub fn log_since(&self, previous: &BTreeSet<String>) {
        for problem in self.problems() {
            if previous.contains(&problem_key(&problem)) {
                tracing::debug!("still: {problem}");
            } else {
                tracing::error!("{problem}");
            }
        }
        for record in &self.records {
            let zone = record.zone.as_deref().unwrap_or("?");
            match &record.status {
                RecordStatus::InSync => {
                    tracing::debug!("{} {} is in sync", types(&record.families), record.name)
                }
                RecordStatus::Changed(action) => {
                    tracing::info!("zone {zone}: {} {action}", action.done())
                }
                // The plan itself goes to stdout; the log only notes it.
                RecordStatus::WouldChange(action) => {
                    tracing::debug!("zone {zone}: would {} {action}", action.verb())
                }
                RecordStatus::Failed(_) => {}
            }
        }
        if !previous.is_empty() && self.success() {
            tracing::info!("all records are in sync again ({})", self.summary());
        }
        tracing::debug!(api_requests = self.api_requests, "cycle finished");
    }

    /// The plan as printed by `--dry-run`, one line per record, then a summary.
    pub fn render_plan(&self) -> String {
        let mut out = String::new();
        let mut changes = 0;
        for record in &self.records {
            let line = match &record.status {
                RecordStatus::InSync => format!(
                    "{:<13} {} {}",
                    "in sync",
                    record.name,
                    types(&record.families)
                ),
                RecordStatus::WouldChange(action) | RecordStatus::Changed(action) => {
                    changes += 1;
                    format!("{:<13} {action}", action.verb())
                }
                RecordStatus::Failed(message) => format!("{:<13} {message}", "error"),
            };
            out.push_str(&line);
            out.push('\n');
        }
        for error in &self.errors {
            out.push_str(&format!("{:<13} {error}\n", "error"));
        }
        let verb = if self.dry_run {
            "dry run: nothing was changed"
        } else {
            "applied"
        };
        out.push_str(&format!(
            "{changes} change(s) planned, {} record(s) in sync; {verb}\n",
            self.records
                .iter()
                .filter(|r| r.status == RecordStatus::InSync)
                .count()
        ));
        out
    }

    /// A one-line summary for systemd's STATUS= and logs.
    pub fn summary(&self) -> String {
        let in_sync = self
            .records
            .iter()
            .filter(|record| record.status == RecordStatus::InSync)
            .count();
        let changed = self
            .records
            .iter()
            .filter(|record| matches!(record.status, RecordStatus::Changed(_)))
            .count();
        let failed = self
            .records
            .iter()
            .filter(|record| matches!(record.status, RecordStatus::Failed(_)))
            .count();
        let addresses: Vec<String> = self.addresses.values().map(ToString::to_string).collect();
        let mut text = format!("{in_sync} in sync, {changed} changed, {failed} failed");
        if !addresses.is_empty() {
            text.push_str(&format!(" at {}", addresses.join(" and ")));
        }
        text
    }
}

/// A problem sentence with every run of digits replaced by `#`.
fn problem_key(problem: &str) -> String {
    let mut key = String::with_capacity(problem.len());
    for character in problem.chars() {
        if character.is_ascii_digit() {
            if !key.ends_with('#') {
                key.push('#');
            }
        } else {
            key.push(character);
        }
    }
    key
}

fn types(families: &[Family]) -> String {
    families
        .iter()
        .map(|family| family.record_type())
        .collect::<Vec<_>>()
        .join("/")
}

/// The long-lived parts a cycle needs: config, API client (with its budget), detector, zones.
pub struct Engine {
    pub config: Config,
    client: Client,
    detector: Detector,
    zones: ZoneDirectory,
}

impl Engine {
    /// Builds the clients for a config.
    pub fn new(config: Config) -> Result<Engine, reqwest::Error> {
        let client = new_client(&config)?;
        let detector = Detector::new(config.detect.timeout);
        let zones = ZoneDirectory::new(&config);
        Ok(Engine {
            config,
            client,
            detector,
            zones,
        })
    }

    /// Puts a new config in force. The API client, with its budget and backoff, is kept
    /// unless the API URL, token or limits changed, so a reload cannot be used to hammer
    /// Cloudflare; the zone directory is kept unless the API or token changed.
    pub fn reconfigure(&mut self, config: Config) -> Result<(), reqwest::Error> {
        let same_api = config.api_url == self.config.api_url && config.token == self.config.token;
        let same_limits = config.daemon.max_requests_per_cycle
            == self.config.daemon.max_requests_per_cycle
            && config.daemon.max_requests_per_hour == self.config.daemon.max_requests_per_hour;
        if !(same_api && same_limits) {
            self.client = new_client(&config)?;
        }
        if !same_api || config.state_dir != self.config.state_dir {
            self.zones = ZoneDirectory::new(&config);
        }
        self.detector = Detector::new(config.detect.timeout);
        self.config = config;
        Ok(())
    }

    /// The API client, for doctor and reports.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The detector, for doctor.
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// The zone directory, for doctor.
    pub fn zones_mut(&mut self) -> (&mut ZoneDirectory, &Client) {
        (&mut self.zones, &self.client)
    }

    /// Runs one cycle. With `dry_run`, stops after the plan and sends only GET requests. The
    /// whole cycle ends by `[daemon].cycle_timeout`, whatever hangs.
    pub async fn run_cycle(&mut self, dry_run: bool) -> CycleReport {
        let requests_before = self.client.requests_sent();
        let timeout = self.config.daemon.cycle_timeout;
        let deadline = Instant::now() + timeout;
        self.client.start_cycle(deadline);
        self.zones.start_cycle();
        // A little grace past the deadline lets requests that end at it report their own error.
        let grace = Duration::from_millis(500);
        let mut report = match tokio::time::timeout_at(deadline + grace, self.cycle(dry_run)).await {
            Ok(report) => report,
            Err(_) => CycleReport {
                dry_run,
                errors: vec![format!(
                    "the cycle did not finish within {} ([daemon].cycle_timeout) and was abandoned; \
                     a batch in flight is atomic at Cloudflare, so nothing is half-applied; the next cycle checks again",
                    humantime::format_duration(timeout)
                )],
                ..CycleReport::default()
            },
        };
        if let Some(state_dir) = &self.config.state_dir {
            crate::state::write_rate_limit(state_dir, self.client.rate_limited_until());
        }
        report.api_requests = self.client.requests_sent() - requests_before;
        report
    }

    async fn cycle(&mut self, dry_run: bool) -> CycleReport {
        let mut report = CycleReport {
            dry_run,
            ..CycleReport::default()
        };

        let families: BTreeSet<Family> = self
            .config
            .records
            .iter()
            .flat_map(|record| record.families.iter().copied())
            .collect();
        for family in families {
            match self
                .detector
                .detect(family, self.config.detect.providers(family))
                .await
            {
                Ok(ip) => {
                    report.addresses.insert(family, ip);
                }
                Err(error) => report.errors.push(error.to_string()),
            }
        }

        // Desired records, each with the index of its config entry.
        let mut desired: Vec<(usize, DesiredRecord)> = Vec::new();
        for (index, record) in self.config.records.iter().enumerate() {
            for family in &record.families {
                match report.addresses.get(family) {
                    Some(ip) => desired.push((index, desired_record(record, *family, *ip))),
                    None => report.records.push(RecordReport {
                        name: record.name.clone(),
                        families: vec![*family],
                        zone: None,
                        status: RecordStatus::Failed(format!("{family} {} was not checked: this host's {} address is unknown (see the detection error)", record.name, family.describe())),
                    }),
                }
            }
        }

        let in_sync = self.check_dns(&desired).await;

        let mut pending: Vec<(usize, DesiredRecord)> = Vec::new();
        for ((index, record), synced) in desired.into_iter().zip(in_sync) {
            if synced {
                report.records.push(RecordReport {
                    name: record.name.clone(),
                    families: vec![record.family],
                    zone: None,
                    status: RecordStatus::InSync,
                });
            } else {
                pending.push((index, record));
            }
        }

        // A zone from the cache that answers 404 was deleted or re-created: list the zones
        // again and retry its records once, in this same cycle.
        for attempt in 0..2 {
            let mut gone = Vec::new();
            for (zone, records) in self.group_by_zone(pending, &mut report).await.into_values() {
                let may_retry = attempt == 0 && !self.zones.listed_this_cycle();
                if let Some(back) = self
                    .reconcile_zone(&zone, records, dry_run, may_retry, &mut report)
                    .await
                {
                    gone.extend(back);
                }
            }
            if gone.is_empty() {
                break;
            }
            tracing::debug!("a cached zone is gone; listing the zones again");
            self.zones.forget();
            pending = gone;
        }

        report
            .records
            .sort_by(|a, b| (&a.name, &a.families).cmp(&(&b.name, &b.families)));
        report
    }

    /// Finds each pending record's zone; a record without one is reported as failed.
    async fn group_by_zone(
        &mut self,
        pending: Vec<(usize, DesiredRecord)>,
        report: &mut CycleReport,
    ) -> BTreeMap<String, (Zone, Vec<(usize, DesiredRecord)>)> {
        let mut by_zone: BTreeMap<String, (Zone, Vec<(usize, DesiredRecord)>)> = BTreeMap::new();
        for (index, record) in pending {
            match self
                .zones
                .zone_for(&self.config.records[index], &self.client)
                .await
            {
                Ok(zone) => by_zone
                    .entry(zone.id.clone())
                    .or_insert_with(|| (zone, Vec::new()))
                    .1
                    .push((index, record)),
                Err(error) => report.records.push(RecordReport {
                    name: record.name.clone(),
                    families: vec![record.family],
                    zone: None,
                    status: RecordStatus::Failed(format!(
                        "cannot manage {} {}: {error}",
                        record.family, record.name
                    )),
                }),
            }
        }
        by_zone
    }

    /// Which desired records DNS already shows in sync. DNS failures only mean "ask the API".
    async fn check_dns(&mut self, desired: &[(usize, DesiredRecord)]) -> Vec<bool> {
        let mut in_sync = vec![false; desired.len()];
        let mut groups: BTreeMap<Vec<SocketAddr>, Vec<usize>> = BTreeMap::new();
        for (position, (index, _)) in desired.iter().enumerate() {
            let servers = match &self.config.check {
                CheckMode::Api => return in_sync,
                CheckMode::Servers(servers) => servers.clone(),
                CheckMode::Auto => match self
                    .zones
                    .zone_for(&self.config.records[*index], &self.client)
                    .await
                {
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
                .map(|position| {
                    let record = &desired[*position].1;
                    DnsCheck {
                        name: record.name.clone(),
                        family: record.family,
                        expected: record.content,
                        proxied: record.proxied,
                        ttl: record.ttl,
                    }
                })
                .collect();
            let verdicts = observe::check_all(
                &servers,
                &checks,
                self.config.detect.timeout.min(Duration::from_secs(3)),
            )
            .await;
            for (position, verdict) in positions.into_iter().zip(verdicts) {
                let record = &desired[position].1;
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

    /// Lists one zone's records, plans, and applies (unless a dry run). When the zone answers
    /// 404 and `may_retry`, its records come back for another try after a fresh zone list.
    async fn reconcile_zone(
        &mut self,
        zone: &Zone,
        pending: Vec<(usize, DesiredRecord)>,
        dry_run: bool,
        may_retry: bool,
        report: &mut CycleReport,
    ) -> Option<Vec<(usize, DesiredRecord)>> {
        let observed = match self.client.list_records(&zone.id).await {
            Ok(observed) => observed,
            Err(error) => {
                let zone_gone = matches!(error, ApiError::Api { status: 404, .. });
                if zone_gone && may_retry {
                    return Some(pending);
                }
                // Gone for good: do not keep it in the cache for a day.
                if zone_gone {
                    self.zones.forget();
                }
                for (_, record) in &pending {
                    report.records.push(RecordReport {
                        name: record.name.clone(),
                        families: vec![record.family],
                        zone: Some(zone.name.clone()),
                        status: RecordStatus::Failed(format!(
                            "cannot check {} {}: listing the records of zone {} failed: {error}",
                            record.family, record.name, zone.name
                        )),
                    });
                }
                return None;
            }
        };
        let records: Vec<DesiredRecord> = pending.into_iter().map(|(_, record)| record).collect();
        let plan = plan::plan(&records, &observed);
        let mut changes: Vec<(DomainName, Vec<Family>, Action)> = Vec::new();
        for step in plan.steps {
            let status = match step.outcome {
                Outcome::InSync => RecordStatus::InSync,
                Outcome::Refused(refusal) => RecordStatus::Failed(format!(
                    "{} (zone {})",
                    refusal.describe(&step.name, &step.families),
                    zone.name
                )),
                Outcome::Change(action) if dry_run => RecordStatus::WouldChange(action),
                Outcome::Change(action) => {
                    changes.push((step.name, step.families, action));
                    continue;
                }
            };
            report.records.push(RecordReport {
                name: step.name,
                families: step.families,
                zone: Some(zone.name.clone()),
                status,
            });
        }
        if changes.is_empty() {
            return None;
        }
        let actions: Vec<&Action> = changes.iter().map(|(_, _, action)| action).collect();
        let applied = apply::apply_zone(&self.client, zone, &actions).await;
        for ((name, families, action), outcome) in changes.iter().zip(applied) {
            let status = match outcome.result {
                Ok(()) => RecordStatus::Changed(action.clone()),
                Err(message) => RecordStatus::Failed(message),
            };
            report.records.push(RecordReport {
                name: name.clone(),
                families: families.clone(),
                zone: Some(zone.name.clone()),
                status,
            });
        }
        None
    }
}

/// The API client for a config, honouring a Retry-After that an earlier run remembered.
fn new_client(config: &Config) -> Result<Client, reqwest::Error> {
    let client = Client::new(
        &config.api_url,
        config.token.clone(),
        config.daemon.max_requests_per_cycle,
        config.daemon.max_requests_per_hour,
    )?;
    if let Some(until) = config
        .state_dir
        .as_deref()
        .and_then(crate::state::read_rate_limit)
    {
        client.defer_until(until);
    }
    Ok(client)
}

fn desired_record(record: &RecordConfig, family: Family, content: IpAddr) -> DesiredRecord {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_that_differ_only_in_numbers_share_a_key() {
        assert_eq!(
            problem_key("backing off until 2026-11-25T16:20:05Z (HTTP 503)"),
            problem_key("backing off until 2026-11-25T16:25:40Z (HTTP 503)")
        );
        assert_ne!(
            problem_key("no zone holds a.example.com"),
            problem_key("no zone holds b.example.com")
        );
    }
}
