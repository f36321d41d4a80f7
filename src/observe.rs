//! Asks authoritative DNS whether the managed records already answer this host's address, so
//! that a cycle with nothing to change costs no API request at all. DNS is only a shortcut to
//! "in sync": any other answer (missing, different, a CNAME, a proxied record's Cloudflare
//! address, no answer at all) sends that record's zone to the API for the real comparison.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::TokioResolver;

use crate::detect::filter::is_cloudflare;
use crate::model::{DomainName, Family, ProxiedSetting, TtlSetting};

/// DNS answers with an automatic TTL carry this value.
const AUTO_TTL_SECONDS: u32 = 300;
/// At most this many DNS questions in flight at once.
const MAX_CONCURRENT: usize = 32;

/// One question: does `name` answer `expected` for this family, with these settings?
#[derive(Clone, Debug)]
pub struct DnsCheck {
    pub name: DomainName,
    pub family: Family,
    pub expected: IpAddr,
    pub proxied: ProxiedSetting,
    pub ttl: TtlSetting,
}

impl DnsCheck {
    /// The question for a desired record: its name, family, address and pinned settings.
    pub fn for_record(record: &crate::model::DesiredRecord) -> DnsCheck {
        DnsCheck {
            name: record.name.clone(),
            family: record.family,
            expected: record.content,
            proxied: record.proxied,
            ttl: record.ttl,
        }
    }
}

/// What DNS said about one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsVerdict {
    /// The record answers the expected address with the pinned settings.
    InSync,
    /// DNS cannot confirm it.
    NeedsApi(Unconfirmed),
    /// No usable answer from any server (timeout, refused, SERVFAIL).
    Unreachable(String),
}

/// Why DNS did not confirm a record. `Display` is the phrase for the debug log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unconfirmed {
    /// Only Cloudflare's addresses: a proxied record, whose origin DNS cannot show.
    #[error(
        "proxied: DNS shows Cloudflare's addresses, so the origin is compared through the API"
    )]
    Proxied,
    #[error("DNS answers a CNAME to {0}")]
    Cname(String),
    #[error("no {0} record in DNS")]
    Missing(crate::model::Family),
    #[error("DNS answers {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    Different(Vec<IpAddr>),
    #[error("DNS answers the origin address but the config wants the record proxied")]
    WantsProxied,
    #[error("DNS TTL is {answered}s, the config wants {wanted}s")]
    TtlDiffers { answered: u32, wanted: u32 },
}

impl Unconfirmed {
    /// True when DNS has no say (a proxied record): what the API last showed may stand in.
    /// Any other answer contradicts a belief that the record is in sync.
    pub fn is_silent(&self) -> bool {
        matches!(self, Unconfirmed::Proxied)
    }
}

/// Asks `servers` every check, concurrently (bounded). Verdicts come back in input order.
pub async fn check_all(
    servers: &[SocketAddr],
    checks: &[DnsCheck],
    timeout: Duration,
) -> Vec<DnsVerdict> {
    let resolver = match build_resolver(servers, timeout, false) {
        Ok(resolver) => resolver,
        Err(error) => {
            return checks
                .iter()
                .map(|_| DnsVerdict::Unreachable(format!("cannot set up DNS: {error}")))
                .collect()
        }
    };
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, check) in checks.iter().cloned().enumerate() {
        let resolver = resolver.clone();
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (index, check_one(&resolver, &check).await)
        });
    }
    let mut verdicts: Vec<DnsVerdict> = checks
        .iter()
        .map(|_| DnsVerdict::Unreachable("the check did not run".to_string()))
        .collect();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((index, verdict)) = joined {
            verdicts[index] = verdict;
        }
    }
    verdicts
}

fn build_resolver(
    servers: &[SocketAddr],
    timeout: Duration,
    recursion: bool,
) -> Result<TokioResolver, String> {
    let name_servers = servers
        .iter()
        .map(|server| {
            let mut connection = ConnectionConfig::udp();
            connection.port = server.port();
            NameServerConfig::new(server.ip(), true, vec![connection])
        })
        .collect();
    let mut options = ResolverOpts::default();
    options.cache_size = 0;
    options.recursion_desired = recursion;
    options.timeout = timeout;
    options.attempts = 1;
    options.ndots = 0;
    options.use_hosts_file = ResolveHosts::Never;
    options.preserve_intermediates = true;
    TokioResolver::builder_with_config(
        ResolverConfig::from_name_servers(name_servers),
        TokioRuntimeProvider::default(),
    )
    .with_options(options)
    .build()
    .map_err(|error| error.to_string())
}

/// What a name answers in DNS for one family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsAnswer {
    /// Address records with their TTLs (empty: the name has no record of this type).
    Addresses(Vec<(IpAddr, u32)>),
    /// The name is a CNAME to this target.
    Cname(String),
}

/// Asks for one name and family. `Err` means no usable answer (timeout, refused, SERVFAIL).
pub async fn lookup(
    resolver: &TokioResolver,
    name: &DomainName,
    family: Family,
) -> Result<DnsAnswer, String> {
    let fqdn = format!("{name}.");
    let name = Name::from_ascii(&fqdn)
        .map_err(|error| format!("{name} is not a DNS name hickory accepts: {error}"))?;
    let record_type = match family {
        Family::V4 => RecordType::A,
        Family::V6 => RecordType::AAAA,
    };
    let lookup = match resolver.lookup(name, record_type).await {
        Ok(lookup) => lookup,
        Err(error) if error.is_no_records_found() => return Ok(DnsAnswer::Addresses(Vec::new())),
        Err(error) => return Err(error.to_string()),
    };
    let mut addresses = Vec::new();
    for record in lookup.answers() {
        match &record.data {
            RData::CNAME(target) => {
                return Ok(DnsAnswer::Cname(
                    target.0.to_string().trim_end_matches('.').to_string(),
                ))
            }
            RData::A(a) => addresses.push((IpAddr::V4(a.0), record.ttl)),
            RData::AAAA(aaaa) => addresses.push((IpAddr::V6(aaaa.0), record.ttl)),
            _ => {}
        }
    }
    Ok(DnsAnswer::Addresses(addresses))
}

