//! The desired records: this host's address of each family, or a LAN host's address derived
//! from a prefix (`ipv6_host`). Pure but for asking the `ipv6_prefix_from` providers once;
//! the cycle and doctor both use it, so they cannot disagree on what a record should hold.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::config::{Config, RecordConfig};
use crate::detect::{Answer, Detector, Provider};
use crate::model::{DesiredRecord, Family};

use super::{Derivation, RecordFailure};

/// What each `ipv6_prefix_from` provider answered this cycle (asked once each).
pub type PrefixSources = Vec<(Provider, Result<Answer, String>)>;

/// Asks every `ipv6_prefix_from` provider once, before the publishable filter: the derived
/// address is filtered instead.
pub async fn prefix_sources(config: &Config, detector: &Detector) -> PrefixSources {
    let mut sources: PrefixSources = Vec::new();
    for provider in config
        .records
        .iter()
        .filter_map(|record| record.ipv6_prefix_from.as_ref())
    {
        if !sources.iter().any(|(asked, _)| asked == provider) {
            let answer = detector.ask_unfiltered(Family::V6, provider).await;
            sources.push((provider.clone(), answer));
        }
    }
    sources
}

/// The address a record should hold: the detected one of its family, or, for a LAN host
/// (`ipv6_host`), its interface id in the /64 of the detected IPv6 address or of its
/// `ipv6_prefix_from` source (then with how it was derived). A prefix longer than /64 (a /80
/// LAN, a /128 PPPoE address) derives nothing. Nothing non-global is returned.
pub fn record_address(
    record: &RecordConfig,
    family: Family,
    addresses: &BTreeMap<Family, Answer>,
    sources: &PrefixSources,
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
