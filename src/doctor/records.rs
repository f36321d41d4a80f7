//! Doctor's judgement of each managed record, made by the same judges as the cycle: the
//! planner (`plan::plan`) decides in sync / create / update / replace-cname / refused, and
//! `observe::verdict` decides whether DNS confirms it. Doctor only adds what is its own: the
//! words, what the API and DNS hold, and for a CNAME whether its third-party target resolves.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use super::ddns::ddns_service;
use super::{finding, Finding, Status, DNS_TIMEOUT};
use crate::cloudflare::{ApiCycle, ApiError};
use crate::config::{CheckMode, Config, RecordConfig};
use crate::cycle::{desired_record, record_address, PrefixSources};
use crate::detect::filter::is_cloudflare;
use crate::model::{DesiredRecord, DomainName, Family, ObservedRecord, Zone};
use crate::observe::{self, DnsAnswer, DnsCheck, DnsVerdict};
use crate::plan::{self, Action, Outcome, Refusal, Step};
use crate::zones::ZoneDirectory;

/// One finding per managed record and family (one per name for a CNAME), plus the zones seen.
pub(super) async fn record_findings(
    config: &Config,
    apis: &[ApiCycle<'_>],
    tokens_ok: &[bool],
    directories: &mut [&mut ZoneDirectory],
    addresses: &BTreeMap<Family, crate::detect::Answer>,
    sources: &PrefixSources,
) -> (Vec<Finding>, Vec<(usize, Zone)>) {
    let mut findings = Vec::new();
    let mut listings: BTreeMap<(usize, String), Result<Vec<ObservedRecord>, ApiError>> =
        BTreeMap::new();
    let mut zones_seen: Vec<(usize, Zone)> = Vec::new();
    for record in &config.records {
        let token = record.token;
        if !tokens_ok.get(token).copied().unwrap_or(false) {
            continue;
        }
        let (api, zones) = (&apis[token], &mut *directories[token]);
        let check = format!("record {}", record.name.shown());
        let zone = match zones.zone_for(record, api).await {
            Ok(zone) => zone,
            Err(error) => {
                findings.push(finding(
                    &check,
                    Status::Problem,
                    error.to_string(),
                    Some("fix the name, pin `zone`, or give the token access to the zone"),
                ));
                continue;
            }
        };
        let servers = match &config.check {
            CheckMode::Api => Vec::new(),
            CheckMode::Servers(servers) => servers.clone(),
            CheckMode::Auto => zones.nameservers(&zone).await,
        };
        let listing_key = (token, zone.id.clone());
        if !listings.contains_key(&listing_key) {
            listings.insert(listing_key.clone(), api.list_records(&zone.id).await);
        }
        match listings.get(&listing_key) {
            Some(Ok(observed)) => {
                let here: Vec<ObservedRecord> = observed
                    .iter()
                    .filter(|observed| observed.name == record.name)
                    .cloned()
                    .collect();
                findings.extend(
                    judge(record, &zone, &here, (addresses, sources), &servers, config).await,
                );
            }
            Some(Err(error)) => findings.push(finding(
                &check,
                Status::Problem,
                format!("cannot list the records of zone {}: {error}", zone.name),
                Some("give the token DNS:Read (or DNS:Edit) on this zone"),
            )),
            None => {}
        }
        if !zones_seen.iter().any(|(_, seen)| seen.id == zone.id) {
            zones_seen.push((token, zone));
        }
    }
    (findings, zones_seen)
}

/// The planner's verdict on one record, in words.
async fn judge(
    record: &RecordConfig,
    zone: &Zone,
    here: &[ObservedRecord],
    (addresses, sources): (&BTreeMap<Family, crate::detect::Answer>, &PrefixSources),
    servers: &[SocketAddr],
    config: &Config,
) -> Vec<Finding> {
    let held: Vec<String> = here.iter().map(describe_observed).collect();
    let held = if held.is_empty() {
        "nothing".to_string()
    } else {
        held.join("; ")
    };
    let mut judged = Judged {
        check: format!("record {}", record.name.shown()),
        record,
        zone,
        held,
        desired: Vec::new(),
        servers,
        config,
    };
    let mut findings = judged.desire(here, addresses, sources);
    for step in plan::plan(&judged.desired, here).steps {
        findings.push(judged.step_finding(step).await);
    }
    findings
}

/// One record being judged: what the API holds at its name (in words), what this host wants
/// there, and where to ask DNS.
struct Judged<'a> {
    /// `record NAME`, the findings' subject.
    check: String,
    record: &'a RecordConfig,
    zone: &'a Zone,
    held: String,
    desired: Vec<DesiredRecord>,
    servers: &'a [SocketAddr],
    config: &'a Config,
}

