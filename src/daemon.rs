//! The long-running loop: a cycle at start, then one per `[daemon].interval`. Cycles never
//! overlap and missed ticks are not bunched. SIGTERM and SIGINT abandon the cycle in flight (a
//! batch is atomic at Cloudflare, so nothing is half-applied) and exit 0. This is the only
//! module that knows about signals.

use std::future::Future;

use tokio::time::{Instant, MissedTickBehavior};

use crate::cycle::Engine;

/// Runs cycles until `shutdown` resolves (with the signal's name). Returns the exit code.
/// The shutdown future is passed in so tests can stop the loop after hours of virtual time.
pub async fn run(
    engine: &mut Engine,
    dry_run: bool,
    shutdown: impl Future<Output = &'static str>,
) -> u8 {
    tokio::pin!(shutdown);
    let interval = engine.config.daemon.interval;
    let mut ticker = tokio::time::interval_at(Instant::now(), interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tracing::info!(
        "flaredns started: {} record(s), checking every {}",
        engine.config.records.len(),
        humantime::format_duration(interval)
    );
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            signal = &mut shutdown => {
                tracing::info!("received {signal}, stopping");
                return crate::error::EXIT_OK;
            }
        }
        tokio::select! {
            report = engine.run_cycle(dry_run) => {
                report.log();
                if dry_run {
                    print!("{}", report.render_plan());
                }
            }
            signal = &mut shutdown => {
                tracing::info!("received {signal} during a cycle; abandoning it (batches are atomic, nothing is half-applied)");
                return crate::error::EXIT_OK;
            }
        }
    }
}

/// Waits for SIGTERM or SIGINT and names it.
pub async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut terminate), Ok(mut interrupt)) => tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "SIGINT",
            },
            _ => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
