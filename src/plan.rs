//! The planner: desired records against observed records, giving the actions that bring them
//! in line. It is a pure function (no I/O, no async, no clock), so every rule of "what may
//! flaredns touch" lives here and is tested by table. It only ever names records it manages:
//! a record of another type or name never appears in an action, and a CNAME at a managed name
//! is replaced only when the user opted in with `replace_cname`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use crate::model::{DesiredRecord, DomainName, Family, ObservedRecord, ProxiedSetting, TTL_AUTO};

/// A record to create, with every field decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRecord {
    pub name: DomainName,
    pub family: Family,
    pub content: IpAddr,
    pub proxied: bool,
    pub ttl: u32,
    pub comment: Option<String>,
}

/// One change. `Update` carries only the fields to send in a PATCH: Cloudflare keeps the rest
/// (comment, tags, and proxied/ttl unless pinned).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Create(NewRecord),
    Update {
        id: String,
        name: DomainName,
        family: Family,
        old_content: String,
        content: IpAddr,
        old_proxied: bool,
        proxied: Option<bool>,
        old_ttl: u32,
        ttl: Option<u32>,
    },
    /// Delete the CNAME and create address records at the same name, in one batch.
    ReplaceCname {
        cname_id: String,
        name: DomainName,
        target: String,
        creates: Vec<NewRecord>,
    },
}

/// Why the planner will not act on a record. These are the user's decisions to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A CNAME sits at the managed name and `replace_cname` is off.
    CnameAtName { target: String },
    /// Several records of the managed type sit at the name and none is clearly ours.
    Ambiguous { contents: Vec<String> },
}

/// What the planner decided for one managed name (and, except for a CNAME replacement, one family).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    InSync,
    Change(Action),
    Refused(Refusal),
}

/// One line of the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub name: DomainName,
    pub families: Vec<Family>,
    pub outcome: Outcome,
}

/// The whole plan for a set of desired records, sorted by name then family.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
}

impl Plan {
    /// The actions, in plan order.
    pub fn actions(&self) -> impl Iterator<Item = &Action> {
        self.steps.iter().filter_map(|step| match &step.outcome {
            Outcome::Change(action) => Some(action),
            _ => None,
        })
    }

    /// True when nothing needs to change and nothing was refused.
    pub fn is_in_sync(&self) -> bool {
        self.steps
            .iter()
            .all(|step| step.outcome == Outcome::InSync)
    }
}

/// Plans the changes that make `observed` match `desired`. `observed` may hold any records of
/// the zone; only those at desired names are looked at.
pub fn plan(desired: &[DesiredRecord], observed: &[ObservedRecord]) -> Plan {
    let mut by_name: BTreeMap<&DomainName, Vec<&DesiredRecord>> = BTreeMap::new();
    for record in desired {
        by_name.entry(&record.name).or_default().push(record);
    }
    let mut steps = Vec::new();
    for (name, mut wanted) in by_name {
        wanted.sort_by_key(|record| record.family);
        let here: Vec<&ObservedRecord> = observed
            .iter()
            .filter(|record| &record.name == name)
            .collect();
        plan_name(name, &wanted, &here, &mut steps);
    }
    Plan { steps }
}