impl Judged<'_> {
    /// Fills in `desired` with the record's address per family, as the cycle would; returns
    /// a finding for each derived address and each address that cannot be had.
    fn desire(
        &mut self,
        here: &[ObservedRecord],
        addresses: &BTreeMap<Family, crate::detect::Answer>,
        sources: &PrefixSources,
    ) -> Vec<Finding> {
        let check = &self.check;
        let mut findings = Vec::new();
        for family in &self.record.families {
            let published: Vec<IpAddr> = here
                .iter()
                .filter(|observed| {
                    observed
                        .record_type
                        .eq_ignore_ascii_case(family.record_type())
                })
                .filter_map(|observed| observed.content.parse().ok())
                .collect();
            match record_address(self.record, *family, addresses, sources, &published) {
                Ok((ip, derivation)) => {
                    self.desired.push(desired_record(self.record, *family, ip));
                    if let Some(derivation) = derivation {
                        findings.push(finding(
                            format!("{check} {family}"),
                            Status::Ok,
                            format!("derived: {derivation}"),
                            None,
                        ));
                    }
                }
                Err(failure) => findings.push(finding(
                    format!("{check} {family}"),
                    Status::Warning,
                    format!(
                        "zone {}; the API holds {}; {failure}, so the record cannot be compared",
                        self.zone.name, self.held
                    ),
                    None,
                )),
            }
        }
        findings
    }

    /// One step of the plan, in words, with what DNS says of it.
    async fn step_finding(&self, step: Step) -> Finding {
        let (check, zone, held) = (&self.check, self.zone, &self.held);
        let subject = if step.families.len() == 1 {
            format!("{check} {}", step.families[0])
        } else {
            check.clone()
        };
        match step.outcome {
            Outcome::Refused(Refusal::CnameAtName { target }) => {
                cname_finding(check, self.record, zone, &target, self.config, false).await
            }
            Outcome::Change(Action::ReplaceCname { target, .. }) => {
                cname_finding(check, self.record, zone, &target, self.config, true).await
            }
            Outcome::Refused(refusal)
                if dns_view(&self.desired, step.families[0], self.servers, &step.name)
                    .await
                    .1 =>
            {
                confirmed_anyway(
                    subject,
                    zone,
                    held,
                    &refusal.describe(&step.name, &step.families),
                )
            }
            Outcome::Refused(refusal) => finding(
                subject,
                Status::Problem,
                format!(
                    "zone {}; {}",
                    zone.name,
                    refusal.describe(&step.name, &step.families)
                ),
                Some("flaredns --once would fail on this record too; fix it first"),
            ),
            Outcome::InSync => {
                let family = step.families.first().copied().unwrap_or(Family::V4);
                let (dns, _) = dns_view(&self.desired, family, self.servers, &step.name).await;
                let ip = self
                    .desired
                    .iter()
                    .find(|record| record.family == family)
                    .map(|record| record.content.to_string())
                    .unwrap_or_default();
                finding(
                    subject,
                    Status::Ok,
                    format!(
                        "zone {}; the API holds {held}; {dns}; in sync with this host ({ip})",
                        zone.name
                    ),
                    None,
                )
            }
            Outcome::Change(action) => {
                let family = step.families.first().copied().unwrap_or(Family::V4);
                self.change_finding(subject, family, &step.name, &action)
                    .await
            }
        }
    }

    /// A change the plan calls for: out of date, or confirmed by DNS after all.
    async fn change_finding(
        &self,
        subject: String,
        family: Family,
        name: &DomainName,
        action: &Action,
    ) -> Finding {
        let (dns, confirmed) = dns_view(&self.desired, family, self.servers, name).await;
        if confirmed {
            return confirmed_anyway(
                subject,
                self.zone,
                &self.held,
                &format!("the API alone would {}: {action}", action.verb()),
            );
        }
        let verdict = match action {
            Action::Create(new) => format!(
                "there is no {} record yet; the next run creates one with {}",
                new.family, new.content
            ),
            _ => format!("out of date ({action}); the next run updates it"),
        };
        finding(
            subject,
            Status::Warning,
            format!(
                "zone {}; the API holds {}; {dns}; {verdict}",
                self.zone.name, self.held
            ),
            Some("run `flaredns --once`, or let the daemon do it"),
        )
    }
}

