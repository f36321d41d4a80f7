//! What one cycle established, typed, built once from its `CycleReport`: the detected
//! addresses, which subjects fail (and why) and which work, what was written, the status of
//! each record and list, and the requests sent. Every reader after a cycle reads these facts:
//! the status (`LastCycle::advance`), the events and the heartbeat; the page, metrics,
//! `/healthz`, the textfile and `status` read the status they advanced. Nothing downstream
//! searches the report again or compares sentences.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::cloudflare::RequestKind;
use crate::cycle::{
    CycleProblem, CycleReport, ListState, RecordFailure, RecordReport, RecordState,
};
use crate::model::Family;
use crate::plan::Action;

/// What is failing: detection of a family, a record (one name and type), a WAF list, or the
/// cycle as a whole. In `status.json` as `{"kind":"record","name":…,"type":"A"}`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    Detection {
        family: Family,
    },
    Record {
        name: String,
        #[serde(rename = "type", with = "record_type")]
        family: Family,
    },
    /// The cycle as a whole (it was abandoned at its deadline).
    Cycle,
    /// A WAF list.
    List {
        name: String,
    },
}

/// How a record ended a cycle, as the status shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    InSync,
    Changed,
    /// A dry run would change it.
    Planned,
    Failed,
    /// It was refused (an unmanaged record in the way, a conflicting type).
    Refused,
}

impl RecordStatus {
    /// `in_sync`, `changed`, `planned`, `failed` or `refused`.
    pub fn name(self) -> &'static str {
        match self {
            RecordStatus::InSync => "in_sync",
            RecordStatus::Changed => "changed",
            RecordStatus::Planned => "planned",
            RecordStatus::Failed => "failed",
            RecordStatus::Refused => "refused",
        }
    }
}

/// How a WAF list ended a cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListStatus {
    InSync,
    Changed,
    Planned,
    Failed,
}

impl ListStatus {
    /// `in_sync`, `changed`, `planned` or `failed`.
    pub fn name(self) -> &'static str {
        match self {
            ListStatus::InSync => "in_sync",
            ListStatus::Changed => "changed",
            ListStatus::Planned => "planned",
            ListStatus::Failed => "failed",
        }
    }
}

/// One record and family as the cycle left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordFact {
    pub name: String,
    /// The name in Unicode, when it is internationalised.
    pub unicode: Option<String>,
    pub family: Family,
    pub zone: Option<String>,
    pub status: RecordStatus,
    /// The content it holds or was set to (for a LAN host the derived address).
    pub address: Option<String>,
    pub error: Option<String>,
}

/// One WAF list as the cycle left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListFact {
    pub name: String,
    pub account: String,
    pub status: ListStatus,
    pub items: Vec<String>,
    pub error: Option<String>,
}

/// A record the cycle wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub name: String,
    pub family: Family,
    pub zone: Option<String>,
    /// Empty for a new record; `CNAME target` for a replaced CNAME.
    pub old: String,
    pub new: String,
}

/// A WAF list the cycle changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListWritten {
    pub name: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// Why a subject fails, and where.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Failure {
    /// The sentence.
    pub reason: String,
    /// A record's zone.
    pub zone: Option<String>,
}

/// Everything a cycle established that is read after it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CycleFacts {
    pub success: bool,
    pub dry_run: bool,
    /// The addresses detected this cycle (a failed family is absent).
    pub addresses: BTreeMap<Family, IpAddr>,
    /// Subjects failing now, each with why.
    pub failing: BTreeMap<Subject, Failure>,
    /// Subjects shown working: families detected, records in sync or changed, lists written
    /// or in sync, and the cycle when it had no problem.
    pub working: BTreeSet<Subject>,
    /// The cycle was abandoned at its deadline: what it could not judge keeps its state.
    pub abandoned: bool,
    pub records: Vec<RecordFact>,
    /// `None` when the cycle did not get to the lists (it failed before them).
    pub lists: Option<Vec<ListFact>>,
    pub written: Vec<Written>,
    pub lists_written: Vec<ListWritten>,
    /// Cycle-wide problems, as sentences.
    pub problems: Vec<String>,
    /// The first problem of a failed cycle: `last_error`, the heartbeat's reason.
    pub first_problem: Option<String>,
    /// Requests sent, by method and status.
    pub requests: BTreeMap<RequestKind, u64>,
}

