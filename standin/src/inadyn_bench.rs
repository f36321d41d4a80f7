//! flaredns beside inadyn (issue 23): the peak RSS of one `--once` over TLS and the requests
//! it sends, for both programs updating the same records at the stand-in.
//!
//! inadyn's Cloudflare plugin has `https://api.cloudflare.com` built in, so both programs run
//! in a network namespace made here, with a private `/etc/hosts` (bind-mounted in the child's
//! own mount namespace) that sends api.cloudflare.com to 127.0.0.1, where the stand-in serves
//! the API and its IP echo over TLS on port 443. The certificate comes from a throwaway CA,
//! appended to the system's CA bundle so that each program loads a full root store as it
//! would in production (flaredns through `SSL_CERT_FILE`, inadyn through `ca-trust-file`).
//! Nothing leaves the namespace. Each run starts cold (new state or cache directory) and sees
//! an address the records do not hold yet; its peak is `VmHWM` at exit, read by
//! `flaredns_standin::peak`. Without root, or without inadyn, it says what it skipped.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use flaredns_standin::{Record, Standin, TOKEN};

/// The host inadyn's Cloudflare plugin talks to.
const API_HOST: &str = "api.cloudflare.com";
/// The zone both programs update.
const ZONE: &str = "zone0.example.net";
/// What the records hold before each run.
const OLD_ADDRESS: &str = "81.23.45.10";
/// The system's CA bundle (Debian's path; gnutls's and rustls-native-certs's default).
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// Runs per program and scenario.
const ROUNDS: usize = 5;

/// A network namespace with loopback up, kept alive by an open handle.
struct Namespace {
    handle: File,
}

/// One program's runs in one scenario.
#[derive(Default)]
struct Runs {
    peaks_kib: Vec<i64>,
    /// Per run: API requests, of them writes, and other requests (the IP check).
    requests: Vec<(usize, usize, usize)>,
    failures: Vec<String>,
}

/// `flaredns-standin bench-inadyn`: the comparison alone, without the rest of the bench.
pub(crate) fn alone(flaredns: Option<PathBuf>) -> i32 {
    let Some(flaredns) = flaredns else {
        eprintln!("no release flaredns binary: run cargo build --release, or set FLAREDNS_BIN");
        return 1;
    };
    println!("{}", side_by_side(&flaredns));
    0
}

/// The flaredns binaries to measure: the dynamic release build, and the static one that the
/// release artifacts, the .deb and the image ship (`$FLAREDNS_STATIC_BIN`, which
/// `scripts/bench` sets after building it with `scripts/build-static`), when there is one.
fn flaredns_programs(dynamic: &Path) -> Vec<(String, PathBuf)> {
    let mut programs = vec![("flaredns".to_string(), dynamic.to_path_buf())];
    if let Some(path) = std::env::var_os("FLAREDNS_STATIC_BIN").map(PathBuf::from) {
        if path.exists() {
            programs.push(("flaredns, static (as shipped)".to_string(), path));
        }
    }
    programs
}

/// The side-by-side table and how it was made, or why it was skipped.
pub(crate) fn side_by_side(flaredns: &Path) -> String {
    let flaredns = flaredns_programs(flaredns);
    let inadyn = inadyn_binary();
    let scratch =
        std::env::temp_dir().join(format!("flaredns-bench-inadyn-{}", std::process::id()));
    if let Err(error) = std::fs::create_dir_all(&scratch) {
        return format!("flaredns beside inadyn: skipped (no scratch directory: {error}).");
    }
    let result = measure_both(&flaredns, inadyn.as_deref(), &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    match result {
        Ok(text) => text,
        Err(why) => format!("flaredns beside inadyn: skipped ({why})."),
    }
}

/// What every run shares: the stand-in and where programs run.
struct Bench<'a> {
    standin: Standin,
    sandbox: Sandbox<'a>,
    /// The last octet of the address the echo reports next: every run sees a new one.
    next_octet: usize,
}

