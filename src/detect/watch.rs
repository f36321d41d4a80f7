//! The firewall host's fast path: the kernel's address notifications (rtnetlink multicast
//! groups RTMGRP_IPV4_IFADDR and RTMGRP_IPV6_IFADDR) on one non-blocking netlink socket in the
//! daemon's own `select!`, so a new WAN address starts a cycle within a second instead of at
//! the next interval. It reads only `RTM_NEWADDR`/`RTM_DELADDR` headers and the interface's
//! index (or `IFA_LABEL`), straight from the socket with libc: a route-netlink crate would add
//! far more to the binary than these few lines, and the 4 MiB budget is near. Any error is the
//! caller's cue to fall back to polling.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use tokio::io::unix::AsyncFd;

const RTMGRP_IPV4_IFADDR: u32 = 0x10;
const RTMGRP_IPV6_IFADDR: u32 = 0x100;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const IFA_LABEL: u16 = 3;
const NLMSG_HEADER: usize = 16;
const IFADDRMSG: usize = 8;

/// A subscription to address changes on some interfaces.
pub struct Watcher {
    socket: AsyncFd<OwnedFd>,
    names: Vec<String>,
    buffer: Vec<u8>,
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
        Ok(Watcher {
            socket,
            names: names.to_vec(),
            buffer: vec![0; 64 * 1024],
        })
    }

    /// The interfaces watched.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The watched interfaces that do not exist now.
    pub fn missing(&self) -> Vec<&str> {
        self.names
            .iter()
            .filter(|name| interface_index(name).is_none())
            .map(String::as_str)
            .collect()
    }

    /// Waits for an address to appear on or leave a watched interface; returns its name.
    /// (A lost notification, the kernel's buffer overrun, counts as a change: `*`.)
    pub async fn changed(&mut self) -> io::Result<String> {
        loop {
            let mut guard = self.socket.readable().await?;
            let fd = self.socket.get_ref().as_raw_fd();
            let buffer = &mut self.buffer;
            let read = guard.try_io(|_| {
                // SAFETY: recv writes at most buffer.len() bytes into the buffer we own.
                let count = unsafe { libc::recv(fd, buffer.as_mut_ptr().cast(), buffer.len(), 0) };
                if count < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(count as usize)
                }
            });
            match read {
                Err(_would_block) => continue,
                Ok(Err(error)) if error.raw_os_error() == Some(libc::ENOBUFS) => {
                    return Ok("*".to_string())
                }
                Ok(Err(error)) => return Err(error),
                Ok(Ok(0)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "netlink closed",
                    ))
                }
                Ok(Ok(count)) => {
                    if let Some(name) = watched_change(&self.buffer[..count], &self.names) {
                        return Ok(name);
                    }
                }
            }
        }
    }
}

/// The first watched interface named by an address message in `messages`.
pub fn watched_change(messages: &[u8], names: &[String]) -> Option<String> {
    let mut offset = 0;
    while offset + NLMSG_HEADER <= messages.len() {
        let length = u32::from_ne_bytes(messages[offset..offset + 4].try_into().ok()?) as usize;
        let kind = u16::from_ne_bytes(messages[offset + 4..offset + 6].try_into().ok()?);
        if length < NLMSG_HEADER || offset + length > messages.len() {
            return None;
        }
        let payload = &messages[offset + NLMSG_HEADER..offset + length];
        if (kind == RTM_NEWADDR || kind == RTM_DELADDR) && payload.len() >= IFADDRMSG {
            let index = u32::from_ne_bytes(payload[4..8].try_into().ok()?);
            let name = interface_name(index).or_else(|| label(&payload[IFADDRMSG..]));
            if let Some(name) = name.filter(|name| names.iter().any(|watched| watched == name)) {
                return Some(name);
            }
        }
        offset += (length + 3) & !3;
    }
    None
}

/// The `IFA_LABEL` attribute (IPv4 messages carry the interface's name in it).
fn label(mut attributes: &[u8]) -> Option<String> {
    while attributes.len() >= 4 {
        let length = u16::from_ne_bytes([attributes[0], attributes[1]]) as usize;
        let kind = u16::from_ne_bytes([attributes[2], attributes[3]]);
        if length < 4 || length > attributes.len() {
            return None;
        }
        if kind == IFA_LABEL {
            let value = &attributes[4..length];
            let end = value
                .iter()
                .position(|byte| *byte == 0)
                .unwrap_or(value.len());
            return String::from_utf8(value[..end].to_vec()).ok();
        }
        attributes = &attributes[((length + 3) & !3).min(attributes.len())..];
    }
    None
}

fn interface_name(index: u32) -> Option<String> {
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

fn interface_index(name: &str) -> Option<u32> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: if_nametoindex reads a valid NUL-terminated string.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RTM_NEWADDR for interface index `index` with an IFA_LABEL of `label`.
    fn message(kind: u16, index: u32, label: &str) -> Vec<u8> {
        let mut attribute = Vec::new();
        let value_length = label.len() + 1;
        attribute.extend_from_slice(&((4 + value_length) as u16).to_ne_bytes());
        attribute.extend_from_slice(&IFA_LABEL.to_ne_bytes());
        attribute.extend_from_slice(label.as_bytes());
        attribute.push(0);
        while attribute.len() % 4 != 0 {
            attribute.push(0);
        }
        let mut payload = vec![libc::AF_INET as u8, 24, 0, 0];
        payload.extend_from_slice(&index.to_ne_bytes());
        payload.extend_from_slice(&attribute);
        let mut out = Vec::new();
        out.extend_from_slice(&((NLMSG_HEADER + payload.len()) as u32).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(&[0; 10]);
        out.extend_from_slice(&payload);
        out
    }

    #[test]
    fn address_messages_name_their_interface() {
        let names = vec!["ppp0".to_string()];
        // An index no interface has: the name comes from the label.
        let new = message(RTM_NEWADDR, 999_999, "ppp0");
        assert_eq!(watched_change(&new, &names), Some("ppp0".to_string()));
        let other = message(RTM_DELADDR, 999_999, "eth9");
        assert_eq!(watched_change(&other, &names), None);
        let mut both = other.clone();
        both.extend_from_slice(&new);
        assert_eq!(watched_change(&both, &names), Some("ppp0".to_string()));
        // A link message (RTM_NEWLINK = 16) is not an address change.
        assert_eq!(watched_change(&message(16, 999_999, "ppp0"), &names), None);
        // Garbage never panics.
        assert_eq!(watched_change(&[0xff; 40], &names), None);
        assert_eq!(watched_change(&new[..20], &names), None);
    }
}
