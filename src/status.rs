//! `flaredns status`: what the last cycle did, read from `status.json` in the state
//! directory, with no network request. The human form is a few lines; `--json` prints the
//! document itself (its field names are documented in docs/monitoring-and-notifications.md). Exit 0 when the last
//! cycle succeeded, 1 when it failed or none is remembered.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::publish::status::{self, LastCycle};
use crate::state::StateDir;

/// Why there is no status to show. `Display` is the sentence, with the next step.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    #[error("no state directory is known (set [daemon].state_dir or $STATE_DIRECTORY)")]
    NoStateDir,
    /// No readable, plausible `status.json` in the state directory.
    #[error("no cycle is remembered in {} yet (run `flaredns --once`, or start the daemon)", dir.display())]
    NothingRemembered { dir: PathBuf },
}

/// The status document in the state directory `dir`, or why there is none.
pub fn read(dir: Option<&Path>) -> Result<LastCycle, StatusError> {
    let Some(dir) = dir else {
        return Err(StatusError::NoStateDir);
    };
    StateDir::read_only(dir)
        .read_json::<LastCycle>(status::FILE)
        .and_then(LastCycle::checked)
        .ok_or_else(|| StatusError::NothingRemembered {
            dir: dir.to_path_buf(),
        })
}

/// How long past its time a daemon's next check is shown as overdue: twice the pace at which
/// the daemon rewrites an unchanged status.
const OVERDUE_GRACE: Duration = Duration::from_secs(120);

/// The document `status --json` prints and `GET /status.json` serves (the same bytes).
pub fn json(last: &LastCycle) -> String {
    serde_json::to_string_pretty(last).unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"))
}

/// How many address changes the human form lists (`--json` has them all).
const HISTORY_SHOWN: usize = 5;

/// The human form. Every text from the file is shown on one line with control characters
/// escaped: a tampered `status.json` cannot move the cursor or forge lines.
pub fn render(last: &LastCycle, now: SystemTime) -> String {
    let mut out = String::new();
    let result = if last.success { "success" } else { "FAILED" };
    let _ = writeln!(
        out,
        "last cycle: {}, {result}, took {} ms",
        when(last.finished_at, now),
        last.duration_ms
    );
    if !last.addresses.is_empty() {
        let addresses: Vec<String> = last
            .addresses
            .iter()
            .map(|(family, address)| format!("{} {address}", family.name()))
            .collect();
        let _ = writeln!(out, "detected: {}", addresses.join(", "));
    }
    write_history(&mut out, last, now);
    write_records(&mut out, last, now);
    for list in &last.waf_lists {
        let _ = writeln!(
            out,
            "WAF list {} (account {}): {} [{}]",
            shown(&list.name),
            shown(&list.account),
            list.state.name(),
            shown(&list.items.join(", "))
        );
        if let Some(error) = &list.error {
            let _ = writeln!(out, "      error: {}", shown(error));
        }
    }
    for problem in &last.problems {
        let _ = writeln!(out, "problem: {}", shown(problem));
    }
    if let Some(error) = &last.last_error {
        let _ = writeln!(out, "last error: {}", shown(error));
    }
    if let Some(at) = last.last_success_at {
        let _ = writeln!(out, "last success: {}", when(at, now));
    }
    if let Some(at) = last.next_check_at {
        write_next_check(&mut out, at, now);
    }
    out
}

/// Outside text on one line, control characters escaped.
fn shown(text: &str) -> String {
    crate::logging::one_line(text)
}

/// A unix time as UTC and how long ago, or the number itself when it is no time flaredns
/// writes.
fn when(unix: u64, now: SystemTime) -> String {
    let Some(text) = utc(unix) else {
        return format!("{unix} (not a time flaredns writes)");
    };
    let ago = UNIX_EPOCH
        .checked_add(Duration::from_secs(unix))
        .and_then(|at| now.duration_since(at).ok())
        .map(|elapsed| {
            format!(
                " ({} ago)",
                humantime::format_duration(Duration::from_secs(elapsed.as_secs()))
            )
        })
        .unwrap_or_default();
    format!("{text}{ago}")
}

/// The last few address changes, newest first.
fn write_history(out: &mut String, last: &LastCycle, now: SystemTime) {
    if last.history.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "address changes (the last {} of {}, newest first):",
        last.history.len().min(HISTORY_SHOWN),
        last.history.len()
    );
    for change in last.history.iter().rev().take(HISTORY_SHOWN) {
        let _ = writeln!(
            out,
            "  {:<4} {} → {} at {}",
            change.family.name(),
            shown(&change.old),
            shown(&change.new),
            when(change.at, now)
        );
    }
}

