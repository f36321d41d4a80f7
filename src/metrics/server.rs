//! The daemon's endpoint: `GET /metrics`, `GET /healthz`, the page (`GET /`) and the status
//! document (`GET /status.json`) on the configured address.
//! A small HTTP/1.0-style responder on tokio's listener: it reads one request head (at most
//! 8 KiB, within 2 s), answers it and closes. hyper's server side did the same in more code
//! than the 4 MiB binary budget had room for; a scraper needs no more. Connections are served
//! concurrently, each bounded to 5 s, GET only (405 with `Allow: GET` otherwise), no other
//! path. Every connection is accepted:
//! past `MAX_CONNECTIONS` the oldest one still open is dropped, so clients holding idle
//! connections can never keep a scrape out (they used to take every slot before `accept`).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Snapshot;

/// How long one connection may take, request and answer included.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the request head may take to arrive.
const HEAD_TIMEOUT: Duration = Duration::from_secs(2);
/// The largest request head read.
const MAX_HEAD: usize = 8 * 1024;
/// Connections held at once; a new one past this drops the oldest.
const MAX_CONNECTIONS: usize = 32;

/// The snapshot the daemon replaces after each cycle.
pub type Shared = Arc<Mutex<Snapshot>>;

/// Binds the address now (so a port in use is a start-up error) and serves in a task of the
/// current tokio runtime. Synchronous, so a reload can start it too.
pub fn start(address: SocketAddr, shared: Shared) -> std::io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(address)?;
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        let mut open: std::collections::VecDeque<tokio::task::AbortHandle> =
            std::collections::VecDeque::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            open.retain(|handle| !handle.is_finished());
            while open.len() >= MAX_CONNECTIONS {
                if let Some(oldest) = open.pop_front() {
                    oldest.abort();
                }
            }
            let shared = shared.clone();
            let task = tokio::spawn(async move {
                let _ = tokio::time::timeout(CONNECTION_TIMEOUT, serve(stream, &shared)).await;
            });
            open.push_back(task.abort_handle());
        }
    });
    Ok(bound)
}

/// Reads one request head and writes the answer.
async fn serve(mut stream: tokio::net::TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    let read = tokio::time::timeout(HEAD_TIMEOUT, async {
        while !head.windows(4).any(|window| window == b"\r\n\r\n")
            && !head.windows(2).any(|window| window == b"\n\n")
        {
            let count = stream.read(&mut chunk).await?;
            if count == 0 {
                break;
            }
            head.extend_from_slice(&chunk[..count]);
            if head.len() > MAX_HEAD {
                break;
            }
        }
        Ok::<(), std::io::Error>(())
    })
    .await;
    if read.is_err() {
        return Ok(());
    }
    let (method, path) = request_line(&head);
    let answer = answer(shared, &method, &path);
    let head = format!(
        "HTTP/1.1 {}\r\ncontent-type: {}\r\ncontent-length: {}\r\n{}connection: close\r\n\r\n",
        answer.status,
        answer.content_type,
        answer.body.len(),
        answer.headers
    );
    stream.write_all(head.as_bytes()).await?;
    // The page may be far larger than one segment: written whole, within the connection's
    // 5 s.
    stream.write_all(answer.body.as_bytes()).await?;
    stream.shutdown().await
}

/// One answer: the status line's code and reason, the body's type, headers beyond the
/// common ones (each ending in CRLF) and the body (shared with the snapshot, not copied).
struct Answer {
    status: &'static str,
    content_type: &'static str,
    headers: String,
    body: Arc<String>,
}

/// Sent with every answer: nothing in them is to be cached, sniffed or leak a referrer.
const COMMON_HEADERS: &str =
    "cache-control: no-store\r\nx-content-type-options: nosniff\r\nreferrer-policy: no-referrer\r\n";

/// A plain-text answer; its policy allows nothing at all.
fn plain(status: &'static str, body: &str) -> Answer {
    Answer {
        status,
        content_type: "text/plain; charset=utf-8",
        headers: format!(
            "{COMMON_HEADERS}content-security-policy: default-src 'none'; frame-ancestors 'none'\r\n"
        ),
        body: Arc::new(body.to_string()),
    }
}

/// The method and path of a request head (empty where missing). Outside input: any bytes
/// give an answer, never a panic (`fuzz.rs`).
pub fn request_line(head: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(head);
    let mut words = text.lines().next().unwrap_or_default().split_whitespace();
    (
        words.next().unwrap_or("").to_string(),
        words.next().unwrap_or("").to_string(),
    )
}

/// The answer to a request: GET on one of four paths; any other method on any path is 405
/// (HEAD too: nothing here needs it), any other path 404.
fn answer(shared: &Shared, method: &str, path: &str) -> Answer {
    if method != "GET" {
        let mut answer = plain("405 Method Not Allowed", "GET only\n");
        answer.headers.push_str("allow: GET\r\n");
        return answer;
    }
    // Only what this path needs is taken from the snapshot, under the lock: the page and the
    // document are shared (`Arc`), so a request copies no more than the metrics text.
    let snapshot = shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // A query string changes nothing (a bookmark with `?` still finds the page).
    match path.split('?').next().unwrap_or_default() {
        "/" => Answer {
            status: "200 OK",
            content_type: "text/html; charset=utf-8",
            headers: format!(
                "{COMMON_HEADERS}content-security-policy: {}\r\n",
                super::page::CONTENT_SECURITY_POLICY
            ),
            body: snapshot.page.clone(),
        },
        "/status.json" => Answer {
            content_type: "application/json",
            body: snapshot.status_json.clone(),
            ..plain("200 OK", "")
        },
        "/metrics" => Answer {
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            ..plain("200 OK", &snapshot.text)
        },
        "/healthz" => {
            let health = super::health(&snapshot, crate::state::unix_now());
            let status = if health.is_healthy() {
                "200 OK"
            } else {
                "503 Service Unavailable"
            };
            plain(status, &health.to_string())
        }
        _ => plain(
            "404 Not Found",
            "not found: /, /status.json, /metrics and /healthz only\n",
        ),
    }
}
