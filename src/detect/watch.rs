//! The firewall host's fast path: the kernel's address notifications (rtnetlink multicast
//! groups RTMGRP_IPV4_IFADDR and RTMGRP_IPV6_IFADDR) on one non-blocking netlink socket in the
//! daemon's own `select!`, so a new WAN address starts a cycle within a second instead of at
//! the next interval. Messages are parsed by the pure `netlink` module; here they become
//! `Change`s: only messages from the kernel count, a notification that only refreshes an
//! address's lifetimes (every router advertisement sends one) is no change, and a tentative
//! address (duplicate address detection still running) says so, for the daemon to wait for
//! it. With `neigh:` records it also subscribes to neighbour changes (RTMGRP_NEIGH) and
//! counts only those of a configured MAC that change which global addresses it usably holds:
//! a reachable ↔ stale flip every few seconds is no change. libc, not a route-netlink crate:
//! these few lines cost far less of the binary budget. Any error is the caller's cue to fall
//! back to polling.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use tokio::io::unix::AsyncFd;

use super::netlink::{
    address_messages, neighbour_messages, AddressAction, AddressMessage, NeighbourMessage,
    MEANINGFUL_FLAGS,
};

const RTMGRP_NEIGH: u32 = 0x4;
const RTMGRP_IPV4_IFADDR: u32 = 0x10;
const RTMGRP_IPV6_IFADDR: u32 = 0x100;
/// The most addresses remembered to tell a lifetime refresh from a change.
const MAX_KNOWN: usize = 256;

/// What the watch saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// An address appeared, left, or changed its prefix or flags on a watched interface.
    /// `tentative`: it is still being checked for duplicates (DAD) and cannot be used yet.
    Address { interface: String, tentative: bool },
    /// The global addresses a configured MAC usably holds in the neighbour table changed.
    Neighbour { mac: String },
    /// Notifications were lost (the kernel's buffer overran): anything may have changed.
    Overrun,
}

/// A subscription to address changes on some interfaces.
pub struct Watcher {
    socket: AsyncFd<OwnedFd>,
    buffer: Vec<u8>,
    judge: Judge,
}

/// What turns address messages into changes: the watched names, and what each address
/// looked like last (prefix length and flags, by interface index and address); and for
/// neighbour messages, the configured MACs and the global addresses each usably holds.
struct Judge {
    names: Vec<String>,
    known: BTreeMap<(u32, IpAddr), (u8, u32)>,
    macs: Vec<[u8; 6]>,
    neighbours: BTreeMap<(u32, Ipv6Addr), [u8; 6]>,
}

