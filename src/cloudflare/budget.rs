//! The gate every API request passes: a per-cycle cap, a rolling per-hour cap, exponential
//! backoff with full jitter that persists across cycles (so an outage at a 1 s interval still
//! yields only a handful of requests), and the earliest time Cloudflare allows us back after a
//! 429. It is pure policy over an instant the caller passes in: no clock is read here, so the
//! tests drive it through days of virtual time.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Backoff starts here and doubles per consecutive failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Backoff never waits longer than this.
pub const BACKOFF_CAP: Duration = Duration::from_secs(300);
const HOUR: Duration = Duration::from_secs(3600);

/// Why the gate said no.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The cycle has used its requests.
    CycleSpent { limit: u32 },
    /// The rolling hour has used its requests; free again at `until`.
    HourSpent { limit: u32, until: Instant },
    /// Backoff or Retry-After says not before `until`.
    NotBefore { until: Instant },
}

/// Request accounting and backoff state. One lives as long as the process.
#[derive(Debug)]
pub struct Budget {
    per_cycle: u32,
    per_hour: u32,
    used_this_cycle: u32,
    sent: VecDeque<Instant>,
    consecutive_failures: u32,
    not_before: Option<Instant>,
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

    /// The earliest instant a request may go out, if that is in the future.
    pub fn not_before(&self, now: Instant) -> Option<Instant> {
        self.not_before.filter(|until| *until > now)
    }

    /// Takes one request from the budget, or says why not.
    pub fn acquire(&mut self, now: Instant) -> Result<(), Refused> {
        if let Some(until) = self.not_before(now) {
            return Err(Refused::NotBefore { until });
        }
        if self.used_this_cycle >= self.per_cycle {
            return Err(Refused::CycleSpent {
                limit: self.per_cycle,
            });
        }
        while self
            .sent
            .front()
            .is_some_and(|sent| now.duration_since(*sent) >= HOUR)
        {
            self.sent.pop_front();
        }
        if self.sent.len() >= self.per_hour as usize {
            let oldest = self.sent.front().copied().unwrap_or(now);
            return Err(Refused::HourSpent {
                limit: self.per_hour,
                until: oldest + HOUR,
            });
        }
        self.used_this_cycle += 1;
        self.sent.push_back(now);
        Ok(())
    }

    /// Records a success: backoff resets.
    pub fn succeeded(&mut self) {
        self.consecutive_failures = 0;
    }

    /// Records a failure and returns how long to wait before the next request: Cloudflare's
    /// `Retry-After` when it gave one (never less), else full-jitter exponential backoff.
    pub fn failed(&mut self, now: Instant, retry_after: Option<Duration>) -> Duration {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let ceiling = backoff_ceiling(self.consecutive_failures);
        let jittered = Duration::from_millis(fastrand::u64(0..=ceiling.as_millis() as u64));
        // Full jitter may pick almost zero; keep a floor so a tight loop can never form.
        let wait = retry_after.unwrap_or(jittered.max(Duration::from_millis(100)));
        self.not_before = Some(now + wait);
        wait
    }

    /// Pushes the earliest next request out to `until` (never earlier than already set).
    pub fn defer(&mut self, until: Instant) {
        self.not_before = Some(self.not_before.map_or(until, |current| current.max(until)));
    }

    /// Slows down before a 429: Cloudflare's `Ratelimit` header says how many requests remain
    /// until the window resets. With none left, wait for the reset; with a few left, spread
    /// them over the rest of the window.
    pub fn observe_ratelimit(&mut self, now: Instant, remaining: u32, reset: Duration) {
        if remaining == 0 {
            self.defer(now + reset);
        } else if remaining < 10 {
            self.defer(now + reset / (remaining + 1));
        }
    }

    /// How many requests went out in the last hour.
    pub fn sent_last_hour(&self, now: Instant) -> usize {
        self.sent
            .iter()
            .filter(|sent| now.duration_since(**sent) < HOUR)
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
        assert_eq!(budget.not_before(now), Some(now + Duration::from_secs(10)));
        budget.observe_ratelimit(now, 0, Duration::from_secs(120));
        assert_eq!(budget.not_before(now), Some(now + Duration::from_secs(120)));
    }

    #[test]
    fn retry_after_is_honoured_exactly() {
        let now = Instant::now();
        let mut budget = Budget::new(100, 100);
        assert_eq!(
            budget.failed(now, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(budget.not_before(now), Some(now + Duration::from_secs(2)));
    }
}
