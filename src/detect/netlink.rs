//! The route-netlink messages the watch reads, parsed without I/O: address notifications
//! (`RTM_NEWADDR`/`RTM_DELADDR`) with the interface index, the address, its prefix length and
//! its flags; and IPv6 neighbour entries (`RTM_NEWNEIGH`/`RTM_DELNEIGH`, from a dump of the
//! table or a notification) with the interface index, the address, the MAC and the NUD
//! state. Pure and fuzzed (`fuzz.rs`): the bytes come from a socket, so every length is
//! checked before it is used and any input gives messages or nothing, never a panic. The
//! socket itself, and what a message means for the daemon, live in `watch`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A new address, or new flags or lifetimes of an address.
pub const RTM_NEWADDR: u16 = 20;
/// An address removed.
pub const RTM_DELADDR: u16 = 21;
/// A neighbour entry, from a dump or a notification.
pub const RTM_NEWNEIGH: u16 = 28;
/// A neighbour entry removed.
pub const RTM_DELNEIGH: u16 = 29;
/// Asks for the neighbour table (with `NLM_F_DUMP`).
pub const RTM_GETNEIGH: u16 = 30;
/// An error (or an acknowledgement) in answer to a request.
pub const NLMSG_ERROR: u16 = 2;
/// The end of a dump.
pub const NLMSG_DONE: u16 = 3;
/// The netlink message header's length.
pub const NLMSG_HEADER: usize = 16;
/// The neighbour message header's length (`struct ndmsg`).
pub const NDMSG: usize = 12;
const NDA_DST: u16 = 1;
const NDA_LLADDR: u16 = 2;

/// The NUD states in which an entry's MAC is known: reachable, stale, delay, probe, no-ARP,
/// permanent. Incomplete (still resolving) and failed entries are not a device's address.
pub const NUD_USABLE: u16 = 0x02 | 0x04 | 0x08 | 0x10 | 0x40 | 0x80;
const NUD_INCOMPLETE: u16 = 0x01;
const NUD_FAILED: u16 = 0x20;
const IFADDRMSG: usize = 8;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_FLAGS: u16 = 8;

/// The address being set up: duplicate address detection has not finished.
pub const IFA_F_TENTATIVE: u32 = 0x40;
/// The flags whose change means something to detection (temporary, DAD failed, deprecated,
/// tentative); the rest (permanent, no-prefix-route, managed temporary) are masked off.
pub const MEANINGFUL_FLAGS: u32 = 0x01 | 0x08 | 0x20 | IFA_F_TENTATIVE;

/// Whether an address arrived (or changed) or left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressAction {
    New,
    Deleted,
}

/// One address notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressMessage {
    pub action: AddressAction,
    pub index: u32,
    pub prefix_len: u8,
    /// `MEANINGFUL_FLAGS` of the address (from `IFA_FLAGS` when present, else the header).
    pub flags: u32,
    pub address: Option<IpAddr>,
    /// `IFA_LABEL`: IPv4 messages carry the interface's name.
    pub label: Option<String>,
}

impl AddressMessage {
    /// True while duplicate address detection runs on it.
    pub fn is_tentative(&self) -> bool {
        self.flags & IFA_F_TENTATIVE != 0
    }
}

/// Every address message in a datagram, in order. A truncated or malformed message ends the
/// walk; what came before it is kept.
pub fn address_messages(datagram: &[u8]) -> Vec<AddressMessage> {
    walk(datagram)
        .into_iter()
        .filter_map(|(kind, payload)| {
            let action = match kind {
                RTM_NEWADDR => AddressAction::New,
                RTM_DELADDR => AddressAction::Deleted,
                _ => return None,
            };
            address_message(action, payload)
        })
        .collect()
}

