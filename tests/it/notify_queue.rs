//! Large changes and misbehaving receivers: every event of a 300-record change reaches a
//! webhook that never sees more than 4 connections at once, a hook's background child does
//! not hold `--once`, and two receivers on one host are warned about separately.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::{record, Fault, Record, World, OLD_IPV4};
use crate::paused::{self, Here};

/// A plain HTTP receiver that counts requests and the most connections in use at once. Each
/// answer takes 3 ms and closes its connection, so concurrency shows as connections: long
/// enough for four to overlap (and for a client without a limit to pile up far more), short
/// enough that 300 at four at once take a quarter of a second.
struct Counter {
    url: String,
    received: Arc<AtomicUsize>,
    in_use: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

impl Counter {
    fn start() -> Counter {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/hook/count", listener.local_addr().expect("addr"));
        let received = Arc::new(AtomicUsize::new(0));
        let in_use = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (r, u, m) = (received.clone(), in_use.clone(), most.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let now = u.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                let (r, u) = (r.clone(), u.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream);
                    let mut length = 0usize;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            break;
                        }
                        if let Some(value) =
                            line.to_ascii_lowercase().strip_prefix("content-length:")
                        {
                            length = value.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0u8; length];
                    let _ = reader.read_exact(&mut body);
                    if body.starts_with(b"{") {
                        r.fetch_add(1, Ordering::SeqCst);
                    }
                    std::thread::sleep(Duration::from_millis(3));
                    // Counted out before the answer: the client opens its next connection
                    // only after reading one.
                    u.fetch_sub(1, Ordering::SeqCst);
                    let _ = reader.get_mut().write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    );
                });
            }
        });
        Counter {
            url,
            received,
            in_use,
            most,
        }
    }
}

