//! After a cycle: advance the remembered status (`status.json`), tell people (events and
//! heartbeats through `notify`), and export metrics (the daemon's endpoint snapshot and the
//! textfile). Every reader takes its facts from the `CycleReport` and the status; nothing here
//! judges a record. A dry run publishes nothing: it changes nothing and tells nobody.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::config::Config;
use crate::cycle::CycleReport;
use crate::metrics::{self, Snapshot};
use crate::notify::{events, Heartbeat, Notifier};
pub mod facts;
pub mod status;

use crate::state::{unix_seconds, StateDir};
use facts::CycleFacts;
use status::LastCycle;

/// The publishing side of one process; it lives across reloads, so counters survive them.
pub struct Publisher {
    last: LastCycle,
    notifier: Notifier,
    state: Option<StateDir>,
    textfile: Option<std::path::PathBuf>,
    /// The daemon's metrics endpoint snapshot, when it serves one.
    shared: Option<Arc<Mutex<Snapshot>>>,
    host: String,
    interval: Duration,
    /// The daemon writes `status.json` when something besides times and counters changed,
    /// or every `STATUS_EVERY`; `--once` (which reads it back next run) writes every time.
    written: Option<(Substance, SystemTime)>,
    write_always: bool,
    /// The address the endpoint was started on.
    listen: Option<std::net::SocketAddr>,
    /// The textfile could not be written last time: warned once until it works again.
    textfile_failing: bool,
}

/// What a cycle leaves to tell people (nothing after a dry run).
#[must_use = "deliver them, or the events are lost"]
pub struct Deliveries(Option<PendingDeliveries>);

struct PendingDeliveries {
    events: Vec<crate::notify::Event>,
    heartbeat: Heartbeat,
}

/// How often the daemon writes an unchanged status (flash storage on firewalls).
const STATUS_EVERY: Duration = Duration::from_secs(60);

impl Publisher {
    /// A publisher for `config`, starting from the status remembered in the state directory.
    pub fn new(config: &Config) -> Publisher {
        let state = config.state_dir.as_deref().map(StateDir::new);
        let last = state
            .as_ref()
            .and_then(|state| state.read_json::<LastCycle>(status::FILE))
            .and_then(|last| {
                let checked = last.checked();
                if checked.is_none() {
                    tracing::warn!(
                        "ignoring {}: it was written by another version",
                        status::FILE
                    );
                }
                checked
            })
            .unwrap_or_default();
        Publisher {
            last,
            notifier: Notifier::new(config.notify.clone()),
            state,
            textfile: config.metrics.textfile.clone(),
            shared: None,
            host: hostname(),
            interval: config.daemon.interval,
            written: None,
            write_always: true,
            listen: config.metrics.listen,
            textfile_failing: false,
        }
    }

    /// The daemon keeps the status in memory and writes it only when it changed in substance
    /// or every minute.
    pub fn write_when_changed(&mut self) {
        self.write_always = false;
    }

    /// A new config: new receivers and paths; the status and its counters stay. An endpoint
    /// added by the reload is started; one already serving keeps its address until a restart
    /// (said, not ignored).
    pub fn reconfigure(&mut self, config: &Config) {
        match (config.metrics.listen, self.shared.is_some()) {
            (Some(address), false) => match metrics::server::start(address, self.share()) {
                Ok(bound) => {
                    tracing::info!("serving /metrics, /healthz, the page (/) and /status.json on http://{bound}");
                    self.listen = Some(address);
                }
                Err(error) => {
                    self.shared = None;
                    tracing::warn!("cannot serve metrics on {address}: {error}; fix [metrics].listen and reload");
                }
            },
            (listen, true) if listen != self.listen => {
                tracing::warn!("[metrics].listen changed; restart flaredns to serve on the new address (the old one stays until then)");
            }
            _ => {}
        }
        self.notifier.reconfigure(config.notify.clone());
        self.textfile = config.metrics.textfile.clone();
        self.interval = config.daemon.interval;
        if config.state_dir.as_deref() != self.state.as_ref().map(StateDir::path) {
            self.state = config.state_dir.as_deref().map(StateDir::new);
        }
        self.refresh_snapshot(None);
    }

    /// Writes the status now (the daemon, stopping): counters are not lost to the 60 s pace.
    pub fn flush(&mut self) {
        if let Some(state) = &self.state {
            if self.last.finished_at > 0 {
                state.write_json(status::FILE, &self.last);
            }
        }
    }

    /// Serves metrics from this publisher's snapshots (the daemon's endpoint).
    pub fn share(&mut self) -> Arc<Mutex<Snapshot>> {
        let shared = Arc::new(Mutex::new(Snapshot::default()));
        self.shared = Some(shared.clone());
        self.refresh_snapshot(None);
        shared
    }

    /// Publishes one cycle that took `duration`: `record`, then `deliver`. `next_check` is the
    /// daemon's next tick.
    pub fn after_cycle(
        &mut self,
        report: &CycleReport,
        duration: Duration,
        next_check: Option<SystemTime>,
    ) {
        let deliveries = self.record(report, duration, next_check);
        self.deliver(deliveries);
    }

