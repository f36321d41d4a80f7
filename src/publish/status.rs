//! The last cycle, as remembered in `status.json`: what each record holds and how it ended,
//! the detected addresses, the last change per record, what is failing, and the counters that
//! metrics export. The daemon keeps it in memory and writes it after each cycle; `--once`
//! reads it, advances it and writes it back, so cron runs count and notify like the daemon.
//! `status` and the metrics textfile render it; none of them judges a record again: the
//! values come from the `CycleReport` through `advance`, a pure function.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::cycle::{CycleProblem, CycleReport, ListState, RecordFailure, RecordState};
use crate::model::Family;
use crate::plan::Action;

/// The file's name in the state directory.
pub const FILE: &str = "status.json";
/// The format this version writes; another version's file is ignored (with a warning).
pub const VERSION: u32 = 1;

/// What is failing: detection of a family, or a record (one name and type).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    Detection {
        family: String,
    },
    Record {
        name: String,
        #[serde(rename = "type")]
        record_type: String,
    },
    /// The cycle as a whole (it was abandoned at its deadline).
    Cycle,
    /// A WAF list.
    List {
        name: String,
    },
}

/// One WAF list's line of the status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListLine {
    pub name: String,
    pub account: String,
    /// `in_sync`, `changed`, `planned` or `failed`.
    pub state: String,
    /// This host's items the list holds (or should).
    pub items: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One record's line of the status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordLine {
    /// The name as Cloudflare and DNS hold it (`xn--` form).
    pub name: String,
    /// The name in Unicode, when it is internationalised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unicode: Option<String>,
    #[serde(rename = "type")]
    pub record_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// `in_sync`, `changed`, `planned`, `failed` or `refused`.
    pub state: String,
    /// The address the record holds (as far as this cycle knows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A record's last change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub old: String,
    pub new: String,
    /// Unix seconds.
    pub at: u64,
}

/// One change of this host's detected address, for `history`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressChange {
    /// `ipv4` or `ipv6`.
    pub family: String,
    pub old: String,
    pub new: String,
    /// Unix seconds.
    pub at: u64,
}

/// How many address changes `history` keeps per family.
pub const HISTORY_PER_FAMILY: usize = 100;

/// Counters that only grow (Prometheus `_total`), kept across runs and reloads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// By result: `success`, `failure`.
    pub cycles: BTreeMap<String, u64>,
    /// By family: `ipv4`, `ipv6`.
    pub address_changes: BTreeMap<String, u64>,
    /// By "METHOD STATUS" (status 0: no answer).
    pub api_requests: BTreeMap<String, u64>,
}

/// The whole `status.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastCycle {
    pub version: u32,
    /// Unix seconds when the last cycle ended (0: none yet).
    pub finished_at: u64,
    pub duration_ms: u64,
    pub success: bool,
    pub dry_run: bool,
    /// By family name (`ipv4`, `ipv6`): the detected address.
    pub addresses: BTreeMap<String, String>,
    pub records: Vec<RecordLine>,
    #[serde(default)]
    pub waf_lists: Vec<ListLine>,
    /// Cycle-wide problems, as sentences.
    pub problems: Vec<String>,
    /// The first problem of the last failed cycle, kept until a cycle succeeds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub failing: BTreeSet<Subject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<u64>,
    /// By "name type".
    pub last_changes: BTreeMap<String, Change>,
    pub counters: Counters,
    /// Unix seconds of the daemon's next check (absent for `--once`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_check_at: Option<u64>,
    /// The last `HISTORY_PER_FAMILY` changes of the detected address per family, oldest
    /// first. Kept here rather than in a file of its own: `status.json` is already written
    /// atomically, read back by `--once`, kept across restarts and ignored with a warning when
    /// corrupt, and the page and `status --json` read this document anyway. A file written
    /// before it existed reads as an empty history.
    #[serde(default)]
    pub history: Vec<AddressChange>,
}

