//! The events a cycle gives, as data: `changed` (one per record written, with old and new),
//! `failed` (a subject that was not failing before this cycle and is now), `recovered` (one
//! that was failing and now works). A pure function of what was failing before and the
//! cycle's facts (`publish::facts`), so "announced once, and its end once" is tested by table
//! and holds for the daemon and for `--once` alike (which reads what was failing from the
//! state directory).

use std::collections::BTreeSet;

use serde::Serialize;

use crate::publish::facts::{CycleFacts, Subject};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Changed,
    Failed,
    Recovered,
    WafListChanged,
}

impl EventKind {
    /// The name in payloads and `FLAREDNS_EVENT`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Changed => "changed",
            EventKind::Failed => "failed",
            EventKind::Recovered => "recovered",
            EventKind::WafListChanged => "waf_list_changed",
        }
    }
}

/// One event. Field names are the webhook JSON's and, upper-cased after `FLAREDNS_`, the exec
/// hooks' environment. Absent fields are left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    pub event: EventKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub record_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// `ipv4` or `ipv6`, for a detection failure or recovery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detection: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// RFC 3339, UTC.
    pub time: String,
    pub host: String,
}

impl Event {
    fn new(event: EventKind, time: &str, host: &str) -> Event {
        Event {
            event,
            name: None,
            record_type: None,
            zone: None,
            detection: None,
            list: None,
            old: None,
            new: None,
            reason: None,
            time: time.to_string(),
            host: host.to_string(),
        }
    }

    /// The fields as `(NAME, value)` pairs for `FLAREDNS_NAME=value` and for one-line text.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![("EVENT", self.event.as_str().to_string())];
        let optional = [
            ("NAME", &self.name),
            ("TYPE", &self.record_type),
            ("ZONE", &self.zone),
            ("DETECTION", &self.detection),
            ("LIST", &self.list),
            ("OLD", &self.old),
            ("NEW", &self.new),
            ("REASON", &self.reason),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                fields.push((key, value.clone()));
            }
        }
        fields.push(("TIME", self.time.clone()));
        fields.push(("HOST", self.host.clone()));
        fields
    }

    /// One line for logs and heartbeats: "changed home.example.com A 1.2.3.4 → 5.6.7.8".
    pub fn summary(&self) -> String {
        let subject = match (&self.name, &self.record_type, &self.detection, &self.list) {
            (Some(name), Some(record_type), _, _) => format!("{name} {record_type}"),
            (_, _, Some(family), _) => format!("{family} detection"),
            (_, _, _, Some(list)) => format!("WAF list {list}"),
            _ => "the cycle".to_string(),
        };
        let detail = match (&self.old, &self.new, &self.reason) {
            (Some(old), Some(new), _) if old.is_empty() => format!(": (none) → {new}"),
            (Some(old), Some(new), _) => format!(": {old} → {new}"),
            (_, _, Some(reason)) => format!(": {reason}"),
            _ => String::new(),
        };
        format!("{} {subject}{detail}", self.event.as_str())
    }
}

/// The events of a cycle, given the subjects that were failing before it.
pub fn events(
    previous_failing: &BTreeSet<Subject>,
    facts: &CycleFacts,
    time: &str,
    host: &str,
) -> Vec<Event> {
    let mut out = Vec::new();
    if facts.dry_run {
        return out;
    }
    for written in &facts.written {
        let mut event = Event::new(EventKind::Changed, time, host);
        event.name = Some(written.name.clone());
        event.record_type = Some(written.family.record_type().to_string());
        event.zone = written.zone.clone();
        event.old = Some(written.old.clone());
        event.new = Some(written.new.clone());
        out.push(event);
    }
    for list in &facts.lists_written {
        let mut event = Event::new(EventKind::WafListChanged, time, host);
        event.list = Some(list.name.clone());
        event.old = Some(list.removed.join(","));
        event.new = Some(list.added.join(","));
        out.push(event);
    }
    for (subject, failure) in &facts.failing {
        // (Subjects this cycle could not judge are carried in the status's `failing`, so a
        // failure that outlives a detection outage is not announced twice.)
        if previous_failing.contains(subject) {
            continue;
        }
        let mut event = subject_event(EventKind::Failed, subject, time, host);
        event.reason = Some(failure.reason.clone());
        event.zone = failure.zone.clone();
        out.push(event);
    }
    for subject in previous_failing.intersection(&facts.working) {
        if !facts.failing.contains_key(subject) {
            out.push(subject_event(EventKind::Recovered, subject, time, host));
        }
    }
    out
}