fn measure_both(
    flaredns: &[(String, PathBuf)],
    inadyn: Option<&Path>,
    scratch: &Path,
) -> Result<String, String> {
    let (namespace, listener) = Namespace::new()?;
    let standin = Standin::start();
    standin.add_zone(ZONE);
    for index in 0..3 {
        standin.add_record(ZONE, Record::new(&host(index), "A", OLD_ADDRESS));
    }
    let ca = standin.serve_api_tls_as(listener, &[API_HOST]);
    let system_roots = std::fs::read_to_string(SYSTEM_BUNDLE).unwrap_or_default();
    let full_store = scratch.join("system-and-test-ca.pem");
    let test_ca_only = scratch.join("test-ca.pem");
    std::fs::write(&full_store, format!("{system_roots}\n{ca}"))
        .and_then(|()| std::fs::write(&test_ca_only, &ca))
        .map_err(|e| format!("CA bundle: {e}"))?;
    let hosts = scratch.join("hosts");
    std::fs::write(
        &hosts,
        format!("127.0.0.1 localhost\n::1 localhost\n127.0.0.1 {API_HOST}\n"),
    )
    .map_err(|e| format!("hosts file: {e}"))?;
    let mut bench = Bench {
        standin,
        sandbox: Sandbox {
            namespace: &namespace,
            hosts: &hosts,
        },
        next_octet: 100,
    };
    let inadyn = inadyn.map(|binary| (binary, version(binary)));
    let mut lines = vec![
        "| `--once` over TLS, cold start | program | peak RSS (min–max of 5) | requests per run |"
            .to_string(),
        "|---|---|---:|---|".to_string(),
    ];
    let scenarios = [
        ("1 record changed", 1, &full_store),
        ("3 records changed", 3, &full_store),
        (
            "1 record changed, only the test CA trusted",
            1,
            &test_ca_only,
        ),
    ];
    for (label, n_records, bundle) in scenarios {
        let mut flaredns_runs: Vec<Runs> = flaredns.iter().map(|_| Runs::default()).collect();
        let mut inadyn_runs = Runs::default();
        for round in 0..ROUNDS {
            for ((_, binary), runs) in flaredns.iter().zip(flaredns_runs.iter_mut()) {
                let dir =
                    scratch.join(format!("flaredns-{n_records}-{round}-{}", bench.next_octet));
                let command = flaredns_command(binary, &dir, bundle, n_records)?;
                bench.run(command, &dir, n_records, runs);
            }
            if let Some((binary, _)) = inadyn {
                let dir = scratch.join(format!("inadyn-{n_records}-{round}-{}", bench.next_octet));
                let command = inadyn_command(binary, &dir, bundle, n_records)?;
                bench.run(command, &dir, n_records, &mut inadyn_runs);
            }
        }
        for ((program, _), runs) in flaredns.iter().zip(&flaredns_runs) {
            lines.push(row(label, program, runs));
        }
        if let Some((_, version)) = &inadyn {
            lines.push(row(label, &format!("inadyn {version}"), &inadyn_runs));
        }
    }
    let skipped = match inadyn {
        Some(_) => String::new(),
        None => " inadyn: skipped (not found: install it, or set INADYN_BIN).".to_string(),
    };
    Ok(format!(
        "flaredns beside inadyn, both in a network namespace made for the run: a private /etc/hosts sends {API_HOST} to 127.0.0.1, where the stand-in serves the API and its IP echo (`/ip`) over TLS on port 443 with a certificate from a throwaway CA. The trust file (flaredns: `SSL_CERT_FILE`; inadyn: `ca-trust-file`) is {SYSTEM_BUNDLE} with that CA appended, as each loads the system's roots in production, except in the last rows. Each run starts cold (new state or cache directory) and sees a new address; records in {ZONE}; peak RSS is the program's VmHWM at exit.{skipped}\n\n{}",
        lines.join("\n")
    ))
}

/// `hostN.zone0.example.net`.
fn host(index: usize) -> String {
    format!("host{index}.{ZONE}")
}

