//! Prometheus metrics from the last cycle's status (`publish::status::LastCycle`): rendered in
//! the text exposition format for `GET /metrics` (`server.rs`, daemon only) and for the
//! node_exporter textfile written after each cycle (daemon and `--once`). Health for
//! `/healthz`: 200 while a cycle succeeded within two intervals. The same listener serves the
//! page for people (`page.rs`, `GET /`) and the status document (`GET /status.json`). Nothing
//! secret is in any label: names, types, families and addresses only.

pub mod page;
pub mod server;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use crate::model::Family;
use crate::publish::facts::RecordStatus;
use crate::publish::status::{CycleResult, LastCycle};

/// What the endpoint serves: the rendered text and the health verdict, replaced after each
/// cycle as a whole.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub text: String,
    pub last_success_at: Option<u64>,
    /// The daemon's interval: health allows two of them since the last success.
    pub interval: Duration,
    pub last_error: Option<String>,
    /// `GET /`: the page, rendered once per cycle (`page::render`), shared so a request only
    /// copies it.
    pub page: Arc<String>,
    /// `GET /status.json`: the document `flaredns status --json` prints.
    pub status_json: Arc<String>,
}

/// `/healthz`'s verdict at `now` (unix seconds): healthy, or why not.
pub fn health(snapshot: &Snapshot, now: u64) -> Result<String, String> {
    let window = snapshot.interval.as_secs().saturating_mul(2).max(1);
    match snapshot.last_success_at {
        Some(at) if at <= now && now - at <= window => Ok(format!(
            "ok: the last successful cycle was {}s ago\n",
            now - at
        )),
        Some(at) => Err(format!(
            "unhealthy: no successful cycle for {}s (more than two intervals){}\n",
            now.saturating_sub(at),
            reason(snapshot)
        )),
        None => Err(format!(
            "unhealthy: no successful cycle yet{}\n",
            reason(snapshot)
        )),
    }
}

fn reason(snapshot: &Snapshot) -> String {
    snapshot
        .last_error
        .as_ref()
        .map(|error| format!("; last error: {}", crate::logging::one_line(error)))
        .unwrap_or_default()
}

/// The text exposition format of a status, with the API budget left (a live gauge).
pub fn render(last: &LastCycle, budget_remaining: Option<u32>) -> String {
    let mut out = String::new();
    metric(
        &mut out,
        "flaredns_build_info",
        "gauge",
        "Version of flaredns (always 1).",
        &[(vec![("version", env!("CARGO_PKG_VERSION"))], 1.0)],
    );
    let cycles: Vec<(Vec<(&str, &str)>, f64)> = [CycleResult::Success, CycleResult::Failure]
        .iter()
        .map(|result| {
            let count = last.counters.cycles.get(result).copied().unwrap_or(0);
            (vec![("result", result.name())], count as f64)
        })
        .collect();
    metric(
        &mut out,
        "flaredns_cycles_total",
        "counter",
        "Cycles run, by result.",
        &cycles,
    );
    if let Some(at) = last.last_success_at {
        metric(
            &mut out,
            "flaredns_last_success_timestamp_seconds",
            "gauge",
            "Unix time of the last cycle that brought every record in sync.",
            &[(vec![], at as f64)],
        );
    }
    if last.finished_at > 0 {
        metric(
            &mut out,
            "flaredns_last_cycle_duration_seconds",
            "gauge",
            "How long the last cycle took.",
            &[(vec![], last.duration_ms as f64 / 1000.0)],
        );
    }
    // A dry run publishes nothing, so no record is `planned` here.
    let states = [
        RecordStatus::InSync,
        RecordStatus::Changed,
        RecordStatus::Failed,
        RecordStatus::Refused,
    ];
    let records: Vec<(Vec<(&str, &str)>, f64)> = states
        .iter()
        .map(|state| {
            let count = last
                .records
                .iter()
                .filter(|record| record.state == *state)
                .count();
            (vec![("state", state.name())], count as f64)
        })
        .collect();
    metric(
        &mut out,
        "flaredns_records",
        "gauge",
        "Managed records (one per name and type) by the state the last cycle left them in.",
        &records,
    );
    let codes: Vec<(&str, String, u64)> = last
        .counters
        .api_requests
        .iter()
        .map(|(kind, count)| (kind.method, kind.status.to_string(), *count))
        .collect();
    let request_samples: Vec<(Vec<(&str, &str)>, f64)> = codes
        .iter()
        .map(|(method, code, count)| {
            (
                vec![("method", *method), ("code", code.as_str())],
                *count as f64,
            )
        })
        .collect();
    metric(
        &mut out,
        "flaredns_api_requests_total",
        "counter",
        "Requests sent to Cloudflare's API, by method and HTTP status (0: no answer).",
        &request_samples,
    );
    let changes: Vec<(Vec<(&str, &str)>, f64)> = [Family::V4, Family::V6]
        .iter()
        .map(|family| {
            let count = last
                .counters
                .address_changes
                .get(family)
                .copied()
                .unwrap_or(0);
            (vec![("family", family.name())], count as f64)
        })
        .collect();
    metric(
        &mut out,
        "flaredns_address_changes_total",
        "counter",
        "Times this host's detected address changed, by family.",
        &changes,
    );
    let addresses: Vec<(Family, String)> = last
        .addresses
        .iter()
        .map(|(family, address)| (*family, address.to_string()))
        .collect();
    let detected: Vec<(Vec<(&str, &str)>, f64)> = addresses
        .iter()
        .map(|(family, address)| {
            (
                vec![("family", family.name()), ("address", address.as_str())],
                1.0,
            )
        })
        .collect();
    metric(
        &mut out,
        "flaredns_detected_address_info",
        "gauge",
        "This host's detected address, by family (always 1).",
        &detected,
    );
    let lists: Vec<(Vec<(&str, &str)>, f64)> = last
        .waf_lists
        .iter()
        .map(|list| (vec![("list", list.name.as_str())], list.items.len() as f64))
        .collect();
    if !lists.is_empty() {
        metric(
            &mut out,
            "flaredns_waf_list_items",
            "gauge",
            "This host's items in each WAF list (as of the last cycle).",
            &lists,
        );
    }
    if let Some(remaining) = budget_remaining {
        metric(
            &mut out,
            "flaredns_api_budget_remaining",
            "gauge",
            "Requests flaredns's own hourly budget still allows (the smallest over its tokens).",
            &[(vec![], f64::from(remaining))],
        );
    }
    out
}

/// One metric family: HELP, TYPE and its samples.
fn metric(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    samples: &[(Vec<(&str, &str)>, f64)],
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, value) in samples {
        let labels: Vec<String> = labels
            .iter()
            .map(|(key, value)| format!("{key}=\"{}\"", escape(value)))
            .collect();
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{}}} {value}", labels.join(","));
        }
    }
}

/// A label value escaped as the exposition format wants: backslash, quote, newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_allows_two_intervals_since_the_last_success() {
        let snapshot = Snapshot {
            text: String::new(),
            last_success_at: Some(1000),
            interval: Duration::from_secs(60),
            last_error: Some("boom\nforged".to_string()),
            ..Snapshot::default()
        };
        assert!(health(&snapshot, 1100).is_ok());
        assert!(health(&snapshot, 1120).is_ok());
        let unhealthy = health(&snapshot, 1121).expect_err("503");
        assert!(unhealthy.contains("boom\\nforged"), "{unhealthy}");
        assert!(health(&Snapshot::default(), 5).is_err());
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
