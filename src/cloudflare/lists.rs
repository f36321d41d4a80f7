//! The Lists API (account level) and the zone rulesets doctor reads: list the account's
//! lists, create one, read its items (cursor paging), add and delete items (asynchronous: each
//! write answers an operation id, polled until `completed` or `failed`, within the cycle's
//! deadline), and a zone's custom firewall rules. Same client, budget, halts and error
//! handling as the DNS calls.

use std::time::Duration;

use reqwest::Method;
use tokio::time::Instant;

use super::client::{ApiCycle, Retry};
use super::error::ApiError;
use super::wire::{self, clean, WireItem, WireList, WireOperation, WireOperationId, WireRuleset};
use crate::waf::HeldItem;

/// At most this many pages of one list's items (cursor paging).
const MAX_ITEM_PAGES: u32 = 100;
/// The first wait between polls of an operation; it doubles up to `MAX_POLL_WAIT`.
const FIRST_POLL_WAIT: Duration = Duration::from_millis(250);
const MAX_POLL_WAIT: Duration = Duration::from_secs(4);

/// A list of the account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListInfo {
    pub id: String,
    pub name: String,
    pub kind: String,
}

/// A rule of a zone's custom firewall ruleset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirewallRule {
    pub expression: String,
    pub action: String,
    pub enabled: bool,
}

