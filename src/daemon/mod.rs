//! The long-running loop: a cycle at start, then one per `[daemon].interval`. Cycles never
//! overlap and missed ticks are not bunched. This is the only module that knows signals:
//! SIGTERM/SIGINT abandon the cycle in flight (a batch is atomic at Cloudflare, so nothing is
//! half-applied) and exit 0; SIGHUP reloads the config (a broken one is logged and the old one
//! stays); SIGUSR1 runs a cycle now. It tells systemd when it is ready, what it last did, and
//! that it is alive (the watchdog ping comes from this loop, so a stuck loop stops it).

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

use crate::cycle::{render, CycleReport, Engine, ProblemKey};
use crate::detect::watch::{Change, Watcher};
use crate::publish::Publisher;
use crate::systemd;

mod events;
mod windows;

pub use events::{Event, Events, Signals, StopAfter};
use windows::Windows;

/// Runs cycles until a stop event. Returns the exit code. `events` is passed in so tests can
/// drive the loop, and stop it after hours of virtual time.
pub async fn run(
    engine: &mut Engine,
    publisher: &mut Publisher,
    dry_run: bool,
    events: impl Events,
) -> u8 {
    let interval = engine.config.daemon.interval;
    tracing::info!(
        "flaredns started: {} record(s), checking every {}",
        engine.config.records.len(),
        humantime::format_duration(interval)
    );
    // A daemon start re-reads at once what DNS cannot confirm.
    engine.reread_next_cycle();
    publisher.write_when_changed();
    let watcher = Watcher::for_config(&engine.config);
    let windows = Windows::of_this_build(&|key| events.env(key));
    let mut daemon = Loop {
        engine,
        publisher,
        dry_run,
        events,
        interval,
        ticker: new_ticker(interval),
        watchdog: systemd::watchdog_interval().map(|every| {
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
            ticker
        }),
        watcher,
        first: true,
        previous_problems: BTreeSet::new(),
        pending: Pending::default(),
        last_start: None,
        watch_run: None,
        windows,
        releaser: crate::residency::Releaser::default(),
    };
    daemon.run().await
}

/// The daemon's state between cycles: what it waits on (the interval, signals, the watch,
/// the watchdog), what a signal during a cycle left to do, and what it told last.
struct Loop<'e, E: Events> {
    engine: &'e mut Engine,
    publisher: &'e mut Publisher,
    dry_run: bool,
    events: E,
    interval: Duration,
    ticker: tokio::time::Interval,
    watchdog: Option<tokio::time::Interval>,
    watcher: Option<Watcher>,
    /// READY=1 is still to be sent (after the first cycle's DNS work).
    first: bool,
    previous_problems: BTreeSet<ProblemKey>,
    /// Signals that arrive during a cycle are acted on once it is over.
    pending: Pending,
    /// When the last cycle started: SIGUSR1 and watched changes start at most one cycle per
    /// second, so a flood of them cannot become a flood of requests.
    last_start: Option<Instant>,
    /// A burst of watched changes (a PPPoE flap, DAD) becomes one cycle at this time.
    watch_run: Option<Instant>,
    /// How long a burst settles and how far apart watch- and signal-started cycles are.
    windows: Windows,
    /// Gives the code pages a cycle ran back, at most every 2 s.
    releaser: crate::residency::Releaser,
}

/// What signals during a cycle asked for, done once it is over.
#[derive(Default)]
struct Pending {
    reload: bool,
    run: bool,
    reread: bool,
}