/// Every message in a datagram as (type, payload), in order. A truncated or malformed message
/// ends the walk; what came before it is kept.
pub fn walk(datagram: &[u8]) -> Vec<(u16, &[u8])> {
    let mut found = Vec::new();
    let mut offset = 0usize;
    while let Some(header) = datagram.get(offset..offset.saturating_add(NLMSG_HEADER)) {
        let length = u32::from_ne_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let kind = u16::from_ne_bytes([header[4], header[5]]);
        let Some(end) = offset.checked_add(length) else {
            break;
        };
        if length < NLMSG_HEADER || end > datagram.len() {
            break;
        }
        found.push((kind, &datagram[offset + NLMSG_HEADER..end]));
        // Messages are 4-byte aligned; a length that overflows ends the walk.
        let Some(next) = length.checked_add(3).map(|padded| padded & !3) else {
            break;
        };
        offset = offset.saturating_add(next);
    }
    found
}

/// One `ifaddrmsg` and its attributes.
fn address_message(action: AddressAction, payload: &[u8]) -> Option<AddressMessage> {
    let header = payload.get(..IFADDRMSG)?;
    let family = header[0];
    let prefix_len = header[1];
    let mut flags = u32::from(header[2]);
    let index = u32::from_ne_bytes([header[4], header[5], header[6], header[7]]);
    let mut address = None;
    let mut local = None;
    let mut label = None;
    for (kind, value) in attributes(&payload[IFADDRMSG..]) {
        match kind {
            IFA_ADDRESS => address = ip(family, value),
            IFA_LOCAL => local = ip(family, value),
            IFA_LABEL => {
                let end = value
                    .iter()
                    .position(|byte| *byte == 0)
                    .unwrap_or(value.len());
                label = String::from_utf8(value[..end].to_vec()).ok();
            }
            IFA_FLAGS if value.len() >= 4 => {
                flags = u32::from_ne_bytes([value[0], value[1], value[2], value[3]]);
            }
            _ => {}
        }
    }
    Some(AddressMessage {
        action,
        index,
        prefix_len,
        flags: flags & MEANINGFUL_FLAGS,
        // On point-to-point links IFA_LOCAL is this host's address, IFA_ADDRESS the peer's.
        address: local.or(address),
        label,
    })
}

/// Whether a neighbour entry arrived (or changed state) or left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NeighbourAction {
    New,
    Deleted,
}

/// One IPv6 neighbour entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeighbourMessage {
    pub action: NeighbourAction,
    pub index: u32,
    /// The `NUD_*` bits.
    pub state: u16,
    pub address: Option<Ipv6Addr>,
    /// `NDA_LLADDR`; the kernel leaves it out of entries whose MAC is unknown (incomplete,
    /// failed).
    pub mac: Option<[u8; 6]>,
}

impl NeighbourMessage {
    /// True when the entry's MAC is known: reachable, stale, delay, probe, no-ARP or
    /// permanent, and neither incomplete nor failed.
    pub fn is_usable(&self) -> bool {
        self.action == NeighbourAction::New
            && self.state & NUD_USABLE != 0
            && self.state & (NUD_INCOMPLETE | NUD_FAILED) == 0
    }
}

/// The NUD state as `ip neigh` writes it (the strongest bit), for findings and failures.
pub fn state_name(state: u16) -> &'static str {
    [
        (0x80, "permanent"),
        (0x40, "noarp"),
        (0x02, "reachable"),
        (0x04, "stale"),
        (0x08, "delay"),
        (0x10, "probe"),
        (NUD_FAILED, "failed"),
        (NUD_INCOMPLETE, "incomplete"),
    ]
    .into_iter()
    .find(|(bit, _)| state & bit != 0)
    .map_or("none", |(_, name)| name)
}

/// Every IPv6 neighbour message in a datagram, in order (IPv4 entries are skipped).
pub fn neighbour_messages(datagram: &[u8]) -> Vec<NeighbourMessage> {
    walk(datagram)
        .into_iter()
        .filter_map(|(kind, payload)| {
            let action = match kind {
                RTM_NEWNEIGH => NeighbourAction::New,
                RTM_DELNEIGH => NeighbourAction::Deleted,
                _ => return None,
            };
            neighbour_message(action, payload)
        })
        .collect()
}

