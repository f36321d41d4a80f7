//! A small typed client for the part of Cloudflare's API v4 that flaredns needs: list zones,
//! list a zone's records, one batch write per zone, token verification and a zone setting.
//! It is the only module that knows Cloudflare's JSON, and every request it sends passes the
//! `budget` gate first. The `cloudflare` crate is not used: it cannot list a zone holding CAA
//! and other types, overflows on five-digit error codes, has no PATCH and drops Retry-After.

pub mod budget;
mod error;
mod wire;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::config::ApiToken;
use crate::model::{ObservedRecord, Zone};
use crate::plan::{Action, NewRecord};
use budget::{Budget, Refused};
pub use error::{ApiError, CloudflareMessage};
use wire::{BatchDelete, BatchPatch, BatchPost, BatchRequest, Envelope, WireMessage, WireRecord};

/// At most this many attempts for one logical request (the first plus retries).
const MAX_ATTEMPTS: u32 = 3;
/// Zones per page: Cloudflare's maximum for `GET /zones`.
const ZONES_PER_PAGE: u32 = 50;
/// Records per page when listing a zone.
const RECORDS_PER_PAGE: u32 = 5000;
/// A list never follows more pages than this, whatever `total_pages` claims.
const MAX_PAGES: u32 = 1000;
/// Cloudflare's limit on changes in one batch (Free plan).
pub const MAX_BATCH_CHANGES: usize = 200;
/// Bounds each HTTP request, connect included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// What `GET /user/tokens/verify` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenStatus {
    pub status: String,
    pub expires_on: Option<String>,
}

/// The API client. Cheap to share by reference; the budget inside persists across cycles.
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    token: ApiToken,
    budget: Mutex<Budget>,
    deadline: Mutex<Option<Instant>>,
    /// A challenge or a rejected token seen this cycle: no further request until the next.
    halted: Mutex<Option<ApiError>>,
    /// When Cloudflare last said to come back (Retry-After), as wall-clock time.
    rate_limited_until: Mutex<Option<SystemTime>>,
    n_requests: AtomicU32,
}

enum Retry {
    /// Reads are safe to repeat on transient failures.
    Read,
    /// Writes are repeated only when Cloudflare cannot have applied them (429, no connection).
    Write,
}

impl Client {
    /// A client for `base_url` (e.g. `https://api.cloudflare.com/client/v4`).
    pub fn new(
        base_url: &str,
        token: ApiToken,
        per_cycle: u32,
        per_hour: u32,
    ) -> Result<Client, reqwest::Error> {
        Ok(Client {
            http: crate::http::client(REQUEST_TIMEOUT, None)?,
            base_url: base_url.trim_end_matches('/').to_string(),
            token,
            budget: Mutex::new(Budget::new(per_cycle, per_hour)),
            deadline: Mutex::new(None),
            halted: Mutex::new(None),
            rate_limited_until: Mutex::new(None),
            n_requests: AtomicU32::new(0),
        })
    }

    /// Starts a cycle: resets the per-cycle count and sets the deadline that waits must fit in.
    pub fn start_cycle(&self, deadline: Instant) {
        lock(&self.budget).start_cycle();
        *lock(&self.deadline) = Some(deadline);
        *lock(&self.halted) = None;
    }

    /// The wall-clock time before which Cloudflare asked not to be called, if in the future.
    pub fn rate_limited_until(&self) -> Option<SystemTime> {
        let until = (*lock(&self.rate_limited_until))?;
        (until > SystemTime::now()).then_some(until)
    }

    /// Honours a Retry-After remembered from an earlier run (`--once` from cron).
    pub fn defer_until(&self, until: SystemTime) {
        if let Ok(wait) = until.duration_since(SystemTime::now()) {
            lock(&self.budget).defer(Instant::now() + wait);
            *lock(&self.rate_limited_until) = Some(until);
        }
    }

    /// How many HTTP requests this client has sent, retries included.
    pub fn requests_sent(&self) -> u32 {
        self.n_requests.load(Ordering::Relaxed)
    }

    /// Every zone the token can see, all pages.
    pub async fn list_zones(&self) -> Result<Vec<Zone>, ApiError> {
        self.list_all::<Zone>("/zones", ZONES_PER_PAGE).await
    }