/// The subjects failing in a report. A record not checked because its family's address is
/// unknown is covered by the detection failure, not counted again.
pub fn failing(report: &CycleReport) -> BTreeSet<Subject> {
    let mut subjects = BTreeSet::new();
    for problem in &report.problems {
        subjects.insert(match problem {
            CycleProblem::Detect(error) => Subject::Detection {
                family: family_name(error.family).to_string(),
            },
            CycleProblem::Abandoned { .. } => Subject::Cycle,
        });
    }
    for list in &report.lists {
        if matches!(list.state, ListState::Failed(_)) {
            subjects.insert(Subject::List {
                name: list.name.clone(),
            });
        }
    }
    for (record, failure) in report.failures() {
        if matches!(failure, RecordFailure::NoAddress { .. }) {
            continue;
        }
        for family in &record.families {
            subjects.insert(Subject::Record {
                name: record.name.to_string(),
                record_type: family.record_type().to_string(),
            });
        }
    }
    subjects
}

/// The subjects a report shows working: families detected and records in sync or changed.
pub fn working(report: &CycleReport) -> BTreeSet<Subject> {
    let mut subjects: BTreeSet<Subject> = report
        .addresses
        .keys()
        .map(|family| Subject::Detection {
            family: family_name(*family).to_string(),
        })
        .collect();
    for record in &report.records {
        if matches!(
            record.state,
            RecordState::InSync | RecordState::Changed(_) | RecordState::WouldChange(_)
        ) {
            for family in &record.families {
                subjects.insert(Subject::Record {
                    name: record.name.to_string(),
                    record_type: family.record_type().to_string(),
                });
            }
        }
    }
    if report.problems.is_empty() {
        subjects.insert(Subject::Cycle);
    }
    for list in &report.lists {
        if matches!(list.state, ListState::InSync | ListState::Changed { .. }) {
            subjects.insert(Subject::List {
                name: list.name.clone(),
            });
        }
    }
    subjects
}

/// `ipv4` / `ipv6`.
pub fn family_name(family: Family) -> &'static str {
    match family {
        Family::V4 => "ipv4",
        Family::V6 => "ipv6",
    }
}

impl LastCycle {
    /// A file's contents, or nothing when it is another version's.
    pub fn checked(mut self) -> Option<LastCycle> {
        // A hand-edited file may hold more than the cap: it is trimmed on read.
        trim_history(&mut self.history);
        (self.version == VERSION).then_some(self)
    }

    /// The next state after `report`, which ended at `now` (unix seconds) after `duration_ms`,
    /// with `requests` (by "METHOD STATUS") sent during it. Pure.
    pub fn advance(
        &self,
        report: &CycleReport,
        now: u64,
        duration_ms: u64,
        requests: &BTreeMap<crate::cloudflare::RequestKind, u64>,
    ) -> LastCycle {
        let mut next = self.clone();
        next.version = VERSION;
        next.finished_at = now;
        next.duration_ms = duration_ms;
        next.success = report.success();
        next.dry_run = report.dry_run;
        let previous_addresses = std::mem::take(&mut next.addresses);
        for (family, address) in &report.addresses {
            let name = family_name(*family).to_string();
            if previous_addresses
                .get(&name)
                .is_some_and(|previous| previous != &address.to_string())
            {
                let changes = next
                    .counters
                    .address_changes
                    .entry(name.clone())
                    .or_default();
                // A tampered file's u64::MAX must not wrap to 0 in a release build.
                *changes = changes.saturating_add(1);
                next.history.push(AddressChange {
                    family: name.clone(),
                    old: previous_addresses.get(&name).cloned().unwrap_or_default(),
                    new: address.to_string(),
                    at: now,
                });
            }
            next.addresses.insert(name, address.to_string());
        }
        // A family whose detection failed keeps its last known address.
        for (name, address) in previous_addresses {
            next.addresses.entry(name).or_insert(address);
        }
        trim_history(&mut next.history);
        next.records = report
            .records
            .iter()
            .flat_map(|record| {
                record
                    .families
                    .iter()
                    .map(move |family| line(record, *family))
            })
            .collect();
        if !report.lists.is_empty() || report.problems.is_empty() {
            next.waf_lists = report
                .lists
                .iter()
                .map(|list| {
                    let (state, error) = match &list.state {
                        ListState::InSync => ("in_sync", None),
                        ListState::Changed { .. } => ("changed", None),
                        ListState::WouldChange { .. } => ("planned", None),
                        ListState::Failed(failure) => ("failed", Some(failure.to_string())),
                    };
                    ListLine {
                        name: list.name.clone(),
                        account: list.account.clone(),
                        state: state.to_string(),
                        items: list.items.clone(),
                        error,
                    }
                })
                .collect();
        }
        for record in &report.records {
            if let RecordState::Changed(action) = &record.state {
                for (family, old, new) in changes_of(action) {
                    next.last_changes.insert(
                        format!("{} {}", record.name, family.record_type()),
                        Change { old, new, at: now },
                    );
                }
            }
        }
        next.problems = report.problems.iter().map(ToString::to_string).collect();
        next.failing = failing(report);
        // A subject this cycle could not judge (a record not checked because detection
        // failed, detection in an abandoned cycle) keeps failing: its failure was announced,
        // and its end must be too.
        let judged: BTreeSet<Subject> = next.failing.union(&working(report)).cloned().collect();
        let present: BTreeSet<(String, String)> = report
            .records
            .iter()
            .flat_map(|record| {
                record
                    .families
                    .iter()
                    .map(move |family| (record.name.to_string(), family.record_type().to_string()))
            })
            .collect();
        let abandoned = report
            .problems
            .iter()
            .any(|problem| matches!(problem, CycleProblem::Abandoned { .. }));
        for subject in &self.failing {
            let carried = match subject {
                _ if judged.contains(subject) => false,
                Subject::Record { name, record_type } => {
                    present.contains(&(name.clone(), record_type.clone())) || abandoned
                }
                Subject::Detection { .. } | Subject::List { .. } => abandoned,
                Subject::Cycle => false,
            };
            if carried {
                next.failing.insert(subject.clone());
            }
        }
        let result = if next.success { "success" } else { "failure" };
        let cycles = next.counters.cycles.entry(result.to_string()).or_default();
        *cycles = cycles.saturating_add(1);
        // The typed kind becomes text here, at the edge: "GET 200" is the file's key.
        for (kind, count) in requests {
            let total = next
                .counters
                .api_requests
                .entry(kind.to_string())
                .or_default();
            *total = total.saturating_add(*count);
        }
        if next.success {
            next.last_success_at = Some(now);
            next.last_error = None;
        } else {
            next.last_error = report
                .keyed_problems()
                .into_iter()
                .next()
                .map(|(_, sentence)| sentence);
        }
        next
    }
}