impl CycleFacts {
    /// The facts of `report`. Pure.
    pub fn of(report: &CycleReport) -> CycleFacts {
        let records: Vec<RecordFact> = report
            .records
            .iter()
            .flat_map(|record| {
                record
                    .families
                    .iter()
                    .map(move |family| record_fact(record, *family))
            })
            .collect();
        CycleFacts {
            success: report.success(),
            dry_run: report.dry_run,
            addresses: report.addresses.clone(),
            failing: failing(report),
            working: working(report),
            abandoned: report
                .problems
                .iter()
                .any(|problem| matches!(problem, CycleProblem::Abandoned { .. })),
            records,
            lists: (!report.lists.is_empty() || report.problems.is_empty())
                .then(|| report.lists.iter().map(list_fact).collect()),
            written: written(report),
            lists_written: report
                .lists
                .iter()
                .filter_map(|list| match &list.state {
                    ListState::Changed { added, removed } => Some(ListWritten {
                        name: list.name.clone(),
                        added: added.clone(),
                        removed: removed.clone(),
                    }),
                    _ => None,
                })
                .collect(),
            problems: report.problems.iter().map(ToString::to_string).collect(),
            first_problem: (!report.success())
                .then(|| report.keyed_problems().into_iter().next())
                .flatten()
                .map(|(_, sentence)| sentence),
            requests: report.requests_by_status.clone(),
        }
    }
}

impl CycleFacts {
    /// Whether this cycle had the managed record `name` of `family` (judged or not).
    pub fn has_record(&self, name: &str, family: Family) -> bool {
        self.records
            .iter()
            .any(|record| record.name == name && record.family == family)
    }
}

/// The subjects failing in a report, with why. A record not checked because its family's
/// address is unknown is covered by the detection failure, not counted again.
fn failing(report: &CycleReport) -> BTreeMap<Subject, Failure> {
    let mut subjects = BTreeMap::new();
    for problem in &report.problems {
        let subject = match problem {
            CycleProblem::Detect(error) => Subject::Detection {
                family: error.family,
            },
            CycleProblem::Abandoned { .. } => Subject::Cycle,
        };
        subjects.entry(subject).or_insert(Failure {
            reason: problem.to_string(),
            zone: None,
        });
    }
    for list in &report.lists {
        if let ListState::Failed(failure) = &list.state {
            subjects
                .entry(Subject::List {
                    name: list.name.clone(),
                })
                .or_insert(Failure {
                    reason: failure.to_string(),
                    zone: None,
                });
        }
    }
    for (record, failure) in report.failures() {
        if matches!(failure, RecordFailure::NoAddress { .. }) {
            continue;
        }
        for family in &record.families {
            subjects
                .entry(Subject::Record {
                    name: record.name.to_string(),
                    family: *family,
                })
                .or_insert(Failure {
                    reason: failure.to_string(),
                    zone: record.zone.clone(),
                });
        }
    }
    subjects
}

