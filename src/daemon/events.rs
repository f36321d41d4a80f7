//! What wakes the daemon's loop besides its timers: the process's signals (SIGTERM/SIGINT
//! stop, SIGHUP reloads, SIGUSR1 runs a cycle now), behind a trait so tests drive the same
//! loop from a channel or stop it after hours of virtual time. The environment comes the
//! same way, so such a test is hermetic.

use std::future::Future;

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

/// What the loop hears from outside: its events, and the environment a reload reads the
/// config with (and a debug build its window divisor).
pub trait Events {
    /// The next event; pending until there is one.
    fn next(&mut self) -> impl Future<Output = Event>;

    /// A variable of the environment: the process's, unless a test gives its own so that
    /// nothing of the machine it runs on (a token, a divisor) leaks into the daemon.
    fn env(&self, key: &str) -> Option<String> {
        crate::config::process_env(key)
    }
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
