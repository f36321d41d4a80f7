//! `flaredns-standin`: the stand-in as a program.
//! - `demo`: runs the real flaredns job end to end against the stand-in (no Cloudflare
//!   account needed): detection, the dry-run plan, the update, the quiet second run, the
//!   address change with its history, and the page the daemon serves.
//! - `serve`: keeps a stand-in with a demo zone running and prints its addresses.
//! - `bench`: runs the release binary through the README's scenarios: API requests, wall
//!   time and peak RSS per cycle, the idle daemon's RSS, and the binary's size.
//! - `bench-inadyn`: only the bench's part that runs flaredns beside inadyn.

use std::path::Path;
use std::time::Instant;

mod demo_page;
mod inadyn_bench;

use clap::Parser;
use flaredns::cli::Cli;
use flaredns_standin::{Record, Standin, PUBLIC_IPV4, TOKEN};

fn main() {
    let command = std::env::args().nth(1).unwrap_or_default();
    let code = match command.as_str() {
        "demo" => demo(),
        "serve" => serve(),
        "bench" => bench(),
        "bench-inadyn" => inadyn_bench::alone(flaredns_binary()),
        _ => {
            eprintln!("usage: flaredns-standin demo | serve | bench | bench-inadyn");
            2
        }
    };
    std::process::exit(code);
}

/// Writes a config for the stand-in into `dir` and returns its path.
fn write_config(standin: &Standin, dir: &Path, records: &str) -> std::path::PathBuf {
    let token_file = dir.join("token");
    std::fs::write(&token_file, TOKEN).expect("write token file");
    restrict(&token_file);
    let config = format!(
        "[cloudflare]\napi_url = \"{}\"\napi_token_file = \"{}\"\n\n[detect]\nipv4 = [\"trace:{}\"]\n\n[check]\nnameservers = \"auto\"\n\n[daemon]\nstate_dir = \"{}\"\n\n{records}",
        standin.api_url(),
        token_file.display(),
        standin.trace_url(),
        dir.join("state").display()
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, config).expect("write config");
    path
}

