//! The firewall host: a daemon with a one-hour interval follows an address change on a
//! watched interface within a second or two, ignores a lifetime refresh, picks up an
//! interface created after it started, and coalesces a burst into one or two cycles.
//! Everything runs in a network namespace this test makes (a dummy interface, or a veth pair
//! where the kernel has no dummy module); the interface holds only private addresses, so each
//! cycle ends at detection ("refused: private") without an API request, and nothing leaves
//! the namespace. The daemon's windows are ten times shorter (`netns::WINDOW_DIVISOR`), and
//! every "no more cycles" is a barrier in the kernel's order, not a quiet window. A change
//! during a cycle is tested in-process on paused time, the test's thread in the namespace.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::netns::{finished_since, told_since, Log, Namespace};

#[test]
fn a_watched_interface_starts_a_cycle_within_a_second_or_two() {
    let Some(namespace) = Namespace::new("watch") else {
        return;
    };
    assert!(
        namespace.add_interface("fl0"),
        "an interface in the namespace"
    );
    assert!(namespace.ip(&["addr", "add", "10.9.8.7/24", "dev", "fl0"]));
    let dir = tempfile::tempdir().expect("dir");
    let config = crate::netns::watch_config(dir.path(), &["fl0", "fl2"]);
    let started = Instant::now();
    let mut daemon = namespace.spawn_flaredns(&config);
    let (log, reader) = crate::netns::follow_stderr(&mut daemon);
    assert!(log.wait_for_cycle(started).is_some(), "no first cycle");

    // A new address on the watched interface: a cycle within two seconds.
    let changed = Instant::now();
    assert!(namespace.ip(&["addr", "add", "10.9.8.8/24", "dev", "fl0"]));
    let latency = log
        .wait_for_cycle(changed)
        .expect("a cycle after the address change");
    eprintln!(
        "detection latency after an address change (windows divided by {}): {} ms",
        crate::netns::WINDOW_DIVISOR,
        latency.as_millis()
    );
    assert!(latency < Duration::from_secs(2), "{latency:?}");

    // See: issue 21, point 10. A notification that only refreshes lifetimes (every router
    // advertisement sends one) starts no cycle. The barrier is the first address of fl2, an
    // interface that did not exist at start: watched all the same, within two seconds.
    let refreshed = Instant::now();
    assert!(namespace.ip(&[
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
    let created = Instant::now();
    let told = log.told_before(refreshed, || {
        assert!(namespace.add_interface("fl2"));
        assert!(namespace.ip(&["addr", "add", "10.9.9.9/24", "dev", "fl2"]));
    });
    assert!(
        told.len() == 1 && told[0].ends_with("an address changed on fl2: checking now"),
        "a lifetime refresh counted, or fl2 did not: {told:#?}"
    );
    let cycles = log.cycles_since(refreshed);
    assert_eq!(cycles.len(), 1, "only fl2's cycle may run:\n{}", log.text());
    let latency = cycles[0].duration_since(created);
    assert!(latency < Duration::from_secs(2), "{latency:?}");

    // A burst of ten changes in about 20 ms (inside the 30 ms settle window, as the SPEC's
    // 300 ms holds a PPPoE flap): one cycle, two at most, where a daemon that did not
    // coalesce would run about one per change. Counted once every notification has been
    // read and acted on.
    let burst = Instant::now();
    let adds: Vec<String> = (0..10)
        .map(|index| format!("addr add 10.9.8.{}/24 dev fl0", 60 + index))
        .collect();
    ip_batch(&namespace, &adds, Duration::from_millis(2));
    assert!(
        log.wait_for_cycle(burst).is_some(),
        "no cycle after a burst"
    );
    let cycles = cycles_once_quiet(&namespace, &log, burst);
    assert!(
        (2..=3).contains(&cycles),
        "{cycles} cycles for a burst and the barrier after it:\n{}",
        log.text()
    );

    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let status = daemon.wait().expect("daemon exits");
    let _ = reader.join();
    assert_eq!(status.code(), Some(0));
    assert!(
        log.text().contains("fl2 does not exist yet"),
        "{}",
        log.text()
    );
}

/// `ip -n NAME -batch -` with `commands`, `apart` from each other: one process runs each
/// the moment its line arrives, without the start-up of a process per change.
fn ip_batch(namespace: &Namespace, commands: &[String], apart: Duration) {
    let mut child = Command::new("ip")
        .args(["-n", &namespace.0, "-batch", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("ip -batch");
    let mut stdin = child.stdin.take().expect("stdin");
    for (index, command) in commands.iter().enumerate() {
        if index > 0 {
            std::thread::sleep(apart);
        }
        stdin
            .write_all(format!("{command}\n").as_bytes())
            .expect("the batch");
        stdin.flush().expect("the batch");
    }
    drop(stdin);
    assert!(child.wait().expect("ip -batch").success(), "{commands:?}");
}

/// How many cycles finished since `since`, counted once the daemon has read every
/// notification queued so far and run the cycle they asked for, the barrier's own included.
/// The barrier is a new address on fl2, which the daemon tells only when it reads it while
/// no cycle runs or is due from the watch; notifications are read in the kernel's order, so
/// by then every earlier one was read, and whatever it asked for is done by the end of the
/// next cycle (a pending run, and the barrier's, are one cycle). When a cycle ends first, the
/// daemon was still busy and its line may never come: another address is tried.
fn cycles_once_quiet(namespace: &Namespace, log: &Log, since: Instant) -> usize {
    for attempt in 0..20 {
        let tried = Instant::now();
        let address = format!("10.9.9.{}/24", 100 + attempt);
        assert!(namespace.ip(&["addr", "add", &address, "dev", "fl2"]));
        let mut told = None;
        let mut ended = false;
        assert!(log.wait_until(|lines| {
            told = told_since(lines, tried)
                .into_iter()
                .find(|(_, line)| line.contains("on fl2:"))
                .map(|(at, _)| at);
            ended = !finished_since(lines, tried).is_empty();
            told.is_some() || ended
        }));
        let Some(told) = told else {
            continue;
        };
        let mut after = None;
        assert!(log.wait_until(|lines| {
            after = finished_since(lines, told).first().copied();
            after.is_some()
        }));
        return log
            .cycles_since(since)
            .iter()
            .filter(|at| Some(**at) <= after)
            .count();
    }
    panic!("the daemon never read a change while idle:\n{}", log.text());
}

// Review of issue 22: dropping a change that arrives while a cycle runs broke no test. The
// daemon runs in-process on paused time, in a namespace this test's thread enters (stand-in
// on its loopback, the watch on its interfaces); the first cycle hangs on the record list
// until its deadline, and the change comes meanwhile.
#[tokio::test(start_paused = true)]
async fn a_watched_change_during_a_cycle_runs_another_once_it_is_over() {
    let Some(namespace) = Namespace::new("during") else {
        return;
    };
    assert!(namespace.ip(&["link", "set", "lo", "up"]));
    assert!(namespace.add_interface("fl0"), "an interface");
    namespace.enter_this_thread();
    let here = crate::paused::Here::new().await;
    let standin = here.standin();
    here.hang_the_first_listing();
    let config = here.world.config(&format!(
        "[daemon]\ninterval = \"1h\"\ncycle_timeout = \"5s\"\n\n{}",
        crate::harness::record("home.example.com")
    ));
    let config = config.replace("[detect]\n", "[detect]\nwatch = [\"fl0\"]\n");
    let log = || here.log();
    let (code, ()) = here
        .daemon(&config, |_| async {
            // The first cycle is under way: the stand-in logged the listing it hangs on.
            assert!(
                here.listing_asked().await,
                "the first cycle reached the record list: {}",
                log()
            );
            assert!(namespace.ip(&["addr", "add", "10.9.8.7/24", "dev", "fl0"]));
            // The hang ends at the cycle's deadline; the change asked for one more cycle,
            // which finds the record out of sync and writes it.
            assert!(
                crate::paused::eventually(10, || standin
                    .records_at("example.com", "home.example.com")[0]
                    .content
                    == crate::harness::PUBLIC_IPV4)
                .await,
                "no cycle after the one the change came during: {}",
                log()
            );
        })
        .await;
    assert_eq!(code, 0);
    let log = here.log();
    assert!(
        log.contains("an address changed during the cycle; checking again once it is over"),
        "{log}"
    );
}