/// One `ndmsg` and its attributes.
fn neighbour_message(action: NeighbourAction, payload: &[u8]) -> Option<NeighbourMessage> {
    let header = payload.get(..NDMSG)?;
    if i32::from(header[0]) != libc::AF_INET6 {
        return None;
    }
    let index = u32::from_ne_bytes([header[4], header[5], header[6], header[7]]);
    let state = u16::from_ne_bytes([header[8], header[9]]);
    let mut address = None;
    let mut mac = None;
    for (kind, value) in attributes(&payload[NDMSG..]) {
        match kind {
            NDA_DST => {
                address = <[u8; 16]>::try_from(value).ok().map(Ipv6Addr::from);
            }
            NDA_LLADDR => mac = <[u8; 6]>::try_from(value).ok(),
            _ => {}
        }
    }
    Some(NeighbourMessage {
        action,
        index,
        state,
        address,
        mac,
    })
}

/// The request for the IPv6 neighbour table: `RTM_GETNEIGH` with `NLM_F_REQUEST | NLM_F_DUMP`.
pub fn neighbour_dump_request(sequence: u32) -> Vec<u8> {
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    let mut out = Vec::with_capacity(NLMSG_HEADER + NDMSG);
    out.extend_from_slice(&((NLMSG_HEADER + NDMSG) as u32).to_ne_bytes());
    out.extend_from_slice(&RTM_GETNEIGH.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&sequence.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    let mut ndmsg = [0u8; NDMSG];
    ndmsg[0] = libc::AF_INET6 as u8;
    out.extend_from_slice(&ndmsg);
    out
}

/// The (type, value) attributes of a netlink payload.
fn attributes(mut bytes: &[u8]) -> Vec<(u16, &[u8])> {
    let mut found = Vec::new();
    while bytes.len() >= 4 {
        let length = usize::from(u16::from_ne_bytes([bytes[0], bytes[1]]));
        let kind = u16::from_ne_bytes([bytes[2], bytes[3]]) & 0x3fff;
        if length < 4 || length > bytes.len() {
            break;
        }
        found.push((kind, &bytes[4..length]));
        let padded = (length + 3) & !3;
        bytes = &bytes[padded.min(bytes.len())..];
    }
    found
}

fn ip(family: u8, value: &[u8]) -> Option<IpAddr> {
    match (i32::from(family), value.len()) {
        (libc::AF_INET, 4) => Some(IpAddr::V4(Ipv4Addr::new(
            value[0], value[1], value[2], value[3],
        ))),
        (libc::AF_INET6, 16) => {
            let bytes: [u8; 16] = value.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

/// Builds an address message the way the kernel does: for tests and the fuzzer's seeds.
#[cfg(test)]
pub fn encode(
    kind: u16,
    index: u32,
    address: IpAddr,
    prefix_len: u8,
    flags: u32,
    label: &str,
) -> Vec<u8> {
    fn attribute(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
        out.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(value);
        while out.len() % 4 != 0 {
            out.push(0);
        }
    }
    let family = if address.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    } as u8;
    let mut payload = vec![family, prefix_len, (flags & 0xff) as u8, 0];
    payload.extend_from_slice(&index.to_ne_bytes());
    let bytes = match address {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    attribute(&mut payload, IFA_ADDRESS, &bytes);
    let mut name = label.as_bytes().to_vec();
    name.push(0);
    attribute(&mut payload, IFA_LABEL, &name);
    attribute(&mut payload, IFA_FLAGS, &flags.to_ne_bytes());
    let mut out = Vec::new();
    out.extend_from_slice(&((NLMSG_HEADER + payload.len()) as u32).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&[0; 10]);
    out.extend_from_slice(&payload);
    out
}

/// Builds a neighbour message the way the kernel does: for tests and the fuzzer's seeds.
#[cfg(test)]
pub fn encode_neighbour(
    kind: u16,
    index: u32,
    address: Ipv6Addr,
    state: u16,
    mac: Option<[u8; 6]>,
) -> Vec<u8> {
    let mut payload = vec![libc::AF_INET6 as u8, 0, 0, 0];
    payload.extend_from_slice(&index.to_ne_bytes());
    payload.extend_from_slice(&state.to_ne_bytes());
    payload.extend_from_slice(&[0, 1]);
    let mut attribute = |kind: u16, value: &[u8]| {
        payload.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        payload.extend_from_slice(&kind.to_ne_bytes());
        payload.extend_from_slice(value);
        while payload.len() % 4 != 0 {
            payload.push(0);
        }
    };
    attribute(NDA_DST, &address.octets());
    if let Some(mac) = mac {
        attribute(NDA_LLADDR, &mac);
    }
    let mut out = Vec::new();
    out.extend_from_slice(&((NLMSG_HEADER + payload.len()) as u32).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&[0; 10]);
    out.extend_from_slice(&payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_messages_carry_index_address_prefix_and_flags() {
        let v6: IpAddr = "2a01:4f8:c0c:1234::1".parse().expect("ip");
        let mut datagram = encode(RTM_NEWADDR, 7, v6, 64, IFA_F_TENTATIVE | 0x80, "");
        datagram.extend(encode(
            RTM_DELADDR,
            3,
            "81.23.45.99".parse().expect("ip"),
            32,
            0,
            "ppp0",
        ));
        datagram.extend(encode(16, 3, v6, 64, 0, "ppp0"));
        let messages = address_messages(&datagram);
        assert_eq!(
            messages.len(),
            2,
            "a link message is not an address message"
        );
        assert_eq!(messages[0].action, AddressAction::New);
        assert_eq!(messages[0].index, 7);
        assert_eq!(messages[0].address, Some(v6));
        assert_eq!(messages[0].prefix_len, 64);
        assert!(messages[0].is_tentative());
        assert_eq!(messages[0].flags & 0x80, 0, "permanent is masked off");
        assert_eq!(messages[1].action, AddressAction::Deleted);
        assert_eq!(messages[1].label.as_deref(), Some("ppp0"));
    }

    #[test]
    fn truncated_and_garbage_datagrams_give_what_came_before() {
        let v4: IpAddr = "81.23.45.99".parse().expect("ip");
        let whole = encode(RTM_NEWADDR, 3, v4, 32, 0, "ppp0");
        assert!(address_messages(&whole[..20]).is_empty());
        assert!(address_messages(&[0xff; 40]).is_empty());
        let mut two = whole.clone();
        two.extend_from_slice(&[0xff; 17]);
        assert_eq!(address_messages(&two).len(), 1);
    }

    #[test]
    fn neighbour_messages_carry_index_address_mac_and_state() {
        let address: Ipv6Addr = "2a01:4f8:c0c:1234:abcd::5".parse().expect("ip");
        let mac = [2, 0x11, 0x22, 0x33, 0x44, 0x55];
        let mut datagram = encode_neighbour(RTM_NEWNEIGH, 4, address, 0x04, Some(mac));
        datagram.extend(encode_neighbour(RTM_NEWNEIGH, 4, address, NUD_FAILED, None));
        datagram.extend(encode_neighbour(RTM_DELNEIGH, 4, address, 0x80, Some(mac)));
        datagram.extend(encode(RTM_NEWADDR, 3, IpAddr::V6(address), 64, 0, ""));
        let messages = neighbour_messages(&datagram);
        assert_eq!(messages.len(), 3, "an address message is not a neighbour");
        assert_eq!(messages[0].index, 4);
        assert_eq!(messages[0].address, Some(address));
        assert_eq!(messages[0].mac, Some(mac));
        assert!(messages[0].is_usable());
        assert_eq!(state_name(messages[0].state), "stale");
        assert!(!messages[1].is_usable(), "failed");
        assert_eq!(messages[1].mac, None);
        assert!(!messages[2].is_usable(), "deleted");
        assert_eq!(neighbour_messages(&datagram[..30]), Vec::new());
        let request = neighbour_dump_request(7);
        assert_eq!(walk(&request).len(), 1);
        assert_eq!(walk(&request)[0].0, RTM_GETNEIGH);
    }
}
