//! The WAF-list stage of a cycle: for each `[[waf_lists]]` entry, one list at a time (only one
//! bulk operation may be pending per account), bring the list's items for this host in line
//! with the detected addresses. A list in sync costs nothing while the detected addresses match
//! what was remembered after the last check and the reconcile interval runs; otherwise the list
//! is read, planned (`waf::plan_items`, pure) and written: add first, then remove, so the skip
//! rule never matches nothing in between.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::report::{ListFailure, ListReport, ListState};
use super::Pass;
use crate::cloudflare::ApiError;
use crate::config::TokenUser;
use crate::config::WafListConfig;
use crate::model::Family;
use crate::state::remembered::is_fresh;
use crate::state::remembered::list_key;
use crate::state::unix_now;
use crate::waf::{
    kind_problem, normalise, plan_items, wanted_items, AddedItem, ListPlan, Ownership, Wanted,
};

/// An item as this host remembers it: the normal form of `ip` and its comment.
fn owned(ip: &str, comment: &str) -> Option<AddedItem> {
    normalise(ip).map(|(_, text)| AddedItem {
        ip: text,
        comment: comment.to_string(),
    })
}

/// What `find_or_create` found.
enum Found {
    Id(String),
    /// Missing, and a dry run does not create it.
    Missing,
}

impl Pass<'_, '_> {
    /// Every WAF list, in config order. After a list of an account fails, that account's
    /// other lists wait for the next cycle: an operation may still be pending there, and only
    /// one may be.
    pub(super) async fn lists(&mut self, addresses: &BTreeMap<Family, IpAddr>) -> Vec<ListReport> {
        let mut reports = Vec::new();
        let mut busy: Vec<String> = Vec::new();
        for list in &self.config.waf_lists {
            if busy.contains(&list.account) {
                reports.push(ListReport {
                    account: list.account.clone(),
                    name: list.name.clone(),
                    items: Vec::new(),
                    state: ListState::Failed(ListFailure::Api {
                        account: list.account.clone(),
                        name: list.name.clone(),
                        step: "waiting for the account",
                        error: ApiError::OperationPending,
                    }),
                });
                continue;
            }
            let report = self.one_list(list, addresses).await;
            if matches!(report.state, ListState::Failed(_)) {
                busy.push(list.account.clone());
            }
            reports.push(report);
        }
        for unreadable in &self.config.unreadable {
            if let TokenUser::List { account, name } = &unreadable.user {
                reports.push(ListReport {
                    account: account.clone(),
                    name: name.clone(),
                    items: Vec::new(),
                    state: ListState::Failed(ListFailure::TokenUnreadable {
                        account: account.clone(),
                        name: name.clone(),
                        error: unreadable.error.clone(),
                    }),
                });
            }
        }
        reports
    }

    /// The id of the list named in `list`, created when missing (unless a dry run: then
    /// `Missing`), or the step that failed and why.
    async fn find_or_create(
        &self,
        list: &WafListConfig,
    ) -> Result<Found, (&'static str, ApiError)> {
        let api = self.accounts[list.token].api;
        let lists = api
            .lists(&list.account)
            .await
            .map_err(|error| ("reading the account's lists", error))?;
        match lists.into_iter().find(|found| found.name == list.name) {
            Some(found) => match kind_problem(&list.name, &found.kind) {
                Some(detail) => Err((
                    "checking the list",
                    ApiError::Malformed {
                        status: 200,
                        detail,
                    },
                )),
                None => Ok(Found::Id(found.id)),
            },
            None if self.dry_run => Ok(Found::Missing),
            None => {
                let created = api
                    .create_list(&list.account, &list.name, &list.description)
                    .await
                    .map_err(|error| ("creating the list", error))?;
                tracing::info!("created WAF list {} (account {})", list.name, list.account);
                Ok(Found::Id(created.id))
            }
        }
    }

    async fn one_list(
        &mut self,
        list: &WafListConfig,
        addresses: &BTreeMap<Family, IpAddr>,
    ) -> ListReport {
        let enabled: Vec<Family> = [Family::V4, Family::V6]
            .into_iter()
            .filter(|family| !self.config.detect.providers(*family).is_empty())
            .collect();
        let wanted = wanted_items(list.ipv4_prefix, list.ipv6_prefix, addresses, &enabled);
        let items: Vec<String> = wanted.desired.values().cloned().collect();
        let report = |state: ListState| ListReport {
            account: list.account.clone(),
            name: list.name.clone(),
            items: items.clone(),
            state,
        };
        let key = list_key(self.accounts[list.token].fingerprint, list);
        let now = unix_now();
        let remembered = self.memory.list(&key);
        // Only when every family is known may memory say "in sync": an unknown family's item
        // cannot be judged, and the list is then read. In api mode the API is the only
        // judge, every cycle.
        let complete = wanted.judged.len() == 2;
        let api_mode = matches!(self.config.check, crate::config::CheckMode::Api);
        if let Some(memory) = &remembered {
            let fresh = is_fresh(memory.checked_at, now, self.config.reconcile)
                && !self.forced
                && !api_mode;
            if fresh && complete && memory.items == items {
                return report(ListState::InSync);
            }
        }
        let remembered_id = remembered.map(|memory| memory.id);
        let (list_id, plan) = match self.read_and_plan(list, &key, remembered_id, &wanted).await {
            Ok(Reading::Planned { list_id, plan }) => (list_id, plan),
            Ok(Reading::Missing) => {
                return report(ListState::WouldChange {
                    added: items.clone(),
                    removed: Vec::new(),
                    created: true,
                })
            }
            Err(state) => return report(state),
        };
        let removed: Vec<String> = plan.remove.iter().map(|item| item.ip.clone()).collect();
        if plan.is_empty() {
            if !self.dry_run {
                self.memory.remember_list(&key, &list_id, &items, now);
            }
            return report(ListState::InSync);
        }
        if self.dry_run {
            return report(ListState::WouldChange {
                added: plan.add,
                removed,
                created: false,
            });
        }
        if let Err(state) = self.write(list, &key, &list_id, &plan).await {
            return report(state);
        }
        self.memory.remember_list(&key, &list_id, &items, now);
        report(ListState::Changed {
            added: plan.add,
            removed,
        })
    }