impl Watcher {
    /// Subscribes. Interfaces that do not exist yet are fine: they are matched by name when
    /// their addresses appear. With `macs`, neighbour changes of those MACs count too.
    pub fn open(names: &[String], macs: &[[u8; 6]]) -> io::Result<Watcher> {
        // SAFETY: socket() takes no pointers; the result is checked before use.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a new, valid descriptor that nothing else owns.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_nl is plain data; all-zero is a valid value to start from.
        let mut address: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        address.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        address.nl_groups = RTMGRP_IPV4_IFADDR
            | RTMGRP_IPV6_IFADDR
            | if macs.is_empty() { 0 } else { RTMGRP_NEIGH };
        // SAFETY: bind reads `size_of::<sockaddr_nl>()` bytes from a valid sockaddr_nl.
        let bound = unsafe {
            libc::bind(
                owned.as_raw_fd(),
                (&address as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if bound < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the OwnedFd is moved into the AsyncFd, so its descriptor stays open and the
        // same until the AsyncFd is dropped.
        let socket = unsafe { AsyncFd::register(owned) }?;
        let mut judge = Judge {
            names: names.to_vec(),
            known: BTreeMap::new(),
            macs: macs.to_vec(),
            neighbours: BTreeMap::new(),
        };
        judge.seed();
        Ok(Watcher {
            socket,
            buffer: vec![0; 64 * 1024],
            judge,
        })
    }

    /// Subscribes to address changes on the `[detect] watch` interfaces, and to neighbour changes
    /// of the `neigh:` MACs; on failure, one warning and polling only.
    pub fn for_config(config: &crate::config::Config) -> Option<Watcher> {
        let names = &config.detect.watch;
        if names.is_empty() {
            return None;
        }
        let macs = config.neighbour_macs();
        match Watcher::open(names, &macs) {
            Ok(watcher) => {
                for missing in watcher.missing() {
                    tracing::info!("interface {missing} does not exist yet; its addresses are watched for when it appears");
                }
                tracing::info!("watching the addresses of {}", names.join(", "));
                if !macs.is_empty() {
                    let shown: Vec<String> = macs.iter().map(crate::prefix::format_mac).collect();
                    tracing::info!("watching the neighbour table for {}", shown.join(", "));
                }
                Some(watcher)
            }
            Err(error) => {
                tracing::warn!(
                    "cannot watch interface addresses ({error}); checking on the interval only"
                );
                None
            }
        }
    }

    /// A new watch after a reload, when the names or the MACs changed.
    pub fn reopen(current: Option<Watcher>, config: &crate::config::Config) -> Option<Watcher> {
        match current {
            Some(watcher)
                if watcher.names() == config.detect.watch.as_slice()
                    && watcher.macs() == config.neighbour_macs().as_slice() =>
            {
                Some(watcher)
            }
            _ => Watcher::for_config(config),
        }
    }

    /// The interfaces watched.
    pub fn names(&self) -> &[String] {
        &self.judge.names
    }

    /// The MACs whose neighbour entries are watched.
    pub fn macs(&self) -> &[[u8; 6]] {
        &self.judge.macs
    }

    /// The watched interfaces that do not exist now.
    pub fn missing(&self) -> Vec<&str> {
        self.judge
            .names
            .iter()
            .filter(|name| interface_index(name).is_none())
            .map(String::as_str)
            .collect()
    }

    /// Waits for an address to appear on, leave or change on a watched interface.
    pub async fn changed(&mut self) -> io::Result<Change> {
        loop {
            let mut guard = self.socket.readable().await?;
            let fd = self.socket.get_ref().as_raw_fd();
            let buffer = &mut self.buffer;
            let read = guard.try_io(|_| {
                // SAFETY: sockaddr_nl is plain data; all-zero is a valid value to start from.
                let mut sender: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
                let mut sender_length = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
                // SAFETY: recvfrom writes at most buffer.len() bytes into the buffer we own and
                // at most sender_length bytes into the sockaddr_nl we own.
                let count = unsafe {
                    libc::recvfrom(
                        fd,
                        buffer.as_mut_ptr().cast(),
                        buffer.len(),
                        0,
                        (&mut sender as *mut libc::sockaddr_nl).cast(),
                        &mut sender_length,
                    )
                };
                if count < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    // Only the kernel (port 0) speaks for the addresses; a local process
                    // sending to this socket is ignored.
                    Ok((usize::try_from(count).unwrap_or(0), sender.nl_pid == 0))
                }
            });
            match read {
                Err(_would_block) => continue,
                Ok(Err(error)) if error.raw_os_error() == Some(libc::ENOBUFS) => {
                    self.judge.seed();
                    return Ok(Change::Overrun);
                }
                Ok(Err(error)) => return Err(error),
                Ok(Ok((0, _))) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "netlink closed",
                    ))
                }
                Ok(Ok((_, false))) => continue,
                Ok(Ok((count, true))) => {
                    let datagram = &self.buffer[..count.min(self.buffer.len())];
                    // Both are judged, so both remember what they saw.
                    let address = self.judge.judge(&address_messages(datagram));
                    let neighbour = self.judge.judge_neighbours(&neighbour_messages(datagram));
                    if let Some(change) = address.or(neighbour) {
                        return Ok(change);
                    }
                }
            }
        }
    }
}

