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

/// `/healthz`'s and `status --check`'s verdict. `Display` is the line they print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// A cycle succeeded within two intervals, this many seconds ago.
    Healthy {
        seconds_ago: u64,
    },
    /// The last success is older than two intervals.
    Stale {
        seconds_ago: u64,
        last_error: Option<String>,
    },
    NoSuccessYet {
        last_error: Option<String>,
    },
    /// Nothing to judge: no state directory, or nothing remembered in it.
    Unknown(crate::status::StatusError),
}

impl Health {
    pub fn is_healthy(&self) -> bool {
        matches!(self, Health::Healthy { .. })
    }
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let reason = |error: &Option<String>| {
            error
                .as_ref()
                .map(|error| format!("; last error: {}", crate::logging::one_line(error)))
                .unwrap_or_default()
        };
        match self {
            Health::Healthy { seconds_ago } => {
                writeln!(f, "ok: the last successful cycle was {seconds_ago}s ago")
            }
            Health::Stale {
                seconds_ago,
                last_error,
            } => writeln!(
                f,
                "unhealthy: no successful cycle for {seconds_ago}s (more than two intervals){}",
                reason(last_error)
            ),
            Health::NoSuccessYet { last_error } => writeln!(
                f,
                "unhealthy: no successful cycle yet{}",
                reason(last_error)
            ),
            Health::Unknown(error) => writeln!(f, "unhealthy: {error}"),
        }
    }
}

/// `/healthz`'s verdict at `now` (unix seconds): healthy while a cycle succeeded within two
/// intervals.
pub fn health(snapshot: &Snapshot, now: u64) -> Health {
    let window = snapshot.interval.as_secs().saturating_mul(2).max(1);
    let last_error = snapshot.last_error.clone();
    match snapshot.last_success_at {
        Some(at) if at <= now && now - at <= window => Health::Healthy {
            seconds_ago: now - at,
        },
        Some(at) => Health::Stale {
            seconds_ago: now.saturating_sub(at),
            last_error,
        },
        None => Health::NoSuccessYet { last_error },
    }
}

/// A metric's samples: label pairs and a value.
type Samples<'a> = Vec<(Vec<(&'a str, &'a str)>, f64)>;

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
    cycles(&mut out, last);
    records(&mut out, last);
    requests(&mut out, last);
    addresses(&mut out, last);
    let lists: Samples<'_> = last
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

/// Cycles by result, the last success and the last cycle's duration.
fn cycles(out: &mut String, last: &LastCycle) {
    let cycles: Samples<'_> = [CycleResult::Success, CycleResult::Failure]
        .iter()
        .map(|result| {
            let count = last.counters.cycles.get(result).copied().unwrap_or(0);
            (vec![("result", result.name())], count as f64)
        })
        .collect();
    metric(
        out,
        "flaredns_cycles_total",
        "counter",
        "Cycles run, by result.",
        &cycles,
    );
    if let Some(at) = last.last_success_at {
        metric(
            out,
            "flaredns_last_success_timestamp_seconds",
            "gauge",
            "Unix time of the last cycle that brought every record in sync.",
            &[(vec![], at as f64)],
        );
    }
    if last.finished_at > 0 {
        metric(
            out,
            "flaredns_last_cycle_duration_seconds",
            "gauge",
            "How long the last cycle took.",
            &[(vec![], last.duration_ms as f64 / 1000.0)],
        );
    }
}

/// Managed records by state. A dry run publishes nothing, so none is `planned` here.
fn records(out: &mut String, last: &LastCycle) {
    let states = [
        RecordStatus::InSync,
        RecordStatus::Changed,
        RecordStatus::Failed,
        RecordStatus::Refused,
    ];
    let records: Samples<'_> = states
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
        out,
        "flaredns_records",
        "gauge",
        "Managed records (one per name and type) by the state the last cycle left them in.",
        &records,
    );
}

/// Requests to the API by method and status.
fn requests(out: &mut String, last: &LastCycle) {
    let codes: Vec<(&str, String, u64)> = last
        .counters
        .api_requests
        .iter()
        .map(|(kind, count)| (kind.method, kind.status.to_string(), *count))
        .collect();
    let samples: Samples<'_> = codes
        .iter()
        .map(|(method, code, count)| {
            (
                vec![("method", *method), ("code", code.as_str())],
                *count as f64,
            )
        })
        .collect();
    metric(
        out,
        "flaredns_api_requests_total",
        "counter",
        "Requests sent to Cloudflare's API, by method and HTTP status (0: no answer).",
        &samples,
    );
}

/// Address changes by family, and the detected addresses.
fn addresses(out: &mut String, last: &LastCycle) {
    let changes: Samples<'_> = [Family::V4, Family::V6]
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
        out,
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
    let detected: Samples<'_> = addresses
        .iter()
        .map(|(family, address)| {
            (
                vec![("family", family.name()), ("address", address.as_str())],
                1.0,
            )
        })
        .collect();
    metric(
        out,
        "flaredns_detected_address_info",
        "gauge",
        "This host's detected address, by family (always 1).",
        &detected,
    );
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
        assert!(health(&snapshot, 1100).is_healthy());
        assert!(health(&snapshot, 1120).is_healthy());
        let unhealthy = health(&snapshot, 1121);
        assert!(!unhealthy.is_healthy());
        assert!(
            unhealthy.to_string().contains("boom\\nforged"),
            "{unhealthy}"
        );
        assert!(!health(&Snapshot::default(), 5).is_healthy());
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
