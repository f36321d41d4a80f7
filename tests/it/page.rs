//! The page for people (`GET /`) and the status document (`GET /status.json`) on the metrics
//! address of a running daemon: content, security headers, methods, no secret, the history
//! across restarts, and the page as a real browser (headless chromium) shows it on a phone.

use std::io::{Read, Write};
use std::time::Duration;

use crate::harness::{record, Daemon, Record, World, OLD_IPV4, PUBLIC_IPV4, TOKEN};

/// Polls `condition` every 5 ms for at most `seconds`; true once it holds. What these tests
/// wait on (a daemon's line or page, a child's exit) comes within milliseconds, where the
/// harness's 100 ms poll would be most of their waiting.
fn soon(seconds: f64, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs_f64(seconds);
    while !condition() {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

/// The port the daemon's page is on, read from its start-up line.
fn port(daemon: &Daemon) -> u16 {
    assert!(soon(10.0, || daemon
        .stderr_so_far()
        .contains("serving /metrics")));
    daemon.metrics_port()
}

/// SIGTERM, then the exit code once it exits (at most 10 s).
pub fn stop(daemon: &mut Daemon) -> i32 {
    daemon.signal("TERM");
    let mut code = None;
    let exited = soon(10.0, || {
        code = daemon
            .child
            .try_wait()
            .ok()
            .flatten()
            .map(|status| status.code());
        code.is_some()
    });
    assert!(exited, "flaredns did not exit within 10 s of SIGTERM");
    code.flatten().unwrap_or(-1)
}

/// One request: (status, head, body), or None while nothing answers.
fn request(port: u16, method: &str, path: &str) -> Option<(u16, String, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let answer = String::from_utf8(answer).ok()?;
    let status = answer.split_whitespace().nth(1)?.parse().ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    Some((status, head.to_ascii_lowercase(), body.to_string()))
}

/// A daemon on a long interval (one cycle, then quiet) serving on 127.0.0.1:0, once its
/// first cycle is on the page.
pub fn serve(world: &World, records: &str) -> (Daemon, u16) {
    let config = world.config(&format!(
        "{records}\n[daemon]\ninterval = \"1h\"\n[metrics]\nlisten = \"127.0.0.1:0\"\n"
    ));
    let daemon = world.spawn(&config, &[]);
    let port = port(&daemon);
    assert!(soon(10.0, || request(port, "GET", "/")
        .is_some_and(|(_, _, body)| body.contains("<dt>result</dt>"))));
    (daemon, port)
}

/// Two records in a zone and one in no zone (it fails, with a sentence naming the fix).
fn records(world: &World) -> String {
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    world.standin.add_record(
        "example.com",
        Record::new("vpn.example.com", "A", PUBLIC_IPV4),
    );
    format!(
        "{}{}{}",
        record("home.example.com"),
        record("vpn.example.com"),
        record("nas.not-a-zone.test")
    )
}

#[test]
fn the_page_shows_each_record_with_its_state_behind_a_strict_policy() {
    let world = World::new();
    let records = records(&world);
    let (mut daemon, port) = serve(&world, &records);
    let (status, head, page) = request(port, "GET", "/").expect("the page");
    assert_eq!(status, 200);
    assert!(
        head.contains("content-type: text/html; charset=utf-8"),
        "{head}"
    );
    assert!(
        head.contains("content-security-policy: default-src 'none'; style-src 'sha256-"),
        "{head}"
    );
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    assert!(head.contains("referrer-policy: no-referrer"), "{head}");
    assert!(head.contains("cache-control: no-store"), "{head}");
    for expected in [
        "home.example.com",
        "vpn.example.com",
        "nas.not-a-zone.test",
        "changed</span>",
        "in sync</span>",
        "failed</span>",
        "What is failing",
        PUBLIC_IPV4,
        "next check",
    ] {
        assert!(
            page.contains(expected),
            "{expected} is not on the page:\n{page}"
        );
    }
    assert!(!page.contains("<script"), "{page}");
    assert_eq!(stop(&mut daemon), 0);
}

#[test]
fn any_other_method_is_405_and_any_other_path_404() {
    let world = World::new();
    let (mut daemon, port) = serve(&world, &records(&world));
    for method in ["POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"] {
        for path in ["/", "/status.json", "/metrics", "/nowhere"] {
            let (status, head, _) = request(port, method, path).expect("an answer");
            assert_eq!(status, 405, "{method} {path}");
            assert!(head.contains("allow: get"), "{method} {path}: {head}");
        }
    }
    assert_eq!(request(port, "GET", "/index.html").map(|a| a.0), Some(404));
    assert_eq!(
        request(port, "GET", "/?from=bookmark").map(|a| a.0),
        Some(200)
    );
    assert_eq!(stop(&mut daemon), 0);
}

#[test]
fn status_json_is_the_document_of_status_json() {
    let world = World::new();
    let records = records(&world);
    let (mut daemon, port) = serve(&world, &records);
    let (status, head, served) = request(port, "GET", "/status.json").expect("the document");
    assert_eq!(status, 200);
    assert!(head.contains("content-type: application/json"), "{head}");
    // Stopping writes the status the daemon holds; no cycle ran in between (1 h interval).
    assert_eq!(stop(&mut daemon), 0);
    let config = world.config(&format!(
        "{records}\n[daemon]\ninterval = \"1h\"\n[metrics]\nlisten = \"127.0.0.1:0\"\n"
    ));
    let printed = world.run(&config, &["status", "--json"]);
    let served: serde_json::Value = serde_json::from_str(&served).expect("JSON");
    let printed: serde_json::Value =
        serde_json::from_str(&printed.stdout).unwrap_or_else(|_| panic!("{}", printed.output()));
    assert_eq!(served, printed);
    assert!(served["history"].is_array(), "{served}");
}

#[test]
fn no_url_secret_is_on_the_page_or_in_the_document() {
    let world = World::new();
    // Detection fails through a provider whose URL carries secrets, so its sentence is on the
    // page; the webhook's path is a secret too.
    let failing = world
        .standin
        .url("/nothing-here")
        .replace("http://", "http://admin:pw0rdSECRET@");
    let config = world.config_detect(
        &format!("ipv4 = [\"url:{failing}?apikey=SECRETKEY\"]\nipv6 = []"),
        &format!(
            "{}\n[notify]\nwebhooks = [\"{}\"]\n[daemon]\ninterval = \"1h\"\n[metrics]\nlisten = \"127.0.0.1:0\"\n",
            record("home.example.com"),
            world.standin.url("/hook/SECRETPATH")
        ),
    );
    let mut daemon = world.spawn(&config, &[]);
    let port = port(&daemon);
    assert!(soon(10.0, || request(port, "GET", "/")
        .is_some_and(|(_, _, page)| page.contains("What is failing"))));
    let (_, _, page) = request(port, "GET", "/").expect("the page");
    let (_, _, document) = request(port, "GET", "/status.json").expect("the document");
    for shown in [&page, &document] {
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(!shown.contains(TOKEN), "{shown}");
        assert!(!shown.contains("pw0rd"), "{shown}");
    }
    assert!(
        page.contains("could not detect") && page.contains("&lt;redacted&gt;"),
        "the failing provider is named, redacted:\n{page}"
    );
    assert_eq!(stop(&mut daemon), 0);
}

#[test]
fn the_history_survives_a_restart_and_is_on_the_page() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let records = record("home.example.com");
    assert_eq!(world.once(&records).code, 0);
    world.standin.set_public_ipv4("81.23.45.77");
    assert_eq!(world.once(&records).code, 0);
    let status = world.run(&world.config(&records), &["status"]);
    assert!(
        status
            .stdout
            .contains(&format!("ipv4 {PUBLIC_IPV4} → 81.23.45.77")),
        "{}",
        status.stdout
    );
    let (mut daemon, port) = serve(&world, &records);
    let (_, _, document) = request(port, "GET", "/status.json").expect("the document");
    let document: serde_json::Value = serde_json::from_str(&document).expect("JSON");
    let history = document["history"].as_array().expect("history");
    assert_eq!(history.len(), 1, "{document}");
    assert_eq!(history[0]["family"], "ipv4");
    assert_eq!(history[0]["old"], PUBLIC_IPV4);
    assert_eq!(history[0]["new"], "81.23.45.77");
    let (_, _, page) = request(port, "GET", "/").expect("the page");
    assert!(page.contains("<circle class=\"v4\""), "{page}");
    assert!(
        page.contains(&format!("{PUBLIC_IPV4} → 81.23.45.77")),
        "{page}"
    );
    assert_eq!(stop(&mut daemon), 0);
}

#[test]
fn idle_connections_do_not_keep_the_page_out() {
    let world = World::new();
    let (mut daemon, port) = serve(&world, &records(&world));
    let idle: Vec<std::net::TcpStream> = (0..40)
        .filter_map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    assert!(idle.len() >= 32);
    let (status, _, page) = request(port, "GET", "/").expect("the page");
    assert_eq!(status, 200);
    assert!(page.trim_end().ends_with("</html>"), "the whole page");
    drop(idle);
    assert_eq!(stop(&mut daemon), 0);
}

/// Chromium, where Debian installs it.
const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs headless chromium with `args` on `url` (at most 60 s); its stdout.
fn chromium(args: &[&str], url: &str) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = std::process::Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .env("HOME", profile.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run chromium");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let finished = soon(60.0, || matches!(child.try_wait(), Ok(Some(_))));
    if !finished {
        let _ = child.kill();
        let _ = child.wait();
        panic!("chromium did not finish within 60 s");
    }
    reader.join().expect("reader")
}

// A real browser renders the page: the DOM has every record and its state, and a phone-sized
// screenshot is taken (FLAREDNS_PAGE_SCREENSHOT=PATH keeps it, as docs/page.png was made).
#[test]
fn a_real_browser_shows_records_and_states_on_a_phone() {
    if !std::path::Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install chromium (.ci/run) for the browser test"
        );
        println!("SKIPPED: chromium not installed");
        return;
    }
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    world.standin.add_record(
        "example.com",
        Record::new("vpn.example.com", "A", "81.23.45.10"),
    );
    world.standin.add_record(
        "example.com",
        Record::new("www.example.com", "A", OLD_IPV4).proxied(true),
    );
    let records = format!(
        "{}{}{}{}",
        record("home.example.com"),
        record("vpn.example.com"),
        record("www.example.com"),
        record("nas.not-a-zone.test")
    );
    // A history: the address changed twice before this daemon started.
    world.standin.set_public_ipv4("81.23.45.10");
    let _ = world.once(&records);
    world.standin.set_public_ipv4("81.23.45.33");
    let _ = world.once(&records);
    world.standin.set_public_ipv4(PUBLIC_IPV4);
    // The daemon also keeps a WAF list, already in sync: a list write is an operation the
    // stand-in finishes only on its second poll, a quarter of a second later.
    let account = "0123456789abcdef0123456789abcdef";
    world
        .standin
        .add_list_item(account, "home_ips", PUBLIC_IPV4, Some("flaredns"));
    let records = format!("{records}[[waf_lists]]\naccount = \"{account}\"\nname = \"home_ips\"\n");
    let (mut daemon, port) = serve(&world, &records);
    let url = format!("http://127.0.0.1:{port}/");
    let dom = chromium(&["--dump-dom"], &url);
    for expected in [
        "home.example.com",
        "vpn.example.com",
        "www.example.com",
        "nas.not-a-zone.test",
        "changed</span>",
        "failed</span>",
        "What is failing",
        "home_ips",
        "<svg",
    ] {
        assert!(
            dom.contains(expected),
            "{expected} is not in the DOM:\n{dom}"
        );
    }
    let shot = world.dir.path().join("page.png");
    chromium(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=412,915",
        ],
        &url,
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    if let Some(keep) = std::env::var_os("FLAREDNS_PAGE_SCREENSHOT") {
        std::fs::copy(&shot, keep).expect("keep the screenshot");
    }
    assert_eq!(stop(&mut daemon), 0);
}
