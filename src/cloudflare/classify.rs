//! Reading Cloudflare's answers: the envelope into a result or a classified `ApiError`, and
//! the two headers that say when to come back (`Retry-After`, `Ratelimit`). Pure functions of
//! the status, headers and body, so every branch is tested without a server, and every wait
//! they return is capped at `budget::MAX_SERVER_WAIT`.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use super::budget::MAX_SERVER_WAIT;
use super::error::{is_auth_code, ApiError, CloudflareMessage};
use super::wire::{self, Envelope, WireMessage};

/// Reads the `Ratelimit` header (`"default";r=50;t=30`): requests remaining, seconds to reset.
pub fn parse_ratelimit(value: &str) -> Option<(u32, Duration)> {
    let mut remaining = None;
    let mut reset = None;
    for part in value.split([';', ',']) {
        let part = part.trim();
        if let Some(number) = part.strip_prefix("r=") {
            remaining = number.trim().parse::<u32>().ok();
        } else if let Some(number) = part.strip_prefix("t=") {
            // A number too large for u64 is still "very long": it is capped, not dropped.
            let digits = number.trim();
            reset = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                Some(
                    Duration::from_secs(digits.parse::<u64>().unwrap_or(u64::MAX))
                        .min(MAX_SERVER_WAIT),
                )
            } else {
                None
            };
        }
    }
    Some((remaining?, reset?))
}

/// Turns a response into the envelope's result or a classified error.
pub(super) fn classify<T: DeserializeOwned>(
    status: StatusCode,
    mitigated: bool,
    retry_after: Option<Duration>,
    html: bool,
    bytes: &[u8],
) -> Result<(T, Option<wire::ResultInfo>), ApiError> {
    let code = status.as_u16();
    if status.is_redirection() {
        return Err(ApiError::Redirect {
            status: code,
            location: None,
        });
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(ApiError::RateLimited { retry_after });
    }
    if mitigated {
        return Err(ApiError::Challenge {
            status: code,
            mitigated: true,
        });
    }
    let looks_html = html || bytes.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'<');
    let parsed: Option<Result<Envelope<T>, serde_json::Error>> =
        (!looks_html).then(|| serde_json::from_slice(bytes));
    let envelope = match parsed {
        Some(Ok(envelope)) => envelope,
        // Not Cloudflare's JSON: what the status says is all there is.
        Some(Err(error)) => return Err(not_json(code, looks_html, bytes, Some(error))),
        None => return Err(not_json(code, looks_html, bytes, None)),
    };
    let messages: Vec<CloudflareMessage> = envelope
        .errors
        .into_iter()
        .map(|WireMessage { code, message }| CloudflareMessage { code, message })
        .collect();
    if status.is_success() && envelope.success.is_none() {
        // A 2xx that does not say `success` is not an answer flaredns can act on.
        return Err(ApiError::Malformed {
            status: code,
            detail: "the answer has no `success` field".to_string(),
        });
    }
    if !status.is_success() || envelope.success != Some(true) {
        return Err(refused(code, messages));
    }
    match envelope.result {
        Some(result) => Ok((result, envelope.result_info)),
        None => Err(ApiError::Malformed {
            status: code,
            detail: "the answer has no `result`".to_string(),
        }),
    }
}

/// The error for an answer that is not Cloudflare's JSON (an HTML page, or a body that does
/// not parse; `error` is the parse error, None for HTML): what the status says is all there is.
fn not_json(
    code: u16,
    looks_html: bool,
    bytes: &[u8],
    error: Option<serde_json::Error>,
) -> ApiError {
    let what = if looks_html {
        "an HTML page"
    } else {
        "a body that is not JSON"
    };
    match code {
        // An HTML 403 is the challenge page; any other non-JSON 403 is Cloudflare's
        // firewall answering in its place ("error code: 1020").
        403 if looks_html => ApiError::Challenge {
            status: code,
            mitigated: false,
        },
        403 => ApiError::Blocked {
            status: code,
            detail: crate::logging::one_line(&String::from_utf8_lossy(
                &bytes[..bytes.len().min(200)],
            )),
        },
        401 => ApiError::Auth {
            status: code,
            messages: Vec::new(),
        },
        _ => match error {
            Some(error) if serde_json::from_slice::<serde_json::Value>(bytes).is_ok() => {
                ApiError::Malformed {
                    status: code,
                    detail: error.to_string(),
                }
            }
            _ => ApiError::NotJson {
                status: code,
                what: what.to_string(),
            },
        },
    }
}

/// The error for an envelope that says the request failed: the token refused, or the API's
/// own error with its messages.
fn refused(code: u16, messages: Vec<CloudflareMessage>) -> ApiError {
    // The token is judged only by 4xx answers: a 5xx says the server failed, whatever
    // code its body carries, and is retried as such.
    // A 404 is about the thing asked for (a list deleted out of band answers 404 with
    // code 10001), never about the token: halting the token for it stopped everything.
    let token_refused = code == 401
        || code == 403
        || ((400..500).contains(&code)
            && code != 404
            && messages.iter().any(|message| is_auth_code(message.code)));
    if token_refused {
        ApiError::Auth {
            status: code,
            messages,
        }
    } else {
        ApiError::Api {
            status: code,
            messages,
        }
    }
}

