//! What may be published: one pure function that refuses every address that is not this host's
//! global unicast address. Private, CGNAT, loopback, documentation and Cloudflare's own ranges
//! (a WARP or proxied answer) are refused with the reason, so a misbehaving provider can never
//! point a record at a place that cannot be this host.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Cloudflare's published IPv4 ranges, plus WARP egress and the 1.1.1.1 / 1.0.0.1 blocks.
const CLOUDFLARE_V4: &[(Ipv4Addr, u8)] = &[
    (Ipv4Addr::new(173, 245, 48, 0), 20),
    (Ipv4Addr::new(103, 21, 244, 0), 22),
    (Ipv4Addr::new(103, 22, 200, 0), 22),
    (Ipv4Addr::new(103, 31, 4, 0), 22),
    (Ipv4Addr::new(141, 101, 64, 0), 18),
    (Ipv4Addr::new(108, 162, 192, 0), 18),
    (Ipv4Addr::new(190, 93, 240, 0), 20),
    (Ipv4Addr::new(188, 114, 96, 0), 20),
    (Ipv4Addr::new(197, 234, 240, 0), 22),
    (Ipv4Addr::new(198, 41, 128, 0), 17),
    (Ipv4Addr::new(162, 158, 0, 0), 15),
    (Ipv4Addr::new(104, 16, 0, 0), 13),
    (Ipv4Addr::new(104, 24, 0, 0), 14),
    (Ipv4Addr::new(172, 64, 0, 0), 13),
    (Ipv4Addr::new(131, 0, 72, 0), 22),
    // WARP's egress addresses, announced by Cloudflare but not in its published list.
    (Ipv4Addr::new(104, 28, 0, 0), 16),
    (Ipv4Addr::new(1, 1, 1, 0), 24),
    (Ipv4Addr::new(1, 0, 0, 0), 24),
];

/// Cloudflare's published IPv6 ranges.
const CLOUDFLARE_V6: &[(Ipv6Addr, u8)] = &[
    (Ipv6Addr::new(0x2400, 0xcb00, 0, 0, 0, 0, 0, 0), 32),
    (Ipv6Addr::new(0x2606, 0x4700, 0, 0, 0, 0, 0, 0), 32),
    (Ipv6Addr::new(0x2803, 0xf800, 0, 0, 0, 0, 0, 0), 32),
    (Ipv6Addr::new(0x2405, 0xb500, 0, 0, 0, 0, 0, 0), 32),
    (Ipv6Addr::new(0x2405, 0x8100, 0, 0, 0, 0, 0, 0), 32),
    (Ipv6Addr::new(0x2a06, 0x98c0, 0, 0, 0, 0, 0, 0), 29),
    (Ipv6Addr::new(0x2c0f, 0xf248, 0, 0, 0, 0, 0, 0), 32),
];

/// IPv4 ranges that are never this host's public address, with the reason.
const REFUSED_V4: &[(Ipv4Addr, u8, &str)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8, "in 0.0.0.0/8 (this network)"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private (10.0.0.0/8)"),
    (
        Ipv4Addr::new(100, 64, 0, 0),
        10,
        "carrier-grade NAT (100.64.0.0/10): the provider sees your ISP's NAT, not a public address",
    ),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback"),
    (Ipv4Addr::new(169, 254, 0, 0), 16, "link-local"),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private (172.16.0.0/12)"),
    (
        Ipv4Addr::new(192, 0, 0, 0),
        24,
        "IETF protocol assignment (192.0.0.0/24)",
    ),
    (
        Ipv4Addr::new(192, 0, 2, 0),
        24,
        "documentation (192.0.2.0/24)",
    ),
    (
        Ipv4Addr::new(192, 88, 99, 0),
        24,
        "6to4 relay anycast (192.88.99.0/24)",
    ),
    (
        Ipv4Addr::new(192, 168, 0, 0),
        16,
        "private (192.168.0.0/16)",
    ),
    (
        Ipv4Addr::new(198, 18, 0, 0),
        15,
        "benchmarking (198.18.0.0/15)",
    ),
    (
        Ipv4Addr::new(198, 51, 100, 0),
        24,
        "documentation (198.51.100.0/24)",
    ),
    (
        Ipv4Addr::new(203, 0, 113, 0),
        24,
        "documentation (203.0.113.0/24)",
    ),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast"),
    (
        Ipv4Addr::new(240, 0, 0, 0),
        4,
        "reserved (240.0.0.0/4) or broadcast",
    ),
];

fn in_v4(ip: Ipv4Addr, net: Ipv4Addr, prefix: u8) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    };
    u32::from(ip) & mask == u32::from(net) & mask
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, prefix: u8) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    };
    u128::from(ip) & mask == u128::from(net) & mask
}