impl<E: Events> Loop<'_, E> {
    async fn run(&mut self) -> u8 {
        loop {
            if std::mem::take(&mut self.pending.reread) {
                self.engine.reread_next_cycle();
            }
            if std::mem::take(&mut self.pending.reload) {
                self.reload();
            }
            if let Err(signal) = self.wait_for_next_run().await {
                return self.stop(signal).await;
            }
            let report = match self.cycle().await {
                Ok(report) => report,
                Err(signal) => return self.stop(signal).await,
            };
            if self.dry_run {
                crate::stdout(&render::plan(&report));
            }
            release_free_memory(&mut self.releaser);
        }
    }

    /// Waits for the next tick, a signal's or a watched change's run, pinging the watchdog
    /// and answering signals meanwhile. `Err` is a stop signal.
    async fn wait_for_next_run(&mut self) -> Result<(), &'static str> {
        let mut signal_run: Option<Instant> = std::mem::take(&mut self.pending.run)
            .then(|| self.windows.earliest_signal_run(self.last_start));
        loop {
            tokio::select! {
                _ = self.ticker.tick() => break,
                _ = sleep_until_or_never(signal_run) => break,
                _ = sleep_until_or_never(self.watch_run) => break,
                change = watch_next(&mut self.watcher) => match change {
                    Ok(change) => self.watched(&change),
                    Err(error) => {
                        tracing::warn!("the interface watch stopped ({error}); checking every {} only", humantime::format_duration(self.interval));
                        self.watcher = None;
                    }
                },
                _ = tick_or_never(&mut self.watchdog) => systemd::watchdog(),
                event = self.events.next() => match event {
                    Event::Stop(signal) => return Err(signal),
                    Event::RunNow => {
                        self.engine.reread_next_cycle();
                        if signal_run.is_none() {
                            tracing::info!("received SIGUSR1: checking now");
                            signal_run = Some(self.windows.earliest_signal_run(self.last_start));
                        } else {
                            tracing::debug!("received SIGUSR1 again; one check is already due");
                        }
                    }
                    Event::Reload => self.reload(),
                },
            }
        }
        Ok(())
    }

    /// A watched change: says what happened (once per burst) and schedules its run.
    fn watched(&mut self, change: &Change) {
        if self.watch_run.is_none() {
            match change {
                Change::Address { interface, tentative: false } => tracing::info!("an address changed on {interface}: checking now"),
                Change::Address { interface, tentative: true } => tracing::info!("a new address on {interface} is being checked for duplicates (DAD): checking once it is usable"),
                Change::Neighbour { mac } => tracing::info!("the neighbour table changed for {mac}: checking now"),
                Change::Overrun => tracing::info!("address notifications were lost: checking now"),
            }
        }
        self.watch_run = Some(self.windows.next_watch_run(
            self.watch_run,
            change,
            Instant::now(),
            self.last_start,
        ));
    }

    /// Runs one cycle, then records and queues what it tells. Signals and watched changes
    /// that arrive meanwhile are kept for afterwards; a stop abandons the cycle (`Err`).
    async fn cycle(&mut self) -> Result<CycleReport, &'static str> {
        self.last_start = Some(Instant::now());
        self.watch_run = None;
        let started = Instant::now();
        let interval = self.interval;
        let next_check = crate::clock::wall_now().checked_add(interval);
        let Loop {
            engine,
            publisher,
            dry_run,
            events,
            watchdog,
            watcher,
            first,
            previous_problems,
            pending,
            ..
        } = self;
        let cycle = async {
            let report = engine.run_cycle(*dry_run).await;
            *previous_problems = render::log_since(&report, previous_problems);
            let deliveries = publisher.record(&report, started.elapsed(), next_check);
            // READY=1 once the first cycle's DNS work is done, before any delivery: a dead
            // receiver must not push start-up past TimeoutStartSec=.
            let status = status_line(&report, interval);
            if std::mem::take(first) {
                systemd::ready(&status);
            } else {
                systemd::status(&status);
            }
            publisher.deliver(deliveries);
            report
        };
        tokio::pin!(cycle);
        loop {
            tokio::select! {
                report = &mut cycle => return Ok(report),
                _ = tick_or_never(watchdog) => systemd::watchdog(),
                event = events.next() => match event {
                    Event::Stop(signal) => {
                        tracing::info!("received {signal} during a cycle; abandoning it (batches are atomic, nothing is half-applied)");
                        return Err(signal);
                    }
                    // Handled once the cycle is over; a cycle never overlaps another.
                    Event::RunNow => {
                        if !pending.run {
                            tracing::info!("received SIGUSR1 during a cycle; checking again once it is over");
                        }
                        pending.run = true;
                        pending.reread = true;
                    }
                    Event::Reload => {
                        tracing::info!("received SIGHUP during a cycle; reloading once it is over");
                        pending.reload = true;
                    }
                },
                change = watch_next(watcher) => {
                    // An address changed while the cycle ran: check again once it is over.
                    if change.is_ok() && !pending.run {
                        tracing::info!("an address changed during the cycle; checking again once it is over");
                        pending.run = true;
                    }
                },
            }
        }
    }

    /// The one reload: the config, and what depends on it (the interval's ticker, the watch).
    fn reload(&mut self) {
        if reload(self.engine, self.publisher, &|key| self.events.env(key)) {
            self.interval = self.engine.config.daemon.interval;
            self.ticker = new_ticker(self.interval);
            self.watcher = Watcher::reopen(self.watcher.take(), &self.engine.config);
        }
    }

    /// Stops: the status is written and the queue given a moment, then exit 0.
    async fn stop(&mut self, signal: &'static str) -> u8 {
        self.publisher.flush();
        self.publisher.settle_briefly().await;
        stop(signal)
    }
}

