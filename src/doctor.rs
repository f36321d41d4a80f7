//! `flaredns doctor`: checks the setup step by step and prints one finding per line, each with
//! a status, what was found and the fix. It sends only GET requests and changes nothing. It
//! looks for the failures that cost a home admin a day: a CNAME to a third-party DDNS name
//! (error 530 / 1016 when that name stops resolving), a token that is rejected, expired or
//! restricted to other addresses, a zone in Under Attack mode, a proxied record whose DNS
//! answer is Cloudflare's, and providers that disagree about this host's address.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Serialize;

use crate::cloudflare::ApiError;
use crate::config::{CheckMode, Config, RecordConfig, TokenSource};
use crate::cycle::Engine;
use crate::detect::filter::is_cloudflare;
use crate::model::{Family, ObservedRecord, Zone};
use crate::observe::{self, DnsAnswer};

/// How long doctor waits for any one DNS answer.
const DNS_TIMEOUT: Duration = Duration::from_secs(2);

/// Third-party dynamic DNS domains, by suffix, with the service's name. A CNAME into one of
/// these makes the site depend on that service staying up.
pub const KNOWN_DDNS: &[(&str, &str)] = &[
    ("duckdns.org", "Duck DNS"),
    ("no-ip.com", "No-IP"),
    ("no-ip.org", "No-IP"),
    ("no-ip.biz", "No-IP"),
    ("no-ip.info", "No-IP"),
    ("ddns.net", "No-IP"),
    ("hopto.org", "No-IP"),
    ("zapto.org", "No-IP"),
    ("sytes.net", "No-IP"),
    ("myftp.org", "No-IP"),
    ("servebeer.com", "No-IP"),
    ("dynu.com", "Dynu"),
    ("dynu.net", "Dynu"),
    ("freeddns.org", "Dynu"),
    ("afraid.org", "FreeDNS (afraid.org)"),
    ("mooo.com", "FreeDNS (afraid.org)"),
    ("chickenkiller.com", "FreeDNS (afraid.org)"),
    ("dyndns.org", "Dyn"),
    ("dyndns.com", "Dyn"),
    ("homeip.net", "Dyn"),
    ("dnsalias.com", "Dyn"),
    ("dynv6.net", "dynv6"),
    ("changeip.com", "ChangeIP"),
    ("synology.me", "Synology DDNS"),
    ("myqnapcloud.com", "QNAP myQNAPcloud"),
    ("asuscomm.com", "ASUS DDNS"),
    ("tplinkdns.com", "TP-Link DDNS"),
    ("myfritz.net", "AVM MyFRITZ!"),
    ("duckdns.net", "Duck DNS"),
    ("ydns.eu", "YDNS"),
    ("dedyn.io", "deSEC"),
];

/// The service behind a known third-party DDNS name.
pub fn ddns_service(target: &str) -> Option<&'static str> {
    let target = target.trim_end_matches('.').to_ascii_lowercase();
    KNOWN_DDNS
        .iter()
        .find(|(suffix, _)| target == *suffix || target.ends_with(&format!(".{suffix}")))
        .map(|(_, service)| *service)
}

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warning,
    Problem,
}

/// One line of the report. Field names are part of the `--json` contract.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// What was checked: "config", "token", "ipv4", "record NAME", "zone NAME".
    pub check: String,
    pub status: Status,
    /// What was found, as a sentence.
    pub found: String,
    /// What to do about it (absent when nothing needs doing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub problems: usize,
    pub warnings: usize,
    pub findings: Vec<Finding>,
}

impl Report {
    fn new(findings: Vec<Finding>) -> Report {
        let count = |status| {
            findings
                .iter()
                .filter(|finding| finding.status == status)
                .count()
        };
        Report {
            problems: count(Status::Problem),
            warnings: count(Status::Warning),
            findings,
        }
    }

    /// Lines: `[ok] check: found`, with the fix indented below.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for item in &self.findings {
            let status = match item.status {
                Status::Ok => "ok",
                Status::Warning => "warning",
                Status::Problem => "problem",
            };
            out.push_str(&format!("[{status}] {}: {}\n", item.check, item.found));
            if let Some(fix) = &item.fix {
                out.push_str(&format!("    fix: {fix}\n"));
            }
        }
        out.push_str(&format!(
            "{} problem(s), {} warning(s)\n",
            self.problems, self.warnings
        ));
        out
    }
}

fn finding(
    check: impl Into<String>,
    status: Status,
    found: impl Into<String>,
    fix: Option<&str>,
) -> Finding {
    Finding {
        check: check.into(),
        status,
        found: found.into(),
        fix: fix.map(str::to_string),
    }
}

