//! The delivery queue: every delivery is a task that first takes a permit from its
//! receiver's lane (4 per receiver, keyed by the whole URL) or from the hook pool (4 hook
//! processes at once, overall), and only then starts its own `[notify].timeout`, so a large
//! change waits its turn instead of timing out in a crowd. A receiver that gave no answer in a
//! batch is not tried again for the rest of that batch (it would cost a timeout per event).
//! Tasks run beside the daemon's loop; `settle` waits for them all. The queue holds at most
//! `MAX_QUEUED` deliveries: past that a batch is dropped with a warning, so a dead receiver
//! and a flapping address cannot grow it without bound.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::deliver::{self, Failure, Post};
use super::{exec, Event};

/// Deliveries in flight to one receiver.
pub(super) const PER_RECEIVER: usize = 4;
/// Hook processes running at once, all hooks together.
pub(super) const HOOKS_AT_ONCE: usize = 4;
/// Deliveries waiting or running, all receivers together.
const MAX_QUEUED: usize = 5000;

/// Who gets a delivery: its identity for "warn once" and how logs show it.
#[derive(Clone, Debug)]
pub(super) struct Receiver {
    /// Tells receivers apart (a hash of the whole URL, or the hook's path); never shown.
    key: String,
    /// `ntfy://ntfy.sh/<redacted>`, `exec hook /path`.
    shown: String,
    hook: bool,
}

impl Receiver {
    /// An HTTP receiver.
    pub fn http(key: String, shown: String) -> Receiver {
        Receiver {
            key,
            shown,
            hook: false,
        }
    }

    /// An exec hook.
    pub fn hook(command: &Path) -> Receiver {
        Receiver {
            key: format!("exec:{}", command.display()),
            shown: format!("exec hook {}", command.display()),
            hook: true,
        }
    }
}

/// The work of one delivery.
enum Job {
    Post(reqwest::Client, Post),
    Hook(Arc<PathBuf>, Event),
}

/// The queue of one process.
pub(super) struct Queue {
    tasks: JoinSet<()>,
    lanes: BTreeMap<String, Arc<Semaphore>>,
    hooks: Arc<Semaphore>,
    /// Receivers whose last delivery failed, so the warning is logged once.
    failing: Arc<Mutex<BTreeSet<String>>>,
}

impl Queue {
    pub fn new() -> Queue {
        Queue {
            tasks: JoinSet::new(),
            lanes: BTreeMap::new(),
            hooks: Arc::new(Semaphore::new(HOOKS_AT_ONCE)),
            failing: Arc::new(Mutex::new(BTreeSet::new())),
        }
    }

    /// A batch of deliveries (one cycle's), each bounded by `timeout`.
    pub fn batch(&mut self, timeout: Duration) -> Batch<'_> {
        Batch {
            queue: self,
            timeout,
            jobs: Vec::new(),
        }
    }

    /// Waits until every delivery has ended.
    pub async fn settle(&mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

/// One cycle's deliveries, collected and then submitted together.
pub(super) struct Batch<'a> {
    queue: &'a mut Queue,
    timeout: Duration,
    jobs: Vec<(Receiver, Job)>,
}

/// How one receiver fares within a batch.
struct Lane {
    receiver: Receiver,
    gave_up: AtomicBool,
    skipped: AtomicUsize,
    left: AtomicUsize,
}

