//! `flaredns status`: what the last cycle did, read from `status.json` in the state
//! directory, with no network request. The human form is a few lines; `--json` prints the
//! document itself (its field names are documented in the README). Exit 0 when the last
//! cycle succeeded, 1 when it failed or none is remembered.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::Config;
use crate::state::status::{self, LastCycle};
use crate::state::StateDir;

/// The status document, or why there is none.
pub fn read(config: &Config) -> Result<LastCycle, String> {
    let Some(dir) = config.state_dir.as_deref() else {
        return Err(
            "no state directory is known (set [daemon].state_dir or $STATE_DIRECTORY)".to_string(),
        );
    };
    StateDir::new(dir)
        .read_json::<LastCycle>(status::FILE)
        .and_then(LastCycle::checked)
        .ok_or_else(|| {
            format!(
                "no cycle is remembered in {} yet (run `flaredns --once`, or start the daemon)",
                dir.display()
            )
        })
}

/// The human form.
pub fn render(last: &LastCycle, now: SystemTime) -> String {
    let mut out = String::new();
    let when = |unix: u64| {
        let at = UNIX_EPOCH + Duration::from_secs(unix);
        let text = humantime::format_rfc3339_seconds(at).to_string();
        let ago = now
            .duration_since(at)
            .map(|elapsed| {
                format!(
                    " ({} ago)",
                    humantime::format_duration(Duration::from_secs(elapsed.as_secs()))
                )
            })
            .unwrap_or_default();
        format!("{}{ago}", text.replace('T', " ").replace('Z', " UTC"))
    };
    let result = if last.success { "success" } else { "FAILED" };
    let _ = writeln!(
        out,
        "last cycle: {}, {result}, took {} ms",
        when(last.finished_at),
        last.duration_ms
    );
    if !last.addresses.is_empty() {
        let addresses: Vec<String> = last
            .addresses
            .iter()
            .map(|(family, address)| format!("{family} {address}"))
            .collect();
        let _ = writeln!(out, "detected: {}", addresses.join(", "));
    }
    let _ = writeln!(out, "records:");
    for record in &last.records {
        let _ = write!(
            out,
            "  {:<32} {:<4} {:<8}",
            record.name, record.record_type, record.state
        );
        if let Some(address) = &record.address {
            let _ = write!(out, " {address}");
        }
        if let Some(zone) = &record.zone {
            let _ = write!(out, " (zone {zone})");
        }
        out.push('\n');
        if let Some(change) = last
            .last_changes
            .get(&format!("{} {}", record.name, record.record_type))
        {
            let old = if change.old.is_empty() {
                "(none)"
            } else {
                &change.old
            };
            let _ = writeln!(
                out,
                "      last change: {old} → {} at {}",
                change.new,
                when(change.at)
            );
        }
        if let Some(error) = &record.error {
            let _ = writeln!(out, "      error: {error}");
        }
    }
    for problem in &last.problems {
        let _ = writeln!(out, "problem: {problem}");
    }
    if let Some(error) = &last.last_error {
        let _ = writeln!(out, "last error: {error}");
    }
    if let Some(at) = last.last_success_at {
        let _ = writeln!(out, "last success: {}", when(at));
    }
    if let Some(at) = last.next_check_at {
        let text = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(at));
        let _ = writeln!(
            out,
            "next check: {} (daemon)",
            text.to_string().replace('T', " ").replace('Z', " UTC")
        );
    }
    out
}
