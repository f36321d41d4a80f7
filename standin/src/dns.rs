//! The stand-in's authoritative DNS server: answers A, AAAA, CNAME and TXT questions over UDP
//! from the same records the API serves. Proxied records answer a Cloudflare anycast address,
//! as at Cloudflare; TTL auto answers 300. With `dns_up = false` queries are dropped, which
//! looks like an unreachable server.

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record as DnsRecord, RecordType};

use crate::{Record, State, ZoneState, ANYCAST_V4, ANYCAST_V6};

pub(crate) async fn serve(socket: tokio::net::UdpSocket, state: Arc<Mutex<State>>) {
    let v6 = socket
        .local_addr()
        .map(|address| address.is_ipv6())
        .unwrap_or(false);
    let mut buffer = vec![0u8; 4096];
    loop {
        let Ok((length, peer)) = socket.recv_from(&mut buffer).await else {
            continue;
        };
        let reply = {
            let mut guard = state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            guard.dns_queries += 1;
            if !guard.dns_up {
                continue;
            }
            answer(&guard, &buffer[..length], v6)
        };
        if let Some(bytes) = reply {
            let _ = socket.send_to(&bytes, peer).await;
        }
    }
}

fn answer(state: &State, packet: &[u8], v6: bool) -> Option<Vec<u8>> {
    let request = Message::from_vec(packet).ok()?;
    let mut response = Message::response(request.metadata.id, OpCode::Query);
    response.metadata.message_type = MessageType::Response;
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    let Some(query) = request.queries.first().cloned() else {
        response.metadata.response_code = ResponseCode::FormErr;
        return response.to_vec().ok();
    };
    response.add_query(query.clone());
    let name = query
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    // Cloudflare's "who am I": the client's address, as 1.1.1.1 answers it.
    if name == "whoami.cloudflare"
        && query.query_class() == DNSClass::CH
        && query.query_type() == RecordType::TXT
    {
        let ip = if v6 {
            &state.public_ipv6
        } else {
            &state.public_ipv4
        };
        let mut record = DnsRecord::from_rdata(
            query.name().clone(),
            0,
            RData::TXT(TXT::new(vec![ip.clone()])),
        );
        record.dns_class = DNSClass::CH;
        response.add_answer(record);
        return response.to_vec().ok();
    }
    let zone = state
        .zones
        .iter()
        .filter(|z| name == z.name || name.ends_with(&format!(".{}", z.name)))
        .max_by_key(|z| z.name.len());
    match zone {
        Some(zone) => answer_from_zone(&mut response, zone, &query, &name),
        None => response.metadata.response_code = ResponseCode::Refused,
    }
    response.to_vec().ok()
}

/// Fills in the authoritative answer for `name` from `zone`: NXDOMAIN for a name with
/// nothing at or below it, a CNAME alone, else the records of the type asked.
fn answer_from_zone(response: &mut Message, zone: &ZoneState, query: &Query, name: &str) {
    response.metadata.authoritative = true;
    let here: Vec<&Record> = zone.records.iter().filter(|r| r.name == name).collect();
    if here.is_empty()
        && !zone
            .records
            .iter()
            .any(|r| r.name.ends_with(&format!(".{name}")))
        && name != zone.name
    {
        response.metadata.response_code = ResponseCode::NXDomain;
        return;
    }
    let owner = query.name().clone();
    if let Some(cname) = here.iter().find(|r| r.record_type == "CNAME") {
        if let Ok(target) = Name::from_str(&format!("{}.", cname.content.trim_end_matches('.'))) {
            response.add_answer(DnsRecord::from_rdata(
                owner.clone(),
                answer_ttl(cname),
                RData::CNAME(CNAME(target)),
            ));
        }
        return;
    }
    for record in here
        .iter()
        .filter(|r| r.record_type == query.query_type().to_string())
    {
        if let Some(data) = record_data(record, query.query_type()) {
            response.add_answer(DnsRecord::from_rdata(
                owner.clone(),
                answer_ttl(record),
                data,
            ));
        }
    }
}

/// The TTL DNS shows: 300 for TTL auto and for proxied records, as at Cloudflare.
fn answer_ttl(record: &Record) -> u32 {
    if record.ttl == 1 || record.proxied {
        300
    } else {
        record.ttl
    }
}

/// A record's answer data for a question of type `asked` (A, AAAA or TXT).
fn record_data(record: &Record, asked: RecordType) -> Option<RData> {
    match asked {
        RecordType::A | RecordType::AAAA => {
            // A proxied record answers Cloudflare's anycast address, as at Cloudflare.
            let shown = if record.proxied {
                if asked == RecordType::A {
                    ANYCAST_V4
                } else {
                    ANYCAST_V6
                }
            } else {
                record.content.as_str()
            };
            match shown.parse::<IpAddr>() {
                Ok(IpAddr::V4(v4)) => Some(RData::A(A(v4))),
                Ok(IpAddr::V6(v6)) => Some(RData::AAAA(AAAA(v6))),
                Err(_) => None,
            }
        }
        RecordType::TXT => Some(RData::TXT(TXT::new(vec![record
            .content
            .trim_matches('"')
            .to_string()]))),
        _ => None,
    }
}
