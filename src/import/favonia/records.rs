//! The variables that combine into records and WAF lists: `DOMAINS`, `IP4_DOMAINS` and
//! `IP6_DOMAINS` with the settings every record shares (`PROXIED`, `TTL`, `RECORD_COMMENT`),
//! and `WAF_LISTS` with its description, comment and prefix lengths. They are read once every
//! variable is known: variables have no order, so a `TTL` below `DOMAINS` still applies to it.

use super::{go_bool, Get};
use crate::import::emit::shown;
use crate::import::imported::{Imported, Record, Section, Ttl, WafList};
use crate::model::{DomainName, Family};

/// `DOMAINS`, `IP4_DOMAINS`, `IP6_DOMAINS` with `PROXIED`, `TTL` and `RECORD_COMMENT`.
pub(super) fn records<'a>(get: &Get<'a>, imported: &mut Imported) {
    let proxied = proxied(get, imported);
    let ttl = ttl(get, imported);
    let comment = record_comment(get, imported);
    let token = imported.tokens.first().map(|_| 0);
    let lists = [
        ("DOMAINS", vec![Family::V4, Family::V6]),
        ("IP4_DOMAINS", vec![Family::V4]),
        ("IP6_DOMAINS", vec![Family::V6]),
    ];
    for (key, families) in lists {
        let Some((value, place)) = get(key) else {
            continue;
        };
        for item in value
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            let (host, options) = match item.split_once('{') {
                Some((host, options)) => (host.trim(), Some(options)),
                None => (item, None),
            };
            if options.is_some() {
                imported.note(Section::Records, format!("{}: `{}` carries options (hostid6); flaredns's `ipv6_host` is the equivalent, set it by hand", place.describe(key), shown(host)));
            }
            match DomainName::parse(host) {
                Ok(name) => {
                    let mut record = Record::new(name, families.clone());
                    record.proxied = proxied;
                    record.ttl = ttl;
                    record.comment = comment.clone();
                    record.token = token;
                    imported.add_record(record);
                }
                Err(problem) => imported.note(
                    Section::Records,
                    format!(
                        "{}: `{}` skipped: invalid name: {problem}",
                        place.describe(key),
                        shown(host)
                    ),
                ),
            }
        }
    }
}

/// `PROXIED`, when it is a plain boolean (cloudflare-ddns also takes an expression).
fn proxied<'a>(get: &Get<'a>, imported: &mut Imported) -> Option<bool> {
    let (value, place) = get("PROXIED")?;
    match go_bool(value) {
        Some(flag) => {
            imported.note(Section::Records, format!("{}: cloudflare-ddns uses it for new records only; flaredns's `proxied` also sets it on existing records (write \"keep\" to leave them)", place.describe("PROXIED")));
            Some(flag)
        }
        None => {
            imported.note(
                Section::Records,
                format!(
                    "{}={}: an expression does not map; set `proxied` per record",
                    place.describe("PROXIED"),
                    shown(value)
                ),
            );
            None
        }
    }
}

/// `TTL`, when it is one Cloudflare takes.
fn ttl<'a>(get: &Get<'a>, imported: &mut Imported) -> Option<Ttl> {
    let (value, place) = get("TTL")?;
    match value
        .trim()
        .parse::<u64>()
        .map_err(|_| "not a number of seconds".to_string())
        .and_then(|seconds| Ttl::from_seconds(seconds).map_err(|error| error.to_string()))
    {
        Ok(ttl) => Some(ttl),
        Err(problem) => {
            imported.note(
                Section::Records,
                format!("{}: {problem}; TTLs are kept", place.describe("TTL")),
            );
            None
        }
    }
}

/// `RECORD_COMMENT`, when it fits Cloudflare's 100 characters.
fn record_comment<'a>(get: &Get<'a>, imported: &mut Imported) -> Option<String> {
    let (value, place) = get("RECORD_COMMENT")?;
    if value.is_empty() {
        None
    } else if value.chars().count() > 100 {
        imported.note(
            Section::Records,
            format!(
                "{}: longer than 100 characters, Cloudflare's limit; not carried over",
                place.describe("RECORD_COMMENT")
            ),
        );
        None
    } else {
        Some(value.to_string())
    }
}

/// `WAF_LISTS` (`account/name` items) with the description, comment and prefix lengths.
pub(super) fn waf_lists<'a>(get: &Get<'a>, imported: &mut Imported) {
    let Some((value, place)) = get("WAF_LISTS") else {
        return;
    };
    let text = |key: &str| {
        get(key)
            .map(|(v, _)| v.to_string())
            .filter(|v| !v.trim().is_empty())
    };
    let prefix = |key: &str, range: std::ops::RangeInclusive<u8>| {
        get(key)
            .and_then(|(v, _)| v.trim().parse::<u8>().ok())
            .filter(|p| range.contains(p))
    };
    for item in value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let valid = item.split_once('/').filter(|(account, name)| {
            account.len() == 32
                && account.bytes().all(|b| b.is_ascii_hexdigit())
                && !name.is_empty()
                && name.len() <= 50
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
        match valid {
            Some((account, name)) => imported.waf_lists.push(WafList {
                account: account.to_ascii_lowercase(),
                name: name.to_string(),
                description: text("WAF_LIST_DESCRIPTION"),
                comment: text("WAF_LIST_ITEM_COMMENT"),
                ipv4_prefix: prefix("IP4_DEFAULT_PREFIX_LEN", 8..=32),
                ipv6_prefix: prefix("IP6_DEFAULT_PREFIX_LEN", 12..=128),
            }),
            None => imported.note(Section::Records, format!("{}: `{}` is not ACCOUNT_ID/list_name (32 hex digits, then a-z, 0-9, _); skipped", place.describe("WAF_LISTS"), shown(item))),
        }
    }
}