/// One line per record (name, type, state, address, zone), then its last change and error.
fn write_records(out: &mut String, last: &LastCycle, now: SystemTime) {
    let _ = writeln!(out, "records:");
    for record in &last.records {
        let name = match &record.unicode {
            Some(unicode) => format!("{} ({})", record.name, unicode),
            None => record.name.clone(),
        };
        let _ = write!(
            out,
            "  {:<32} {:<4} {:<8}",
            shown(&name),
            record.family.record_type(),
            record.state.name()
        );
        if let Some(address) = &record.address {
            let _ = write!(out, " {}", shown(address));
        }
        if let Some(zone) = &record.zone {
            let _ = write!(out, " (zone {})", shown(zone));
        }
        out.push('\n');
        if let Some(change) = last.last_changes.get(&crate::publish::status::RecordKey {
            name: record.name.clone(),
            family: record.family,
        }) {
            let old = if change.old.is_empty() {
                "(none)"
            } else {
                &change.old
            };
            let _ = writeln!(
                out,
                "      last change: {} → {} at {}",
                shown(old),
                shown(&change.new),
                when(change.at, now)
            );
        }
        if let Some(error) = &record.error {
            let _ = writeln!(out, "      error: {}", shown(error));
        }
    }
}

/// The daemon's next check, or that it is overdue. The daemon rewrites an unchanged status
/// once a minute (flash storage), so the time written may lag by that much; well past it,
/// the daemon is not running.
fn write_next_check(out: &mut String, at: u64, now: SystemTime) {
    let overdue = UNIX_EPOCH
        .checked_add(Duration::from_secs(at).saturating_add(OVERDUE_GRACE))
        .is_some_and(|due| due < now);
    if overdue {
        let _ = writeln!(
            out,
            "next check: was due {}: is the daemon running?",
            when(at, now)
        );
    } else {
        let _ = writeln!(out, "next check: {} (daemon)", when(at, now));
    }
}

/// A unix time as "2026-11-25 22:05:00 UTC", or nothing for a time past the year 9999 (a
/// hand-edited or hostile file must not crash `status`).
pub(crate) fn utc(unix: u64) -> Option<String> {
    const YEAR_9999_END: u64 = 253_402_300_799;
    if unix > YEAR_9999_END {
        return None;
    }
    let at = UNIX_EPOCH.checked_add(Duration::from_secs(unix))?;
    let text = humantime::format_rfc3339_seconds(at).to_string();
    Some(text.replace('T', " ").replace('Z', " UTC"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_status_says_why() {
        assert_eq!(read(None).map(|_| ()), Err(StatusError::NoStateDir));
        let empty = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            read(Some(empty.path())).map(|_| ()),
            Err(StatusError::NothingRemembered {
                dir: empty.path().to_path_buf()
            })
        );
        assert_eq!(
            StatusError::NothingRemembered {
                dir: PathBuf::from("/var/lib/flaredns")
            }
            .to_string(),
            "no cycle is remembered in /var/lib/flaredns yet (run `flaredns --once`, or start the daemon)"
        );
    }

    #[test]
    fn absurd_times_are_shown_not_panicked_on() {
        let last = LastCycle {
            finished_at: u64::MAX,
            last_success_at: Some(253_402_300_800),
            next_check_at: Some(u64::MAX),
            ..LastCycle::default()
        };
        let text = render(&last, SystemTime::now());
        assert!(text.contains("not a time"), "{text}");
    }

    #[test]
    fn the_last_five_address_changes_are_listed_newest_first() {
        let history = (0..7u64)
            .map(|step| status::AddressChange {
                family: crate::model::Family::V4,
                old: format!("81.23.45.{step}"),
                new: format!("81.23.45.{}", step + 1),
                at: 1_700_000_000 + step,
            })
            .collect();
        let last = LastCycle {
            history,
            ..LastCycle::default()
        };
        let text = render(&last, SystemTime::now());
        assert!(text.contains("the last 5 of 7"), "{text}");
        assert!(text.contains("81.23.45.6 → 81.23.45.7"), "{text}");
        assert!(!text.contains("81.23.45.1 → 81.23.45.2"), "{text}");
        let newest = text.find("→ 81.23.45.7").expect("newest");
        let older = text.find("→ 81.23.45.6").expect("older");
        assert!(newest < older, "{text}");
    }

    // See: issue 21, point 13.
    #[test]
    fn a_tampered_file_cannot_put_control_characters_on_the_terminal() {
        let last = LastCycle {
            last_error: Some("\u{1b}[2J\rforged\nline".to_string()),
            next_check_at: Some(1),
            ..LastCycle::default()
        };
        let text = render(&last, SystemTime::now());
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert_eq!(
            text.lines().filter(|line| line.contains("forged")).count(),
            1
        );
        assert!(text.contains("was due"), "{text}");
    }
}
