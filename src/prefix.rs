//! LAN hosts from the prefix: an IPv6 address made of this host's /64 prefix and a fixed
//! interface id, either a suffix (`::10`) or the modified EUI-64 of a MAC address; or, for a
//! device whose interface id is random (privacy or DHCPv6 addresses), its MAC looked up in
//! the kernel's neighbour table (`neigh:`), which `derive` does not apply to (see
//! `cycle::desired`). Pure and tested by table; the cycle gives it the detected (or
//! `ipv6_prefix_from`) address, and the result passes the same publishable filter as every
//! detected address.

use std::fmt;
use std::net::Ipv6Addr;

/// The interface id of a LAN host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostId {
    /// The low 64 bits as written (`::10`, `::1:2:3:4`).
    Suffix(u64),
    /// The modified EUI-64 of this MAC (universal/local bit flipped, `ff:fe` in the middle).
    Mac([u8; 6]),
    /// Whatever global address the neighbour table shows for this MAC inside the prefix:
    /// nothing is derived.
    Neighbour([u8; 6]),
}

/// Why an address cannot be derived.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("the prefix of {address} is /{length}, longer than /64, so there is no room for a host id; derive LAN hosts from a /64")]
    TooLong { address: Ipv6Addr, length: u8 },
    #[error("{host} is looked up in the neighbour table, not derived from the prefix")]
    NotDerived { host: HostId },
}

/// Why a text is not a `HostId`. `Display` is a phrase fit to follow the key's name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostIdError {
    #[error("`{text}` is neither an interface id like \"::10\" nor \"mac:02:11:22:33:44:55\" nor \"neigh:02:11:22:33:44:55\"")]
    NotHostId { text: String },
    #[error("`{text}` sets bits of the prefix (the first 64 bits); write only the host part, e.g. \"::10\"")]
    SetsPrefix { text: String },
    #[error("`::` is the subnet-router anycast address, not a host")]
    Anycast,
    #[error("`{mac}` is a multicast (or broadcast) address, not a host's MAC")]
    Multicast { mac: String },
    #[error("`00:00:00:00:00:00` is not a host's MAC")]
    ZeroMac,
    /// `form` is the prefix written before the MAC (`mac`, `neigh`), for the example.
    #[error(
        "`{mac}` is not a MAC address; write six hex bytes, e.g. \"{form}:02:11:22:33:44:55\""
    )]
    NotMac { mac: String, form: &'static str },
}

impl HostId {
    /// Parses `::10`, `mac:02:11:22:33:44:55` or `neigh:02:11:22:33:44:55` (also `-` between
    /// the bytes).
    pub fn parse(text: &str) -> Result<HostId, HostIdError> {
        let text = text.trim();
        if let Some(mac) = text.strip_prefix("mac:") {
            return parse_mac(mac, "mac").map(HostId::Mac);
        }
        if let Some(mac) = text.strip_prefix("neigh:") {
            return parse_mac(mac, "neigh").map(HostId::Neighbour);
        }
        let address: Ipv6Addr = text.parse().map_err(|_| HostIdError::NotHostId {
            text: text.to_string(),
        })?;
        let bits = u128::from(address);
        if bits >> 64 != 0 {
            return Err(HostIdError::SetsPrefix {
                text: text.to_string(),
            });
        }
        if bits == 0 {
            return Err(HostIdError::Anycast);
        }
        Ok(HostId::Suffix(bits as u64))
    }

    /// The 64-bit interface id; a neighbour-table host has none.
    pub fn interface_id(self) -> Option<u64> {
        match self {
            HostId::Suffix(id) => Some(id),
            HostId::Mac([a, b, c, d, e, f]) => {
                Some(u64::from_be_bytes([a ^ 0x02, b, c, 0xff, 0xfe, d, e, f]))
            }
            HostId::Neighbour(_) => None,
        }
    }
}

