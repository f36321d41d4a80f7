//! The daemon: real processes, real signals, a real sd_notify socket; and what it does over
//! time, in-process on paused time (`paused`).

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::harness::{eventually, record, Record, World, OLD_IPV4, PUBLIC_IPV4};
use crate::paused::{self, Here};

const NEW_IPV4: &str = "81.23.45.200";

fn daemon_config(world: &World, interval: &str, records: &str) -> String {
    world.config(&format!("[daemon]\ninterval = \"{interval}\"\n\n{records}"))
}

/// A world whose home.example.com is in sync, and a daemon managing it, past its first cycle.
fn in_sync_daemon(interval: &str) -> (World, crate::harness::Daemon) {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", PUBLIC_IPV4),
    );
    let daemon = world.spawn_ready(
        &daemon_config(&world, interval, &record("home.example.com")),
        &[],
    );
    (world, daemon)
}

fn content(world: &World, name: &str) -> String {
    world
        .standin
        .records_at("example.com", name)
        .first()
        .map(|r| r.content.clone())
        .unwrap_or_default()
}

#[tokio::test(start_paused = true)]
async fn follows_an_address_change_within_one_interval() {
    let here = Here::new().await;
    let standin = here.standin();
    standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let config = daemon_config(&here.world, "1s", &record("home.example.com"));
    let (code, ()) = here
        .daemon(&config, |_| async {
            assert!(
                paused::eventually(5, || content(&here.world, "home.example.com")
                    == PUBLIC_IPV4)
                .await,
                "first cycle"
            );
            standin.set_public_ipv4(NEW_IPV4);
            let changed = tokio::time::Instant::now();
            assert!(
                paused::eventually(5, || content(&here.world, "home.example.com") == NEW_IPV4)
                    .await,
                "followed the change"
            );
            // Within one interval, not bunched: at most a second (and its jitter-free tick).
            assert!(
                changed.elapsed() <= Duration::from_millis(1100),
                "took {:?}",
                changed.elapsed()
            );
        })
        .await;
    assert_eq!(code, 0);
}

#[test]
fn sends_no_api_request_while_idle_for_several_intervals() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", PUBLIC_IPV4),
    );
    let queries_before = world.standin.dns_queries();
    let mut daemon = world.spawn_ready(
        &daemon_config(&world, "1s", &record("home.example.com")),
        &[],
    );
    // Four whole cycles, three intervals apart, each told to systemd as it ends.
    assert!(daemon.wait_for_cycles(4, 20.0), "four cycles ran");
    let (code, stderr) = daemon.terminate_with_stderr();
    assert_eq!(code, 0);
    assert!(
        world.standin.api_requests().is_empty(),
        "{:?}",
        world.standin.api_requests()
    );
    assert!(
        world.standin.dns_queries() - queries_before >= 4,
        "a DNS check per interval"
    );
    assert_eq!(
        stderr.lines().count(),
        2,
        "start and stop lines only: {stderr}"
    );
}

