//! One pass of the pipeline, as typed stages: detect → desired records → observe
//! (authoritative DNS) → resolve each pending record's zone (once) → per zone: list → plan →
//! apply. Each stage returns its own result; the `CycleReport` is assembled from them at the
//! end and nothing is printed here (`render` turns reports into words). A record that fails
//! (no address, no zone, a refusal, an API error) is reported and never stops the other
//! records or zones; a 403 about one zone stops only that zone.

mod desired;
mod engine;
mod lists;
pub mod render;
pub mod report;
mod stages;
mod zone;

use std::collections::{BTreeMap, BTreeSet};

use crate::cloudflare::ApiCycle;
use crate::config::Config;
use crate::detect::Detector;
use crate::model::{DesiredRecord, Zone};
use crate::state::remembered::Remembered;
use crate::zones::{ZoneDirectory, ZoneError};

pub use desired::{desired_record, prefix_sources, record_address, PrefixSources};
pub use engine::{Account, Engine, ReaderParts};
pub use report::{
    CycleProblem, CycleReport, Derivation, FailureKind, ListFailure, ListReport, ListState,
    ProblemKey, RecordFailure, RecordReport, RecordState,
};
use zone::ZoneOutcome;

/// One token's side of a pass: its API handle for this cycle, its fingerprint and its zones.
pub(super) struct PassAccount<'a, 'c> {
    api: &'a ApiCycle<'c>,
    fingerprint: &'a str,
    zones: &'a mut ZoneDirectory,
}

/// A desired record and the config entry it came from.
struct Wanted {
    index: usize,
    record: DesiredRecord,
    /// DNS had no say on it (proxied, unreachable, or not asked): memory may stand in.
    dns_silent: bool,
}

/// The borrowed parts one cycle works with.
pub(super) struct Pass<'a, 'c> {
    config: &'a Config,
    /// One per token, in `Config::tokens` order.
    accounts: Vec<PassAccount<'a, 'c>>,
    detector: &'a Detector,
    memory: &'a mut Remembered,
    /// Each config entry's zone, resolved once per cycle.
    resolved: BTreeMap<usize, Result<Zone, ZoneError>>,
    dry_run: bool,
    forced: bool,
}

impl Pass<'_, '_> {
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
        // What the detect stage found goes to the WAF stage directly, not back out of the
        // report (data flows one way).
        let detected: BTreeMap<crate::model::Family, std::net::IpAddr> = addresses
            .iter()
            .map(|(family, answer)| (*family, answer.ip))
            .collect();
        report.addresses = detected.clone();
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
                let may_retry = attempt == 0 && !self.accounts[token].zones.listed_this_cycle();
                let before = self.accounts[token].api.requests_sent();
                match self.reconcile_zone(token, &zone, records, may_retry).await {
                    ZoneOutcome::Done(records) => report.records.extend(records),
                    ZoneOutcome::Gone(records) => {
                        gone.extend(records);
                        gone_tokens.insert(token);
                    }
                }
                let spent = self.accounts[token].api.requests_sent() - before;
                *report.zone_requests.entry(zone.name.clone()).or_default() += spent;
            }
            if gone.is_empty() {
                break;
            }
            tracing::debug!("a cached zone is gone; listing the zones again");
            for token in gone_tokens {
                self.accounts[token].zones.forget();
            }
            self.resolved.clear();
            pending = gone;
        }

        report
            .records
            .sort_by(|a, b| (&a.name, &a.families).cmp(&(&b.name, &b.families)));
        report.lists = self.lists(&detected).await;
        report
    }
}
