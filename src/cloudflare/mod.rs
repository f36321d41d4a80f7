//! A small typed client for the part of Cloudflare's API v4 that flaredns needs: list zones,
//! list a zone's records, one batch write per zone, token verification and a zone setting.
//! It is the only module that knows Cloudflare's JSON, and every request it sends passes the
//! `budget` gate first. The `cloudflare` crate is not used: it cannot list a zone holding CAA
//! and other types, overflows on five-digit error codes, has no PATCH and drops Retry-After.
//!
//! Two lifetimes: `Client` lives as long as the process (HTTP connections, the token, the
//! budget and its backoff); `ApiCycle` lives for one cycle (its deadline, and what is halted:
//! the whole token after a challenge or a rejected token, one zone after a 403 about it). It
//! knows nothing of the planner: callers hand it a `Batch`.

pub mod budget;
mod classify;
mod client;
mod error;
mod lists;
mod request;
mod wire;

use std::net::IpAddr;

use crate::model::{DomainName, Family};

#[cfg(test)]
pub use classify::classify_for_tests;
pub use classify::{parse_ratelimit, parse_retry_after};
pub use client::{ApiCycle, Client, RequestKind, TokenStatus};
pub use error::{ApiError, CloudflareMessage, HaltScope};
pub use lists::{FirewallRule, ListInfo};

/// Cloudflare's limit on changes in one batch (Free plan).
pub const MAX_BATCH_CHANGES: usize = 200;
/// The largest API answer flaredns reads: a page of 5000 records is about 3 MB.
pub const MAX_API_BODY: usize = 16 * 1024 * 1024;
/// The most one listing (all its pages) may read: 20 full pages of records.
pub const MAX_LISTING_BYTES: usize = 64 * 1024 * 1024;

/// One batch: deletes, then patches, then posts, applied by Cloudflare as one transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// Record ids to delete.
    pub deletes: Vec<String>,
    pub patches: Vec<Patch>,
    pub posts: Vec<Post>,
}

impl Batch {
    /// How many changes the batch holds.
    pub fn len(&self) -> usize {
        self.deletes.len() + self.patches.len() + self.posts.len()
    }

    /// True when the batch holds no change.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A PATCH by id: only the fields present change. `name` and `family` are what the record
/// must be (checked in the answer, not sent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Patch {
    pub id: String,
    pub name: DomainName,
    pub family: Family,
    pub content: IpAddr,
    pub proxied: Option<bool>,
    pub ttl: Option<u32>,
}

/// A new address record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Post {
    pub name: DomainName,
    pub family: Family,
    pub content: IpAddr,
    pub proxied: bool,
    pub ttl: u32,
    pub comment: Option<String>,
}
