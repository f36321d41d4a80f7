//! Every way an API call can fail, classified so that callers can act on it: a rate limit
//! is waited out, a challenge page is explained and never retried in a loop, a rejected token
//! says so, and Cloudflare's own code and message are always shown.

use std::fmt;
use std::time::Duration;

use super::budget::WaitReason;

/// One `{code, message}` pair from Cloudflare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloudflareMessage {
    pub code: u64,
    pub message: String,
}

impl fmt::Display for CloudflareMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The message comes from the server: one line, so it cannot forge a log line.
        let message = crate::logging::one_line(&self.message);
        write!(f, "{}: {}", self.code, message.trim_end_matches('.'))?;
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
    #[error("Cloudflare's firewall blocked the request (HTTP {status}: {detail}) instead of answering it; the usual cause is a WAF custom rule, IP access rule or Bot Fight Mode matching this host: add a WAF skip rule for this host's address (see the WAF skip rule in docs/firewall.md), or check Security → Events in the dashboard")]
    Blocked { status: u16, detail: String },
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
    #[error("{reason} until {}, beyond this cycle's deadline; no further request was sent, and a later cycle will try again", humantime::format_rfc3339_seconds(*until))]
    WaitTooLong {
        /// Never more than `budget::MAX_SERVER_WAIT` from when it was set.
        until: std::time::SystemTime,
        reason: WaitReason,
    },
    #[error("Cloudflare's API answered with a redirect (HTTP {status}{}), which flaredns never follows: a redirected write could be lost or sent elsewhere; check api_url", location.as_ref().map(|host| format!(" to {host}")).unwrap_or_default())]
    Redirect {
        status: u16,
        /// Only the scheme and host of the target: a path could carry anything.
        location: Option<String>,
    },
    #[error("Cloudflare's answer (HTTP {status}) to a write did not confirm it: {detail}")]
    Unconfirmed { status: u16, detail: String },
    #[error("the list operation failed at Cloudflare: {detail}")]
    OperationFailed { detail: String },
    #[error("a list operation of this account was still pending or failed earlier in the cycle (Cloudflare allows one at a time); the next cycle checks the list again")]
    OperationPending,
    #[error("flaredns refused to send a request whose path holds `{segment}`, which is not an id; a remembered id may have been edited: delete records.json and zones.json in the state directory")]
    NotAnId { segment: String },
    #[error("Cloudflare's answer is larger than {limit} bytes; flaredns stopped reading it")]
    TooLarge { limit: usize },
    #[error("the list at {path} has more than {limit} pages; flaredns stops there rather than act on half a list")]
    TooManyPages { path: String, limit: u32 },
}

impl ApiError {
    /// The same error with every occurrence of `secret` in text from the server replaced, so
    /// a server that echoes the request cannot make the token part of a log line.
    pub fn redact(mut self, secret: &str) -> ApiError {
        if secret.is_empty() {
            return self;
        }
        let scrub = |text: &mut String| {
            if text.contains(secret) {
                *text = text.replace(secret, "<redacted>");
            }
        };
        match &mut self {
            ApiError::Auth { messages, .. } | ApiError::Api { messages, .. } => {
                for message in messages.iter_mut() {
                    scrub(&mut message.message);
                }
            }
            ApiError::Blocked { detail, .. }
            | ApiError::Malformed { detail, .. }
            | ApiError::Transport { detail, .. }
            | ApiError::Unconfirmed { detail, .. }
            | ApiError::Budget { detail } => scrub(detail),
            ApiError::NotJson { what, .. } => scrub(what),
            ApiError::Redirect {
                location: Some(location),
                ..
            } => scrub(location),
            _ => {}
        }
        self
    }

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
            } | ApiError::Unconfirmed { .. }
        )
    }

    /// What the error stops for the rest of the cycle: a challenge or a rejected token stops
    /// every request of this token; a 403 about one zone stops only that zone.
    pub fn halt_scope(&self, zone_in_path: bool) -> Option<HaltScope> {
        match self {
            ApiError::Challenge { .. } | ApiError::Blocked { .. } => Some(HaltScope::Account),
            ApiError::Auth { status, messages } => {
                let token_level =
                    *status == 401 || messages.iter().any(|message| is_token_code(message.code));
                if zone_in_path && !token_level {
                    Some(HaltScope::Zone)
                } else {
                    Some(HaltScope::Account)
                }
            }
            _ => None,
        }
    }
}

/// How far a halt reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HaltScope {
    /// Every request of this token, until the next cycle.
    Account,
    /// Requests about one zone, until the next cycle.
    Zone,
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

/// Cloudflare's codes that mean the token itself is refused, wherever it is used: invalid,
/// malformed, expired, or restricted to other addresses.
fn is_token_code(code: u64) -> bool {
    matches!(code, 1000 | 6003 | 6111 | 9103 | 9106 | 9109)
}

/// Cloudflare's codes that mean "this token cannot do this".
pub(crate) fn is_auth_code(code: u64) -> bool {
    matches!(
        code,
        1000 | 6003 | 6111 | 9103 | 9106 | 9109 | 10000 | 10001
    )
}
