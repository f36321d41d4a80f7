//! Telling people: after each cycle, the events (`events.rs`) go to every webhook (one JSON
//! POST per event), every exec hook (one run per event, the fields in `FLAREDNS_*`) and every
//! service URL (`services.rs`: one short human line per event, `message.rs`, batched into as
//! few messages as the service takes), and a heartbeat goes to healthchecks.io and Uptime Kuma.
//!
//! Deliveries go through a bounded queue (`queue.rs`): at most 4 in flight per receiver and 4
//! hook processes at once, each delivery bounded by `[notify].timeout`, so 300 changed
//! records reach a receiver without 300 connections or 300 forks. The queue runs beside the
//! daemon (its next cycle never waits for it); `--once` waits for it before exiting. A failed
//! delivery is a warning, once per receiver (the whole URL tells receivers apart) until it
//! works again, and never changes the exit code. URLs carry secrets, so logs show only
//! `scheme://host/<redacted>`; the API token reaches no payload and no hook's environment.

mod deliver;
pub mod events;
mod exec;
pub mod message;
mod queue;
pub mod services;
mod url_parts;

use std::sync::Arc;

use crate::config::NotifyConfig;
use deliver::Post;
pub use events::{Event, EventKind};
use queue::{Queue, Receiver};

/// What the heartbeat says about a cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Heartbeat {
    Up,
    /// The cycle failed: the first problem's sentence.
    Down(String),
}

/// The notifier of one process: the config, an HTTP client built on first use, and the
/// queue, which outlives reloads (so its bounds hold across them).
pub struct Notifier {
    config: NotifyConfig,
    client: Option<reqwest::Client>,
    queue: Queue,
}

impl Notifier {
    /// A notifier for `[notify]`.
    pub fn new(config: NotifyConfig) -> Notifier {
        Notifier {
            config,
            client: None,
            queue: Queue::new(),
        }
    }

    /// A new `[notify]` (a reload): deliveries already queued finish under the old one.
    pub fn reconfigure(&mut self, config: NotifyConfig) {
        self.config = config;
        self.client = None;
    }

    /// True when nothing is configured.
    pub fn is_empty(&self) -> bool {
        self.config.healthchecks.is_none()
            && self.config.uptime_kuma.is_none()
            && self.config.webhooks.is_empty()
            && self.config.exec.is_empty()
            && self.config.urls.is_empty()
    }

    /// Queues the events and the heartbeat and returns at once; `settle` waits for them.
    pub fn deliver(&mut self, events: &[Event], heartbeat: &Heartbeat) {
        if self.is_empty() {
            return;
        }
        let timeout = self.config.timeout;
        let mut batch = self.queue.batch(timeout);
        let needs_http = self.config.healthchecks.is_some()
            || self.config.uptime_kuma.is_some()
            || !self.config.webhooks.is_empty()
            || !self.config.urls.is_empty();
        if needs_http && self.client.is_none() {
            // No redirect is followed: a 301 would turn the POST into a GET without the event.
            match crate::http::client(timeout, None, crate::http::Redirects::Never) {
                Ok(client) => self.client = Some(client),
                Err(error) => tracing::warn!("cannot notify: {error}"),
            }
        }
        if let Some(client) = &self.client {
            for (index, url) in self.config.webhooks.iter().enumerate() {
                // The position tells apart two receivers that show the same host.
                let shown = format!("webhook {url}/<redacted> (notify.webhooks #{})", index + 1);
                let receiver = Receiver::http(url.fingerprint(), shown);
                for event in events {
                    batch.post(&receiver, client, Post::json(url.expose().clone(), event));
                }
            }
            if let Some(url) = &self.config.healthchecks {
                let receiver =
                    Receiver::http(url.fingerprint(), format!("healthchecks {url}/<redacted>"));
                batch.post(&receiver, client, deliver::healthchecks(url, heartbeat));
            }
            if let Some(url) = &self.config.uptime_kuma {
                let receiver =
                    Receiver::http(url.fingerprint(), format!("uptime-kuma {url}/<redacted>"));
                batch.post(&receiver, client, deliver::uptime_kuma(url, heartbeat));
            }
            let chosen: Vec<&Event> = events
                .iter()
                .filter(|event| self.config.events.contains(&event.event))
                .collect();
            if !chosen.is_empty() {
                let title = format!("flaredns on {}", chosen[0].host);
                let lines: Vec<String> = chosen.iter().map(|event| message::line(event)).collect();
                for (index, url) in self.config.urls.iter().enumerate() {
                    let shown = format!("{url} (notify.urls #{})", index + 1);
                    let receiver = Receiver::http(url.key().to_string(), shown);
                    if url.is_generic() {
                        for event in &chosen {
                            batch.post(&receiver, client, url.event_post(event));
                        }
                        continue;
                    }
                    for text in message::batches(&lines, url.message_limit()) {
                        for post in url.posts(&text, &title) {
                            batch.post(&receiver, client, post);
                        }
                    }
                }
            }
        }
        for command in &self.config.exec {
            let receiver = Receiver::hook(command);
            let command = Arc::new(command.clone());
            for event in events {
                batch.hook(&receiver, command.clone(), event.clone());
            }
        }
        batch.submit();
    }

    /// Waits until every queued delivery has ended (`--once`).
    pub async fn settle(&mut self) {
        self.queue.settle().await;
    }

    /// Waits for the queue at most `[notify].timeout`, and never more than 5 s (the daemon
    /// stopping: what is still queued then is dropped, so a dead receiver cannot hold a stop
    /// past systemd's patience).
    pub async fn settle_briefly(&mut self) {
        let limit = self.config.timeout.min(std::time::Duration::from_secs(5));
        if tokio::time::timeout(limit, self.queue.settle())
            .await
            .is_err()
        {
            tracing::info!("stopping with notifications still queued; they are dropped");
        }
    }
}
