//! Sending one logical request: the loop every API call goes through. It refuses a path
//! segment that is not an id, honours the halts of the cycle (a challenge or a rejected token
//! stops the token; a 403 about a zone stops that zone), waits out backoff and Retry-After
//! only when that fits the deadline and the budget will then allow the request, retries only
//! what Cloudflare cannot have applied, never follows a redirect, and believes a batch only
//! when its answer shows the records written.

use std::sync::atomic::Ordering;
use std::sync::Mutex;

use reqwest::Method;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::budget::{self, Refused};
use super::classify::{classify, parse_ratelimit, parse_retry_after};
use super::client::{ApiCycle, Exchange, RequestKind, Retry, MAX_ATTEMPTS, REQUEST_TIMEOUT};
use super::error::{ApiError, HaltScope};
use super::wire::{self, BatchResult};
use super::{Batch, MAX_API_BODY};
use crate::http::BodyError;

impl ApiCycle<'_> {
    /// Sends one logical request through the budget, retrying what may be retried.
    pub(super) async fn call<T: DeserializeOwned>(
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
        // Ids from memory or from a server end up in paths: a segment that is not an id
        // (`..`, `#`, `%2F`) could aim the request at another resource.
        if let Some(segment) = unsafe_segment(path) {
            return Err(ApiError::NotAnId { segment });
        }
        let zone = zone_in_path(path);
        if let Some(error) = zone.and_then(|zone| lock(&self.denied_zones).get(zone).cloned()) {
            return Err(error);
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.wait_for_gate().await?;
            self.client.n_requests.fetch_add(1, Ordering::Relaxed);
            self.n_requests.fetch_add(1, Ordering::Relaxed);
            tracing::trace!(%method, path, attempt, "cloudflare request");
            let (status, retry_after, result) = self
                .send_once::<T>(method.clone(), path, body.as_ref())
                .await;
            let kind = RequestKind {
                method: method_name(&method),
                status,
            };
            *lock(&self.client.by_status).entry(kind).or_default() += 1;
            *lock(&self.by_status_this_cycle).entry(kind).or_default() += 1;
            let error = match result {
                Ok(answer) => {
                    lock(&self.client.budget).succeeded();
                    return Ok(answer);
                }
                Err(error) if matches!(retry, Retry::Write) => unconfirmed_if_unknown(error),
                Err(error) => error,
            };
            // A server that echoes the request could put the token into its message.
            let error = error.redact(self.client.token.expose());
            // Retry-After is honoured on any failure that carries it (a 503 too), and
            // remembered for the next run.
            if let (Some(wait), true) = (retry_after, counts_against_health(&error)) {
                *lock(&self.client.rate_limited_until) =
                    Some(budget::wall_after(crate::clock::wall_now(), wait));
            }
            match error.halt_scope(zone.is_some()) {
                Some(HaltScope::Account) => *lock(&self.halted) = Some(error.clone()),
                Some(HaltScope::Zone) => {
                    if let Some(zone) = zone {
                        lock(&self.denied_zones).insert(zone.to_string(), error.clone());
                    }
                }
                None => {}
            }
            if counts_against_health(&error) {
                let wait = lock(&self.client.budget).failed(Instant::now(), retry_after);
                tracing::debug!(%method, path, attempt, wait = ?wait, "cloudflare request failed: {error}");
            }
            if !may_retry(&retry, &error) || attempt >= MAX_ATTEMPTS {
                return Err(error);
            }
        }
    }

    /// Waits out backoff or Retry-After when that fits in the cycle, then takes a request.
    async fn wait_for_gate(&self) -> Result<(), ApiError> {
        let waiting = lock(&self.client.budget).not_before(Instant::now());
        if let Some((until, reason)) = waiting {
            if until > self.deadline {
                let wall = budget::wall_after(
                    crate::clock::wall_now(),
                    until.saturating_duration_since(Instant::now()),
                );
                return Err(ApiError::WaitTooLong {
                    until: wall,
                    reason,
                });
            }
            // A request the budget will refuse when the wait ends is refused now: a cycle
            // whose requests are spent ends without sitting out a backoff first.
            if let Some(refused) = lock(&self.client.budget).spent_at(until) {
                return Err(over_budget(refused));
            }
            tokio::time::sleep_until(until).await;
        }
        lock(&self.client.budget)
            .acquire(Instant::now())
            .map_err(over_budget)
    }

    /// One HTTP exchange. Returns the status (0 when no answer came) and any `Retry-After`
    /// beside the result.
    async fn send_once<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Exchange<T> {
        // Each request ends by the cycle's deadline at the latest.
        let now = Instant::now();
        if self.deadline <= now {
            let error = ApiError::Transport {
                detail: "the cycle's deadline has passed".to_string(),
                maybe_applied: false,
            };
            return (0, None, Err(error));
        }
        let timeout = REQUEST_TIMEOUT.min(self.deadline - now);
        let url = format!("{}{}", self.client.base_url, path);
        let mut request = self
            .client
            .http
            .request(method, &url)
            .bearer_auth(self.client.token.expose())
            .timeout(timeout);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                let error = ApiError::Transport {
                    detail: crate::http::describe_transport(&error),
                    maybe_applied: !error.is_connect(),
                };
                return (0, None, Err(error));
            }
        };
        self.read_answer(response).await
    }

    /// An answer's status, the headers that matter (a redirect's target, the challenge mark,
    /// Retry-After, Ratelimit, the content type) and its body (capped), classified.
    async fn read_answer<T: DeserializeOwned>(&self, response: reqwest::Response) -> Exchange<T> {
        let status = response.status();
        let code = status.as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        if status.is_redirection() {
            let location = header("location").map(|target| redirect_host(&target));
            let error = ApiError::Redirect {
                status: code,
                location,
            };
            return (code, None, Err(error));
        }
        let mitigated =
            header("cf-mitigated").is_some_and(|value| value.eq_ignore_ascii_case("challenge"));
        let retry_after = header("retry-after")
            .and_then(|value| parse_retry_after(&value, crate::clock::wall_now()));
        let html = header("content-type").is_some_and(|value| value.contains("text/html"));
        if let Some((remaining, reset)) =
            header("ratelimit").and_then(|value| parse_ratelimit(&value))
        {
            lock(&self.client.budget).observe_ratelimit(Instant::now(), remaining, reset);
        }
        let bytes = match crate::http::read_capped(response, MAX_API_BODY).await {
            Ok(bytes) => bytes,
            Err(BodyError::TooLarge { limit }) => {
                return (code, retry_after, Err(ApiError::TooLarge { limit }))
            }
            Err(BodyError::Transport(detail)) => {
                let error = ApiError::Transport {
                    detail,
                    maybe_applied: true,
                };
                return (code, retry_after, Err(error));
            }
        };
        self.body_bytes.fetch_add(bytes.len(), Ordering::Relaxed);
        (
            code,
            retry_after,
            classify(status, mitigated, retry_after, html, &bytes),
        )
    }
}

