//! The HTTP side of the stand-in: the listeners, the request log and faults, and the answer
//! builders in Cloudflare's envelope; which path does what is `routes`, the DNS records
//! endpoints are `records` and the Lists API `lists`.
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

use crate::routes::route;
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