#[cfg(unix)]
fn restrict(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict(_: &Path) {}

fn run_flaredns(runtime: &tokio::runtime::Runtime, args: &[&str]) -> u8 {
    let cli = Cli::try_parse_from(std::iter::once("flaredns").chain(args.iter().copied()))
        .expect("demo arguments");
    runtime.block_on(flaredns::run(&cli))
}

fn demo() -> i32 {
    flaredns::logging::init(0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let standin = Standin::start();
    standin.add_zone("example.com");
    standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", "81.23.45.10")
            .ttl(120)
            .comment("set by hand"),
    );
    standin.add_record(
        "example.com",
        Record::new("home.example.com", "TXT", "not managed: left alone"),
    );
    standin.add_record(
        "example.com",
        Record::new("vpn.example.com", "A", PUBLIC_IPV4),
    );
    let dir = std::env::temp_dir().join(format!("flaredns-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("demo directory");
    standin.add_record(
        "example.com",
        Record::new("www.example.com", "A", "81.23.45.10").proxied(true),
    );
    let records = format!(
        "[[records]]\nname = \"home.example.com\"\n\n[[records]]\nname = \"vpn.example.com\"\n\n[[records]]\nname = \"www.example.com\"   # proxied: DNS cannot confirm it\n\n[[records]]\nname = \"nas.example.com\"\ncomment = \"managed by flaredns\"\n\n[[waf_lists]]                   # the skip rule's list: ip.src in $home_ips\naccount = \"{DEMO_ACCOUNT}\"\nname = \"home_ips\"\n\n[notify]\nwebhooks = [\"{}\"]\n\n[metrics]\nlisten = \"127.0.0.1:0\"          # the daemon serves /, /status.json, /metrics, /healthz\ntextfile = \"{}\"\n",
        standin.url("/hook/demo"),
        dir.join("flaredns.prom").display()
    );
    let records = records.as_str();
    let config = write_config(&standin, &dir, records);
    let config = config.to_string_lossy().to_string();

    println!(
        "flaredns demo: a local Cloudflare stand-in at {} (API), {} (DNS)",
        standin.api_url(),
        standin.dns_addr()
    );
    println!(
        "its IP echo reports this host's public address as {PUBLIC_IPV4}; zone example.com holds:"
    );
    print_records(&standin);
    println!("config:\n{}", indent(records));

    println!("\n$ flaredns --config {config} doctor     # detection, token, zone and records, changing nothing");
    standin.clear_requests();
    let code = run_flaredns(&runtime, &["--config", &config, "doctor"]);
    report(&standin, code);

    println!("\n$ flaredns --config {config} --once --dry-run");
    standin.clear_requests();
    let code = run_flaredns(&runtime, &["--config", &config, "--once", "--dry-run"]);
    report(&standin, code);

    println!("\n$ flaredns --config {config} --once");
    standin.clear_requests();
    let code = run_flaredns(&runtime, &["--config", &config, "--once"]);
    report(&standin, code);
    print_records(&standin);
    print_list(&standin);
    print_events(&standin);

    println!("\n$ flaredns --config {config} --once     # again: DNS shows everything in sync, and the proxied record is remembered");
    standin.clear_requests();
    let code = run_flaredns(&runtime, &["--config", &config, "--once"]);
    report(&standin, code);
    print_events(&standin);

    standin.set_public_ipv4("81.23.45.77");
    println!(
        "\n# the ISP hands out 81.23.45.77: one listing (every write names an id read in this run) and one batch"
    );
    println!("$ flaredns --config {config} --once");
    standin.clear_requests();
    let changed = run_flaredns(&runtime, &["--config", &config, "--once"]);
    report(&standin, changed);
    print_list(&standin);
    print_events(&standin);

    println!("\n$ flaredns --config {config} status     # what the last cycle did, from the state directory, no request");
    standin.clear_requests();
    let status = run_flaredns(&runtime, &["--config", &config, "status"]);
    report(&standin, status);

    demo_page::show_page(&runtime, &config);

    println!(
        "\n$ grep flaredns_cycles_total {}     # the node_exporter textfile",
        dir.join("flaredns.prom").display()
    );
    let textfile = std::fs::read_to_string(dir.join("flaredns.prom")).unwrap_or_default();
    for line in textfile
        .lines()
        .filter(|line| line.starts_with("flaredns_cycles_total"))
    {
        println!("{line}");
    }

    let _ = std::fs::remove_dir_all(&dir);
    i32::from(code)
}

/// The demo's Cloudflare account (for its WAF list).
const DEMO_ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

/// The WAF list's items, as the stand-in holds them.
fn print_list(standin: &Standin) {
    let items: Vec<String> = standin
        .list_items(DEMO_ACCOUNT, "home_ips")
        .unwrap_or_default()
        .into_iter()
        .map(|item| format!("{} ({})", item.ip, item.comment.unwrap_or_default()))
        .collect();
    println!("  WAF list home_ips holds: {}", items.join(", "));
}

/// The events the stand-in's webhook received since the last clear, one JSON line each.
fn print_events(standin: &Standin) {
    let events: Vec<String> = standin
        .requests()
        .into_iter()
        .filter(|request| request.path.starts_with("/hook"))
        .map(|request| request.body)
        .collect();
    if events.is_empty() {
        println!("→ webhook: no event (nothing changed, nothing failed)");
    }
    for event in events {
        println!("→ webhook: {event}");
    }
}

fn report(standin: &Standin, code: u8) {
    let api = standin.api_requests();
    let writes = api.iter().filter(|r| r.is_write()).count();
    let listing: Vec<String> = api
        .iter()
        .map(|r| format!("{} {}", r.method, r.path.trim_start_matches("/client/v4")))
        .collect();
    println!(
        "→ exit code {code}; {} API request(s), {writes} write(s){}",
        api.len(),
        if listing.is_empty() {
            String::new()
        } else {
            format!(": {}", listing.join(", "))
        }
    );
}

fn print_records(standin: &Standin) {
    for record in standin.records("example.com") {
        println!(
            "    {:<18} {:<4} {:<24} ttl {:<4} {}",
            record.name,
            record.record_type,
            record.content,
            if record.ttl == 1 {
                "auto".to_string()
            } else {
                record.ttl.to_string()
            },
            record
                .comment
                .map(|c| format!("comment \"{c}\""))
                .unwrap_or_default()
        );
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn serve() -> i32 {
    let standin = Standin::start();
    standin.add_zone("example.com");
    standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", "81.23.45.10"),
    );
    println!("api_url = \"{}\"", standin.api_url());
    println!("token   = \"{TOKEN}\"");
    println!("trace   = \"trace:{}\"", standin.trace_url());
    println!("dns     = \"{}\"", standin.dns_addr());
    println!("(Ctrl-C to stop)");
    loop {
        std::thread::park();
    }
}

/// The release `flaredns` binary: `$FLAREDNS_BIN`, else the one beside this program.
fn flaredns_binary() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("FLAREDNS_BIN") {
        return Some(path.into());
    }
    let sibling = std::env::current_exe().ok()?.parent()?.join("flaredns");
    sibling.exists().then_some(sibling)
}

/// What one run of the binary cost.
struct Measured {
    code: i32,
    wall: std::time::Duration,
    peak_rss_kib: i64,
}

/// Runs the binary to completion and reads its peak RSS from wait4's rusage.
fn measure(binary: &Path, args: &[&str]) -> Measured {
    measure_with(binary, args, &[])
}

/// `measure` with more environment variables (`SSL_CERT_FILE` for a run over TLS). The peak
/// is the child's own (see `flaredns_standin::peak`), not `wait4`'s, which counts this
/// benchmark's size too.
fn measure_with(binary: &Path, args: &[&str], env: &[(&str, &Path)]) -> Measured {
    let started = Instant::now();
    let traced = flaredns_standin::peak::run(
        std::process::Command::new(binary)
            .args(args)
            .envs(env.iter().copied())
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    Measured {
        code: traced.code,
        wall: started.elapsed(),
        peak_rss_kib: traced.peak_rss_kib,
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!(
        "{cores} cores, {cpu}, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// A `Name:  123 kB` field of a /proc file, in KiB (0 when absent).
fn proc_field(text: &str, name: &str) -> i64 {
    text.lines()
        .find(|line| line.starts_with(name))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|value| value.parse::<i64>().ok())
        .unwrap_or(0)
}

fn mib(kib: i64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Runs the release binary through the scenarios against the stand-in and prints a table:
/// API requests, writes, wall time and peak RSS per scenario, then the daemon's idle RSS and
/// the binary's size.
fn bench() -> i32 {
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
    let scenarios: &[(&str, usize, usize, bool)] = &[
        ("`--once`, 1 record in sync, zone ids cached", 1, 1, true),
        ("`--once`, 1 record changed, cold start", 1, 1, false),
        (
            "`--once`, 10 records changed in 1 zone, cold start",
            10,
            1,
            false,
        ),
        (
            "`--once`, 1000 records changed in 20 zones, cold start",
            1000,
            20,
            false,
        ),
        (
            "`--once`, 1000 records in 20 zones in sync, zone ids cached",
            1000,
            20,
            true,
        ),
    ];
    let mut failed = false;
    for (label, n_records, n_zones, in_sync) in scenarios {
        let (standin, dir, config) = scenario(*n_records, *n_zones);
        if *in_sync {
            // Warm up: bring everything in sync and fill the zone cache.
            measure(&binary, &["--config", &config, "--once"]);
        }
        standin.clear_requests();
        let run = measure(&binary, &["--config", &config, "--once"]);
        let api = standin.api_requests();
        let writes = api.iter().filter(|r| r.is_write()).count();
        let note = if run.code == 0 { "" } else { " (failed)" };
        failed |= run.code != 0;
        println!(
            "| {label}{note} | {} | {writes} | {:.0} ms | {} |",
            api.len(),
            run.wall.as_secs_f64() * 1000.0,
            mib(run.peak_rss_kib)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    // A change of the same 10 records after a first run: the zone id is cached, the records
    // are listed again before the write.
    {
        let (standin, dir, config) = scenario(10, 1);
        measure(&binary, &["--config", &config, "--once"]);
        standin.set_public_ipv4("81.23.45.77");
        standin.clear_requests();
        let run = measure(&binary, &["--config", &config, "--once"]);
        let api = standin.api_requests();
        let writes = api.iter().filter(|r| r.is_write()).count();
        failed |= run.code != 0;
        println!(
            "| `--once`, 10 records changed in 1 zone, zone id cached | {} | {writes} | {:.0} ms | {} |",
            api.len(),
            run.wall.as_secs_f64() * 1000.0,
            mib(run.peak_rss_kib)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    let per_day = requests_per_day(&binary);

    // The daemon, idle: records in sync, a cycle a second, measured after several cycles.
    let (standin, dir, config) = scenario(3, 1);
    measure(&binary, &["--config", &config, "--once"]);
    std::fs::write(
        Path::new(&config),
        std::fs::read_to_string(&config)
            .unwrap_or_default()
            .replace("[daemon]\n", "[daemon]\ninterval = \"1s\"\n"),
    )
    .expect("rewrite config");
    standin.clear_requests();
    let mut daemon = std::process::Command::new(&binary)
        .args(["--config", &config])
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the daemon");
    std::thread::sleep(std::time::Duration::from_secs(6));
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
        "| daemon, 3 records in sync, `interval = \"1s\"`, after 6 s | {} | 0 | — | {} now ({} peak) |",
        standin.api_requests().len(),
        mib(rss),
        mib(hwm)
    );
    println!(
        "\nThe idle daemon asked DNS {dns} times in those 6 s and Cloudflare's API {} times. Of its RSS, {} is anonymous memory (heap, stacks) and {} is file-backed (the mapped binary and libc).",
        standin.api_requests().len(),
        mib(anonymous),
        mib(file)
    );
    let _ = std::fs::remove_dir_all(&dir);
    println!("\n{}", idle_over_tls(&binary));
    println!("\n{}", inadyn_bench::side_by_side(&binary));
    println!("\n{}", watch_latency(&binary));
    println!("\n{per_day}");
    i32::from(failed)
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
fn idle_over_tls(binary: &Path) -> String {
    let (standin, dir, config) = scenario(3, 1);
    let (https, cert) = standin.serve_tls();
    let cert_file = dir.join("standin-ca.pem");
    std::fs::write(&cert_file, cert).expect("write the certificate");
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
    let text = over_tls.replace("[daemon]\n", "[daemon]\ninterval = \"1s\"\n")
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
        "`--once` over TLS (3 records changed, API over https with a loopback certificate trusted through SSL_CERT_FILE): peak RSS **{}**, exit {}.\n\nIdle daemon over TLS (the same, `[metrics] listen` on and a webhook configured, 3 records changed then `interval = \"1s\"` for 8 s): **{} RSS now** ({} peak), after {requests} API request(s){}.",
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

fn fastrand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}
