//! The daemon's short windows, apart from the loop that keeps them: how long a burst of
//! watched changes settles, how long a tentative address is waited for, and how far apart
//! watch- and signal-started cycles are. Pure arithmetic on instants, tested by table.

use std::time::Duration;

use tokio::time::Instant;

use crate::detect::watch::Change;

/// The daemon's short windows: how long a burst of watched changes settles, how long a
/// tentative address is waited for, and how far apart watch- and signal-started cycles are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Windows {
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
    pub(super) const SPEC: Windows = Windows {
        settle: Duration::from_millis(300),
        dad_wait: Duration::from_secs(3),
        watch_spacing: Duration::from_secs(1),
        signal_spacing: Duration::from_secs(1),
    };

    /// The SPEC's windows; in a debug build divided by `FLAREDNS_TEST_WINDOW_DIVISOR` when
    /// that is set (and said so once).
    pub(super) fn of_this_build(env: &dyn Fn(&str) -> Option<String>) -> Windows {
        #[cfg(not(debug_assertions))]
        let _ = env;
        #[cfg(debug_assertions)]
        if let Some(divisor) = env(WINDOW_DIVISOR_VARIABLE)
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
    pub(super) fn next_watch_run(
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
    pub(super) fn earliest_signal_run(&self, last_start: Option<Instant>) -> Instant {
        let now = Instant::now();
        last_start
            .and_then(|start| start.checked_add(self.signal_spacing))
            .map_or(now, |earliest| earliest.max(now))
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
