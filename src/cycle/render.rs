//! Turns a `CycleReport` into words: log lines, the dry-run plan and systemd's STATUS line.
//! It reads the report and decides nothing; "log each problem once" compares `ProblemKey`s,
//! never sentences.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::report::{CycleReport, ListState, ProblemKey, RecordState};
use crate::model::Family;

/// Logs the outcome: one line per change and per problem; records in sync only at debug.
pub fn log(report: &CycleReport) {
    log_since(report, &BTreeSet::new());
}

/// Logs like `log`, but a problem already logged last cycle (its key in `previous`) drops to
/// debug, so a daemon waiting out an outage does not repeat the same error every interval;
/// says so when the last cycle's problems are gone. Returns this cycle's keys.
pub fn log_since(report: &CycleReport, previous: &BTreeSet<ProblemKey>) -> BTreeSet<ProblemKey> {
    let mut keys = BTreeSet::new();
    for (key, sentence) in report.keyed_problems() {
        if previous.contains(&key) {
            tracing::debug!("still: {sentence}");
        } else {
            tracing::error!("{sentence}");
        }
        keys.insert(key);
    }
    for record in &report.records {
        let zone = record.zone.as_deref().unwrap_or("?");
        match &record.state {
            RecordState::InSync => {
                tracing::debug!("{} {} is in sync", types(&record.families), record.name)
            }
            RecordState::Changed(action) => {
                tracing::info!("zone {zone}: {} {action}", action.done())
            }
            // The plan itself goes to stdout; the log only notes it.
            RecordState::WouldChange(action) => {
                tracing::debug!("zone {zone}: would {} {action}", action.verb())
            }
            RecordState::Failed(_) => {}
        }
    }
    for list in &report.lists {
        match &list.state {
            ListState::Changed { added, removed } => tracing::info!(
                "WAF list {}: {} → {}",
                list.name,
                items(removed),
                items(added)
            ),
            ListState::InSync => tracing::debug!("WAF list {} is in sync", list.name),
            _ => {}
        }
    }
    if !previous.is_empty() && report.success() {
        tracing::info!("all records are in sync again ({})", summary(report));
    }
    tracing::debug!(api_requests = report.api_requests, zones = ?report.zone_requests, "cycle finished");
    keys
}

/// The plan as printed by `--dry-run`, one line per record, then a summary.
pub fn plan(report: &CycleReport) -> String {
    let mut out = String::new();
    for record in &report.records {
        // An internationalised name is shown in both forms, after the line.
        let unicode = record
            .name
            .unicode()
            .map(|unicode| format!("   # {unicode}"))
            .unwrap_or_default();
        let _ = match &record.state {
            RecordState::InSync => writeln!(
                out,
                "{:<13} {} {}{unicode}",
                "in sync",
                record.name,
                types(&record.families)
            ),
            RecordState::WouldChange(action) | RecordState::Changed(action) => {
                writeln!(out, "{:<13} {action}{unicode}", action.verb())
            }
            RecordState::Failed(failure) => writeln!(out, "{:<13} {failure}{unicode}", "error"),
        };
    }
    for problem in &report.problems {
        let _ = writeln!(out, "{:<13} {problem}", "error");
    }
    for list in &report.lists {
        let _ = match &list.state {
            ListState::InSync => writeln!(
                out,
                "{:<13} WAF list {} ({})",
                "in sync",
                list.name,
                items(&list.items)
            ),
            ListState::WouldChange {
                added,
                removed,
                created,
            } => writeln!(
                out,
                "{:<13} WAF list {}{}: {} → {}",
                "update-list",
                list.name,
                if *created { " (to be created)" } else { "" },
                items(removed),
                items(added)
            ),
            ListState::Changed { added, removed } => writeln!(
                out,
                "{:<13} WAF list {}: {} → {}",
                "updated-list",
                list.name,
                items(removed),
                items(added)
            ),
            ListState::Failed(failure) => writeln!(out, "{:<13} {failure}", "error"),
        };
    }
    for derivation in &report.derived {
        let _ = writeln!(out, "{:<13} {derivation}", "derived");
    }
    let verb = if report.dry_run {
        "dry run: nothing was changed"
    } else {
        "applied"
    };
    let counts = report.counts();
    let _ = writeln!(
        out,
        "{} change(s) planned, {} record(s) in sync; {verb}",
        counts.changed, counts.in_sync
    );
    out
}

/// A one-line summary for logs: counts and the detected addresses.
pub fn summary(report: &CycleReport) -> String {
    let mut text = report.counts().to_string();
    let addresses: Vec<String> = report.addresses.values().map(ToString::to_string).collect();
    if !addresses.is_empty() {
        let _ = write!(text, " at {}", addresses.join(" and "));
    }
    text
}

fn items(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_string()
    } else {
        items.join(", ")
    }
}

fn types(families: &[Family]) -> String {
    families
        .iter()
        .map(|family| family.record_type())
        .collect::<Vec<_>>()
        .join("/")
}
