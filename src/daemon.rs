//! The long-running loop: a cycle at start, then one per `[daemon].interval`. Cycles never
//! overlap and missed ticks are not bunched. This is the only module that knows signals:
//! SIGTERM/SIGINT abandon the cycle in flight (a batch is atomic at Cloudflare, so nothing is
//! half-applied) and exit 0; SIGHUP reloads the config (a broken one is logged and the old one
//! stays); SIGUSR1 runs a cycle now. It tells systemd when it is ready, what it last did, and
//! that it is alive (the watchdog ping comes from this loop, so a stuck loop stops it).

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

use crate::cycle::{render, CycleReport, Engine, ProblemKey};
use crate::detect::watch::{Change, Watcher};
use crate::publish::Publisher;
use crate::systemd;

/// What woke the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// SIGTERM or SIGINT: stop.
    Stop(&'static str),
    /// SIGHUP: reload the config.
    Reload,
    /// SIGUSR1: run a cycle now.
    RunNow,
}

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
    let windows = Windows::of_this_build();
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
        let next_check = std::time::SystemTime::now().checked_add(interval);
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
        if reload(self.engine, self.publisher) {
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

/// The daemon's short windows: how long a burst of watched changes settles, how long a
/// tentative address is waited for, and how far apart watch- and signal-started cycles are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Windows {
    /// How long a burst of address notifications may last before its one cycle starts.
    settle: Duration,
    /// How long a tentative address (duplicate address detection running) is waited for;
    /// the kernel says when DAD ends, which starts the cycle sooner.
    dad_wait: Duration,
    /// Watch-started cycles are at least this far apart (a flapping link gave 2.5 a second).
    watch_spacing: Duration,
    /// Signal-triggered cycles start at most this often.
    signal_spacing: Duration,
}

/// In a debug build, divides the windows (an integer from 2 to 100): the end-to-end tests
/// run the real binary in network namespaces, where each watch-started cycle would
/// otherwise cost them a real second. A release build never reads it.
#[cfg(debug_assertions)]
const WINDOW_DIVISOR_VARIABLE: &str = "FLAREDNS_TEST_WINDOW_DIVISOR";

impl Windows {
    /// The windows the SPEC gives.
    const SPEC: Windows = Windows {
        settle: Duration::from_millis(300),
        dad_wait: Duration::from_secs(3),
        watch_spacing: Duration::from_secs(1),
        signal_spacing: Duration::from_secs(1),
    };

    /// The SPEC's windows; in a debug build divided by `FLAREDNS_TEST_WINDOW_DIVISOR` when
    /// that is set (and said so once).
    fn of_this_build() -> Windows {
        #[cfg(debug_assertions)]
        if let Some(divisor) = std::env::var(WINDOW_DIVISOR_VARIABLE)
            .ok()
            .and_then(|value| value.parse::<u32>().ok())
            .filter(|divisor| (2..=100).contains(divisor))
        {
            tracing::info!("{WINDOW_DIVISOR_VARIABLE}={divisor}: the watch and signal windows are {divisor} times shorter (a debug build, for tests)");
            let spec = Windows::SPEC;
            return Windows {
                settle: spec.settle / divisor,
                dad_wait: spec.dad_wait / divisor,
                watch_spacing: spec.watch_spacing / divisor,
                signal_spacing: spec.signal_spacing / divisor,
            };
        }
        Windows::SPEC
    }

    /// When the cycle a watched change asks for starts: soon after the first change of a
    /// burst (a later one never postpones it), at most `dad_wait` after a tentative address,
    /// and never sooner than `watch_spacing` after the last cycle started. Pure, for the
    /// tests.
    fn next_watch_run(
        &self,
        current: Option<Instant>,
        change: &Change,
        now: Instant,
        last_start: Option<Instant>,
    ) -> Instant {
        let tentative = matches!(
            change,
            Change::Address {
                tentative: true,
                ..
            }
        );
        let wanted = now
            + if tentative {
                self.dad_wait
            } else {
                self.settle
            };
        let run = match current {
            Some(current) if tentative => current,
            Some(current) => current.min(wanted),
            None => wanted,
        };
        last_start
            .and_then(|start| start.checked_add(self.watch_spacing))
            .map_or(run, |earliest| run.max(earliest))
    }

