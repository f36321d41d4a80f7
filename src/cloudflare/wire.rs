//! Cloudflare's JSON, as serde types. Nothing here leaves the `cloudflare` module: the client
//! converts to `model` types at the boundary, so a change in the wire format touches one file.

use serde::{Deserialize, Serialize};

use crate::model::{DomainName, ObservedRecord};

/// The envelope every API v4 answer comes in.
#[derive(Debug, Deserialize)]
pub(crate) struct Envelope<T> {
    #[serde(default)]
    pub success: bool,
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

/// Paging information of a list.
#[derive(Debug, Deserialize)]
pub(crate) struct ResultInfo {
    pub total_pages: Option<u32>,
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
            id: self.id,
            record_type: self.record_type,
            content: self.content.unwrap_or_default(),
            proxied: self.proxied.unwrap_or(false),
            ttl: self.ttl.unwrap_or(1),
            comment: self.comment,
        })
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
