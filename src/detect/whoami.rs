//! `cloudflare.dns`: asks a resolver "who am I" (TXT whoami.cloudflare, class CH), which
//! answers with the address the question came from. The socket is bound to the family asked
//! for, so a dual-stack host reports the right address for each record type.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

use crate::model::Family;

/// Asks `server` and returns the address in its TXT answer.
pub async fn ask(server: SocketAddr, family: Family, timeout: Duration) -> Result<IpAddr, String> {
    let question = async {
        let bind: SocketAddr = match family {
            Family::V4 => (Ipv4Addr::UNSPECIFIED, 0).into(),
            Family::V6 => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = tokio::net::UdpSocket::bind(bind)
            .await
            .map_err(|error| format!("failed: cannot open a socket ({error})"))?;
        socket
            .connect(server)
            .await
            .map_err(|error| format!("failed: cannot reach {server} ({error})"))?;
        let name =
            Name::from_ascii("whoami.cloudflare.").map_err(|error| format!("failed: {error}"))?;
        let mut query = Query::query(name, RecordType::TXT);
        query.set_query_class(DNSClass::CH);
        let mut message = Message::query();
        message.add_query(query);
        message.metadata.recursion_desired = true;
        let packet = message
            .to_vec()
            .map_err(|error| format!("failed: {error}"))?;
        socket
            .send(&packet)
            .await
            .map_err(|error| format!("failed: cannot send to {server} ({error})"))?;
        let mut buffer = vec![0u8; 1232];
        loop {
            let length = socket
                .recv(&mut buffer)
                .await
                .map_err(|error| format!("failed: {error}"))?;
            // Stray or unreadable datagrams are ignored; only the answer to our question counts.
            if let Some(answer) = answer_to(&buffer[..length], message.metadata.id) {
                return answer;
            }
        }
    };
    tokio::time::timeout(timeout, question)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "failed: {server} did not answer within {}",
                humantime::format_duration(timeout)
            ))
        })
}

/// The address in a datagram that answers question `id`, or None when the datagram is not
/// that answer. Outside input: any bytes give a value or None, never a panic (`fuzz.rs`).
pub fn answer_to(datagram: &[u8], id: u16) -> Option<Result<IpAddr, String>> {
    let answer = Message::from_vec(datagram).ok()?;
    (answer.metadata.id == id).then(|| parse_answer(&answer))
}

fn parse_answer(answer: &Message) -> Result<IpAddr, String> {
    for record in &answer.answers {
        if let RData::TXT(txt) = &record.data {
            let text: String = txt
                .txt_data
                .iter()
                .map(|part| String::from_utf8_lossy(part).to_string())
                .collect();
            return crate::detect::parse_plain(&text);
        }
    }
    Err(format!(
        "answered {} with no TXT record",
        answer.metadata.response_code
    ))
}
