//! The delivery queue: every delivery is a task that first takes a permit from its
//! receiver's lane (4 per receiver, keyed by the whole URL) or from the hook pool (4 hook
//! processes at once, overall), and only then starts its own `[notify].timeout`, so a large
//! change waits its turn instead of timing out in a crowd. A receiver that gave no answer in a
//! batch is not tried again for the rest of that batch (it would cost a timeout per event).
//! Tasks run beside the daemon's loop; `settle` waits for them all. The queue holds at most
//! `MAX_QUEUED` deliveries: past that a batch is dropped with a warning, so a dead receiver
//! and a flapping address cannot grow it without bound.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
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
            // A path never looks like the hex hash of a URL.
            key: command.display().to_string(),
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
    /// Each receiver's permits, by key; a few receivers, so a list.
    lanes: Vec<(String, Arc<Semaphore>)>,
    hooks: Arc<Semaphore>,
    /// Receivers whose last delivery failed, so the warning is logged once.
    failing: Arc<Mutex<BTreeSet<String>>>,
}

impl Queue {
    /// An empty queue.
    pub fn new() -> Queue {
        Queue {
            tasks: JoinSet::new(),
            lanes: Vec::new(),
            hooks: Arc::new(Semaphore::new(HOOKS_AT_ONCE)),
            failing: Arc::new(Mutex::new(BTreeSet::new())),
        }
    }

    /// A batch of deliveries (one cycle's), each bounded by `timeout`.
    pub fn batch(&mut self, timeout: Duration) -> Batch<'_> {
        Batch {
            queue: self,
            timeout,
            lanes: Vec::new(),
            jobs: Vec::new(),
        }
    }

    /// Waits until every delivery has ended.
    pub async fn settle(&mut self) {
        while self.tasks.join_next().await.is_some() {}
    }

    /// The permits of `receiver`: its own lane, or the hooks' pool.
    fn permits(&mut self, receiver: &Receiver) -> Arc<Semaphore> {
        if receiver.hook {
            return self.hooks.clone();
        }
        if let Some((_, permits)) = self.lanes.iter().find(|(key, _)| *key == receiver.key) {
            return permits.clone();
        }
        let permits = Arc::new(Semaphore::new(PER_RECEIVER));
        self.lanes.push((receiver.key.clone(), permits.clone()));
        permits
    }
}

/// One cycle's deliveries, collected and then submitted together.
pub(super) struct Batch<'a> {
    queue: &'a mut Queue,
    timeout: Duration,
    lanes: Vec<Arc<Lane>>,
    /// Each job with the index of its lane.
    jobs: Vec<(usize, Job)>,
}

/// How one receiver fares within a batch.
struct Lane {
    receiver: Receiver,
    permits: Arc<Semaphore>,
    gave_up: AtomicBool,
}

impl Batch<'_> {
    /// Queues one HTTP request to `receiver`.
    pub fn post(&mut self, receiver: &Receiver, client: &reqwest::Client, post: Post) {
        let lane = self.lane(receiver);
        self.jobs.push((lane, Job::Post(client.clone(), post)));
    }

    /// Queues one run of a hook.
    pub fn hook(&mut self, receiver: &Receiver, command: Arc<PathBuf>, event: Event) {
        let lane = self.lane(receiver);
        self.jobs.push((lane, Job::Hook(command, event)));
    }

    /// The index of `receiver`'s lane in this batch, made on first use.
    fn lane(&mut self, receiver: &Receiver) -> usize {
        if let Some(index) = self
            .lanes
            .iter()
            .position(|lane| lane.receiver.key == receiver.key)
        {
            return index;
        }
        self.lanes.push(Arc::new(Lane {
            receiver: receiver.clone(),
            permits: self.queue.permits(receiver),
            gave_up: AtomicBool::new(false),
        }));
        self.lanes.len() - 1
    }

    /// Starts the batch's deliveries and returns at once.
    pub fn submit(self) {
        let Batch {
            queue,
            timeout,
            lanes,
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
        for (index, job) in jobs {
            let lane = lanes[index].clone();
            let failing = queue.failing.clone();
            queue.tasks.spawn(async move {
                let Ok(_permit) = lane.permits.clone().acquire_owned().await else {
                    return;
                };
                // A receiver that gave no answer in this batch is not tried again in it.
                if !lane.gave_up.load(Ordering::Relaxed) {
                    let result = run(job, timeout).await;
                    record(&failing, &lane, result);
                }
            });
        }
    }
}

/// Runs one delivery, which starts its own deadline now that it holds a permit. Both kinds
/// keep to it themselves (each request's timeout is what is left; a hook is killed at it).
async fn run(job: Job, timeout: Duration) -> Result<(), Failure> {
    let deadline = Instant::now() + timeout;
    match job {
        Job::Post(client, post) => deliver::send(&client, &post, deadline).await,
        Job::Hook(command, event) => exec::run(&command, &event, deadline).await,
    }
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
