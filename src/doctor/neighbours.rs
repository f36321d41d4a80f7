//! Doctor's view of the neighbour table for `ipv6_host = "neigh:MAC"`: one finding per
//! configured MAC saying what the table holds for it, read from the same dump the cycle
//! uses (`cycle::prefix_sources`). Which address a record gets is judged with the record
//! (`records.rs`, through `cycle::record_address`); here is only what the table shows.

use super::{finding, Finding, Status};
use crate::config::Config;
use crate::cycle::PrefixSources;
use crate::detect::neigh;

/// One finding per `neigh:` MAC.
pub(super) fn neighbour_findings(config: &Config, sources: &PrefixSources) -> Vec<Finding> {
    let macs = config.neighbour_macs();
    let mut findings = Vec::new();
    for mac in &macs {
        let shown = crate::prefix::format_mac(mac);
        let check = format!("neighbour {shown}");
        let records: Vec<String> = config
            .records
            .iter()
            .filter(|record| record.ipv6_host == Some(crate::prefix::HostId::Neighbour(*mac)))
            .map(|record| record.name.to_string())
            .collect();
        let table = match &sources.neighbours {
            Some(Ok(table)) => table,
            Some(Err(error)) => {
                findings.push(finding(
                    &check,
                    Status::Problem,
                    format!("{error}, so {} cannot be published", records.join(", ")),
                    None,
                ));
                continue;
            }
            None => continue,
        };
        let entries = neigh::of_mac(table, mac);
        let usable: Vec<String> = entries
            .iter()
            .filter(|entry| {
                neigh::usable_address(entry).is_some_and(|address| {
                    crate::detect::filter::publishable(address.into()).is_ok()
                })
            })
            .map(|entry| neigh::describe(entry))
            .collect();
        let held: Vec<String> = entries.iter().map(|entry| neigh::describe(entry)).collect();
        let fix = "make sure the device is on and has talked to this host lately (`ping -6 ff02::1%IFACE` wakes the table), and that the MAC is the one it uses on this LAN";
        let (status, found, fix) = if entries.is_empty() {
            (
                Status::Problem,
                format!(
                    "the neighbour table holds no entry for {shown} (used by {})",
                    records.join(", ")
                ),
                Some(fix),
            )
        } else if usable.is_empty() {
            (
                Status::Problem,
                format!(
                    "the neighbour table holds no usable global address for {shown} (used by {}): {}",
                    records.join(", "),
                    held.join(", ")
                ),
                Some(fix),
            )
        } else {
            (
                Status::Ok,
                format!("the neighbour table holds for {shown}: {}", held.join(", ")),
                None,
            )
        };
        findings.push(finding(&check, status, found, fix));
    }
    findings
}
