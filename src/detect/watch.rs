//! The firewall host's fast path: the kernel's address notifications (rtnetlink multicast
//! groups RTMGRP_IPV4_IFADDR and RTMGRP_IPV6_IFADDR) on one non-blocking netlink socket in the
//! daemon's own `select!`, so a new WAN address starts a cycle within a second instead of at
//! the next interval. Messages are parsed by the pure `netlink` module; here they become
//! `Change`s: only messages from the kernel count, a notification that only refreshes an
//! address's lifetimes (every router advertisement sends one) is no change, and a tentative
//! address (duplicate address detection still running) says so, for the daemon to wait for
//! it. libc, not a route-netlink crate: these few lines cost far less of the binary budget.
//! Any error is the caller's cue to fall back to polling.

use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use tokio::io::unix::AsyncFd;

use super::netlink::{address_messages, AddressAction, AddressMessage, MEANINGFUL_FLAGS};

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
/// looked like last (prefix length and flags, by interface index and address).
struct Judge {
    names: Vec<String>,
    known: BTreeMap<(u32, IpAddr), (u8, u32)>,
}

impl Watcher {
    /// Subscribes. Interfaces that do not exist yet are fine: they are matched by name when
    /// their addresses appear.
    pub fn open(names: &[String]) -> io::Result<Watcher> {
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
        address.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
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
        };
        judge.seed();
        Ok(Watcher {
            socket,
            buffer: vec![0; 64 * 1024],
            judge,
        })
    }

    /// The interfaces watched.
    pub fn names(&self) -> &[String] {
        &self.judge.names
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
                    let messages = address_messages(&self.buffer[..count.min(self.buffer.len())]);
                    if let Some(change) = self.judge.judge(&messages) {
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
}