/// Keeps the last `HISTORY_PER_FAMILY` changes of each family (and of nothing else), in the
/// order they happened.
pub fn trim_history(history: &mut Vec<AddressChange>) {
    let mut kept: BTreeMap<String, usize> = BTreeMap::new();
    let mut keep: Vec<bool> = vec![false; history.len()];
    for (index, change) in history.iter().enumerate().rev() {
        if change.family != "ipv4" && change.family != "ipv6" {
            continue;
        }
        let count = kept.entry(change.family.clone()).or_default();
        if *count < HISTORY_PER_FAMILY {
            *count += 1;
            keep[index] = true;
        }
    }
    let mut flags = keep.into_iter();
    history.retain(|_| flags.next().unwrap_or(false));
}

/// The status line of one record and family.
fn line(record: &crate::cycle::RecordReport, family: Family) -> RecordLine {
    // The content the record holds or was set to (for a LAN host the derived address, not
    // this host's own).
    let content = record.contents.get(&family).map(ToString::to_string);
    let (state, address, error) = match &record.state {
        RecordState::InSync => ("in_sync", content, None),
        RecordState::Changed(_) => ("changed", content, None),
        RecordState::WouldChange(_) => ("planned", None, None),
        RecordState::Failed(failure @ RecordFailure::Refused { .. }) => {
            ("refused", None, Some(failure.to_string()))
        }
        RecordState::Failed(failure) => ("failed", None, Some(failure.to_string())),
    };
    RecordLine {
        name: record.name.to_string(),
        unicode: record.name.unicode(),
        record_type: family.record_type().to_string(),
        zone: record.zone.clone(),
        state: state.to_string(),
        address,
        error,
    }
}

/// (family, old, new) for each record an action wrote.
pub fn changes_of(action: &Action) -> Vec<(Family, String, String)> {
    match action {
        Action::Create(new) => vec![(new.family, String::new(), new.content.to_string())],
        Action::Update {
            family,
            old_content,
            content,
            ..
        } => vec![(*family, old_content.clone(), content.to_string())],
        Action::ReplaceCname {
            target, creates, ..
        } => creates
            .iter()
            .map(|new| {
                (
                    new.family,
                    format!("CNAME {target}"),
                    new.content.to_string(),
                )
            })
            .collect(),
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
