//! The stand-in's data: the zones and records, the accounts' custom lists, the request log
//! and the `State` every server shares under one lock. Plain values with builders; the servers
//! (`api`, `dns`) decide what a request does to them.

use serde::Serialize;

use crate::{Fault, PUBLIC_IPV4, PUBLIC_IPV6, TOKEN};

/// A DNS record as the stand-in stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Record {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: String,
    pub content: String,
    pub proxied: bool,
    pub ttl: u32,
    pub comment: Option<String>,
    pub tags: Vec<String>,
}

impl Record {
    /// A record with Cloudflare's defaults (not proxied, TTL auto, no comment or tags).
    pub fn new(name: &str, record_type: &str, content: &str) -> Record {
        Record {
            id: String::new(),
            name: name.to_ascii_lowercase(),
            record_type: record_type.to_ascii_uppercase(),
            content: content.to_string(),
            proxied: false,
            ttl: 1,
            comment: None,
            tags: Vec::new(),
        }
    }

    /// Builder: proxied.
    pub fn proxied(mut self, proxied: bool) -> Record {
        self.proxied = proxied;
        self
    }

    /// Builder: TTL.
    pub fn ttl(mut self, ttl: u32) -> Record {
        self.ttl = ttl;
        self
    }

    /// Builder: comment.
    pub fn comment(mut self, comment: &str) -> Record {
        self.comment = Some(comment.to_string());
        self
    }

    /// Builder: tags.
    pub fn tags(mut self, tags: &[&str]) -> Record {
        self.tags = tags.iter().map(|tag| tag.to_string()).collect();
        self
    }
}

/// One zone and its records.
#[derive(Clone, Debug)]
pub struct ZoneState {
    pub id: String,
    pub name: String,
    pub security_level: String,
    pub records: Vec<Record>,
    /// Expressions of the zone's custom firewall rules (`http_request_firewall_custom`); no
    /// ruleset at all when empty.
    pub firewall_rules: Vec<String>,
}

/// A custom list of an account (Lists API).
#[derive(Clone, Debug)]
pub struct CustomList {
    pub account: String,
    pub id: String,
    pub name: String,
    pub kind: String,
    pub description: String,
    pub items: Vec<ListItem>,
}

/// An item of a custom list, its `ip` normalised as Cloudflare stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListItem {
    pub id: String,
    pub ip: String,
    pub comment: Option<String>,
}

/// A bulk operation on list items: `pending` until polled once, then its outcome.
#[derive(Clone, Debug)]
pub struct Operation {
    pub account: String,
    pub polled: bool,
    /// The error it fails with, if it fails.
    pub error: Option<String>,
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: String,
    /// Seconds since the stand-in started, for pacing assertions.
    pub at: f64,
    /// The request's headers, names in lower case, for receivers' auth and titles.
    pub headers: Vec<(String, String)>,
}

impl LoggedRequest {
    /// The first value of header `name` (lower case), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// True for Cloudflare API calls (not the IP echo).
    pub fn is_api(&self) -> bool {
        self.path.starts_with("/client/v4/")
    }

    /// True for anything but GET.
    pub fn is_write(&self) -> bool {
        self.method != "GET"
    }
}

/// Everything the servers share.
#[derive(Debug)]
pub struct State {
    pub token: String,
    /// More tokens, each seeing only the zones named beside it (another account, say).
    pub scoped_tokens: Vec<(String, Vec<String>)>,
    pub zones: Vec<ZoneState>,
    pub public_ipv4: String,
    pub public_ipv6: String,
    pub warp: bool,
    pub requests: Vec<LoggedRequest>,
    pub faults: Vec<Fault>,
    pub dns_up: bool,
    pub dns_queries: u64,
    pub dns_port: u16,
    pub lists: Vec<CustomList>,
    pub operations: std::collections::BTreeMap<String, Operation>,
    /// The next list item write fails with this error (a failed bulk operation).
    pub fail_next_operation: Option<String>,
    /// Item pages answer cursors that alternate between two pages forever.
    pub looping_item_cursor: bool,
    next_id: u64,
    /// When the stand-in started: requests are logged with seconds since then.
    pub(crate) started: tokio::time::Instant,
}

impl State {
    /// A fresh state: the default token and public addresses, no zones, DNS up.
    pub(crate) fn new() -> State {
        State {
            token: TOKEN.to_string(),
            scoped_tokens: Vec::new(),
            zones: Vec::new(),
            public_ipv4: PUBLIC_IPV4.to_string(),
            public_ipv6: PUBLIC_IPV6.to_string(),
            warp: false,
            requests: Vec::new(),
            faults: Vec::new(),
            dns_up: true,
            dns_queries: 0,
            dns_port: 0,
            next_id: 0,
            lists: Vec::new(),
            operations: std::collections::BTreeMap::new(),
            fail_next_operation: None,
            looping_item_cursor: false,
            started: tokio::time::Instant::now(),
        }
    }

    /// A new id in Cloudflare's shape (32 hex digits), unique within this stand-in.
    pub(crate) fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("{:032x}", 0x5ade_0000_0000_u64 + self.next_id)
    }
}