impl Judge {
    /// Learns the addresses the watched interfaces hold now, so that the first lifetime
    /// refresh of an address that was already there is no change either. (After an
    /// overrun the table is read again.)
    fn seed(&mut self) {
        self.known.clear();
        let indexes: Vec<(u32, &String)> = self
            .names
            .iter()
            .filter_map(|name| interface_index(name).map(|index| (index, name)))
            .collect();
        for (index, address, prefix_len, flags) in crate::detect::iface::ipv6_table() {
            if indexes.iter().any(|(watched, _)| *watched == index) {
                self.known
                    .insert((index, address), (prefix_len, flags & MEANINGFUL_FLAGS));
            }
        }
        for (index, name) in indexes {
            for (address, prefix_len) in crate::detect::iface::ipv4_addresses(name) {
                self.known.insert((index, address), (prefix_len, 0));
            }
        }
        self.neighbours.clear();
        if !self.macs.is_empty() {
            let macs = &self.macs;
            let table =
                super::neigh::table(&|entry| entry.mac.is_some_and(|mac| macs.contains(&mac)))
                    .unwrap_or_default();
            self.judge_neighbours(&table.entries);
        }
    }

    /// The first neighbour change among `messages`: a configured MAC gained or lost a global
    /// address it usably holds (a new MAC at an address counts for both MACs). A state change
    /// between usable states (reachable, stale, delay, probe) is no change.
    fn judge_neighbours(&mut self, messages: &[NeighbourMessage]) -> Option<Change> {
        let mut change = None;
        for message in messages {
            let Some(address) = message.address else {
                continue;
            };
            if crate::detect::filter::publishable(IpAddr::V6(address)).is_err() {
                continue;
            }
            let key = (message.index, address);
            let before = self.neighbours.get(&key).copied();
            let now = message
                .mac
                .filter(|mac| message.is_usable() && self.macs.contains(mac));
            if before == now {
                continue;
            }
            match now {
                Some(mac) => {
                    if self.neighbours.len() >= MAX_KNOWN {
                        self.neighbours.clear();
                    }
                    self.neighbours.insert(key, mac);
                }
                None => {
                    self.neighbours.remove(&key);
                }
            }
            if change.is_none() {
                if let Some(mac) = now.or(before) {
                    change = Some(Change::Neighbour {
                        mac: crate::prefix::format_mac(&mac),
                    });
                }
            }
        }
        change
    }

    /// The first change among `messages` on a watched interface; remembers what each
    /// address looks like, so that a lifetime refresh is no change.
    fn judge(&mut self, messages: &[AddressMessage]) -> Option<Change> {
        let mut change = None;
        for message in messages {
            let name = interface_name(message.index).or_else(|| message.label.clone());
            let Some(name) = name.filter(|name| self.names.iter().any(|watched| watched == name))
            else {
                continue;
            };
            let changed = match (message.action, message.address) {
                (AddressAction::New, Some(address)) => {
                    let now = (message.prefix_len, message.flags);
                    if self.known.len() >= MAX_KNOWN {
                        self.known.clear();
                    }
                    self.known.insert((message.index, address), now) != Some(now)
                }
                (AddressAction::Deleted, Some(address)) => {
                    self.known.remove(&(message.index, address));
                    true
                }
                (_, None) => true,
            };
            if changed && change.is_none() {
                change = Some(Change::Address {
                    interface: name,
                    tentative: message.action == AddressAction::New && message.is_tentative(),
                });
            }
        }
        change
    }
}

/// The name of interface `index`, if it exists.
pub(crate) fn interface_name(index: u32) -> Option<String> {
    let mut buffer = [0u8; libc::IF_NAMESIZE];
    // SAFETY: if_indextoname writes at most IF_NAMESIZE bytes into the buffer we own.
    let result = unsafe { libc::if_indextoname(index, buffer.as_mut_ptr().cast()) };
    if result.is_null() {
        return None;
    }
    let end = buffer
        .iter()
        .position(|byte| *byte == 0)
        .unwrap_or(buffer.len());
    String::from_utf8(buffer[..end].to_vec()).ok()
}

