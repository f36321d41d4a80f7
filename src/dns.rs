//! One DNS question over UDP to servers flaredns names itself: the zone's authoritative
//! nameservers (the in-sync check), a resolver doctor asks, whoami.cloudflare. Messages are
//! built and read by `hickory-proto`; what a full resolver adds (a concurrent cache, search
//! lists, hosts files, connection pools, DNSSEC) buys nothing here, where every question goes
//! to given servers with the cache off, and it weighed more in the binary than all of
//! flaredns's own DNS code (see the size table in the README). A server is tried after the
//! other failed, all within one deadline; an answer is believed only when it is the answer to
//! the question asked (id, name, type and class), from the server asked (a connected socket).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use tokio::time::Instant;

/// The largest answer read (EDNS's common safe size; a longer one is truncated by the server).
const MAX_ANSWER: usize = 1232;

/// Why a question got no usable answer. `Display` is the phrase for the log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("{0} is not a DNS name")]
    BadName(String),
    #[error("no server to ask")]
    NoServer,
    #[error("cannot ask {server}: {detail}")]
    Socket { server: SocketAddr, detail: String },
    #[error("no answer from {server} within {}", humantime::format_duration(*timeout))]
    Timeout {
        server: SocketAddr,
        timeout: Duration,
    },
    #[error("{server} answered {code}")]
    Refused { server: SocketAddr, code: String },
    #[error("{server} answered a truncated message")]
    Truncated { server: SocketAddr },
}

/// One question.
#[derive(Clone, Debug)]
pub struct Question {
    pub name: String,
    pub record_type: RecordType,
    pub class: DNSClass,
    /// Ask a resolver to recurse (doctor), or ask an authoritative server (the check).
    pub recursion: bool,
}

/// The answer records of a usable reply (NOERROR or NXDOMAIN; none for NXDOMAIN).
pub type Answers = Vec<Record>;

/// Asks `servers` in turn until one answers usably, all within `timeout`.
pub async fn ask(
    servers: &[SocketAddr],
    question: &Question,
    timeout: Duration,
) -> Result<Answers, DnsError> {
    let name = Name::from_ascii(format!("{}.", question.name.trim_end_matches('.')))
        .map_err(|_| DnsError::BadName(crate::logging::one_line(&question.name)))?;
    let deadline = Instant::now() + timeout;
    let mut last = DnsError::NoServer;
    for (position, server) in servers.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        // A dead first server must leave time for the others.
        let share = left / u32::try_from(servers.len() - position).unwrap_or(1).max(1);
        let share = share.max(left.min(Duration::from_millis(500)));
        match tokio::time::timeout(share, ask_one(*server, &name, question)).await {
            Ok(Ok(answers)) => return Ok(answers),
            Ok(Err(error)) => last = error,
            Err(_) => {
                last = DnsError::Timeout {
                    server: *server,
                    timeout: share,
                }
            }
        }
    }
    Err(last)
}

/// The addresses among answer records, with their TTLs.
pub fn addresses(answers: &[Record]) -> Vec<(IpAddr, u32)> {
    answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::A(a) => Some((IpAddr::V4(a.0), record.ttl)),
            RData::AAAA(aaaa) => Some((IpAddr::V6(aaaa.0), record.ttl)),
            _ => None,
        })
        .collect()
}

/// The target of the first CNAME among answer records, without the final dot.
pub fn cname(answers: &[Record]) -> Option<String> {
    answers.iter().find_map(|record| match &record.data {
        RData::CNAME(target) => Some(target.0.to_string().trim_end_matches('.').to_string()),
        _ => None,
    })
}

async fn ask_one(
    server: SocketAddr,
    name: &Name,
    question: &Question,
) -> Result<Answers, DnsError> {
    let socket_error = |detail: std::io::Error| DnsError::Socket {
        server,
        detail: detail.to_string(),
    };
    let bind: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = tokio::net::UdpSocket::bind(bind)
        .await
        .map_err(socket_error)?;
    socket.connect(server).await.map_err(socket_error)?;
    let mut query = Query::query(name.clone(), question.record_type);
    query.set_query_class(question.class);
    let mut message = Message::query();
    message.add_query(query);
    message.metadata.recursion_desired = question.recursion;
    let id = message.metadata.id;
    let packet = message.to_vec().map_err(|error| DnsError::Socket {
        server,
        detail: error.to_string(),
    })?;
    socket.send(&packet).await.map_err(socket_error)?;
    let mut buffer = vec![0u8; MAX_ANSWER];
    loop {
        let length = socket.recv(&mut buffer).await.map_err(socket_error)?;
        if let Some(answer) = answer_to(&buffer[..length.min(MAX_ANSWER)], id, name, question) {
            return answer.map_err(|problem| problem.at(server));
        }
    }
}

/// What a reply says, before the server is named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    Refused(String),
    Truncated,
}

impl Problem {
    fn at(self, server: SocketAddr) -> DnsError {
        match self {
            Problem::Refused(code) => DnsError::Refused { server, code },
            Problem::Truncated => DnsError::Truncated { server },
        }
    }
}

/// The answer records of `datagram` when it is the reply to question `id` for `name`, or
/// None when it is not (a stray or forged datagram, which is ignored). Outside input: any
/// bytes give a value or None, never a panic (`fuzz.rs`).
pub fn answer_to(
    datagram: &[u8],
    id: u16,
    name: &Name,
    question: &Question,
) -> Option<Result<Answers, Problem>> {
    let reply = Message::from_vec(datagram).ok()?;
    let asked = reply.queries.first()?;
    let same_question = reply.metadata.id == id
        && reply.queries.len() == 1
        && asked.name() == name
        && asked.query_type() == question.record_type
        && asked.query_class() == question.class;
    if !same_question {
        return None;
    }
    if reply.metadata.truncation {
        return Some(Err(Problem::Truncated));
    }
    Some(match reply.metadata.response_code {
        ResponseCode::NoError => Ok(reply.answers),
        ResponseCode::NXDomain => Ok(Vec::new()),
        code => Err(Problem::Refused(code.to_string())),
    })
}
