//! The desired records: this host's address of each family, or a LAN host's address derived
//! from a prefix (`ipv6_host`), or found by its MAC in the kernel's neighbour table
//! (`neigh:`). Pure but for asking the `ipv6_prefix_from` providers and the neighbour table
//! once; the cycle and doctor both use it, so they cannot disagree on what a record should
//! hold.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};

use crate::config::{Config, RecordConfig};
use crate::detect::filter::Refusal;
use crate::detect::neigh::{self, NeighbourError, NeighbourTable};
use crate::detect::{Answer, Attempt, Detector, Provider, ProviderFailure};
use crate::model::{DesiredRecord, Family};
use crate::prefix::{HostId, PrefixError};

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

/// Where a LAN host's prefix comes from: the record's `ipv6_prefix_from` provider, or this
/// host's detected IPv6 address. `Display` is the phrase for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrefixSource {
    Detected,
    Provider(Provider),
}

impl std::fmt::Display for PrefixSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrefixSource::Detected => f.write_str("the detected IPv6 address"),
            PrefixSource::Provider(provider) => write!(f, "{provider}"),
        }
    }
}

/// Why a LAN host's address could not be derived from a prefix. `Display` is the phrase
/// after "no IPv6 prefix to derive it from: ".
#[derive(Clone, Debug, thiserror::Error)]
pub enum PrefixProblem {
    /// The record's `ipv6_prefix_from` provider was not among those asked this cycle.
    #[error("{provider} was not asked")]
    NotAsked { provider: Provider },
    /// The `ipv6_prefix_from` provider gave no address.
    #[error("{0}")]
    Provider(Attempt),
    #[error("this host's IPv6 address is unknown (see the detection error)")]
    NoDetectedIpv6,
    #[error("{origin} gave {address}, which is not IPv6")]
    NotIpv6 {
        origin: PrefixSource,
        address: IpAddr,
    },
    /// The prefix leaves no room for a host id (longer than /64).
    #[error("{origin}: {error}")]
    Prefix {
        origin: PrefixSource,
        error: PrefixError,
    },
    #[error("{address} (from {base} of {origin}) is not publishable: {reason}")]
    NotPublishable {
        address: Ipv6Addr,
        base: Ipv6Addr,
        origin: PrefixSource,
        reason: Refusal,
    },
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
    let no_prefix = |problem: Box<PrefixProblem>| {
        Box::new(RecordFailure::NoPrefix {
            name: record.name.clone(),
            problem,
        })
    };
    let (origin, base) = prefix_base(record, addresses, sources).map_err(no_prefix)?;
    let IpAddr::V6(base_v6) = base.ip else {
        return Err(no_prefix(Box::new(PrefixProblem::NotIpv6 {
            origin,
            address: base.ip,
        })));
    };
    let address = if let HostId::Neighbour(mac) = host {
        let prefix = Prefix {
            base: base_v6,
            length: base.prefix_len,
            origin: &origin,
        };
        neighbour_address(record, mac, &prefix, sources, published)?
    } else {
        let address = crate::prefix::derive(base_v6, base.prefix_len, host).map_err(|error| {
            no_prefix(Box::new(PrefixProblem::Prefix {
                origin: origin.clone(),
                error,
            }))
        })?;
        crate::detect::filter::publishable(IpAddr::V6(address)).map_err(|reason| {
            no_prefix(Box::new(PrefixProblem::NotPublishable {
                address,
                base: base_v6,
                origin: origin.clone(),
                reason,
            }))
        })?;
        address
    };
    let address = IpAddr::V6(address);
    Ok((
        address,
        Some(Derivation {
            name: record.name.clone(),
            address,
            host,
            source: origin,
            base: base.ip,
        }),
    ))
}

/// What a LAN host's prefix is taken from, and its answer: the record's `ipv6_prefix_from`
/// provider (asked once this cycle, in `sources`), else this host's detected IPv6 address.
fn prefix_base(
    record: &RecordConfig,
    addresses: &BTreeMap<Family, Answer>,
    sources: &PrefixSources,
) -> Result<(PrefixSource, Answer), Box<PrefixProblem>> {
    let Some(provider) = &record.ipv6_prefix_from else {
        return addresses
            .get(&Family::V6)
            .map(|answer| (PrefixSource::Detected, *answer))
            .ok_or(Box::new(PrefixProblem::NoDetectedIpv6));
    };
    let (_, answer) = sources
        .providers
        .iter()
        .find(|(asked, _)| asked == provider)
        .ok_or_else(|| {
            Box::new(PrefixProblem::NotAsked {
                provider: provider.clone(),
            })
        })?;
    let answer = answer.clone().map_err(|failure| {
        Box::new(PrefixProblem::Provider(Attempt {
            provider: provider.clone(),
            failure,
        }))
    })?;
    Ok((PrefixSource::Provider(provider.clone()), answer))
}