/// The subjects a report shows working.
fn working(report: &CycleReport) -> BTreeSet<Subject> {
    let mut subjects: BTreeSet<Subject> = report
        .addresses
        .keys()
        .map(|family| Subject::Detection { family: *family })
        .collect();
    for record in &report.records {
        if matches!(
            record.state,
            RecordState::InSync | RecordState::Changed(_) | RecordState::WouldChange(_)
        ) {
            for family in &record.families {
                subjects.insert(Subject::Record {
                    name: record.name.to_string(),
                    family: *family,
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

/// One record and family's fact.
fn record_fact(record: &RecordReport, family: Family) -> RecordFact {
    let content = record.contents.get(&family).map(ToString::to_string);
    let (status, address, error) = match &record.state {
        RecordState::InSync => (RecordStatus::InSync, content, None),
        RecordState::Changed(_) => (RecordStatus::Changed, content, None),
        RecordState::WouldChange(_) => (RecordStatus::Planned, None, None),
        RecordState::Failed(failure @ RecordFailure::Refused { .. }) => {
            (RecordStatus::Refused, None, Some(failure.to_string()))
        }
        RecordState::Failed(failure) => (RecordStatus::Failed, None, Some(failure.to_string())),
    };
    RecordFact {
        name: record.name.to_string(),
        unicode: record.name.unicode(),
        family,
        zone: record.zone.clone(),
        status,
        address,
        error,
    }
}

fn list_fact(list: &crate::cycle::ListReport) -> ListFact {
    let (status, error) = match &list.state {
        ListState::InSync => (ListStatus::InSync, None),
        ListState::Changed { .. } => (ListStatus::Changed, None),
        ListState::WouldChange { .. } => (ListStatus::Planned, None),
        ListState::Failed(failure) => (ListStatus::Failed, Some(failure.to_string())),
    };
    ListFact {
        name: list.name.clone(),
        account: list.account.clone(),
        status,
        items: list.items.clone(),
        error,
    }
}

/// Every record and family the cycle wrote, with old and new content.
fn written(report: &CycleReport) -> Vec<Written> {
    let mut out = Vec::new();
    for record in &report.records {
        if let RecordState::Changed(action) = &record.state {
            for (family, old, new) in changes_of(action) {
                out.push(Written {
                    name: record.name.to_string(),
                    family,
                    zone: record.zone.clone(),
                    old,
                    new,
                });
            }
        }
    }
    out
}

/// (family, old, new) for each record an action wrote.
fn changes_of(action: &Action) -> Vec<(Family, String, String)> {
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

/// A family as its record type (`A`, `AAAA`), for `Subject::Record`'s `type`.
pub mod record_type {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::model::Family;

    pub fn serialize<S: Serializer>(family: &Family, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(family.record_type())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Family, D::Error> {
        let text = String::deserialize(deserializer)?;
        Family::from_record_type(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not a record type: {text}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cycle::{ListFailure, ListReport, RecordReport};
    use crate::model::DomainName;
    use crate::plan::{NewRecord, Refusal};

    fn name(text: &str) -> DomainName {
        DomainName::parse(text).expect("name")
    }

    fn record(text: &str, state: RecordState) -> RecordReport {
        RecordReport {
            name: name(text),
            families: vec![Family::V4],
            zone: Some("example.com".to_string()),
            state,
            contents: BTreeMap::from([(Family::V4, "81.23.45.77".parse().expect("ip"))]),
        }
    }

    /// One report with a record of each kind, a failed and a changed list: the facts say who
    /// fails (with why and where), who works, what was written, and each status.
    #[test]
    fn a_report_becomes_typed_facts() {
        let mut report = CycleReport::default();
        report
            .addresses
            .insert(Family::V4, "81.23.45.77".parse().expect("ip"));
        report.records = vec![
            record("in.example.com", RecordState::InSync),
            record(
                "new.example.com",
                RecordState::Changed(Action::Create(NewRecord {
                    name: name("new.example.com"),
                    family: Family::V4,
                    content: "81.23.45.77".parse().expect("ip"),
                    proxied: false,
                    ttl: 1,
                    comment: None,
                })),
            ),
            record(
                "bad.example.com",
                RecordState::Failed(RecordFailure::Refused {
                    name: name("bad.example.com"),
                    families: vec![Family::V4],
                    zone: "example.com".to_string(),
                    refusal: Refusal::Ambiguous {
                        contents: vec!["1.2.3.4".to_string(), "1.2.3.5".to_string()],
                    },
                }),
            ),
            record(
                "unknown.example.com",
                RecordState::Failed(RecordFailure::NoAddress {
                    name: name("unknown.example.com"),
                    family: Family::V4,
                }),
            ),
        ];
        report.lists = vec![
            ListReport {
                account: "a".to_string(),
                name: "home_ips".to_string(),
                items: vec!["81.23.45.77".to_string()],
                state: ListState::Changed {
                    added: vec!["81.23.45.77".to_string()],
                    removed: vec!["81.23.45.10".to_string()],
                },
            },
            ListReport {
                account: "a".to_string(),
                name: "other".to_string(),
                items: vec![],
                state: ListState::Failed(ListFailure::Api {
                    account: "a".to_string(),
                    name: "other".to_string(),
                    step: "reading the lists",
                    error: crate::cloudflare::ApiError::Api {
                        status: 500,
                        messages: vec![],
                    },
                }),
            },
        ];
        let facts = CycleFacts::of(&report);
        let bad = Subject::Record {
            name: "bad.example.com".to_string(),
            family: Family::V4,
        };
        let failing: Vec<&Subject> = facts.failing.keys().collect();
        let other = Subject::List {
            name: "other".to_string(),
        };
        // Not checked for want of an address is the detection's failure, not its own.
        assert_eq!(failing, vec![&bad, &other]);
        let why = &facts.failing[&bad];
        assert_eq!(why.zone.as_deref(), Some("example.com"));
        assert!(why.reason.contains("bad.example.com"));
        for working in ["in.example.com", "new.example.com"] {
            assert!(facts.working.contains(&Subject::Record {
                name: working.to_string(),
                family: Family::V4
            }));
        }
        assert!(facts.working.contains(&Subject::Cycle));
        assert!(facts.working.contains(&Subject::List {
            name: "home_ips".to_string()
        }));
        let statuses: Vec<(&str, RecordStatus)> = facts
            .records
            .iter()
            .map(|record| (record.name.as_str(), record.status))
            .collect();
        assert_eq!(
            statuses,
            vec![
                ("in.example.com", RecordStatus::InSync),
                ("new.example.com", RecordStatus::Changed),
                ("bad.example.com", RecordStatus::Refused),
                ("unknown.example.com", RecordStatus::Failed),
            ]
        );
        assert_eq!(
            facts.records[2].address, None,
            "a failed record holds nothing known"
        );
        assert_eq!(
            facts.written,
            vec![Written {
                name: "new.example.com".to_string(),
                family: Family::V4,
                zone: Some("example.com".to_string()),
                old: String::new(),
                new: "81.23.45.77".to_string(),
            }]
        );
        assert_eq!(facts.lists_written.len(), 1);
        assert!(facts.has_record("unknown.example.com", Family::V4));
        assert!(!facts.has_record("unknown.example.com", Family::V6));
        assert!(!facts.success && !facts.abandoned);
        assert!(facts.first_problem.is_some());
    }
}