#[test]
fn three_hundred_changes_all_arrive_through_at_most_four_connections() {
    let world = World::new();
    let mut records = String::new();
    for index in 0..300 {
        let name = format!("h{index}.example.com");
        world
            .standin
            .add_record("example.com", Record::new(&name, "A", OLD_IPV4));
        records.push_str(&record(&name));
    }
    let counter = Counter::start();
    let config = world.config(&format!(
        "{records}\n[notify]\nwebhooks = [\"{}\"]\ntimeout = \"5s\"\n",
        counter.url
    ));
    let outcome = world.run(&config, &["--once"]);
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    // --once returns only when every delivery has ended.
    assert_eq!(counter.received.load(Ordering::SeqCst), 300);
    let most = counter.most.load(Ordering::SeqCst);
    assert!(most <= 4, "{most} connections at once");
    assert!(most >= 2, "deliveries ran one by one ({most})");
    assert_eq!(counter.in_use.load(Ordering::SeqCst), 0);
    assert!(
        !outcome.stderr.contains("could not notify"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_hook_that_backgrounds_a_child_does_not_hold_once() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let hook = world.dir.path().join("background.sh");
    std::fs::write(&hook, "#!/bin/sh\nsleep 30.3 &\necho started\nexit 0\n").expect("hook");
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let config = world.config(&format!(
        "{}\n[notify]\nexec = [\"{}\"]\ntimeout = \"20s\"\n",
        record("home.example.com"),
        hook.display()
    ));
    let started = Instant::now();
    // `output()` waits for stderr to close: a surviving child would hold it for 30 s.
    let outcome = world.run(&config, &["--once"]);
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert!(outcome.stderr.contains("started"), "{}", outcome.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    if let Ok(left) = Command::new("pgrep").args(["-f", "sleep 30.3"]).output() {
        assert!(left.stdout.is_empty(), "the hook's child outlived the hook");
    }
}

#[test]
fn two_receivers_on_one_host_are_warned_about_separately() {
    let world = World::new();
    let mut records = String::new();
    for name in ["a.example.com", "b.example.com", "c.example.com"] {
        world
            .standin
            .add_record("example.com", Record::new(name, "A", OLD_IPV4));
        records.push_str(&record(name));
    }
    world
        .standin
        .inject(Fault::status(400, "{}").path("/hook/bad-secret"));
    let config = world.config(&format!(
        "{records}\n[notify]\nwebhooks = [\"{}\", \"{}\"]\n",
        world.standin.url("/hook/good-secret"),
        world.standin.url("/hook/bad-secret"),
    ));
    let outcome = world.run(&config, &["--once"]);
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    let warnings: Vec<&str> = outcome
        .stderr
        .lines()
        .filter(|line| line.contains("could not notify"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", outcome.stderr);
    assert!(
        warnings[0].contains("notify.webhooks #2"),
        "{}",
        warnings[0]
    );
    assert!(
        !outcome.stderr.contains("reachable again"),
        "the good receiver's success cleared the bad one's warning: {}",
        outcome.stderr
    );
    assert!(!outcome.stderr.contains("secret"), "{}", outcome.stderr);
    let good = world
        .standin
        .requests()
        .into_iter()
        .filter(|request| request.path == "/hook/good-secret")
        .count();
    assert_eq!(good, 3);
}

#[tokio::test(start_paused = true)]
async fn the_daemons_next_cycle_never_waits_for_a_hanging_receiver() {
    let here = Here::new().await;
    let standin = here.standin();
    standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    standin.inject(Fault::hang().path("/hook/"));
    let config = here.world.config(&format!(
        "[daemon]\ninterval = \"1s\"\n\n{}\n[notify]\nwebhooks = [\"{}\"]\ntimeout = \"60s\"\n",
        record("home.example.com"),
        standin.url("/hook/hangs")
    ));
    let content = || {
        standin
            .records_at("example.com", "home.example.com")
            .first()
            .map(|record| record.content.clone())
            .unwrap_or_default()
    };
    let delivering = || {
        standin
            .requests()
            .iter()
            .any(|request| request.path.starts_with("/hook/"))
    };
    let (code, stopping) = here
        .daemon(&config, |_| async {
            assert!(
                paused::eventually(5, || content() == crate::harness::PUBLIC_IPV4).await,
                "first cycle"
            );
            assert!(
                paused::eventually(5, delivering).await,
                "the event's delivery started"
            );
            // The first event's delivery hangs for a minute; the next change is written at
            // the next tick anyway.
            standin.set_public_ipv4("81.23.45.200");
            let changed = tokio::time::Instant::now();
            assert!(
                paused::eventually(5, || content() == "81.23.45.200").await,
                "the next cycle waited for the queue"
            );
            assert!(
                changed.elapsed() <= Duration::from_millis(1100),
                "{:?}",
                changed.elapsed()
            );
            tokio::time::Instant::now()
        })
        .await;
    let log = here.log();
    assert_eq!(code, 0, "{log}");
    // The stop gives the queue its 5 s grace, not the delivery's minute.
    assert!(
        stopping.elapsed() <= Duration::from_millis(5100),
        "stopping waited {:?} for the queue",
        stopping.elapsed()
    );
    assert!(log.contains("they are dropped"), "{log}");
}

#[test]
fn at_most_four_hooks_run_at_once() {
    let world = World::new();
    let mut records = String::new();
    for index in 0..12 {
        let name = format!("h{index}.example.com");
        world
            .standin
            .add_record("example.com", Record::new(&name, "A", OLD_IPV4));
        records.push_str(&record(&name));
    }
    let running = world.dir.path().join("running");
    std::fs::create_dir(&running).expect("dir");
    let seen = world.dir.path().join("seen");
    let hook = world.dir.path().join("count.sh");
    // Each run marks itself running, notes how many are, and stays a moment.
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\ntouch {r}/$$\nls {r} | wc -l >> {s}\nsleep 0.05\nrm {r}/$$\n",
            r = running.display(),
            s = seen.display()
        ),
    )
    .expect("hook");
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let config = world.config(&format!(
        "{records}\n[notify]\nexec = [\"{}\"]\n",
        hook.display()
    ));
    let outcome = world.run(&config, &["--once"]);
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    let counts: Vec<usize> = std::fs::read_to_string(&seen)
        .expect("the hook ran")
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect();
    assert_eq!(counts.len(), 12, "{counts:?}");
    let most = counts.iter().copied().max().unwrap_or(0);
    assert!((2..=4).contains(&most), "{most} hooks at once: {counts:?}");
}
