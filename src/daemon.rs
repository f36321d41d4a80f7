//! The long-running loop: a cycle at start, then one per `[daemon].interval`. Cycles never
//! overlap and missed ticks are not bunched. SIGTERM and SIGINT abandon the cycle in flight (a
//! batch is atomic at Cloudflare, so nothing is half-applied) and exit 0. This is the only
//! module that knows about signals.

use tokio::time::{Instant, MissedTickBehavior};

use crate::cycle::Engine;

/// Runs cycles until a shutdown signal. Returns the exit code.
pub async fn run(mut engine: Engine, dry_run: bool) -> u8 {
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
            signal = shutdown_signal() => {
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
            signal = shutdown_signal() => {
                tracing::info!("received {signal} during a cycle; abandoning it (batches are atomic, nothing is half-applied)");
                return crate::error::EXIT_OK;
            }
        }
    }
}

/// Waits for SIGTERM or SIGINT and names it.
async fn shutdown_signal() -> &'static str {
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
