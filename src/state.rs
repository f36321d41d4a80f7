//! What flaredns remembers between runs besides the zone list (which `zones` keeps): the time
//! before which Cloudflare asked not to be called. Without it, `--once` from cron every minute
//! would send one request into a long `Retry-After` every run.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const RATE_LIMIT_FILE: &str = "rate-limited-until";

/// The remembered Retry-After, if it is still in the future.
pub fn read_rate_limit(state_dir: &Path) -> Option<SystemTime> {
    let text = std::fs::read_to_string(state_dir.join(RATE_LIMIT_FILE)).ok()?;
    let until = UNIX_EPOCH + Duration::from_secs(text.trim().parse().ok()?);
    (until > SystemTime::now()).then_some(until)
}

/// Remembers a Retry-After, or forgets it with `None`. Failures only cost the memory.
pub fn write_rate_limit(state_dir: &Path, until: Option<SystemTime>) {
    let path = state_dir.join(RATE_LIMIT_FILE);
    let result = match until {
        Some(until) => {
            let seconds = until
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() + 1)
                .unwrap_or(0);
            std::fs::create_dir_all(state_dir)
                .and_then(|()| std::fs::write(&path, format!("{seconds}\n")))
        }
        None if path.exists() => std::fs::remove_file(&path),
        None => Ok(()),
    };
    if let Err(error) = result {
        tracing::debug!(path = %path.display(), "cannot remember Cloudflare's Retry-After: {error}");
    }
}
