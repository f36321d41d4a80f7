//! Watching it: /metrics scraped from a running daemon and parsed with a real exposition-format
//! parser, /healthz flipping with the API's health, the textfile after `--once`, and
//! `flaredns status` reading the state directory without a request.

use std::io::{Read, Write};
use std::time::Duration;

use crate::harness::{eventually, record, Record, World, OLD_IPV4, PUBLIC_IPV4};

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

#[test]
fn the_daemon_serves_metrics_that_grow_and_health_that_follows_the_api() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let config = world.config(&format!(
        "{}\n[daemon]\ninterval = \"1s\"\n[metrics]\nlisten = \"127.0.0.1:0\"\n",
        record("home.example.com")
    ));
    let mut daemon = world.spawn(&config, &[]);
    let port = daemon.metrics_port();
    assert!(eventually(10.0, || get(port, "/healthz")
        .is_some_and(|(status, _)| status == 200)));
    let (status, first) = get(port, "/metrics").expect("scrape");
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
    assert!(eventually(10.0, || {
        get(port, "/metrics").is_some_and(|(_, text)| cycles(&parse(&text)) > cycles(&first))
    }));
    assert_eq!(get(port, "/other").map(|(status, _)| status), Some(404));
    // Detection fails for longer than two intervals: 503 with the reason; then 200 again.
    world.standin.set_public_ipv4("192.168.1.20");
    assert!(eventually(10.0, || get(port, "/healthz").is_some_and(
        |(status, body)| status == 503 && body.contains("private")
    )));
    world.standin.set_public_ipv4(PUBLIC_IPV4);
    assert!(eventually(10.0, || get(port, "/healthz")
        .is_some_and(|(status, _)| status == 200)));
    let (status, text) = get(port, "/metrics").expect("scrape");
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
    assert_eq!(daemon.terminate(), 0);
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
// not read it), and a read-only directory was warned every cycle.
#[test]
fn the_textfile_is_0644_under_umask_077_and_a_failure_is_warned_once() {
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

    let missing = world.dir.path().join("no-such-dir/flaredns.prom");
    let daemon_config = format!(
        "{}\n[daemon]\ninterval = \"1s\"\n\n[metrics]\ntextfile = \"{}\"\n",
        record("home.example.com"),
        missing.display()
    );
    let mut daemon = world.spawn(&world.config(&daemon_config), &[]);
    let cycles = || {
        world
            .standin
            .requests()
            .iter()
            .filter(|request| !request.is_api())
            .count()
    };
    assert!(eventually(20.0, || cycles() >= 3), "three cycles ran");
    let (code, stderr) = daemon.terminate_with_stderr();
    assert_eq!(code, 0, "{stderr}");
    let warnings = stderr.matches("cannot write the metrics textfile").count();
    assert_eq!(warnings, 1, "{stderr}");
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
