//! Doctor's view of the neighbour table for `ipv6_host = "neigh:MAC"`: one finding per
//! configured MAC saying what the table holds for it, read from the same dump the cycle
//! uses (`cycle::prefix_sources`). Which address a record gets is judged with the record
//! (`records.rs`, through `cycle::record_address`); here is only what the table shows.

use std::collections::BTreeMap;

use super::{finding, Finding, Status};
use crate::config::{Config, RecordConfig};
use crate::cycle::{record_address, PrefixSources};
use crate::detect::{neigh, Answer};
use crate::model::Family;

/// One finding per `neigh:` MAC: what the table holds for it, and the address each of its
/// records gets (or the record's failure).
pub(super) fn neighbour_findings(
    config: &Config,
    addresses: &BTreeMap<Family, Answer>,
    sources: &PrefixSources,
) -> Vec<Finding> {
    let macs = config.neighbour_macs();
    let mut findings = Vec::new();
    for mac in &macs {
        let shown = crate::prefix::format_mac(mac);
        let check = format!("neighbour {shown}");
        let records: Vec<&RecordConfig> = config
            .records
            .iter()
            .filter(|record| record.ipv6_host == Some(crate::prefix::HostId::Neighbour(*mac)))
            .collect();
        let table = match &sources.neighbours {
            Some(Ok(table)) => table,
            Some(Err(error)) => {
                findings.push(finding(
                    &check,
                    Status::Problem,
                    format!(
                        "{error}, so {} cannot be published",
                        records
                            .iter()
                            .map(|record| record.name.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    None,
                ));
                continue;
            }
            None => continue,
        };
        let mut entries = neigh::of_mac(table, mac);
        entries.sort_by_key(|entry| (entry.address, entry.index));
        let held: Vec<String> = entries.iter().map(|entry| neigh::describe(entry)).collect();
        let held = if held.is_empty() {
            "nothing".to_string()
        } else {
            held.join(", ")
        };
        // The cycle's own judge says which address each record gets, or why none.
        let mut status = Status::Ok;
        let mut found = format!("the neighbour table holds for {shown}: {held}");
        for record in records {
            match record_address(record, Family::V6, addresses, sources, &[]) {
                Ok((address, _)) => found.push_str(&format!("; {} gets {address}", record.name)),
                Err(failure) => {
                    status = Status::Problem;
                    found = failure.to_string();
                    break;
                }
            }
        }
        findings.push(finding(&check, status, found, None));
    }
    findings
}
