//! The WAF IP list that keeps the story's skip rule true: a Cloudflare list (account level,
//! kind `ip`) that holds this host's current addresses, each as a prefix. The planner here is
//! pure and tested by table, like the records planner: the items this host should have
//! against the items the list holds gives what to add and what to remove. Only items carrying
//! flaredns's comment are ever removed; an address someone else already put in the list is
//! not added again; a family whose address is unknown this cycle keeps its items.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::model::Family;
pub use crate::state::remembered::AddedItem;

/// An item as the list holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldItem {
    pub id: String,
    /// As Cloudflare returns it: a bare address for /32 and /128, else `network/length`.
    pub ip: String,
    pub comment: Option<String>,
}

/// What to do to one list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPlan {
    /// Items to add (normalised text), with flaredns's comment.
    pub add: Vec<String>,
    /// flaredns's items to remove.
    pub remove: Vec<HeldItem>,
    /// What the list will hold of this host's addresses afterwards.
    pub desired: Vec<String>,
}

impl ListPlan {
    /// True when nothing is to be written.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

/// An address as a list item of the given prefix length, normalised as Cloudflare stores it:
/// the bare address for a full-length prefix, else the network with its host bits cleared.
pub fn item_for(address: IpAddr, prefix: u8) -> String {
    match address {
        IpAddr::V4(v4) => {
            let prefix = prefix.min(32);
            if prefix == 32 {
                return v4.to_string();
            }
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            format!(
                "{}/{prefix}",
                std::net::Ipv4Addr::from(u32::from(v4) & mask)
            )
        }
        IpAddr::V6(v6) => {
            let prefix = prefix.min(128);
            if prefix == 128 {
                return v6.to_string();
            }
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            format!(
                "{}/{prefix}",
                std::net::Ipv6Addr::from(u128::from(v6) & mask)
            )
        }
    }
}

/// An item's text in the normal form (`item_for`), or `None` when it is not an IP item.
pub fn normalise(text: &str) -> Option<(Family, String)> {
    let (address, prefix) = match text.trim().split_once('/') {
        Some((address, prefix)) => (address.parse::<IpAddr>().ok()?, prefix.parse::<u8>().ok()?),
        None => {
            let address: IpAddr = text.trim().parse().ok()?;
            let full = if address.is_ipv4() { 32 } else { 128 };
            (address, full)
        }
    };
    Some((Family::of(address), item_for(address, prefix)))
}

/// What one list should hold this cycle: per family whose address is known, the item
/// (`desired`), and the families whose items may be judged and removed (`judged`: known this
/// cycle, or turned off in `[detect]`, whose items then go).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Wanted {
    pub desired: BTreeMap<Family, String>,
    pub judged: Vec<Family>,
}

/// The items a list with these prefix lengths should hold for `addresses`, when the families
/// in `enabled` are turned on in `[detect]`. The cycle and doctor both ask this.
pub fn wanted_items(
    ipv4_prefix: u8,
    ipv6_prefix: u8,
    addresses: &BTreeMap<Family, IpAddr>,
    enabled: &[Family],
) -> Wanted {
    let desired: BTreeMap<Family, String> = addresses
        .iter()
        .filter(|(family, _)| enabled.contains(family))
        .map(|(family, address)| {
            let prefix = match family {
                Family::V4 => ipv4_prefix,
                Family::V6 => ipv6_prefix,
            };
            (*family, item_for(*address, prefix))
        })
        .collect();
    let judged = [Family::V4, Family::V6]
        .into_iter()
        .filter(|family| desired.contains_key(family) || !enabled.contains(family))
        .collect();
    Wanted { desired, judged }
}

/// Why a list found under the configured name cannot be this host's skip list: it is of
/// another kind than `ip` (an ASN or hostname list). `None` when it can.
pub fn kind_problem(name: &str, kind: &str) -> Option<String> {
    (kind != "ip").then(|| {
        format!("list {name} is of kind {kind}, not ip; name another list in [[waf_lists]], or delete this one")
    })
}

/// Which held items are this host's: those carrying its `comment`, and those it remembers
/// having added with the comment they still carry (`added`), so that after a `comment`
/// change the items added under the old one still go when the address moves on, while an
/// item someone else put at the same address, under their own comment, is never touched.
#[derive(Clone, Copy, Debug)]
pub struct Ownership<'a> {
    pub comment: &'a str,
    pub added: &'a [AddedItem],
}

impl Ownership<'_> {
    /// True when `item` (whose normal form is `normal`) is this host's.
    fn owns(&self, item: &HeldItem, normal: &str) -> bool {
        let comment = item.comment.as_deref().unwrap_or_default();
        comment == self.comment
            || self
                .added
                .iter()
                .any(|added| added.ip == normal && added.comment == comment)
    }
}

