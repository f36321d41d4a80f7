#![allow(clippy::expect_used, clippy::unwrap_used)]
//! End-to-end tests: the real `flaredns` binary against the project's Cloudflare stand-in,
//! over real sockets on 127.0.0.1. One integration binary, one module per behaviour.

mod harness;
mod paused;

mod adversarial;
mod backoff;
mod cname;
mod config_errors;
mod daemon;
mod dns_check;
mod doctor;
mod dry_run;
mod engine;
mod env_config;
mod fewer;
mod hostile;
mod idn;
mod import;
mod ipv6;
mod journald;
mod lan;
mod monitor;
mod neigh;
mod netns;
mod notify;
mod notify_queue;
mod once;
mod package;
mod page;
mod regression;
mod resilience;
mod review2;
mod review22;
mod review3;
mod services;
mod status_check;
mod waf;
mod watch;
