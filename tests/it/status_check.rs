//! `flaredns status --check`: the container's health check. Exit 0 while a cycle succeeded
//! within two intervals (the rule of `/healthz`), else 1; one line; no token needed.

use crate::harness::{record, World};

/// Rewrites `status.json`'s last success to `seconds_ago`.
fn age_last_success(world: &World, seconds_ago: u64) {
    let path = world.dir.path().join("state").join("status.json");
    let text = std::fs::read_to_string(&path).expect("status.json");
    let mut document: serde_json::Value = serde_json::from_str(&text).expect("json");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    document["last_success_at"] = serde_json::json!(now - seconds_ago);
    std::fs::write(&path, document.to_string()).expect("write status.json");
}

#[test]
fn status_check_is_healthy_after_a_success_and_unhealthy_two_intervals_later() {
    let world = World::new();
    let config = world.config(&format!(
        "[daemon]\ninterval = \"1m\"\n\n{}",
        record("home.example.com")
    ));
    let once = world.run(&config, &["--once"]);
    assert_eq!(once.code, 0, "{}", once.output());

    let healthy = world.run_without_token(&config, &["status", "--check"]);
    assert_eq!(healthy.code, 0, "{}", healthy.output());
    assert_eq!(healthy.stdout.lines().count(), 1, "{}", healthy.stdout);
    assert!(healthy.stdout.starts_with("ok:"), "{}", healthy.stdout);
    assert!(healthy.api.is_empty(), "status --check sends nothing");

    // Two minutes is two intervals: still healthy; past it, not.
    age_last_success(&world, 110);
    let still = world.run_without_token(&config, &["status", "--check"]);
    assert_eq!(still.code, 0, "{}", still.output());
    age_last_success(&world, 130);
    let stale = world.run_without_token(&config, &["status", "--check"]);
    assert_eq!(stale.code, 1, "{}", stale.output());
    assert_eq!(stale.stdout.lines().count(), 1, "{}", stale.stdout);
    assert!(stale.stdout.starts_with("unhealthy:"), "{}", stale.stdout);
}

#[test]
fn status_check_is_unhealthy_when_no_cycle_succeeded() {
    let world = World::new();
    // No zone holds this name: the cycle fails at once, without retries.
    let config = world.config(&record("home.example.org"));
    let nothing = world.run_without_token(&config, &["status", "--check"]);
    assert_eq!(nothing.code, 1, "{}", nothing.output());
    assert!(
        nothing.stdout.starts_with("unhealthy:"),
        "{}",
        nothing.stdout
    );

    let failed = world.run(&config, &["--once"]);
    assert_eq!(failed.code, 1, "{}", failed.output());
    let check = world.run_without_token(&config, &["status", "--check"]);
    assert_eq!(check.code, 1, "{}", check.output());
    assert!(
        check
            .stdout
            .starts_with("unhealthy: no successful cycle yet"),
        "{}",
        check.stdout
    );
}
