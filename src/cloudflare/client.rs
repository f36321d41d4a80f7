//! The HTTP side of the API client. `Client` is long-lived: connections, token, budget. Each
//! cycle borrows it as an `ApiCycle`, which carries what must not outlive the cycle: the
//! deadline every wait and request must fit in, and the halts (a challenge or a rejected token
//! stops the token; a 403 about one zone stops that zone). Retries happen only in `call`, and
//! only through the budget (`request.rs`).

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use reqwest::Method;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::budget::{self, Budget, WaitReason};
use super::error::ApiError;
use super::wire::{self, BatchResult, HasId, WireRecord, WireZone};
use super::{Batch, MAX_LISTING_BYTES};
use crate::http::Redirects;
use crate::model::{ObservedRecord, Zone};
use crate::secret::ApiToken;

/// At most this many attempts for one logical request (the first plus retries).
pub(super) const MAX_ATTEMPTS: u32 = 3;
/// Zones per page: Cloudflare's maximum for `GET /zones`.
const ZONES_PER_PAGE: u32 = 50;
/// At most this many pages of zones (10 000 zones).
const MAX_ZONE_PAGES: u32 = 200;
/// Records per page when listing a zone.
const RECORDS_PER_PAGE: u32 = 5000;
/// At most this many pages of one zone's records (500 000 records).
const MAX_RECORD_PAGES: u32 = 100;
/// Bounds each HTTP request, connect included.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// What `GET /user/tokens/verify` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenStatus {
    pub status: String,
    pub expires_on: Option<String>,
}

/// The long-lived client: one per token, kept across cycles and reloads.
pub struct Client {
    pub(super) http: reqwest::Client,
    pub(super) base_url: String,
    pub(super) token: ApiToken,
    pub(super) budget: Mutex<Budget>,
    /// When Cloudflare last said to come back (Retry-After), as wall-clock time.
    pub(super) rate_limited_until: Mutex<Option<SystemTime>>,
    pub(super) n_requests: AtomicU32,
    /// Requests by method and HTTP status (0: no answer), for metrics.
    pub(super) by_status: Mutex<BTreeMap<RequestKind, u64>>,
}

/// One cycle's use of a `Client`: its deadline and its halts.
pub struct ApiCycle<'c> {
    pub(super) client: &'c Client,
    pub(super) deadline: Instant,
    /// A challenge or a rejected token: no further request of this token this cycle.
    pub(super) halted: Mutex<Option<ApiError>>,
    /// Zones that answered 403 this cycle, by id: no further request about them.
    pub(super) denied_zones: Mutex<BTreeMap<String, ApiError>>,
    pub(super) n_requests: AtomicU32,
    /// Bytes of answers read this cycle, so one listing cannot grow without end.
    pub(super) body_bytes: AtomicUsize,
    /// This cycle's requests by method and status: the report's count, without diffing
    /// the client's totals.
    pub(super) by_status_this_cycle: Mutex<BTreeMap<RequestKind, u64>>,
}

/// One exchange: the HTTP status (0: no answer), its `Retry-After`, and the result.
pub(super) type Exchange<T> = (
    u16,
    Option<Duration>,
    Result<(T, Option<wire::ResultInfo>), ApiError>,
);

