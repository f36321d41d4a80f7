//! Every way an API call can fail, classified so that callers can act on it: a rate limit
//! is waited out, a challenge page is explained and never retried in a loop, a rejected token
//! says so, and Cloudflare's own code and message are always shown.

use std::fmt;
use std::time::Duration;

/// One `{code, message}` pair from Cloudflare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloudflareMessage {
    pub code: u64,
    pub message: String,
}

impl fmt::Display for CloudflareMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message.trim_end_matches('.'))?;
        if !self.message.is_empty() {
            f.write_str(".")?;
        }
        Ok(())
    }
}

/// A failed API call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("Cloudflare is rate limiting this token (HTTP 429){}; flaredns will wait before asking again", retry_after.map(|d| format!(", retry after {}", humantime::format_duration(d))).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    #[error("Cloudflare answered with a challenge page (HTTP {status}{}) instead of the API; the usual cause is Under Attack mode or a WAF rule matching this host: turn Under Attack mode off for the zone, or add a WAF skip rule for this host's address", if *mitigated { ", cf-mitigated: challenge" } else { ", HTML body" })]
    Challenge { status: u16, mitigated: bool },
    #[error("{}", describe_auth(*status, messages))]
    Auth {
        status: u16,
        messages: Vec<CloudflareMessage>,
    },
    #[error("Cloudflare refused the request (HTTP {status}): {}", join(messages))]
    Api {
        status: u16,
        messages: Vec<CloudflareMessage>,
    },
    #[error("Cloudflare answered HTTP {status} with {what} instead of JSON")]
    NotJson { status: u16, what: String },
    #[error("Cloudflare's answer (HTTP {status}) could not be read: {detail}")]
    Malformed { status: u16, detail: String },
    #[error("the request to Cloudflare failed: {detail}")]
    Transport { detail: String, maybe_applied: bool },
    #[error("flaredns's own request budget is spent ({detail}); it protects your Cloudflare rate limit, and the next cycle will try again")]
    Budget { detail: String },
    #[error("{} until {}, beyond this cycle's deadline; no request was sent, and a later cycle will try again", if *asked_by_cloudflare { "Cloudflare asked flaredns to wait (Retry-After)" } else { "flaredns is backing off after failed requests" }, humantime::format_rfc3339_seconds(*until))]
    WaitTooLong {
        until: std::time::SystemTime,
        asked_by_cloudflare: bool,
    },
}

impl ApiError {
    /// True for errors that waiting may fix (the caller retries within the budget).
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::RateLimited { .. } => true,
            ApiError::Transport { .. } => true,
            ApiError::Api { status, .. }
            | ApiError::NotJson { status, .. }
            | ApiError::Malformed { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// True when a write may have reached Cloudflare although we did not get the answer.
    pub fn maybe_applied(&self) -> bool {
        matches!(
            self,
            ApiError::Transport {
                maybe_applied: true,
                ..
            }
        )
    }
}

fn join(messages: &[CloudflareMessage]) -> String {
    if messages.is_empty() {
        return "no error message given".to_string();
    }
    messages
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn describe_auth(status: u16, messages: &[CloudflareMessage]) -> String {
    if messages.iter().any(|message| message.code == 9109) {
        return format!(
            "Cloudflare refused the API token from this host's address (HTTP {status}, {}): the token is restricted to other IP addresses; add this host's address to the token's client IP address filtering, or remove the filter",
            join(messages)
        );
    }
    format!(
        "Cloudflare rejected the API token (HTTP {status}, {}): check that the token is active and not expired, and that it has Zone:Read and DNS:Edit permission for this zone",
        join(messages)
    )
}

/// Cloudflare's codes that mean "this token cannot do this".
pub(crate) fn is_auth_code(code: u64) -> bool {
    matches!(
        code,
        1000 | 6003 | 6111 | 9103 | 9106 | 9109 | 10000 | 10001
    )
}
