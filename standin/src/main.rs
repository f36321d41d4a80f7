//! `flaredns-standin`: the stand-in as a program.
//! - `demo`: runs the real flaredns job end to end against the stand-in (no Cloudflare
//!   account needed): detection, the dry-run plan, the update, the quiet second run, the
//!   address change with its history, and the page the daemon serves.
//! - `serve`: keeps a stand-in with a demo zone running and prints its addresses.
//! - `bench`: runs the release binary through the README's scenarios: API requests, wall
//!   time and peak RSS per cycle, the idle daemon's RSS, and the binary's size.
//! - `bench-inadyn`: only the bench's part that runs flaredns beside inadyn.

use std::path::Path;

mod bench;
mod demo;
mod demo_page;
mod inadyn_bench;
mod measure;

use flaredns_standin::{Record, Standin, TOKEN};

fn main() {
    let command = std::env::args().nth(1).unwrap_or_default();
    let code = match command.as_str() {
        "demo" => demo::demo(),
        "serve" => serve(),
        "bench" => bench::bench(),
        "bench-inadyn" => inadyn_bench::alone(measure::flaredns_binary()),
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
