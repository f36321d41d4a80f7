//! LAN hosts from the prefix: an IPv6 address made of this host's /64 prefix and a fixed
//! interface id, either a suffix (`::10`) or the modified EUI-64 of a MAC address. Pure and
//! tested by table; the cycle gives it the detected (or `ipv6_prefix_from`) address, and the
//! result passes the same publishable filter as every detected address.

use std::fmt;
use std::net::Ipv6Addr;

/// The interface id of a LAN host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostId {
    /// The low 64 bits as written (`::10`, `::1:2:3:4`).
    Suffix(u64),
    /// The modified EUI-64 of this MAC (universal/local bit flipped, `ff:fe` in the middle).
    Mac([u8; 6]),
}

/// Why an address cannot be derived.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("the prefix of {address} is /{length}, longer than /64, so there is no room for a host id; derive LAN hosts from a /64")]
    TooLong { address: Ipv6Addr, length: u8 },
}

impl HostId {
    /// Parses `::10` or `mac:02:11:22:33:44:55` (also `-` between the bytes). The error is a
    /// phrase fit to follow the key's name.
    pub fn parse(text: &str) -> Result<HostId, String> {
        let text = text.trim();
        if let Some(mac) = text.strip_prefix("mac:") {
            let bytes: Vec<&str> = mac.split([':', '-']).collect();
            let parsed: Option<Vec<u8>> = bytes
                .iter()
                .map(|byte| {
                    (byte.len() == 2)
                        .then(|| u8::from_str_radix(byte, 16).ok())
                        .flatten()
                })
                .collect();
            return match parsed.as_deref() {
                Some([a, ..]) if a & 0x01 != 0 => Err(format!(
                    "`{mac}` is a multicast (or broadcast) address, not a host's MAC"
                )),
                Some([0, 0, 0, 0, 0, 0]) => Err("`00:00:00:00:00:00` is not a host's MAC".to_string()),
                Some([a, b, c, d, e, f]) => Ok(HostId::Mac([*a, *b, *c, *d, *e, *f])),
                _ => Err(format!(
                    "`{mac}` is not a MAC address; write six hex bytes, e.g. \"mac:02:11:22:33:44:55\""
                )),
            };
        }
        let address: Ipv6Addr = text.parse().map_err(|_| {
            format!(
                "`{text}` is neither an interface id like \"::10\" nor \"mac:02:11:22:33:44:55\""
            )
        })?;
        let bits = u128::from(address);
        if bits >> 64 != 0 {
            return Err(format!(
                "`{text}` sets bits of the prefix (the first 64 bits); write only the host part, e.g. \"::10\""
            ));
        }
        if bits == 0 {
            return Err("`::` is the subnet-router anycast address, not a host".to_string());
        }
        Ok(HostId::Suffix(bits as u64))
    }

    /// The 64-bit interface id.
    pub fn interface_id(self) -> u64 {
        match self {
            HostId::Suffix(id) => id,
            HostId::Mac([a, b, c, d, e, f]) => {
                u64::from_be_bytes([a ^ 0x02, b, c, 0xff, 0xfe, d, e, f])
            }
        }
    }
}

impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostId::Suffix(id) => write!(f, "{}", Ipv6Addr::from(u128::from(*id))),
            HostId::Mac(bytes) => {
                let hex: Vec<String> = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
                write!(f, "mac:{}", hex.join(":"))
            }
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
    let prefix = u128::from(address) & !u128::from(u64::MAX);
    Ok(Ipv6Addr::from(prefix | u128::from(host.interface_id())))
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
    fn bad_host_ids_are_refused() {
        for bad in [
            "2a01::10",
            "::",
            "mac:02:11:22:33:44",
            "mac:zz:11:22:33:44:55",
            "10",
            "mac:0211:22:33:44:55",
        ] {
            assert!(HostId::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            HostId::parse("mac:02-11-22-33-44-55").map(|h| h.to_string()),
            Ok("mac:02:11:22:33:44:55".to_string())
        );
    }
}