/// True when the address lies in Cloudflare's own ranges: what a proxied record answers.
pub fn is_cloudflare(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => CLOUDFLARE_V4
            .iter()
            .any(|(net, prefix)| in_v4(v4, *net, *prefix)),
        IpAddr::V6(v6) => {
            v6.to_ipv4_mapped()
                .is_some_and(|v4| is_cloudflare(IpAddr::V4(v4)))
                || CLOUDFLARE_V6
                    .iter()
                    .any(|(net, prefix)| in_v6(v6, *net, *prefix))
        }
    }
}

/// Why an address may not be published. `Display` is the phrase that follows the address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("inside Cloudflare's own ranges: the provider saw WARP or a Cloudflare proxy, not this host")]
    Cloudflare,
    /// A reserved range, named (private, CGNAT, loopback, documentation, …).
    #[error("{0}")]
    Reserved(&'static str),
    #[error("outside global unicast (2000::/3)")]
    NotGlobalUnicast,
}

/// Ok when the address may be published; otherwise the reason it may not.
pub fn publishable(ip: IpAddr) -> Result<(), Refusal> {
    if is_cloudflare(ip) {
        return Err(Refusal::Cloudflare);
    }
    match ip {
        IpAddr::V4(v4) => REFUSED_V4
            .iter()
            .find(|(net, prefix, _)| in_v4(v4, *net, *prefix))
            .map_or(Ok(()), |(_, _, reason)| Err(Refusal::Reserved(reason))),
        IpAddr::V6(v6) => publishable_v6(v6),
    }
}

fn publishable_v6(v6: Ipv6Addr) -> Result<(), Refusal> {
    let refused: &[(Ipv6Addr, u8, &str)] = &[
        (Ipv6Addr::UNSPECIFIED, 128, "unspecified"),
        (Ipv6Addr::LOCALHOST, 128, "loopback"),
        (
            Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0),
            96,
            "an IPv4-mapped address, not an IPv6 one",
        ),
        (
            Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0),
            96,
            "NAT64 (64:ff9b::/96)",
        ),
        (
            Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),
            48,
            "NAT64 (64:ff9b:1::/48)",
        ),
        (
            Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),
            64,
            "discard-only (100::/64)",
        ),
        (
            Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),
            32,
            "Teredo (2001::/32)",
        ),
        (
            Ipv6Addr::new(0x2001, 0x2, 0, 0, 0, 0, 0, 0),
            48,
            "benchmarking (2001:2::/48)",
        ),
        (
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
            32,
            "documentation (2001:db8::/32)",
        ),
        (
            Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),
            20,
            "documentation (3fff::/20)",
        ),
        (
            Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0),
            16,
            "6to4 (2002::/16)",
        ),
        (
            Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
            7,
            "unique-local (fc00::/7)",
        ),
        (
            Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),
            10,
            "link-local (fe80::/10)",
        ),
        (
            Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0),
            10,
            "site-local (deprecated, fec0::/10)",
        ),
        (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, "multicast"),
    ];
    if let Some((_, _, reason)) = refused
        .iter()
        .find(|(net, prefix, _)| in_v6(v6, *net, *prefix))
    {
        return Err(Refusal::Reserved(reason));
    }
    // Global unicast is 2000::/3; everything else is reserved.
    if !in_v6(v6, Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3) {
        return Err(Refusal::NotGlobalUnicast);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&str, bool)] = &[
            ("81.23.45.99", true),
            ("8.8.8.8", true),
            ("10.1.2.3", false),
            ("172.16.0.1", false),
            ("172.32.0.1", true),
            ("192.168.1.1", false),
            ("100.64.0.1", false),
            ("100.128.0.1", true),
            ("127.0.0.1", false),
            ("169.254.1.1", false),
            ("192.0.2.10", false),
            ("198.51.100.7", false),
            ("203.0.113.9", false),
            ("198.18.0.1", false),
            ("224.0.0.1", false),
            ("255.255.255.255", false),
            ("240.0.0.1", false),
            ("0.0.0.0", false),
            ("104.16.0.1", false),
            ("104.28.1.1", false),
            ("172.67.1.1", false),
            ("1.1.1.1", false),
            ("2a01:4f8:c0c:1234::1", true),
            ("2001:db8::1", false),
            ("::1", false),
            ("::", false),
            ("fe80::1", false),
            ("fd00::1", false),
            ("ff02::1", false),
            ("2002:c000:204::1", false),
            ("2001:0:4136:e378::1", false),
            ("64:ff9b::808:808", false),
            ("::ffff:81.23.45.99", false),
            ("2606:4700::6810:1", false),
            ("2a06:98c1::1", false),
            ("4000::1", false),
        ];
        for (text, ok) in cases {
            let ip: IpAddr = text.parse().expect("valid test address");
            assert_eq!(
                publishable(ip).is_ok(),
                *ok,
                "{text}: {:?}",
                publishable(ip)
            );
        }
    }

    #[test]
    fn proxied_answers_are_recognised() {
        assert!(is_cloudflare("104.16.0.1".parse().expect("valid")));
        assert!(is_cloudflare("2606:4700::1".parse().expect("valid")));
        assert!(!is_cloudflare("81.23.45.99".parse().expect("valid")));
    }
}