/// Hands memory freed by the cycle (resolver, response bodies) back to the system, and the
/// code pages it ran back to the page cache, so the idle daemon's footprint is what it holds,
/// not what its start and its busiest cycle once needed.
fn release_free_memory(releaser: &mut crate::residency::Releaser) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; it touches no memory
    // that is in use and is safe to call at any time from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
    releaser.release_if_due();
}

fn new_ticker(interval: Duration) -> tokio::time::Interval {
    let mut ticker = tokio::time::interval_at(Instant::now(), interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticker
}

/// The next watched change, or never without a watch.
async fn watch_next(watcher: &mut Option<Watcher>) -> std::io::Result<Change> {
    match watcher {
        Some(watcher) => watcher.changed().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_or_never(when: Option<Instant>) {
    match when {
        Some(when) => tokio::time::sleep_until(when).await,
        None => std::future::pending().await,
    }
}

async fn tick_or_never(ticker: &mut Option<tokio::time::Interval>) {
    match ticker {
        Some(ticker) => {
            ticker.tick().await;
        }
        None => std::future::pending().await,
    }
}

fn stop(signal: &str) -> u8 {
    tracing::info!("received {signal}, stopping");
    systemd::stopping();
    crate::error::EXIT_OK
}

/// Re-reads the config file. Returns true when the new config is in force.
fn reload(
    engine: &mut Engine,
    publisher: &mut Publisher,
    env: &dyn Fn(&str) -> Option<String>,
) -> bool {
    systemd::reloading();
    let path = engine.config.path.clone();
    let result = crate::config::load_from(&engine.config.origin, env)
        .map_err(crate::error::Error::from)
        .and_then(|config| {
            for warning in &config.warnings {
                tracing::warn!("{warning}");
            }
            engine
                .reconfigure(config)
                .map_err(crate::error::Error::from)
        });
    if result.is_ok() {
        publisher.reconfigure(&engine.config);
    }
    let in_force = match result {
        Ok(()) => {
            tracing::info!(
                "received SIGHUP: reloaded {} ({} record(s))",
                path.display(),
                engine.config.records.len()
            );
            true
        }
        Err(error) => {
            tracing::error!("received SIGHUP but the new config is not valid, so the old one stays in force: {error}");
            false
        }
    };
    systemd::ready("reloaded");
    in_force
}

/// "3 in sync, 0 changed, 0 failed at 81.23.45.99; next check 14:05:00".
fn status_line(report: &CycleReport, interval: Duration) -> String {
    let now = crate::clock::wall_now();
    let next = now.checked_add(interval).unwrap_or(now);
    let next = humantime::format_rfc3339_seconds(next).to_string();
    let clock = next.get(11..19).unwrap_or(&next);
    format!("{}; next check {clock} UTC", render::summary(report))
}