impl Batch<'_> {
    /// Queues one HTTP request to `receiver`.
    pub fn post(&mut self, receiver: &Receiver, client: &reqwest::Client, post: Post) {
        self.jobs
            .push((receiver.clone(), Job::Post(client.clone(), post)));
    }

    /// Queues one run of a hook.
    pub fn hook(&mut self, receiver: &Receiver, command: Arc<PathBuf>, event: Event) {
        self.jobs
            .push((receiver.clone(), Job::Hook(command, event)));
    }

    /// Starts the batch's deliveries and returns at once.
    pub fn submit(self) {
        let Batch {
            queue,
            timeout,
            jobs,
        } = self;
        while queue.tasks.try_join_next().is_some() {}
        if jobs.is_empty() {
            return;
        }
        if queue.tasks.len() + jobs.len() > MAX_QUEUED {
            tracing::warn!(
                "{} notification(s) dropped: {} are still waiting for slow receivers (at most {MAX_QUEUED})",
                jobs.len(),
                queue.tasks.len()
            );
            return;
        }
        let mut lanes: BTreeMap<String, Arc<Lane>> = BTreeMap::new();
        for (receiver, _) in &jobs {
            let lane = lanes.entry(receiver.key.clone()).or_insert_with(|| {
                Arc::new(Lane {
                    receiver: receiver.clone(),
                    gave_up: AtomicBool::new(false),
                    skipped: AtomicUsize::new(0),
                    left: AtomicUsize::new(0),
                })
            });
            lane.left.fetch_add(1, Ordering::Relaxed);
        }
        for (receiver, job) in jobs {
            let Some(lane) = lanes.get(&receiver.key).cloned() else {
                continue;
            };
            let permits = if receiver.hook {
                queue.hooks.clone()
            } else {
                queue
                    .lanes
                    .entry(receiver.key.clone())
                    .or_insert_with(|| Arc::new(Semaphore::new(PER_RECEIVER)))
                    .clone()
            };
            let failing = queue.failing.clone();
            queue.tasks.spawn(async move {
                let Ok(_permit) = permits.acquire_owned().await else {
                    return;
                };
                if lane.gave_up.load(Ordering::Relaxed) {
                    lane.skipped.fetch_add(1, Ordering::Relaxed);
                } else {
                    let result = run(job, timeout).await;
                    record(&failing, &lane, result);
                }
                finish(&lane);
            });
        }
    }
}

/// Runs one delivery, which starts its own deadline now that it holds a permit.
async fn run(job: Job, timeout: Duration) -> Result<(), Failure> {
    let deadline = Instant::now() + timeout;
    let work = async {
        match job {
            Job::Post(client, post) => deliver::send(&client, &post, deadline).await,
            Job::Hook(command, event) => exec::run(&command, &event, deadline).await,
        }
    };
    // The deliveries keep to the deadline themselves; this is the backstop.
    tokio::time::timeout_at(deadline + Duration::from_millis(500), work)
        .await
        .unwrap_or_else(|_| {
            Err(Failure {
                reason: format!(
                    "it did not finish within {} ([notify].timeout)",
                    humantime::format_duration(timeout)
                ),
                answered: false,
            })
        })
}

/// The warn-once log: a receiver's first failure is a warning, later ones are debug lines,
/// and its first success after a failure says so.
fn record(failing: &Mutex<BTreeSet<String>>, lane: &Lane, result: Result<(), Failure>) {
    let receiver = &lane.receiver;
    let mut failing = failing
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match result {
        Err(failure) => {
            if !failure.answered {
                lane.gave_up.store(true, Ordering::Relaxed);
            }
            if failing.insert(receiver.key.clone()) {
                tracing::warn!("could not notify {}: {}", receiver.shown, failure.reason);
            } else {
                tracing::debug!("still cannot notify {}: {}", receiver.shown, failure.reason);
            }
        }
        Ok(()) => {
            if failing.remove(&receiver.key) {
                tracing::info!("{} is reachable again", receiver.shown);
            }
        }
    }
}

/// The last delivery of a lane in a batch says how many were not tried.
fn finish(lane: &Lane) {
    if lane.left.fetch_sub(1, Ordering::AcqRel) == 1 {
        let skipped = lane.skipped.load(Ordering::Relaxed);
        if skipped > 0 {
            tracing::debug!(
                "{skipped} more notification(s) to {} were not sent: it did not answer",
                lane.receiver.shown
            );
        }
    }
}
