//! `flaredns-standin bench`: the release binary run as a process through the footprint
//! scenarios of docs/measurements.md (API requests, writes, wall time and peak RSS per
//! `--once`, the idle daemon's RSS, over TLS too, the watch latency and a simulated day).
//! The instruments are in `measure`; this module decides what to run and prints the table.

use std::path::Path;
use std::time::Instant;

use flaredns_standin::{Record, Standin, PUBLIC_IPV4};

use crate::measure::{flaredns_binary, machine, measure, measure_with, mib, proc_field, Measured};
use crate::write_config;

/// One row of the `--once` table: a label, how many records in how many zones, and whether
/// they are brought in sync (and the zone ids cached) before the measured run.
struct Scenario {
    label: &'static str,
    n_records: usize,
    n_zones: usize,
    in_sync: bool,
}

/// The `--once` rows, in the table's order.
const SCENARIOS: &[Scenario] = &[
    Scenario {
        label: "`--once`, 1 record in sync, zone ids cached",
        n_records: 1,
        n_zones: 1,
        in_sync: true,
    },
    Scenario {
        label: "`--once`, 1 record changed, cold start",
        n_records: 1,
        n_zones: 1,
        in_sync: false,
    },
    Scenario {
        label: "`--once`, 10 records changed in 1 zone, cold start",
        n_records: 10,
        n_zones: 1,
        in_sync: false,
    },
    Scenario {
        label: "`--once`, 1000 records changed in 20 zones, cold start",
        n_records: 1000,
        n_zones: 20,
        in_sync: false,
    },
    Scenario {
        label: "`--once`, 1000 records in 20 zones in sync, zone ids cached",
        n_records: 1000,
        n_zones: 20,
        in_sync: true,
    },
];

/// Runs the release binary through the scenarios against the stand-in and prints a table:
/// API requests, writes, wall time and peak RSS per scenario, then the daemon's idle RSS and
/// the binary's size.
pub(crate) fn bench() -> i32 {
    let Some(binary) = flaredns_binary() else {
        eprintln!("no release flaredns binary: run scripts/bench (or cargo build --release), or set FLAREDNS_BIN");
        return 1;
    };
    let size = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
    println!("machine: {}", machine());
    let name = binary
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    println!(
        "binary: {name}, {:.2} MiB stripped, release profile\n",
        size as f64 / 1048576.0
    );
    println!("| scenario | API requests | writes | wall time | peak RSS |");
    println!("|---|---:|---:|---:|---:|");
    let mut failed = false;
    for row in SCENARIOS {
        failed |= !once_row(&binary, row);
    }
    failed |= !cached_change_row(&binary);
    let per_day = requests_per_day(&binary);
    idle_daemon(&binary);
    println!("\n{}", idle_over_tls(&binary, "flaredns"));
    if let Some(shipped) = std::env::var_os("FLAREDNS_STATIC_BIN") {
        let shipped = std::path::PathBuf::from(shipped);
        let size = std::fs::metadata(&shipped).map(|m| m.len()).unwrap_or(0);
        println!(
            "\nThe static binary (as the release, the .deb and the image ship it), {:.2} MiB: {}",
            size as f64 / 1048576.0,
            idle_over_tls(&shipped, "it")
        );
    }
    println!("\n{}", crate::inadyn_bench::side_by_side(&binary));
    println!("\n{}", watch_latency(&binary));
    println!("\n{per_day}");
    i32::from(failed)
}

/// Measures one `--once` scenario and prints its row; false when the run failed.
fn once_row(binary: &Path, row: &Scenario) -> bool {
    let (standin, dir, config) = scenario(row.n_records, row.n_zones);
    if row.in_sync {
        // Warm up: bring everything in sync and fill the zone cache.
        measure(binary, &["--config", &config, "--once"]);
    }
    standin.clear_requests();
    let run = measure(binary, &["--config", &config, "--once"]);
    let note = if run.code == 0 { "" } else { " (failed)" };
    print_row(&format!("{}{note}", row.label), &standin, &run);
    let _ = std::fs::remove_dir_all(&dir);
    run.code == 0
}

