//! Time, in one small place: wall-clock seconds as they are remembered on disk, and the one
//! checked, capped conversion of a wait into a point in time (a server's `Retry-After`, a
//! remembered wait). A leaf module: the state directory, the budget and the publishers all
//! read time here, and none of them imports another for it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// The longest wait a server may impose (Retry-After, a Ratelimit reset, a remembered wait):
/// Cloudflare's window is 5 minutes; a date in 9999 must not silence the tool.
pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(3600);

/// Seconds since the Unix epoch of a wall-clock time (0 before it): how times are remembered.
pub fn unix_seconds(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

/// `unix_seconds` of now (`wall_now`).
pub fn unix_now() -> u64 {
    unix_seconds(wall_now())
}

/// The wall clock, plus however far tokio's clock is ahead of the real one. In the binary
/// tokio's clock is the real monotonic clock and is read first, so it is never ahead and this
/// is `SystemTime::now()`. Under tokio's paused clock (the tests on paused time) it is ahead
/// by the virtual time skipped, so what is judged by remembered wall-clock seconds (a
/// listing's age against `[check].reconcile`, /healthz's two intervals) ages with the
/// daemon's timers instead of standing still.
pub fn wall_now() -> SystemTime {
    let tokio_now = Instant::now().into_std();
    let ahead = tokio_now.saturating_duration_since(std::time::Instant::now());
    SystemTime::now()
        .checked_add(ahead)
        .unwrap_or_else(SystemTime::now)
}

/// `now + wait`, the wait capped at `MAX_SERVER_WAIT` and the sum checked: the one place a
/// wait becomes an instant.
pub fn instant_after(now: Instant, wait: Duration) -> Instant {
    let wait = wait.min(MAX_SERVER_WAIT);
    now.checked_add(wait).unwrap_or(now)
}

/// The wall-clock twin of `instant_after`, for what is remembered on disk and shown to people.
pub fn wall_after(now: SystemTime, wait: Duration) -> SystemTime {
    let wait = wait.min(MAX_SERVER_WAIT);
    now.checked_add(wait).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wall_clock_is_the_systems_outside_paused_time() {
        let before = SystemTime::now();
        let now = wall_now();
        assert!(before <= now && now <= SystemTime::now());
    }

    #[tokio::test(start_paused = true)]
    async fn under_paused_time_the_wall_clock_moves_with_the_virtual_one() {
        let before = unix_now();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        let after = unix_now();
        assert!(
            (3599..=3601).contains(&(after - before)),
            "{before} → {after}"
        );
    }
}
