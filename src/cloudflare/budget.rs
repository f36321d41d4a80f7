//! The gate every API request passes: a per-cycle cap, a rolling per-hour cap, exponential
//! backoff with full jitter that persists across cycles (so an outage at a 1 s interval still
//! yields only a handful of requests), and the earliest time Cloudflare allows us back after a
//! 429. It is pure policy over an instant the caller passes in: no clock is read here, so the
//! tests drive it through days of virtual time.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

/// Backoff starts here and doubles per consecutive failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Backoff never waits longer than this.
pub const BACKOFF_CAP: Duration = Duration::from_secs(300);
pub use crate::clock::{instant_after, wall_after, MAX_SERVER_WAIT};
const HOUR: Duration = Duration::from_secs(3600);

/// Why requests are held back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitReason {
    /// Cloudflare said so with `Retry-After` on a 429.
    RetryAfter,
    /// Our own backoff after failed requests.
    Backoff,
    /// Cloudflare's `Ratelimit` header said few or no requests remain in its window.
    RatelimitHeader,
}

impl fmt::Display for WaitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WaitReason::RetryAfter => "Cloudflare asked flaredns to wait (Retry-After)",
            WaitReason::Backoff => "flaredns is backing off after failed requests",
            WaitReason::RatelimitHeader => {
                "Cloudflare's Ratelimit header says this token's requests are used up for now"
            }
        })
    }
}

/// Why the gate said no.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The cycle has used its requests.
    CycleSpent { limit: u32 },
    /// The rolling hour has used its requests; free again at `until`.
    HourSpent { limit: u32, until: Instant },
    /// Backoff, Retry-After or the Ratelimit header says not before `until`.
    NotBefore { until: Instant, reason: WaitReason },
}

/// Request accounting and backoff state. One lives as long as the process.
#[derive(Debug)]
pub struct Budget {
    per_cycle: u32,
    per_hour: u32,
    used_this_cycle: u32,
    sent: VecDeque<Instant>,
    consecutive_failures: u32,
    not_before: Option<(Instant, WaitReason)>,
}

impl Budget {
    /// A budget with the configured caps.
    pub fn new(per_cycle: u32, per_hour: u32) -> Budget {
        Budget {
            per_cycle,
            per_hour,
            used_this_cycle: 0,
            sent: VecDeque::new(),
            consecutive_failures: 0,
            not_before: None,
        }
    }

    /// Starts a new cycle's count. Backoff and the hourly window carry over.
    pub fn start_cycle(&mut self) {
        self.used_this_cycle = 0;
    }

    /// The earliest instant a request may go out, and why, if that is in the future.
    pub fn not_before(&self, now: Instant) -> Option<(Instant, WaitReason)> {
        self.not_before.filter(|(until, _)| *until > now)
    }

    /// How many requests the rolling hour still allows.
    pub fn remaining_this_hour(&self, now: Instant) -> u32 {
        let used = self.sent_last_hour(now);
        (self.per_hour as usize).saturating_sub(used) as u32
    }

    /// Takes one request from the budget, or says why not.
    pub fn acquire(&mut self, now: Instant) -> Result<(), Refused> {
        if let Some((until, reason)) = self.not_before(now) {
            return Err(Refused::NotBefore { until, reason });
        }
        // Requests older than the rolling hour are forgotten here, so a daemon that runs for
        // a year keeps at most an hour's worth.
        while self
            .sent
            .front()
            .is_some_and(|sent| now.saturating_duration_since(*sent) >= HOUR)
        {
            self.sent.pop_front();
        }
        if let Some(refused) = self.spent_at(now) {
            return Err(refused);
        }
        self.used_this_cycle += 1;
        self.sent.push_back(now);
        Ok(())
    }

    /// Whether a request taken at `at` would find this cycle's or the rolling hour's
    /// requests used up. Both only fill up until then (the hour is judged at `at`), so a
    /// caller about to wait until `at` can know now that the request will be refused.
    pub fn spent_at(&self, at: Instant) -> Option<Refused> {
        if self.used_this_cycle >= self.per_cycle {
            return Some(Refused::CycleSpent {
                limit: self.per_cycle,
            });
        }
        let mut in_window = self
            .sent
            .iter()
            .filter(|sent| at.saturating_duration_since(**sent) < HOUR);
        let oldest = in_window.next().copied();
        let count = oldest.map_or(0, |_| 1 + in_window.count());
        (count >= self.per_hour as usize).then(|| Refused::HourSpent {
            limit: self.per_hour,
            until: instant_after(oldest.unwrap_or(at), HOUR),
        })
    }

