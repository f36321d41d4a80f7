//! The HTTP side of the stand-in: API v4 routes, the IP echo, the request log and faults.
//! Handlers work on the shared `State` under one lock, so every request is atomic, and the
//! batch endpoint applies its changes to a copy that replaces the zone only when all succeed.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Bytes, Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

use crate::{Fault, LoggedRequest, Record, State, ZoneState};

/// An error answer in Cloudflare's shape.
#[derive(Debug, Clone)]
pub struct ApiFailure {
    pub status: u16,
    pub code: u64,
    pub message: String,
}

pub(crate) fn failure(status: u16, code: u64, message: &str) -> ApiFailure {
    ApiFailure {
        status,
        code,
        message: message.to_string(),
    }
}

pub(crate) type Answer = Response<Full<Bytes>>;

/// A body of `left` bytes of `a`, produced as it is read: never held in memory at once.
struct Endless {
    left: u64,
}

impl Body for Endless {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        const CHUNK: u64 = 64 * 1024;
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        let size = self.left.min(CHUNK);
        self.left -= size;
        let chunk = Bytes::from(vec![b'a'; size as usize]);
        std::task::Poll::Ready(Some(Ok(Frame::data(chunk))))
    }
}

pub(crate) async fn serve(listener: tokio::net::TcpListener, state: Arc<Mutex<State>>) {
    let v6 = listener
        .local_addr()
        .map(|address| address.is_ipv6())
        .unwrap_or(false);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request| handle(state.clone(), request, v6));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Serves the same routes over TLS (the benchmark's "idle daemon over TLS").
pub(crate) async fn serve_tls(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    state: Arc<Mutex<State>>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(stream).await else {
                return;
            };
            let service =
                hyper::service::service_fn(move |request| handle(state.clone(), request, false));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Notification receivers over TLS: every request is logged and answered 200.
pub(crate) async fn serve_receivers_tls(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    state: Arc<Mutex<State>>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(stream).await else {
                return;
            };
            let service =
                hyper::service::service_fn(move |request| receive(state.clone(), request));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn receive(
    state: Arc<Mutex<State>>,
    request: Request<Incoming>,
) -> Result<Response<BoxBody<Bytes, Infallible>>, Infallible> {
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let headers = header_pairs(&request);
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&body).to_string();
    let fault = {
        let mut guard = state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let at = guard.started.elapsed().as_secs_f64();
        guard.requests.push(LoggedRequest {
            method: method.clone(),
            path: path.clone(),
            query,
            body: body.clone(),
            at,
            headers,
        });
        take_fault(&mut guard.faults, &method, &path, &body)
    };
    let (status, body) = match fault {
        Some(fault) if fault.hang => {
            std::future::pending::<()>().await;
            (500, String::new())
        }
        Some(fault) => (fault.status, fault.body),
        None => (200, r#"{"ok":true}"#.to_string()),
    };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)).boxed())
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed())))
}

/// A request's headers as lower-case names and text values.
fn header_pairs(request: &Request<Incoming>) -> Vec<(String, String)> {
    request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(value.as_bytes()).to_string(),
            )
        })
        .collect()
}

async fn handle(
    state: Arc<Mutex<State>>,
    request: Request<Incoming>,
    v6: bool,
) -> Result<Response<BoxBody<Bytes, Infallible>>, Infallible> {
    let headers = header_pairs(&request);
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&body).to_string();

    let fault = {
        let mut guard = state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let at = guard.started.elapsed().as_secs_f64();
        guard.requests.push(LoggedRequest {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            body: body.clone(),
            at,
            headers,
        });
        take_fault(&mut guard.faults, &method, &path, &body)
    };
    if let Some(fault) = fault {
        if fault.hang {
            std::future::pending::<()>().await;
        }
        let mut response = Response::builder().status(fault.status);
        let mut has_type = false;
        for (name, value) in &fault.headers {
            has_type |= name.eq_ignore_ascii_case("content-type");
            response = response.header(name, value);
        }
        if !has_type {
            response = response.header("content-type", "application/json");
        }
        let body = match fault.stream_bytes {
            Some(bytes) => Endless { left: bytes }.boxed(),
            None => Full::new(Bytes::from(fault.body)).boxed(),
        };
        return Ok(response
            .body(body)
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed())));
    }

    let mut guard = state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let answer = route(
        &mut guard,
        &method,
        &path,
        &query,
        &authorization,
        &body,
        v6,
    );
    Ok(answer.map(BodyExt::boxed))
}

