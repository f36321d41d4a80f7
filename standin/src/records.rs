//! The stand-in's DNS records endpoints: zones (paged), records (paged, filtered by name),
//! single-record writes and the batch that applies deletes, patches, puts and posts to a copy
//! of the zone and keeps it only when every change succeeded, as Cloudflare does. Records are
//! validated the way Cloudflare validates them (content of the right family, names in the
//! zone, no CNAME beside other records).

use std::net::IpAddr;

use serde_json::{json, Value};

use crate::api::{envelope, err, failure, ok, Answer, ApiFailure};
use crate::routes::param;
use crate::{Record, State, ZoneState};

pub(crate) fn zone<'s>(state: &'s State, zone_id: &str) -> Result<&'s ZoneState, ApiFailure> {
    state.zones.iter().find(|z| z.id == zone_id).ok_or_else(|| {
        failure(
            404,
            7003,
            "Could not route to /zones: the zone does not exist",
        )
    })
}

pub(crate) fn zone_json(zone: &ZoneState, dns_port: u16) -> Value {
    serde_json::to_value(WireZone::new(zone, dns_port)).unwrap_or_default()
}

/// A zone with its fields in Cloudflare's order, `id` first: inadyn takes the first `"id"` in
/// a zone listing's text for the zone's, and in a `Value` (a sorted map) `account`'s id comes
/// first. Listings serialise these directly.
#[derive(Clone, serde::Serialize)]
struct WireZone {
    id: String,
    name: String,
    status: &'static str,
    paused: bool,
    #[serde(rename = "type")]
    zone_type: &'static str,
    name_servers: Vec<String>,
    account: Value,
}

impl WireZone {
    fn new(zone: &ZoneState, dns_port: u16) -> WireZone {
        WireZone {
            id: zone.id.clone(),
            name: zone.name.clone(),
            status: "active",
            paused: false,
            zone_type: "full",
            name_servers: vec![format!("127.0.0.1:{dns_port}")],
            account: json!({"id": "standin-account", "name": "Stand-in"}),
        }
    }
}

/// A page of zones, the envelope's fields in Cloudflare's order.
#[derive(serde::Serialize)]
struct ZoneListing {
    success: bool,
    errors: Vec<Value>,
    messages: Vec<Value>,
    result: Vec<WireZone>,
    result_info: Value,
}

