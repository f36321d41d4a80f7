//! `flaredns doctor`: checks the setup step by step and prints one finding per line, each with
//! a status, what was found and the fix. It sends only GET requests and changes nothing. It
//! looks for the failures that cost a home admin a day: a CNAME to a third-party DDNS name
//! (error 530 / 1016 when that name stops resolving), a token that is rejected, expired or
//! restricted to other addresses, a zone in Under Attack mode, a proxied record whose DNS
//! answer is Cloudflare's, and providers that disagree about this host's address.

mod ddns;
mod neighbours;
mod records;
mod waf;

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use crate::cloudflare::{ApiCycle, ApiError};
use crate::config::{Config, ConfigWarning, TokenSource};
use crate::cycle::ReaderParts;
use crate::detect::Detector;
use crate::model::{Family, Zone};
use crate::zones::ZoneDirectory;
pub use ddns::{ddns_service, KNOWN_DDNS};

/// How long doctor waits for any one DNS answer.
pub(crate) const DNS_TIMEOUT: Duration = Duration::from_secs(2);

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

pub(crate) fn finding(
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
    // Doctor is a reader: the zones it lists are not cached on disk, nothing is written.
    let mut parts = ReaderParts::new(&config)?;
    let started = tokio::time::Instant::now();
    let deadline = started
        .checked_add(config.daemon.cycle_timeout)
        .unwrap_or(started);
    let detector = &parts.detector;
    let (clients, mut zones): (Vec<&crate::cloudflare::Client>, Vec<&mut ZoneDirectory>) = parts
        .accounts
        .iter_mut()
        .map(|account| (&account.client, &mut account.zones))
        .unzip();
    let apis: Vec<ApiCycle> = clients
        .iter()
        .map(|client| client.cycle(deadline))
        .collect();

    let mut tokens_ok = Vec::new();
    for (index, api) in apis.iter().enumerate() {
        let check = if apis.len() == 1 {
            "token".to_string()
        } else {
            format!("token {} ({})", index + 1, config.tokens[index].source)
        };
        tokens_ok.push(token_finding(api, &check, &mut findings).await);
    }
    let mut answers = std::collections::BTreeMap::new();
    for family in [Family::V4, Family::V6] {
        if let Some(answer) = address_findings(detector, &config, family, &mut findings).await {
            answers.insert(family, answer);
        }
    }
    let sources = crate::cycle::prefix_sources(&config, detector).await;
    findings.extend(neighbours::neighbour_findings(&config, &answers, &sources));
    let (record_findings, zones_seen) =
        records::record_findings(&config, &apis, &tokens_ok, &mut zones, &answers, &sources).await;
    findings.extend(record_findings);
    for (token, zone) in &zones_seen {
        findings.push(security_finding(&apis[*token], zone).await);
    }
    let addresses: std::collections::BTreeMap<Family, IpAddr> = answers
        .iter()
        .map(|(family, answer)| (*family, answer.ip))
        .collect();
    findings.extend(waf::list_findings(&config, &apis, &addresses, &zones_seen).await);
    Ok(Report::new(findings))
}

fn config_findings(config: &Config) -> Vec<Finding> {
    let sources: Vec<String> = config
        .tokens
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let used = config
                .records
                .iter()
                .filter(|record| record.token == index)
                .count();
            format!("the {} ({used} record(s))", entry.source)
        })
        .collect();
    let mut findings = vec![finding(
        "config",
        Status::Ok,
        format!(
            "{} is valid: {} record(s); the token{} come{} from {}",
            config.path.display(),
            config.records.len(),
            if sources.len() == 1 { "" } else { "s" },
            if sources.len() == 1 { "s" } else { "" },
            if sources.is_empty() {
                "nowhere: no token could be read".to_string()
            } else {
                sources.join(", ")
            }
        ),
        None,
    )];
    for warning in &config.warnings {
        findings.push(finding(
            "config",
            Status::Warning,
            // Each warning already ends with its next step (chmod 600, use https://).
            warning.to_string(),
            None,
        ));
    }
    for entry in &config.tokens {
        token_source_finding(config, &entry.source, &mut findings);
    }
    for unreadable in &config.unreadable {
        let who = match &unreadable.user {
            crate::config::TokenUser::Record { name, .. } => format!("record {name}"),
            crate::config::TokenUser::List { account, name } => {
                format!("WAF list {name} (account {account})")
            }
        };
        findings.push(finding(
            "config",
            Status::Problem,
            format!("{who} cannot be managed: {}", unreadable.error),
            Some("make the file readable by the service's user, or pass it as a systemd credential: LoadCredential=NAME:PATH in the unit and api_token_file = \"credential:NAME\""),
        ));
    }
    findings
}