    /// Every record in a zone, all pages, all types.
    pub async fn list_records(&self, zone_id: &str) -> Result<Vec<ObservedRecord>, ApiError> {
        let records = self
            .list_all::<WireRecord>(&format!("/zones/{zone_id}/dns_records"), RECORDS_PER_PAGE)
            .await?;
        Ok(records
            .into_iter()
            .filter_map(WireRecord::into_observed)
            .collect())
    }

    /// Sends `actions` as one batch: Cloudflare applies all of them or none.
    pub async fn apply_batch(&self, zone_id: &str, actions: &[&Action]) -> Result<(), ApiError> {
        let body = batch_request(actions);
        let body = serde_json::to_value(&body).map_err(|error| ApiError::Malformed {
            status: 0,
            detail: error.to_string(),
        })?;
        self.call::<serde_json::Value>(
            Method::POST,
            &format!("/zones/{zone_id}/dns_records/batch"),
            Some(body),
            Retry::Write,
        )
        .await?;
        Ok(())
    }

    /// `GET /user/tokens/verify`.
    pub async fn verify_token(&self) -> Result<TokenStatus, ApiError> {
        let (verify, _) = self
            .call::<wire::TokenVerify>(Method::GET, "/user/tokens/verify", None, Retry::Read)
            .await?;
        Ok(TokenStatus {
            status: verify.status,
            expires_on: verify.expires_on,
        })
    }

    /// `GET /zones/{id}/settings/{name}`: the setting's value as text.
    pub async fn zone_setting(&self, zone_id: &str, name: &str) -> Result<String, ApiError> {
        let (setting, _) = self
            .call::<wire::Setting>(
                Method::GET,
                &format!("/zones/{zone_id}/settings/{name}"),
                None,
                Retry::Read,
            )
            .await?;
        Ok(match setting.value {
            serde_json::Value::String(text) => text,
            other => other.to_string(),
        })
    }

    async fn list_all<T: DeserializeOwned>(
        &self,
        path: &str,
        per_page: u32,
    ) -> Result<Vec<T>, ApiError> {
        let mut all = Vec::new();
        let mut page = 1;
        loop {
            let url = format!("{path}?per_page={per_page}&page={page}");
            let (items, info) = self
                .call::<Vec<T>>(Method::GET, &url, None, Retry::Read)
                .await?;
            let got = items.len();
            all.extend(items);
            let total_pages = info.and_then(|info| info.total_pages).unwrap_or(1);
            if page >= total_pages || page >= MAX_PAGES || got == 0 {
                return Ok(all);
            }
            page += 1;
        }
    }