fn plan_name(
    name: &DomainName,
    wanted: &[&DesiredRecord],
    here: &[&ObservedRecord],
    steps: &mut Vec<Step>,
) {
    if let Some(cname) = here
        .iter()
        .find(|record| record.record_type.eq_ignore_ascii_case("CNAME"))
    {
        if wanted.iter().all(|record| record.replace_cname) {
            let creates = wanted
                .iter()
                .map(|record| NewRecord {
                    name: name.clone(),
                    family: record.family,
                    content: record.content,
                    proxied: match record.proxied {
                        ProxiedSetting::Set(value) => value,
                        ProxiedSetting::Keep => cname.proxied,
                    },
                    ttl: record.ttl.pinned().unwrap_or(cname.ttl),
                    comment: record.comment.clone(),
                })
                .collect();
            steps.push(Step {
                name: name.clone(),
                families: wanted.iter().map(|record| record.family).collect(),
                outcome: Outcome::Change(Action::ReplaceCname {
                    cname_id: cname.id.clone(),
                    name: name.clone(),
                    target: cname.content.trim_end_matches('.').to_string(),
                    creates,
                }),
            });
        } else {
            for record in wanted {
                steps.push(Step {
                    name: name.clone(),
                    families: vec![record.family],
                    outcome: Outcome::Refused(Refusal::CnameAtName {
                        target: cname.content.trim_end_matches('.').to_string(),
                    }),
                });
            }
        }
        return;
    }
    for record in wanted {
        let same_type: Vec<&ObservedRecord> = here
            .iter()
            .copied()
            .filter(|observed| {
                observed
                    .record_type
                    .eq_ignore_ascii_case(record.family.record_type())
            })
            .collect();
        steps.push(Step {
            name: name.clone(),
            families: vec![record.family],
            outcome: plan_record(record, &same_type),
        });
    }
}

fn plan_record(desired: &DesiredRecord, same_type: &[&ObservedRecord]) -> Outcome {
    if same_type.is_empty() {
        return Outcome::Change(Action::Create(NewRecord {
            name: desired.name.clone(),
            family: desired.family,
            content: desired.content,
            proxied: matches!(desired.proxied, ProxiedSetting::Set(true)),
            ttl: desired.ttl.pinned().unwrap_or(TTL_AUTO),
            comment: desired.comment.clone(),
        }));
    }
    // Which existing record is ours: one that already holds the address, else the only one,
    // else the one carrying our comment. Anything else would be a guess.
    let holds_address = |observed: &&&ObservedRecord| {
        observed.content.parse::<IpAddr>().ok() == Some(desired.content)
    };
    let ours = same_type
        .iter()
        .find(holds_address)
        .or_else(|| {
            if same_type.len() == 1 {
                same_type.first()
            } else {
                None
            }
        })
        .or_else(|| {
            let comment = desired.comment.as_deref()?;
            let mut carrying = same_type
                .iter()
                .filter(|observed| observed.comment.as_deref() == Some(comment));
            match (carrying.next(), carrying.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            }
        });
    let Some(observed) = ours else {
        return Outcome::Refused(Refusal::Ambiguous {
            contents: same_type
                .iter()
                .map(|observed| observed.content.clone())
                .collect(),
        });
    };
    let content_differs = observed.content.parse::<IpAddr>().ok() != Some(desired.content);
    let proxied = match desired.proxied {
        ProxiedSetting::Set(value) if value != observed.proxied => Some(value),
        _ => None,
    };
    let ttl = desired.ttl.pinned().filter(|&ttl| ttl != observed.ttl);
    if !content_differs && proxied.is_none() && ttl.is_none() {
        return Outcome::InSync;
    }
    Outcome::Change(Action::Update {
        id: observed.id.clone(),
        name: desired.name.clone(),
        family: desired.family,
        old_content: observed.content.clone(),
        content: desired.content,
        old_proxied: observed.proxied,
        proxied,
        old_ttl: observed.ttl,
        ttl,
    })
}

fn ttl_text(ttl: u32) -> String {
    if ttl == TTL_AUTO {
        "auto".to_string()
    } else {
        format!("{ttl}s")
    }
}

impl Action {
    /// The managed name this action concerns.
    pub fn name(&self) -> &DomainName {
        match self {
            Action::Create(new) => &new.name,
            Action::Update { name, .. } | Action::ReplaceCname { name, .. } => name,
        }
    }

    /// The verb shown in plans: create, update or replace-cname.
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Create(_) => "create",
            Action::Update { .. } => "update",
            Action::ReplaceCname { .. } => "replace-cname",
        }
    }

    /// The verb in the past tense, for logs.
    pub fn done(&self) -> &'static str {
        match self {
            Action::Create(_) => "created",
            Action::Update { .. } => "updated",
            Action::ReplaceCname { .. } => "replaced CNAME",
        }
    }

    /// How many changes this action puts into a batch.
    pub fn batch_size(&self) -> usize {
        match self {
            Action::Create(_) | Action::Update { .. } => 1,
            Action::ReplaceCname { creates, .. } => 1 + creates.len(),
        }
    }
}

