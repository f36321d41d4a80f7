//! The firewall host: a daemon with a one-hour interval follows an address change on a
//! watched interface within a second or two, coalesces a burst into one or two cycles, and
//! picks up an interface created after it started. Everything runs in a network namespace
//! this test makes (a dummy interface, or a veth pair where the kernel has no dummy module);
//! the interface holds only private addresses, so each cycle ends at detection ("refused:
//! private") without an API request, and nothing leaves the namespace.

use std::process::Command;
use std::time::{Duration, Instant};

fn ip(args: &[&str]) -> bool {
    crate::netns::ip(args)
}

#[test]
fn a_watched_interface_starts_a_cycle_within_a_second_or_two() {
    let Some(namespace) = crate::netns::Namespace::new("watch") else {
        return;
    };
    let n = namespace.0.as_str();
    assert!(
        namespace.add_interface("fl0"),
        "an interface in the namespace"
    );
    assert!(ip(&["-n", n, "addr", "add", "10.9.8.7/24", "dev", "fl0"]));
    let dir = tempfile::tempdir().expect("dir");
    let config = crate::netns::watch_config(dir.path(), &["fl0", "fl2"]);
    let mut daemon = namespace.spawn_flaredns(&config);
    let (lines, reader) = crate::netns::follow_stderr(&mut daemon);
    let cycles_since = |since: Instant| -> Vec<Instant> {
        lines
            .lock()
            .expect("lines")
            .iter()
            .filter(|(at, line)| *at >= since && line.contains("cycle finished"))
            .map(|(at, _)| *at)
            .collect()
    };
    let wait_for_cycle = |since: Instant| -> Option<Duration> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(at) = cycles_since(since).first() {
                return Some(at.duration_since(since));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    };
    let started = Instant::now();
    assert!(wait_for_cycle(started).is_some(), "no first cycle");
    std::thread::sleep(Duration::from_millis(800));

    // A new address on the watched interface: a cycle within two seconds.
    let changed = Instant::now();
    assert!(ip(&["-n", n, "addr", "add", "10.9.8.8/24", "dev", "fl0"]));
    let latency = wait_for_cycle(changed).expect("a cycle after the address change");
    eprintln!(
        "detection latency after an address change: {} ms",
        latency.as_millis()
    );
    assert!(latency < Duration::from_secs(2), "{latency:?}");
    std::thread::sleep(Duration::from_millis(1500));

    // A burst of ten changes in about 100 ms: at most two cycles.
    let burst = Instant::now();
    for index in 0..10 {
        let address = format!("10.9.8.{}/24", 60 + index);
        assert!(ip(&["-n", n, "addr", "add", &address, "dev", "fl0"]));
    }
    std::thread::sleep(Duration::from_millis(2500));
    let after_burst = cycles_since(burst).len();
    assert!(
        (1..=2).contains(&after_burst),
        "{after_burst} cycles after a burst"
    );

    // See: issue 21, point 10. A notification that only refreshes lifetimes (every router
    // advertisement sends one) starts no cycle.
    let refreshed = Instant::now();
    assert!(ip(&[
        "-n",
        n,
        "addr",
        "change",
        "10.9.8.8/24",
        "dev",
        "fl0",
        "valid_lft",
        "3000",
        "preferred_lft",
        "3000"
    ]));
    // A barrier, not a quiet window: the refresh's notification was queued before SIGUSR1.
    crate::netns::usr1_barrier(daemon.id(), &lines);
    assert_eq!(
        (
            cycles_since(refreshed).len(),
            crate::netns::changes_told_since(&lines, refreshed)
        ),
        (1, Vec::new()),
        "a lifetime refresh started a cycle (only SIGUSR1's may run)"
    );

    // An interface that did not exist at start: watched all the same.
    let created = Instant::now();
    assert!(namespace.add_interface("fl2"));
    assert!(ip(&["-n", n, "addr", "add", "10.9.9.9/24", "dev", "fl2"]));
    let latency = wait_for_cycle(created).expect("a cycle after fl2 appeared");
    assert!(latency < Duration::from_secs(2), "{latency:?}");

    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let status = daemon.wait().expect("daemon exits");
    let _ = reader.join();
    assert_eq!(status.code(), Some(0));
    let text: Vec<String> = lines
        .lock()
        .expect("lines")
        .iter()
        .map(|(_, line)| line.clone())
        .collect();
    assert!(
        text.iter()
            .any(|line| line.contains("fl2 does not exist yet")),
        "{}",
        text.join("\n")
    );
}
