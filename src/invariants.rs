//! The invariants docs/ARCHITECTURE.md states, checked against the source: a test that fails
//! when a boundary is crossed, so the map stays true. Tests only; reads `src/` as text.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/`, with its text, outside tests (a `tests.rs` or `*_tests.rs`
/// file, and from the first `#[cfg(test)]` line of a file on: tests may cross boundaries).
fn sources() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, found: &mut Vec<(PathBuf, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "rs")
                && !path
                    .file_stem()
                    .is_some_and(|stem| stem.to_string_lossy().ends_with("tests"))
            {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                found.push((path, code.to_string()));
            }
        }
    }
    let mut found = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut found,
    );
    found
}

/// The files (relative to src/) whose code mentions `needle`, outside the allowed prefixes.
fn offenders(needle: &str, allowed: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    sources()
        .into_iter()
        .filter(|(_, code)| code.contains(needle))
        .filter_map(|(path, _)| {
            let relative = path.strip_prefix(&root).ok()?.display().to_string();
            (!allowed.iter().any(|prefix| relative.starts_with(prefix))).then_some(relative)
        })
        .filter(|relative| relative != "invariants.rs")
        .collect()
}

#[test]
fn only_the_http_edges_use_reqwest() {
    let found = offenders(
        "reqwest",
        &["cloudflare/", "http.rs", "detect/", "notify/", "logging.rs"],
    );
    assert!(
        found.is_empty(),
        "reqwest outside the HTTP edges: {found:?}"
    );
}

#[test]
fn the_state_directory_knows_neither_the_cycle_nor_the_api_client() {
    for needle in ["crate::cycle", "crate::cloudflare", "crate::publish"] {
        let found: Vec<String> = offenders(needle, &[])
            .into_iter()
            .filter(|file| file.starts_with("state/"))
            .collect();
        assert!(found.is_empty(), "{needle} in {found:?}");
    }
}

#[test]
fn only_the_client_spends_the_token() {
    // `ApiToken::expose` is called where the Authorization header is built and where an
    // echoed token is redacted, both in the request loop.
    let found: Vec<String> = offenders("token.expose()", &["cloudflare/request.rs"]);
    assert!(found.is_empty(), "the token exposed in {found:?}");
}

#[test]
fn the_wall_clock_is_read_in_one_place() {
    // `clock::wall_now`: the system clock in the binary, virtual time's in a paused test, so
    // what is remembered in wall-clock seconds and what is waited in tokio's time agree.
    let found = offenders("SystemTime::now", &["clock.rs", "fuzz.rs"]);
    assert!(found.is_empty(), "SystemTime::now in {found:?}");
}

#[test]
fn only_the_daemon_knows_signals() {
    let found = offenders("tokio::signal", &["daemon/"]);
    assert!(found.is_empty(), "signals outside the daemon: {found:?}");
}

#[test]
fn the_planners_do_no_io() {
    for planner in [
        "plan.rs",
        "reconcile.rs",
        "waf/mod.rs",
        "prefix.rs",
        "cycle/desired.rs",
    ] {
        let code = sources()
            .into_iter()
            .find(|(path, _)| path.ends_with(planner))
            .map(|(_, code)| code)
            .unwrap_or_default();
        for io in [
            "tokio::",
            "std::fs",
            "reqwest",
            "SystemTime::now",
            "Instant::now",
        ] {
            let allowed = planner == "cycle/desired.rs" && io == "tokio::";
            assert!(allowed || !code.contains(io), "{planner} uses {io}");
        }
    }
}

#[test]
fn readers_after_a_cycle_read_its_facts_not_its_report() {
    // The report becomes `CycleFacts` once, in publish/facts.rs; the status, events,
    // heartbeat, metrics, page and `status` read the facts or the status advanced from them.
    for needle in ["crate::cycle", "CycleReport"] {
        let found: Vec<String> = offenders(needle, &[])
            .into_iter()
            .filter(|file| {
                ["notify/", "metrics/", "status.rs", "publish/status.rs"]
                    .iter()
                    .any(|reader| file.starts_with(reader))
            })
            .collect();
        assert!(found.is_empty(), "{needle} read in {found:?}");
    }
}

#[test]
fn failures_are_typed_not_strings() {
    let found: Vec<String> = sources()
        .into_iter()
        .filter(|(_, code)| code.contains(", String>") && code.contains("Result<"))
        .filter(|(_, code)| {
            code.lines()
                .any(|line| line.contains("Result<") && line.contains(", String>"))
        })
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(found.is_empty(), "Result<_, String> in {found:?}");
}