/// Runs every check.
pub async fn run(config: Config) -> Result<Report, crate::error::Error> {
    let mut findings = config_findings(&config);
    let mut engine = Engine::new(config.clone())?;
    engine
        .client()
        .start_cycle(tokio::time::Instant::now() + config.daemon.cycle_timeout);

    let token_ok = token_finding(&engine, &mut findings).await;
    let mut addresses: HashMap<Family, IpAddr> = HashMap::new();
    for family in [Family::V4, Family::V6] {
        if let Some(ip) = address_findings(&engine, &config, family, &mut findings).await {
            addresses.insert(family, ip);
        }
    }
    if token_ok {
        record_findings(&mut engine, &config, &addresses, &mut findings).await;
    }
    Ok(Report::new(findings))
}

fn config_findings(config: &Config) -> Vec<Finding> {
    let mut findings = vec![finding(
        "config",
        Status::Ok,
        format!(
            "{} is valid: {} record(s); the token comes from the {}",
            config.path.display(),
            config.records.len(),
            config.token_source
        ),
        None,
    )];
    for warning in &config.warnings {
        findings.push(finding(
            "config",
            Status::Warning,
            // Each warning already ends with its next step (chmod 600, use https://).
            warning.clone(),
            None,
        ));
    }
    match &config.token_source {
        TokenSource::ConfigFile => findings.push(finding(
            "config",
            Status::Warning,
            "the token is written in the config file",
            Some("move it to a file of mode 0600 (`api_token_file`) or a systemd credential"),
        )),
        TokenSource::File(_)
            if !config
                .warnings
                .iter()
                .any(|warning| warning.contains("chmod")) =>
        {
            findings.push(finding(
                "config",
                Status::Ok,
                "the token file is readable only by its owner",
                None,
            ))
        }
        _ => {}
    }
    findings
}

/// Verifies the token. Returns whether the API checks can go on.
async fn token_finding(engine: &Engine, findings: &mut Vec<Finding>) -> bool {
    match engine.client().verify_token().await {
        Ok(status) if status.status == "active" => {
            let expiry = status
                .expires_on
                .map(|date| format!(" and expires {date}"))
                .unwrap_or_else(|| " and does not expire".to_string());
            findings.push(finding(
                "token",
                Status::Ok,
                format!("the API token is active{expiry}"),
                None,
            ));
            true
        }
        Ok(status) => {
            findings.push(finding(
                "token",
                Status::Problem,
                format!("the API token's status is {}", status.status),
                Some("create a new API token with Zone:Read and DNS:Edit for your zones"),
            ));
            false
        }
        // An account-owned token cannot use /user/tokens/verify, yet may work for zones:
        // ask for the zone list before calling it rejected.
        Err(ApiError::Auth { ref messages, .. })
            if !messages.iter().any(|message| message.code == 9109)
                && works_for_zones(engine).await =>
        {
            findings.push(finding(
                "token",
                Status::Ok,
                "the API token can list zones (it is not a user token, so /user/tokens/verify cannot show its status or expiry)",
                None,
            ));
            true
        }
        Err(error) => {
            let fix = match &error {
                ApiError::Auth { messages, .. } if messages.iter().any(|message| message.code == 9109) => {
                    "add this host's public address to the token's Client IP Address Filtering, or remove the filter"
                }
                ApiError::Auth { .. } => "create an API token with Zone:Read and DNS:Edit for your zones and check that it has not expired",
                ApiError::Challenge { .. } => "turn Under Attack mode off, or add a WAF skip rule for this host's address",
                _ => "check the network and api_url, then run doctor again",
            };
            findings.push(finding(
                "token",
                Status::Problem,
                error.to_string(),
                Some(fix),
            ));
            false
        }
    }
}

/// True when the token can list zones, whatever /user/tokens/verify said.
async fn works_for_zones(engine: &Engine) -> bool {
    // The client stops asking after a rejected token within a cycle; this is a new question.
    engine
        .client()
        .start_cycle(tokio::time::Instant::now() + engine.config.daemon.cycle_timeout);
    engine.client().list_zones().await.is_ok()
}

