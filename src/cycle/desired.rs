//! The desired records: this host's address of each family, or a LAN host's address derived
//! from a prefix (`ipv6_host`), or found by its MAC in the kernel's neighbour table
//! (`neigh:`). Pure but for asking the `ipv6_prefix_from` providers and the neighbour table
//! once; the cycle and doctor both use it, so they cannot disagree on what a record should
//! hold.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};

use crate::config::{Config, RecordConfig};
use crate::detect::neigh::{self, NeighbourError, NeighbourTable};
use crate::detect::{Answer, Detector, Provider, ProviderFailure};
use crate::model::{DesiredRecord, Family};
use crate::prefix::HostId;

use super::{Derivation, RecordFailure};

/// What each `ipv6_prefix_from` provider answered this cycle (asked once each), and the
/// neighbour table's entries for the `neigh:` MACs (read once; `None` when no record names
/// one).
#[derive(Clone, Debug, Default)]
pub struct PrefixSources {
    pub providers: Vec<(Provider, Result<Answer, ProviderFailure>)>,
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
                .map(|(_, answer)| answer.clone().map_err(|failure| failure.to_string()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::netlink::NeighbourAction;
    use crate::detect::netlink::NeighbourMessage;

    const MAC: [u8; 6] = [2, 0x11, 0x22, 0x33, 0x44, 0x55];

    fn entry(address: &str, state: u16, mac: [u8; 6]) -> NeighbourMessage {
        NeighbourMessage {
            action: NeighbourAction::New,
            index: 999_999,
            state,
            address: Some(address.parse().expect("ip")),
            mac: Some(mac),
        }
    }

    /// The address chosen for a `neigh:` record from `entries`, with `published` held now.
    fn choose(entries: Vec<NeighbourMessage>, published: &[&str]) -> Result<String, String> {
        let record = RecordConfig {
            name: crate::model::DomainName::parse("cam.example.com").expect("name"),
            zone: None,
            families: vec![Family::V6],
            proxied: crate::model::ProxiedSetting::Keep,
            ttl: crate::model::TtlSetting::Keep,
            comment: None,
            replace_cname: false,
            token: 0,
            ipv6_host: Some(HostId::Neighbour(MAC)),
            ipv6_prefix_from: None,
        };
        let addresses = BTreeMap::from([(
            Family::V6,
            Answer::bare("2a01:4f8:c0c:1234::1".parse().expect("ip")),
        )]);
        let sources = PrefixSources {
            providers: Vec::new(),
            neighbours: Some(Ok(NeighbourTable {
                entries,
                left_out: 0,
            })),
        };
        let published: Vec<IpAddr> = published
            .iter()
            .map(|text| text.parse().expect("ip"))
            .collect();
        record_address(&record, Family::V6, &addresses, &sources, &published)
            .map(|(address, _)| address.to_string())
            .map_err(|failure| failure.to_string())
    }

    #[test]
    fn a_neigh_record_keeps_the_published_address_else_takes_the_lowest() {
        let (reachable, stale, failed, incomplete) = (0x02, 0x04, 0x20, 0x01);
        let other = [2, 0x66, 0x77, 0x88, 0x99, 0xaa];
        let table = || {
            vec![
                entry("2a01:4f8:c0c:1234:abcd::9", stale, MAC),
                entry("2a01:4f8:c0c:1234:abcd::5", reachable, MAC),
                entry("2a01:4f8:c0c:1234::2", reachable, other),
                entry("2a01:4f8:c0c:1234::3", failed, MAC),
                entry("2a01:4f8:c0c:1234::4", incomplete, MAC),
                entry("2a01:4f8:c0c:9999::1", reachable, MAC),
                entry("fe80::1", reachable, MAC),
            ]
        };
        assert_eq!(
            choose(table(), &[]).as_deref(),
            Ok("2a01:4f8:c0c:1234:abcd::5")
        );
        assert_eq!(
            choose(table(), &["2a01:4f8:c0c:1234:abcd::9"]).as_deref(),
            Ok("2a01:4f8:c0c:1234:abcd::9"),
            "the published address stays while the table shows it"
        );
        assert_eq!(
            choose(table(), &["2a01:4f8:c0c:1234::3"]).as_deref(),
            Ok("2a01:4f8:c0c:1234:abcd::5"),
            "a failed entry is no candidate, published or not"
        );
        let gone = choose(table().into_iter().skip(2).collect(), &[]).expect_err("gone");
        assert!(
            gone.contains("holds no usable address of 02:11:22:33:44:55 in 2a01:4f8:c0c:1234::/64")
                && gone.contains("2a01:4f8:c0c:1234::3 on #999999 (failed)"),
            "{gone}"
        );
        let nothing = choose(Vec::new(), &[]).expect_err("nothing");
        assert!(
            nothing.contains("it holds no entry for that MAC"),
            "{nothing}"
        );
    }
}
