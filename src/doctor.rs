//! `flaredns doctor`: checks the setup step by step and prints one finding per line, each with
//! a status, what was found and the fix. It sends only GET requests and changes nothing.

use serde::Serialize;

use crate::cloudflare::ApiError;
use crate::config::{Config, TokenSource};
use crate::cycle::Engine;
use crate::model::Family;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warning,
    Problem,
}

/// One line of the report. Field names are part of the `--json` contract.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub check: String,
    pub status: Status,
    pub found: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
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
pub async fn run(config: Config) -> Result<Vec<Finding>, crate::error::Error> {
    let mut findings = vec![finding(
        "config",
        Status::Ok,
        format!(
            "{} is valid; token from {}",
            config.path.display(),
            config.token_source
        ),
        None,
    )];
    for warning in &config.warnings {
        findings.push(finding(
            "token file",
            Status::Warning,
            warning.clone(),
            Some("chmod 600 the file, or use systemd's LoadCredential="),
        ));
    }
    if matches!(config.token_source, TokenSource::ConfigFile) {
        findings.push(finding(
            "token source",
            Status::Warning,
            "the token is written in the config file",
            Some("move it to a file with mode 0600 (api_token_file) or a systemd credential"),
        ));
    }
    let mut engine = Engine::new(config.clone())?;
    engine
        .client()
        .start_cycle(tokio::time::Instant::now() + config.daemon.cycle_timeout);

    let token_ok = match engine.client().verify_token().await {
        Ok(status) if status.status == "active" => {
            let expiry = status
                .expires_on
                .map(|date| format!(", expires {date}"))
                .unwrap_or_default();
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
                format!("the API token is {}", status.status),
                Some("create a new token with Zone:Read and DNS:Edit"),
            ));
            false
        }
        Err(error) => {
            findings.push(api_finding("token", &error));
            false
        }
    };

    for family in [Family::V4, Family::V6] {
        let providers = config.detect.providers(family);
        if providers.is_empty() {
            continue;
        }
        match engine.detector().detect(family, providers).await {
            Ok(ip) => findings.push(finding(
                format!("{} address", family.describe()),
                Status::Ok,
                format!("this host's public {} address is {ip}", family.describe()),
                None,
            )),
            Err(error) => findings.push(finding(
                format!("{} address", family.describe()),
                Status::Problem,
                error.to_string(),
                Some("check the network or the providers in [detect]"),
            )),
        }
    }

    if token_ok {
        let mut zones_seen: Vec<String> = Vec::new();
        for record in &config.records {
            let (zones, client) = engine.zones_mut();
            let zone = match zones.zone_for(record, client).await {
                Ok(zone) => zone,
                Err(error) => {
                    findings.push(finding(
                        format!("record {}", record.name),
                        Status::Problem,
                        error.to_string(),
                        None,
                    ));
                    continue;
                }
            };
            match engine.client().list_records(&zone.id).await {
                Ok(observed) => {
                    let here: Vec<String> = observed
                        .iter()
                        .filter(|r| r.name == record.name)
                        .map(|r| {
                            format!(
                                "{} {}{}",
                                r.record_type,
                                r.content,
                                if r.proxied { " (proxied)" } else { "" }
                            )
                        })
                        .collect();
                    if let Some(cname) = observed
                        .iter()
                        .find(|r| r.name == record.name && r.record_type == "CNAME")
                    {
                        let fix = if record.replace_cname {
                            "flaredns will replace it in one batch on the next run"
                        } else {
                            "set replace_cname = true on this record to replace the CNAME with A/AAAA records in one atomic batch"
                        };
                        findings.push(finding(
                            format!("record {}", record.name),
                            Status::Problem,
                            format!("{} in zone {} is a CNAME to {}: when that name stops resolving, Cloudflare answers error 530 / 1016 (origin DNS error)", record.name, zone.name, cname.content),
                            Some(fix),
                        ));
                    } else {
                        let shown = if here.is_empty() {
                            "no records yet (flaredns will create them)".to_string()
                        } else {
                            here.join(", ")
                        };
                        findings.push(finding(
                            format!("record {}", record.name),
                            Status::Ok,
                            format!("zone {}: {shown}", zone.name),
                            None,
                        ));
                    }
                }
                Err(error) => {
                    findings.push(api_finding(&format!("record {}", record.name), &error))
                }
            }
            if !zones_seen.contains(&zone.id) {
                zones_seen.push(zone.id.clone());
                match engine.client().zone_setting(&zone.id, "security_level").await {
                    Ok(level) if level == "under_attack" => findings.push(finding(
                        format!("zone {}", zone.name),
                        Status::Warning,
                        format!("zone {} is in Under Attack mode: every non-browser client calling its hosts through Cloudflare gets a challenge page", zone.name),
                        Some("turn Under Attack mode off (Security → Settings), or add a WAF skip rule for the clients that call this host"),
                    )),
                    Ok(level) => findings.push(finding(format!("zone {}", zone.name), Status::Ok, format!("security level is {level}"), None)),
                    Err(error) => findings.push(finding(format!("zone {}", zone.name), Status::Warning, format!("cannot read the security level: {error}"), Some("grant the token Zone Settings:Read to let doctor check it"))),
                }
            }
        }
    }
    Ok(findings)
}

fn api_finding(check: &str, error: &ApiError) -> Finding {
    finding(check, Status::Problem, error.to_string(), None)
}

/// Renders findings as lines: `[ok] check: found — fix`.
pub fn render(findings: &[Finding]) -> String {
    let mut out = String::new();
    for item in findings {
        let status = match item.status {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Problem => "problem",
        };
        out.push_str(&format!("[{status}] {}: {}", item.check, item.found));
        if let Some(fix) = &item.fix {
            out.push_str(&format!("\n          fix: {fix}"));
        }
        out.push('\n');
    }
    out
}
