//! Why detection gave no address, as data: each provider's `Attempt` carries what it answered
//! (an HTTP status, an answer that is not an address, an address of the wrong family or one
//! the filter refuses) as a `ProviderFailure`, so the cycle, doctor and the report read the
//! kind rather than a sentence. `Display` is the sentence a person reads; nothing here shows
//! a provider's URL beyond its scheme and host.

use std::net::IpAddr;

use super::filter::Refusal;
use super::iface::IfaceError;
use super::providers::{AnswerError, Provider};
use super::whoami::WhoamiError;
use crate::model::Family;

/// Detection failed for a family: every provider's attempt, in order (none: no provider is
/// configured).
#[derive(Clone, Debug, thiserror::Error)]
#[error("could not detect this host's public {} address: {}; check the network, or add a provider to [detect].{}", family.describe(), attempts_text(attempts), if *family == Family::V4 { "ipv4" } else { "ipv6" })]
pub struct DetectError {
    pub family: Family,
    pub attempts: Vec<Attempt>,
}

/// One provider asked, and why its answer was not used. `Display`: `PROVIDER PHRASE`.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{provider} {failure}")]
pub struct Attempt {
    pub provider: Provider,
    pub failure: ProviderFailure,
}

/// Why one provider gave no usable address. `Display` is a phrase that follows the
/// provider's name ("answered HTTP 503 Service Unavailable").
#[derive(Clone, Debug, thiserror::Error)]
pub enum ProviderFailure {
    /// The HTTP client for the family could not be built.
    #[error("failed: {0}")]
    Setup(crate::http::SetupError),
    /// No answer: timed out, refused, TLS; already a phrase with the URL redacted
    /// (`http::describe_transport`).
    #[error("failed: {0}")]
    Transport(String),
    #[error("answered HTTP {0}")]
    Status(reqwest::StatusCode),
    #[error("answered with more than {limit} bytes, which is not an address")]
    TooLarge { limit: usize },
    /// The answer holds no address.
    #[error("{0}")]
    Answer(AnswerError),
    /// A DNS provider without a server of this family.
    #[error("has no server for this family")]
    NoServer,
    #[error("{0}")]
    Whoami(WhoamiError),
    #[error("{0}")]
    Iface(IfaceError),
    /// An address of the other family.
    #[error("answered {ip}, which is not an {} address", family.describe())]
    WrongFamily { ip: IpAddr, family: Family },
    /// An address `filter::publishable` refuses.
    #[error("answered {ip}, refused: {reason}")]
    Refused { ip: IpAddr, reason: Refusal },
}

fn attempts_text(attempts: &[Attempt]) -> String {
    if attempts.is_empty() {
        return "no providers are configured".to_string();
    }
    let shown: Vec<String> = attempts.iter().map(ToString::to_string).collect();
    shown.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(provider: &str, failure: ProviderFailure) -> Attempt {
        Attempt {
            provider: Provider::parse(provider).expect("provider"),
            failure,
        }
    }

    #[test]
    fn the_detection_error_lists_each_attempt_in_order() {
        let error = DetectError {
            family: Family::V6,
            attempts: vec![
                attempt(
                    "url:https://ip.example/SECRET?key=SECRET",
                    ProviderFailure::Status(reqwest::StatusCode::SERVICE_UNAVAILABLE),
                ),
                attempt(
                    "static:2001:db8::1",
                    ProviderFailure::Refused {
                        ip: "2001:db8::1".parse().expect("ip"),
                        reason: crate::detect::filter::publishable(
                            "2001:db8::1".parse().expect("ip"),
                        )
                        .expect_err("documentation"),
                    },
                ),
                attempt(
                    "cloudflare.trace",
                    ProviderFailure::Answer(AnswerError::Warp { plus: true }),
                ),
            ],
        };
        let text = error.to_string();
        assert!(
            text.starts_with("could not detect this host's public IPv6 address: url:https://ip.example/<redacted> answered HTTP 503 Service Unavailable; static:2001:db8::1 answered 2001:db8::1, refused: "),
            "{text}"
        );
        assert!(
            text.contains("; cloudflare.trace the trace says warp=plus: "),
            "{text}"
        );
        assert!(
            text.ends_with("; check the network, or add a provider to [detect].ipv6"),
            "{text}"
        );
        assert!(!text.contains("SECRET"), "{text}");
        let none = DetectError {
            family: Family::V4,
            attempts: Vec::new(),
        };
        assert_eq!(none.to_string(), "could not detect this host's public IPv4 address: no providers are configured; check the network, or add a provider to [detect].ipv4");
    }
}