/// Asks every provider of a family; reports each answer, refusals and disagreement.
async fn address_findings(
    engine: &Engine,
    config: &Config,
    family: Family,
    findings: &mut Vec<Finding>,
) -> Option<IpAddr> {
    let providers = config.detect.providers(family);
    if providers.is_empty() {
        return None;
    }
    let check = family.describe().to_ascii_lowercase();
    let mut usable: Vec<(String, IpAddr)> = Vec::new();
    for provider in providers {
        match engine.detector().probe(family, provider).await {
            Ok(ip) => {
                findings.push(finding(
                    &check,
                    Status::Ok,
                    format!("{provider} answered {ip}"),
                    None,
                ));
                usable.push((provider.to_string(), ip));
            }
            Err(reason) => findings.push(finding(
                &check,
                Status::Warning,
                format!("{provider} {reason}"),
                Some("flaredns skips this provider and tries the next one"),
            )),
        }
    }
    let Some((first_provider, first_ip)) = usable.first().cloned() else {
        findings.push(finding(
            &check,
            Status::Problem,
            format!("no provider gave a usable public {} address", family.describe()),
            Some("check the network, or add a provider to [detect] (e.g. cloudflare.trace, url:URL, iface:NAME)"),
        ));
        return None;
    };
    if let Some((other_provider, other_ip)) = usable.iter().find(|(_, ip)| *ip != first_ip) {
        findings.push(finding(
            &check,
            Status::Warning,
            format!("the providers disagree: {first_provider} says {first_ip}, {other_provider} says {other_ip}; flaredns uses the first"),
            Some("a VPN, a second uplink or a proxy can cause this; order [detect] so the provider that sees the right uplink comes first"),
        ));
    }
    findings.push(finding(
        &check,
        Status::Ok,
        format!(
            "this host's public {} address is {first_ip}",
            family.describe()
        ),
        None,
    ));
    Some(first_ip)
}

async fn record_findings(
    engine: &mut Engine,
    config: &Config,
    addresses: &HashMap<Family, IpAddr>,
    findings: &mut Vec<Finding>,
) {
    let mut zone_records: HashMap<String, Result<Vec<ObservedRecord>, ApiError>> = HashMap::new();
    let mut zones_seen: Vec<Zone> = Vec::new();
    for record in &config.records {
        let check = format!("record {}", record.name);
        let (zones, client) = engine.zones_mut();
        let zone = match zones.zone_for(record, client).await {
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
            CheckMode::Auto => engine.zones_mut().0.nameservers(&zone).await,
        };
        if !zone_records.contains_key(&zone.id) {
            let listed = engine.client().list_records(&zone.id).await;
            zone_records.insert(zone.id.clone(), listed);
        }
        match zone_records.get(&zone.id) {
            Some(Ok(observed)) => {
                let here: Vec<&ObservedRecord> = observed
                    .iter()
                    .filter(|observed| observed.name == record.name)
                    .collect();
                findings
                    .extend(judge_record(record, &zone, &here, addresses, &servers, config).await);
            }
            Some(Err(error)) => findings.push(finding(
                &check,
                Status::Problem,
                format!("cannot list the records of zone {}: {error}", zone.name),
                Some("give the token DNS:Read (or DNS:Edit) on this zone"),
            )),
            None => {}
        }
        if !zones_seen.iter().any(|seen| seen.id == zone.id) {
            findings.push(security_finding(engine, &zone).await);
            zones_seen.push(zone);
        }
    }
}