    /// A signal-triggered cycle starts no sooner than this: `signal_spacing` after the last
    /// start.
    fn earliest_signal_run(&self, last_start: Option<Instant>) -> Instant {
        let now = Instant::now();
        last_start
            .and_then(|start| start.checked_add(self.signal_spacing))
            .map_or(now, |earliest| earliest.max(now))
    }
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
fn reload(engine: &mut Engine, publisher: &mut Publisher) -> bool {
    systemd::reloading();
    let path = engine.config.path.clone();
    let result = crate::config::load_from(&engine.config.origin, &crate::config::process_env)
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
    let now = std::time::SystemTime::now();
    let next = now.checked_add(interval).unwrap_or(now);
    let next = humantime::format_rfc3339_seconds(next).to_string();
    let clock = next.get(11..19).unwrap_or(&next);
    format!("{}; next check {clock} UTC", render::summary(report))
}

/// A source of loop events.
pub trait Events {
    /// The next event; pending until there is one.
    fn next(&mut self) -> impl Future<Output = Event>;
}

/// The process's signals.
pub struct Signals {
    #[cfg(unix)]
    streams: Option<UnixSignals>,
}

#[cfg(unix)]
struct UnixSignals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
    user1: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers. Call before the first cycle so no signal is lost.
    pub fn install() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let streams = (|| {
                Some(UnixSignals {
                    terminate: signal(SignalKind::terminate()).ok()?,
                    interrupt: signal(SignalKind::interrupt()).ok()?,
                    hangup: signal(SignalKind::hangup()).ok()?,
                    user1: signal(SignalKind::user_defined1()).ok()?,
                })
            })();
            if streams.is_none() {
                tracing::warn!("cannot install signal handlers; stop flaredns with Ctrl-C");
            }
            Signals { streams }
        }
        #[cfg(not(unix))]
        Signals {}
    }
}

impl Events for Signals {
    async fn next(&mut self) -> Event {
        #[cfg(unix)]
        if let Some(streams) = &mut self.streams {
            return tokio::select! {
                _ = streams.terminate.recv() => Event::Stop("SIGTERM"),
                _ = streams.interrupt.recv() => Event::Stop("SIGINT"),
                _ = streams.hangup.recv() => Event::Reload,
                _ = streams.user1.recv() => Event::RunNow,
            };
        }
        let _ = tokio::signal::ctrl_c().await;
        Event::Stop("SIGINT")
    }
}

/// Events from a future: stops when it resolves. For tests that run the loop for a while.
pub struct StopAfter<F>(pub Option<std::pin::Pin<Box<F>>>);

impl<F: Future<Output = ()>> StopAfter<F> {
    /// Stops the loop when `future` completes.
    pub fn new(future: F) -> StopAfter<F> {
        StopAfter(Some(Box::pin(future)))
    }
}

impl<F: Future<Output = ()>> Events for StopAfter<F> {
    async fn next(&mut self) -> Event {
        match &mut self.0 {
            Some(future) => {
                future.await;
                self.0 = None;
                Event::Stop("the end of the test")
            }
            None => Event::Stop("the end of the test"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table row: label, pending run, change, last start, expected run (from now).
    type Case<'a> = (
        &'a str,
        Option<Instant>,
        &'a Change,
        Option<Instant>,
        Duration,
    );

    // See: issue 21, point 10.
    #[test]
    fn watched_changes_wait_for_dad_and_stay_a_second_apart() {
        let now = Instant::now();
        let settled = Change::Address {
            interface: "ppp0".to_string(),
            tentative: false,
        };
        let tentative = Change::Address {
            interface: "ppp0".to_string(),
            tentative: true,
        };
        let ms = Duration::from_millis;
        let cases: Vec<Case> = vec![
            ("a change settles briefly", None, &settled, None, ms(300)),
            (
                "a tentative address is waited for",
                None,
                &tentative,
                None,
                ms(3000),
            ),
            (
                "DAD done: sooner",
                Some(now + ms(3000)),
                &settled,
                None,
                ms(300),
            ),
            (
                "a burst never postpones",
                Some(now + ms(100)),
                &settled,
                None,
                ms(100),
            ),
            (
                "a tentative one keeps the run",
                Some(now + ms(100)),
                &tentative,
                None,
                ms(100),
            ),
            (
                "a second apart",
                None,
                &settled,
                Some(now - ms(200)),
                ms(800),
            ),
            (
                "lost notifications count",
                None,
                &Change::Overrun,
                None,
                ms(300),
            ),
        ];
        for (label, current, change, last_start, expected) in cases {
            let run = Windows::SPEC.next_watch_run(current, change, now, last_start);
            assert_eq!(run - now, expected, "{label}");
        }
    }
}
