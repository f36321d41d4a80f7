//! One zone's step of a pass: memory (may say "in sync", never what to write) → list → plan
//! → apply, and the report lines with what each record holds. Every write names an id from
//! this pass's listing.

use std::collections::BTreeMap;

use crate::apply;
use crate::cloudflare::ApiError;
use crate::config::CheckMode;
use crate::model::{DesiredRecord, Zone};
use crate::plan::{self, Outcome, Plan};
use crate::reconcile::{from_memory, FromMemory, Trust};
use crate::state::remembered::{self};
use crate::state::unix_now;

use super::{Pass, RecordFailure, RecordReport, RecordState, Wanted};

impl Pass<'_, '_> {
    /// Brings one zone's pending records in sync: from memory when it shows them in sync (no
    /// request), else list, plan and apply (unless a dry run): a write always follows a
    /// listing of this cycle. When the zone answers 404 and `may_retry`, its records come
    /// back for another try after a fresh zone list.
    pub(super) async fn reconcile_zone(
        &mut self,
        token: usize,
        zone: &Zone,
        pending: Vec<Wanted>,
        may_retry: bool,
    ) -> ZoneOutcome {
        let key = remembered::key(self.accounts[token].fingerprint, &zone.id);
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
                return ZoneOutcome::Done(
                    self.apply_and_report(token, zone, &key, (&desired, plan))
                        .await,
                );
            }
            FromMemory::List(reason) => {
                tracing::debug!(zone = %zone.name, ?reason, "listing the zone's records");
            }
        }
        let observed = match self.accounts[token].api.list_records(&zone.id).await {
            Ok(observed) => observed,
            Err(error) => return self.listing_failed(token, zone, &key, pending, may_retry, error),
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
        ZoneOutcome::Done(
            self.apply_and_report(token, zone, &key, (&desired, plan))
                .await,
        )
    }

    /// The zone's listing failed: a 404 forgets what was remembered of it and, when
    /// `may_retry`, hands its records back for another try after a fresh zone list; else
    /// every pending record fails with the listing's error.
    fn listing_failed(
        &mut self,
        token: usize,
        zone: &Zone,
        key: &str,
        pending: Vec<Wanted>,
        may_retry: bool,
        error: ApiError,
    ) -> ZoneOutcome {
        let zone_gone = matches!(error, ApiError::Api { status: 404, .. });
        if zone_gone {
            self.memory.forget(key);
        }
        if zone_gone && may_retry {
            return ZoneOutcome::Gone(pending);
        }
        // Gone for good: do not keep it in the cache for a day.
        if zone_gone {
            self.accounts[token].zones.forget();
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
        ZoneOutcome::Done(records)
    }

    /// Applies a plan's changes (unless a dry run; bisecting a rejected batch) and reports
    /// every step. The plan's actions name only ids of this cycle's listing: memory's plans
    /// reach here only when they hold no action.
    pub(super) async fn apply_and_report(
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
        let applied = if actions.is_empty() {
            apply::Applied::default()
        } else {
            apply::apply_zone(self.accounts[token].api, zone, &actions).await
        };
        self.record_results(zone, key, (desired, plan), applied)
    }

    /// Turns a plan and the results of its actions (in plan order; none in a dry run) into
    /// report lines, and tells the memory what was written.
    pub(super) fn record_results(
        &mut self,
        zone: &Zone,
        key: &str,
        (desired, plan): (&[DesiredRecord], Plan),
        applied: apply::Applied,
    ) -> Vec<RecordReport> {
        let mut results = applied.results.into_iter();
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
        self.memory.written(key, &written, &applied.created);
        records
    }
}

/// Pending records by (token index, zone id), with the zone.
pub(super) type ZoneGroups = BTreeMap<(usize, String), (Zone, Vec<Wanted>)>;

/// What became of one zone's records.
pub(super) enum ZoneOutcome {
    Done(Vec<RecordReport>),
    /// The zone answered 404: its records, for another try after a fresh zone list.
    Gone(Vec<Wanted>),
}
