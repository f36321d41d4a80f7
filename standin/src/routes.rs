//! Which path does what: the IP echo and the receivers' paths (no token), then the API v4
//! paths behind the token check, each handed to `records` or `lists`. Handlers run under the
//! state's one lock, so a request sees and leaves the state whole.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::Response;
use serde_json::{json, Value};

use crate::api::{err, failure, ok, Answer, ApiFailure};
use crate::records::{
    batch, create, delete, list_records, list_zones, patch, put, single, zone, zone_json,
};
use crate::State;

/// The answer to one request, its fault (if any) already ruled out.
pub(crate) fn route(
    state: &mut State,
    method: &str,
    path: &str,
    query: &str,
    authorization: &str,
    body: &str,
    v6: bool,
) -> Answer {
    if let Some(answer) = without_token(state, path, v6) {
        return answer;
    }
    let Some(rest) = path.strip_prefix("/client/v4") else {
        return text(404, "not found".to_string());
    };
    let visible = match visible_zones(state, authorization) {
        Ok(visible) => visible,
        Err(unknown) => return err(unknown),
    };
    let params = params(query);
    let segments: Vec<&str> = rest.trim_matches('/').split('/').collect();
    let body: Value = if body.trim().is_empty() {
        Value::Null
    } else {
        match serde_json::from_str(body) {
            Ok(value) => value,
            Err(_) => return err(failure(400, 6007, "Malformed JSON in request body")),
        }
    };
    // A scoped token has no "Account Filter Lists" permission.
    if let (Some(_), ["accounts", ..]) = (&visible, segments.as_slice()) {
        return err(failure(403, 10000, "Authentication error"));
    }
    if let ["accounts", account, "rules", "lists", rest @ ..] = segments.as_slice() {
        return crate::lists::route(state, method, account, rest, &params, &body);
    }
    if let (
        "GET",
        ["zones", zone_id, "rulesets", "phases", "http_request_firewall_custom", "entrypoint"],
    ) = (method, segments.as_slice())
    {
        return firewall_entrypoint(state, zone_id);
    }
    if let (Some(visible), ["zones", zone_id, ..]) = (&visible, segments.as_slice()) {
        let allowed = state
            .zones
            .iter()
            .any(|zone| zone.id == *zone_id && visible.contains(&zone.name));
        if !allowed {
            return err(failure(403, 10000, "Authentication error"));
        }
    }
    zones_and_records(
        state,
        method,
        segments.as_slice(),
        &params,
        &body,
        visible.as_deref(),
    )
}

/// The value of query parameter `key`, if given.
pub(crate) fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The paths that need no token: the IP echo and flaredns's notification receivers.
fn without_token(state: &State, path: &str, v6: bool) -> Option<Answer> {
    // Like Cloudflare, the echo reports the address the request came from: IPv6 on the IPv6
    // listener.
    let ip = if v6 {
        &state.public_ipv6
    } else {
        &state.public_ipv4
    };
    if path == "/cdn-cgi/trace" {
        let warp = if state.warp { "on" } else { "off" };
        return Some(text(200, format!("fl=1f1\nh=standin\nip={ip}\nts=0\nvisit_scheme=http\nuag=flaredns\ncolo=LHR\nhttp=http/1.1\nloc=GB\ntls=off\nsni=off\nwarp={warp}\ngateway=off\n")));
    }
    if path == "/ip" {
        return Some(text(200, format!("{ip}\n")));
    }
    // Receivers for flaredns's notifications: a webhook, healthchecks.io, Uptime Kuma. The
    // request log is what the tests read.
    if path.starts_with("/hook") || path.starts_with("/ping/") || path.starts_with("/api/push/") {
        return Some(text(200, "OK".to_string()));
    }
    if path == "/ip6" {
        return Some(text(200, format!("{}\n", state.public_ipv6)));
    }
    None
}

/// The zones a token sees: all (`None`) for the main token, its own for a scoped one; an
/// unknown token is a 401.
fn visible_zones(state: &State, authorization: &str) -> Result<Option<Vec<String>>, ApiFailure> {
    if authorization == format!("Bearer {}", state.token) {
        return Ok(None);
    }
    state
        .scoped_tokens
        .iter()
        .find(|(token, _)| authorization == format!("Bearer {token}"))
        .map(|(_, zones)| Some(zones.clone()))
        .ok_or_else(|| failure(401, 1000, "Invalid API Token"))
}

/// The zone's custom firewall ruleset (its skip rules), or Cloudflare's 404 without one.
fn firewall_entrypoint(state: &State, zone_id: &str) -> Answer {
    match zone(state, zone_id) {
        Ok(z) if z.firewall_rules.is_empty() => err(failure(
            404,
            10003,
            "could not find entrypoint ruleset in the http_request_firewall_custom phase",
        )),
        Ok(z) => {
            let rules: Vec<Value> = z
                .firewall_rules
                .iter()
                .map(|expression| json!({"id": "rule", "action": "skip", "expression": expression, "enabled": true}))
                .collect();
            ok(json!({"id": "ruleset", "phase": "http_request_firewall_custom", "rules": rules}))
        }
        Err(e) => err(e),
    }
}

/// The token check, zones, zone settings and DNS records.
fn zones_and_records(
    state: &mut State,
    method: &str,
    segments: &[&str],
    params: &[(String, String)],
    body: &Value,
    visible: Option<&[String]>,
) -> Answer {
    match (method, segments) {
        ("GET", ["user", "tokens", "verify"]) => {
            ok(json!({"id": "standin-token-id", "status": "active"}))
        }
        ("GET", ["zones"]) => list_zones(state, params, visible),
        ("GET", ["zones", zone_id]) => match zone(state, zone_id) {
            Ok(z) => ok(zone_json(z, state.dns_port)),
            Err(e) => err(e),
        },
        ("GET", ["zones", zone_id, "settings", name]) => match zone(state, zone_id) {
            Ok(z) if *name == "security_level" => {
                ok(json!({"id": "security_level", "value": z.security_level, "editable": true}))
            }
            Ok(_) => err(failure(404, 1003, "Setting not known to the stand-in")),
            Err(e) => err(e),
        },
        ("GET", ["zones", zone_id, "dns_records"]) => match zone(state, zone_id) {
            Ok(z) => list_records(z, params),
            Err(e) => err(e),
        },
        ("POST", ["zones", zone_id, "dns_records", "batch"]) => batch(state, zone_id, body),
        ("POST", ["zones", zone_id, "dns_records"]) => {
            single(state, zone_id, |zone| create(zone, body))
        }
        ("PATCH", ["zones", zone_id, "dns_records", record_id]) => {
            single(state, zone_id, |zone| patch(zone, record_id, body))
        }
        ("PUT", ["zones", zone_id, "dns_records", record_id]) => {
            single(state, zone_id, |zone| put(zone, record_id, body))
        }
        ("DELETE", ["zones", zone_id, "dns_records", record_id]) => {
            single(state, zone_id, |zone| delete(zone, record_id))
        }
        _ => err(failure(404, 7003, "Could not route to the requested path")),
    }
}

fn text(status: u16, body: String) -> Answer {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}

fn params(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

/// Percent-decoding of a query's key or value (`+` is a space).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        index += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}