/// Six hex bytes separated by `:` or `-`, a host's (unicast, non-zero) MAC. `form` is the
/// prefix written before it, for the example in the error.
fn parse_mac(mac: &str, form: &'static str) -> Result<[u8; 6], HostIdError> {
    let parsed: Option<Vec<u8>> = mac
        .split([':', '-'])
        .map(|byte| {
            (byte.len() == 2)
                .then(|| u8::from_str_radix(byte, 16).ok())
                .flatten()
        })
        .collect();
    match parsed.as_deref() {
        Some([a, ..]) if a & 0x01 != 0 => Err(HostIdError::Multicast {
            mac: mac.to_string(),
        }),
        Some([0, 0, 0, 0, 0, 0]) => Err(HostIdError::ZeroMac),
        Some([a, b, c, d, e, f]) => Ok([*a, *b, *c, *d, *e, *f]),
        _ => Err(HostIdError::NotMac {
            mac: mac.to_string(),
            form,
        }),
    }
}

/// A MAC as `02:11:22:33:44:55`.
pub fn format_mac(bytes: &[u8; 6]) -> String {
    let hex: Vec<String> = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    hex.join(":")
}

/// Whether `candidate` lies in the prefix of `address`: its `length` where the source knows
/// it, else /64. A prefix longer than /64 is refused, as for `derive`.
pub fn contains(
    address: Ipv6Addr,
    length: Option<u8>,
    candidate: Ipv6Addr,
) -> Result<bool, PrefixError> {
    let length = match length {
        Some(length) if length > 64 => return Err(PrefixError::TooLong { address, length }),
        Some(length) => u32::from(length),
        None => 64,
    };
    let mask = u128::MAX.checked_shl(128 - length).unwrap_or(0);
    Ok(u128::from(address) & mask == u128::from(candidate) & mask)
}

/// The prefix of `address` as text, `2a01:4f8:c0c:1234::/64`.
pub fn describe_prefix(address: Ipv6Addr, length: Option<u8>) -> String {
    let length = length.unwrap_or(64).min(64);
    let mask = u128::MAX.checked_shl(128 - u32::from(length)).unwrap_or(0);
    format!("{}/{length}", Ipv6Addr::from(u128::from(address) & mask))
}

impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostId::Suffix(id) => write!(f, "{}", Ipv6Addr::from(u128::from(*id))),
            HostId::Mac(bytes) => write!(f, "mac:{}", format_mac(bytes)),
            HostId::Neighbour(bytes) => write!(f, "neigh:{}", format_mac(bytes)),
        }
    }
}

