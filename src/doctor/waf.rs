//! Doctor's view of each WAF list: can the token read it, does it hold this host's addresses,
//! and does a custom firewall rule in a managed zone use it (`$name` in an expression). When
//! none does, it prints the skip rule to add and where.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::{finding, Finding, Status};
use crate::cloudflare::ApiCycle;
use crate::config::{Config, WafListConfig};
use crate::model::{Family, Zone};
use crate::state::remembered::{self, list_key, Remembered};
use crate::state::StateDir;
use crate::waf::{kind_problem, plan_items, wanted_items, ListPlan, Ownership, Wanted};

/// One finding per list about the list, and one about the rules using it.
pub(super) async fn list_findings(
    config: &Config,
    apis: &[ApiCycle<'_>],
    addresses: &BTreeMap<Family, IpAddr>,
    zones: &[(usize, Zone)],
) -> Vec<Finding> {
    let mut findings = Vec::new();
    // What the cycle remembers having added, read only: doctor judges with the same
    // ownership as the cycle and writes nothing.
    let memory: Remembered = config
        .state_dir
        .as_deref()
        .and_then(|dir| StateDir::read_only(dir).read_json::<Remembered>(remembered::FILE))
        .and_then(Remembered::checked)
        .unwrap_or_default();
    let enabled: Vec<Family> = [Family::V4, Family::V6]
        .into_iter()
        .filter(|family| !config.detect.providers(*family).is_empty())
        .collect();
    for list in &config.waf_lists {
        let api = &apis[list.token];
        let check = format!("waf list {}", list.name);
        let wanted = wanted_items(list.ipv4_prefix, list.ipv6_prefix, addresses, &enabled);
        let fingerprint = config.tokens[list.token].token.fingerprint();
        let added = memory.added_items(&list_key(&fingerprint, list));
        findings.push(list_finding(list, api, &wanted, added, &check).await);
        findings.push(rule_finding(list, apis, zones, &check).await);
    }
    findings
}

/// Whether the token can read the list, whether it is an ip list, and what it lacks.
async fn list_finding(
    list: &WafListConfig,
    api: &ApiCycle<'_>,
    wanted: &Wanted,
    added: &[crate::waf::AddedItem],
    check: &str,
) -> Finding {
    let lists = match api.lists(&list.account).await {
        Ok(lists) => lists,
        Err(error) => {
            return finding(
                check,
                Status::Problem,
                format!("the token cannot read the lists of account {}: {error}", list.account),
                Some("give the token Account → Account Filter Lists → Edit on this account, and check the account id"),
            )
        }
    };
    let Some(found) = lists.iter().find(|found| found.name == list.name) else {
        return finding(
            check,
            Status::Warning,
            format!("account {} has no list {} yet; the next run creates it (kind ip) and fills it", list.account, list.name),
            Some("run `flaredns --once`, or let the daemon do it (the token needs Account Filter Lists: Edit)"),
        );
    };
    if let Some(problem) = kind_problem(&list.name, &found.kind) {
        return finding(
            check,
            Status::Problem,
            format!("{problem}; flaredns refuses to fill it"),
            Some("set another `name` in [[waf_lists]] (flaredns creates it as an ip list)"),
        );
    }
    let held = match api.list_items(&list.account, &found.id).await {
        Ok(held) => held,
        Err(error) => {
            return finding(
                check,
                Status::Problem,
                format!("cannot read the items of {}: {error}", list.name),
                Some("give the token Account Filter Lists: Edit"),
            )
        }
    };
    let ownership = Ownership {
        comment: &list.comment,
        added,
    };
    let plan = plan_items(&wanted.desired, &wanted.judged, &held, ownership);
    plan_finding(list, &plan, check)
}

/// The list planner's verdict, in words: this host's old addresses to remove, its addresses
/// to add, or in sync.
fn plan_finding(list: &WafListConfig, plan: &ListPlan, check: &str) -> Finding {
    let shown = |items: &[String]| items.join(", ");
    let stale: Vec<String> = plan.remove.iter().map(|item| item.ip.clone()).collect();
    if !stale.is_empty() {
        return finding(
            check,
            Status::Warning,
            format!(
                "list {} still holds this host's old {}; the next run removes it{}",
                list.name,
                shown(&stale),
                if plan.add.is_empty() {
                    String::new()
                } else {
                    format!(" and adds {}", shown(&plan.add))
                }
            ),
            Some("run `flaredns --once`, or let the daemon do it"),
        );
    }
    if plan.add.is_empty() {
        finding(
            check,
            Status::Ok,
            format!(
                "the token can read list {} (account {}), and it holds this host's {}",
                list.name,
                list.account,
                shown(&plan.desired)
            ),
            None,
        )
    } else {
        finding(
            check,
            Status::Warning,
            format!("list {} does not hold {} yet; the next run adds it (editing needs Account Filter Lists: Edit)", list.name, shown(&plan.add)),
            Some("run `flaredns --once`, or let the daemon do it"),
        )
    }
}

/// Whether an enabled skip rule in a managed zone uses the list.
async fn rule_finding(
    list: &WafListConfig,
    apis: &[ApiCycle<'_>],
    zones: &[(usize, Zone)],
    check: &str,
) -> Finding {
    let reference = format!("${}", list.name);
    let mut using = Vec::new();
    let mut unreadable = Vec::new();
    for (token, zone) in zones {
        match apis[*token].firewall_rules(&zone.id).await {
            Ok(rules) => {
                if rules.iter().any(|rule| {
                    rule.enabled
                        && rule.action == "skip"
                        && names_list(&rule.expression, &reference)
                }) {
                    using.push(zone.name.clone());
                }
            }
            Err(error) => unreadable.push(format!("{} ({error})", zone.name)),
        }
    }
    if zones.is_empty() {
        return finding(
            check,
            Status::Warning,
            format!(
                "no managed zone could be read, so whether a rule uses {reference} was not checked"
            ),
            Some("fix the token or zone problems above, then run doctor again"),
        );
    }
    if !using.is_empty() {
        return finding(
            check,
            Status::Ok,
            format!(
                "a WAF custom rule (action skip) uses {reference} in zone {}",
                using.join(", ")
            ),
            None,
        );
    }
    let unread = if unreadable.is_empty() {
        String::new()
    } else {
        format!(
            " (rules of {} could not be read: the token may lack Zone WAF: Read)",
            unreadable.join(", ")
        )
    };
    finding(
        check,
        Status::Warning,
        format!("no WAF custom rule in the managed zones uses {reference}{unread}, so the list changes nothing yet"),
        Some(&format!("add a skip rule: dashboard → your zone → Security → WAF → Custom rules → Create rule; expression `(ip.src in {reference})`, action Skip (all remaining custom rules, and the security features that challenge this host); it stays true as flaredns keeps the list current")),
    )
}

/// True when `expression` names the list `reference` (`$home_ips`) as a whole word, not as
/// the start of another list's name (`$home_ips_old`).
fn names_list(expression: &str, reference: &str) -> bool {
    expression.match_indices(reference).any(|(at, _)| {
        expression[at + reference.len()..]
            .chars()
            .next()
            .is_none_or(|next| !(next.is_ascii_alphanumeric() || next == '_'))
    })
}

#[cfg(test)]
mod tests {
    use super::names_list;

    #[test]
    fn a_rule_names_the_list_only_as_a_whole_word() {
        assert!(names_list("(ip.src in $home_ips)", "$home_ips"));
        assert!(names_list("ip.src in $home_ips", "$home_ips"));
        assert!(!names_list("(ip.src in $home_ips_old)", "$home_ips"));
        assert!(!names_list("(ip.src in $other)", "$home_ips"));
    }
}
