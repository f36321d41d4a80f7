//! What the API last showed at the managed names of each zone, remembered between cycles and
//! runs (`records.json`), so that what DNS cannot confirm (a proxied record answers
//! Cloudflare's addresses) costs no request while the reconcile interval runs; and, for each
//! WAF list, its id and the items this host added. It is a cache: the planner judges against
//! it only for "in sync" while it is fresh; it never chooses what to write (every write names
//! an id listed in the same cycle).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{DomainName, ObservedRecord};
use crate::plan::Action;

/// The file's name in the state directory.
pub const FILE: &str = "records.json";
/// The format this version writes; another version's file is ignored.
const VERSION: u32 = 1;
/// At most this many zones are remembered (a config names far fewer).
const MAX_ZONES: usize = 1000;

/// Everything remembered, by `key(token, zone)`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    version: u32,
    zones: BTreeMap<String, ZoneMemory>,
    /// WAF lists by "token/account/name".
    #[serde(default)]
    lists: BTreeMap<String, ListMemory>,
    /// The items this host added to each WAF list, each with the comment it carried, by the
    /// same key. Kept when a list's id is forgotten: it is what makes an item this host's
    /// after a `comment` change, so an old address never stays in the skip list, while an
    /// item someone else put at the same address (with another comment) stays theirs.
    #[serde(default)]
    added_items: BTreeMap<String, Vec<AddedItem>>,
}

/// An item this host added to a WAF list: its address (normal form) and the comment it
/// carried.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AddedItem {
    pub ip: String,
    pub comment: String,
}

/// The most items remembered as added to one list (this host has one per family; the rest
/// are old addresses waiting to be removed).
const MAX_ADDED_ITEMS: usize = 16;

/// A WAF list as last checked: its id, this host's items it held, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListMemory {
    pub id: String,
    pub items: Vec<String>,
    /// Unix seconds.
    pub checked_at: u64,
}