fn take_fault(faults: &mut Vec<Fault>, method: &str, path: &str, body: &str) -> Option<Fault> {
    let index = faults.iter().position(|f| {
        path.contains(&f.path_contains)
            && f.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && f.body_contains
                .as_deref()
                .is_none_or(|fragment| body.contains(fragment))
    })?;
    let fault = faults[index].clone();
    if let Some(remaining) = &mut faults[index].remaining {
        *remaining = remaining.saturating_sub(1);
        if *remaining == 0 {
            faults.remove(index);
        }
    }
    Some(fault)
}

fn text(status: u16, body: String) -> Answer {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}

pub(crate) fn envelope(status: u16, body: Value) -> Answer {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}

pub(crate) fn ok(result: Value) -> Answer {
    envelope(
        200,
        json!({"success": true, "errors": [], "messages": [], "result": result}),
    )
}

pub(crate) fn err(failure: ApiFailure) -> Answer {
    envelope(
        failure.status,
        json!({"success": false, "errors": [{"code": failure.code, "message": failure.message}], "messages": [], "result": null}),
    )
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

pub(crate) fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn route(
    state: &mut State,
    method: &str,
    path: &str,
    query: &str,
    authorization: &str,
    body: &str,
    v6: bool,
) -> Answer {
    // The IP echo needs no token.
    if path == "/cdn-cgi/trace" {
        let warp = if state.warp { "on" } else { "off" };
        // Like Cloudflare, the trace reports the address the request came from: IPv6 on the
        // IPv6 listener.
        let ip = if v6 {
            &state.public_ipv6
        } else {
            &state.public_ipv4
        };
        return text(200, format!("fl=1f1\nh=standin\nip={ip}\nts=0\nvisit_scheme=http\nuag=flaredns\ncolo=LHR\nhttp=http/1.1\nloc=GB\ntls=off\nsni=off\nwarp={warp}\ngateway=off\n"));
    }
    if path == "/ip" {
        return text(
            200,
            format!(
                "{}\n",
                if v6 {
                    &state.public_ipv6
                } else {
                    &state.public_ipv4
                }
            ),
        );
    }
    // Receivers for flaredns's notifications: a webhook, healthchecks.io, Uptime Kuma. The
    // request log is what the tests read.
    if path.starts_with("/hook") || path.starts_with("/ping/") || path.starts_with("/api/push/") {
        return text(200, "OK".to_string());
    }
    if path == "/ip6" {
        return text(200, format!("{}\n", state.public_ipv6));
    }
    let Some(rest) = path.strip_prefix("/client/v4") else {
        return text(404, "not found".to_string());
    };
    // The main token sees every zone; a scoped token only its own.
    let visible: Option<Vec<String>> = if authorization == format!("Bearer {}", state.token) {
        None
    } else if let Some((_, zones)) = state
        .scoped_tokens
        .iter()
        .find(|(token, _)| authorization == format!("Bearer {token}"))
    {
        Some(zones.clone())
    } else {
        return err(failure(401, 1000, "Invalid API Token"));
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
        return match zone(state, zone_id) {
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
                ok(
                    json!({"id": "ruleset", "phase": "http_request_firewall_custom", "rules": rules}),
                )
            }
            Err(e) => err(e),
        };
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
    match (method, segments.as_slice()) {
        ("GET", ["user", "tokens", "verify"]) => {
            ok(json!({"id": "standin-token-id", "status": "active"}))
        }
        ("GET", ["zones"]) => list_zones(state, &params, visible.as_deref()),
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
            Ok(z) => list_records(z, &params),
            Err(e) => err(e),
        },
        ("POST", ["zones", zone_id, "dns_records", "batch"]) => batch(state, zone_id, &body),
        ("POST", ["zones", zone_id, "dns_records"]) => {
            single(state, zone_id, |zone| create(zone, &body))
        }
        ("PATCH", ["zones", zone_id, "dns_records", record_id]) => {
            single(state, zone_id, |zone| patch(zone, record_id, &body))
        }
        ("PUT", ["zones", zone_id, "dns_records", record_id]) => {
            single(state, zone_id, |zone| put(zone, record_id, &body))
        }
        ("DELETE", ["zones", zone_id, "dns_records", record_id]) => {
            single(state, zone_id, |zone| delete(zone, record_id))
        }
        _ => err(failure(404, 7003, "Could not route to the requested path")),
    }
}

