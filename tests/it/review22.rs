//! Review of issue 22's session (paused time, signals installed before the run lock). The
//! first test is a bug an unlucky admin would have hit (it failed before the fix); the others
//! pin behaviour that a mutation of the production code broke without any test failing.

use std::time::{Duration, Instant};

use crate::harness::{record, Record, World, PUBLIC_IPV4};

// A daemon that waits for the state directory's lock (a `--once` from the timer, or a
// second daemon, holds it) used to die at once on SIGTERM or Ctrl-C: no handler was installed
// yet. Since run_daemon's signals are installed before the lock, the signal is caught and
// nobody looks at it until the lock wait (30 s) is over: `systemctl stop` or Ctrl-C hang
// for half a minute, then the run ends with the lock's error (exit 1), or, had it got the
// lock, as a daemon whose first select may start a cycle before it sees the stop.
#[test]
fn a_daemon_waiting_for_the_run_lock_stops_promptly_on_sigterm() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", PUBLIC_IPV4),
    );
    let config = world.config(&format!(
        "[daemon]\ninterval = \"1h\"\n\n{}",
        record("home.example.com")
    ));
    let mut holder = world.spawn_ready(&config, &[]);
    let mut waiting = world.spawn(&config, &[]);
    // Until the second one says it waits for the lock.
    assert!(
        waiting
            .wait_for_line("another flaredns run holds", 10.0)
            .is_some(),
        "the second daemon did not say it waits: {}",
        waiting.stderr_so_far()
    );
    waiting.signal("TERM");
    let stopping = Instant::now();
    let mut exited = None;
    while stopping.elapsed() < Duration::from_secs(3) {
        if let Ok(Some(status)) = waiting.child.try_wait() {
            exited = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let stderr = waiting.stderr_so_far();
    drop(waiting);
    assert_eq!(holder.terminate(), 0);
    assert!(
        exited.is_some(),
        "still running 3 s after SIGTERM while it waited for the run lock: {stderr}"
    );
}

// What follows passed when written: each pins a behaviour that no test caught being broken
// (a mutation of the production code the whole suite let through).

use crate::harness::{Fault, OLD_IPV4};
use crate::paused::Here;

// Mutation: request.rs's wait_for_gate no longer asks `spent_at` before sleeping out a
// backoff (the point of f17d0c9). The outcome is the same refusal, only later, so nothing
// failed; here the spent cycle must end at once instead of after its jittered backoff (at
// least 100 ms).
#[tokio::test(start_paused = true)]
async fn a_spent_cycle_ends_without_sitting_out_its_backoff() {
    let here = Here::new().await;
    let world = &here.world;
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    world.standin.inject(Fault::status(
        503,
        r#"{"success":false,"errors":[{"code":10000,"message":"unavailable"}]}"#,
    ));
    let config = world.config(&format!(
        "[daemon]\nmax_requests_per_cycle = 1\n\n{}",
        record("home.example.com")
    ));
    let started = tokio::time::Instant::now();
    assert_eq!(here.once(&config).await, 1, "{}", here.log());
    let elapsed = started.elapsed();
    let api = world.standin.api_requests();
    assert_eq!(api.len(), 1, "{api:?}");
    assert!(
        here.log().contains("max_requests_per_cycle"),
        "{}",
        here.log()
    );
    assert!(
        elapsed < Duration::from_millis(100),
        "the spent cycle sat out a backoff: {elapsed:?}"
    );
}

// Mutation: the interval's ticker bunches missed ticks (MissedTickBehavior::Burst instead of
// Delay). "Missed ticks are not bunched" (daemon/mod.rs) was proven by nothing: after a cycle
// that outlived four intervals, the next cycles must be an interval apart, not four at once.
#[tokio::test(start_paused = true)]
async fn a_cycle_longer_than_the_interval_is_not_followed_by_a_burst_of_cycles() {
    let here = Here::new().await;
    // The first cycle hangs on the record list until its 5-second deadline.
    here.hang_the_first_listing();
    let config = here.world.config(&format!(
        "[daemon]\ninterval = \"1s\"\ncycle_timeout = \"5s\"\n\n{}",
        record("home.example.com")
    ));
    let (code, ()) = here
        .daemon(&config, |_| async {
            tokio::time::sleep(Duration::from_millis(6500)).await;
        })
        .await;
    assert_eq!(code, 0);
    let starts = here.cycle_starts();
    // At 0 (hung until 5), then 5 and 6: three, where a burst gives seven.
    assert!(
        starts.len() <= 3,
        "{} cycles in 6.5 s at a 1 s interval after a 5 s cycle: {starts:?}\n{}",
        starts.len(),
        here.log()
    );
    for pair in starts.windows(2).skip(1) {
        assert!(pair[1] - pair[0] >= 0.99, "bunched: {starts:?}");
    }
}

// Mutation: a SIGUSR1 that arrives during a cycle is dropped (`pending.run` not set). The
// in-process flood never lands one inside a cycle (a cycle takes no virtual time unless it
// waits), so nothing failed; here the cycle hangs, and the signal must still run one more
// cycle once it is over, long before the hour's tick.
#[tokio::test(start_paused = true)]
async fn a_sigusr1_during_a_cycle_runs_another_once_it_is_over() {
    let here = Here::new().await;
    let standin = here.standin();
    here.hang_the_first_listing();
    let config = here.world.config(&format!(
        "[daemon]\ninterval = \"1h\"\ncycle_timeout = \"2s\"\n\n{}",
        record("home.example.com")
    ));
    let asked = || here.listing_asked();
    let (code, ()) = here
        .daemon(&config, |control| async move {
            // The first cycle is under way (its listing hangs) when the signal comes.
            assert!(asked().await);
            control.run_now();
            tokio::time::sleep(Duration::from_secs(10)).await;
        })
        .await;
    assert_eq!(code, 0);
    let starts = here.cycle_starts();
    assert_eq!(starts.len(), 2, "{starts:?}\n{}", here.log());
    assert!(
        here.log().contains("checking again once it is over"),
        "{}",
        here.log()
    );
    assert_eq!(
        standin.records_at("example.com", "home.example.com")[0].content,
        PUBLIC_IPV4,
        "the second cycle wrote the record"
    );
}
