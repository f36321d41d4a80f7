//! The daemon: real processes, real signals, a real sd_notify socket; and what it does over
//! time, in-process on paused time (`paused`).

use std::io::Write;
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

#[tokio::test(start_paused = true)]
async fn sends_no_api_request_while_idle_for_several_intervals() {
    let here = Here::in_sync().await;
    let standin = here.standin();
    let queries_before = standin.dns_queries();
    let config = daemon_config(&here.world, "1s", &record("home.example.com"));
    let (code, ()) = here
        .daemon(&config, |_| async {
            // Four whole cycles (at 0, 1, 2 and 3 s), three intervals apart.
            tokio::time::sleep(Duration::from_millis(3500)).await;
        })
        .await;
    assert_eq!(code, 0);
    assert!(
        standin.api_requests().is_empty(),
        "{:?}",
        standin.api_requests()
    );
    assert!(
        standin.dns_queries() - queries_before >= 4,
        "a DNS check per interval"
    );
    assert_eq!(
        here.log().lines().count(),
        2,
        "start and stop lines only: {}",
        here.log()
    );
}

#[test]
fn sigterm_exits_0_promptly() {
    let (_world, mut daemon) = in_sync_daemon("5m");
    let started = Instant::now();
    assert_eq!(daemon.terminate(), 0);
    assert!(started.elapsed() < Duration::from_secs(5));
}

// Ctrl-C in a terminal: the same stop as SIGTERM.
#[test]
fn sigint_exits_0_promptly() {
    let (_world, mut daemon) = in_sync_daemon("5m");
    let started = Instant::now();
    let (code, stderr) = daemon.stop_with_stderr("INT");
    assert_eq!(code, 0);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(stderr.contains("received SIGINT"), "{stderr}");
}

