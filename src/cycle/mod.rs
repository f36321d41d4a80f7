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
use crate::detect::{Answer, DetectError, Detector, Provider};
use crate::model::{DesiredRecord, Family, Zone};
use crate::observe::{self, DnsCheck, DnsVerdict};
use crate::plan::{self, Outcome, Plan};
use crate::reconcile::{from_memory, FromMemory, Trust};
use crate::state::remembered::{self, Remembered};
use crate::state::{unix_now, StateDir};
use crate::zones::{ZoneDirectory, ZoneError};
mod lists;

pub use report::{
    CycleProblem, CycleReport, Derivation, FailureKind, ListFailure, ListReport, ListState,
    ProblemKey, RecordFailure, RecordReport, RecordState,
};

/// The long-lived parts a cycle needs: config, one API client (with its budget) and zone
/// directory per token, the detector, the state directory and what it remembers.
pub struct Engine {
    pub config: Config,
    accounts: Vec<Account>,
    directories: Vec<ZoneDirectory>,
    detector: Detector,
    state: Option<Arc<StateDir>>,
    /// What the API last showed at the managed names; loaded on the first cycle.
    memory: Option<Remembered>,
    /// The next cycle re-reads what DNS cannot confirm (daemon start, SIGUSR1).
    force_reread: bool,
    /// A Retry-After may be on disk (so a cycle without one removes it).
    rate_limit_remembered: bool,
}

/// One token's client. Records sharing a token share it, and so its budget: Cloudflare's
/// rate limit is per token.
pub struct Account {
    pub client: Client,
    fingerprint: String,
}

/// A desired record and the config entry it came from.
struct Wanted {
    index: usize,
    record: DesiredRecord,
    /// DNS had no say on it (proxied, unreachable, or not asked): memory may stand in.
    dns_silent: bool,
}

/// The borrowed parts one cycle works with.
pub(super) struct Stages<'a, 'c> {
    config: &'a Config,
    /// One per token, in `Config::tokens` order.
    apis: &'a [ApiCycle<'c>],
    fingerprints: Vec<&'a str>,
    detector: &'a Detector,
    zones: &'a mut [ZoneDirectory],
    memory: &'a mut Remembered,
    /// Each config entry's zone, resolved once per cycle.
    resolved: BTreeMap<usize, Result<Zone, ZoneError>>,
    dry_run: bool,
    forced: bool,
}

impl Engine {
    /// Builds the clients for a config.
    pub fn new(config: Config) -> Result<Engine, crate::http::SetupError> {
        let state = config
            .state_dir
            .as_deref()
            .map(|dir| Arc::new(StateDir::new(dir)));
        let (accounts, directories) = accounts(&config, state.as_ref())?;
        let detector = Detector::new(config.detect.timeout);
        Ok(Engine {
            config,
            accounts,
            directories,
            detector,
            state,
            memory: None,
            force_reread: false,
            rate_limit_remembered: true,
        })
    }

    /// Puts a new config in force. The API clients, with their budgets and backoff, are kept
    /// unless the API URL, a token or the limits changed, so a reload cannot be used to
    /// hammer Cloudflare; so are the zone directories.
    pub fn reconfigure(&mut self, config: Config) -> Result<(), crate::http::SetupError> {
        let same_api = config.api_url == self.config.api_url && config.tokens == self.config.tokens;
        let same_limits = config.daemon.max_requests_per_cycle
            == self.config.daemon.max_requests_per_cycle
            && config.daemon.max_requests_per_hour == self.config.daemon.max_requests_per_hour;
        let same_state = config.state_dir == self.config.state_dir;
        if !same_state {
            self.state = config
                .state_dir
                .as_deref()
                .map(|dir| Arc::new(StateDir::new(dir)));
            self.memory = None;
        }
        if !(same_api && same_limits && same_state) {
            let (accounts, directories) = accounts(&config, self.state.as_ref())?;
            self.accounts = accounts;
            self.directories = directories;
        }
        self.detector = Detector::new(config.detect.timeout);
        self.config = config;
        Ok(())
    }

