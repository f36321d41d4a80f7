//! HTTP deliveries: a webhook gets each event as one JSON POST; healthchecks.io gets a POST
//! to its ping URL (success) or to `…/fail` with the reason in the body; Uptime Kuma gets a
//! GET of its push URL with `status=up|down` and `msg`. Each is retried at most twice, with a
//! short backoff, on no answer or a 5xx, never on a 4xx, and all of it ends by the deadline.

use std::time::Duration;

use tokio::time::Instant;

use super::{Event, Heartbeat, Outcome};
use crate::http::Sent;
use crate::secret::SecretUrl;

/// At most this many attempts per delivery.
const ATTEMPTS: u32 = 3;

/// One event to one webhook.
pub(super) async fn webhook(
    client: &reqwest::Client,
    url: &SecretUrl,
    event: &Event,
    deadline: Instant,
) -> Outcome {
    let body = serde_json::to_vec(event).unwrap_or_default();
    let result = send_with_retries(
        client,
        url.expose(),
        Some(("application/json", body)),
        deadline,
    )
    .await;
    Outcome {
        receiver: format!("webhook {url}"),
        error: result.err(),
    }
}

/// The heartbeat to healthchecks.io: the ping URL, or `…/fail` with the reason.
pub(super) async fn healthchecks(
    client: &reqwest::Client,
    url: &SecretUrl,
    heartbeat: &Heartbeat,
    deadline: Instant,
) -> Outcome {
    let mut target = url.expose().clone();
    let body = match heartbeat {
        Heartbeat::Up => b"ok".to_vec(),
        Heartbeat::Down(reason) => {
            let path = format!("{}/fail", target.path().trim_end_matches('/'));
            target.set_path(&path);
            reason.as_bytes().to_vec()
        }
    };
    let result = send_with_retries(
        client,
        &target,
        Some(("text/plain; charset=utf-8", body)),
        deadline,
    )
    .await;
    Outcome {
        receiver: format!("healthchecks {url}"),
        error: result.err(),
    }
}

/// The heartbeat to Uptime Kuma: its push URL with `status`, `msg` and `ping` set (any of
/// them already in the URL, as Kuma shows it, are replaced).
pub(super) async fn uptime_kuma(
    client: &reqwest::Client,
    url: &SecretUrl,
    heartbeat: &Heartbeat,
    deadline: Instant,
) -> Outcome {
    let target = kuma_url(url.expose(), heartbeat);
    let result = send_with_retries(client, &target, None, deadline).await;
    Outcome {
        receiver: format!("uptime-kuma {url}"),
        error: result.err(),
    }
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

/// Sends until a 2xx/3xx, a 4xx (never retried), the attempts or the deadline run out.
async fn send_with_retries(
    client: &reqwest::Client,
    url: &url::Url,
    body: Option<(&'static str, Vec<u8>)>,
    deadline: Instant,
) -> Result<(), String> {
    let mut last = String::new();
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
        match crate::http::send(client, body.clone(), url, left).await {
            Sent::Status(status) if status < 300 => return Ok(()),
            Sent::Status(status) if status < 400 => {
                return Err(format!(
                    "it answered with a redirect (HTTP {status}), which is not followed; use the final URL"
                ))
            }
            Sent::Status(status) if status < 500 => {
                return Err(format!("it answered HTTP {status}; not retried"))
            }
            Sent::Status(status) => last = format!("it answered HTTP {status}"),
            Sent::Failed(reason) => last = reason,
        }
    }
    Err(if last.is_empty() {
        "no time was left before [notify].timeout".to_string()
    } else {
        last
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
