//! `ipv6_host = "neigh:MAC"`: the kernel's IPv6 neighbour table, read once per cycle through
//! one route-netlink dump (`RTM_GETNEIGH`), so that a device whose interface id is random
//! (privacy or DHCPv6 addresses) is found by its MAC where the firewall sees it. The bytes are
//! parsed by the pure `netlink` module; this module is only the socket and the caps (entries
//! kept, datagrams read, a receive timeout). It decides nothing about which address a record
//! gets: `cycle::desired` does. libc, not a route-netlink crate, as for the watch.

use std::io;
use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::netlink::{
    neighbour_dump_request, neighbour_messages, state_name, walk, NeighbourMessage, NLMSG_DONE,
    NLMSG_ERROR,
};

/// At most this many entries are kept from one dump; the rest are counted as left out.
pub const MAX_NEIGHBOURS: usize = 4096;
/// At most this many datagrams are read for one dump (a dump of 4096 entries is ~30).
const MAX_DATAGRAMS: usize = 4096;
/// How long the kernel may take to answer a datagram of the dump.
const RECEIVE_TIMEOUT: Duration = Duration::from_secs(2);

/// The IPv6 neighbour entries kept from one dump.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NeighbourTable {
    pub entries: Vec<NeighbourMessage>,
    /// Entries the filter kept beyond `MAX_NEIGHBOURS`, left out.
    pub left_out: usize,
}

/// Why the neighbour table could not be read. `Display` is the sentence's cause and next step.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NeighbourError {
    #[error("cannot open a netlink socket to read the neighbour table ({0}); run flaredns where it may read the host's network state (not in a container without host networking)")]
    Socket(String),
    #[error("reading the neighbour table failed ({0})")]
    Read(String),
    #[error("the kernel refused to list the neighbour table (error {0})")]
    Refused(i32),
    #[error("the neighbour table did not end within {MAX_DATAGRAMS} datagrams")]
    Endless,
}

/// One entry in words: `2a01:4f8:c0c:1234::5 on lan0 (stale)`.
pub fn describe(entry: &NeighbourMessage) -> String {
    let address = entry
        .address
        .map_or_else(|| "no address".to_string(), |address| address.to_string());
    let interface =
        super::watch::interface_name(entry.index).unwrap_or_else(|| format!("#{}", entry.index));
    format!("{address} on {interface} ({})", state_name(entry.state))
}

/// Reads the IPv6 neighbour table, keeping the entries `keep` accepts (at most
/// `MAX_NEIGHBOURS`).
pub fn table(keep: &dyn Fn(&NeighbourMessage) -> bool) -> Result<NeighbourTable, NeighbourError> {
    let socket = open().map_err(|error| NeighbourError::Socket(error.to_string()))?;
    let request = neighbour_dump_request(1);
    // SAFETY: sockaddr_nl is plain data; all-zero (port 0) addresses the kernel.
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: sendto reads request.len() bytes from the request we own and
    // size_of::<sockaddr_nl>() bytes from the address we own.
    let sent = unsafe {
        libc::sendto(
            socket.as_raw_fd(),
            request.as_ptr().cast(),
            request.len(),
            0,
            (&kernel as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(NeighbourError::Read(io::Error::last_os_error().to_string()));
    }
    let mut buffer = vec![0u8; 32 * 1024];
    let mut table = NeighbourTable::default();
    for _ in 0..MAX_DATAGRAMS {
        let (count, from_kernel) = receive(&socket, &mut buffer)
            .map_err(|error| NeighbourError::Read(error.to_string()))?;
        if count == 0 {
            return Err(NeighbourError::Read("the socket closed".to_string()));
        }
        if !from_kernel {
            continue;
        }
        let datagram = &buffer[..count.min(buffer.len())];
        for entry in neighbour_messages(datagram) {
            if entry.address.is_some() && keep(&entry) {
                if table.entries.len() < MAX_NEIGHBOURS {
                    table.entries.push(entry);
                } else {
                    table.left_out = table.left_out.saturating_add(1);
                }
            }
        }
        for (kind, payload) in walk(datagram) {
            match kind {
                NLMSG_DONE => return Ok(table),
                NLMSG_ERROR => {
                    let code = payload.get(..4).map_or(0, |bytes| {
                        i32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
                    });
                    if code != 0 {
                        return Err(NeighbourError::Refused(code.saturating_neg()));
                    }
                }
                _ => {}
            }
        }
    }
    Err(NeighbourError::Endless)
}

/// The entries of `table` with this MAC.
pub fn of_mac<'t>(table: &'t NeighbourTable, mac: &[u8; 6]) -> Vec<&'t NeighbourMessage> {
    table
        .entries
        .iter()
        .filter(|entry| entry.mac.as_ref() == Some(mac))
        .collect()
}

/// The address of a usable entry.
pub fn usable_address(entry: &NeighbourMessage) -> Option<Ipv6Addr> {
    entry.address.filter(|_| entry.is_usable())
}

/// A blocking route-netlink socket with a receive timeout.
fn open() -> io::Result<OwnedFd> {
    // SAFETY: socket() takes no pointers; the result is checked before use.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a new, valid descriptor that nothing else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let timeout = libc::timeval {
        tv_sec: RECEIVE_TIMEOUT.as_secs() as libc::time_t,
        tv_usec: 0,
    };
    // SAFETY: setsockopt reads size_of::<timeval>() bytes from the timeval we own.
    let set = unsafe {
        libc::setsockopt(
            owned.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&timeout as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if set < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(owned)
}

/// One datagram: its length, and whether the kernel (port 0) sent it.
fn receive(socket: &OwnedFd, buffer: &mut [u8]) -> io::Result<(usize, bool)> {
    // SAFETY: sockaddr_nl is plain data; all-zero is a valid value to start from.
    let mut sender: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    let mut sender_length = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
    // SAFETY: recvfrom writes at most buffer.len() bytes into the buffer we borrow and at most
    // sender_length bytes into the sockaddr_nl we own.
    let count = unsafe {
        libc::recvfrom(
            socket.as_raw_fd(),
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            0,
            (&mut sender as *mut libc::sockaddr_nl).cast(),
            &mut sender_length,
        )
    };
    if count < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((usize::try_from(count).unwrap_or(0), sender.nl_pid == 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_can_be_read_here() {
        // Every test host has a neighbour table, if only an empty one; what matters is that
        // the dump ends.
        let table = table(&|_| true).expect("the neighbour table");
        assert!(table.entries.len() <= MAX_NEIGHBOURS);
    }
}
