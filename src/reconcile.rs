//! What the remembered records allow without a listing: the pure decision between "in sync
//! from memory" (no request) and "list first". It is the planner again, with the memory as
//! the observed records, plus the rules of trust: "in sync" is believed only while the memory
//! is younger than the reconcile interval, no re-read was asked for (daemon start, SIGUSR1),
//! DNS does not contradict it and `[check] nameservers = "api"` is not set (api mode compares
//! through the API every cycle).
//!
//! **Invariant:** memory may decide that nothing needs doing; it never decides what to write.
//! Any change (an update, a create, a CNAME replacement) or refusal lists the zone first, so
//! every write names an id that Cloudflare showed in the same cycle for the managed name and
//! type. A record renamed in the dashboard keeps its id, and PATCH has no precondition: a
//! write to a remembered id could overwrite the renamed record.

use std::time::Duration;

use crate::model::{DesiredRecord, ObservedRecord};
use crate::plan::{self, Outcome, Plan};
use crate::state::remembered::is_fresh;

/// What the memory decides for one zone's pending records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FromMemory {
    /// Every record is in sync with a fresh memory: no request.
    InSync(Plan),
    /// The zone must be listed first.
    List(ListReason),
}

/// Why the zone must be listed (for the debug log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListReason {
    NothingRemembered,
    /// The reconcile interval has passed (or the memory is from the future).
    ReconcileDue,
    /// A daemon start or SIGUSR1 asked for a re-read.
    Forced,
    /// A record must be written (updated, created, a CNAME replaced) or was refused: only a
    /// listing of this cycle may decide what to write.
    NeedsListing,
    /// DNS answered something else than the memory says: the memory is wrong.
    DnsDisagrees,
    /// `[check] nameservers = "api"`: the API is the only judge, every cycle.
    ApiMode,
}

/// The rules of trust in memory (see the module comment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trust {
    pub now: u64,
    pub reconcile: Duration,
    pub forced: bool,
    /// `[check] nameservers = "api"`: memory is never believed.
    pub api_mode: bool,
    /// DNS answered, and not what a record in sync would answer: "in sync" from memory is
    /// not believed. (A proxied record's DNS is silent: only Cloudflare's addresses.)
    pub dns_contradicts: bool,
}

