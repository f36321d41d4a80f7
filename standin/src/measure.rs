//! The benchmark's instruments: finding the release binary, running it as a process and
//! reading its wall time and its own peak RSS (traced, see `peak`), and reading /proc for the
//! machine and a running daemon's memory. `bench` decides what to run.

use std::path::Path;
use std::time::Instant;

/// The release `flaredns` binary: `$FLAREDNS_BIN`, else the one beside this program.
pub(crate) fn flaredns_binary() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("FLAREDNS_BIN") {
        return Some(path.into());
    }
    let sibling = std::env::current_exe().ok()?.parent()?.join("flaredns");
    sibling.exists().then_some(sibling)
}

/// What one run of the binary cost.
pub(crate) struct Measured {
    pub(crate) code: i32,
    pub(crate) wall: std::time::Duration,
    pub(crate) peak_rss_kib: i64,
}

/// Runs the binary to completion and reads its own peak RSS.
pub(crate) fn measure(binary: &Path, args: &[&str]) -> Measured {
    measure_with(binary, args, &[])
}

/// `measure` with more environment variables (`SSL_CERT_FILE` for a run over TLS). The peak
/// is the child's own (see `flaredns_standin::peak`), not `wait4`'s, which counts this
/// benchmark's size too.
pub(crate) fn measure_with(binary: &Path, args: &[&str], env: &[(&str, &Path)]) -> Measured {
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

/// The machine, for the table's caption: cores, CPU model, OS and architecture.
pub(crate) fn machine() -> String {
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
pub(crate) fn proc_field(text: &str, name: &str) -> i64 {
    text.lines()
        .find(|line| line.starts_with(name))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|value| value.parse::<i64>().ok())
        .unwrap_or(0)
}

/// KiB as MiB with one decimal.
pub(crate) fn mib(kib: i64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
