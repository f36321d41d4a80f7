//! What a cycle did, as data: per record `InSync | Changed | WouldChange | Failed`, per family
//! the detected address, cycle-wide problems, and the requests spent per zone. Everything that
//! tells people about a cycle (logs, the dry-run plan, systemd STATUS, doctor, notifications,
//! metrics, `status`) reads this; none of them re-judges a record or parses a sentence. Each
//! failure's `Display` is the sentence a person reads; `key()` is what "the same problem"
//! means when deciding to say it only once.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::cloudflare::ApiError;
use crate::detect::DetectError;
use crate::model::{DomainName, Family};
use crate::plan::{Action, Refusal};
use crate::zones::ZoneError;

/// What happened to one managed record (one family, or all families of a CNAME replacement).
#[derive(Clone, Debug)]
pub enum RecordState {
    InSync,
    Changed(Action),
    /// A dry run planned this change and did not send it.
    WouldChange(Action),
    Failed(RecordFailure),
}

/// Why a record could not be brought in sync. `Display` is the whole sentence: subject, cause,
/// next step.
#[derive(Clone, Debug, thiserror::Error)]
pub enum RecordFailure {
    #[error("{family} {name} was not checked: this host's {} address is unknown (see the detection error)", family.describe())]
    NoAddress { name: DomainName, family: Family },
    #[error("AAAA {name} was not checked: no IPv6 prefix to derive it from: {problem}")]
    NoPrefix {
        name: DomainName,
        problem: Box<super::desired::PrefixProblem>,
    },
    /// `neigh:MAC` and the table holds no usable address of that MAC in the prefix.
    #[error("AAAA {name} was not checked: the neighbour table holds no usable address of {mac} in {prefix}; {}; make sure the device is on and has talked to this host lately (`ping -6 ff02::1%IFACE` wakes the table), and that the MAC is the one it uses on this LAN", held_text(held))]
    NoNeighbour {
        name: DomainName,
        mac: String,
        /// `2a01:4f8:c0c:1234::/64 (the detected IPv6 address)`.
        prefix: String,
        /// The table's entries for that MAC, each in words.
        held: Vec<String>,
    },
    #[error("AAAA {name} was not checked: {error}")]
    NeighbourTable {
        name: DomainName,
        error: crate::detect::neigh::NeighbourError,
    },
    #[error("cannot manage {family} {name}: {error}")]
    NoZone {
        name: DomainName,
        family: Family,
        error: ZoneError,
    },
    #[error("cannot check {family} {name}: listing the records of zone {zone} failed: {error}")]
    ListFailed {
        name: DomainName,
        family: Family,
        zone: String,
        error: ApiError,
    },
    #[error("{} (zone {zone})", refusal.describe(name, families))]
    Refused {
        name: DomainName,
        families: Vec<Family>,
        zone: String,
        refusal: Refusal,
    },
    #[error("{}", describe_write(action, zone, error))]
    Write {
        zone: String,
        action: Action,
        error: ApiError,
    },
    #[error("cannot manage {} {name}: {error}", families_text(families))]
    TokenUnreadable {
        name: DomainName,
        families: Vec<Family>,
        error: std::sync::Arc<crate::config::ConfigError>,
    },
}

/// What the neighbour table holds for a MAC, as a clause.
fn held_text(held: &[String]) -> String {
    if held.is_empty() {
        "it holds no entry for that MAC".to_string()
    } else {
        format!("it holds {}", held.join(", "))
    }
}

fn families_text(families: &[Family]) -> String {
    let names: Vec<String> = families.iter().map(ToString::to_string).collect();
    names.join("/")
}

/// The kind of a failure, without its details: two cycles failing the same record in the
/// same way are one problem, however the details (a time, a count) differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureKind {
    NoAddress,
    NoPrefix,
    NoNeighbour,
    NoZone,
    ListFailed,
    Refused,
    WriteFailed,
    Unconfirmed,
    TokenUnreadable,
}

