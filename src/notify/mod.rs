//! Telling people: after each cycle, the events (`events.rs`) go to every webhook (one JSON
//! POST per event) and every exec hook (one run per event, the fields in `FLAREDNS_*`), and a
//! heartbeat goes to healthchecks.io and Uptime Kuma. Deliveries run concurrently and all end
//! by `[notify].timeout`, retries included, so a dead receiver never holds a cycle longer; a
//! failed delivery is a warning (once per receiver until it works again) and never changes
//! the exit code. URLs carry secrets, so logs show only their scheme and host; the API token
//! reaches no payload and no hook's environment.

mod deliver;
pub mod events;
mod exec;

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::NotifyConfig;
pub use events::{Event, EventKind};

/// What the heartbeat says about a cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Heartbeat {
    Up,
    /// The cycle failed: the first problem's sentence.
    Down(String),
}

/// The notifier of one process: the config and an HTTP client built on first use.
pub struct Notifier {
    config: NotifyConfig,
    client: std::sync::OnceLock<reqwest::Client>,
    /// Receivers whose last delivery failed, so the warning is logged once.
    failing: Mutex<BTreeSet<String>>,
}

impl Notifier {
    /// A notifier for `[notify]`.
    pub fn new(config: NotifyConfig) -> Notifier {
        Notifier {
            config,
            client: std::sync::OnceLock::new(),
            failing: Mutex::new(BTreeSet::new()),
        }
    }

    /// True when nothing is configured.
    pub fn is_empty(&self) -> bool {
        self.config.healthchecks.is_none()
            && self.config.uptime_kuma.is_none()
            && self.config.webhooks.is_empty()
            && self.config.exec.is_empty()
    }

    /// Delivers the events and the heartbeat; returns once all are done or the timeout hit.
    pub async fn deliver(&self, events: &[Event], heartbeat: &Heartbeat) {
        if self.is_empty() {
            return;
        }
        for event in events {
            tracing::debug!("event: {}", event.summary());
        }
        let deadline = Instant::now() + self.config.timeout;
        let mut jobs: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + '_>>> =
            Vec::new();
        let needs_http = self.config.healthchecks.is_some()
            || self.config.uptime_kuma.is_some()
            || !self.config.webhooks.is_empty();
        let client = if needs_http { self.client() } else { None };
        if let Some(client) = client {
            for url in &self.config.webhooks {
                for event in events {
                    jobs.push(Box::pin(deliver::webhook(client, url, event, deadline)));
                }
            }
            if let Some(url) = &self.config.healthchecks {
                jobs.push(Box::pin(deliver::healthchecks(
                    client, url, heartbeat, deadline,
                )));
            }
            if let Some(url) = &self.config.uptime_kuma {
                jobs.push(Box::pin(deliver::uptime_kuma(
                    client, url, heartbeat, deadline,
                )));
            }
        }
        for command in &self.config.exec {
            for event in events {
                jobs.push(Box::pin(exec::run(command, event, deadline)));
            }
        }
        let outcomes = match tokio::time::timeout_at(
            deadline + Duration::from_millis(200),
            futures_join_all(jobs),
        )
        .await
        {
            Ok(outcomes) => outcomes,
            Err(_) => vec![Outcome {
                receiver: "notifications".to_string(),
                error: Some(format!(
                    "did not finish within {} ([notify].timeout)",
                    humantime::format_duration(self.config.timeout)
                )),
            }],
        };
        let mut failing = self
            .failing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for outcome in outcomes {
            match outcome.error {
                Some(error) if failing.insert(outcome.receiver.clone()) => {
                    tracing::warn!("could not notify {}: {error}", outcome.receiver)
                }
                Some(error) => tracing::debug!("still cannot notify {}: {error}", outcome.receiver),
                None => {
                    if failing.remove(&outcome.receiver) {
                        tracing::info!("{} is reachable again", outcome.receiver);
                    }
                }
            }
        }
    }

    fn client(&self) -> Option<&reqwest::Client> {
        if let Some(client) = self.client.get() {
            return Some(client);
        }
        // No redirect is followed: a 301 would turn the POST into a GET without the event.
        match crate::http::client(self.config.timeout, None, crate::http::Redirects::Never) {
            Ok(client) => Some(self.client.get_or_init(|| client)),
            Err(error) => {
                tracing::warn!("cannot notify: {error}");
                None
            }
        }
    }
}

/// How one delivery ended, for the warn-once log.
pub(crate) struct Outcome {
    /// The receiver as shown in logs: scheme and host, or the hook's path.
    pub receiver: String,
    pub error: Option<String>,
}

/// Runs futures concurrently on the current task and collects their outputs in order.
async fn futures_join_all<T>(
    mut futures: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = T> + '_>>>,
) -> Vec<T> {
    let mut results: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|context| {
        let mut pending = false;
        for (index, future) in futures.iter_mut().enumerate() {
            if results[index].is_some() {
                continue;
            }
            match future.as_mut().poll(context) {
                std::task::Poll::Ready(value) => results[index] = Some(value),
                std::task::Poll::Pending => pending = true,
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.into_iter().flatten().collect()
}
