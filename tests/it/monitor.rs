//! Watching it: /metrics scraped from a running daemon and parsed with a real exposition-format
//! parser, /healthz flipping with the API's health, the textfile after `--once`, and
//! `flaredns status` reading the state directory without a request.

use std::io::{Read, Write};
use std::time::Duration;

use crate::harness::{record, Record, World, OLD_IPV4, PUBLIC_IPV4};
use crate::paused::{self, Here};

/// GET `path` from 127.0.0.1:`port`: (status, body), or None while nothing listens.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.split_whitespace().nth(1)?.parse().ok()?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())?;
    Some((status, body))
}

/// The value of a sample with these labels, from a parsed scrape.
fn value(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|sample| {
            sample.metric == name
                && labels
                    .iter()
                    .all(|(key, value)| sample.labels.get(key) == Some(*value))
        })
        .map(|sample| match sample.value {
            prometheus_parse::Value::Counter(value)
            | prometheus_parse::Value::Gauge(value)
            | prometheus_parse::Value::Untyped(value) => value,
            _ => f64::NAN,
        })
}

fn parse(text: &str) -> prometheus_parse::Scrape {
    let lines = text.lines().map(|line| Ok(line.to_string()));
    prometheus_parse::Scrape::parse(lines).expect("valid exposition format")
}

/// `get` for a test on paused time: the daemon's server runs on the test's own runtime, so
/// the request must not block it.
async fn get_here(port: u16, path: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer))
        .await
        .ok()?
        .ok()?;
    let status = answer.split_whitespace().nth(1)?.parse().ok()?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())?;
    Some((status, body))
}