impl RecordFailure {
    /// The kind, for "the same problem as last cycle".
    pub fn kind(&self) -> FailureKind {
        match self {
            RecordFailure::NoAddress { .. } => FailureKind::NoAddress,
            RecordFailure::NoPrefix { .. } => FailureKind::NoPrefix,
            RecordFailure::NoNeighbour { .. } | RecordFailure::NeighbourTable { .. } => {
                FailureKind::NoNeighbour
            }
            RecordFailure::NoZone { .. } => FailureKind::NoZone,
            RecordFailure::ListFailed { .. } => FailureKind::ListFailed,
            RecordFailure::Refused { .. } => FailureKind::Refused,
            RecordFailure::Write { error, .. } if error.maybe_applied() => FailureKind::Unconfirmed,
            RecordFailure::Write { .. } => FailureKind::WriteFailed,
            RecordFailure::TokenUnreadable { .. } => FailureKind::TokenUnreadable,
        }
    }
}

/// How a LAN host's address was made: `host` in the /64 of `base`, from `source` (for
/// `neigh:`, the neighbour table's address of that MAC in the prefix of `base`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Derivation {
    pub name: DomainName,
    pub address: IpAddr,
    pub host: crate::prefix::HostId,
    /// `iface:lan0`, or the detected IPv6 address.
    pub source: super::desired::PrefixSource,
    pub base: IpAddr,
}

impl fmt::Display for Derivation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host {
            crate::prefix::HostId::Neighbour(_) => write!(
                f,
                "{} AAAA {} = the address the neighbour table shows for {} in the prefix of {} ({})",
                self.name, self.address, self.host, self.base, self.source
            ),
            _ => write!(
                f,
                "{} AAAA {} = the /64 of {} ({}) + {}",
                self.name, self.address, self.base, self.source, self.host
            ),
        }
    }
}

/// What happened to one WAF list.
#[derive(Clone, Debug)]
pub enum ListState {
    InSync,
    Changed {
        added: Vec<String>,
        removed: Vec<String>,
    },
    /// A dry run planned this change (`created`: the list itself is missing).
    WouldChange {
        added: Vec<String>,
        removed: Vec<String>,
        created: bool,
    },
    Failed(ListFailure),
}

/// Why a WAF list could not be kept current. `Display` is the sentence, with the fix.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ListFailure {
    #[error(
        "cannot keep WAF list {name} (account {account}) current: {step} failed: {error}{}",
        hint(error)
    )]
    Api {
        account: String,
        name: String,
        /// "reading the lists", "creating the list", "reading its items", "adding items", "removing items".
        step: &'static str,
        error: ApiError,
    },
    #[error("cannot keep WAF list {name} (account {account}) current: {error}")]
    TokenUnreadable {
        account: String,
        name: String,
        error: std::sync::Arc<crate::config::ConfigError>,
    },
}

fn hint(error: &ApiError) -> &'static str {
    match error {
        ApiError::Auth { .. } => {
            "; the token needs the permission Account → Account Filter Lists → Edit on this account"
        }
        ApiError::Api { status: 404, .. } => "; check the account id in [[waf_lists]]",
        _ => "",
    }
}

/// One WAF list's line of the report.
#[derive(Clone, Debug)]
pub struct ListReport {
    pub account: String,
    pub name: String,
    /// This host's items the list should hold.
    pub items: Vec<String>,
    pub state: ListState,
}

/// A problem of the whole cycle rather than of one record.
#[derive(Clone, Debug, thiserror::Error)]
pub enum CycleProblem {
    #[error("{0}")]
    Detect(DetectError),
    #[error("the cycle did not finish within {} ([daemon].cycle_timeout) and was abandoned; a batch in flight is atomic at Cloudflare, so nothing is half-applied; the next cycle checks again", humantime::format_duration(*timeout))]
    Abandoned { timeout: Duration },
}

/// What "the same problem" means across cycles: which record (or family, or the cycle) and
/// what kind of failure, never the sentence.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProblemKey {
    Detection(Family),
    Abandoned,
    List {
        account: String,
        name: String,
    },
    Record {
        name: DomainName,
        families: Vec<Family>,
        kind: FailureKind,
    },
}

/// One managed record's line of the report.
#[derive(Clone, Debug)]
pub struct RecordReport {
    pub name: DomainName,
    pub families: Vec<Family>,
    /// The zone, once it was known.
    pub zone: Option<String>,
    pub state: RecordState,
    /// Per family, the content the record holds (in sync) or was (or would be) set to; empty
    /// when it failed. For a LAN host this is the derived address, not this host's own.
    pub contents: BTreeMap<Family, IpAddr>,
}

