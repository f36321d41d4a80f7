//! `flaredns-standin demo`: the real flaredns job run end to end against a stand-in, each step
//! printed as the command a person would type and what it cost in API requests: doctor, the
//! dry-run plan, the update, the quiet second run, an address change, `status`, the page and
//! the textfile.

use clap::Parser;
use flaredns::cli::Cli;
use flaredns_standin::{Record, Standin, PUBLIC_IPV4};

use crate::{demo_page, write_config};

/// Runs the demo; its exit code is the quiet second run's.
pub(crate) fn demo() -> i32 {
    flaredns::logging::init(0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let standin = Standin::start();
    let dir = std::env::temp_dir().join(format!("flaredns-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("demo directory");
    let records = seed(&standin, &dir);
    let config = write_config(&standin, &dir, &records);
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
    println!("config:\n{}", indent(&records));

    let step = |note: &str, args: &[&str]| {
        let shown = args.join(" ");
        println!("\n$ flaredns --config {config} {shown}{note}");
        standin.clear_requests();
        let mut full = vec!["--config", config.as_str()];
        full.extend_from_slice(args);
        let code = run_flaredns(&runtime, &full);
        report(&standin, code);
        code
    };
    step(
        "     # detection, token, zone and records, changing nothing",
        &["doctor"],
    );
    step("", &["--once", "--dry-run"]);
    step("", &["--once"]);
    print_records(&standin);
    print_list(&standin);
    print_events(&standin);

    let again = step(
        "     # again: DNS shows everything in sync, and the proxied record is remembered",
        &["--once"],
    );
    print_events(&standin);

    standin.set_public_ipv4("81.23.45.77");
    print!(
        "\n# the ISP hands out 81.23.45.77: one listing (every write names an id read in this run) and one batch"
    );
    step("", &["--once"]);
    print_list(&standin);
    print_events(&standin);

    step(
        "     # what the last cycle did, from the state directory, no request",
        &["status"],
    );
    demo_page::show_page(&runtime, &config);
    print_textfile(&dir);

    let _ = std::fs::remove_dir_all(&dir);
    i32::from(again)
}

/// The demo's Cloudflare account (for its WAF list).
const DEMO_ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

/// Fills the stand-in's zone example.com and returns the demo config's records and sections.
fn seed(standin: &Standin, dir: &std::path::Path) -> String {
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
    standin.add_record(
        "example.com",
        Record::new("www.example.com", "A", "81.23.45.10").proxied(true),
    );
    format!(
        "[[records]]\nname = \"home.example.com\"\n\n[[records]]\nname = \"vpn.example.com\"\n\n[[records]]\nname = \"www.example.com\"   # proxied: DNS cannot confirm it\n\n[[records]]\nname = \"nas.example.com\"\ncomment = \"managed by flaredns\"\n\n[[waf_lists]]                   # the skip rule's list: ip.src in $home_ips\naccount = \"{DEMO_ACCOUNT}\"\nname = \"home_ips\"\n\n[notify]\nwebhooks = [\"{}\"]\n\n[metrics]\nlisten = \"127.0.0.1:0\"          # the daemon serves /, /status.json, /metrics, /healthz\ntextfile = \"{}\"\n",
        standin.url("/hook/demo"),
        dir.join("flaredns.prom").display()
    )
}

/// The node_exporter textfile's cycle counters.
fn print_textfile(dir: &std::path::Path) {
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
}

fn run_flaredns(runtime: &tokio::runtime::Runtime, args: &[&str]) -> u8 {
    let cli = Cli::try_parse_from(std::iter::once("flaredns").chain(args.iter().copied()))
        .expect("demo arguments");
    runtime.block_on(flaredns::run(&cli))
}

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
