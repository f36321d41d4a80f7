//! The stages of one pass before the API: the records' zones, this host's addresses, the
//! desired records (through the pure `desired` module), and authoritative DNS, which settles
//! every record it shows in sync without an API request.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use crate::config::CheckMode;
use crate::detect::{Answer, DetectError};
use crate::model::{Family, Zone};
use crate::observe::{self, DnsCheck, DnsVerdict};
use crate::zones::ZoneError;

use super::desired::{desired_record, prefix_sources, record_address, PrefixSources};
use super::zone::ZoneGroups;
use super::{Derivation, Pass, RecordFailure, RecordReport, RecordState, Wanted};

impl Pass<'_, '_> {
    /// A failed report for each record whose own token file cannot be read.
    pub(super) fn unreadable_records(&self) -> Vec<RecordReport> {
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
    pub(super) async fn detect(&self) -> (BTreeMap<Family, Answer>, Vec<DetectError>) {
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
    pub(super) async fn prefix_sources(&self) -> PrefixSources {
        prefix_sources(self.config, self.detector).await
    }

    /// The desired records, a failure for each record whose address is unknown, and how each
    /// LAN host's address was derived.
    pub(super) fn desired(
        &self,
        addresses: &BTreeMap<Family, Answer>,
        sources: &PrefixSources,
    ) -> (Vec<Wanted>, Vec<RecordReport>, Vec<Derivation>) {
        let mut wanted = Vec::new();
        let mut unknown = Vec::new();
        let mut derived = Vec::new();
        for (index, record) in self.config.records.iter().enumerate() {
            for family in &record.families {
                let published: Vec<std::net::IpAddr> = self
                    .memory
                    .contents_at(&record.name, family.record_type())
                    .iter()
                    .filter_map(|content| content.parse().ok())
                    .collect();
                match record_address(record, *family, addresses, sources, &published) {
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
    pub(super) async fn zone_of(&mut self, index: usize) -> Result<Zone, ZoneError> {
        if let Some(known) = self.resolved.get(&index) {
            return known.clone();
        }
        let record = &self.config.records[index];
        let account = &mut self.accounts[record.token];
        let zone = account.zones.zone_for(record, account.api).await;
        self.resolved.insert(index, zone.clone());
        zone
    }

    /// Which desired records DNS already shows in sync, noting on each whether DNS had a say.
    /// DNS failures only mean "ask the API".
    pub(super) async fn observe(&mut self, wanted: &mut [Wanted]) -> Vec<bool> {
        let mut in_sync = vec![false; wanted.len()];
        let mut groups: BTreeMap<Vec<SocketAddr>, Vec<usize>> = BTreeMap::new();
        for (position, entry) in wanted.iter().enumerate() {
            let servers = match &self.config.check {
                CheckMode::Api => return in_sync,
                CheckMode::Servers(servers) => servers.clone(),
                CheckMode::Auto => match self.zone_of(entry.index).await {
                    Ok(zone) => {
                        let token = self.config.records[entry.index].token;
                        self.accounts[token].zones.nameservers(&zone).await
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
    pub(super) async fn group_by_zone(
        &mut self,
        pending: Vec<Wanted>,
    ) -> (ZoneGroups, Vec<RecordReport>) {
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
}