    /// The first token's API client, for tests and benchmarks.
    pub fn client(&self) -> &Client {
        &self.accounts[0].client
    }

    /// Every token's client, in `Config::tokens` order, the zone directories and the
    /// detector, for doctor.
    pub fn parts_mut(&mut self) -> (&[Account], &mut [ZoneDirectory], &Detector) {
        (&self.accounts, &mut self.directories, &self.detector)
    }

    /// Makes the next cycle re-read through the API what DNS cannot confirm.
    pub fn reread_next_cycle(&mut self) {
        self.force_reread = true;
    }

    /// Runs one cycle. With `dry_run`, stops after the plan and sends only GET requests. The
    /// whole cycle ends by `[daemon].cycle_timeout`, whatever hangs.
    pub async fn run_cycle(&mut self, dry_run: bool) -> CycleReport {
        let timeout = self.config.daemon.cycle_timeout;
        let started = Instant::now();
        // The config caps cycle_timeout, so this cannot overflow; stay safe if it did.
        let deadline = started.checked_add(timeout).unwrap_or(started);
        let requests_before = self.requests_by_status();
        let apis: Vec<ApiCycle> = self
            .accounts
            .iter()
            .map(|account| account.client.cycle(deadline))
            .collect();
        for directory in &mut self.directories {
            directory.start_cycle();
        }
        let state = self.state.clone();
        let memory = self.memory.get_or_insert_with(|| {
            state
                .as_deref()
                .and_then(|state| state.read_json::<Remembered>(remembered::FILE))
                .and_then(|file| {
                    let checked = file.checked();
                    if checked.is_none() {
                        tracing::warn!(
                            "ignoring {}: another version wrote it; the zones are listed again",
                            remembered::FILE
                        );
                    }
                    checked
                })
                .unwrap_or_default()
        });
        let remembered_before = memory.clone();
        let stages = Stages {
            config: &self.config,
            apis: &apis,
            fingerprints: self
                .accounts
                .iter()
                .map(|account| account.fingerprint.as_str())
                .collect(),
            detector: &self.detector,
            zones: &mut self.directories,
            memory,
            resolved: BTreeMap::new(),
            dry_run,
            forced: std::mem::take(&mut self.force_reread),
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
            let until = self
                .accounts
                .iter()
                .filter_map(|account| account.client.rate_limited_until())
                .max();
            if until.is_some() || self.rate_limit_remembered {
                state.write_rate_limit(until);
            }
            self.rate_limit_remembered = until.is_some();
            if let Some(memory) = self.memory.as_ref().filter(|_| !dry_run) {
                if *memory != remembered_before {
                    state.write_json(remembered::FILE, memory);
                }
            }
        }
        report.api_requests = apis.iter().map(ApiCycle::requests_sent).sum();
        drop(apis);
        for (key, count) in self.requests_by_status() {
            let before = requests_before.get(&key).copied().unwrap_or(0);
            if count > before {
                report.requests_by_status.insert(key, count - before);
            }
        }
        report.budget_remaining = self
            .accounts
            .iter()
            .map(|account| account.client.budget_remaining())
            .min();
        report
    }

    /// Requests sent so far by every token's client, by "METHOD STATUS".
    fn requests_by_status(&self) -> BTreeMap<String, u64> {
        let mut total = BTreeMap::new();
        for account in &self.accounts {
            for ((method, status), count) in account.client.requests_by_status() {
                *total.entry(format!("{method} {status}")).or_default() += count;
            }
        }
        total
    }
}