pub(super) enum Retry {
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
    ) -> Result<Client, crate::http::SetupError> {
        Ok(Client {
            http: crate::http::client(REQUEST_TIMEOUT, None, Redirects::Never)?,
            base_url: base_url.trim_end_matches('/').to_string(),
            token,
            budget: Mutex::new(Budget::new(per_cycle, per_hour)),
            rate_limited_until: Mutex::new(None),
            n_requests: AtomicU32::new(0),
            by_status: Mutex::new(BTreeMap::new()),
        })
    }

    /// Starts a cycle that must end by `deadline`: resets the per-cycle count.
    pub fn cycle(&self, deadline: Instant) -> ApiCycle<'_> {
        lock(&self.budget).start_cycle();
        ApiCycle {
            client: self,
            deadline,
            halted: Mutex::new(None),
            denied_zones: Mutex::new(BTreeMap::new()),
            n_requests: AtomicU32::new(0),
            body_bytes: AtomicUsize::new(0),
            by_status_this_cycle: Mutex::new(BTreeMap::new()),
        }
    }

    /// The wall-clock time before which Cloudflare asked not to be called, if in the future.
    pub fn rate_limited_until(&self) -> Option<SystemTime> {
        let until = (*lock(&self.rate_limited_until))?;
        (until > crate::clock::wall_now()).then_some(until)
    }

    /// Honours a Retry-After remembered from an earlier run (`--once` from cron). A time
    /// further out than `budget::MAX_SERVER_WAIT` is cut to it: a clock that was wrong when it
    /// was written must not silence the tool.
    pub fn defer_until(&self, until: SystemTime) {
        if let Ok(wait) = until.duration_since(crate::clock::wall_now()) {
            let wait = wait.min(budget::MAX_SERVER_WAIT);
            lock(&self.budget).defer(
                budget::instant_after(Instant::now(), wait),
                WaitReason::RetryAfter,
            );
            *lock(&self.rate_limited_until) =
                Some(budget::wall_after(crate::clock::wall_now(), wait));
        }
    }

    /// How many HTTP requests this client has sent, retries included.
    pub fn requests_sent(&self) -> u32 {
        self.n_requests.load(Ordering::Relaxed)
    }

    /// Requests sent so far by method and HTTP status (0 when no answer came).
    pub fn requests_by_status(&self) -> BTreeMap<RequestKind, u64> {
        lock(&self.by_status).clone()
    }

    /// How many requests the rolling hour still allows.
    pub fn budget_remaining(&self) -> u32 {
        lock(&self.budget).remaining_this_hour(Instant::now())
    }
}

/// A request's method and the status it was answered with (0: no answer), for counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestKind {
    pub method: &'static str,
    pub status: u16,
}

impl RequestKind {
    /// Reads `GET 200` back (status.json's keys); a method flaredns never names is not one.
    pub fn parse(text: &str) -> Option<RequestKind> {
        let (method, status) = text.split_once(' ')?;
        let method = ["GET", "POST", "PATCH", "PUT", "DELETE", "OTHER"]
            .into_iter()
            .find(|known| *known == method)?;
        Some(RequestKind {
            method,
            status: status.parse().ok()?,
        })
    }
}

impl std::fmt::Display for RequestKind {
    /// `GET 200`, as status.json and the metrics labels have it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.status)
    }
}