    /// Reads the list's items and plans. A remembered id may serve to read (a GET), never to
    /// write: before a write the id is confirmed by this cycle's listing of the account's
    /// lists under the managed name (a list renamed in the dashboard keeps its id). A
    /// remembered id that answers 404 (the list was deleted out of band) is looked up again,
    /// and the list re-created, in this same cycle.
    async fn read_and_plan(
        &mut self,
        list: &WafListConfig,
        key: &str,
        mut remembered_id: Option<String>,
        wanted: &Wanted,
    ) -> Result<Reading, ListState> {
        let api = self.accounts[list.token].api;
        loop {
            let from_memory = remembered_id.is_some();
            let list_id = match remembered_id.take() {
                Some(id) => id,
                None => match self.find_or_create(list).await {
                    Ok(Found::Id(id)) => id,
                    Ok(Found::Missing) => return Ok(Reading::Missing),
                    Err((step, error)) => return Err(api_failure(list, step, error)),
                },
            };
            let held = match api.list_items(&list.account, &list_id).await {
                Ok(held) => held,
                Err(ApiError::Api { status: 404, .. }) if from_memory => {
                    tracing::info!(
                        "WAF list {} (account {}) is gone; looking it up again",
                        list.name,
                        list.account
                    );
                    self.memory.forget_list(key);
                    continue;
                }
                Err(error) => {
                    self.memory.forget_list(key);
                    return Err(api_failure(list, "reading its items", error));
                }
            };
            let added = self.memory.added_items(key).to_vec();
            let ownership = Ownership {
                comment: &list.comment,
                added: &added,
            };
            let plan = plan_items(&wanted.desired, &wanted.judged, &held, ownership);
            if !self.dry_run {
                // What carries this host's comment now is its own, whatever the comment
                // becomes.
                let under_comment: Vec<AddedItem> = held
                    .iter()
                    .filter(|item| item.comment.as_deref() == Some(list.comment.as_str()))
                    .filter_map(|item| owned(&item.ip, &list.comment))
                    .collect();
                self.memory.note_added(key, &under_comment);
            }
            if plan.is_empty() || self.dry_run || !from_memory {
                return Ok(Reading::Planned { list_id, plan });
            }
            match self.find_or_create(list).await {
                Ok(Found::Id(confirmed)) if confirmed == list_id => {
                    return Ok(Reading::Planned { list_id, plan })
                }
                Ok(_) => {
                    tracing::info!(
                        "the remembered id of WAF list {} (account {}) now names another list; looking it up again",
                        list.name,
                        list.account
                    );
                    self.memory.forget_list(key);
                }
                Err((step, error)) => return Err(api_failure(list, step, error)),
            }
        }
    }

    /// Adds, then removes (so the skip rule never lacks this host's address), and tells the
    /// memory which items are this host's now.
    async fn write(
        &mut self,
        list: &WafListConfig,
        key: &str,
        list_id: &str,
        plan: &ListPlan,
    ) -> Result<(), ListState> {
        let api = self.accounts[list.token].api;
        if !plan.add.is_empty() {
            if let Err(error) = api
                .add_items(&list.account, list_id, &plan.add, &list.comment)
                .await
            {
                self.memory.forget_list(key);
                return Err(api_failure(list, "adding items", error));
            }
            let added: Vec<AddedItem> = plan
                .add
                .iter()
                .filter_map(|ip| owned(ip, &list.comment))
                .collect();
            self.memory.note_added(key, &added);
        }
        if !plan.remove.is_empty() {
            let ids: Vec<String> = plan.remove.iter().map(|item| item.id.clone()).collect();
            if let Err(error) = api.delete_items(&list.account, list_id, &ids).await {
                self.memory.forget_list(key);
                return Err(api_failure(list, "removing items", error));
            }
            let gone: Vec<AddedItem> = plan
                .remove
                .iter()
                .filter_map(|item| owned(&item.ip, item.comment.as_deref().unwrap_or_default()))
                .collect();
            self.memory.note_removed(key, &gone);
        }
        Ok(())
    }
}

/// What reading a list gave: its id and the plan, or (in a dry run) that it is missing.
enum Reading {
    Planned { list_id: String, plan: ListPlan },
    Missing,
}

/// The failed state of a list whose `step` failed with `error`.
fn api_failure(list: &WafListConfig, step: &'static str, error: ApiError) -> ListState {
    ListState::Failed(ListFailure::Api {
        account: list.account.clone(),
        name: list.name.clone(),
        step,
        error,
    })
}
