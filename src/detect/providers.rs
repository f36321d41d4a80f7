//! The IP providers of the SPEC table, one function each. A provider returns whatever address
//! it was told; deciding whether that address may be published is `filter`'s job.

use std::fmt;
use std::net::IpAddr;

use crate::model::Family;
use crate::secret::{SecretUrl, UrlProblem};

/// One entry of `[detect].ipv4` / `[detect].ipv6`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provider {
    /// Cloudflare's trace endpoint at 1.1.1.1 / 2606:4700:4700::1111.
    CloudflareTrace,
    /// A trace endpoint at another URL (`trace:URL`); shown redacted.
    Trace(SecretUrl),
    /// TXT whoami.cloudflare in class CH, asked of 1.1.1.1 / 2606:4700:4700::1111.
    CloudflareDns,
    /// The same question asked of another server (`dns:IP[:PORT]`).
    Dns(std::net::SocketAddr),
    /// Any URL whose trimmed body is the address (`url:URL`); shown redacted.
    Url(SecretUrl),
    /// An interface's global address (`iface:NAME`).
    Iface(String),
    /// A fixed address (`static:ADDR`).
    Static(IpAddr),
}

/// Why a text is not a provider. `Display` is a phrase for the user. What was written after
/// the first `:` is never part of it: it may be a URL holding a secret (userinfo, an API key).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// `trace:` or `url:` followed by something that is not an http(s) URL.
    #[error("the URL after `{kind}:` {problem}")]
    Url {
        kind: &'static str,
        problem: UrlProblem,
    },
    /// No provider of that kind; `kind` is the text before the first `:` when it is short and
    /// plain enough to show.
    #[error("{} is not a provider; use cloudflare.trace, cloudflare.dns, trace:URL, url:URL, dns:IP[:PORT], iface:NAME or static:ADDR", shown_kind(kind.as_deref()))]
    Unknown { kind: Option<String> },
    #[error("`dns:` must be followed by an address; write dns:IP or dns:IP:PORT ([IPv6]:PORT)")]
    DnsAddress,
    #[error("`static:` must be followed by an IP address")]
    StaticAddress,
}

/// Why a provider's answer holds no address. `Display` is a phrase that follows the
/// provider's name; a quoted answer is cut to fit a log line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// The trace says `warp=on` (or `warp=plus` when `plus`).
    #[error("the trace says warp={}: the address seen is WARP's, not this host's; turn WARP off for this host or use another provider", if *plus { "plus" } else { "on" })]
    Warp { plus: bool },
    #[error("the trace body has no `ip=` line")]
    NoIpLine,
    #[error("the trace's `ip={shown}` is not an IP address")]
    TraceNotAddress { shown: String },
    #[error("the answer `{shown}` is not an IP address")]
    NotAddress { shown: String },
    /// Not an address, and the answer cannot be quoted (it held a part of the request's URL).
    #[error("the answer is not an IP address")]
    Withheld,
}

impl Provider {
    /// Parses the provider syntax of the SPEC.
    pub fn parse(text: &str) -> Result<Provider, ProviderError> {
        let text = text.trim();
        // The URL may hold a secret (userinfo, an API key in the query): never echo it.
        let url = |kind: &'static str, rest: &str| {
            SecretUrl::parse(rest).map_err(|problem| ProviderError::Url { kind, problem })
        };
        match text {
            "cloudflare.trace" => return Ok(Provider::CloudflareTrace),
            "cloudflare.dns" => return Ok(Provider::CloudflareDns),
            _ => {}
        }
        let Some((kind, rest)) = text.split_once(':') else {
            return Err(unknown(text));
        };
        match kind {
            "trace" => url("trace", rest).map(Provider::Trace),
            "url" => url("url", rest).map(Provider::Url),
            "iface" if !rest.is_empty() => Ok(Provider::Iface(rest.to_string())),
            "dns" => rest
                .parse::<std::net::SocketAddr>()
                .or_else(|_| {
                    rest.parse::<IpAddr>()
                        .map(|ip| std::net::SocketAddr::new(ip, 53))
                })
                .map(Provider::Dns)
                .map_err(|_| ProviderError::DnsAddress),
            "static" => rest
                .parse::<IpAddr>()
                .map(Provider::Static)
                .map_err(|_| ProviderError::StaticAddress),
            _ => Err(unknown(text)),
        }
    }

    /// The DNS server this provider asks whoami.cloudflare, for a family.
    pub fn whoami_server(&self, family: Family) -> Option<std::net::SocketAddr> {
        match (self, family) {
            (Provider::CloudflareDns, Family::V4) => {
                Some(std::net::SocketAddr::from(([1, 1, 1, 1], 53)))
            }
            (Provider::CloudflareDns, Family::V6) => Some(std::net::SocketAddr::from((
                [0x2606, 0x4700, 0x4700, 0, 0, 0, 0, 0x1111],
                53,
            ))),
            (Provider::Dns(server), _) => Some(*server),
            _ => None,
        }
    }

    /// The trace URL this provider reads, for a family.
    pub fn trace_url(&self, family: Family) -> Option<&str> {
        match (self, family) {
            (Provider::CloudflareTrace, Family::V4) => Some("https://1.1.1.1/cdn-cgi/trace"),
            (Provider::CloudflareTrace, Family::V6) => {
                Some("https://[2606:4700:4700::1111]/cdn-cgi/trace")
            }
            (Provider::Trace(url), _) => Some(url.expose().as_str()),
            _ => None,
        }
    }
}

fn unknown(text: &str) -> ProviderError {
    // What was written may hold a secret (a URL, a key): only a short provider kind before
    // the first `:` is kept, never what follows it.
    let kind = text.split(':').next().unwrap_or_default();
    let plain = !kind.is_empty()
        && kind.len() <= 16
        && kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
    ProviderError::Unknown {
        kind: plain.then(|| kind.to_string()),
    }
}