/// Everything a cycle did, assembled once at its end.
#[derive(Clone, Debug, Default)]
pub struct CycleReport {
    /// This host's address per family, as detected.
    pub addresses: BTreeMap<Family, IpAddr>,
    pub problems: Vec<CycleProblem>,
    /// Sorted by name, then families.
    pub records: Vec<RecordReport>,
    /// The WAF lists, in config order.
    pub lists: Vec<ListReport>,
    /// How each LAN host's address was derived (`ipv6_host`).
    pub derived: Vec<Derivation>,
    /// API requests spent per zone name (listing and writes; the zone list is not a zone's).
    pub zone_requests: BTreeMap<String, u32>,
    pub api_requests: u32,
    /// API requests by "METHOD STATUS" (status 0: no answer).
    pub requests_by_status: BTreeMap<crate::cloudflare::RequestKind, u64>,
    /// The smallest number of requests any token's hourly budget still allows.
    pub budget_remaining: Option<u32>,
    pub dry_run: bool,
}

/// How many records ended in each state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub in_sync: usize,
    pub changed: usize,
    pub failed: usize,
    pub refused: usize,
}

impl CycleReport {
    /// True when every managed record is in sync (or, in a dry run, was planned).
    pub fn success(&self) -> bool {
        self.problems.is_empty()
            && self.failures().next().is_none()
            && !self
                .lists
                .iter()
                .any(|list| matches!(list.state, ListState::Failed(_)))
    }

    /// Every record failure, with its record.
    pub fn failures(&self) -> impl Iterator<Item = (&RecordReport, &RecordFailure)> {
        self.records
            .iter()
            .filter_map(|record| match &record.state {
                RecordState::Failed(failure) => Some((record, failure)),
                _ => None,
            })
    }

    /// Every problem of this cycle with its key, cycle-wide ones first.
    pub fn keyed_problems(&self) -> Vec<(ProblemKey, String)> {
        let cycle = self.problems.iter().map(|problem| {
            let key = match problem {
                CycleProblem::Detect(error) => ProblemKey::Detection(error.family),
                CycleProblem::Abandoned { .. } => ProblemKey::Abandoned,
            };
            (key, problem.to_string())
        });
        let records = self.failures().map(|(record, failure)| {
            let key = ProblemKey::Record {
                name: record.name.clone(),
                families: record.families.clone(),
                kind: failure.kind(),
            };
            (key, failure.to_string())
        });
        let lists = self.lists.iter().filter_map(|list| match &list.state {
            ListState::Failed(failure) => Some((
                ProblemKey::List {
                    account: list.account.clone(),
                    name: list.name.clone(),
                },
                failure.to_string(),
            )),
            _ => None,
        });
        cycle.chain(records).chain(lists).collect()
    }

    /// How many records ended in each state (a planned change counts as changed).
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for record in &self.records {
            match &record.state {
                RecordState::InSync => counts.in_sync += 1,
                RecordState::Changed(_) | RecordState::WouldChange(_) => counts.changed += 1,
                RecordState::Failed(RecordFailure::Refused { .. }) => counts.refused += 1,
                RecordState::Failed(_) => counts.failed += 1,
            }
        }
        counts
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} in sync, {} changed, {} failed",
            self.in_sync,
            self.changed,
            self.failed + self.refused
        )
    }
}

/// "failed to update A home.example.com in zone example.com: …; next step".
fn describe_write(action: &Action, zone: &str, error: &ApiError) -> String {
    let what = match action {
        Action::Create(new) => format!("create {} {}", new.family, new.name),
        Action::Update { family, name, .. } => format!("update {family} {name}"),
        Action::ReplaceCname { name, target, .. } => format!("replace the CNAME {name} → {target}"),
    };
    if error.maybe_applied() {
        return format!("could not confirm the {what} in zone {zone}: {error}; the change may or may not have been applied, and the next cycle will check again");
    }
    let next = match error {
        ApiError::Api { status, .. } if *status < 500 => "; nothing at this name was changed: fix the record in the Cloudflare dashboard or the config, then run again",
        _ => "",
    };
    format!("failed to {what} in zone {zone}: {error}{next}")
}