    /// Sends one logical request through the budget, retrying what may be retried.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
        retry: Retry,
    ) -> Result<(T, Option<wire::ResultInfo>), ApiError> {
        // A challenge page or a rejected token will not go away within the cycle: asking
        // again is exactly the hammering that gets a host blocked.
        if let Some(error) = lock(&self.halted).clone() {
            return Err(error);
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.wait_for_gate().await?;
            self.n_requests.fetch_add(1, Ordering::Relaxed);
            tracing::trace!(%method, path, attempt, "cloudflare request");
            let error = match self
                .send_once::<T>(method.clone(), path, body.as_ref())
                .await
            {
                Ok(answer) => {
                    lock(&self.budget).succeeded();
                    return Ok(answer);
                }
                Err(error) => error,
            };
            if let ApiError::RateLimited {
                retry_after: Some(wait),
            } = &error
            {
                *lock(&self.rate_limited_until) = Some(SystemTime::now() + *wait);
            }
            if matches!(error, ApiError::Challenge { .. } | ApiError::Auth { .. }) {
                *lock(&self.halted) = Some(error.clone());
            }
            if counts_against_health(&error) {
                let retry_after = match &error {
                    ApiError::RateLimited { retry_after } => *retry_after,
                    _ => None,
                };
                let wait = lock(&self.budget).failed(Instant::now(), retry_after);
                tracing::debug!(%method, path, attempt, wait = ?wait, "cloudflare request failed: {error}");
            }
            if !may_retry(&retry, &error) || attempt >= MAX_ATTEMPTS {
                return Err(error);
            }
        }
    }

    /// Waits out backoff or Retry-After when that fits in the cycle, then takes a request.
    async fn wait_for_gate(&self) -> Result<(), ApiError> {
        let until = lock(&self.budget).not_before(Instant::now());
        if let Some(until) = until {
            let deadline = *lock(&self.deadline);
            if deadline.is_some_and(|deadline| until > deadline) {
                let wall = SystemTime::now() + until.saturating_duration_since(Instant::now());
                // Retry-After and our own backoff both land here; say which it is.
                let asked_by_cloudflare = lock(&self.rate_limited_until)
                    .is_some_and(|asked| asked + Duration::from_secs(1) >= wall);
                return Err(ApiError::WaitTooLong {
                    until: wall,
                    asked_by_cloudflare,
                });
            }
            tokio::time::sleep_until(until).await;
        }
        lock(&self.budget)
            .acquire(Instant::now())
            .map_err(|refused| ApiError::Budget {
                detail: match refused {
                    Refused::CycleSpent { limit } => {
                        format!("{limit} requests this cycle, [daemon].max_requests_per_cycle")
                    }
                    Refused::HourSpent { limit, .. } => {
                        format!("{limit} requests in the last hour, [daemon].max_requests_per_hour")
                    }
                    Refused::NotBefore { .. } => "backing off after failures".to_string(),
                },
            })
    }

    async fn send_once<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(T, Option<wire::ResultInfo>), ApiError> {
        // Each request ends by the cycle's deadline at the latest.
        let now = Instant::now();
        let timeout = match *lock(&self.deadline) {
            Some(deadline) if deadline <= now => {
                return Err(ApiError::Transport {
                    detail: "the cycle's deadline has passed".to_string(),
                    maybe_applied: false,
                })
            }
            Some(deadline) => REQUEST_TIMEOUT.min(deadline - now),
            None => REQUEST_TIMEOUT,
        };
        let url = format!("{}{}", self.base_url, path);
        let mut request = self
            .http
            .request(method, &url)
            .bearer_auth(self.token.expose())
            .timeout(timeout);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|error| ApiError::Transport {
            detail: describe_transport(&error),
            maybe_applied: !error.is_connect(),
        })?;
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        let mitigated =
            header("cf-mitigated").is_some_and(|value| value.eq_ignore_ascii_case("challenge"));
        let retry_after =
            header("retry-after").and_then(|value| parse_retry_after(&value, SystemTime::now()));
        let html = header("content-type").is_some_and(|value| value.contains("text/html"));
        if let Some((remaining, reset)) =
            header("ratelimit").and_then(|value| parse_ratelimit(&value))
        {
            lock(&self.budget).observe_ratelimit(Instant::now(), remaining, reset);
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|error| ApiError::Transport {
                detail: describe_transport(&error),
                maybe_applied: true,
            })?;
        classify(status, mitigated, retry_after, html, &bytes)
    }
}

/// Failures that say something about Cloudflare's health or our standing with it, and so
/// push backoff out. A 4xx about one record's content says nothing of the kind.
fn counts_against_health(error: &ApiError) -> bool {
    error.is_transient() || matches!(error, ApiError::Challenge { .. } | ApiError::Auth { .. })
}

/// Whether a failed attempt may be repeated within the same call.
fn may_retry(retry: &Retry, error: &ApiError) -> bool {
    match retry {
        Retry::Read => error.is_transient(),
        Retry::Write => matches!(
            error,
            ApiError::RateLimited { .. }
                | ApiError::Transport {
                    maybe_applied: false,
                    ..
                }
        ),
    }
}

/// Reads the `Ratelimit` header (`"default";r=50;t=30`): requests remaining, seconds to reset.
pub fn parse_ratelimit(value: &str) -> Option<(u32, Duration)> {
    let mut remaining = None;
    let mut reset = None;
    for part in value.split([';', ',']) {
        let part = part.trim();
        if let Some(number) = part.strip_prefix("r=") {
            remaining = number.trim().parse::<u32>().ok();
        } else if let Some(number) = part.strip_prefix("t=") {
            reset = number.trim().parse::<u64>().ok().map(Duration::from_secs);
        }
    }
    Some((remaining?, reset?))
}