/// The address of `host` in the /64 of `address`. `length` is the prefix length where the
/// source knows it (an interface's address), else /64 is assumed.
pub fn derive(
    address: Ipv6Addr,
    length: Option<u8>,
    host: HostId,
) -> Result<Ipv6Addr, PrefixError> {
    if let Some(length) = length.filter(|length| *length > 64) {
        return Err(PrefixError::TooLong { address, length });
    }
    let interface_id = host
        .interface_id()
        .ok_or(PrefixError::NotDerived { host })?;
    let prefix = u128::from(address) & !u128::from(u64::MAX);
    Ok(Ipv6Addr::from(prefix | u128::from(interface_id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Ipv6Addr {
        text.parse().expect("address")
    }

    /// A table row: label, host id, known prefix length, the derived address (or an error).
    type Case = (
        &'static str,
        &'static str,
        Option<u8>,
        Result<&'static str, ()>,
    );

    #[test]
    fn table() {
        let detected = ip("2a01:4f8:c0c:1234:abcd:ef01:2345:6789");
        let cases: Vec<Case> = vec![
            ("a suffix", "::10", None, Ok("2a01:4f8:c0c:1234::10")),
            (
                "a long suffix",
                "::1:2:3:4",
                Some(64),
                Ok("2a01:4f8:c0c:1234:1:2:3:4"),
            ),
            (
                "a MAC: U/L bit flipped, ff:fe inserted",
                "mac:02:11:22:33:44:55",
                None,
                Ok("2a01:4f8:c0c:1234:11:22ff:fe33:4455"),
            ),
            (
                "a MAC with dashes",
                "mac:00-1A-2b-3c-4d-5e",
                None,
                Ok("2a01:4f8:c0c:1234:21a:2bff:fe3c:4d5e"),
            ),
            (
                "a /56 has room",
                "::10",
                Some(56),
                Ok("2a01:4f8:c0c:1234::10"),
            ),
            ("a /80 has not", "::10", Some(80), Err(())),
        ];
        for (label, host, length, expect) in cases {
            let host = HostId::parse(host).expect(label);
            let got = derive(detected, length, host).map(|address| address.to_string());
            match expect {
                Ok(text) => assert_eq!(got.as_deref(), Ok(text), "{label}"),
                Err(()) => assert!(got.is_err(), "{label}"),
            }
        }
    }

    #[test]
    fn bad_host_ids_are_refused_by_kind() {
        let text = |text: &str| text.to_string();
        let not_mac = |mac: &str, form| HostIdError::NotMac {
            mac: mac.to_string(),
            form,
        };
        let cases = [
            (
                "2a01::10",
                HostIdError::SetsPrefix {
                    text: text("2a01::10"),
                },
            ),
            ("::", HostIdError::Anycast),
            ("mac:02:11:22:33:44", not_mac("02:11:22:33:44", "mac")),
            ("mac:zz:11:22:33:44:55", not_mac("zz:11:22:33:44:55", "mac")),
            ("10", HostIdError::NotHostId { text: text("10") }),
            ("mac:0211:22:33:44:55", not_mac("0211:22:33:44:55", "mac")),
            ("neigh:", not_mac("", "neigh")),
            (
                "neigh:01:11:22:33:44:55",
                HostIdError::Multicast {
                    mac: text("01:11:22:33:44:55"),
                },
            ),
            ("neigh:00:00:00:00:00:00", HostIdError::ZeroMac),
            ("neigh:02:11:22:33:44", not_mac("02:11:22:33:44", "neigh")),
            ("neigh:2a01::5", not_mac("2a01::5", "neigh")),
        ];
        for (bad, expected) in cases {
            assert_eq!(HostId::parse(bad), Err(expected), "{bad}");
        }
        assert_eq!(
            not_mac("zz", "neigh").to_string(),
            "`zz` is not a MAC address; write six hex bytes, e.g. \"neigh:02:11:22:33:44:55\""
        );
        assert_eq!(
            HostId::parse("mac:02-11-22-33-44-55").map(|h| h.to_string()),
            Ok("mac:02:11:22:33:44:55".to_string())
        );
        assert_eq!(
            HostId::parse("neigh:02-11-22-33-44-AA").map(|h| h.to_string()),
            Ok("neigh:02:11:22:33:44:aa".to_string())
        );
    }

    #[test]
    fn a_neighbour_host_is_not_derived_and_prefixes_contain_their_addresses() {
        let detected = ip("2a01:4f8:c0c:1234:abcd:ef01:2345:6789");
        let host = HostId::Neighbour([2, 0x11, 0x22, 0x33, 0x44, 0x55]);
        assert!(matches!(
            derive(detected, None, host),
            Err(PrefixError::NotDerived { .. })
        ));
        let inside = ip("2a01:4f8:c0c:1234::5");
        let next = ip("2a01:4f8:c0c:1235::5");
        assert_eq!(contains(detected, None, inside), Ok(true));
        assert_eq!(contains(detected, None, next), Ok(false));
        assert_eq!(contains(detected, Some(56), next), Ok(true));
        assert!(contains(detected, Some(80), inside).is_err());
        assert_eq!(
            describe_prefix(detected, Some(56)),
            "2a01:4f8:c0c:1200::/56"
        );
    }
}