/// Plans one list. `desired` holds, per family whose address is known this cycle, the item it
/// should have; `judged` are the families whose items may be removed (known this cycle, or
/// turned off in `[detect]`); `ownership` tells this host's items from everyone else's.
pub fn plan_items(
    desired: &BTreeMap<Family, String>,
    judged: &[Family],
    held: &[HeldItem],
    ownership: Ownership<'_>,
) -> ListPlan {
    let held_normal: Vec<(Option<(Family, String)>, &HeldItem)> = held
        .iter()
        .map(|item| (normalise(&item.ip), item))
        .collect();
    let mut plan = ListPlan::default();
    for wanted in desired.values() {
        let present = held_normal
            .iter()
            .any(|(normal, _)| normal.as_ref().is_some_and(|(_, text)| text == wanted));
        if !present {
            plan.add.push(wanted.clone());
        }
        plan.desired.push(wanted.clone());
    }
    for (normal, item) in &held_normal {
        let Some((family, text)) = normal else {
            continue;
        };
        if ownership.owns(item, text)
            && judged.contains(family)
            && desired.get(family) != Some(text)
        {
            plan.remove.push((*item).clone());
        }
    }
    plan.add.sort();
    plan.remove.sort_by(|a, b| a.ip.cmp(&b.ip));
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(id: &str, ip: &str, comment: Option<&str>) -> HeldItem {
        HeldItem {
            id: id.to_string(),
            ip: ip.to_string(),
            comment: comment.map(str::to_string),
        }
    }

    fn desired(items: &[(Family, &str)]) -> BTreeMap<Family, String> {
        items
            .iter()
            .map(|(family, text)| (*family, text.to_string()))
            .collect()
    }

    #[test]
    fn items_are_normalised_as_cloudflare_stores_them() {
        let v4: IpAddr = "81.23.45.99".parse().expect("ip");
        let v6: IpAddr = "2a01:4f8:c0c:1234:abcd::1".parse().expect("ip");
        assert_eq!(item_for(v4, 32), "81.23.45.99");
        assert_eq!(item_for(v4, 24), "81.23.45.0/24");
        assert_eq!(item_for(v6, 64), "2a01:4f8:c0c:1234::/64");
        assert_eq!(item_for(v6, 128), "2a01:4f8:c0c:1234:abcd::1");
        assert_eq!(
            normalise("81.23.45.99/32").map(|(_, t)| t),
            Some("81.23.45.99".to_string())
        );
        assert_eq!(
            normalise("2a01:4f8:c0c:1234:0::/64").map(|(_, t)| t),
            Some("2a01:4f8:c0c:1234::/64".to_string())
        );
        assert_eq!(normalise("not an ip"), None);
    }

    /// A table row: label, desired items, judged families, held items, to add, ids to remove.
    type Case<'a> = (
        &'static str,
        BTreeMap<Family, String>,
        &'a [Family],
        Vec<HeldItem>,
        Vec<&'static str>,
        Vec<&'static str>,
    );

    #[test]
    fn table() {
        let v4 = Family::V4;
        let v6 = Family::V6;
        let both = [v4, v6];
        let only_v4 = [v4];
        let cases: Vec<Case> = vec![
            (
                "empty list: add both",
                desired(&[(v4, "81.23.45.99"), (v6, "2a01::/64")]),
                &both,
                vec![],
                vec!["2a01::/64", "81.23.45.99"],
                vec![],
            ),
            (
                "in sync",
                desired(&[(v4, "81.23.45.99")]),
                &both,
                vec![held("i1", "81.23.45.99", Some("flaredns"))],
                vec![],
                vec![],
            ),
            (
                "address changed: swap ours only",
                desired(&[(v4, "81.23.45.77")]),
                &both,
                vec![
                    held("i1", "81.23.45.99", Some("flaredns")),
                    held("i2", "9.9.9.9", Some("office")),
                ],
                vec!["81.23.45.77"],
                vec!["i1"],
            ),
            (
                "a foreign item already holds it: not added again",
                desired(&[(v4, "81.23.45.99")]),
                &both,
                vec![held("i2", "81.23.45.99", None)],
                vec![],
                vec![],
            ),
            (
                "detection failed for IPv6: its item stays",
                desired(&[(v4, "81.23.45.99")]),
                &only_v4,
                vec![
                    held("i1", "81.23.45.99", Some("flaredns")),
                    held("i6", "2a01::/64", Some("flaredns")),
                ],
                vec![],
                vec![],
            ),
            (
                "IPv6 turned off: its item goes",
                desired(&[(v4, "81.23.45.99")]),
                &both,
                vec![
                    held("i1", "81.23.45.99", Some("flaredns")),
                    held("i6", "2a01::/64", Some("flaredns")),
                ],
                vec![],
                vec!["i6"],
            ),
            (
                "comment changed: the item added under the old one still goes",
                desired(&[(v4, "81.23.45.77")]),
                &both,
                vec![
                    held("i1", "81.23.45.99", Some("old-comment")),
                    held("i2", "9.9.9.9", Some("old-comment")),
                ],
                vec!["81.23.45.77"],
                vec!["i1"],
            ),
            (
                "someone else's item at this host's old address stays",
                desired(&[(v4, "81.23.45.77")]),
                &both,
                vec![held("i1", "81.23.45.99", Some("office"))],
                vec!["81.23.45.77"],
                vec![],
            ),
            (
                "Cloudflare's /32 form matches",
                desired(&[(v4, "81.23.45.99")]),
                &both,
                vec![held("i1", "81.23.45.99/32", Some("flaredns"))],
                vec![],
                vec![],
            ),
        ];
        for (label, desired, judged, held, add, remove) in cases {
            let added = [AddedItem {
                ip: "81.23.45.99".to_string(),
                comment: "old-comment".to_string(),
            }];
            let ownership = Ownership {
                comment: "flaredns",
                added: &added,
            };
            let plan = plan_items(&desired, judged, &held, ownership);
            assert_eq!(plan.add, add, "{label}");
            let removed: Vec<&str> = plan.remove.iter().map(|item| item.id.as_str()).collect();
            assert_eq!(removed, remove, "{label}");
        }
    }
}