/// A resolver that asks `servers` directly: no cache, no recursion.
pub fn authoritative_resolver(
    servers: &[SocketAddr],
    timeout: Duration,
) -> Result<TokioResolver, String> {
    build_resolver(servers, timeout, false)
}

/// Resolves any name to addresses, as a client on the internet would: through `servers` with
/// recursion when given, else through the system resolver. Bounded by `timeout`.
pub async fn resolves(
    name: &str,
    servers: Option<&[SocketAddr]>,
    timeout: Duration,
) -> Result<Vec<IpAddr>, String> {
    let query = async {
        match servers {
            Some(servers) => {
                let resolver = build_resolver(servers, timeout, true)?;
                let lookup = resolver
                    .lookup_ip(format!("{}.", name.trim_end_matches('.')))
                    .await
                    .map_err(|error| error.to_string())?;
                Ok(lookup.iter().collect())
            }
            None => tokio::net::lookup_host((name, 0))
                .await
                .map(|found| found.map(|address| address.ip()).collect())
                .map_err(|error| error.to_string()),
        }
    };
    tokio::time::timeout(timeout, query)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "no answer within {}",
                humantime::format_duration(timeout)
            ))
        })
}

async fn check_one(resolver: &TokioResolver, check: &DnsCheck) -> DnsVerdict {
    match lookup(resolver, &check.name, check.family).await {
        Err(error) => DnsVerdict::Unreachable(error),
        Ok(DnsAnswer::Cname(target)) => {
            DnsVerdict::NeedsApi(Unconfirmed::Cname(target.to_string()))
        }
        Ok(DnsAnswer::Addresses(answers)) => {
            let addresses: Vec<IpAddr> = answers.iter().map(|(ip, _)| *ip).collect();
            let ttls: Vec<u32> = answers.iter().map(|(_, ttl)| *ttl).collect();
            verdict(check, &addresses, &ttls)
        }
    }
}

/// The pure part: what the answer means for this check.
pub fn verdict(check: &DnsCheck, addresses: &[IpAddr], ttls: &[u32]) -> DnsVerdict {
    if addresses.is_empty() {
        return DnsVerdict::NeedsApi(Unconfirmed::Missing(check.family));
    }
    let Some(position) = addresses
        .iter()
        .position(|address| *address == check.expected)
    else {
        if addresses.iter().all(|address| is_cloudflare(*address)) {
            return DnsVerdict::NeedsApi(Unconfirmed::Proxied);
        }
        return DnsVerdict::NeedsApi(Unconfirmed::Different(addresses.to_vec()));
    };
    if check.proxied == ProxiedSetting::Set(true) {
        return DnsVerdict::NeedsApi(Unconfirmed::WantsProxied);
    }
    let answered_ttl = ttls.get(position).copied().unwrap_or(0);
    let wanted_ttl = match check.ttl {
        TtlSetting::Keep => None,
        TtlSetting::Auto => Some(AUTO_TTL_SECONDS),
        TtlSetting::Seconds(seconds) => Some(seconds),
    };
    if let Some(wanted) = wanted_ttl.filter(|wanted| *wanted != answered_ttl) {
        return DnsVerdict::NeedsApi(Unconfirmed::TtlDiffers {
            answered: answered_ttl,
            wanted,
        });
    }
    DnsVerdict::InSync
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(proxied: ProxiedSetting, ttl: TtlSetting) -> DnsCheck {
        DnsCheck {
            name: DomainName::parse("home.example.com").expect("valid"),
            family: Family::V4,
            expected: "81.23.45.99".parse().expect("valid"),
            proxied,
            ttl,
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("valid")
    }

    #[test]
    fn table() {
        let keep = check(ProxiedSetting::Keep, TtlSetting::Keep);
        assert_eq!(
            verdict(&keep, &[ip("81.23.45.99")], &[300]),
            DnsVerdict::InSync
        );
        assert_eq!(
            verdict(&keep, &[ip("9.9.9.9"), ip("81.23.45.99")], &[300, 300]),
            DnsVerdict::InSync
        );
        assert!(matches!(
            verdict(&keep, &[ip("81.23.45.10")], &[300]),
            DnsVerdict::NeedsApi(_)
        ));
        assert!(matches!(verdict(&keep, &[], &[]), DnsVerdict::NeedsApi(_)));
        assert!(matches!(
            verdict(&keep, &[ip("104.16.0.1")], &[300]),
            DnsVerdict::NeedsApi(Unconfirmed::Proxied)
        ));
        let proxied = check(ProxiedSetting::Set(true), TtlSetting::Keep);
        assert!(matches!(
            verdict(&proxied, &[ip("81.23.45.99")], &[300]),
            DnsVerdict::NeedsApi(_)
        ));
        let ttl = check(ProxiedSetting::Keep, TtlSetting::Seconds(120));
        assert!(matches!(
            verdict(&ttl, &[ip("81.23.45.99")], &[300]),
            DnsVerdict::NeedsApi(_)
        ));
        assert_eq!(
            verdict(&ttl, &[ip("81.23.45.99")], &[120]),
            DnsVerdict::InSync
        );
    }
}