/// The prefix a LAN host's address must lie in, and where it came from.
struct Prefix<'a> {
    base: Ipv6Addr,
    length: Option<u8>,
    origin: &'a PrefixSource,
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
                    problem: Box::new(PrefixProblem::Prefix {
                        origin: prefix.origin.clone(),
                        error,
                    }),
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
                prefix.origin
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

    /// A LAN host's record: `host` in the prefix of `from`, else of the detected address.
    fn lan_record(host: HostId, from: Option<&str>) -> RecordConfig {
        RecordConfig {
            name: crate::model::DomainName::parse("cam.example.com").expect("name"),
            zone: None,
            families: vec![Family::V6],
            proxied: crate::model::ProxiedSetting::Keep,
            ttl: crate::model::TtlSetting::Keep,
            comment: None,
            replace_cname: false,
            token: 0,
            ipv6_host: Some(host),
            ipv6_prefix_from: from.map(|text| Provider::parse(text).expect("provider")),
        }
    }

    /// The address chosen for a `neigh:` record from `entries`, with `published` held now.
    fn choose(
        entries: Vec<NeighbourMessage>,
        published: &[&str],
    ) -> Result<String, Box<RecordFailure>> {
        let record = lan_record(HostId::Neighbour(MAC), None);
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
    }

    /// Why a `::10` host has no address, for a record whose prefix comes from `from` (else
    /// the detected address), with these answers.
    fn refusal(
        from: Option<&str>,
        detected: Option<Answer>,
        asked: Option<Result<Answer, ProviderFailure>>,
    ) -> PrefixProblem {
        let record = lan_record(HostId::Suffix(0x10), from);
        let addresses: BTreeMap<Family, Answer> = detected
            .map(|answer| (Family::V6, answer))
            .into_iter()
            .collect();
        let sources = PrefixSources {
            providers: asked
                .into_iter()
                .filter_map(|answer| Some((record.ipv6_prefix_from.clone()?, answer)))
                .collect(),
            neighbours: None,
        };
        match record_address(&record, Family::V6, &addresses, &sources, &[]).map_err(|f| *f) {
            Err(RecordFailure::NoPrefix { problem, .. }) => *problem,
            other => panic!("expected no prefix, got {other:?}"),
        }
    }

    #[test]
    fn a_lan_host_whose_prefix_provider_fails_says_why() {
        let problem = refusal(Some("iface:lan0"), None, None);
        assert!(
            matches!(&problem, PrefixProblem::NotAsked { .. }),
            "{problem:?}"
        );
        assert_eq!(problem.to_string(), "iface:lan0 was not asked");
        let problem = refusal(
            Some("iface:lan0"),
            None,
            Some(Err(ProviderFailure::NoServer)),
        );
        assert!(
            matches!(
                &problem,
                PrefixProblem::Provider(Attempt {
                    failure: ProviderFailure::NoServer,
                    ..
                })
            ),
            "{problem:?}"
        );
        assert_eq!(
            problem.to_string(),
            "iface:lan0 has no server for this family"
        );
        let problem = refusal(
            Some("iface:lan0"),
            None,
            Some(Ok(Answer::bare("81.23.45.99".parse().expect("ip")))),
        );
        assert!(
            matches!(
                &problem,
                PrefixProblem::NotIpv6 {
                    origin: PrefixSource::Provider(_),
                    ..
                }
            ),
            "{problem:?}"
        );
        assert_eq!(
            problem.to_string(),
            "iface:lan0 gave 81.23.45.99, which is not IPv6"
        );
    }

    #[test]
    fn a_lan_host_without_a_usable_detected_prefix_says_why() {
        let answer = |text: &str, prefix_len| Answer {
            ip: text.parse().expect("ip"),
            prefix_len,
        };
        let problem = refusal(None, None, None);
        assert!(
            matches!(problem, PrefixProblem::NoDetectedIpv6),
            "{problem:?}"
        );
        let problem = refusal(None, Some(answer("2a01:4f8:c0c:1234::1", Some(80))), None);
        assert!(
            matches!(
                &problem,
                PrefixProblem::Prefix {
                    origin: PrefixSource::Detected,
                    error: PrefixError::TooLong { length: 80, .. }
                }
            ),
            "{problem:?}"
        );
        let problem = refusal(None, Some(answer("2001:db8::1", Some(64))), None);
        assert!(
            matches!(
                &problem,
                PrefixProblem::NotPublishable {
                    origin: PrefixSource::Detected,
                    ..
                }
            ),
            "{problem:?}"
        );
        assert!(
            problem.to_string().starts_with(
                "2001:db8::10 (from 2001:db8::1 of the detected IPv6 address) is not publishable: "
            ),
            "{problem}"
        );
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
            choose(table(), &[]).expect("chosen"),
            "2a01:4f8:c0c:1234:abcd::5"
        );
        assert_eq!(
            choose(table(), &["2a01:4f8:c0c:1234:abcd::9"]).expect("chosen"),
            "2a01:4f8:c0c:1234:abcd::9",
            "the published address stays while the table shows it"
        );
        assert_eq!(
            choose(table(), &["2a01:4f8:c0c:1234::3"]).expect("chosen"),
            "2a01:4f8:c0c:1234:abcd::5",
            "a failed entry is no candidate, published or not"
        );
        let gone = choose(table().into_iter().skip(2).collect(), &[]).expect_err("gone");
        assert!(
            matches!(
                &*gone,
                RecordFailure::NoNeighbour { mac, prefix, held, .. }
                    if mac == "02:11:22:33:44:55"
                        && prefix == "2a01:4f8:c0c:1234::/64 (the detected IPv6 address)"
                        && held.iter().any(|entry| entry == "2a01:4f8:c0c:1234::3 on #999999 (failed)")
            ),
            "{gone:?}"
        );
        let nothing = choose(Vec::new(), &[]).expect_err("nothing");
        assert!(
            matches!(&*nothing, RecordFailure::NoNeighbour { held, .. } if held.is_empty()),
            "{nothing:?}"
        );
        assert!(
            nothing
                .to_string()
                .contains("it holds no entry for that MAC"),
            "{nothing}"
        );
    }
}