// The real signal reaches the loop as "check now" and runs a cycle, told to systemd as a
// STATUS= alone: READY=1 is sent once, after the first cycle (review: READY=1 after every
// cycle broke no test). How often a check now may run (at most one a second) is proven
// in-process: `sigusr1_runs_a_cycle_now`, `hostile::a_flood_of_sigusr1_runs_at_most_one_cycle_a_second`;
// here the signal spacing is divided (a debug build's `FLAREDNS_TEST_WINDOW_DIVISOR`).
#[test]
fn the_binary_takes_sigusr1_as_check_now() {
    let mut world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", PUBLIC_IPV4),
    );
    world.env.push((
        "FLAREDNS_TEST_WINDOW_DIVISOR".into(),
        crate::netns::WINDOW_DIVISOR.to_string(),
    ));
    let mut daemon = world.spawn_ready(
        &daemon_config(&world, "1h", &record("home.example.com")),
        &[],
    );
    daemon.signal("USR1");
    let line = daemon.wait_for_line("received SIGUSR1: checking now", 5.0);
    let second = daemon.wait_for_cycles(2, 5.0);
    let told = daemon.told_systemd();
    let (code, stderr) = daemon.terminate_with_stderr();
    assert!(line.is_some(), "{stderr}");
    assert!(second, "no cycle after SIGUSR1: {told:?}\n{stderr}");
    let ready = told
        .iter()
        .filter(|message| message.starts_with("READY=1"))
        .count();
    assert_eq!(ready, 1, "{told:?}");
    assert_eq!(code, 0);
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
    let here = Here::in_sync().await;
    let standin = here.standin();
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
    let here = Here::in_sync().await;
    let standin = here.standin();
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
    // WatchdogSec=300ms: a ping every 150 ms, so four take under half a second.
    world.env.push(("WATCHDOG_USEC".into(), "300000".into()));
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
    // Until READY=1 and four pings (about 0.45 s), or 10 s.
    while (pings(&messages) < 4 || !messages.iter().any(|(_, m)| m.contains("READY=1")))
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
    assert!(pings.len() >= 4, "every 0.15 s: {pings:?}");
    // Half the timeout apart: never as late as the timeout itself (systemd's kill), and not
    // bunched either.
    for pair in pings.windows(2) {
        let gap = pair[1] - pair[0];
        assert!((0.075..0.3).contains(&gap), "watchdog gap {gap}: {pings:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_sighup_during_a_cycle_is_acted_on_once_the_cycle_is_over() {
    let here = Here::new().await;
    // The first cycle hangs on the record list until its 2-second deadline.
    here.hang_the_first_listing();
    let world = &here.world;
    let config = |records: &str| {
        world.config(&format!(
            "[daemon]\ninterval = \"1h\"\ncycle_timeout = \"2s\"\n\n{records}"
        ))
    };
    let first = config(&record("home.example.com"));
    let log = || here.log();
    let asked = || here.listing_asked();
    let (code, (reloaded_at, hung_at)) = here
        .daemon(&first, |control| async move {
            // The stand-in logs the listing before it hangs: the cycle is under way.
            assert!(asked().await, "the first cycle reached the record list");
            let hung_at = tokio::time::Instant::now();
            world.write_config(&config(&format!(
                "{}{}",
                record("home.example.com"),
                record("added.example.com")
            )));
            control.reload();
            assert!(
                paused::eventually(10, || content(world, "added.example.com") == PUBLIC_IPV4).await,
                "the reload waited for the cycle, then took effect: {}",
                log()
            );
            (tokio::time::Instant::now(), hung_at)
        })
        .await;
    assert_eq!(code, 0);
    assert_eq!(content(&here.world, "home.example.com"), PUBLIC_IPV4);
    assert!(
        here.log().contains("reloading once it is over"),
        "{}",
        here.log()
    );
    // Not before the hung cycle's deadline.
    assert!(
        reloaded_at - hung_at >= Duration::from_millis(1900),
        "{:?}",
        reloaded_at - hung_at
    );
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
    // A receiver that answers nothing until the test has seen READY=1: the delivery cannot
    // end before it. Answered then, the stop needs no grace for it.
    let receiver = std::net::TcpListener::bind("127.0.0.1:0").expect("bind receiver");
    let hook = format!("http://{}/hook/dead", receiver.local_addr().expect("addr"));
    let (answer, answered) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let Some(stream) = accept_within(&receiver, Duration::from_secs(10)) else {
            return String::new();
        };
        let request = read_request(&stream);
        let _ = answered.recv();
        let mut writer = &stream;
        let _ = writer.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n");
        // Held open until the daemon lets go (its exit at the latest).
        let _ = std::io::Read::read(&mut &stream, &mut [0u8; 1]);
        request
    });
    let socket_path = world.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind notify socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    world
        .env
        .push(("NOTIFY_SOCKET".into(), socket_path.display().to_string()));
    let config = format!(
        "{}\n[notify]\nwebhooks = [\"{hook}\"]\ntimeout = \"120s\"\n",
        daemon_config(&world, "1h", &record("home.example.com")),
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
    let _ = answer.send(());
    let stopping = Instant::now();
    assert_eq!(daemon.terminate(), 0);
    assert!(ready, "READY=1 did not arrive while the webhook hung");
    assert!(
        stopping.elapsed() < Duration::from_secs(4),
        "the answered delivery held the stop: {:?}",
        stopping.elapsed()
    );
    let request = holder.join().expect("receiver");
    assert!(request.contains("POST /hook/dead"), "{request}");
    assert_eq!(
        content(&world, "home.example.com"),
        PUBLIC_IPV4,
        "the first cycle's DNS work was done"
    );
}

/// The first connection to `listener` within `limit`, as a blocking stream.
fn accept_within(listener: &std::net::TcpListener, limit: Duration) -> Option<std::net::TcpStream> {
    listener.set_nonblocking(true).ok()?;
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok((stream, _)) = listener.accept() {
            stream.set_nonblocking(false).ok()?;
            return Some(stream);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// An HTTP request's head and body, read from `stream` (by its content-length).
fn read_request(stream: &std::net::TcpStream) -> String {
    use std::io::{BufRead, BufReader, Read};
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0u8; length];
    let _ = reader.read_exact(&mut body);
    head + &String::from_utf8_lossy(&body)
}