/// Turns a response into the envelope's result or a classified error.
fn classify<T: DeserializeOwned>(
    status: StatusCode,
    mitigated: bool,
    retry_after: Option<Duration>,
    html: bool,
    bytes: &[u8],
) -> Result<(T, Option<wire::ResultInfo>), ApiError> {
    let code = status.as_u16();
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
    if looks_html {
        if code == 403 || code == 503 {
            return Err(ApiError::Challenge {
                status: code,
                mitigated: false,
            });
        }
        return Err(ApiError::NotJson {
            status: code,
            what: "an HTML page".to_string(),
        });
    }
    let envelope: Envelope<T> = match serde_json::from_slice(bytes) {
        Ok(envelope) => envelope,
        Err(error) => {
            if serde_json::from_slice::<serde_json::Value>(bytes).is_err() {
                return Err(ApiError::NotJson {
                    status: code,
                    what: "a body that is not JSON".to_string(),
                });
            }
            return Err(ApiError::Malformed {
                status: code,
                detail: error.to_string(),
            });
        }
    };
    let messages: Vec<CloudflareMessage> = envelope
        .errors
        .into_iter()
        .map(|WireMessage { code, message }| CloudflareMessage { code, message })
        .collect();
    if !status.is_success() || !envelope.success {
        if code == 401
            || code == 403
            || messages
                .iter()
                .any(|message| error::is_auth_code(message.code))
        {
            return Err(ApiError::Auth {
                status: code,
                messages,
            });
        }
        return Err(ApiError::Api {
            status: code,
            messages,
        });
    }
    match envelope.result {
        Some(result) => Ok((result, envelope.result_info)),
        None => Err(ApiError::Malformed {
            status: code,
            detail: "the answer has no `result`".to_string(),
        }),
    }
}

/// `classify` for the property tests, with the result type fixed.
#[cfg(test)]
pub(crate) fn classify_for_tests(
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
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds.min(24 * 3600)));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A transport error as a short phrase: timed out, refused, TLS, with the innermost cause.
pub fn describe_transport(error: &reqwest::Error) -> String {
    let mut innermost = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        innermost = cause.to_string();
        source = cause.source();
    }
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    // reqwest's own text carries the URL, which is safe (the token is only in a header).
    format!("{kind} ({innermost})")
}

fn batch_request(actions: &[&Action]) -> BatchRequest {
    let post = |new: &NewRecord| BatchPost {
        name: new.name.to_string(),
        record_type: new.family.record_type().to_string(),
        content: new.content.to_string(),
        proxied: new.proxied,
        ttl: new.ttl,
        comment: new.comment.clone(),
    };
    let mut request = BatchRequest::default();
    for action in actions {
        match action {
            Action::Create(new) => request.posts.push(post(new)),
            Action::Update {
                id,
                content,
                proxied,
                ttl,
                ..
            } => request.patches.push(BatchPatch {
                id: id.clone(),
                content: content.to_string(),
                proxied: *proxied,
                ttl: *ttl,
            }),
            Action::ReplaceCname {
                cname_id, creates, ..
            } => {
                request.deletes.push(BatchDelete {
                    id: cname_id.clone(),
                });
                request.posts.extend(creates.iter().map(post));
            }
        }
    }
    request
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it: the budget's state
/// stays meaningful whatever a panic interrupted, since every update is a single assignment.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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
    }

    #[test]
    fn only_safe_writes_are_retried() {
        let refused = ApiError::Transport {
            detail: String::new(),
            maybe_applied: false,
        };
        let lost = ApiError::Transport {
            detail: String::new(),
            maybe_applied: true,
        };
        let server = ApiError::Api {
            status: 502,
            messages: vec![],
        };
        let content = ApiError::Api {
            status: 400,
            messages: vec![],
        };
        assert!(may_retry(&Retry::Write, &refused));
        assert!(!may_retry(&Retry::Write, &lost));
        assert!(!may_retry(&Retry::Write, &server));
        assert!(may_retry(&Retry::Read, &server));
        assert!(may_retry(&Retry::Read, &lost));
        assert!(!may_retry(&Retry::Read, &content));
        assert!(!may_retry(
            &Retry::Read,
            &ApiError::Challenge {
                status: 403,
                mitigated: true
            }
        ));
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
    }
}
