//! Asks authoritative DNS whether the managed records already answer this host's address, so
//! that a cycle with nothing to change costs no API request at all. DNS is only a shortcut to
//! "in sync": any other answer (missing, different, a CNAME, a proxied record's Cloudflare
//! address, no answer at all) sends that record's zone to the API for the real comparison.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::{DNSClass, RecordType};

use crate::detect::filter::is_cloudflare;
use crate::dns::DnsError;
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
    Unreachable(Unanswered),
}

/// Why a check has no usable answer. `Display` is the phrase for the log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unanswered {
    #[error(transparent)]
    Dns(#[from] DnsError),
    /// The check's task ended without a verdict.
    #[error("the check did not run")]
    NotRun,
}

/// Why a name could not be resolved as a client would. `Display` is the phrase for doctor.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Dns(#[from] DnsError),
    /// The system resolver's answer.
    #[error("{0}")]
    System(std::io::Error),
    #[error("no answer within {}", humantime::format_duration(*timeout))]
    Timeout { timeout: Duration },
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
    let servers: Arc<[SocketAddr]> = servers.into();
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, check) in checks.iter().cloned().enumerate() {
        let servers = servers.clone();
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (index, check_one(&servers, &check, timeout).await)
        });
    }
    let mut verdicts: Vec<DnsVerdict> = checks
        .iter()
        .map(|_| DnsVerdict::Unreachable(Unanswered::NotRun))
        .collect();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((index, verdict)) = joined {
            if let Some(slot) = verdicts.get_mut(index) {
                *slot = verdict;
            }
        }
    }
    verdicts
}

/// What a name answers in DNS for one family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsAnswer {
    /// Address records with their TTLs (empty: the name has no record of this type).
    Addresses(Vec<(IpAddr, u32)>),
    /// The name is a CNAME to this target.
    Cname(String),
}

/// Asks authoritative `servers` (no recursion) for one name and family. `Err` means no
/// usable answer (timeout, refused, SERVFAIL).
pub async fn lookup(
    servers: &[SocketAddr],
    name: &DomainName,
    family: Family,
    timeout: Duration,
) -> Result<DnsAnswer, DnsError> {
    let question = crate::dns::Question {
        name: name.to_string(),
        record_type: match family {
            Family::V4 => RecordType::A,
            Family::V6 => RecordType::AAAA,
        },
        class: DNSClass::IN,
        recursion: false,
    };
    let answers = crate::dns::ask(servers, &question, timeout).await?;
    if let Some(target) = crate::dns::cname(&answers) {
        return Ok(DnsAnswer::Cname(target));
    }
    Ok(DnsAnswer::Addresses(crate::dns::addresses(&answers)))
}

/// Resolves any name to addresses, as a client on the internet would: through `servers` with
/// recursion when given, else through the system resolver. Bounded by `timeout`.
pub async fn resolves(
    name: &str,
    servers: Option<&[SocketAddr]>,
    timeout: Duration,
) -> Result<Vec<IpAddr>, ResolveError> {
    let query = async {
        match servers {
            Some(servers) => {
                let mut found = Vec::new();
                for record_type in [RecordType::A, RecordType::AAAA] {
                    let question = crate::dns::Question {
                        name: name.to_string(),
                        record_type,
                        class: DNSClass::IN,
                        recursion: true,
                    };
                    let answers = crate::dns::ask(servers, &question, timeout).await?;
                    found.extend(
                        crate::dns::addresses(&answers)
                            .into_iter()
                            .map(|(ip, _)| ip),
                    );
                }
                Ok(found)
            }
            None => tokio::net::lookup_host((name, 0))
                .await
                .map(|found| found.map(|address| address.ip()).collect())
                .map_err(ResolveError::System),
        }
    };
    tokio::time::timeout(timeout, query)
        .await
        .unwrap_or(Err(ResolveError::Timeout { timeout }))
}

async fn check_one(servers: &[SocketAddr], check: &DnsCheck, timeout: Duration) -> DnsVerdict {
    match lookup(servers, &check.name, check.family, timeout).await {
        Err(error) => DnsVerdict::Unreachable(Unanswered::Dns(error)),
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

    #[tokio::test]
    async fn no_server_to_ask_is_a_typed_failure() {
        let name = DomainName::parse("home.example.com").expect("valid");
        let timeout = Duration::from_secs(1);
        assert_eq!(
            lookup(&[], &name, Family::V4, timeout).await,
            Err(DnsError::NoServer)
        );
        let resolved = resolves("home.example.com", Some(&[]), timeout).await;
        assert!(
            matches!(resolved, Err(ResolveError::Dns(DnsError::NoServer))),
            "{resolved:?}"
        );
        let checks = [check(ProxiedSetting::Keep, TtlSetting::Keep)];
        assert_eq!(
            check_all(&[], &checks, timeout).await,
            vec![DnsVerdict::Unreachable(Unanswered::Dns(DnsError::NoServer))]
        );
        assert_eq!(Unanswered::NotRun.to_string(), "the check did not run");
        assert_eq!(
            ResolveError::Timeout { timeout }.to_string(),
            "no answer within 1s"
        );
    }
}