/// `classify` for the property tests, with the result type fixed.
#[cfg(test)]
pub fn classify_for_tests(
    status: u16,
    mitigated: bool,
    html: bool,
    body: &[u8],
) -> Result<(), ApiError> {
    let status = StatusCode::from_u16(status).map_err(|error| ApiError::Malformed {
        status,
        detail: error.to_string(),
    })?;
    classify::<serde_json::Value>(status, mitigated, None, html, body).map(|_| ())
}

/// Reads `Retry-After`: delay-seconds or an HTTP-date.
/// The wait is capped at `MAX_SERVER_WAIT`; zero or a past date gives zero (and backoff
/// still applies: see `Budget::failed`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(seconds).min(MAX_SERVER_WAIT));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_SERVER_WAIT),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify_json(
        status: u16,
        body: &str,
    ) -> Result<(serde_json::Value, Option<wire::ResultInfo>), ApiError> {
        classify(
            StatusCode::from_u16(status).expect("status"),
            false,
            None,
            false,
            body.as_bytes(),
        )
    }

    #[test]
    fn five_digit_codes_are_kept() {
        let error = classify_json(400, r#"{"success":false,"errors":[{"code":81057,"message":"Record already exists."}],"result":null}"#).expect_err("error");
        assert_eq!(
            error.to_string(),
            "Cloudflare refused the request (HTTP 400): 81057: Record already exists."
        );
    }

    #[test]
    fn ip_restricted_token_is_explained() {
        let error = classify_json(403, r#"{"success":false,"errors":[{"code":9109,"message":"Cannot use the access token from location: 81.23.45.99"}]}"#).expect_err("error");
        assert!(
            error
                .to_string()
                .contains("restricted to other IP addresses"),
            "{error}"
        );
    }

    #[test]
    fn html_and_garbage_are_reported_not_misparsed() {
        assert_eq!(
            classify_json(403, "<!DOCTYPE html><title>Just a moment...</title>")
                .expect_err("challenge"),
            ApiError::Challenge {
                status: 403,
                mitigated: false
            }
        );
        assert!(matches!(
            classify_json(502, "<html>bad gateway</html>"),
            Err(ApiError::NotJson { status: 502, .. })
        ));
        assert!(matches!(
            classify_json(200, "ip=1.2.3.4"),
            Err(ApiError::NotJson { .. })
        ));
        assert!(matches!(
            classify_json(200, r#"{"success":true}"#),
            Err(ApiError::Malformed { .. })
        ));
        assert!(matches!(
            classify_json(301, ""),
            Err(ApiError::Redirect { status: 301, .. })
        ));
        // The review's cases: an HTML 401 is a rejected token; a plain-text 403 is the
        // firewall; an HTML 503 is a server error, not a challenge; a 5xx with an auth code
        // in its body is a server error; a 2xx without `success` is not believed.
        assert!(matches!(
            classify_json(401, "<html>401 Authorization Required</html>"),
            Err(ApiError::Auth { status: 401, .. })
        ));
        assert!(matches!(
            classify_json(403, "error code: 1020"),
            Err(ApiError::Blocked { status: 403, .. })
        ));
        assert!(matches!(
            classify_json(503, "<html>Service Unavailable</html>"),
            Err(ApiError::NotJson { status: 503, .. })
        ));
        assert!(matches!(
            classify_json(
                500,
                r#"{"success":false,"errors":[{"code":10000,"message":"x"}]}"#
            ),
            Err(ApiError::Api { status: 500, .. })
        ));
        assert!(matches!(
            classify_json(200, r#"{"result":{"patches":[]}}"#),
            Err(ApiError::Malformed { status: 200, .. })
        ));
    }

    #[test]
    fn ratelimit_header_is_read() {
        assert_eq!(
            parse_ratelimit("\"default\";r=50;t=30"),
            Some((50, Duration::from_secs(30)))
        );
        assert_eq!(
            parse_ratelimit("r=0, t=12"),
            Some((0, Duration::from_secs(12)))
        );
        assert_eq!(parse_ratelimit("garbage"), None);
        assert_eq!(
            parse_ratelimit("\"default\";r=0;t=18446744073709551615"),
            Some((0, MAX_SERVER_WAIT))
        );
        assert_eq!(
            parse_ratelimit("r=0;t=99999999999999999999999999"),
            Some((0, MAX_SERVER_WAIT))
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(MAX_SERVER_WAIT)
        );
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now),
            Some(MAX_SERVER_WAIT)
        );
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", now),
            Some(Duration::ZERO)
        );
    }
}