impl ApiCycle<'_> {
    /// The account's custom lists.
    pub async fn lists(&self, account: &str) -> Result<Vec<ListInfo>, ApiError> {
        let (lists, _) = self
            .call::<Vec<WireList>>(
                Method::GET,
                &format!("/accounts/{account}/rules/lists"),
                None,
                Retry::Read,
            )
            .await?;
        Ok(lists.into_iter().filter_map(list_info).collect())
    }

    /// Creates an IP list.
    pub async fn create_list(
        &self,
        account: &str,
        name: &str,
        description: &str,
    ) -> Result<ListInfo, ApiError> {
        let body = serde_json::json!({"name": name, "kind": "ip", "description": description});
        let (list, _) = self
            .call::<WireList>(
                Method::POST,
                &format!("/accounts/{account}/rules/lists"),
                Some(body),
                Retry::Write,
            )
            .await?;
        list_info(list).ok_or_else(|| ApiError::Malformed {
            status: 200,
            detail: "the new list's id is not an id".to_string(),
        })
    }

    /// Every item of a list, following the cursor.
    pub async fn list_items(&self, account: &str, list: &str) -> Result<Vec<HeldItem>, ApiError> {
        let mut items = Vec::new();
        let mut seen: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        let mut cursor: Option<String> = None;
        for page_number in 1..=MAX_ITEM_PAGES {
            let mut path = format!("/accounts/{account}/rules/lists/{list}/items?per_page=500");
            if let Some(after) = &cursor {
                path.push_str(&format!("&cursor={}", encode(after)));
            }
            let (page, info) = self
                .call::<Vec<WireItem>>(Method::GET, &path, None, Retry::Read)
                .await?;
            let got = page.len();
            // An id seen on an earlier page: the cursor loops (or alternates), and following
            // it would cost a request per page up to the cap, every cycle.
            if let Some(repeated) = page.iter().find(|item| !seen.insert(item.id.clone())) {
                return Err(ApiError::Malformed {
                    status: 200,
                    detail: format!(
                        "page {page_number} of the items of list {list} repeats an item of an earlier page ({})",
                        clean(repeated.id.clone())
                    ),
                });
            }
            items.extend(page.into_iter().map(|item| HeldItem {
                id: clean(item.id),
                ip: clean(item.ip.unwrap_or_default()),
                comment: item.comment.map(clean),
            }));
            let next = info
                .and_then(|info| info.cursors)
                .and_then(|cursors| cursors.after);
            match next {
                Some(after) if got > 0 && Some(&after) != cursor.as_ref() => cursor = Some(after),
                _ => return Ok(items),
            }
        }
        Err(ApiError::TooManyPages {
            path: format!("/accounts/{account}/rules/lists/{list}/items"),
            limit: MAX_ITEM_PAGES,
        })
    }

    /// Appends items (with `comment`) and waits for the operation.
    pub async fn add_items(
        &self,
        account: &str,
        list: &str,
        items: &[String],
        comment: &str,
    ) -> Result<(), ApiError> {
        let body: Vec<serde_json::Value> = items
            .iter()
            .map(|ip| serde_json::json!({"ip": ip, "comment": comment}))
            .collect();
        let path = format!("/accounts/{account}/rules/lists/{list}/items");
        let body = serde_json::Value::Array(body);
        let operation = self.start_operation(Method::POST, &path, &body).await?;
        self.wait_operation(account, &operation.operation_id).await
    }

    /// Deletes items by id and waits for the operation.
    pub async fn delete_items(
        &self,
        account: &str,
        list: &str,
        ids: &[String],
    ) -> Result<(), ApiError> {
        let items: Vec<serde_json::Value> =
            ids.iter().map(|id| serde_json::json!({"id": id})).collect();
        let path = format!("/accounts/{account}/rules/lists/{list}/items");
        let body = serde_json::json!({ "items": items });
        let operation = self.start_operation(Method::DELETE, &path, &body).await?;
        self.wait_operation(account, &operation.operation_id).await
    }

    /// Sends an item write. A 429 (another operation of the account is still pending: only
    /// one may be) is waited out, with a growing wait, until the cycle's deadline; Cloudflare
    /// cannot have applied a write it answered 429.
    async fn start_operation(
        &self,
        method: Method,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<WireOperationId, ApiError> {
        let mut wait = FIRST_POLL_WAIT;
        loop {
            match self
                .call::<WireOperationId>(method.clone(), path, Some(body.clone()), Retry::Write)
                .await
            {
                Ok((operation, _)) => return Ok(operation),
                Err(ApiError::RateLimited { .. }) if Instant::now() + wait < self.deadline() => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_POLL_WAIT);
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Polls a bulk operation until it completes or fails, with a growing wait, within the
    /// cycle's deadline. Only one operation may be pending per account, so callers write one
    /// list at a time and wait here before the next.
    async fn wait_operation(&self, account: &str, operation: &str) -> Result<(), ApiError> {
        let mut wait = FIRST_POLL_WAIT;
        loop {
            let answer = self
                .call::<WireOperation>(
                    Method::GET,
                    &format!(
                        "/accounts/{account}/rules/lists/bulk_operations/{}",
                        encode(operation)
                    ),
                    None,
                    Retry::Read,
                )
                .await;
            let state = match answer {
                Ok((state, _)) => state,
                // A 429 or a server error while the operation runs is waited out (through the
                // budget, which honours Retry-After), not taken as the operation's end.
                Err(error) if error.is_transient() && Instant::now() + wait < self.deadline() => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_POLL_WAIT);
                    continue;
                }
                Err(error) => return Err(error),
            };
            match state.status.as_str() {
                "completed" => return Ok(()),
                "failed" => {
                    return Err(ApiError::OperationFailed {
                        detail: clean(state.error.unwrap_or_else(|| "no reason given".to_string())),
                    })
                }
                _ => {}
            }
            if Instant::now() + wait >= self.deadline() {
                return Err(ApiError::OperationPending);
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(MAX_POLL_WAIT);
        }
    }

    /// The zone's custom firewall rules (the entrypoint of `http_request_firewall_custom`);
    /// none when the zone has no such ruleset (404).
    pub async fn firewall_rules(&self, zone: &str) -> Result<Vec<FirewallRule>, ApiError> {
        let answer = self
            .call::<WireRuleset>(
                Method::GET,
                &format!("/zones/{zone}/rulesets/phases/http_request_firewall_custom/entrypoint"),
                None,
                Retry::Read,
            )
            .await;
        let ruleset = match answer {
            Ok((ruleset, _)) => ruleset,
            Err(ApiError::Api { status: 404, .. }) => wire::WireRuleset::default(),
            Err(error) => return Err(error),
        };
        Ok(ruleset
            .rules
            .into_iter()
            .map(|rule| FirewallRule {
                expression: clean(rule.expression),
                action: clean(rule.action),
                enabled: rule.enabled.unwrap_or(true),
            })
            .collect())
    }
}

/// A list as the model has it, or nothing when its id could not be a path segment: such a
/// list is not one flaredns will write to.
fn list_info(list: WireList) -> Option<ListInfo> {
    wire::safe_id(&list.id).then(|| ListInfo {
        id: list.id,
        name: clean(list.name),
        kind: clean(list.kind),
    })
}

/// Percent-encodes a cursor or id for a query or path segment.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