/// One table row: the peak's range and the requests of a run.
fn row(label: &str, program: &str, runs: &Runs) -> String {
    let peak = match (runs.peaks_kib.iter().min(), runs.peaks_kib.iter().max()) {
        (Some(low), Some(high)) => format!("{:.1}–{:.1} MiB", mib(*low), mib(*high)),
        _ => "—".to_string(),
    };
    let mut shapes: Vec<String> = runs
        .requests
        .iter()
        .map(|(api, writes, other)| {
            format!(
                "{api} API ({writes} write{}) + {other} IP check",
                plural(*writes)
            )
        })
        .collect();
    shapes.dedup();
    let failed = match runs.failures.first() {
        Some(first) => format!(
            " ({} of {} runs failed; first: {first})",
            runs.failures.len(),
            ROUNDS
        ),
        None => String::new(),
    };
    format!(
        "| {label} | {program}{failed} | {peak} | {} |",
        shapes.join(" / ")
    )
}

fn mib(kib: i64) -> f64 {
    kib as f64 / 1024.0
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

/// flaredns's `--once` with a config for the first `n_records` records, in a new `dir`.
fn flaredns_command(
    binary: &Path,
    dir: &Path,
    bundle: &Path,
    n_records: usize,
) -> Result<Command, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let token = dir.join("token");
    std::fs::write(&token, TOKEN).map_err(|e| format!("token file: {e}"))?;
    let mut config = format!(
        "[cloudflare]\napi_url = \"https://{API_HOST}/client/v4\"\napi_token_file = \"{}\"\n\n[detect]\nipv4 = [\"url:https://{API_HOST}/ip\"]\n\n[check]\nnameservers = \"api\"\n\n[daemon]\nstate_dir = \"{}\"\n",
        token.display(),
        dir.join("state").display()
    );
    for index in 0..n_records {
        config.push_str(&format!("\n[[records]]\nname = \"{}\"\n", host(index)));
    }
    let path = dir.join("config.toml");
    std::fs::write(&path, config).map_err(|e| format!("flaredns config: {e}"))?;
    let mut command = Command::new(binary);
    command
        .arg("--config")
        .arg(&path)
        .arg("--once")
        .env_remove("RUST_LOG")
        .env("SSL_CERT_FILE", bundle);
    Ok(command)
}

/// inadyn's `--once` with its Cloudflare plugin for the first `n_records` records, in a new
/// `dir` (its cache there too, so it starts cold).
fn inadyn_command(
    binary: &Path,
    dir: &Path,
    bundle: &Path,
    n_records: usize,
) -> Result<Command, String> {
    std::fs::create_dir_all(dir.join("cache")).map_err(|e| format!("{}: {e}", dir.display()))?;
    let hostnames: Vec<String> = (0..n_records)
        .map(|index| format!("\"{}\"", host(index)))
        .collect();
    let config = format!(
        "ca-trust-file = {}\n\nprovider cloudflare.com {{\n    username = {ZONE}\n    password = {TOKEN}\n    hostname = {{ {} }}\n    ttl = 1\n    checkip-server = {API_HOST}\n    checkip-path = /ip\n    checkip-ssl = true\n}}\n",
        bundle.display(),
        hostnames.join(", ")
    );
    let path = dir.join("inadyn.conf");
    std::fs::write(&path, config).map_err(|e| format!("inadyn config: {e}"))?;
    let mut command = Command::new(binary);
    command
        .args(["--once", "--foreground", "--no-pidfile", "--config"])
        .arg(&path)
        .arg("--cache-dir")
        .arg(dir.join("cache"));
    Ok(command)
}

/// `$INADYN_BIN`, else inadyn where Debian installs it, else on `PATH`.
fn inadyn_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("INADYN_BIN") {
        let path = PathBuf::from(path);
        return path.exists().then_some(path);
    }
    let installed = Path::new("/usr/sbin/inadyn");
    if installed.exists() {
        return Some(installed.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("inadyn"))
        .find(|path| path.exists())
}

/// `inadyn --version`'s first line.
fn version(binary: &Path) -> String {
    Command::new(binary)
        .arg("--version")
        .output()
        .ok()
        .and_then(|output| {
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .next()
                .map(|line| line.trim().to_string())
        })
        .filter(|line| !line.is_empty())
        .unwrap_or_else(|| "(version unknown)".to_string())
}