/// The first segment of `path` (before any query) that is not made of letters, digits, `-`,
/// `_` and `.`, or is `.`/`..`, shown on one line; None when every segment is safe.
pub(super) fn unsafe_segment(path: &str) -> Option<String> {
    let before_query = path.split('?').next().unwrap_or_default();
    before_query
        .split('/')
        .skip(1)
        .find(|segment| {
            segment.is_empty()
                || *segment == "."
                || *segment == ".."
                || !segment
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
        })
        .map(crate::logging::one_line)
}

/// The zone or account a path is about (`/zones/{id}/…`, `/accounts/{id}/…`): a 403 there
/// stops that scope only.
pub(super) fn zone_in_path(path: &str) -> Option<&str> {
    let rest = path
        .strip_prefix("/zones/")
        .or_else(|| path.strip_prefix("/accounts/"))?;
    let id = rest.split(['/', '?']).next()?;
    (!id.is_empty()).then_some(id)
}

/// Only the scheme and host of a redirect target: its path could carry anything.
pub(super) fn redirect_host(target: &str) -> String {
    match target.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            // Drop any user:password@ part.
            let host = host.rsplit('@').next().unwrap_or_default();
            crate::logging::one_line(&format!("{scheme}://{host}"))
        }
        None => "a relative location".to_string(),
    }
}

pub(super) fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        _ => "OTHER",
    }
}

/// A write whose answer does not say whether it was applied: a 5xx (an edge error in front
/// of the API), or a 2xx that cannot be read.
pub(super) fn unconfirmed_if_unknown(error: ApiError) -> ApiError {
    match error {
        ApiError::Api { status, .. } | ApiError::NotJson { status, .. } if status >= 500 => {
            ApiError::Unconfirmed {
                status,
                detail: error.to_string(),
            }
        }
        ApiError::Malformed { status, ref detail } if !(300..500).contains(&status) => {
            ApiError::Unconfirmed {
                status,
                detail: detail.clone(),
            }
        }
        ApiError::NotJson { status, .. } if status < 300 => ApiError::Unconfirmed {
            status,
            detail: error.to_string(),
        },
        ApiError::TooLarge { .. } => ApiError::Unconfirmed {
            status: 200,
            detail: error.to_string(),
        },
        other => other,
    }
}

/// The error for a request the budget refused.
fn over_budget(refused: Refused) -> ApiError {
    ApiError::Budget {
        detail: match refused {
            Refused::CycleSpent { limit } => {
                format!("{limit} requests this cycle, [daemon].max_requests_per_cycle")
            }
            Refused::HourSpent { limit, .. } => {
                format!("{limit} requests in the last hour, [daemon].max_requests_per_hour")
            }
            Refused::NotBefore { reason, .. } => reason.to_string(),
        },
    }
}

