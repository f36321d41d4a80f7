//! The daemon's metrics endpoint: `GET /metrics` and `GET /healthz` on the configured
//! address, on hyper's HTTP/1 server (already in the binary as reqwest's client, so the
//! server side costs little). One connection at a time, each bounded to a few seconds, GET
//! only, no other path: it answers a scraper, not the internet.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::Snapshot;

/// How long one connection may take, request and answer included.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// The snapshot the daemon replaces after each cycle.
pub type Shared = Arc<Mutex<Snapshot>>;

/// Binds the address now (so a port in use is a start-up error) and serves in a task.
pub async fn start(address: SocketAddr, shared: Shared) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let shared = shared.clone();
            let service = hyper::service::service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(answer(&shared, &request)) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            // One at a time, and never longer than the timeout: a slow client loses.
            let _ = tokio::time::timeout(CONNECTION_TIMEOUT, connection).await;
        }
    });
    Ok(bound)
}

fn answer(shared: &Shared, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let snapshot = shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let (status, content_type, body) = match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => (
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            snapshot.text,
        ),
        (&Method::GET, "/healthz") => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|elapsed| elapsed.as_secs())
                .unwrap_or(0);
            match super::health(&snapshot, now) {
                Ok(text) => (StatusCode::OK, "text/plain; charset=utf-8", text),
                Err(text) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain; charset=utf-8",
                    text,
                ),
            }
        }
        (&Method::GET, _) => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found: /metrics and /healthz only\n".to_string(),
        ),
        _ => (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "GET only\n".to_string(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}
