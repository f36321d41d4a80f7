//! The IP providers of the SPEC table, one function each. A provider returns whatever address
//! it was told; deciding whether that address may be published is `filter`'s job.

use std::fmt;
use std::net::IpAddr;

use crate::model::Family;
use crate::secret::SecretUrl;

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

impl Provider {
    /// Parses the provider syntax of the SPEC. The error is a sentence fragment for the user.
    pub fn parse(text: &str) -> Result<Provider, String> {
        let text = text.trim();
        // The URL may hold a secret (userinfo, an API key in the query): never echo it.
        let url = |rest: &str| -> Result<SecretUrl, String> {
            SecretUrl::parse(rest).map_err(|problem| {
                let kind = text.split(':').next().unwrap_or_default();
                format!("the URL after `{kind}:` {problem}")
            })
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
            "trace" => url(rest).map(Provider::Trace),
            "url" => url(rest).map(Provider::Url),
            "iface" if !rest.is_empty() => Ok(Provider::Iface(rest.to_string())),
            "dns" => rest
                .parse::<std::net::SocketAddr>()
                .or_else(|_| rest.parse::<IpAddr>().map(|ip| std::net::SocketAddr::new(ip, 53)))
                .map(Provider::Dns)
                .map_err(|_| "`dns:` must be followed by an address; write dns:IP or dns:IP:PORT ([IPv6]:PORT)".to_string()),
            "static" => rest
                .parse::<IpAddr>()
                .map(Provider::Static)
                .map_err(|_| "`static:` must be followed by an IP address".to_string()),
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

fn unknown(text: &str) -> String {
    // What was written may hold a secret (a URL, a key): only a short provider kind before
    // the first `:` is shown, never what follows it.
    let kind = text.split(':').next().unwrap_or_default();
    let shown = if !kind.is_empty()
        && kind.len() <= 16
        && kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
    {
        format!("`{kind}`")
    } else {
        "this value".to_string()
    };
    format!("{shown} is not a provider; use cloudflare.trace, cloudflare.dns, trace:URL, url:URL, dns:IP[:PORT], iface:NAME or static:ADDR")
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
pub fn parse_trace(body: &str) -> Result<IpAddr, String> {
    let mut ip = None;
    for line in body.lines() {
        if let Some(value) = line.strip_prefix("ip=") {
            ip = Some(value.trim());
        }
        if let Some(value) = line.strip_prefix("warp=") {
            let value = value.trim();
            if value == "on" || value == "plus" {
                return Err(format!("the trace says warp={value}: the address seen is WARP's, not this host's; turn WARP off for this host or use another provider"));
            }
        }
    }
    let ip = ip.ok_or_else(|| "the trace body has no `ip=` line".to_string())?;
    ip.parse()
        .map_err(|_| format!("the trace's `ip={}` is not an IP address", truncate(ip)))
}

/// Reads a body that should be nothing but an address.
pub fn parse_plain(body: &str) -> Result<IpAddr, String> {
    let trimmed = body.trim();
    trimmed
        .parse()
        .map_err(|_| format!("the answer `{}` is not an IP address", truncate(trimmed)))
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
        let refused = Provider::parse("url:htps://x/SECRET")
            .err()
            .unwrap_or_default();
        assert!(!refused.contains("SECRET"), "{refused}");
        let refused = Provider::parse("ulr:https://x/SECRET")
            .err()
            .unwrap_or_default();
        assert!(!refused.contains("SECRET"), "{refused}");
        for bad in [
            "",
            "carrier-pigeon",
            "url:ftp://x",
            "static:nope",
            "iface:",
            "dns:nope",
        ] {
            assert!(Provider::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn trace_bodies() {
        assert_eq!(
            parse_trace("fl=1\nh=1.1.1.1\nip=81.23.45.99\nts=1\nwarp=off\n"),
            Ok("81.23.45.99".parse().expect("valid"))
        );
        assert!(parse_trace("ip=81.23.45.99\nwarp=on\n").is_err());
        assert!(parse_trace("<html>blocked</html>").is_err());
        assert!(parse_trace("ip=garbage").is_err());
        assert_eq!(
            parse_plain(" 81.23.45.99\n"),
            Ok("81.23.45.99".parse().expect("valid"))
        );
        assert!(parse_plain("<html>").is_err());
    }
}
