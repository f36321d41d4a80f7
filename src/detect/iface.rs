//! `iface:NAME`: an address of this host's own interface. For IPv6 the kernel's flags matter:
//! temporary (privacy) addresses change every day, and deprecated, tentative or DAD-failed
//! ones must not be published, so on Linux the flags are read from `/proc/self/net/if_inet6`
//! (which systemd's `ProcSubset=pid` leaves visible, unlike `/proc/net`) and the stable address
//! wins. Without the flags no IPv6 address is guessed. The filter in `filter` still decides
//! whether the address is global.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use crate::detect::filter::publishable;
use crate::detect::Answer;
use crate::model::Family;

const IFA_F_TEMPORARY: u32 = 0x01;
const IFA_F_DADFAILED: u32 = 0x08;
const IFA_F_DEPRECATED: u32 = 0x20;
const IFA_F_TENTATIVE: u32 = 0x40;

/// Why an interface gave no address. `Display` is a phrase that follows the provider's name.
#[derive(Clone, Debug, thiserror::Error)]
pub enum IfaceError {
    #[error("found no usable {} address on interface {name} (is it up, and is the name right?)", family.describe())]
    NoAddress { name: String, family: Family },
    /// Without the kernel's flags no IPv6 address is guessed.
    #[error("cannot read the kernel's IPv6 address flags ({0}), so it cannot tell a stable address from a temporary or deprecated one")]
    NoFlags(Arc<crate::files::FileError>),
    #[error("cannot list interfaces: {0}")]
    List(Arc<std::io::Error>),
}

/// The best address of `name` in `family`: a publishable one if there is any, else the first
/// (so that the refusal can say why). An IPv6 address carries its prefix length.
pub fn interface_address(name: &str, family: Family) -> Result<Answer, IfaceError> {
    let candidates = match family {
        Family::V6 => stable_ipv6(&read_if_inet6()?, name),
        Family::V4 => from_getifaddrs(name, family)?
            .into_iter()
            .map(Answer::bare)
            .collect(),
    };
    candidates
        .iter()
        .copied()
        .find(|answer| publishable(answer.ip).is_ok())
        .or_else(|| candidates.first().copied())
        .ok_or_else(|| IfaceError::NoAddress {
            name: name.to_string(),
            family,
        })
}

/// The kernel's IPv6 address table with flags. Without it, a deprecated or temporary address
/// could not be told from a stable one, so there is no fallback that ignores flags.
/// The error is the last path's.
fn read_if_inet6() -> Result<String, IfaceError> {
    let read = |path: &str| {
        crate::files::read_text(
            std::path::Path::new(path),
            crate::files::MAX_CONFIG_BYTES,
            crate::files::Links::Follow,
        )
    };
    read("/proc/self/net/if_inet6")
        .or_else(|_| read("/proc/net/if_inet6"))
        .map_err(|error| IfaceError::NoFlags(Arc::new(error)))
}

fn from_getifaddrs(name: &str, family: Family) -> Result<Vec<IpAddr>, IfaceError> {
    let interfaces = if_addrs::get_if_addrs().map_err(|error| IfaceError::List(Arc::new(error)))?;
    Ok(interfaces
        .into_iter()
        .filter(|interface| interface.name == name)
        .map(|interface| interface.ip())
        .filter(|ip| Family::of(*ip) == family)
        .collect())
}

/// Parses /proc/net/if_inet6 (`address index prefix scope flags name`) and returns the
/// interface's addresses that are neither temporary, deprecated, tentative nor DAD-failed,
/// each with its prefix length.
pub fn stable_ipv6(table: &str, name: &str) -> Vec<Answer> {
    table
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [hex, _index, prefix, _scope, flags, interface] = fields.as_slice() else {
                return None;
            };
            if *interface != name {
                return None;
            }
            let flags = u32::from_str_radix(flags, 16).ok()?;
            if flags & (IFA_F_TEMPORARY | IFA_F_DADFAILED | IFA_F_DEPRECATED | IFA_F_TENTATIVE) != 0
            {
                return None;
            }
            let bits = u128::from_str_radix(hex, 16).ok()?;
            let prefix_len = u8::from_str_radix(prefix, 16)
                .ok()
                .filter(|len| *len <= 128);
            Some(Answer {
                ip: IpAddr::V6(Ipv6Addr::from(bits)),
                prefix_len,
            })
        })
        .collect()
}

/// Every IPv6 address in the kernel's table: (interface index, address, prefix length,
/// flags), for the watch to know what is there before its first notification.
pub fn ipv6_table() -> Vec<(u32, IpAddr, u8, u32)> {
    let Ok(table) = read_if_inet6() else {
        return Vec::new();
    };
    table
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [hex, index, prefix, _scope, flags, _name] = fields.as_slice() else {
                return None;
            };
            Some((
                u32::from_str_radix(index, 16).ok()?,
                IpAddr::V6(Ipv6Addr::from(u128::from_str_radix(hex, 16).ok()?)),
                u8::from_str_radix(prefix, 16).ok()?,
                u32::from_str_radix(flags, 16).ok()?,
            ))
        })
        .collect()
}

/// Every IPv4 address of interface `name` with its prefix length.
pub fn ipv4_addresses(name: &str) -> Vec<(IpAddr, u8)> {
    if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|interface| interface.name == name)
        .filter_map(|interface| match interface.addr {
            if_addrs::IfAddr::V4(v4) => Some((
                IpAddr::V4(v4.ip),
                u8::try_from(u32::from(v4.netmask).count_ones()).unwrap_or(32),
            )),
            if_addrs::IfAddr::V6(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_deprecated_and_tentative_addresses_are_skipped() {
        let table = "\
2a0104f80c0c12340000000000000099 02 40 00 01     eth0
2a0104f80c0c12340000000000000055 02 40 00 80     eth0
2a0104f80c0c12340000000000000066 02 40 00 a0     eth0
2a0104f80c0c12340000000000000077 02 40 00 c0     eth0
fe8000000000000000fc00fffe000001 02 40 20 80     eth0
2a0104f80c0c12340000000000000011 03 40 00 80     wg0
";
        let found: Vec<String> = stable_ipv6(table, "eth0")
            .iter()
            .map(|answer| format!("{}/{}", answer.ip, answer.prefix_len.unwrap_or(0)))
            .collect();
        assert_eq!(
            found,
            vec!["2a01:4f8:c0c:1234::55/64", "fe80::fc:ff:fe00:1/64"]
        );
        let ppp = "2a0104f80c0c12340000000000000001 05 80 00 80     ppp0\n";
        assert_eq!(stable_ipv6(ppp, "ppp0")[0].prefix_len, Some(128));
    }

    #[test]
    fn an_interface_without_an_address_says_so() {
        let missing = interface_address("flaredns-none0", Family::V4);
        assert!(
            matches!(&missing, Err(IfaceError::NoAddress { name, family: Family::V4 }) if name == "flaredns-none0"),
            "{missing:?}"
        );
        assert_eq!(
            missing.map(|_| ()).map_err(|error| error.to_string()),
            Err("found no usable IPv4 address on interface flaredns-none0 (is it up, and is the name right?)".to_string())
        );
    }

    #[test]
    fn loopback_is_found_and_left_for_the_filter_to_refuse() {
        let ip = interface_address("lo", Family::V4)
            .expect("lo has 127.0.0.1")
            .ip;
        assert!(ip.is_loopback());
        assert!(publishable(ip).is_err());
    }
}