    /// Records a success: backoff resets (a wait already set is kept).
    pub fn succeeded(&mut self) {
        self.consecutive_failures = 0;
    }

    /// Records a failure and returns how long to wait before the next request: the longer of
    /// Cloudflare's `Retry-After` (capped) and full-jitter exponential backoff, so neither a
    /// `Retry-After: 0` nor a past date can turn backoff off. A longer wait already set (a
    /// Ratelimit header's reset) is never shortened.
    pub fn failed(&mut self, now: Instant, retry_after: Option<Duration>) -> Duration {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let ceiling = backoff_ceiling(self.consecutive_failures);
        let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        let jittered = Duration::from_millis(fastrand::u64(0..=ceiling_ms));
        // Full jitter may pick almost zero; keep a floor so a tight loop can never form.
        let backoff = jittered.max(Duration::from_millis(100));
        let (wait, reason) = match retry_after.map(|wait| wait.min(MAX_SERVER_WAIT)) {
            Some(asked) if asked >= backoff => (asked, WaitReason::RetryAfter),
            _ => (backoff, WaitReason::Backoff),
        };
        self.defer(instant_after(now, wait), reason);
        wait
    }

    /// Pushes the earliest next request out to `until` for `reason`; a later wait already set
    /// is kept with its own reason.
    pub fn defer(&mut self, until: Instant, reason: WaitReason) {
        match self.not_before {
            Some((current, _)) if current >= until => {}
            _ => self.not_before = Some((until, reason)),
        }
    }

    /// Slows down before a 429: Cloudflare's `Ratelimit` header says how many requests remain
    /// until the window resets (capped at `MAX_SERVER_WAIT`). With none left, wait for the
    /// reset; with a few left, spread them over the rest of the window.
    pub fn observe_ratelimit(&mut self, now: Instant, remaining: u32, reset: Duration) {
        let reset = reset.min(MAX_SERVER_WAIT);
        if remaining == 0 {
            self.defer(instant_after(now, reset), WaitReason::RatelimitHeader);
        } else if remaining < 10 {
            self.defer(
                instant_after(now, reset / (remaining + 1)),
                WaitReason::RatelimitHeader,
            );
        }
    }

    /// How many requests went out in the last hour.
    pub fn sent_last_hour(&self, now: Instant) -> usize {
        self.sent
            .iter()
            .filter(|sent| now.saturating_duration_since(**sent) < HOUR)
            .count()
    }
}

