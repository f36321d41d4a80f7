//! The last cycle, as remembered in `status.json`: what each record holds and how it ended,
//! the detected addresses, the last change per record, what is failing, and the counters that
//! metrics export. The daemon keeps it in memory and writes it after each cycle; `--once`
//! reads it, advances it and writes it back, so cron runs count and notify like the daemon.
//! `status` and the metrics textfile render it; none of them judges a record again: the
//! values come from the cycle's `CycleFacts` through `advance`, a pure function. The fields are
//! typed (families, statuses, subjects, request kinds); the file's text is only their
//! serialisation, kept as version 1 wrote it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::facts::{CycleFacts, ListStatus};
pub use super::facts::{RecordStatus, Subject};
use crate::cloudflare::RequestKind;
use crate::model::Family;

/// The file's name in the state directory.
pub const FILE: &str = "status.json";
/// The format this version writes; another version's file is ignored (with a warning).
pub const VERSION: u32 = 1;

/// One WAF list's line of the status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListLine {
    pub name: String,
    pub account: String,
    pub state: ListStatus,
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
    #[serde(rename = "type", with = "super::facts::record_type")]
    pub family: Family,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    pub state: RecordStatus,
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
    pub family: Family,
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
    #[serde(deserialize_with = "lenient::map")]
    pub cycles: BTreeMap<CycleResult, u64>,
    #[serde(deserialize_with = "lenient::map")]
    pub address_changes: BTreeMap<Family, u64>,
    /// By method and status (0: no answer); `"GET 200"` in the file.
    #[serde(with = "request_counts")]
    pub api_requests: BTreeMap<RequestKind, u64>,
}

/// How a cycle ended, for the cycle counter. Declared in the order of the names: the derived
/// `Ord` orders the map, and the file has always listed `"failure"` before `"success"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CycleResult {
    Failure,
    Success,
}

impl CycleResult {
    /// `success` or `failure`.
    pub fn name(self) -> &'static str {
        match self {
            CycleResult::Success => "success",
            CycleResult::Failure => "failure",
        }
    }
}

/// A record and family, the key of `last_changes`: `"home.example.com A"` in the file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordKey {
    pub name: String,
    pub family: Family,
}

impl Serialize for RecordKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{} {}", self.name, self.family.record_type()))
    }
}

impl<'de> Deserialize<'de> for RecordKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.rsplit_once(' ')
            .and_then(|(name, record_type)| {
                Some(RecordKey {
                    name: name.to_string(),
                    family: Family::from_record_type(record_type)?,
                })
            })
            .ok_or_else(|| serde::de::Error::custom("not \"name TYPE\""))
    }
}

/// `api_requests` as `{"GET 200": n}`; a key this version does not know is dropped on read.
mod request_counts {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use crate::cloudflare::RequestKind;

