//! Cloudflare's JSON, as serde types. Nothing here leaves the `cloudflare` module: the client
//! converts to `model` types at the boundary, so a change in the wire format touches one file.

use serde::{Deserialize, Serialize};

use crate::model::{DomainName, ObservedRecord, Zone};

/// Items of a paged list carry an id: a page that repeats the previous one is caught by it.
pub(crate) trait HasId {
    fn id(&self) -> &str;
}

/// A zone as listed.
#[derive(Debug, Deserialize)]
pub(crate) struct WireZone {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub name_servers: Vec<String>,
}

impl WireZone {
    /// The zone, or nothing when its id could not be a path segment (a hostile answer could
    /// otherwise steer later requests elsewhere).
    pub fn into_zone(self) -> Option<Zone> {
        safe_id(&self.id).then(|| Zone {
            id: self.id,
            name: clean(self.name),
            name_servers: self.name_servers.into_iter().map(clean).collect(),
        })
    }
}

/// True for an id that may go into a URL path as it is: Cloudflare's ids are hex.
pub(crate) fn safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

impl HasId for WireZone {
    fn id(&self) -> &str {
        &self.id
    }
}

impl HasId for WireRecord {
    fn id(&self) -> &str {
        &self.id
    }
}

/// The result of a batch: the records as stored, per phase.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct BatchResult {
    #[serde(default)]
    pub deletes: Vec<serde_json::Value>,
    #[serde(default)]
    pub patches: Vec<BatchRecordResult>,
    #[serde(default)]
    pub posts: Vec<BatchRecordResult>,
}

/// One record in a batch result; only what is checked is read.
#[derive(Debug, Deserialize)]
pub(crate) struct BatchRecordResult {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(rename = "type", default)]
    pub record_type: Option<String>,
    #[serde(default)]
    pub proxied: Option<bool>,
    #[serde(default)]
    pub ttl: Option<u32>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
}

/// The envelope every API v4 answer comes in.
#[derive(Debug, Deserialize)]
pub(crate) struct Envelope<T> {
    #[serde(default)]
    pub success: Option<bool>,
    #[serde(default)]
    pub errors: Vec<WireMessage>,
    pub result: Option<T>,
    pub result_info: Option<ResultInfo>,
}

/// An error or message entry. Codes can be five digits (81057), so they are u64.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub(crate) struct WireMessage {
    #[serde(default)]
    pub code: u64,
    #[serde(default)]
    pub message: String,
}

/// Paging information of a list: pages (DNS) or a cursor (Lists).
#[derive(Debug, Deserialize)]
pub(crate) struct ResultInfo {
    pub total_pages: Option<u32>,
    #[serde(default)]
    pub cursors: Option<Cursors>,
}

/// The Lists API's cursor paging.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Cursors {
    #[serde(default)]
    pub after: Option<String>,
}

/// A custom list of the account.
#[derive(Debug, Deserialize)]
pub(crate) struct WireList {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub kind: String,
}

/// A list item.
#[derive(Debug, Deserialize)]
pub(crate) struct WireItem {
    pub id: String,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// The answer to an item write: the asynchronous operation.
#[derive(Debug, Deserialize)]
pub(crate) struct WireOperationId {
    pub operation_id: String,
}

/// A bulk operation's state.
#[derive(Debug, Deserialize)]
pub(crate) struct WireOperation {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub error: Option<String>,
}

/// A zone's entrypoint ruleset of a phase.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireRuleset {
    #[serde(default)]
    pub rules: Vec<WireRule>,
}

/// One rule of a ruleset; only what doctor reads.
#[derive(Debug, Deserialize)]
pub(crate) struct WireRule {
    #[serde(default)]
    pub expression: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A DNS record as listed. Records of every type are accepted (CAA, SRV, HTTPS…): `content`
/// is optional because some types carry `data` instead.
#[derive(Debug, Deserialize)]
pub(crate) struct WireRecord {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: String,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub proxied: Option<bool>,
    #[serde(default)]
    pub ttl: Option<u32>,
    #[serde(default)]
    pub comment: Option<String>,
}

impl WireRecord {
    /// Converts to the model; a name Cloudflare sends that we cannot parse is skipped by the caller.
    pub fn into_observed(self) -> Option<ObservedRecord> {
        Some(ObservedRecord {
            name: DomainName::parse(&self.name).ok()?,
            id: clean(self.id),
            record_type: clean(self.record_type),
            content: clean(self.content.unwrap_or_default()),
            proxied: self.proxied.unwrap_or(false),
            ttl: self.ttl.unwrap_or(1),
            comment: self.comment.map(clean),
        })
    }
}

/// Text from the server made safe before it enters the model: every string the server sends
/// (ids, contents, a CNAME target, names, comments) may end up in a log line or a doctor
/// line, so control characters are escaped here, once, and it is capped.
pub(crate) fn clean(text: String) -> String {
    if text.chars().any(char::is_control) || text.chars().count() > 300 {
        crate::logging::one_line(&text)
    } else {
        text
    }
}

/// `POST /zones/{id}/dns_records/batch`. Cloudflare applies deletes, patches, puts, posts in
/// that order, as one transaction.
#[derive(Debug, Default, Serialize)]
pub(crate) struct BatchRequest {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deletes: Vec<BatchDelete>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<BatchPatch>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub posts: Vec<BatchPost>,
}

/// A delete by id.
#[derive(Debug, Serialize)]
pub(crate) struct BatchDelete {
    pub id: String,
}

/// A PATCH: only the fields present change.
#[derive(Debug, Serialize)]
pub(crate) struct BatchPatch {
    pub id: String,
    pub content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxied: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
}

/// A new record.
#[derive(Debug, Serialize)]
pub(crate) struct BatchPost {
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: String,
    pub content: String,
    pub proxied: bool,
    pub ttl: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// `GET /user/tokens/verify`.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenVerify {
    pub status: String,
    #[serde(default)]
    pub expires_on: Option<String>,
}

/// `GET /zones/{id}/settings/{name}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Setting {
    pub value: serde_json::Value,
}

impl From<&super::Batch> for BatchRequest {
    fn from(batch: &super::Batch) -> BatchRequest {
        BatchRequest {
            deletes: batch
                .deletes
                .iter()
                .map(|id| BatchDelete { id: id.clone() })
                .collect(),
            patches: batch
                .patches
                .iter()
                .map(|patch| BatchPatch {
                    id: patch.id.clone(),
                    content: patch.content.to_string(),
                    proxied: patch.proxied,
                    ttl: patch.ttl,
                })
                .collect(),
            posts: batch
                .posts
                .iter()
                .map(|post| BatchPost {
                    name: post.name.to_string(),
                    record_type: post.family.record_type().to_string(),
                    content: post.content.to_string(),
                    proxied: post.proxied,
                    ttl: post.ttl,
                    comment: post.comment.clone(),
                })
                .collect(),
        }
    }
}