fn zone<'s>(state: &'s State, zone_id: &str) -> Result<&'s ZoneState, ApiFailure> {
    state.zones.iter().find(|z| z.id == zone_id).ok_or_else(|| {
        failure(
            404,
            7003,
            "Could not route to /zones: the zone does not exist",
        )
    })
}

fn zone_json(zone: &ZoneState, dns_port: u16) -> Value {
    json!({
        "id": zone.id,
        "name": zone.name,
        "status": "active",
        "paused": false,
        "type": "full",
        "name_servers": [format!("127.0.0.1:{dns_port}")],
        "account": {"id": "standin-account", "name": "Stand-in"},
    })
}

fn page<T: Clone>(
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

fn list_zones(state: &State, params: &[(String, String)], visible: Option<&[String]>) -> Answer {
    let name = param(params, "name");
    let zones: Vec<Value> = state
        .zones
        .iter()
        .filter(|z| name.is_none_or(|n| z.name == n))
        .filter(|z| visible.is_none_or(|visible| visible.contains(&z.name)))
        .map(|z| zone_json(z, state.dns_port))
        .collect();
    let (slice, info) = page(&zones, params, 20, 50);
    envelope(
        200,
        json!({"success": true, "errors": [], "messages": [], "result": slice, "result_info": info}),
    )
}

fn record_json(zone: &ZoneState, record: &Record) -> Value {
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

fn list_records(zone: &ZoneState, params: &[(String, String)]) -> Answer {
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
fn single(
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

fn batch(state: &mut State, zone_id: &str, body: &Value) -> Answer {
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

fn item_id(item: &Value) -> &str {
    item.get("id").and_then(Value::as_str).unwrap_or("")
}

fn push(results: &mut Value, key: &str, value: Value) {
    if let Some(array) = results[key].as_array_mut() {
        array.push(value);
    }
}

fn text_field(body: &Value, key: &str) -> Option<String> {
    body.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Checks a record the way Cloudflare does before storing it.
fn validate(zone: &ZoneState, record: &Record) -> Result<(), ApiFailure> {
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
fn record_from_body(body: &Value, id: String, base: Option<&Record>) -> Record {
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

fn create(zone: &mut ZoneState, body: &Value) -> Result<Value, ApiFailure> {
    let record = record_from_body(body, String::new(), None);
    if record.name.is_empty() || record.record_type.is_empty() {
        return Err(failure(400, 9000, "DNS name and type are required."));
    }
    validate(zone, &record)?;
    let value = record_json(zone, &record);
    zone.records.push(record);
    Ok(value)
}

fn find(zone: &mut ZoneState, record_id: &str) -> Result<usize, ApiFailure> {
    zone.records
        .iter()
        .position(|r| r.id == record_id)
        .ok_or_else(|| failure(404, 81044, "Record does not exist."))
}

fn patch(zone: &mut ZoneState, record_id: &str, body: &Value) -> Result<Value, ApiFailure> {
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
fn put(zone: &mut ZoneState, record_id: &str, body: &Value) -> Result<Value, ApiFailure> {
    let index = find(zone, record_id)?;
    let old = zone.records[index].clone();
    let record = record_from_body(body, old.id.clone(), Some(&old));
    validate(zone, &record)?;
    let value = record_json(zone, &record);
    zone.records[index] = record;
    Ok(value)
}

fn delete(zone: &mut ZoneState, record_id: &str) -> Result<Value, ApiFailure> {
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