impl ApiCycle<'_> {
    /// This cycle's requests by method and status.
    pub fn requests_by_kind(&self) -> BTreeMap<RequestKind, u64> {
        lock(&self.by_status_this_cycle).clone()
    }

    /// How many HTTP requests this cycle has sent, retries included.
    pub fn requests_sent(&self) -> u32 {
        self.n_requests.load(Ordering::Relaxed)
    }

    /// Every zone the token can see, all pages.
    pub async fn list_zones(&self) -> Result<Vec<Zone>, ApiError> {
        let zones = self
            .list_all::<WireZone>("/zones", ZONES_PER_PAGE, MAX_ZONE_PAGES)
            .await?;
        Ok(zones.into_iter().filter_map(WireZone::into_zone).collect())
    }

    /// Every record in a zone, all pages, all types.
    pub async fn list_records(&self, zone_id: &str) -> Result<Vec<ObservedRecord>, ApiError> {
        let records = self
            .list_all::<WireRecord>(
                &format!("/zones/{zone_id}/dns_records"),
                RECORDS_PER_PAGE,
                MAX_RECORD_PAGES,
            )
            .await?;
        Ok(records
            .into_iter()
            .filter_map(WireRecord::into_observed)
            .collect())
    }

    /// Sends one batch: Cloudflare applies all of it or none. A success is believed only when
    /// the answer holds every patched and posted record; otherwise it "could not confirm".
    /// Returns the records Cloudflare created, with the ids it gave them.
    pub async fn apply_batch(
        &self,
        zone_id: &str,
        batch: &Batch,
    ) -> Result<Vec<ObservedRecord>, ApiError> {
        let body = serde_json::to_value(wire::BatchRequest::from(batch)).map_err(|error| {
            ApiError::Malformed {
                status: 0,
                detail: error.to_string(),
            }
        })?;
        let (result, _) = self
            .call::<BatchResult>(
                Method::POST,
                &format!("/zones/{zone_id}/dns_records/batch"),
                Some(body),
                Retry::Write,
            )
            .await?;
        confirm_batch(batch, &result)?;
        // What Cloudflare created, with its ids: the caller remembers them.
        let created: Vec<ObservedRecord> = result
            .posts
            .into_iter()
            .filter_map(|stored| {
                let record = WireRecord {
                    id: stored.id,
                    name: stored.name?,
                    record_type: stored.record_type?,
                    content: stored.content,
                    proxied: stored.proxied,
                    ttl: stored.ttl,
                    comment: stored.comment,
                };
                record.into_observed()
            })
            .collect();
        Ok(created)
    }

    /// `GET /user/tokens/verify`.
    pub async fn verify_token(&self) -> Result<TokenStatus, ApiError> {
        let (verify, _) = self
            .call::<wire::TokenVerify>(Method::GET, "/user/tokens/verify", None, Retry::Read)
            .await?;
        Ok(TokenStatus {
            status: wire::clean(verify.status),
            expires_on: verify.expires_on.map(wire::clean),
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
        Ok(wire::clean(match setting.value {
            serde_json::Value::String(text) => text,
            other => other.to_string(),
        }))
    }

    /// Clears the halts, for a new question within the same cycle (doctor asks whether a
    /// token that `/user/tokens/verify` rejects can still list zones).
    pub fn clear_halts(&self) {
        *lock(&self.halted) = None;
        lock(&self.denied_zones).clear();
    }

    pub(super) fn deadline(&self) -> Instant {
        self.deadline
    }

    async fn list_all<T: DeserializeOwned + HasId>(
        &self,
        path: &str,
        per_page: u32,
        max_pages: u32,
    ) -> Result<Vec<T>, ApiError> {
        let mut all: Vec<T> = Vec::new();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut page = 1;
        let bytes_before = self.body_bytes.load(Ordering::Relaxed);
        loop {
            let url = format!("{path}?per_page={per_page}&page={page}");
            let (items, info) = self
                .call::<Vec<T>>(Method::GET, &url, None, Retry::Read)
                .await?;
            // An id seen on an earlier page means the pages repeat (or alternate): a list
            // that never ends, or one that holds records twice.
            if let Some(repeated) = items
                .iter()
                .find(|item| !seen.insert(item.id().to_string()))
            {
                return Err(ApiError::Malformed {
                    status: 200,
                    detail: format!(
                        "page {page} of {path} repeats an item of an earlier page ({})",
                        crate::logging::one_line(repeated.id())
                    ),
                });
            }
            let read = self.body_bytes.load(Ordering::Relaxed) - bytes_before;
            if read > MAX_LISTING_BYTES {
                return Err(ApiError::TooLarge {
                    limit: MAX_LISTING_BYTES,
                });
            }
            let got = items.len();
            all.extend(items);
            let total_pages = info.and_then(|info| info.total_pages).unwrap_or(1);
            if page >= total_pages || got == 0 {
                return Ok(all);
            }
            if page >= max_pages {
                return Err(ApiError::TooManyPages {
                    path: path.to_string(),
                    limit: max_pages,
                });
            }
            page += 1;
        }
    }
}

use super::request::{confirm_batch, lock};