/// A change of the same 10 records after a first run: the zone id is cached, the records are
/// listed again before the write. False when the run failed.
fn cached_change_row(binary: &Path) -> bool {
    let (standin, dir, config) = scenario(10, 1);
    measure(binary, &["--config", &config, "--once"]);
    standin.set_public_ipv4("81.23.45.77");
    standin.clear_requests();
    let run = measure(binary, &["--config", &config, "--once"]);
    print_row(
        "`--once`, 10 records changed in 1 zone, zone id cached",
        &standin,
        &run,
    );
    let _ = std::fs::remove_dir_all(&dir);
    run.code == 0
}

/// A table row: the stand-in's API requests and writes, and the run's wall time and peak RSS.
fn print_row(label: &str, standin: &Standin, run: &Measured) {
    let api = standin.api_requests();
    let writes = api.iter().filter(|r| r.is_write()).count();
    println!(
        "| {label} | {} | {writes} | {:.0} ms | {} |",
        api.len(),
        run.wall.as_secs_f64() * 1000.0,
        mib(run.peak_rss_kib)
    );
}

/// The daemon, idle: records in sync, a cycle a second, measured after several cycles. Prints
/// its row and a paragraph on where its memory is.
fn idle_daemon(binary: &Path) {
    let (standin, dir, config) = scenario(3, 1);
    measure(binary, &["--config", &config, "--once"]);
    std::fs::write(
        Path::new(&config),
        std::fs::read_to_string(&config)
            .unwrap_or_default()
            .replace("[daemon]\n", "[daemon]\ninterval = \"5s\"\n"),
    )
    .expect("rewrite config");
    standin.clear_requests();
    let mut daemon = std::process::Command::new(binary)
        .args(["--config", &config])
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the daemon");
    // Three cycles (at 0, 5 and 10 s), then a second between cycles: the idle state.
    std::thread::sleep(std::time::Duration::from_secs(11));
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", daemon.id())).unwrap_or_default();
    let field = |name: &str| proc_field(&status, name);
    let (rss, hwm) = (field("VmRSS:"), field("VmHWM:"));
    let rollup =
        std::fs::read_to_string(format!("/proc/{}/smaps_rollup", daemon.id())).unwrap_or_default();
    let rollup_field = |name: &str| proc_field(&rollup, name);
    let (anonymous, file) = (rollup_field("Anonymous:"), field("RssFile:"));
    let dns = standin.dns_queries();
    let _ = daemon.kill();
    let _ = daemon.wait();
    println!(
        "| daemon, 3 records in sync, `interval = \"5s\"`, after 11 s | {} | 0 | — | {} now ({} peak) |",
        standin.api_requests().len(),
        mib(rss),
        mib(hwm)
    );
    println!(
        "\nThe idle daemon asked DNS {dns} times in those 11 s and Cloudflare's API {} times. Of its RSS, {} is anonymous memory (heap, stacks) and {} is file-backed (the mapped binary and libc).",
        standin.api_requests().len(),
        mib(anonymous),
        mib(file)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// How long after an address change on a watched interface the daemon's cycle ends, in a
/// network namespace made for it (root and iproute2 needed; otherwise it says so). The
/// interface holds private addresses, so each cycle ends at detection without a request.
fn watch_latency(binary: &Path) -> String {
    use std::io::BufRead;
    let ip = |args: &[&str]| {
        std::process::Command::new("ip")
            .args(args)
            .output()
            .map(|output| output.status.success())
            .unwrap_or(false)
    };
    let namespace = format!("flaredns-bench-{}", std::process::id());
    if !ip(&["netns", "add", &namespace]) {
        return "Detection latency: not measured (creating a network namespace needs root and iproute2).".to_string();
    }
    let n = namespace.as_str();
    let interface = ip(&["-n", n, "link", "add", "wan0", "type", "dummy"])
        || ip(&[
            "-n", n, "link", "add", "wan0", "type", "veth", "peer", "name", "wan0p",
        ]);
    let ready = interface
        && ip(&["-n", n, "link", "set", "wan0", "up"])
        && ip(&["-n", n, "addr", "add", "10.9.8.7/24", "dev", "wan0"]);
    let dir = std::env::temp_dir().join(format!("flaredns-bench-watch-{}", fastrand_suffix()));
    let mut samples = Vec::new();
    if ready && std::fs::create_dir_all(&dir).is_ok() {
        let config = dir.join("config.toml");
        let _ = std::fs::write(&config, format!("[cloudflare]\napi_url = \"http://127.0.0.1:1/client/v4\"\napi_token = \"unused\"\n[detect]\nipv4 = [\"iface:wan0\"]\nwatch = [\"wan0\"]\n[check]\nnameservers = \"api\"\n[daemon]\ninterval = \"1h\"\nstate_dir = \"{}\"\n[[records]]\nname = \"home.example.com\"\n", dir.join("state").display()));
        if let Ok(mut daemon) = std::process::Command::new("ip")
            .args(["netns", "exec", n])
            .arg(binary)
            .arg("--config")
            .arg(&config)
            .arg("-v")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
        {
            let (sender, receiver) = std::sync::mpsc::channel::<Instant>();
            if let Some(stderr) = daemon.stderr.take() {
                std::thread::spawn(move || {
                    for line in std::io::BufReader::new(stderr)
                        .lines()
                        .map_while(Result::ok)
                    {
                        if line.contains("cycle finished") {
                            let _ = sender.send(Instant::now());
                        }
                    }
                });
            }
            let _ = receiver.recv_timeout(std::time::Duration::from_secs(10));
            for round in 0..5 {
                std::thread::sleep(std::time::Duration::from_millis(700));
                while receiver.try_recv().is_ok() {}
                let changed = Instant::now();
                let address = format!("10.9.8.{}/24", 20 + round);
                if !ip(&["-n", n, "addr", "add", &address, "dev", "wan0"]) {
                    break;
                }
                if let Ok(at) = receiver.recv_timeout(std::time::Duration::from_secs(5)) {
                    samples.push(at.duration_since(changed));
                }
            }
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
    }
    let _ = ip(&["netns", "del", n]);
    let _ = std::fs::remove_dir_all(&dir);
    if samples.is_empty() {
        return "Detection latency: not measured (the namespace or its interface could not be set up).".to_string();
    }
    samples.sort();
    let ms = |duration: &std::time::Duration| duration.as_millis();
    format!(
        "Detection latency with `[detect] watch`, from an address change on the watched interface to the end of the cycle it starts ({} changes, in a network namespace): median **{} ms**, max {} ms (300 ms of it is the settle time that coalesces bursts).",
        samples.len(),
        ms(&samples[samples.len() / 2]),
        ms(&samples[samples.len() - 1])
    )
}

/// The idle daemon after talking TLS to the API (root store loaded, rustls sessions made),
/// with the metrics endpoint on: its RSS once the cycles are quiet.
fn idle_over_tls(binary: &Path, program: &str) -> String {
    let (standin, dir, config) = scenario(3, 1);
    let (https, cert) = standin.serve_tls();
    // The stand-in's certificate and the system's roots, as a real run loads them.
    let cert_file = dir.join("standin-ca.pem");
    let system = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
    std::fs::write(&cert_file, cert + &system).expect("write the certificate");
    let over_tls = std::fs::read_to_string(&config)
        .unwrap_or_default()
        .replace(&standin.api_url(), &https)
        .replace("nameservers = \"auto\"", "nameservers = \"api\"");
    // One `--once` over TLS that changes the records: the peak a cron run costs.
    std::fs::write(&config, &over_tls).expect("rewrite config");
    let once = measure_with(
        binary,
        &["--config", &config, "--once"],
        &[("SSL_CERT_FILE", cert_file.as_path())],
    );
    // Two cycles (at 0 and 5 s), sampled 3 s after the second: between cycles, as a daemon
    // with a real interval (minutes) spends nearly all its time.
    let text = over_tls.replace("[daemon]\n", "[daemon]\ninterval = \"5s\"\n")
        + &format!(
            "\n[metrics]\nlisten = \"127.0.0.1:0\"\n\n[notify]\nwebhooks = [\"{}\"]\n",
            standin.url("/hook/bench")
        );
    std::fs::write(&config, text).expect("rewrite config");
    standin.set_public_ipv4("81.23.45.77");
    standin.clear_requests();
    let mut daemon = std::process::Command::new(binary)
        .args(["--config", &config])
        .env_remove("RUST_LOG")
        .env("SSL_CERT_FILE", &cert_file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the daemon");
    std::thread::sleep(std::time::Duration::from_secs(8));
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", daemon.id())).unwrap_or_default();
    let (rss, hwm) = (proc_field(&status, "VmRSS:"), proc_field(&status, "VmHWM:"));
    let requests = standin.api_requests().len();
    let records = standin.records("zone0.example.net");
    let synced = records.iter().all(|record| record.content == "81.23.45.77");
    let _ = daemon.kill();
    let _ = daemon.wait();
    let _ = std::fs::remove_dir_all(&dir);
    format!(
        "`--once` of {program} over TLS (3 records changed, API over https, SSL_CERT_FILE holding the loopback certificate and the system's roots): peak RSS **{}**, exit {}.\n\nIdle daemon over TLS (the same, `[metrics] listen` on and a webhook configured, 3 records changed then `interval = \"5s\"` for 8 s): **{} RSS now** ({} peak), after {requests} API request(s){}.",
        mib(once.peak_rss_kib),
        once.code,
        mib(rss),
        mib(hwm),
        if synced { "" } else { " (the records were NOT synced: check the TLS set-up)" }
    )
}

/// A simulated day of `--once` every 5 minutes with one proxied and one DNS-only record in
/// sync. Between runs the remembered listing times in the state directory are moved 5 minutes
/// into the past, which is what a day of wall-clock time does to them.
fn requests_per_day(binary: &Path) -> String {
    let standin = Standin::start();
    standin.add_zone("example.com");
    standin.add_record(
        "example.com",
        Record::new("api.example.com", "A", PUBLIC_IPV4).proxied(true),
    );
    standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", PUBLIC_IPV4),
    );
    let dir = std::env::temp_dir().join(format!("flaredns-bench-day-{}", fastrand_suffix()));
    std::fs::create_dir_all(&dir).expect("bench directory");
    let config = write_config(
        &standin,
        &dir,
        "[[records]]\nname = \"api.example.com\"\n[[records]]\nname = \"home.example.com\"\n",
    )
    .to_string_lossy()
    .to_string();
    let records_file = dir.join("state").join("records.json");
    let mut total = 0;
    for _ in 0..288 {
        standin.clear_requests();
        measure(binary, &["--config", &config, "--once"]);
        total += standin.api_requests().len();
        if let Ok(text) = std::fs::read_to_string(&records_file) {
            if let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&text) {
                if let Some(zones) = value["zones"].as_object_mut() {
                    for zone in zones.values_mut() {
                        let at = zone["listed_at"].as_u64().unwrap_or(0);
                        zone["listed_at"] = serde_json::json!(at.saturating_sub(300));
                    }
                }
                let _ = std::fs::write(&records_file, value.to_string());
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    format!(
        "A simulated day of `--once` every 5 minutes (288 runs) with 1 proxied and 1 DNS-only record in sync, `reconcile = \"1h\"`: **{total} API requests** (every run would list the zone without the memory: 288)."
    )
}

/// A stand-in with `n_zones` zones and `n_records` records holding an old address, and a
/// config managing all of them. Returns the stand-in, the scratch directory and the config path.
fn scenario(n_records: usize, n_zones: usize) -> (Standin, std::path::PathBuf, String) {
    let standin = Standin::start();
    let dir = std::env::temp_dir().join(format!(
        "flaredns-bench-{}-{n_records}-{n_zones}-{}",
        std::process::id(),
        fastrand_suffix()
    ));
    std::fs::create_dir_all(&dir).expect("bench directory");
    let mut records = String::new();
    for zone in 0..n_zones {
        standin.add_zone(&format!("zone{zone}.example.net"));
    }
    for index in 0..n_records {
        let zone = format!("zone{}.example.net", index % n_zones);
        let name = format!("host{index}.{zone}");
        standin.add_record(&zone, Record::new(&name, "A", "81.23.45.10"));
        records.push_str(&format!("[[records]]\nname = \"{name}\"\n"));
    }
    let config = write_config(&standin, &dir, &records)
        .to_string_lossy()
        .to_string();
    (standin, dir, config)
}

/// A suffix that keeps scratch directories of one process apart.
fn fastrand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}