pub(crate) fn page<T: Clone>(
    items: &[T],
    params: &[(String, String)],
    default: usize,
    max: usize,
) -> (Vec<T>, Value) {
    let per_page = param(params, "per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(default)
        .clamp(5.min(max), max);
    let page = param(params, "page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let total = items.len();
    let total_pages = total.div_ceil(per_page).max(1);
    let slice: Vec<T> = items
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .cloned()
        .collect();
    let info = json!({"page": page, "per_page": per_page, "count": slice.len(), "total_count": total, "total_pages": total_pages});
    (slice, info)
}

pub(crate) fn list_zones(
    state: &State,
    params: &[(String, String)],
    visible: Option<&[String]>,
) -> Answer {
    let name = param(params, "name");
    let zones: Vec<WireZone> = state
        .zones
        .iter()
        .filter(|z| name.is_none_or(|n| z.name == n))
        .filter(|z| visible.is_none_or(|visible| visible.contains(&z.name)))
        .map(|z| WireZone::new(z, state.dns_port))
        .collect();
    let (result, result_info) = page(&zones, params, 20, 50);
    let listing = ZoneListing {
        success: true,
        errors: Vec::new(),
        messages: Vec::new(),
        result,
        result_info,
    };
    hyper::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(hyper::body::Bytes::from(
            serde_json::to_string(&listing).unwrap_or_default(),
        )))
        .unwrap_or_default()
}

pub(crate) fn record_json(zone: &ZoneState, record: &Record) -> Value {
    json!({
        "id": record.id,
        "zone_id": zone.id,
        "zone_name": zone.name,
        "name": record.name,
        "type": record.record_type,
        "content": record.content,
        "proxiable": matches!(record.record_type.as_str(), "A" | "AAAA" | "CNAME"),
        "proxied": record.proxied,
        "ttl": record.ttl,
        "comment": record.comment,
        "tags": record.tags,
        "meta": {},
        "settings": {},
        "created_on": "2026-01-01T00:00:00Z",
        "modified_on": "2026-01-01T00:00:00Z",
    })
}

pub(crate) fn list_records(zone: &ZoneState, params: &[(String, String)]) -> Answer {
    let record_type = param(params, "type");
    let name = param(params, "name.exact").or_else(|| param(params, "name"));
    let mut records: Vec<&Record> = zone
        .records
        .iter()
        .filter(|r| record_type.is_none_or(|t| r.record_type.eq_ignore_ascii_case(t)))
        .filter(|r| name.is_none_or(|n| r.name.eq_ignore_ascii_case(n)))
        .collect();
    records.sort_by(|a, b| (&a.name, &a.record_type, &a.id).cmp(&(&b.name, &b.record_type, &b.id)));
    let values: Vec<Value> = records.iter().map(|r| record_json(zone, r)).collect();
    let (slice, info) = page(&values, params, 100, 5000);
    envelope(
        200,
        json!({"success": true, "errors": [], "messages": [], "result": slice, "result_info": info}),
    )
}

/// Runs one write against a zone; the state changes only if it succeeds.
pub(crate) fn single(
    state: &mut State,
    zone_id: &str,
    change: impl FnOnce(&mut ZoneState) -> Result<Value, ApiFailure>,
) -> Answer {
    let Some(index) = state.zones.iter().position(|z| z.id == zone_id) else {
        return err(failure(
            404,
            7003,
            "Could not route to /zones: the zone does not exist",
        ));
    };
    let mut copy = state.zones[index].clone();
    match change(&mut copy) {
        Ok(mut value) => {
            for record in copy.records.iter_mut().filter(|r| r.id.is_empty()) {
                record.id = state.new_id();
                value["id"] = json!(record.id);
            }
            state.zones[index] = copy;
            ok(value)
        }
        Err(e) => err(e),
    }
}

pub(crate) fn batch(state: &mut State, zone_id: &str, body: &Value) -> Answer {
    let Some(index) = state.zones.iter().position(|z| z.id == zone_id) else {
        return err(failure(
            404,
            7003,
            "Could not route to /zones: the zone does not exist",
        ));
    };
    let list = |key: &str| {
        body.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (deletes, patches, puts, posts) = (
        list("deletes"),
        list("patches"),
        list("puts"),
        list("posts"),
    );
    if deletes.len() + patches.len() + puts.len() + posts.len() > 200 {
        return err(failure(
            400,
            81000,
            "Batch exceeds the maximum of 200 changes",
        ));
    }
    let mut copy = state.zones[index].clone();
    let mut results = json!({"deletes": [], "patches": [], "puts": [], "posts": []});
    // Cloudflare's order: deletes, patches, puts, posts; the first failure voids them all.
    type Step = fn(&mut ZoneState, &Value) -> Result<Value, ApiFailure>;
    let phases: [(&str, &Vec<Value>, Step); 4] = [
        ("deletes", &deletes, |zone, item| {
            delete(zone, item_id(item))
        }),
        ("patches", &patches, |zone, item| {
            patch(zone, item_id(item), item)
        }),
        ("puts", &puts, |zone, item| put(zone, item_id(item), item)),
        ("posts", &posts, create),
    ];
    let steps: Result<(), ApiFailure> = phases.iter().try_for_each(|(key, items, step)| {
        items.iter().try_for_each(|item| {
            let value = step(&mut copy, item)?;
            push(&mut results, key, value);
            Ok(())
        })
    });
    match steps {
        Ok(()) => {
            for record in copy.records.iter_mut().filter(|r| r.id.is_empty()) {
                record.id = state.new_id();
            }
            // Answer with the stored records, ids included.
            let posted: Vec<Value> = copy
                .records
                .iter()
                .rev()
                .take(posts.len())
                .rev()
                .map(|r| record_json(&copy, r))
                .collect();
            results["posts"] = json!(posted);
            state.zones[index] = copy;
            ok(results)
        }
        Err(e) => err(e),
    }
}

pub(crate) fn item_id(item: &Value) -> &str {
    item.get("id").and_then(Value::as_str).unwrap_or("")
}

pub(crate) fn push(results: &mut Value, key: &str, value: Value) {
    if let Some(array) = results[key].as_array_mut() {
        array.push(value);
    }
}

pub(crate) fn text_field(body: &Value, key: &str) -> Option<String> {
    body.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Checks a record the way Cloudflare does before storing it.
pub(crate) fn validate(zone: &ZoneState, record: &Record) -> Result<(), ApiFailure> {
    if !(record.name == zone.name || record.name.ends_with(&format!(".{}", zone.name))) {
        return Err(failure(
            400,
            9007,
            "Content for the record name is outside the zone.",
        ));
    }
    match record.record_type.as_str() {
        "A" if !matches!(record.content.parse::<IpAddr>(), Ok(IpAddr::V4(_))) => {
            return Err(failure(
                400,
                9005,
                "Content for A record must be a valid IPv4 address.",
            ))
        }
        "AAAA" if !matches!(record.content.parse::<IpAddr>(), Ok(IpAddr::V6(_))) => {
            return Err(failure(
                400,
                9005,
                "Content for AAAA record must be a valid IPv6 address.",
            ))
        }
        _ => {}
    }
    if !(record.ttl == 1 || (60..=86400).contains(&record.ttl)) {
        return Err(failure(
            400,
            9021,
            "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.",
        ));
    }
    if record
        .comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > 100)
    {
        return Err(failure(
            400,
            9101,
            "DNS record comment is too long (100 characters at most).",
        ));
    }
    for other in zone
        .records
        .iter()
        .filter(|o| o.id != record.id && o.name == record.name)
    {
        let address_like = |t: &str| matches!(t, "A" | "AAAA" | "CNAME");
        if (other.record_type == "CNAME" || record.record_type == "CNAME")
            && address_like(&other.record_type)
            && address_like(&record.record_type)
        {
            return Err(failure(
                400,
                81053,
                "An A, AAAA, or CNAME record with that host already exists.",
            ));
        }
        if other.record_type == record.record_type && other.content == record.content {
            return Err(failure(400, 81058, "An identical record already exists."));
        }
    }
    Ok(())
}

/// A whole record from a POST or PUT body, with Cloudflare's defaults for what it leaves
/// out (not proxied, TTL auto, no comment or tags). `name` and `type` fall back to `base`.
pub(crate) fn record_from_body(body: &Value, id: String, base: Option<&Record>) -> Record {
    let fallback = |key: &str, value: Option<&String>| {
        text_field(body, key)
            .or_else(|| value.cloned())
            .unwrap_or_default()
    };
    Record {
        id,
        name: fallback("name", base.map(|r| &r.name))
            .trim_end_matches('.')
            .to_ascii_lowercase(),
        record_type: fallback("type", base.map(|r| &r.record_type)).to_ascii_uppercase(),
        content: text_field(body, "content").unwrap_or_default(),
        proxied: body
            .get("proxied")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        ttl: body.get("ttl").and_then(Value::as_u64).unwrap_or(1) as u32,
        comment: text_field(body, "comment"),
        tags: body
            .get("tags")
            .and_then(Value::as_array)
            .map(|tags| {
                tags.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    }
}

pub(crate) fn create(zone: &mut ZoneState, body: &Value) -> Result<Value, ApiFailure> {
    let record = record_from_body(body, String::new(), None);
    if record.name.is_empty() || record.record_type.is_empty() {
        return Err(failure(400, 9000, "DNS name and type are required."));
    }
    validate(zone, &record)?;
    let value = record_json(zone, &record);
    zone.records.push(record);
    Ok(value)
}

pub(crate) fn find(zone: &mut ZoneState, record_id: &str) -> Result<usize, ApiFailure> {
    zone.records
        .iter()
        .position(|r| r.id == record_id)
        .ok_or_else(|| failure(404, 81044, "Record does not exist."))
}

pub(crate) fn patch(
    zone: &mut ZoneState,
    record_id: &str,
    body: &Value,
) -> Result<Value, ApiFailure> {
    let index = find(zone, record_id)?;
    let mut record = zone.records[index].clone();
    if let Some(content) = text_field(body, "content") {
        record.content = content;
    }
    if let Some(name) = text_field(body, "name") {
        record.name = name.to_ascii_lowercase();
    }
    if let Some(proxied) = body.get("proxied").and_then(Value::as_bool) {
        record.proxied = proxied;
    }
    if let Some(ttl) = body.get("ttl").and_then(Value::as_u64) {
        record.ttl = ttl as u32;
    }
    if let Some(comment) = body.get("comment") {
        record.comment = comment.as_str().map(str::to_string);
    }
    validate(zone, &record)?;
    let value = record_json(zone, &record);
    zone.records[index] = record;
    Ok(value)
}

/// PUT replaces the whole record: what the body leaves out is reset, as at Cloudflare.
pub(crate) fn put(
    zone: &mut ZoneState,
    record_id: &str,
    body: &Value,
) -> Result<Value, ApiFailure> {
    let index = find(zone, record_id)?;
    let old = zone.records[index].clone();
    let record = record_from_body(body, old.id.clone(), Some(&old));
    validate(zone, &record)?;
    let value = record_json(zone, &record);
    zone.records[index] = record;
    Ok(value)
}

pub(crate) fn delete(zone: &mut ZoneState, record_id: &str) -> Result<Value, ApiFailure> {
    let index = find(zone, record_id)?;
    let record = zone.records.remove(index);
    Ok(json!({"id": record.id}))
}

/// An IP list item as Cloudflare stores it: a bare address for /32 and /128, else the network
/// with its host bits cleared. Written apart from the client's on purpose.
pub fn normalise_ip(text: &str) -> Option<String> {
    let (address, prefix) = match text.trim().split_once('/') {
        Some((address, prefix)) => (address.parse::<IpAddr>().ok()?, prefix.parse::<u32>().ok()?),
        None => {
            let address: IpAddr = text.trim().parse().ok()?;
            (address, if address.is_ipv4() { 32 } else { 128 })
        }
    };
    Some(match address {
        IpAddr::V4(v4) if prefix >= 32 => v4.to_string(),
        IpAddr::V4(v4) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            format!(
                "{}/{prefix}",
                std::net::Ipv4Addr::from(u32::from(v4) & mask)
            )
        }
        IpAddr::V6(v6) if prefix >= 128 => v6.to_string(),
        IpAddr::V6(v6) => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            format!(
                "{}/{prefix}",
                std::net::Ipv6Addr::from(u128::from(v6) & mask)
            )
        }
    })
}