/// One client and zone directory per token. The first token keeps `zones.json`; others get
/// `zones-<fingerprint>.json`.
fn accounts(
    config: &Config,
    state: Option<&Arc<StateDir>>,
) -> Result<(Vec<Account>, Vec<ZoneDirectory>), crate::http::SetupError> {
    let mut accounts = Vec::new();
    let mut directories = Vec::new();
    for (index, entry) in config.tokens.iter().enumerate() {
        let client = new_client(config, &entry.token, state.map(|state| state.as_ref()))?;
        let fingerprint = entry.token.fingerprint();
        let cache_file = if index == 0 {
            "zones.json".to_string()
        } else {
            format!("zones-{fingerprint}.json")
        };
        directories.push(ZoneDirectory::new(
            config,
            &entry.token,
            cache_file,
            state.cloned(),
        ));
        accounts.push(Account {
            client,
            fingerprint,
        });
    }
    Ok((accounts, directories))
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
        let sources = self.prefix_sources().await;
        let (wanted, unknown, derived) = self.desired(&addresses, &sources);
        report.addresses = addresses
            .iter()
            .map(|(family, answer)| (*family, answer.ip))
            .collect();
        report.records.extend(unknown);
        report.records.extend(self.unreadable_records());
        report.derived = derived;

        let mut wanted = wanted;
        let in_sync = self.observe(&mut wanted).await;
        let mut pending = Vec::new();
        for (wanted, synced) in wanted.into_iter().zip(in_sync) {
            if synced {
                report.records.push(RecordReport {
                    name: wanted.record.name.clone(),
                    families: vec![wanted.record.family],
                    zone: None,
                    state: RecordState::InSync,
                    contents: BTreeMap::from([(wanted.record.family, wanted.record.content)]),
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
            let mut gone: Vec<Wanted> = Vec::new();
            let mut gone_tokens = BTreeSet::new();
            for ((token, _), (zone, records)) in by_zone {
                let may_retry = attempt == 0 && !self.zones[token].listed_this_cycle();
                let before = self.apis[token].requests_sent();
                match self.reconcile_zone(token, &zone, records, may_retry).await {
                    ZoneOutcome::Done(records) => report.records.extend(records),
                    ZoneOutcome::Gone(records) => {
                        gone.extend(records);
                        gone_tokens.insert(token);
                    }
                }
                let spent = self.apis[token].requests_sent() - before;
                *report.zone_requests.entry(zone.name.clone()).or_default() += spent;
            }
            if gone.is_empty() {
                break;
            }
            tracing::debug!("a cached zone is gone; listing the zones again");
            for token in gone_tokens {
                self.zones[token].forget();
            }
            self.resolved.clear();
            pending = gone;
        }

        report
            .records
            .sort_by(|a, b| (&a.name, &a.families).cmp(&(&b.name, &b.families)));
        report.lists = self.lists(&report.addresses).await;
        report
    }

    /// A failed report for each record whose own token file cannot be read.
    fn unreadable_records(&self) -> Vec<RecordReport> {
        self.config
            .unreadable
            .iter()
            .filter_map(|unreadable| match &unreadable.user {
                crate::config::TokenUser::Record { name, families } => Some(RecordReport {
                    name: name.clone(),
                    families: families.clone(),
                    zone: None,
                    state: RecordState::Failed(RecordFailure::TokenUnreadable {
                        name: name.clone(),
                        families: families.clone(),
                        error: unreadable.error.clone(),
                    }),
                    contents: BTreeMap::new(),
                }),
                crate::config::TokenUser::List { .. } => None,
            })
            .collect()
    }

    /// This host's address for every family a record wants, or why not.
    async fn detect(&self) -> (BTreeMap<Family, Answer>, Vec<DetectError>) {
        let families: BTreeSet<Family> = self
            .config
            .records
            .iter()
            .filter(|record| record.uses_detection())
            .flat_map(|record| record.families.iter().copied())
            // A WAF list holds every family [detect] enables.
            .chain([Family::V4, Family::V6].into_iter().filter(|family| {
                !self.config.waf_lists.is_empty()
                    && !self.config.detect.providers(*family).is_empty()
            }))
            .collect();
        let mut addresses = BTreeMap::new();
        let mut errors = Vec::new();
        for family in families {
            match self
                .detector
                .detect(family, self.config.detect.providers(family))
                .await
            {
                Ok(answer) => {
                    addresses.insert(family, answer);
                }
                Err(error) => errors.push(error),
            }
        }
        (addresses, errors)
    }

    /// What every `ipv6_prefix_from` provider answers this cycle, asked once each.
    async fn prefix_sources(&self) -> PrefixSources {
        prefix_sources(self.config, self.detector).await
    }

    /// The desired records, a failure for each record whose address is unknown, and how each
    /// LAN host's address was derived.
    fn desired(
        &self,
        addresses: &BTreeMap<Family, Answer>,
        sources: &PrefixSources,
    ) -> (Vec<Wanted>, Vec<RecordReport>, Vec<Derivation>) {
        let mut wanted = Vec::new();
        let mut unknown = Vec::new();
        let mut derived = Vec::new();
        for (index, record) in self.config.records.iter().enumerate() {
            for family in &record.families {
                match record_address(record, *family, addresses, sources) {
                    Ok((ip, derivation)) => {
                        derived.extend(derivation);
                        wanted.push(Wanted {
                            index,
                            record: desired_record(record, *family, ip),
                            dns_silent: true,
                        });
                    }
                    Err(failure) => unknown.push(RecordReport {
                        name: record.name.clone(),
                        families: vec![*family],
                        zone: None,
                        state: RecordState::Failed(*failure),
                        contents: BTreeMap::new(),
                    }),
                }
            }
        }
        (wanted, unknown, derived)
    }

    /// The zone of config entry `index`, resolved at most once per cycle.
    async fn zone_of(&mut self, index: usize) -> Result<Zone, ZoneError> {
        if let Some(known) = self.resolved.get(&index) {
            return known.clone();
        }
        let record = &self.config.records[index];
        let zone = self.zones[record.token]
            .zone_for(record, &self.apis[record.token])
            .await;
        self.resolved.insert(index, zone.clone());
        zone
    }

    /// Which desired records DNS already shows in sync, noting on each whether DNS had a say.
    /// DNS failures only mean "ask the API".
    async fn observe(&mut self, wanted: &mut [Wanted]) -> Vec<bool> {
        let mut in_sync = vec![false; wanted.len()];
        let mut groups: BTreeMap<Vec<SocketAddr>, Vec<usize>> = BTreeMap::new();
        for (position, entry) in wanted.iter().enumerate() {
            let servers = match &self.config.check {
                CheckMode::Api => return in_sync,
                CheckMode::Servers(servers) => servers.clone(),
                CheckMode::Auto => match self.zone_of(entry.index).await {
                    Ok(zone) => {
                        let token = self.config.records[entry.index].token;
                        self.zones[token].nameservers(&zone).await
                    }
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
                let entry = &mut wanted[position];
                match verdict {
                    DnsVerdict::InSync => in_sync[position] = true,
                    DnsVerdict::NeedsApi(reason) => {
                        entry.dns_silent = reason.is_silent();
                        tracing::debug!(
                            "{} {}: {reason}; comparing through the API",
                            entry.record.family,
                            entry.record.name
                        )
                    }
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

    /// Groups pending records by token and zone; a record without a zone is reported as failed.
    async fn group_by_zone(&mut self, pending: Vec<Wanted>) -> (ZoneGroups, Vec<RecordReport>) {
        let mut by_zone: ZoneGroups = BTreeMap::new();
        let mut failed = Vec::new();
        for wanted in pending {
            let token = self.config.records[wanted.index].token;
            match self.zone_of(wanted.index).await {
                Ok(zone) => by_zone
                    .entry((token, zone.id.clone()))
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
                    contents: BTreeMap::new(),
                }),
            }
        }
        (by_zone, failed)
    }

    /// Brings one zone's pending records in sync: from memory when it shows them in sync (no
    /// request), else list, plan and apply (unless a dry run): a write always follows a
    /// listing of this cycle. When the
    /// zone answers 404 and `may_retry`, its records come back for another try after a fresh
    /// zone list.
    async fn reconcile_zone(
        &mut self,
        token: usize,
        zone: &Zone,
        pending: Vec<Wanted>,
        may_retry: bool,
    ) -> ZoneOutcome {
        let key = remembered::key(self.fingerprints[token], &zone.id);
        let desired: Vec<DesiredRecord> =
            pending.iter().map(|wanted| wanted.record.clone()).collect();
        let trust = Trust {
            now: unix_now(),
            reconcile: self.config.reconcile,
            forced: self.forced,
            api_mode: matches!(self.config.check, CheckMode::Api),
            dns_contradicts: pending.iter().any(|wanted| !wanted.dns_silent),
        };
        let remembered = self.memory.records(&key);
        let decision = from_memory(
            &desired,
            remembered
                .as_ref()
                .map(|(at, records)| (*at, records.as_slice())),
            trust,
        );
        match decision {
            FromMemory::InSync(plan) => {
                tracing::debug!(zone = %zone.name, "in sync by what the API showed within [check].reconcile");
                return ZoneOutcome::Done(self.outcomes(token, zone, &key, (&desired, plan)).await);
            }
            FromMemory::List(reason) => {
                tracing::debug!(zone = %zone.name, ?reason, "listing the zone's records");
            }
        }
        let observed = match self.apis[token].list_records(&zone.id).await {
            Ok(observed) => observed,
            Err(error) => {
                let zone_gone = matches!(error, ApiError::Api { status: 404, .. });
                if zone_gone {
                    self.memory.forget(&key);
                }
                if zone_gone && may_retry {
                    return ZoneOutcome::Gone(pending);
                }
                // Gone for good: do not keep it in the cache for a day.
                if zone_gone {
                    self.zones[token].forget();
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
                        contents: BTreeMap::new(),
                    })
                    .collect();
                return ZoneOutcome::Done(records);
            }
        };
        // Every managed name, not only this cycle's pending ones: a record DNS confirmed this
        // time keeps its remembered id for the next change.
        let names: Vec<&crate::model::DomainName> = self
            .config
            .records
            .iter()
            .map(|record| &record.name)
            .collect();
        self.memory
            .remember_listing(&key, trust.now, &names, &observed);
        let plan = plan::plan(&desired, &observed);
        ZoneOutcome::Done(self.outcomes(token, zone, &key, (&desired, plan)).await)
    }

    /// Applies a plan's changes (unless a dry run; bisecting a rejected batch) and reports
    /// every step. The plan's actions name only ids of this cycle's listing: memory's plans
    /// reach here only when they hold no action.
    async fn outcomes(
        &mut self,
        token: usize,
        zone: &Zone,
        key: &str,
        (desired, plan): (&[DesiredRecord], Plan),
    ) -> Vec<RecordReport> {
        let actions: Vec<&plan::Action> = if self.dry_run {
            Vec::new()
        } else {
            plan.actions().collect()
        };
        let results = if actions.is_empty() {
            Vec::new()
        } else {
            apply::apply_zone(&self.apis[token], zone, &actions).await
        };
        self.record_results(token, zone, key, (desired, plan), results)
    }

    /// Turns a plan and the results of its actions (in plan order; none in a dry run) into
    /// report lines, and tells the memory what was written.
    fn record_results(
        &mut self,
        token: usize,
        zone: &Zone,
        key: &str,
        (desired, plan): (&[DesiredRecord], Plan),
        results: Vec<Result<(), ApiError>>,
    ) -> Vec<RecordReport> {
        let mut results = results.into_iter();
        let mut records = Vec::new();
        let mut written = Vec::new();
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
                Outcome::Change(action) => match results.next() {
                    Some(Ok(())) => {
                        written.push(action.clone());
                        RecordState::Changed(action)
                    }
                    Some(Err(error)) => RecordState::Failed(RecordFailure::Write {
                        zone: zone.name.clone(),
                        action,
                        error,
                    }),
                    None => RecordState::WouldChange(action),
                },
            };
            // What the record holds or is set to: the desired content of its families,
            // unless it failed.
            let contents = if matches!(state, RecordState::Failed(_)) {
                BTreeMap::new()
            } else {
                desired
                    .iter()
                    .filter(|wanted| {
                        wanted.name == step.name && step.families.contains(&wanted.family)
                    })
                    .map(|wanted| (wanted.family, wanted.content))
                    .collect()
            };
            records.push(RecordReport {
                name: step.name,
                families: step.families,
                zone: Some(zone.name.clone()),
                state,
                contents,
            });
        }
        let written: Vec<&plan::Action> = written.iter().collect();
        let created = self.apis[token].take_created(&zone.id);
        self.memory.written(key, &written, &created);
        records
    }
}

/// Pending records by (token index, zone id), with the zone.
type ZoneGroups = BTreeMap<(usize, String), (Zone, Vec<Wanted>)>;

/// What became of one zone's records.
enum ZoneOutcome {
    Done(Vec<RecordReport>),
    /// The zone answered 404: its records, for another try after a fresh zone list.
    Gone(Vec<Wanted>),
}

/// The API client for a config, honouring a Retry-After that an earlier run remembered.
fn new_client(
    config: &Config,
    token: &crate::secret::ApiToken,
    state: Option<&StateDir>,
) -> Result<Client, crate::http::SetupError> {
    let client = Client::new(
        &config.api_url,
        token.clone(),
        config.daemon.max_requests_per_cycle,
        config.daemon.max_requests_per_hour,
    )?;
    if let Some(until) = state.and_then(StateDir::read_rate_limit) {
        client.defer_until(until);
    }
    Ok(client)
}

/// What each `ipv6_prefix_from` provider answered this cycle (asked once each).
pub type PrefixSources = Vec<(Provider, Result<Answer, String>)>;

/// Asks every `ipv6_prefix_from` provider once, before the publishable filter: the derived
/// address is filtered instead.
pub async fn prefix_sources(config: &Config, detector: &Detector) -> PrefixSources {
    let mut sources: PrefixSources = Vec::new();
    for provider in config
        .records
        .iter()
        .filter_map(|record| record.ipv6_prefix_from.as_ref())
    {
        if !sources.iter().any(|(asked, _)| asked == provider) {
            let answer = detector.ask_unfiltered(Family::V6, provider).await;
            sources.push((provider.clone(), answer));
        }
    }
    sources
}

/// The address a record should hold: the detected one of its family, or, for a LAN host
/// (`ipv6_host`), its interface id in the /64 of the detected IPv6 address or of its
/// `ipv6_prefix_from` source (then with how it was derived). A prefix longer than /64 (a /80
/// LAN, a /128 PPPoE address) derives nothing. Nothing non-global is returned.
pub fn record_address(
    record: &RecordConfig,
    family: Family,
    addresses: &BTreeMap<Family, Answer>,
    sources: &PrefixSources,
) -> Result<(IpAddr, Option<Derivation>), Box<RecordFailure>> {
    let Some(host) = record.ipv6_host else {
        return addresses
            .get(&family)
            .map(|answer| (answer.ip, None))
            .ok_or_else(|| {
                Box::new(RecordFailure::NoAddress {
                    name: record.name.clone(),
                    family,
                })
            });
    };
    let no_prefix = |reason: String| {
        Box::new(RecordFailure::NoPrefix {
            name: record.name.clone(),
            reason,
        })
    };
    let (source, base) = match &record.ipv6_prefix_from {
        Some(provider) => {
            let answer = sources
                .iter()
                .find(|(asked, _)| asked == provider)
                .map(|(_, answer)| answer.clone())
                .unwrap_or_else(|| Err("was not asked".to_string()));
            (
                provider.to_string(),
                answer.map_err(|reason| no_prefix(format!("{provider} {reason}")))?,
            )
        }
        None => match addresses.get(&Family::V6) {
            Some(answer) => ("the detected IPv6 address".to_string(), *answer),
            None => {
                return Err(no_prefix(
                    "this host's IPv6 address is unknown (see the detection error)".to_string(),
                ))
            }
        },
    };
    let IpAddr::V6(base_v6) = base.ip else {
        return Err(no_prefix(format!(
            "{source} gave {}, which is not IPv6",
            base.ip
        )));
    };
    let address = crate::prefix::derive(base_v6, base.prefix_len, host)
        .map_err(|error| no_prefix(format!("{source}: {error}")))?;
    let address = IpAddr::V6(address);
    crate::detect::filter::publishable(address).map_err(|reason| {
        no_prefix(format!(
            "{address} (from {base_v6} of {source}) is not publishable: {reason}"
        ))
    })?;
    Ok((
        address,
        Some(Derivation {
            name: record.name.clone(),
            address,
            host,
            source,
            base: base.ip,
        }),
    ))
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