impl fmt::Display for Action {
    /// One line: record, type, old → new, and what else changes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Create(new) => {
                write!(
                    f,
                    "{} {}: (none) → {} (proxied {}, ttl {}",
                    new.name,
                    new.family,
                    new.content,
                    new.proxied,
                    ttl_text(new.ttl)
                )?;
                if let Some(comment) = &new.comment {
                    write!(f, ", comment \"{comment}\"")?;
                }
                f.write_str(")")
            }
            Action::Update {
                name,
                family,
                old_content,
                content,
                old_proxied,
                proxied,
                old_ttl,
                ttl,
                ..
            } => {
                write!(f, "{name} {family}: {old_content} → {content}")?;
                match (proxied, ttl) {
                    (Some(proxied), Some(ttl)) => write!(
                        f,
                        " (proxied {old_proxied} → {proxied}, ttl {} → {})",
                        ttl_text(*old_ttl),
                        ttl_text(*ttl)
                    ),
                    (Some(proxied), None) => write!(f, " (proxied {old_proxied} → {proxied})"),
                    (None, Some(ttl)) => {
                        write!(f, " (ttl {} → {})", ttl_text(*old_ttl), ttl_text(*ttl))
                    }
                    (None, None) => Ok(()),
                }
            }
            Action::ReplaceCname {
                name,
                target,
                creates,
                ..
            } => {
                write!(f, "{name}: replace CNAME → {target} with")?;
                for (index, new) in creates.iter().enumerate() {
                    let separator = if index == 0 { " " } else { " and " };
                    write!(f, "{separator}{} {}", new.family, new.content)?;
                }
                Ok(())
            }
        }
    }
}