#[test]
fn sigterm_exits_0_promptly() {
    let (_world, mut daemon) = in_sync_daemon("5m");
    let started = Instant::now();
    assert_eq!(daemon.terminate(), 0);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn sighup_reloads_the_config_and_adds_a_record() {
    let (world, mut daemon) = in_sync_daemon("1h");
    world.write_config(&daemon_config(
        &world,
        "1h",
        &format!(
            "{}{}",
            record("home.example.com"),
            record("added.example.com")
        ),
    ));
    daemon.signal("HUP");
    assert!(
        eventually(5.0, || content(&world, "added.example.com") == PUBLIC_IPV4),
        "the added record was created"
    );
    assert_eq!(daemon.terminate(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_broken_config_on_sighup_keeps_the_old_one_and_the_daemon_alive() {
    let here = Here::new().await;
    let standin = here.standin();
    standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", PUBLIC_IPV4),
    );
    let config = daemon_config(&here.world, "1h", &record("home.example.com"));
    let world = &here.world;
    let log = || here.log();
    let (code, ()) = here
        .daemon(&config, |control| async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            world.write_config("[daemon]\nintervall = \"1s\"\n");
            control.reload();
            assert!(
                paused::eventually(5, || log().contains("old one stays in force")).await,
                "the broken config was not reported: {}",
                log()
            );
            // The old config is still in force: SIGUSR1 runs a cycle with it.
            standin.set_public_ipv4(NEW_IPV4);
            control.run_now();
            assert!(
                paused::eventually(5, || content(world, "home.example.com") == NEW_IPV4).await,
                "a cycle ran with the old config"
            );
        })
        .await;
    assert_eq!(code, 0);
    assert!(here.log().contains("intervall"), "{}", here.log());
}

#[tokio::test(start_paused = true)]
async fn sigusr1_runs_a_cycle_now() {
    let here = Here::new().await;
    let standin = here.standin();
    standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", PUBLIC_IPV4),
    );
    let config = daemon_config(&here.world, "1h", &record("home.example.com"));
    let world = &here.world;
    let log = || here.log();
    let (code, ()) = here
        .daemon(&config, |control| async move {
            // Past the first cycle (and the signal spacing), then a change only SIGUSR1 sees.
            tokio::time::sleep(Duration::from_secs(2)).await;
            standin.set_public_ipv4(NEW_IPV4);
            control.run_now();
            assert!(
                paused::eventually(2, || content(world, "home.example.com") == NEW_IPV4).await,
                "SIGUSR1 ran a cycle: {}",
                log()
            );
        })
        .await;
    assert_eq!(code, 0);
    assert!(here.log().contains("received SIGUSR1: checking now"));
}

#[test]
fn tells_systemd_it_is_ready_and_pings_the_watchdog_at_half_the_timeout() {
    let mut world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", PUBLIC_IPV4),
    );
    let socket_path = world.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind notify socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    world
        .env
        .push(("NOTIFY_SOCKET".into(), socket_path.display().to_string()));
    world.env.push(("WATCHDOG_USEC".into(), "1000000".into()));
    let mut daemon = world.spawn(
        &daemon_config(&world, "1h", &record("home.example.com")),
        &[],
    );
    let started = Instant::now();
    let mut messages: Vec<(f64, String)> = Vec::new();
    let mut buffer = [0u8; 4096];
    let pings = |messages: &[(f64, String)]| {
        messages
            .iter()
            .filter(|(_, m)| m.contains("WATCHDOG=1"))
            .count()
    };
    // Until READY=1 and five pings (about 2.5 s), or 10 s.
    while (pings(&messages) < 5 || !messages.iter().any(|(_, m)| m.contains("READY=1")))
        && started.elapsed() < Duration::from_secs(10)
    {
        if let Ok(length) = socket.recv(&mut buffer) {
            messages.push((
                started.elapsed().as_secs_f64(),
                String::from_utf8_lossy(&buffer[..length]).to_string(),
            ));
        }
    }
    assert_eq!(daemon.terminate(), 0);
    let ready = messages
        .iter()
        .find(|(_, m)| m.contains("READY=1"))
        .expect("READY=1 arrived");
    assert!(ready.1.contains("STATUS=1 in sync"), "{ready:?}");
    let pings: Vec<f64> = messages
        .iter()
        .filter(|(_, m)| m.contains("WATCHDOG=1"))
        .map(|(t, _)| *t)
        .collect();
    assert!(pings.len() >= 5, "every 0.5 s for 3 s: {pings:?}");
    for pair in pings.windows(2) {
        let gap = pair[1] - pair[0];
        assert!((0.25..1.0).contains(&gap), "watchdog gap {gap}: {pings:?}");
    }
}

#[test]
fn a_sighup_during_a_cycle_is_acted_on_once_the_cycle_is_over() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    // The first cycle hangs on the record list until its 2-second deadline.
    world
        .standin
        .inject(crate::harness::Fault::hang().path("/dns_records").times(1));
    let config = |records: &str| {
        world.config(&format!(
            "[daemon]\ninterval = \"1h\"\ncycle_timeout = \"2s\"\n\n{records}"
        ))
    };
    let mut daemon = world.spawn(&config(&record("home.example.com")), &[]);
    // The stand-in logs the listing before it hangs: the cycle is under way.
    assert!(
        eventually(10.0, || world
            .standin
            .api_requests()
            .iter()
            .any(|request| request.path.contains("/dns_records"))),
        "the first cycle reached the record list"
    );
    world.write_config(&config(&format!(
        "{}{}",
        record("home.example.com"),
        record("added.example.com")
    )));
    daemon.signal("HUP");
    assert!(
        eventually(10.0, || content(&world, "added.example.com") == PUBLIC_IPV4),
        "the reload waited for the cycle, then took effect"
    );
    assert_eq!(content(&world, "home.example.com"), PUBLIC_IPV4);
    let (code, stderr) = daemon.terminate_with_stderr();
    assert_eq!(code, 0);
    assert!(stderr.contains("reloading once it is over"), "{stderr}");
}

// See: issue 21, point 8. READY=1 waited for notifications, so a dead receiver with a long
// [notify].timeout pushed start-up past TimeoutStartSec= and systemd killed the service.
#[test]
fn ready_is_sent_before_deliveries_end() {
    let mut world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    world
        .standin
        .inject(crate::harness::Fault::hang().path("/hook/"));
    let socket_path = world.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind notify socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    world
        .env
        .push(("NOTIFY_SOCKET".into(), socket_path.display().to_string()));
    let config = format!(
        "{}\n[notify]\nwebhooks = [\"{}\"]\ntimeout = \"120s\"\n",
        daemon_config(&world, "1h", &record("home.example.com")),
        world.standin.url("/hook/dead")
    );
    let mut daemon = world.spawn(&config, &[]);
    let started = Instant::now();
    let mut buffer = [0u8; 4096];
    let mut ready = false;
    // Far less than the delivery's 120 s: READY must not wait for it.
    while !ready && started.elapsed() < Duration::from_secs(60) {
        if let Ok(length) = socket.recv(&mut buffer) {
            ready = String::from_utf8_lossy(&buffer[..length]).contains("READY=1");
        }
    }
    assert_eq!(daemon.terminate(), 0);
    assert!(ready, "READY=1 did not arrive while the webhook hung");
    assert_eq!(
        content(&world, "home.example.com"),
        PUBLIC_IPV4,
        "the first cycle's DNS work was done"
    );
}