    /// Queues what `record` found to tell people (events and the heartbeat); returns at once:
    /// the bounded queue delivers them (`settle` waits for it).
    pub fn deliver(&mut self, deliveries: Deliveries) {
        if let Some(PendingDeliveries { events, heartbeat }) = deliveries.0 {
            self.notifier.deliver(&events, &heartbeat);
        }
    }

    /// The local part of publishing, which is quick and never waits on the network: the
    /// status, the metrics snapshot and textfile. Returns what is left to tell people, so the
    /// daemon can send `READY=1` before any delivery (a dead receiver must not hold start-up).
    pub fn record(
        &mut self,
        report: &CycleReport,
        duration: Duration,
        next_check: Option<SystemTime>,
    ) -> Deliveries {
        if report.dry_run {
            return Deliveries(None);
        }
        let now = crate::clock::wall_now();
        let unix = unix_seconds(now);
        // The cycle's facts, built once; the status, the events and the heartbeat read them.
        let facts = CycleFacts::of(report);
        let previous_failing = self.last.failing.clone();
        let duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        let mut next = self.last.advance(&facts, unix, duration_ms);
        next.next_check_at = next_check.map(unix_seconds);
        self.last = next;
        if self.write_due(now) {
            if let Some(state) = &self.state {
                state.write_json(status::FILE, &self.last);
            }
            self.written = Some((substance(&self.last), now));
        }
        self.refresh_snapshot(report.budget_remaining);
        if let Some(path) = &self.textfile {
            let text = metrics::render(&self.last, report.budget_remaining);
            match crate::files::write_public(path, text.as_bytes()) {
                Err(error) if !self.textfile_failing => {
                    tracing::warn!("cannot write the metrics textfile: {error}; under the shipped units add its directory to ReadWritePaths= (warned once until it works)");
                    self.textfile_failing = true;
                }
                Err(error) => tracing::debug!("cannot write the metrics textfile: {error}"),
                Ok(()) if self.textfile_failing => {
                    tracing::info!("the metrics textfile is written again");
                    self.textfile_failing = false;
                }
                Ok(()) => {}
            }
        }
        let time = humantime::format_rfc3339_seconds(now).to_string();
        let events = events::events(&previous_failing, &facts, &time, &self.host);
        let heartbeat = if facts.success {
            Heartbeat::Up
        } else {
            Heartbeat::Down(
                facts
                    .first_problem
                    .clone()
                    .unwrap_or_else(|| "the cycle failed".to_string()),
            )
        };
        Deliveries(Some(PendingDeliveries { events, heartbeat }))
    }

    /// Waits until every queued notification has been delivered or has failed (`--once`
    /// exits only then).
    pub async fn settle(&mut self) {
        self.notifier.settle().await;
    }

    /// The daemon stopping: waits for the queue, briefly (at most 5 s).
    pub async fn settle_briefly(&mut self) {
        self.notifier.settle_briefly().await;
    }

    fn write_due(&self, now: SystemTime) -> bool {
        match &self.written {
            _ if self.write_always => true,
            None => true,
            Some((substance_then, at)) => {
                *substance_then != substance(&self.last)
                    || now
                        .duration_since(*at)
                        .map_or(true, |age| age >= STATUS_EVERY)
            }
        }
    }

    fn refresh_snapshot(&self, budget_remaining: Option<u32>) {
        let Some(shared) = &self.shared else { return };
        // The page and the document are rendered here, once per cycle, not per request: a
        // visitor (or a flood of them) costs a copy, never a render on the cycle's thread.
        let snapshot = Snapshot {
            text: metrics::render(&self.last, budget_remaining),
            last_success_at: self.last.last_success_at,
            interval: self.interval,
            last_error: self.last.last_error.clone(),
            page: Arc::new(metrics::page::render(
                &self.last,
                crate::state::unix_now(),
                &self.host,
            )),
            status_json: Arc::new(crate::status::json(&self.last)),
        };
        *shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = snapshot;
    }
}

/// What of a status is worth a write: the outcome, addresses, each record's state and
/// address, what is failing and the last changes; not times, counters or sentences (which
/// carry times). The address history only grows when an address changes, which is in it.
type Substance = (
    bool,
    std::collections::BTreeMap<crate::model::Family, std::net::IpAddr>,
    Vec<(
        String,
        crate::model::Family,
        status::RecordStatus,
        Option<String>,
    )>,
    std::collections::BTreeSet<status::Subject>,
    usize,
);

fn substance(last: &LastCycle) -> Substance {
    (
        last.success,
        last.addresses.clone(),
        last.records
            .iter()
            .map(|record| {
                (
                    record.name.clone(),
                    record.family,
                    record.state,
                    record.address.clone(),
                )
            })
            .collect(),
        last.failing.clone(),
        last.last_changes.len(),
    )
}

/// This machine's name, for event payloads (`gethostname`, which needs no /proc).
fn hostname() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: gethostname writes at most `len` bytes into the buffer we own.
    let result = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if result != 0 {
        return "unknown".to_string();
    }
    let end = buffer
        .iter()
        .position(|byte| *byte == 0)
        .unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}
