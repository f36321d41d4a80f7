//! `flaredns-standin`: the stand-in as a program.
//! - `demo`: runs the real flaredns job end to end against the stand-in (no Cloudflare
//!   account needed): detection, the dry-run plan, the update, and the quiet second run.
//! - `serve`: keeps a stand-in with a demo zone running and prints its addresses.
//! - `bench`: counts API requests and wall time per cycle for the README's table.

use std::path::Path;
use std::time::Instant;

use clap::Parser;
use flaredns::cli::Cli;
use flaredns_standin::{Record, Standin, PUBLIC_IPV4, TOKEN};

fn main() {
    let command = std::env::args().nth(1).unwrap_or_default();
    let code = match command.as_str() {
        "demo" => demo(),
        "serve" => serve(),
        "bench" => bench(),
        _ => {
            eprintln!("usage: flaredns-standin demo | serve | bench");
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
    let records = "[[records]]\nname = \"home.example.com\"\n\n[[records]]\nname = \"vpn.example.com\"\n\n[[records]]\nname = \"nas.example.com\"\ncomment = \"managed by flaredns\"\n";
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

    println!("\n$ flaredns --config {config} --once     # again: DNS shows everything in sync");
    standin.clear_requests();
    let code = run_flaredns(&runtime, &["--config", &config, "--once"]);
    report(&standin, code);

    let _ = std::fs::remove_dir_all(&dir);
    i32::from(code)
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

/// Runs the request-count scenarios in-process and prints a table.
fn bench() -> i32 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("| scenario | API requests | writes | wall time |");
    println!("|---|---:|---:|---:|");
    let scenarios: &[(&str, usize, usize, bool)] = &[
        ("1 record in sync, zone ids cached", 1, 1, true),
        ("1 record changed, cold start", 1, 1, false),
        ("10 records changed in 1 zone, cold start", 10, 1, false),
        ("10 records in sync, zone ids cached", 10, 1, true),
        (
            "1000 records changed in 20 zones, cold start",
            1000,
            20,
            false,
        ),
        (
            "1000 records in 20 zones in sync, zone ids cached",
            1000,
            20,
            true,
        ),
    ];
    for (label, n_records, n_zones, in_sync) in scenarios {
        let standin = Standin::start();
        let dir = std::env::temp_dir().join(format!(
            "flaredns-bench-{}-{n_records}-{n_zones}-{in_sync}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("bench directory");
        let mut records = String::new();
        for zone in 0..*n_zones {
            standin.add_zone(&format!("zone{zone}.example.net"));
        }
        for index in 0..*n_records {
            let zone = format!("zone{}.example.net", index % n_zones);
            let name = format!("host{index}.{zone}");
            standin.add_record(&zone, Record::new(&name, "A", "81.23.45.10"));
            records.push_str(&format!("[[records]]\nname = \"{name}\"\n"));
        }
        let config = write_config(&standin, &dir, &records)
            .to_string_lossy()
            .to_string();
        if *in_sync {
            // Warm up: bring everything in sync and fill the zone cache.
            run_flaredns(&runtime, &["--config", &config, "--once", "-q"]);
        }
        standin.clear_requests();
        let started = Instant::now();
        let code = run_flaredns(&runtime, &["--config", &config, "--once", "-q"]);
        let elapsed = started.elapsed();
        let api = standin.api_requests();
        let writes = api.iter().filter(|r| r.is_write()).count();
        let ok = if code == 0 { "" } else { " (failed)" };
        println!(
            "| {label}{ok} | {} | {writes} | {:.0} ms |",
            api.len(),
            elapsed.as_secs_f64() * 1000.0
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    0
}
