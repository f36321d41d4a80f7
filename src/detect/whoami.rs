//! `cloudflare.dns`: asks a resolver "who am I" (TXT whoami.cloudflare, class CH), which
//! answers with the address the question came from. The socket is bound to the family asked
//! for, so a dual-stack host reports the right address for each record type.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use hickory_proto::ProtoError;

use super::providers::AnswerError;
use crate::model::Family;

/// Why the whoami question gave no address. `Display` is a phrase that follows the
/// provider's name.
#[derive(Clone, Debug, thiserror::Error)]
pub enum WhoamiError {
    #[error("failed: cannot open a socket ({0})")]
    Socket(Arc<std::io::Error>),
    #[error("failed: cannot reach {server} ({error})")]
    Connect {
        server: SocketAddr,
        error: Arc<std::io::Error>,
    },
    /// The question could not be written (the name or the message).
    #[error("failed: {0}")]
    Message(ProtoError),
    #[error("failed: cannot send to {server} ({error})")]
    Send {
        server: SocketAddr,
        error: Arc<std::io::Error>,
    },
    #[error("failed: {0}")]
    Receive(Arc<std::io::Error>),
    #[error("failed: {server} did not answer within {}", humantime::format_duration(*timeout))]
    Timeout {
        server: SocketAddr,
        timeout: Duration,
    },
    /// The answer to our question holds no TXT record; `code` is its response code.
    #[error("answered {code} with no TXT record")]
    NoTxt { code: ResponseCode },
    /// The TXT record holds no address.
    #[error("{0}")]
    Answer(AnswerError),
}

/// Asks `server` and returns the address in its TXT answer.
pub async fn ask(
    server: SocketAddr,
    family: Family,
    timeout: Duration,
) -> Result<IpAddr, WhoamiError> {
    let question = async {
        let bind: SocketAddr = match family {
            Family::V4 => (Ipv4Addr::UNSPECIFIED, 0).into(),
            Family::V6 => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = tokio::net::UdpSocket::bind(bind)
            .await
            .map_err(|error| WhoamiError::Socket(Arc::new(error)))?;
        socket
            .connect(server)
            .await
            .map_err(|error| WhoamiError::Connect {
                server,
                error: Arc::new(error),
            })?;
        let name = Name::from_ascii("whoami.cloudflare.").map_err(WhoamiError::Message)?;
        let mut query = Query::query(name, RecordType::TXT);
        query.set_query_class(DNSClass::CH);
        let mut message = Message::query();
        message.add_query(query);
        message.metadata.recursion_desired = true;
        let packet = message.to_vec().map_err(WhoamiError::Message)?;
        socket
            .send(&packet)
            .await
            .map_err(|error| WhoamiError::Send {
                server,
                error: Arc::new(error),
            })?;
        let mut buffer = vec![0u8; 1232];
        loop {
            let length = socket
                .recv(&mut buffer)
                .await
                .map_err(|error| WhoamiError::Receive(Arc::new(error)))?;
            // Stray or unreadable datagrams are ignored; only the answer to our question counts.
            if let Some(answer) = answer_to(&buffer[..length], message.metadata.id) {
                return answer;
            }
        }
    };
    tokio::time::timeout(timeout, question)
        .await
        .unwrap_or(Err(WhoamiError::Timeout { server, timeout }))
}

/// The address in a datagram that answers question `id`, or None when the datagram is not
/// that answer. Outside input: any bytes give a value or None, never a panic (`fuzz.rs`).
pub fn answer_to(datagram: &[u8], id: u16) -> Option<Result<IpAddr, WhoamiError>> {
    let answer = Message::from_vec(datagram).ok()?;
    (answer.metadata.id == id).then(|| parse_answer(&answer))
}

fn parse_answer(answer: &Message) -> Result<IpAddr, WhoamiError> {
    for record in &answer.answers {
        if let RData::TXT(txt) = &record.data {
            let text: String = txt
                .txt_data
                .iter()
                .map(|part| String::from_utf8_lossy(part).to_string())
                .collect();
            return crate::detect::parse_plain(&text).map_err(WhoamiError::Answer);
        }
    }
    Err(WhoamiError::NoTxt {
        code: answer.metadata.response_code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::TXT;
    use hickory_proto::rr::Record;

    /// An answer to question `id` with `code` and, when given, one TXT record.
    fn answer(id: u16, code: ResponseCode, txt: Option<&str>) -> Vec<u8> {
        let mut message = Message::query();
        message.metadata.id = id;
        message.metadata.response_code = code;
        if let Some(text) = txt {
            let name = Name::from_ascii("whoami.cloudflare.").expect("name");
            message.add_answer(Record::from_rdata(
                name,
                0,
                RData::TXT(TXT::new(vec![text.to_string()])),
            ));
        }
        message.to_vec().expect("encodes")
    }

    #[test]
    fn answers_are_read_by_kind() {
        let ip = |text: &str| text.parse::<IpAddr>().expect("ip");
        assert!(matches!(
            answer_to(&answer(7, ResponseCode::NoError, Some("81.23.45.99")), 7),
            Some(Ok(found)) if found == ip("81.23.45.99")
        ));
        assert!(
            answer_to(&answer(8, ResponseCode::NoError, Some("81.23.45.99")), 7).is_none(),
            "another question's answer is not ours"
        );
        let refused = answer_to(&answer(7, ResponseCode::Refused, None), 7);
        assert!(
            matches!(
                refused,
                Some(Err(WhoamiError::NoTxt {
                    code: ResponseCode::Refused
                }))
            ),
            "{refused:?}"
        );
        let garbage = answer_to(&answer(7, ResponseCode::NoError, Some("garbage")), 7);
        assert!(
            matches!(&garbage, Some(Err(WhoamiError::Answer(AnswerError::NotAddress { shown }))) if shown == "garbage"),
            "{garbage:?}"
        );
        assert_eq!(
            WhoamiError::NoTxt {
                code: ResponseCode::Refused
            }
            .to_string(),
            "answered Query Refused with no TXT record"
        );
    }
}
