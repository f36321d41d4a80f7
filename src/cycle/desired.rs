//! The desired records: this host's address of each family, or a LAN host's address derived
//! from a prefix (`ipv6_host`), or found by its MAC in the kernel's neighbour table
//! (`neigh:`). Pure but for asking the `ipv6_prefix_from` providers and the neighbour table
//! once; the cycle and doctor both use it, so they cannot disagree on what a record should
//! hold.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};

use crate::config::{Config, RecordConfig};
use crate::detect::neigh::{self, NeighbourError, NeighbourTable};
use crate::detect::{Answer, Detector, Provider};
use crate::model::{DesiredRecord, Family};
use crate::prefix::HostId;

use super::{Derivation, RecordFailure};

/// What each `ipv6_prefix_from` provider answered this cycle (asked once each), and the
/// neighbour table's entries for the `neigh:` MACs (read once; `None` when no record names
/// one).
#[derive(Clone, Debug, Default)]
pub struct PrefixSources {
    pub providers: Vec<(Provider, Result<Answer, String>)>,
    pub neighbours: Option<Result<NeighbourTable, NeighbourError>>,
}

/// Asks every `ipv6_prefix_from` provider once, before the publishable filter (the derived
/// address is filtered instead), and reads the neighbour table when a record names a MAC.
pub async fn prefix_sources(config: &Config, detector: &Detector) -> PrefixSources {
    let mut sources = PrefixSources::default();
    for provider in config
        .records
        .iter()
        .filter_map(|record| record.ipv6_prefix_from.as_ref())
    {
        if !sources.providers.iter().any(|(asked, _)| asked == provider) {
            let answer = detector.ask_unfiltered(Family::V6, provider).await;
            sources.providers.push((provider.clone(), answer));
        }
    }
    let macs = config.neighbour_macs();
    if !macs.is_empty() {
        sources.neighbours = Some(neigh::table(&|entry| {
            entry.mac.is_some_and(|mac| macs.contains(&mac))
        }));
    }
    sources
}

/// The address a record should hold: the detected one of its family, or, for a LAN host
/// (`ipv6_host`), its interface id in the /64 of the detected IPv6 address or of its
/// `ipv6_prefix_from` source (then with how it was derived), or for `neigh:` the address the
/// neighbour table shows for the MAC in that prefix (see `neighbour_address`). A prefix
/// longer than /64 (a /80 LAN, a /128 PPPoE address) derives nothing. `published`: what the
/// record holds now, as far as this host knows (memory, or doctor's listing). Nothing
/// non-global is returned.
pub fn record_address(
    record: &RecordConfig,
    family: Family,
    addresses: &BTreeMap<Family, Answer>,
    sources: &PrefixSources,
    published: &[IpAddr],
) -> Result<(IpAddr, Option<Derivation>), Box<RecordFailure>> {
    let Some(host) = record.ipv6_host else {
        return addresses
            .get(&family)
            .map(|answer| (answer.ip, None))
            .ok_or_else(|| {
                Box::new(RecordFailure::NoAddress {
                    name: record.name.clone(),
                    family,
                })
            });
    };
    let no_prefix = |reason: String| {
        Box::new(RecordFailure::NoPrefix {
            name: record.name.clone(),
            reason,
        })
    };
    let (source, base) = match &record.ipv6_prefix_from {
        Some(provider) => {
            let answer = sources
                .providers
                .iter()
                .find(|(asked, _)| asked == provider)
                .map(|(_, answer)| answer.clone())
                .unwrap_or_else(|| Err("was not asked".to_string()));
            (
                provider.to_string(),
                answer.map_err(|reason| no_prefix(format!("{provider} {reason}")))?,
            )
        }
        None => match addresses.get(&Family::V6) {
            Some(answer) => ("the detected IPv6 address".to_string(), *answer),
            None => {
                return Err(no_prefix(
                    "this host's IPv6 address is unknown (see the detection error)".to_string(),
                ))
            }
        },
    };
    let IpAddr::V6(base_v6) = base.ip else {
        return Err(no_prefix(format!(
            "{source} gave {}, which is not IPv6",
            base.ip
        )));
    };
    if let HostId::Neighbour(mac) = host {
        let prefix = Prefix {
            base: base_v6,
            length: base.prefix_len,
            source: &source,
        };
        let address = neighbour_address(record, mac, &prefix, sources, published)?;
        return Ok((
            IpAddr::V6(address),
            Some(Derivation {
                name: record.name.clone(),
                address: IpAddr::V6(address),
                host,
                source,
                base: base.ip,
            }),
        ));
    }
    let address = crate::prefix::derive(base_v6, base.prefix_len, host)
        .map_err(|error| no_prefix(format!("{source}: {error}")))?;
    let address = IpAddr::V6(address);
    crate::detect::filter::publishable(address).map_err(|reason| {
        no_prefix(format!(
            "{address} (from {base_v6} of {source}) is not publishable: {reason}"
        ))
    })?;
    Ok((
        address,
        Some(Derivation {
            name: record.name.clone(),
            address,
            host,
            source,
            base: base.ip,
        }),
    ))
}

