//! The HTTP side of the stand-in: API v4 routes, the IP echo, the request log and faults;
//! the DNS records endpoints live in `records`.
//! Handlers work on the shared `State` under one lock, so every request is atomic, and the
//! batch endpoint applies its changes to a copy that replaces the zone only when all succeed.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Bytes, Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

use crate::records::{
    batch, create, delete, list_records, list_zones, patch, put, single, zone, zone_json,
};
use crate::{Fault, LoggedRequest, State};

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
    accept_tls(listener, acceptor, state, false).await;
}

/// Notification receivers over TLS: every request is logged and answered 200.
pub(crate) async fn serve_receivers_tls(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    state: Arc<Mutex<State>>,
) {
    accept_tls(listener, acceptor, state, true).await;
}

/// The one TLS accept loop: each connection is served as the API or as receivers.
async fn accept_tls(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    state: Arc<Mutex<State>>,
    receivers: bool,
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
            let service = hyper::service::service_fn(move |request| {
                let state = state.clone();
                async move {
                    if receivers {
                        receive(state, request).await
                    } else {
                        handle(state, request, false).await
                    }
                }
            });
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