/// One zone's records at the managed names, as last listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneMemory {
    /// Unix seconds of the listing the records came from.
    pub listed_at: u64,
    records: Vec<RememberedRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct RememberedRecord {
    id: String,
    name: String,
    #[serde(rename = "type")]
    record_type: String,
    content: String,
    proxied: bool,
    ttl: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

impl From<&ObservedRecord> for RememberedRecord {
    fn from(record: &ObservedRecord) -> RememberedRecord {
        RememberedRecord {
            id: record.id.clone(),
            name: record.name.to_string(),
            record_type: record.record_type.clone(),
            content: record.content.clone(),
            proxied: record.proxied,
            ttl: record.ttl,
            comment: record.comment.clone(),
        }
    }
}

/// The key of a zone seen through one token.
pub fn key(token_fingerprint: &str, zone_id: &str) -> String {
    format!("{token_fingerprint}/{zone_id}")
}

impl Remembered {
    /// A file's contents, or nothing when it is another version's.
    pub fn checked(self) -> Option<Remembered> {
        (self.version == VERSION
            && self.zones.len() <= MAX_ZONES
            && self.added_items.len() <= MAX_ZONES
            && self
                .added_items
                .values()
                .all(|items| items.len() <= MAX_ADDED_ITEMS))
        .then_some(self)
    }

    /// The remembered records of a zone, of any age, with the time they were listed.
    pub fn records(&self, key: &str) -> Option<(u64, Vec<ObservedRecord>)> {
        let memory = self.zones.get(key)?;
        let records = memory
            .records
            .iter()
            .filter_map(|record| {
                Some(ObservedRecord {
                    id: record.id.clone(),
                    name: DomainName::parse(&record.name).ok()?,
                    record_type: record.record_type.clone(),
                    content: record.content.clone(),
                    proxied: record.proxied,
                    ttl: record.ttl,
                    comment: record.comment.clone(),
                })
            })
            .collect();
        Some((memory.listed_at, records))
    }

    /// The contents remembered at `name` with `record_type`, in any zone: what this host
    /// last knew to be published there.
    pub fn contents_at(&self, name: &DomainName, record_type: &str) -> Vec<String> {
        self.zones
            .values()
            .flat_map(|memory| &memory.records)
            .filter(|record| {
                record.name == name.as_str() && record.record_type.eq_ignore_ascii_case(record_type)
            })
            .map(|record| record.content.clone())
            .collect()
    }

    /// Remembers a fresh listing: the records at `names`, listed at `now`.
    pub fn remember_listing(
        &mut self,
        key: &str,
        now: u64,
        names: &[&DomainName],
        observed: &[ObservedRecord],
    ) {
        let records = observed
            .iter()
            .filter(|record| names.contains(&&record.name))
            .map(RememberedRecord::from)
            .collect();
        self.version = VERSION;
        self.zones.insert(
            key.to_string(),
            ZoneMemory {
                listed_at: now,
                records,
            },
        );
        while self.zones.len() > MAX_ZONES {
            self.zones.pop_first();
        }
    }

    /// Applies written actions: updates change the remembered fields; creates are added with
    /// the ids Cloudflare answered (`created`); a CNAME replacement drops the CNAME. When a
    /// create's record is not among `created`, the zone's memory is forgotten (its ids are
    /// unknown) and the next need lists the zone.
    pub fn written(&mut self, key: &str, actions: &[&Action], created: &[ObservedRecord]) {
        for action in actions {
            match action {
                Action::Update {
                    id,
                    content,
                    proxied,
                    ttl,
                    ..
                } => {
                    let Some(memory) = self.zones.get_mut(key) else {
                        continue;
                    };
                    if let Some(record) = memory.records.iter_mut().find(|r| &r.id == id) {
                        record.content = content.to_string();
                        if let Some(proxied) = proxied {
                            record.proxied = *proxied;
                        }
                        if let Some(ttl) = ttl {
                            record.ttl = *ttl;
                        }
                    }
                }
                Action::Create(_) | Action::ReplaceCname { .. } => {
                    let news: Vec<_> = match action {
                        Action::Create(new) => vec![new],
                        Action::ReplaceCname { creates, .. } => creates.iter().collect(),
                        Action::Update { .. } => Vec::new(),
                    };
                    let found: Vec<&ObservedRecord> = news
                        .iter()
                        .filter_map(|new| {
                            created.iter().find(|record| {
                                record.name == new.name
                                    && record
                                        .record_type
                                        .eq_ignore_ascii_case(new.family.record_type())
                                    && record.content.parse::<std::net::IpAddr>().ok()
                                        == Some(new.content)
                            })
                        })
                        .collect();
                    let Some(memory) = self.zones.get_mut(key) else {
                        continue;
                    };
                    if found.len() != news.len() {
                        self.zones.remove(key);
                        continue;
                    }
                    if let Action::ReplaceCname { cname_id, .. } = action {
                        memory.records.retain(|record| &record.id != cname_id);
                    }
                    memory
                        .records
                        .extend(found.into_iter().map(RememberedRecord::from));
                }
            }
        }
    }

    /// A WAF list as last checked.
    pub fn list(&self, key: &str) -> Option<ListMemory> {
        self.lists.get(key).cloned()
    }

    /// Remembers a WAF list that holds `items` for this host, checked at `now`.
    pub fn remember_list(&mut self, key: &str, id: &str, items: &[String], now: u64) {
        self.version = VERSION;
        self.lists.insert(
            key.to_string(),
            ListMemory {
                id: id.to_string(),
                items: items.to_vec(),
                checked_at: now,
            },
        );
        while self.lists.len() > MAX_ZONES {
            self.lists.pop_first();
        }
    }

    /// Forgets a WAF list (a write failed, or its id is gone). What this host added to it
    /// is kept.
    pub fn forget_list(&mut self, key: &str) {
        self.lists.remove(key);
    }

    /// The items this host added to a list.
    pub fn added_items(&self, key: &str) -> &[AddedItem] {
        self.added_items.get(key).map_or(&[], Vec::as_slice)
    }

    /// Notes items this host added (or holds under its comment); the oldest go past the cap.
    pub fn note_added(&mut self, key: &str, items: &[AddedItem]) {
        let added = self.added_items.entry(key.to_string()).or_default();
        for item in items {
            if !added.contains(item) {
                added.push(item.clone());
            }
        }
        let excess = added.len().saturating_sub(MAX_ADDED_ITEMS);
        added.drain(..excess);
        self.version = VERSION;
        while self.added_items.len() > MAX_ZONES {
            self.added_items.pop_first();
        }
    }

    /// Notes items this host removed: they are no longer its own.
    pub fn note_removed(&mut self, key: &str, items: &[AddedItem]) {
        if let Some(added) = self.added_items.get_mut(key) {
            added.retain(|item| !items.contains(item));
        }
    }

    /// Forgets a zone (a remembered id turned out stale).
    pub fn forget(&mut self, key: &str) {
        self.zones.remove(key);
    }
}

/// The memory key of a WAF list: token fingerprint, account and name.
pub fn list_key(fingerprint: &str, list: &crate::config::WafListConfig) -> String {
    format!("{fingerprint}/{}/{}", list.account, list.name)
}

/// True when a listing made at `listed_at` is still believed at `now` for `reconcile`. A time
/// in the future (a clock that went back) is not fresh.
pub fn is_fresh(listed_at: u64, now: u64, reconcile: Duration) -> bool {
    listed_at <= now && now - listed_at < reconcile.as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_needs_a_past_time_within_the_interval() {
        let hour = Duration::from_secs(3600);
        assert!(is_fresh(1000, 1000, hour));
        assert!(is_fresh(1000, 4599, hour));
        assert!(!is_fresh(1000, 4600, hour));
        assert!(!is_fresh(5000, 1000, hour), "a future listing is not fresh");
    }

    #[test]
    fn another_version_is_ignored() {
        let other = Remembered {
            version: VERSION + 1,
            zones: BTreeMap::new(),
            lists: BTreeMap::new(),
            added_items: BTreeMap::new(),
        };
        assert_eq!(other.checked(), None);
    }
}
