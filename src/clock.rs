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

/// `unix_seconds` of now.
pub fn unix_now() -> u64 {
    unix_seconds(SystemTime::now())
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