    pub fn serialize<S: Serializer>(
        counts: &BTreeMap<RequestKind, u64>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_map(counts.iter().map(|(kind, count)| (kind.to_string(), count)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<RequestKind, u64>, D::Error> {
        // As leniently as the rest (`lenient`): an entry whose key or count does not read is
        // dropped on its own.
        let text = BTreeMap::<String, serde_json::Value>::deserialize(deserializer)?;
        // Two spellings of one kind ("GET 0200", "GET 200") add up rather than replace.
        let mut counts = BTreeMap::new();
        for (kind, count) in text
            .into_iter()
            .filter_map(|(key, count)| Some((RequestKind::parse(&key)?, count.as_u64()?)))
        {
            let total: &mut u64 = counts.entry(kind).or_default();
            *total = total.saturating_add(count);
        }
        Ok(counts)
    }
}

/// Reading the typed fields as leniently as the string-typed version 1 read them: an entry
/// this version cannot type (a family, record type, state, subject or result it does not know,
/// an address that is not one, a `last_changes` key with no type) is dropped, not the whole
/// file. The string-typed version kept such entries (and dropped a history entry of an unknown
/// family), so a hand-edited file, or one a later version 1 wrote, kept its counters, its
/// history and what was failing; rejecting the file loses them, and with `failing` the
/// recovery events. The file is only ever JSON (`StateDir::read_json`), so an entry is read as
/// a JSON value first and typed second.
mod lenient {
    use std::collections::BTreeMap;

    use serde::de::DeserializeOwned;
    use serde::{Deserialize, Deserializer};

    /// A list or set: the entries that read.
    pub fn seq<'de, D, T, C>(deserializer: D) -> Result<C, D::Error>
    where
        D: Deserializer<'de>,
        T: DeserializeOwned,
        C: FromIterator<T>,
    {
        let values = Vec::<serde_json::Value>::deserialize(deserializer)?;
        Ok(values
            .into_iter()
            .filter_map(|value| serde_json::from_value(value).ok())
            .collect())
    }

    /// A map with string keys: the entries whose key and value both read.
    pub fn map<'de, D, K, V>(deserializer: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        D: Deserializer<'de>,
        K: DeserializeOwned + Ord,
        V: DeserializeOwned,
    {
        let values = BTreeMap::<String, serde_json::Value>::deserialize(deserializer)?;
        Ok(values
            .into_iter()
            .filter_map(|(key, value)| {
                let key = serde_json::from_value(serde_json::Value::String(key)).ok()?;
                Some((key, serde_json::from_value(value).ok()?))
            })
            .collect())
    }
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
    /// By family: the detected address.
    #[serde(deserialize_with = "lenient::map")]
    pub addresses: BTreeMap<Family, IpAddr>,
    #[serde(deserialize_with = "lenient::seq")]
    pub records: Vec<RecordLine>,
    #[serde(default, deserialize_with = "lenient::seq")]
    pub waf_lists: Vec<ListLine>,
    /// Cycle-wide problems, as sentences.
    pub problems: Vec<String>,
    /// The first problem of the last failed cycle, kept until a cycle succeeds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(deserialize_with = "lenient::seq")]
    pub failing: BTreeSet<Subject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<u64>,
    #[serde(deserialize_with = "lenient::map")]
    pub last_changes: BTreeMap<RecordKey, Change>,
    pub counters: Counters,
    /// Unix seconds of the daemon's next check (absent for `--once`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_check_at: Option<u64>,
    /// The last `HISTORY_PER_FAMILY` changes of the detected address per family, oldest
    /// first. Kept here rather than in a file of its own: `status.json` is already written
    /// atomically, read back by `--once`, kept across restarts and ignored with a warning when
    /// corrupt, and the page and `status --json` read this document anyway. A file written
    /// before it existed reads as an empty history.
    #[serde(default, deserialize_with = "lenient::seq")]
    pub history: Vec<AddressChange>,
}

impl LastCycle {
    /// A file's contents, or nothing when it is another version's.
    pub fn checked(mut self) -> Option<LastCycle> {
        // A hand-edited file may hold more than the cap: it is trimmed on read.
        trim_history(&mut self.history);
        (self.version == VERSION).then_some(self)
    }

    /// The next state after a cycle with `facts`, which ended at `now` (unix seconds) after
    /// `duration_ms`. Pure.
    pub fn advance(&self, facts: &CycleFacts, now: u64, duration_ms: u64) -> LastCycle {
        let mut next = self.clone();
        next.version = VERSION;
        next.finished_at = now;
        next.duration_ms = duration_ms;
        next.success = facts.success;
        next.dry_run = facts.dry_run;
        next.advance_addresses(facts, now);
        next.records = facts
            .records
            .iter()
            .map(|record| RecordLine {
                name: record.name.clone(),
                unicode: record.unicode.clone(),
                family: record.family,
                zone: record.zone.clone(),
                state: record.status,
                address: record.address.clone(),
                error: record.error.clone(),
            })
            .collect();
        if let Some(lists) = &facts.lists {
            next.waf_lists = lists
                .iter()
                .map(|list| ListLine {
                    name: list.name.clone(),
                    account: list.account.clone(),
                    state: list.status,
                    items: list.items.clone(),
                    error: list.error.clone(),
                })
                .collect();
        }
        for written in &facts.written {
            next.last_changes.insert(
                RecordKey {
                    name: written.name.clone(),
                    family: written.family,
                },
                Change {
                    old: written.old.clone(),
                    new: written.new.clone(),
                    at: now,
                },
            );
        }
        next.problems = facts.problems.clone();
        next.failing = self.still_failing(facts);
        next.count(facts);
        if next.success {
            next.last_success_at = Some(now);
            next.last_error = None;
        } else {
            next.last_error = facts.first_problem.clone();
        }
        next
    }

    /// The detected addresses, their history and counter. A family whose detection failed
    /// keeps its last known address; a first detection is no change.
    fn advance_addresses(&mut self, facts: &CycleFacts, now: u64) {
        for (family, address) in &facts.addresses {
            let previous = self.addresses.insert(*family, *address);
            if let Some(old) = previous.filter(|old| old != address) {
                let changes = self.counters.address_changes.entry(*family).or_default();
                // A tampered file's u64::MAX must not wrap to 0 in a release build.
                *changes = changes.saturating_add(1);
                self.history.push(AddressChange {
                    family: *family,
                    old: old.to_string(),
                    new: address.to_string(),
                    at: now,
                });
            }
        }
        trim_history(&mut self.history);
    }

    /// What fails after this cycle: what it found failing, and what it could not judge (a
    /// record not checked because detection failed, detection in an abandoned cycle) that was
    /// failing before: its failure was announced, and its end must be too.
    fn still_failing(&self, facts: &CycleFacts) -> BTreeSet<Subject> {
        let mut failing: BTreeSet<Subject> = facts.failing.keys().cloned().collect();
        for subject in &self.failing {
            let judged = facts.failing.contains_key(subject) || facts.working.contains(subject);
            let carried = match subject {
                _ if judged => false,
                Subject::Record { name, family } => {
                    facts.has_record(name, *family) || facts.abandoned
                }
                Subject::Detection { .. } | Subject::List { .. } => facts.abandoned,
                Subject::Cycle => false,
            };
            if carried {
                failing.insert(subject.clone());
            }
        }
        failing
    }

    /// The counters: cycles by result, requests by kind.
    fn count(&mut self, facts: &CycleFacts) {
        let result = if facts.success {
            CycleResult::Success
        } else {
            CycleResult::Failure
        };
        let cycles = self.counters.cycles.entry(result).or_default();
        *cycles = cycles.saturating_add(1);
        for (kind, count) in &facts.requests {
            let total = self.counters.api_requests.entry(*kind).or_default();
            *total = total.saturating_add(*count);
        }
    }
}

/// Keeps the last `HISTORY_PER_FAMILY` changes of each family, in the order they happened.
pub fn trim_history(history: &mut Vec<AddressChange>) {
    let mut kept: BTreeMap<Family, usize> = BTreeMap::new();
    let mut keep: Vec<bool> = vec![false; history.len()];
    for (index, change) in history.iter().enumerate().rev() {
        let count = kept.entry(change.family).or_default();
        if *count < HISTORY_PER_FAMILY {
            *count += 1;
            keep[index] = true;
        }
    }
    let mut flags = keep.into_iter();
    history.retain(|_| flags.next().unwrap_or(false));
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