fn shown_kind(kind: Option<&str>) -> String {
    match kind {
        Some(kind) => format!("`{kind}`"),
        None => "this value".to_string(),
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Provider::CloudflareTrace => f.write_str("cloudflare.trace"),
            Provider::Trace(url) => write!(f, "trace:{url}"),
            Provider::CloudflareDns => f.write_str("cloudflare.dns"),
            Provider::Dns(server) => write!(f, "dns:{server}"),
            Provider::Url(url) => write!(f, "url:{url}"),
            Provider::Iface(name) => write!(f, "iface:{name}"),
            Provider::Static(ip) => write!(f, "static:{ip}"),
        }
    }
}

/// Reads the `ip=` line of a Cloudflare trace body. A body that says `warp=on` or `warp=plus`
/// came through WARP, so its address is WARP's and is refused.
pub fn parse_trace(body: &str) -> Result<IpAddr, AnswerError> {
    let mut ip = None;
    for line in body.lines() {
        if let Some(value) = line.strip_prefix("ip=") {
            ip = Some(value.trim());
        }
        if let Some(value) = line.strip_prefix("warp=") {
            let value = value.trim();
            if value == "on" || value == "plus" {
                return Err(AnswerError::Warp {
                    plus: value == "plus",
                });
            }
        }
    }
    let ip = ip.ok_or(AnswerError::NoIpLine)?;
    ip.parse().map_err(|_| AnswerError::TraceNotAddress {
        shown: truncate(ip),
    })
}

/// Reads a body that should be nothing but an address.
pub fn parse_plain(body: &str) -> Result<IpAddr, AnswerError> {
    let trimmed = body.trim();
    trimmed.parse().map_err(|_| AnswerError::NotAddress {
        shown: truncate(trimmed),
    })
}

/// Cuts outside text to a length fit for a log line.
fn truncate(text: &str) -> String {
    let mut out: String = text.chars().take(40).filter(|c| !c.is_control()).collect();
    if text.chars().count() > 40 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_syntax_round_trips() {
        for text in [
            "cloudflare.trace",
            "cloudflare.dns",
            "url:https://ip.example.net",
            "iface:eth0",
            "static:81.23.45.99",
            "static:2a01:4f8::1",
        ] {
            assert_eq!(
                Provider::parse(text).map(|p| p.to_string()),
                Ok(text.to_string())
            );
        }
        assert_eq!(
            Provider::parse("dns:1.1.1.1").map(|p| p.to_string()),
            Ok("dns:1.1.1.1:53".to_string())
        );
        // A URL's path, query and userinfo may be secrets: never shown.
        assert_eq!(
            Provider::parse("trace:https://user:pw@example.net/cdn-cgi/trace?k=1")
                .map(|p| p.to_string()),
            Ok("trace:https://example.net/<redacted>".to_string())
        );
    }

    #[test]
    fn bad_providers_are_refused_by_kind_without_echoing_secrets() {
        let unknown = |kind: Option<&str>| ProviderError::Unknown {
            kind: kind.map(str::to_string),
        };
        let cases = [
            ("", unknown(None)),
            ("carrier-pigeon", unknown(None)),
            ("pigeon", unknown(Some("pigeon"))),
            ("ulr:https://x/SECRET", unknown(Some("ulr"))),
            ("iface:", unknown(Some("iface"))),
            (
                "url:ftp://x/SECRET",
                ProviderError::Url {
                    kind: "url",
                    problem: UrlProblem::NotHttp,
                },
            ),
            (
                "trace:SECRET",
                ProviderError::Url {
                    kind: "trace",
                    problem: UrlProblem::NotAUrl(url::ParseError::RelativeUrlWithoutBase),
                },
            ),
            ("static:nope", ProviderError::StaticAddress),
            ("dns:nope", ProviderError::DnsAddress),
        ];
        for (bad, expected) in cases {
            let refused = Provider::parse(bad).expect_err(bad);
            assert!(!refused.to_string().contains("SECRET"), "{refused}");
            assert_eq!(refused, expected, "{bad}");
        }
        assert!(unknown(None)
            .to_string()
            .starts_with("this value is not a provider; use "));
        assert!(unknown(Some("ulr"))
            .to_string()
            .starts_with("`ulr` is not a provider; use "));
    }

    #[test]
    fn trace_bodies() {
        assert_eq!(
            parse_trace("fl=1\nh=1.1.1.1\nip=81.23.45.99\nts=1\nwarp=off\n"),
            Ok("81.23.45.99".parse().expect("valid"))
        );
        assert_eq!(
            parse_trace("ip=81.23.45.99\nwarp=on\n"),
            Err(AnswerError::Warp { plus: false })
        );
        assert_eq!(
            parse_trace("warp=plus\nip=81.23.45.99\n"),
            Err(AnswerError::Warp { plus: true })
        );
        assert_eq!(
            parse_trace("<html>blocked</html>"),
            Err(AnswerError::NoIpLine)
        );
        assert_eq!(
            parse_trace("ip=garbage"),
            Err(AnswerError::TraceNotAddress {
                shown: "garbage".to_string()
            })
        );
        assert_eq!(
            parse_plain(" 81.23.45.99\n"),
            Ok("81.23.45.99".parse().expect("valid"))
        );
        let long = format!("<html>{}\u{7}", "x".repeat(60));
        assert_eq!(
            parse_plain(&long).map_err(|error| error.to_string()),
            Err(format!(
                "the answer `<html>{}…` is not an IP address",
                "x".repeat(34)
            ))
        );
    }
}