fn token_source_finding(config: &Config, source: &TokenSource, findings: &mut Vec<Finding>) {
    match source {
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
                .any(|warning| matches!(warning, ConfigWarning::LooseToken { .. })) =>
        {
            findings.push(finding(
                "config",
                Status::Ok,
                format!("{source} is readable only by its owner"),
                None,
            ))
        }
        _ => {}
    }
}

/// Verifies the token. Returns whether the API checks can go on.
async fn token_finding(api: &ApiCycle<'_>, check: &str, findings: &mut Vec<Finding>) -> bool {
    match api.verify_token().await {
        Ok(status) if status.status == "active" => {
            let expiry = status
                .expires_on
                .map(|date| format!(" and expires {date}"))
                .unwrap_or_else(|| " and does not expire".to_string());
            findings.push(finding(
                check,
                Status::Ok,
                format!("the API token is active{expiry}"),
                None,
            ));
            true
        }
        Ok(status) => {
            findings.push(finding(
                check,
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
                && works_for_zones(api).await =>
        {
            findings.push(finding(
                check,
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
                check,
                Status::Problem,
                error.to_string(),
                Some(fix),
            ));
            false
        }
    }
}

/// True when the token can list zones, whatever /user/tokens/verify said.
async fn works_for_zones(api: &ApiCycle<'_>) -> bool {
    // The cycle stops asking after a rejected token; this is a new question.
    api.clear_halts();
    api.list_zones().await.is_ok()
}

/// Asks every provider of a family; reports each answer, refusals and disagreement.
async fn address_findings(
    detector: &Detector,
    config: &Config,
    family: Family,
    findings: &mut Vec<Finding>,
) -> Option<crate::detect::Answer> {
    let providers = config.detect.providers(family);
    if providers.is_empty() {
        return None;
    }
    let check = family.describe().to_ascii_lowercase();
    let mut usable: Vec<(String, crate::detect::Answer)> = Vec::new();
    for provider in providers {
        match detector.probe(family, provider).await {
            Ok(answer) => {
                let ip = answer.ip;
                findings.push(finding(
                    &check,
                    Status::Ok,
                    format!("{provider} answered {ip}"),
                    None,
                ));
                usable.push((provider.to_string(), answer));
            }
            Err(reason) => findings.push(finding(
                &check,
                Status::Warning,
                format!("{provider} {reason}"),
                Some("flaredns skips this provider and tries the next one"),
            )),
        }
    }
    let Some((first_provider, first)) = usable.first().cloned() else {
        findings.push(finding(
            &check,
            Status::Problem,
            format!("no provider gave a usable public {} address", family.describe()),
            Some("check the network, or add a provider to [detect] (e.g. cloudflare.trace, url:URL, iface:NAME)"),
        ));
        return None;
    };
    let first_ip = first.ip;
    if let Some((other_provider, other_ip)) = usable
        .iter()
        .map(|(provider, answer)| (provider, answer.ip))
        .find(|(_, ip)| *ip != first_ip)
    {
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
    Some(first)
}

async fn security_finding(api: &ApiCycle<'_>, zone: &Zone) -> Finding {
    let check = format!("zone {}", zone.name);
    match api.zone_setting(&zone.id, "security_level").await {
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