async fn judge_record(
    record: &RecordConfig,
    zone: &Zone,
    here: &[&ObservedRecord],
    addresses: &HashMap<Family, IpAddr>,
    servers: &[SocketAddr],
    config: &Config,
) -> Vec<Finding> {
    let check = format!("record {}", record.name);
    let mut findings = Vec::new();
    let held: Vec<String> = here
        .iter()
        .map(|observed| describe_observed(observed))
        .collect();
    let held = if held.is_empty() {
        "nothing".to_string()
    } else {
        held.join("; ")
    };

    if let Some(cname) = here
        .iter()
        .find(|observed| observed.record_type.eq_ignore_ascii_case("CNAME"))
    {
        let target = cname.content.trim_end_matches('.').to_string();
        let service = ddns_service(&target)
            .map(|service| format!(", a name at {service}, a third-party dynamic DNS service"))
            .unwrap_or_default();
        let explicit = match &config.check {
            CheckMode::Servers(servers) => Some(servers.as_slice()),
            _ => None,
        };
        let resolution = match observe::resolves(&target, explicit, DNS_TIMEOUT).await {
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
        let fix = if record.replace_cname {
            "replace_cname is set: run `flaredns --once` to replace the CNAME with A/AAAA records in one atomic batch"
        } else {
            "set `replace_cname = true` on this record and run `flaredns --once`: the CNAME is replaced with A/AAAA records pointing at this host, in one atomic batch"
        };
        findings.push(finding(
            &check,
            Status::Problem,
            format!(
                "{} in zone {} is a CNAME to {target}{service}; {resolution}. Whenever {target} stops resolving, Cloudflare cannot reach the origin and visitors get error 530 / 1016 (origin DNS error)",
                record.name, zone.name
            ),
            Some(fix),
        ));
        return findings;
    }

    for family in &record.families {
        let of_type: Vec<&&ObservedRecord> = here
            .iter()
            .filter(|observed| {
                observed
                    .record_type
                    .eq_ignore_ascii_case(family.record_type())
            })
            .collect();
        let detected = addresses.get(family);
        let dns = if servers.is_empty() {
            None
        } else {
            match observe::authoritative_resolver(servers, DNS_TIMEOUT) {
                Ok(resolver) => Some(observe::lookup(&resolver, &record.name, *family).await),
                Err(error) => Some(Err(error)),
            }
        };
        let dns_text = match &dns {
            None => "DNS not checked ([check].nameservers = \"api\")".to_string(),
            Some(Err(error)) => format!("authoritative DNS did not answer ({error})"),
            Some(Ok(DnsAnswer::Cname(target))) => format!("DNS answers a CNAME to {target}"),
            Some(Ok(DnsAnswer::Addresses(answers))) if answers.is_empty() => {
                format!("DNS has no {family} record")
            }
            Some(Ok(DnsAnswer::Addresses(answers))) => {
                let shown: Vec<String> = answers.iter().map(|(ip, _)| ip.to_string()).collect();
                let proxied = answers.iter().all(|(ip, _)| is_cloudflare(*ip));
                if proxied {
                    format!("DNS answers {} (Cloudflare's own addresses: the record is proxied, so DNS cannot show the origin and flaredns compares it through the API)", shown.join(", "))
                } else {
                    format!("DNS answers {}", shown.join(", "))
                }
            }
        };
        let (status, verdict, fix) = match (detected, of_type.as_slice()) {
            (None, _) => (
                Status::Warning,
                format!(
                    "this host's {} address is unknown, so the record cannot be compared",
                    family.describe()
                ),
                None,
            ),
            (Some(ip), []) => (
                Status::Warning,
                format!("there is no {family} record yet; the next run creates one with {ip}"),
                Some("run `flaredns --once`, or let the daemon do it"),
            ),
            (Some(ip), records)
                if records
                    .iter()
                    .any(|observed| observed.content.parse::<IpAddr>().ok() == Some(*ip)) =>
            {
                (Status::Ok, format!("in sync with this host ({ip})"), None)
            }
            (Some(ip), records) => (
                Status::Warning,
                format!(
                    "out of date: {} is not this host's {ip}; the next run updates it",
                    records
                        .iter()
                        .map(|observed| observed.content.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Some("run `flaredns --once`, or let the daemon do it"),
            ),
        };
        findings.push(finding(
            format!("{check} {family}"),
            status,
            format!(
                "zone {}; the API holds {held}; {dns_text}; {verdict}",
                zone.name
            ),
            fix,
        ));
    }
    findings
}

fn describe_observed(observed: &ObservedRecord) -> String {
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

async fn security_finding(engine: &Engine, zone: &Zone) -> Finding {
    let check = format!("zone {}", zone.name);
    match engine.client().zone_setting(&zone.id, "security_level").await {
        Ok(level) if level == "under_attack" => finding(
            check,
            Status::Warning,
            format!(
                "zone {} is in Under Attack mode: every visitor gets a JavaScript challenge first, so scripts, apps and API clients calling hosts in this zone through Cloudflare get HTTP 403 challenge pages instead of answers",
                zone.name
            ),
            Some("turn Under Attack mode off (dashboard: Security → Settings → Security level), or add a WAF custom rule with the Skip action for the clients that must get through (by IP address or path)"),
        ),
        Ok(level) => finding(check, Status::Ok, format!("security level is {level}"), None),
        Err(error) => finding(
            check,
            Status::Warning,
            format!("cannot read the zone's security level: {error}"),
            Some("give the token Zone Settings:Read if you want doctor to check for Under Attack mode; flaredns itself does not need it"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ddns_hosts_are_recognised_by_suffix() {
        assert_eq!(ddns_service("myhome.duckdns.org."), Some("Duck DNS"));
        assert_eq!(ddns_service("Home.DDNS.net"), Some("No-IP"));
        assert_eq!(ddns_service("nas.synology.me"), Some("Synology DDNS"));
        assert_eq!(ddns_service("notduckdns.org"), None);
        assert_eq!(ddns_service("www.example.com"), None);
    }
}
