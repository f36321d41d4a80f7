//! Finds this host's public address for one family by trying the configured providers in
//! order. Every answer passes through `filter::publishable`; a refusal is logged with the
//! provider, the address and the reason, and the next provider is tried. Nothing non-global
//! ever leaves this module.

mod failure;
pub mod filter;
pub(crate) mod iface;
pub mod neigh;
pub mod netlink;
mod providers;
pub mod watch;
pub(crate) mod whoami;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::http::{BodyError, Redirects};
use crate::model::Family;

/// A provider's answer larger than this is refused: an address, or a trace page, is a few
/// hundred bytes.
pub const MAX_PROVIDER_BODY: usize = 4096;
pub use failure::{Attempt, DetectError, ProviderFailure};
pub use providers::{parse_plain, parse_trace, AnswerError, Provider, ProviderError};

/// What a provider answered: the address, and its prefix length where the source knows it
/// (an interface's IPv6 address, from the kernel's table). A LAN host's address is derived only
/// from a prefix of /64 or shorter, so the length must travel with the address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    pub ip: IpAddr,
    pub prefix_len: Option<u8>,
}

impl Answer {
    /// An address whose prefix length the source does not know.
    pub fn bare(ip: IpAddr) -> Answer {
        Answer {
            ip,
            prefix_len: None,
        }
    }
}

/// Parses a provider's answer. When it is not an address the error quotes it, and it may
/// quote the request (an error page echoing the URL): the error then comes from the answer
/// with the URL's secrets scrubbed, before anything is cut to fit a log line.
fn parse_scrubbed(
    body: &str,
    url: &crate::secret::SecretUrl,
    parse: fn(&str) -> Result<IpAddr, AnswerError>,
) -> Result<IpAddr, AnswerError> {
    parse(body).map_err(|_| {
        parse(&url.scrub(body))
            .err()
            .unwrap_or(AnswerError::Withheld)
    })
}

/// Asks providers for addresses. Holds one HTTP client per family, each bound to that family.
pub struct Detector {
    timeout: Duration,
    // Built on first use: a host with only static, iface or dns providers never needs one,
    // and one without IPv6 never builds the IPv6 client.
    client_v4: std::sync::OnceLock<reqwest::Client>,
    client_v6: std::sync::OnceLock<reqwest::Client>,
}

impl Detector {
    /// A detector with the `[detect].timeout`; its per-family clients are built on first use.
    pub fn new(timeout: Duration) -> Detector {
        Detector {
            timeout,
            client_v4: std::sync::OnceLock::new(),
            client_v6: std::sync::OnceLock::new(),
        }
    }

    /// The first publishable address any provider gives, in order.
    pub async fn detect(
        &self,
        family: Family,
        providers: &[Provider],
    ) -> Result<Answer, DetectError> {
        let mut attempts = Vec::new();
        for provider in providers {
            match self.probe(family, provider).await {
                Ok(answer) => {
                    let ip = answer.ip;
                    tracing::debug!(%provider, %ip, "detected {} address", family.describe());
                    return Ok(answer);
                }
                Err(failure) => {
                    tracing::warn!(
                        "{} provider {provider} {failure}; trying the next one",
                        family.describe()
                    );
                    attempts.push(Attempt {
                        provider: provider.clone(),
                        failure,
                    });
                }
            }
        }
        Err(DetectError { family, attempts })
    }

    /// Asks one provider and filters its answer: a publishable address, or why not.
    pub async fn probe(
        &self,
        family: Family,
        provider: &Provider,
    ) -> Result<Answer, ProviderFailure> {
        let answer = self.ask(family, provider).await?;
        let ip = answer.ip;
        if Family::of(ip) != family {
            return Err(ProviderFailure::WrongFamily { ip, family });
        }
        filter::publishable(ip)
            .map(|()| answer)
            .map_err(|reason| ProviderFailure::Refused { ip, reason })
    }

    /// What a provider answers for `family`, before the publishable filter: a prefix source
    /// (`ipv6_prefix_from`) whose derived address is filtered instead.
    pub async fn ask_unfiltered(
        &self,
        family: Family,
        provider: &Provider,
    ) -> Result<Answer, ProviderFailure> {
        self.ask(family, provider).await
    }

    async fn ask(&self, family: Family, provider: &Provider) -> Result<Answer, ProviderFailure> {
        let ip = match provider {
            Provider::Static(ip) => *ip,
            Provider::CloudflareTrace => {
                let url = provider.trace_url(family).unwrap_or_default();
                parse_trace(&self.get(family, url).await?).map_err(ProviderFailure::Answer)?
            }
            Provider::Trace(url) => {
                let body = self.get(family, url.expose().as_str()).await?;
                parse_scrubbed(&body, url, parse_trace).map_err(ProviderFailure::Answer)?
            }
            Provider::Url(url) => {
                let body = self.get(family, url.expose().as_str()).await?;
                parse_scrubbed(&body, url, parse_plain).map_err(ProviderFailure::Answer)?
            }
            Provider::CloudflareDns | Provider::Dns(_) => {
                let server = provider
                    .whoami_server(family)
                    .ok_or(ProviderFailure::NoServer)?;
                whoami::ask(server, family, self.timeout)
                    .await
                    .map_err(ProviderFailure::Whoami)?
            }
            Provider::Iface(name) => {
                return iface::interface_address(name, family).map_err(ProviderFailure::Iface)
            }
        };
        Ok(Answer::bare(ip))
    }

    fn client(&self, family: Family) -> Result<&reqwest::Client, crate::http::SetupError> {
        let (cell, bind) = match family {
            Family::V4 => (&self.client_v4, IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            Family::V6 => (&self.client_v6, IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        };
        if let Some(client) = cell.get() {
            return Ok(client);
        }
        let client = crate::http::client(self.timeout, Some(bind), Redirects::Few)?;
        Ok(cell.get_or_init(|| client))
    }

    async fn get(&self, family: Family, url: &str) -> Result<String, ProviderFailure> {
        let client = self.client(family).map_err(ProviderFailure::Setup)?;
        let response =
            client.get(url).send().await.map_err(|error| {
                ProviderFailure::Transport(crate::http::describe_transport(&error))
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(ProviderFailure::Status(status));
        }
        // Read as a stream and stop at the cap: a hostile provider cannot fill memory.
        let body = crate::http::read_capped(response, MAX_PROVIDER_BODY)
            .await
            .map_err(|error| match error {
                BodyError::TooLarge { limit } => ProviderFailure::TooLarge { limit },
                BodyError::Transport(detail) => ProviderFailure::Transport(detail),
            })?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }
}