/// Asks `path` every 100 ms of virtual time for up to `seconds` until `wanted` holds of the
/// answer; the virtual time it took.
async fn until_answer(
    port: u16,
    path: &str,
    seconds: u64,
    wanted: impl Fn(u16, &str) -> bool,
) -> Option<Duration> {
    let started = tokio::time::Instant::now();
    while started.elapsed() <= Duration::from_secs(seconds) {
        if get_here(port, path)
            .await
            .is_some_and(|(status, body)| wanted(status, &body))
        {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// The port in the in-process daemon's start-up line (`listen = "127.0.0.1:0"`).
fn metrics_port(log: &str) -> u16 {
    log.lines()
        .find(|line| line.contains("serving /metrics"))
        .and_then(|line| line.rsplit(':').next())
        .and_then(|port| port.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metrics start-up line: {log}"))
}

#[tokio::test(start_paused = true)]
async fn the_daemon_serves_metrics_that_grow_and_health_that_follows_the_api() {
    let here = Here::new().await;
    let standin = here.standin();
    standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let config = here.world.config(&format!(
        "{}\n[daemon]\ninterval = \"1s\"\n[metrics]\nlisten = \"127.0.0.1:0\"\n",
        record("home.example.com")
    ));
    let log = || here.log();
    let (code, ()) = here
        .daemon(&config, |_| async move {
            paused::eventually(5, || log().contains("serving /metrics")).await;
            let port = metrics_port(&log());
            assert!(
                until_answer(port, "/healthz", 10, |status, _| status == 200)
                    .await
                    .is_some()
            );
            let (status, first) = get_here(port, "/metrics").await.expect("scrape");
            assert_eq!(status, 200);
            let first = parse(&first);
            assert_eq!(value(&first, "flaredns_build_info", &[]), Some(1.0));
            assert_eq!(
                value(
                    &first,
                    "flaredns_detected_address_info",
                    &[("family", "ipv4"), ("address", PUBLIC_IPV4)]
                ),
                Some(1.0)
            );
            assert!(value(
                &first,
                "flaredns_api_requests_total",
                &[("method", "POST"), ("code", "200")]
            )
            .is_some());
            let cycles = |scrape: &prometheus_parse::Scrape| {
                value(scrape, "flaredns_cycles_total", &[("result", "success")]).unwrap_or(0.0)
            };
            let before = cycles(&first);
            // The next cycle is a second away: the count grows within it.
            let grew = until_answer(port, "/metrics", 10, |_, text| {
                cycles(&parse(text)) > before
            });
            assert!(grew
                .await
                .is_some_and(|took| took <= Duration::from_millis(1100)));
            assert_eq!(
                get_here(port, "/other").await.map(|(status, _)| status),
                Some(404)
            );
            // Detection fails for longer than two intervals: 503 with the reason; then 200
            // again.
            standin.set_public_ipv4("192.168.1.20");
            let unhealthy = until_answer(port, "/healthz", 10, |status, body| {
                status == 503 && body.contains("private")
            })
            .await
            .unwrap_or_else(|| panic!("never 503: {}", log()));
            assert!(
                (Duration::from_secs(2)..=Duration::from_secs(4)).contains(&unhealthy),
                "503 after {unhealthy:?}, with a last success one interval before the change"
            );
            standin.set_public_ipv4(PUBLIC_IPV4);
            let healthy = until_answer(port, "/healthz", 10, |status, _| status == 200)
                .await
                .expect("200 again");
            assert!(healthy <= Duration::from_millis(1100), "{healthy:?}");
            let (status, text) = get_here(port, "/metrics").await.expect("scrape");
            assert_eq!(status, 200);
            assert!(
                value(
                    &parse(&text),
                    "flaredns_cycles_total",
                    &[("result", "failure")]
                )
                .unwrap_or(0.0)
                    >= 1.0
            );
        })
        .await;
    assert_eq!(code, 0);
}

#[test]
fn a_port_in_use_is_a_clear_start_up_error() {
    let world = World::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("address").port();
    let config = world.config(&format!(
        "{}\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n",
        record("home.example.com")
    ));
    let outcome = world.run(&config, &[]);
    assert_eq!(outcome.code, 1, "{}", outcome.output());
    assert!(
        outcome.stderr.contains("cannot serve metrics"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn once_writes_the_textfile_atomically() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let dir = world.dir.path().join("textfile");
    std::fs::create_dir(&dir).expect("dir");
    let path = dir.join("flaredns.prom");
    let config = world.config(&format!(
        "{}\n[metrics]\ntextfile = \"{}\"\n",
        record("home.example.com"),
        path.display()
    ));
    for _ in 0..2 {
        assert_eq!(world.run(&config, &["--once"]).code, 0);
    }
    let scrape = parse(&std::fs::read_to_string(&path).expect("textfile"));
    assert_eq!(
        value(&scrape, "flaredns_cycles_total", &[("result", "success")]),
        Some(2.0)
    );
    assert_eq!(
        value(&scrape, "flaredns_records", &[("state", "in_sync")]),
        Some(1.0)
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("list")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
}

#[test]
fn status_reads_the_last_cycle_without_a_request() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let config = world.config(&record("home.example.com"));
    assert_eq!(world.run(&config, &["--once"]).code, 0);
    let human = world.run(&config, &["status"]);
    assert_eq!(human.code, 0, "{}", human.output());
    assert!(world.standin.requests().is_empty(), "status sent a request");
    assert!(
        human.stdout.contains("home.example.com"),
        "{}",
        human.stdout
    );
    assert!(
        human
            .stdout
            .contains(&format!("last change: {OLD_IPV4} → {PUBLIC_IPV4}")),
        "{}",
        human.stdout
    );
    let json = world.run(&config, &["status", "--json"]);
    let document: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(document["success"], true);
    assert_eq!(document["records"][0]["name"], "home.example.com");
    assert_eq!(document["records"][0]["state"], "changed");
    assert_eq!(document["addresses"]["ipv4"], PUBLIC_IPV4);
    // A corrupt status file: a warning and a clean answer, never a crash.
    std::fs::write(world.dir.path().join("state/status.json"), "{not json").expect("corrupt");
    let corrupt = world.run(&config, &["status"]);
    assert_eq!(corrupt.code, 1);
    assert!(corrupt.stderr.contains("WARN"), "{}", corrupt.stderr);
    assert!(
        corrupt.stderr.contains("no cycle is remembered"),
        "{}",
        corrupt.stderr
    );
    assert!(!corrupt.stderr.contains("panicked"));
}

// See: issue 21, point 9. Under the units' UMask=0077 the textfile was 0600 (node_exporter could
// not read it), and a read-only directory was warned every cycle (the daemon's half, on paused
// time, is `a_textfile_the_daemon_cannot_write_is_warned_once`). The umask is the process's:
// this half runs the binary.
#[test]
fn the_textfile_is_0644_under_umask_077() {
    use std::os::unix::fs::PermissionsExt;
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let dir = world.dir.path().join("textfile");
    std::fs::create_dir(&dir).expect("dir");
    let path = dir.join("flaredns.prom");
    let config = world.config(&format!(
        "{}\n[metrics]\ntextfile = \"{}\"\n",
        record("home.example.com"),
        path.display()
    ));
    let config_path = world.write_config(&config);
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 077; exec \"$0\" --config \"$1\" --once")
        .arg(env!("CARGO_BIN_EXE_flaredns"))
        .arg(&config_path)
        .env("CLOUDFLARE_API_TOKEN", crate::harness::TOKEN)
        .env("STATE_DIRECTORY", world.dir.path().join("state"))
        .status()
        .expect("run");
    assert_eq!(status.code(), Some(0));
    let mode = std::fs::metadata(&path)
        .expect("textfile")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
}

// See: issue 21, point 9: the daemon's half.
#[tokio::test(start_paused = true)]
async fn a_textfile_the_daemon_cannot_write_is_warned_once() {
    let here = Here::new().await;
    let standin = here.standin();
    standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let missing = here.world.dir.path().join("no-such-dir/flaredns.prom");
    let daemon_config = format!(
        "{}\n[daemon]\ninterval = \"1s\"\n\n[metrics]\ntextfile = \"{}\"\n",
        record("home.example.com"),
        missing.display()
    );
    let cycles = || {
        standin
            .requests()
            .iter()
            .filter(|request| !request.is_api())
            .count()
    };
    let (code, ran) = here
        .daemon(&here.world.config(&daemon_config), |_| async {
            paused::eventually(20, || cycles() >= 3).await
        })
        .await;
    let log = here.log();
    assert!(ran, "three cycles ran: {log}");
    assert_eq!(code, 0, "{log}");
    let warnings = log.matches("cannot write the metrics textfile").count();
    assert_eq!(warnings, 1, "{log}");
}

// See: issue 21, point 11. Four slots were taken before `accept`, 2 s each: 133 idle sockets
// kept /metrics and /healthz out for a minute.
#[test]
fn a_hundred_idle_connections_never_keep_a_scrape_out() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", PUBLIC_IPV4),
    );
    let config = world.config(&format!(
        "{}\n[daemon]\ninterval = \"1h\"\n[metrics]\nlisten = \"127.0.0.1:0\"\n",
        record("home.example.com")
    ));
    let mut daemon = world.spawn(&config, &[]);
    let port = daemon.metrics_port();
    // Idle clients: connected, sending nothing, kept open for the whole test.
    let idle: Vec<std::net::TcpStream> = (0..100)
        .filter_map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    assert_eq!(idle.len(), 100);
    for _ in 0..3 {
        let (status, body) = get(port, "/metrics").expect("a scrape gets through");
        assert_eq!(status, 200);
        assert!(body.contains("flaredns_build_info"));
    }
    drop(idle);
    assert_eq!(daemon.terminate(), 0);
}

// See: issue 21, point 13. Adding [metrics] listen by SIGHUP was ignored silently.
#[test]
fn a_metrics_endpoint_added_by_sighup_is_served() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", PUBLIC_IPV4),
    );
    let plain = world.config(&format!(
        "{}\n[daemon]\ninterval = \"1h\"\n",
        record("home.example.com")
    ));
    let mut daemon = world.spawn(&plain, &["-v"]);
    assert!(daemon.wait_for_line("cycle finished", 10.0).is_some());
    world.write_config(&format!("{plain}\n[metrics]\nlisten = \"127.0.0.1:0\"\n"));
    daemon.signal("HUP");
    let port = daemon.metrics_port();
    let (status, body) = get(port, "/metrics").expect("a scrape");
    assert_eq!(status, 200);
    assert!(body.contains("flaredns_build_info"));
    assert_eq!(daemon.terminate(), 0);
}