/// What authoritative DNS answers, in words, and whether `observe::verdict` says it confirms
/// the record (then the cycle sends nothing for it, whatever the API holds).
async fn dns_view(
    desired: &[crate::model::DesiredRecord],
    family: Family,
    servers: &[SocketAddr],
    name: &crate::model::DomainName,
) -> (String, bool) {
    if servers.is_empty() {
        return (
            "DNS not checked ([check].nameservers = \"api\")".to_string(),
            false,
        );
    }
    let answer = observe::lookup(servers, name, family, DNS_TIMEOUT).await;
    let wanted = desired.iter().find(|record| record.family == family);
    match answer {
        Err(error) => (format!("authoritative DNS did not answer ({error})"), false),
        Ok(DnsAnswer::Cname(target)) => (format!("DNS answers a CNAME to {target}"), false),
        Ok(DnsAnswer::Addresses(answers)) if answers.is_empty() => {
            (format!("DNS has no {family} record"), false)
        }
        Ok(DnsAnswer::Addresses(answers)) => {
            let shown: Vec<String> = answers.iter().map(|(ip, _)| ip.to_string()).collect();
            let shown = shown.join(", ");
            let addresses: Vec<IpAddr> = answers.iter().map(|(ip, _)| *ip).collect();
            let ttls: Vec<u32> = answers.iter().map(|(_, ttl)| *ttl).collect();
            let verdict = wanted
                .map(|record| observe::verdict(&DnsCheck::for_record(record), &addresses, &ttls));
            match verdict {
                Some(DnsVerdict::InSync) => (format!("DNS answers {shown}, which confirms it"), true),
                _ if addresses.iter().all(|ip| is_cloudflare(*ip)) => (format!("DNS answers {shown} (Cloudflare's own addresses: the record is proxied, so DNS cannot show the origin and flaredns compares it through the API)"), false),
                Some(DnsVerdict::NeedsApi(reason)) => (format!("DNS answers {shown}, which cannot confirm it ({reason}), so flaredns compares it through the API"), false),
                _ => (format!("DNS answers {shown}"), false),
            }
        }
    }
}

/// DNS confirms the record, so the cycle sends nothing for it, while the API's records alone
/// would call for something else (a wildcard answers, say): said as an ok with the note, as
/// `--once` would act.
fn confirmed_anyway(subject: String, zone: &Zone, held: &str, api_view: &str) -> Finding {
    finding(
        subject,
        Status::Ok,
        format!(
            "zone {}; authoritative DNS answers this host's address, so flaredns counts it in sync and sends nothing; note that the API holds {held} at this name ({api_view}): a wildcard or another record answers it",
            zone.name
        ),
        None,
    )
}

/// A CNAME at a managed name: its target, the DDNS service behind it, whether it resolves
/// now, and what flaredns will do (replace it when `replace_cname` is set, refuse otherwise).
async fn cname_finding(
    check: &str,
    record: &RecordConfig,
    zone: &Zone,
    target: &str,
    config: &Config,
    will_replace: bool,
) -> Finding {
    let service = ddns_service(target)
        .map(|service| format!(", a name at {service}, a third-party dynamic DNS service"))
        .unwrap_or_default();
    let explicit = match &config.check {
        CheckMode::Servers(servers) => Some(servers.as_slice()),
        _ => None,
    };
    let resolution = match observe::resolves(target, explicit, DNS_TIMEOUT).await {
        Ok(found) if !found.is_empty() => format!(
            "it resolves now ({})",
            found
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Ok(_) => "it does not resolve now (no addresses)".to_string(),
        Err(error) => format!("it does not resolve now ({error})"),
    };
    let found = format!(
        "{} in zone {} is a CNAME to {target}{service}; {resolution}. Whenever {target} stops resolving, Cloudflare cannot reach the origin and visitors get error 530 / 1016 (origin DNS error)",
        record.name, zone.name
    );
    if will_replace {
        finding(
            check,
            Status::Warning,
            found,
            Some("replace_cname is set: run `flaredns --once` to replace the CNAME with A/AAAA records in one atomic batch"),
        )
    } else {
        finding(
            check,
            Status::Problem,
            found,
            Some("set `replace_cname = true` on this record and run `flaredns --once`: the CNAME is replaced with A/AAAA records pointing at this host, in one atomic batch"),
        )
    }
}

pub(super) fn describe_observed(observed: &ObservedRecord) -> String {
    let ttl = if observed.ttl == crate::model::TTL_AUTO {
        "auto".to_string()
    } else {
        format!("{}s", observed.ttl)
    };
    let proxied = if observed.proxied {
        "proxied"
    } else {
        "not proxied"
    };
    format!(
        "{} {} ({proxied}, ttl {ttl})",
        observed.record_type, observed.content
    )
}