/// Decides from `remembered` (listed at, records) what the pending `desired` records need.
pub fn from_memory(
    desired: &[DesiredRecord],
    remembered: Option<(u64, &[ObservedRecord])>,
    trust: Trust,
) -> FromMemory {
    let Some((listed_at, records)) = remembered else {
        return FromMemory::List(ListReason::NothingRemembered);
    };
    let plan = plan::plan(desired, records);
    let all_in_sync = plan
        .steps
        .iter()
        .all(|step| step.outcome == Outcome::InSync);
    if !all_in_sync {
        return FromMemory::List(ListReason::NeedsListing);
    }
    if trust.api_mode {
        FromMemory::List(ListReason::ApiMode)
    } else if trust.forced {
        FromMemory::List(ListReason::Forced)
    } else if trust.dns_contradicts {
        FromMemory::List(ListReason::DnsDisagrees)
    } else if !is_fresh(listed_at, trust.now, trust.reconcile) {
        FromMemory::List(ListReason::ReconcileDue)
    } else {
        FromMemory::InSync(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DomainName, Family, ProxiedSetting, TtlSetting};

    const HOUR: Duration = Duration::from_secs(3600);
    const NOW: u64 = 1_800_000_000;

    fn desired(host: &str, content: &str) -> DesiredRecord {
        DesiredRecord {
            name: DomainName::parse(host).expect("name"),
            family: Family::V4,
            content: content.parse().expect("ip"),
            proxied: ProxiedSetting::Keep,
            ttl: TtlSetting::Keep,
            comment: None,
            replace_cname: false,
        }
    }

    fn held(host: &str, content: &str) -> ObservedRecord {
        ObservedRecord {
            id: format!("id-{host}"),
            name: DomainName::parse(host).expect("name"),
            record_type: "A".to_string(),
            content: content.to_string(),
            proxied: true,
            ttl: 1,
            comment: None,
        }
    }

    fn trust(forced: bool, api_mode: bool) -> Trust {
        Trust {
            now: NOW,
            reconcile: HOUR,
            forced,
            api_mode,
            dns_contradicts: false,
        }
    }

    fn contradicted() -> Trust {
        Trust {
            dns_contradicts: true,
            ..trust(false, false)
        }
    }

    /// A table row: label, desired, remembered (listed at, records), trust, expected decision.
    type Case = (
        &'static str,
        Vec<DesiredRecord>,
        Option<(u64, Vec<ObservedRecord>)>,
        Trust,
        &'static str,
    );

    fn kind(decision: &FromMemory) -> String {
        match decision {
            FromMemory::InSync(_) => "in sync".to_string(),
            FromMemory::List(reason) => format!("list {reason:?}"),
        }
    }

    #[test]
    fn table() {
        let a = "a.example.com";
        let b = "b.example.com";
        let new = "81.23.45.99";
        let old = "81.23.45.10";
        let minute_ago = NOW - 60;
        let two_hours_ago = NOW - 7200;
        let cases: Vec<Case> = vec![
            (
                "nothing remembered",
                vec![desired(a, new)],
                None,
                trust(false, false),
                "list NothingRemembered",
            ),
            (
                "fresh and in sync: no request",
                vec![desired(a, new)],
                Some((minute_ago, vec![held(a, new)])),
                trust(false, false),
                "in sync",
            ),
            (
                "reconcile due",
                vec![desired(a, new)],
                Some((two_hours_ago, vec![held(a, new)])),
                trust(false, false),
                "list ReconcileDue",
            ),
            (
                "daemon start or SIGUSR1",
                vec![desired(a, new)],
                Some((minute_ago, vec![held(a, new)])),
                trust(true, false),
                "list Forced",
            ),
            (
                "memory from the future",
                vec![desired(a, new)],
                Some((NOW + 999, vec![held(a, new)])),
                trust(false, false),
                "list ReconcileDue",
            ),
            (
                "changed address: memory never chooses the id to write",
                vec![desired(a, new), desired(b, new)],
                Some((minute_ago, vec![held(a, old), held(b, old)])),
                trust(false, false),
                "list NeedsListing",
            ),
            (
                "changed address, old memory: list",
                vec![desired(a, new)],
                Some((two_hours_ago, vec![held(a, old)])),
                trust(false, false),
                "list NeedsListing",
            ),
            (
                "a hand edit is trusted until reconcile",
                vec![desired(a, new)],
                Some((minute_ago, vec![held(a, new)])),
                trust(false, false),
                "in sync",
            ),
            (
                "one update beside one stale in-sync: list",
                vec![desired(a, new), desired(b, new)],
                Some((two_hours_ago, vec![held(a, old), held(b, new)])),
                trust(false, false),
                "list NeedsListing",
            ),
            (
                "a create needs a listing",
                vec![desired(a, new)],
                Some((minute_ago, vec![])),
                trust(false, false),
                "list NeedsListing",
            ),
            (
                "DNS answers another address than memory holds",
                vec![desired(a, new)],
                Some((minute_ago, vec![held(a, new)])),
                contradicted(),
                "list DnsDisagrees",
            ),
            (
                "DNS disagrees and the memory wants an update: list",
                vec![desired(a, new)],
                Some((minute_ago, vec![held(a, old)])),
                contradicted(),
                "list NeedsListing",
            ),
            (
                "api mode never believes memory",
                vec![desired(a, new)],
                Some((minute_ago, vec![held(a, new)])),
                trust(false, true),
                "list ApiMode",
            ),
        ];
        for (label, desired, remembered, trust, expect) in cases {
            let decision = from_memory(
                &desired,
                remembered
                    .as_ref()
                    .map(|(at, records)| (*at, records.as_slice())),
                trust,
            );
            assert_eq!(kind(&decision), expect, "{label}");
        }
    }
}