/// The index of interface `name`, if it exists.
pub(crate) fn interface_index(name: &str) -> Option<u32> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: if_nametoindex reads a valid NUL-terminated string.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::netlink::{encode, RTM_DELADDR, RTM_NEWADDR};

    #[test]
    fn a_lifetime_refresh_is_no_change_and_a_tentative_address_says_so() {
        // Without a socket: `judge` is the whole policy. Index 999999 has no interface, so
        // the name comes from the label.
        let socket_free = |names: &[&str]| Judge {
            names: names.iter().map(|name| name.to_string()).collect(),
            known: BTreeMap::new(),
            macs: Vec::new(),
            neighbours: BTreeMap::new(),
        };
        let mut watch = socket_free(&["ppp0"]);
        let v6: IpAddr = "2a01:4f8:c0c:1234::1".parse().expect("ip");
        let tentative = encode(RTM_NEWADDR, 999_999, v6, 64, 0x40, "ppp0");
        let settled = encode(RTM_NEWADDR, 999_999, v6, 64, 0, "ppp0");
        let gone = encode(RTM_DELADDR, 999_999, v6, 64, 0, "ppp0");
        let elsewhere = encode(RTM_NEWADDR, 999_999, v6, 64, 0, "eth9");
        let address = |tentative| {
            Some(Change::Address {
                interface: "ppp0".to_string(),
                tentative,
            })
        };
        assert_eq!(watch.judge(&address_messages(&tentative)), address(true));
        assert_eq!(watch.judge(&address_messages(&settled)), address(false));
        assert_eq!(watch.judge(&address_messages(&settled)), None, "a refresh");
        assert_eq!(watch.judge(&address_messages(&elsewhere)), None);
        assert_eq!(watch.judge(&address_messages(&gone)), address(false));
    }

    #[test]
    fn only_a_configured_mac_gaining_or_losing_an_address_is_a_neighbour_change() {
        use crate::detect::netlink::{encode_neighbour, RTM_DELNEIGH, RTM_NEWNEIGH};
        let mac = [2, 0x11, 0x22, 0x33, 0x44, 0x55];
        let other = [2, 0x66, 0x77, 0x88, 0x99, 0xaa];
        let mut watch = Judge {
            names: vec!["lan0".to_string()],
            known: BTreeMap::new(),
            macs: vec![mac],
            neighbours: BTreeMap::new(),
        };
        let address: Ipv6Addr = "2a01:4f8:c0c:1234:abcd::5".parse().expect("ip");
        let moved: Ipv6Addr = "2a01:4f8:c0c:1234:abcd::6".parse().expect("ip");
        let link_local: Ipv6Addr = "fe80::11:22ff:fe33:4455".parse().expect("ip");
        let mut see = |kind, address, state, mac| {
            watch.judge_neighbours(&neighbour_messages(&encode_neighbour(
                kind, 4, address, state, mac,
            )))
        };
        let changed = Some(Change::Neighbour {
            mac: "02:11:22:33:44:55".to_string(),
        });
        let (reachable, stale, failed) = (0x02, 0x04, 0x20);
        assert_eq!(see(RTM_NEWNEIGH, address, reachable, Some(mac)), changed);
        assert_eq!(see(RTM_NEWNEIGH, address, stale, Some(mac)), None, "a flip");
        assert_eq!(
            see(RTM_NEWNEIGH, address, reachable, Some(mac)),
            None,
            "a flip"
        );
        assert_eq!(see(RTM_NEWNEIGH, link_local, reachable, Some(mac)), None);
        assert_eq!(
            see(RTM_NEWNEIGH, moved, stale, Some(other)),
            None,
            "another MAC"
        );
        assert_eq!(see(RTM_NEWNEIGH, moved, stale, Some(mac)), changed);
        assert_eq!(see(RTM_NEWNEIGH, address, failed, None), changed, "gone");
        assert_eq!(see(RTM_NEWNEIGH, address, failed, None), None);
        assert_eq!(see(RTM_DELNEIGH, moved, stale, Some(mac)), changed);
        assert_eq!(see(RTM_DELNEIGH, moved, stale, Some(mac)), None);
    }
}