/// Failures that say something about Cloudflare's health or our standing with it, and so
/// push backoff out. A 4xx about one record's content says nothing of the kind.
pub(super) fn counts_against_health(error: &ApiError) -> bool {
    error.is_transient()
        || matches!(
            error,
            ApiError::Challenge { .. }
                | ApiError::Blocked { .. }
                | ApiError::Auth { .. }
                | ApiError::Unconfirmed { .. }
        )
}

/// Whether a failed attempt may be repeated within the same call.
pub(super) fn may_retry(retry: &Retry, error: &ApiError) -> bool {
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

/// Locks a mutex, recovering the data if a panicking thread poisoned it: the budget's state
/// stays meaningful whatever a panic interrupted, since every update is a single assignment.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Believes a batch's success only when the answer holds what was sent: as many deletes,
/// every patched record by id with its new content, and every created record with an id,
/// its name and its content.
pub(super) fn confirm_batch(batch: &Batch, result: &BatchResult) -> Result<(), ApiError> {
    let unconfirmed = |detail: String| ApiError::Unconfirmed {
        status: 200,
        detail,
    };
    if result.deletes.len() != batch.deletes.len()
        || result.patches.len() != batch.patches.len()
        || result.posts.len() != batch.posts.len()
    {
        return Err(unconfirmed(format!(
            "it reports {} deletion(s), {} update(s) and {} creation(s), not the {}, {} and {} sent",
            result.deletes.len(),
            result.patches.len(),
            result.posts.len(),
            batch.deletes.len(),
            batch.patches.len(),
            batch.posts.len()
        )));
    }
    let holds = |stored: &wire::BatchRecordResult, content: std::net::IpAddr| {
        stored
            .content
            .as_deref()
            .and_then(|text| text.parse::<std::net::IpAddr>().ok())
            == Some(content)
    };
    let is = |stored: &wire::BatchRecordResult,
              name: &crate::model::DomainName,
              family: crate::model::Family| {
        stored.name.as_deref().is_some_and(|stored| {
            stored
                .trim_end_matches('.')
                .eq_ignore_ascii_case(name.as_str())
        }) && stored
            .record_type
            .as_deref()
            .is_none_or(|stored| stored.eq_ignore_ascii_case(family.record_type()))
    };
    for patch in &batch.patches {
        let found = result.patches.iter().find(|stored| stored.id == patch.id);
        if !found.is_some_and(|stored| holds(stored, patch.content)) {
            return Err(unconfirmed(format!(
                "it does not show record {} holding {}",
                crate::logging::one_line(&patch.id),
                patch.content
            )));
        }
        // The id must have been the managed record: a remembered id that pointed elsewhere
        // is reported, and the caller forgets what it remembered.
        if !found.is_some_and(|stored| is(stored, &patch.name, patch.family)) {
            return Err(unconfirmed(format!(
                "record {} is not {} {}; a remembered record id pointed at another record",
                crate::logging::one_line(&patch.id),
                patch.family,
                patch.name
            )));
        }
    }
    for post in &batch.posts {
        let found = result.posts.iter().any(|stored| {
            !stored.id.is_empty()
                && stored.name.as_deref().is_some_and(|name| {
                    name.trim_end_matches('.')
                        .eq_ignore_ascii_case(post.name.as_str())
                })
                && holds(stored, post.content)
        });
        if !found {
            return Err(unconfirmed(format!(
                "it does not show the new record {} {} holding {}",
                post.family, post.name, post.content
            )));
        }
    }
    Ok(())
}
#[cfg(test)]
mod tests {
    use super::*;

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
    fn unreadable_answers_to_writes_are_unconfirmed() {
        let gateway = ApiError::NotJson {
            status: 502,
            what: "an HTML page".to_string(),
        };
        assert!(unconfirmed_if_unknown(gateway).maybe_applied());
        let garbage = ApiError::Malformed {
            status: 200,
            detail: "x".to_string(),
        };
        assert!(unconfirmed_if_unknown(garbage).maybe_applied());
        let refused = ApiError::Api {
            status: 400,
            messages: vec![],
        };
        assert!(!unconfirmed_if_unknown(refused).maybe_applied());
    }

    #[test]
    fn zone_paths_and_redirect_hosts_are_read() {
        assert_eq!(zone_in_path("/zones/abc/dns_records?page=1"), Some("abc"));
        assert_eq!(zone_in_path("/zones?per_page=50"), None);
        assert_eq!(
            redirect_host("https://user:pw@evil.example/steal?token=1"),
            "https://evil.example"
        );
    }
}