/// The prefix a LAN host's address must lie in, and where it came from.
struct Prefix<'a> {
    base: Ipv6Addr,
    length: Option<u8>,
    source: &'a str,
}

/// The address of `mac` for a `neigh:` record: among the table's usable entries (reachable,
/// stale, delay, probe, permanent, no-ARP) of that MAC, those inside the prefix and
/// publishable are the candidates. The one `published` names stays while the table still
/// shows it, so a device with several addresses does not make the record flap; otherwise the
/// numerically lowest candidate, so every run on the same table chooses the same address.
fn neighbour_address(
    record: &RecordConfig,
    mac: [u8; 6],
    prefix: &Prefix<'_>,
    sources: &PrefixSources,
    published: &[IpAddr],
) -> Result<Ipv6Addr, Box<RecordFailure>> {
    let table = match &sources.neighbours {
        Some(Ok(table)) => table,
        Some(Err(error)) => {
            return Err(Box::new(RecordFailure::NeighbourTable {
                name: record.name.clone(),
                error: error.clone(),
            }))
        }
        None => {
            return Err(Box::new(RecordFailure::NeighbourTable {
                name: record.name.clone(),
                error: NeighbourError::Read("it was not read this cycle".to_string()),
            }))
        }
    };
    let mut entries = neigh::of_mac(table, &mac);
    entries.sort_by_key(|entry| (entry.address, entry.index));
    let mut candidates = Vec::new();
    for entry in &entries {
        let Some(address) = neigh::usable_address(entry) else {
            continue;
        };
        let inside =
            crate::prefix::contains(prefix.base, prefix.length, address).map_err(|error| {
                Box::new(RecordFailure::NoPrefix {
                    name: record.name.clone(),
                    reason: format!("{}: {error}", prefix.source),
                })
            })?;
        if inside && crate::detect::filter::publishable(IpAddr::V6(address)).is_ok() {
            candidates.push(address);
        }
    }
    candidates.sort();
    candidates.dedup();
    let kept = candidates
        .iter()
        .find(|candidate| published.contains(&IpAddr::V6(**candidate)));
    kept.or(candidates.first()).copied().ok_or_else(|| {
        Box::new(RecordFailure::NoNeighbour {
            name: record.name.clone(),
            mac: crate::prefix::format_mac(&mac),
            prefix: format!(
                "{} ({})",
                crate::prefix::describe_prefix(prefix.base, prefix.length),
                prefix.source
            ),
            held: entries.iter().map(|entry| neigh::describe(entry)).collect(),
        })
    })
}

/// The desired record for one config entry and family at this host's address.
pub fn desired_record(record: &RecordConfig, family: Family, content: IpAddr) -> DesiredRecord {
    DesiredRecord {
        name: record.name.clone(),
        family,
        content,
        proxied: record.proxied,
        ttl: record.ttl,
        comment: record.comment.clone(),
        replace_cname: record.replace_cname,
    }
}