/// The upper bound of the jittered wait after `failures` consecutive failures.
pub fn backoff_ceiling(failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(20);
    BACKOFF_BASE
        .saturating_mul(1u32 << exponent)
        .min(BACKOFF_CAP)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    #[test]
    fn cycle_cap_resets_each_cycle() {
        let now = Instant::now();
        let mut budget = Budget::new(3, 100);
        for _ in 0..3 {
            assert_eq!(budget.acquire(now), Ok(()));
        }
        assert_eq!(budget.acquire(now), Err(Refused::CycleSpent { limit: 3 }));
        budget.start_cycle();
        assert_eq!(budget.acquire(now), Ok(()));
    }

    #[test]
    fn a_day_of_requests_keeps_only_the_last_hours() {
        let start = Instant::now();
        let mut budget = Budget::new(10, 1200);
        for minute in 0..24 * 60 {
            budget.start_cycle();
            let now = start + Duration::from_secs(60 * minute);
            for _ in 0..3 {
                assert_eq!(budget.acquire(now), Ok(()));
            }
        }
        assert!(budget.sent.len() <= 3 * 60, "{} kept", budget.sent.len());
    }

    #[test]
    fn a_spent_budget_is_known_before_a_wait_ends() {
        let start = Instant::now();
        let mut budget = Budget::new(1, 2);
        assert_eq!(budget.spent_at(start), None);
        assert_eq!(budget.acquire(start), Ok(()));
        let wait = budget.failed(start, None);
        let retry = start + wait;
        assert_eq!(
            budget.spent_at(retry),
            Some(Refused::CycleSpent { limit: 1 })
        );
        assert_eq!(budget.acquire(retry), Err(Refused::CycleSpent { limit: 1 }));
        budget.start_cycle();
        assert_eq!(budget.acquire(start + HOUR / 2), Ok(()));
        let spent = Some(Refused::HourSpent {
            limit: 2,
            until: start + HOUR,
        });
        budget.start_cycle();
        assert_eq!(budget.spent_at(start + HOUR / 2), spent);
        // The first request leaves the rolling hour: one is free again.
        assert_eq!(budget.spent_at(start + HOUR), None);
    }

    #[test]
    fn hourly_cap_rolls() {
        let start = Instant::now();
        let mut budget = Budget::new(1000, 5);
        for second in 0..5 {
            assert_eq!(budget.acquire(start + Duration::from_secs(second)), Ok(()));
        }
        let later = start + Duration::from_secs(60);
        assert_eq!(
            budget.acquire(later),
            Err(Refused::HourSpent {
                limit: 5,
                until: start + HOUR
            })
        );
        assert_eq!(budget.acquire(start + HOUR), Ok(()));
    }

    #[test]
    fn backoff_grows_to_the_cap_and_resets_on_success() {
        assert_eq!(backoff_ceiling(1), Duration::from_secs(1));
        assert_eq!(backoff_ceiling(4), Duration::from_secs(8));
        assert_eq!(backoff_ceiling(40), BACKOFF_CAP);
        let now = Instant::now();
        let mut budget = Budget::new(100, 100);
        let wait = budget.failed(now, None);
        assert!(wait <= Duration::from_secs(1));
        assert!(matches!(
            budget.acquire(now),
            Err(Refused::NotBefore { .. })
        ));
        assert_eq!(budget.acquire(now + wait), Ok(()));
        budget.succeeded();
        assert_eq!(budget.consecutive_failures, 0);
    }

    #[test]
    fn ratelimit_header_slows_down_before_a_429() {
        let now = Instant::now();
        let mut budget = Budget::new(100, 100);
        budget.observe_ratelimit(now, 500, Duration::from_secs(300));
        assert_eq!(budget.not_before(now), None);
        budget.observe_ratelimit(now, 4, Duration::from_secs(50));
        assert_eq!(
            budget.not_before(now),
            Some((now + Duration::from_secs(10), WaitReason::RatelimitHeader))
        );
        budget.observe_ratelimit(now, 0, Duration::from_secs(120));
        assert_eq!(
            budget.not_before(now),
            Some((now + Duration::from_secs(120), WaitReason::RatelimitHeader))
        );
    }

    #[test]
    fn retry_after_is_honoured_exactly() {
        let now = Instant::now();
        let mut budget = Budget::new(100, 100);
        assert_eq!(
            budget.failed(now, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            budget.not_before(now),
            Some((now + Duration::from_secs(2), WaitReason::RetryAfter))
        );
    }

    #[test]
    fn a_failure_never_shortens_a_longer_wait() {
        let now = Instant::now();
        let mut budget = Budget::new(100, 100);
        budget.observe_ratelimit(now, 0, Duration::from_secs(200));
        budget.failed(now, None);
        assert_eq!(
            budget.not_before(now),
            Some((now + Duration::from_secs(200), WaitReason::RatelimitHeader))
        );
    }

    #[test]
    fn retry_after_zero_keeps_backoff() {
        let now = Instant::now();
        let mut budget = Budget::new(100, 100);
        for _ in 0..6 {
            budget.failed(now, Some(Duration::ZERO));
        }
        let (until, reason) = budget.not_before(now).expect("a wait");
        assert_eq!(reason, WaitReason::Backoff);
        assert!(until > now);
    }

    #[test]
    fn huge_server_waits_are_capped() {
        let now = Instant::now();
        let mut budget = Budget::new(100, 100);
        budget.observe_ratelimit(now, 0, Duration::from_secs(u64::MAX));
        budget.failed(now, Some(Duration::from_secs(u64::MAX)));
        let (until, _) = budget.not_before(now).expect("a wait");
        assert_eq!(until, now + MAX_SERVER_WAIT);
        assert_eq!(
            wall_after(SystemTime::UNIX_EPOCH, Duration::MAX),
            SystemTime::UNIX_EPOCH + MAX_SERVER_WAIT
        );
    }

    #[test]
    fn twenty_seconds_of_429_with_retry_after_zero_cost_few_requests() {
        fastrand::seed(11);
        let start = Instant::now();
        let mut now = start;
        let mut budget = Budget::new(250, 1200);
        let mut requests = 0;
        while now < start + Duration::from_secs(20) {
            if budget.acquire(now).is_ok() {
                requests += 1;
                budget.failed(now, Some(Duration::ZERO));
            }
            now = match budget.not_before(now) {
                Some((until, _)) => until,
                None => now + Duration::from_millis(1),
            };
        }
        // Before the fix, Retry-After: 0 meant no wait at all: hundreds of requests.
        assert!(requests <= 12, "{requests} requests");
    }
}
