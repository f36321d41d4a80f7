//! HTTP deliveries: a webhook gets each event as one JSON POST; healthchecks.io gets a POST
//! to its ping URL (success) or to `…/fail` with the reason in the body; Uptime Kuma gets a
//! GET of its push URL with `status=up|down` and `msg`; a service URL gets the `Post`s its
//! API takes (`services.rs`). Each is retried at most twice, with a short backoff, on no
//! answer or a 5xx, never on a 4xx, and all of it ends by the delivery's deadline.

use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::Heartbeat;
use crate::http::{Outgoing, Sent};
use crate::secret::SecretUrl;

/// At most this many attempts per delivery.
const ATTEMPTS: u32 = 3;

/// One request to send: a POST with a body, or a GET. No `Debug`: it holds the secrets.
#[derive(Clone)]
pub(super) struct Post {
    pub url: url::Url,
    /// The content type; `None` is a GET.
    pub content_type: Option<&'static str>,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl Post {
    /// A POST of `body` as `content_type`.
    pub fn bytes(url: url::Url, content_type: &'static str, body: Vec<u8>) -> Post {
        Post {
            url,
            content_type: Some(content_type),
            body,
            headers: Vec::new(),
        }
    }

    /// A POST of `value` as JSON.
    pub fn json(url: url::Url, value: &impl Serialize) -> Post {
        Post::bytes(
            url,
            "application/json",
            serde_json::to_vec(value).unwrap_or_default(),
        )
    }

    /// A GET.
    pub fn get(url: url::Url) -> Post {
        Post {
            url,
            content_type: None,
            body: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn header(&mut self, name: &str, value: &str) {
        self.headers.push((name.to_string(), value.to_string()));
    }

    /// The value of a header this post carries (for tests).
    #[cfg(test)]
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Why a delivery failed. `answered` is false when the receiver gave no answer at all (or
/// only 5xx), so the rest of the queue to it is not worth its timeouts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Failure {
    pub reason: String,
    pub answered: bool,
}

/// The heartbeat to healthchecks.io: the ping URL, or `…/fail` with the reason.
pub(super) fn healthchecks(url: &SecretUrl, heartbeat: &Heartbeat) -> Post {
    let mut target = url.expose().clone();
    let body = match heartbeat {
        Heartbeat::Up => b"ok".to_vec(),
        Heartbeat::Down(reason) => {
            let path = format!("{}/fail", target.path().trim_end_matches('/'));
            target.set_path(&path);
            reason.as_bytes().to_vec()
        }
    };
    Post::bytes(target, "text/plain; charset=utf-8", body)
}

/// The heartbeat to Uptime Kuma: its push URL with `status`, `msg` and `ping` set (any of
/// them already in the URL, as Kuma shows it, are replaced).
pub(super) fn uptime_kuma(url: &SecretUrl, heartbeat: &Heartbeat) -> Post {
    Post::get(kuma_url(url.expose(), heartbeat))
}

/// The push URL for a heartbeat.
pub(super) fn kuma_url(base: &url::Url, heartbeat: &Heartbeat) -> url::Url {
    let (status, message) = match heartbeat {
        Heartbeat::Up => ("up", "OK".to_string()),
        Heartbeat::Down(reason) => ("down", reason.chars().take(200).collect()),
    };
    let kept: Vec<(String, String)> = base
        .query_pairs()
        .filter(|(key, _)| !matches!(key.as_ref(), "status" | "msg" | "ping"))
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    let mut target = base.clone();
    {
        let mut query = target.query_pairs_mut();
        query.clear();
        for (key, value) in &kept {
            query.append_pair(key, value);
        }
        query.append_pair("status", status);
        query.append_pair("msg", &message);
        query.append_pair("ping", "");
    }
    target
}

/// Sends until a 2xx, a 3xx or 4xx (never retried), the attempts or the deadline run out.
pub(super) async fn send(
    client: &reqwest::Client,
    post: &Post,
    deadline: Instant,
) -> Result<(), Failure> {
    let mut last = String::new();
    let outgoing = Outgoing {
        url: &post.url,
        body: post.content_type.map(|kind| (kind, post.body.as_slice())),
        headers: &post.headers,
    };
    let answered = |reason: String| Failure {
        reason,
        answered: true,
    };
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            let pause = Duration::from_millis(250 << attempt);
            if Instant::now() + pause >= deadline {
                break;
            }
            tokio::time::sleep(pause).await;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match crate::http::send(client, &outgoing, left).await {
            Sent::Status(status) if status < 300 => return Ok(()),
            Sent::Status(status) if status < 400 => {
                return Err(answered(format!(
                    "it answered with a redirect (HTTP {status}), which is not followed; use the final URL"
                )))
            }
            Sent::Status(status) if status < 500 => {
                return Err(answered(format!("it answered HTTP {status}; not retried")))
            }
            Sent::Status(status) => last = format!("it answered HTTP {status}"),
            Sent::Failed(reason) => last = reason,
        }
    }
    Err(Failure {
        reason: if last.is_empty() {
            "no time was left before [notify].timeout".to_string()
        } else {
            last
        },
        answered: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kuma_parameters_replace_the_ones_in_the_pasted_url() {
        let base = url::Url::parse("https://kuma.example/api/push/KEY?status=up&msg=OK&ping=&x=1")
            .expect("url");
        let down = kuma_url(&base, &Heartbeat::Down("no address & more".to_string()));
        let pairs: Vec<(String, String)> = down
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("x".to_string(), "1".to_string()),
                ("status".to_string(), "down".to_string()),
                ("msg".to_string(), "no address & more".to_string()),
                ("ping".to_string(), String::new()),
            ]
        );
    }
}