impl Bench<'_> {
    /// Runs `command` in the sandbox after the stand-in's echo moves to a new address, and records
    /// its peak, its requests and whether it left the records at that address.
    fn run(&mut self, mut command: Command, dir: &Path, n_records: usize, runs: &mut Runs) {
        let address = format!("81.23.45.{}", self.next_octet);
        self.next_octet += 1;
        let standin = &self.standin;
        standin.set_public_ipv4(&address);
        standin.clear_requests();
        let log = dir.join("output.log");
        let output = File::create(&log).and_then(|file| Ok((file.try_clone()?, file)));
        if let Ok((stdout, stderr)) = output {
            command.stdout(stdout).stderr(stderr);
        } else {
            command.stdout(Stdio::null()).stderr(Stdio::null());
        }
        if let Err(error) = self.sandbox.enter(&mut command) {
            runs.failures.push(error);
            return;
        }
        let traced = flaredns_standin::peak::run(&mut command);
        let requests = standin.requests();
        let api = requests.iter().filter(|r| r.is_api()).count();
        let writes = requests
            .iter()
            .filter(|r| r.is_api() && r.is_write())
            .count();
        let records = standin.records(ZONE);
        let updated = (0..n_records).all(|index| {
            records
                .iter()
                .any(|record| record.name == host(index) && record.content == address)
        });
        if traced.code != 0 || !updated {
            let last = std::fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .rev()
                .find(|line| !line.trim().is_empty())
                .unwrap_or("")
                .to_string();
            runs.failures.push(format!(
                "exit {}{}: {last}",
                traced.code,
                if updated { "" } else { ", records not updated" }
            ));
        }
        runs.peaks_kib.push(traced.peak_rss_kib);
        runs.requests.push((api, writes, requests.len() - api));
    }
}

impl Namespace {
    /// A new network namespace with loopback up, and a listener on 127.0.0.1:443 in it. A
    /// thread of its own enters it, so this process stays where it was.
    fn new() -> Result<(Namespace, std::net::TcpListener), String> {
        std::thread::spawn(|| {
            // SAFETY: unshare changes only this thread's network namespace; it takes no pointer.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return Err(format!(
                    "cannot create a network namespace: {} (root needed)",
                    std::io::Error::last_os_error()
                ));
            }
            let up = Command::new("ip")
                .args(["link", "set", "lo", "up"])
                .status()
                .map(|status| status.success())
                .unwrap_or(false);
            if !up {
                return Err(
                    "cannot bring loopback up in the namespace (iproute2 needed)".to_string(),
                );
            }
            let handle = File::open("/proc/thread-self/ns/net")
                .map_err(|e| format!("cannot open the namespace: {e}"))?;
            let listener = std::net::TcpListener::bind("127.0.0.1:443")
                .map_err(|e| format!("cannot listen on 127.0.0.1:443 in the namespace: {e}"))?;
            Ok((Namespace { handle }, listener))
        })
        .join()
        .unwrap_or_else(|_| Err("the namespace thread panicked".to_string()))
    }
}

/// Where a measured program runs: the namespace, with `hosts` mounted over /etc/hosts.
struct Sandbox<'a> {
    namespace: &'a Namespace,
    hosts: &'a Path,
}

impl Sandbox<'_> {
    /// Makes `command` start in the namespace with a mount namespace of its own, where the
    /// private hosts file covers /etc/hosts.
    fn enter(&self, command: &mut Command) -> Result<(), String> {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::process::CommandExt;
        let c_string =
            |bytes: &[u8]| CString::new(bytes).map_err(|_| "a path with a NUL byte".to_string());
        let hosts = c_string(self.hosts.as_os_str().as_bytes())?;
        let etc_hosts = c_string(b"/etc/hosts")?;
        let root = c_string(b"/")?;
        let namespace = self.namespace.handle.as_raw_fd();
        // SAFETY: between fork and exec only async-signal-safe system calls run, on strings
        // made before the fork; each failure is reported through the error.
        unsafe {
            command.pre_exec(move || {
                let check = |result: libc::c_int| {
                    if result == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                };
                check(libc::setns(namespace, libc::CLONE_NEWNET))?;
                check(libc::unshare(libc::CLONE_NEWNS))?;
                check(libc::mount(
                    std::ptr::null(),
                    root.as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ))?;
                check(libc::mount(
                    hosts.as_ptr(),
                    etc_hosts.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND,
                    std::ptr::null(),
                ))
            });
        }
        Ok(())
    }
}