impl Refusal {
    /// A sentence naming the record, the cause and the next step.
    pub fn describe(&self, name: &DomainName, families: &[Family]) -> String {
        let types: Vec<&str> = families.iter().map(|family| family.record_type()).collect();
        let types = types.join("/");
        match self {
            Refusal::CnameAtName { target } => format!(
                "{name} is a CNAME to {target}, so flaredns will not add {types} records beside it; \
                 set `replace_cname = true` on this record to replace the CNAME with {types} records in one atomic batch, \
                 or delete the CNAME yourself"
            ),
            Refusal::Ambiguous { contents } => format!(
                "{name} has {} {types} records ({}) and none holds this host's address, so flaredns cannot tell which one it manages; \
                 delete the extra records, or set the managed one's comment to this record's `comment`",
                contents.len(),
                contents.join(", ")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TtlSetting;

    const NEW_V4: &str = "81.23.45.99";
    const OLD_V4: &str = "81.23.45.10";

    fn name(text: &str) -> DomainName {
        DomainName::parse(text).expect("valid test name")
    }

    fn desired(host: &str, content: &str) -> DesiredRecord {
        let content: IpAddr = content.parse().expect("valid test address");
        DesiredRecord {
            name: name(host),
            family: Family::of(content),
            content,
            proxied: ProxiedSetting::Keep,
            ttl: TtlSetting::Keep,
            comment: Some("managed by flaredns".to_string()),
            replace_cname: false,
        }
    }

    fn observed(id: &str, host: &str, record_type: &str, content: &str) -> ObservedRecord {
        ObservedRecord {
            id: id.to_string(),
            name: name(host),
            record_type: record_type.to_string(),
            content: content.to_string(),
            proxied: false,
            ttl: 300,
            comment: None,
        }
    }

    fn update(id: &str, host: &str, old: &str, new: &str) -> Outcome {
        let content: IpAddr = new.parse().expect("valid");
        Outcome::Change(Action::Update {
            id: id.to_string(),
            name: name(host),
            family: Family::of(content),
            old_content: old.to_string(),
            content,
            old_proxied: false,
            proxied: None,
            old_ttl: 300,
            ttl: None,
        })
    }

    /// A table row: label, desired, observed, expected outcomes.
    type Case = (
        &'static str,
        Vec<DesiredRecord>,
        Vec<ObservedRecord>,
        Vec<Outcome>,
    );

    /// Plans and compares the outcomes, in plan order.
    fn check(desired: &[DesiredRecord], observed: &[ObservedRecord], expect: &[Outcome]) {
        let plan = plan(desired, observed);
        let outcomes: Vec<Outcome> = plan.steps.into_iter().map(|step| step.outcome).collect();
        assert_eq!(outcomes, expect);
    }

    #[test]
    fn table() {
        let h = "home.example.com";
        let mut proxied_true = desired(h, NEW_V4);
        proxied_true.proxied = ProxiedSetting::Set(true);
        let mut ttl_pinned = desired(h, NEW_V4);
        ttl_pinned.ttl = TtlSetting::Seconds(120);
        let mut proxied_observed = observed("r1", h, "A", OLD_V4);
        proxied_observed.proxied = true;
        let cases: Vec<Case> = vec![
            (
                "in sync",
                vec![desired(h, NEW_V4)],
                vec![observed("r1", h, "A", NEW_V4)],
                vec![Outcome::InSync],
            ),
            (
                "content differs: update only content",
                vec![desired(h, NEW_V4)],
                vec![observed("r1", h, "A", OLD_V4)],
                vec![update("r1", h, OLD_V4, NEW_V4)],
            ),
            (
                "missing: create with comment, unproxied, ttl auto",
                vec![desired(h, NEW_V4)],
                vec![observed("t1", h, "TXT", "hello")],
                vec![Outcome::Change(Action::Create(NewRecord {
                    name: name(h),
                    family: Family::V4,
                    content: NEW_V4.parse().expect("valid"),
                    proxied: false,
                    ttl: TTL_AUTO,
                    comment: Some("managed by flaredns".to_string()),
                }))],
            ),
            (
                "proxied kept as it is: the update leaves it out",
                vec![desired(h, NEW_V4)],
                vec![proxied_observed.clone()],
                vec![Outcome::Change(Action::Update {
                    id: "r1".into(),
                    name: name(h),
                    family: Family::V4,
                    old_content: OLD_V4.into(),
                    content: NEW_V4.parse().expect("valid"),
                    old_proxied: true,
                    proxied: None,
                    old_ttl: 300,
                    ttl: None,
                })],
            ),
            (
                "proxied pinned on a record in sync: update only proxied",
                vec![proxied_true],
                vec![observed("r1", h, "A", NEW_V4)],
                vec![Outcome::Change(Action::Update {
                    id: "r1".into(),
                    name: name(h),
                    family: Family::V4,
                    old_content: NEW_V4.into(),
                    content: NEW_V4.parse().expect("valid"),
                    old_proxied: false,
                    proxied: Some(true),
                    old_ttl: 300,
                    ttl: None,
                })],
            ),
            (
                "ttl pinned differs",
                vec![ttl_pinned],
                vec![observed("r1", h, "A", NEW_V4)],
                vec![Outcome::Change(Action::Update {
                    id: "r1".into(),
                    name: name(h),
                    family: Family::V4,
                    old_content: NEW_V4.into(),
                    content: NEW_V4.parse().expect("valid"),
                    old_proxied: false,
                    proxied: None,
                    old_ttl: 300,
                    ttl: Some(120),
                })],
            ),
            (
                "a second A set by hand is left alone when ours holds the address",
                vec![desired(h, NEW_V4)],
                vec![
                    observed("r1", h, "A", "9.9.9.9"),
                    observed("r2", h, "A", NEW_V4),
                ],
                vec![Outcome::InSync],
            ),
            (
                "two A records, none ours: refused, nothing touched",
                vec![desired(h, NEW_V4)],
                vec![
                    observed("r1", h, "A", "9.9.9.9"),
                    observed("r2", h, "A", OLD_V4),
                ],
                vec![Outcome::Refused(Refusal::Ambiguous {
                    contents: vec!["9.9.9.9".into(), OLD_V4.into()],
                })],
            ),
            (
                "records at other names and types are never planned",
                vec![desired(h, NEW_V4)],
                vec![
                    observed("r1", "other.example.com", "A", OLD_V4),
                    observed("r2", h, "AAAA", "2001:db8::1"),
                    observed("r3", h, "A", NEW_V4),
                ],
                vec![Outcome::InSync],
            ),
            (
                "CNAME without opt-in: refused with its target",
                vec![desired(h, NEW_V4)],
                vec![observed("c1", h, "CNAME", "myhome.duckdns.org")],
                vec![Outcome::Refused(Refusal::CnameAtName {
                    target: "myhome.duckdns.org".into(),
                })],
            ),
            (
                "IPv6 compared as addresses, not text",
                vec![desired(h, "2a01:4f8::1")],
                vec![observed("r1", h, "AAAA", "2a01:04f8:0000::0001")],
                vec![Outcome::InSync],
            ),
        ];
        for (label, desired, observed, expect) in cases {
            eprintln!("case: {label}");
            check(&desired, &observed, &expect);
        }
    }

    #[test]
    fn two_a_records_pick_the_one_with_our_comment() {
        let h = "home.example.com";
        let mut ours = observed("r2", h, "A", OLD_V4);
        ours.comment = Some("managed by flaredns".to_string());
        check(
            &[desired(h, NEW_V4)],
            &[observed("r1", h, "A", "9.9.9.9"), ours],
            &[update("r2", h, OLD_V4, NEW_V4)],
        );
    }

    #[test]
    fn cname_replacement_covers_both_families_and_carries_settings_over() {
        let h = "home.example.com";
        let mut v4 = desired(h, NEW_V4);
        v4.replace_cname = true;
        let mut v6 = desired(h, "2a01:4f8::1");
        v6.replace_cname = true;
        let mut cname = observed("c1", h, "CNAME", "myhome.duckdns.org.");
        cname.proxied = true;
        cname.ttl = 1;
        let plan = plan(&[v6, v4], &[cname, observed("t1", h, "TXT", "v=spf1")]);
        assert_eq!(plan.steps.len(), 1);
        let Outcome::Change(Action::ReplaceCname {
            cname_id,
            target,
            creates,
            ..
        }) = &plan.steps[0].outcome
        else {
            panic!("expected a replacement, got {:?}", plan.steps[0].outcome);
        };
        assert_eq!(cname_id, "c1");
        assert_eq!(target, "myhome.duckdns.org");
        assert_eq!(
            creates.iter().map(|new| new.family).collect::<Vec<_>>(),
            vec![Family::V4, Family::V6]
        );
        assert!(creates.iter().all(|new| new.proxied && new.ttl == 1));
        assert_eq!(
            plan.steps[0].outcome.to_string_for_test(),
            "home.example.com: replace CNAME → myhome.duckdns.org with A 81.23.45.99 and AAAA 2a01:4f8::1"
        );
    }

    #[test]
    fn plan_is_sorted_by_name_then_family() {
        let plan = plan(
            &[
                desired("b.example.com", "2a01:4f8::1"),
                desired("b.example.com", NEW_V4),
                desired("a.example.com", NEW_V4),
            ],
            &[],
        );
        let order: Vec<(String, Vec<Family>)> = plan
            .steps
            .iter()
            .map(|step| (step.name.to_string(), step.families.clone()))
            .collect();
        assert_eq!(
            order,
            vec![
                ("a.example.com".into(), vec![Family::V4]),
                ("b.example.com".into(), vec![Family::V4]),
                ("b.example.com".into(), vec![Family::V6])
            ]
        );
    }

    impl Outcome {
        fn to_string_for_test(&self) -> String {
            match self {
                Outcome::Change(action) => action.to_string(),
                other => format!("{other:?}"),
            }
        }
    }
}