fn subject_event(kind: EventKind, subject: &Subject, time: &str, host: &str) -> Event {
    let mut event = Event::new(kind, time, host);
    match subject {
        Subject::Detection { family } => event.detection = Some(family.name().to_string()),
        Subject::Record { name, family } => {
            event.name = Some(name.clone());
            event.record_type = Some(family.record_type().to_string());
        }
        Subject::List { name } => event.list = Some(name.clone()),
        Subject::Cycle => {}
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cycle::{CycleReport, RecordFailure, RecordReport, RecordState};
    use crate::model::{DomainName, Family};
    use crate::plan::Refusal;

    fn report(states: Vec<(&str, RecordState)>) -> CycleReport {
        let mut report = CycleReport::default();
        report
            .addresses
            .insert(Family::V4, "81.23.45.99".parse().expect("ip"));
        for (name, state) in states {
            report.records.push(RecordReport {
                name: DomainName::parse(name).expect("name"),
                families: vec![Family::V4],
                zone: Some("example.com".to_string()),
                state,
                contents: std::collections::BTreeMap::new(),
            });
        }
        report
    }

    fn refused(name: &str) -> RecordState {
        RecordState::Failed(RecordFailure::Refused {
            name: DomainName::parse(name).expect("name"),
            families: vec![Family::V4],
            zone: "example.com".to_string(),
            refusal: Refusal::Ambiguous {
                contents: vec!["1.2.3.4".to_string(), "1.2.3.5".to_string()],
            },
        })
    }

    fn failing(report: &CycleReport) -> BTreeSet<Subject> {
        CycleFacts::of(report).failing.into_keys().collect()
    }

    fn events(
        previous: &BTreeSet<Subject>,
        report: &CycleReport,
        time: &str,
        host: &str,
    ) -> Vec<Event> {
        super::events(previous, &CycleFacts::of(report), time, host)
    }

    fn kinds(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(Event::summary)
            .map(|s| s.split(':').next().unwrap_or("").to_string())
            .collect()
    }

    #[test]
    fn a_failure_is_announced_once_and_its_end_once() {
        let a = "a.example.com";
        let b = "b.example.com";
        let none = BTreeSet::new();
        let first = report(vec![(a, refused(a)), (b, RecordState::InSync)]);
        let events1 = events(&none, &first, "t", "h");
        assert_eq!(kinds(&events1), vec!["failed a.example.com A"]);
        let failing1 = failing(&first);
        // Still failing: nothing.
        assert!(events(&failing1, &first, "t", "h").is_empty());
        // A second record fails too: one event for it alone.
        let second = report(vec![(a, refused(a)), (b, refused(b))]);
        assert_eq!(
            kinds(&events(&failing1, &second, "t", "h")),
            vec!["failed b.example.com A"]
        );
        // Both work again: two recoveries.
        let fine = report(vec![(a, RecordState::InSync), (b, RecordState::InSync)]);
        assert_eq!(
            kinds(&events(&failing(&second), &fine, "t", "h")),
            vec!["recovered a.example.com A", "recovered b.example.com A"]
        );
        // In sync and nothing failing before: nothing at all.
        assert!(events(&none, &fine, "t", "h").is_empty());
        // A dry run tells nobody.
        let mut dry = second.clone();
        dry.dry_run = true;
        assert!(events(&none, &dry, "t", "h").is_empty());
    }
}
