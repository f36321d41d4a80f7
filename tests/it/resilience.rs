//! Failures the cycle must survive and explain.

use crate::harness::{record, Fault, Record, World, OLD_IPV4};
use crate::paused::Here;

#[test]
fn a_challenge_page_is_reported_as_such_and_not_retried() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    world.standin.inject(Fault::challenge());
    let outcome = world.once(&record("home.example.com"));
    assert_eq!(outcome.code, 1, "{}", outcome.output());
    assert!(outcome.api.len() <= 3, "{:?}", outcome.api);
    assert!(outcome.stderr.contains("challenge"), "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("Under Attack") && outcome.stderr.contains("WAF skip rule"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_rejected_token_says_token() {
    let mut world = World::new();
    world.env.push((
        "CLOUDFLARE_API_TOKEN".to_string(),
        "wrong-token".to_string(),
    ));
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let outcome = world.once(&record("home.example.com"));
    assert_eq!(outcome.code, 1, "{}", outcome.output());
    assert!(outcome.api.len() <= 2, "{:?}", outcome.api);
    assert!(outcome.stderr.contains("token"), "{}", outcome.stderr);
    assert!(!outcome.output().contains("wrong-token"));
}

#[test]
fn detection_failure_exits_1_and_writes_nothing() {
    let world = World::new();
    world.standin.set_public_ipv4("192.168.1.20");
    let outcome = world.once(&record("home.example.com"));
    assert_eq!(outcome.code, 1, "{}", outcome.output());
    assert!(outcome.stderr.contains("private"), "{}", outcome.stderr);
    assert!(outcome.api.is_empty(), "{:?}", outcome.api);
}

#[tokio::test(start_paused = true)]
async fn rate_limit_with_retry_after_is_waited_out() {
    let here = Here::new().await;
    let world = &here.world;
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    world.standin.inject(Fault::status(429, r#"{"success":false,"errors":[{"code":971,"message":"Please wait and consider throttling your request speed"}]}"#).header("retry-after", "2").times(1));
    let code = here.once(&world.config(&record("home.example.com"))).await;
    assert_eq!(code, 0, "{}", here.log());
    let api = world.standin.api_requests();
    let gap = api[1].at - api[0].at;
    assert!(gap >= 2.0, "the retry came {gap}s after the 429");
}

#[tokio::test(start_paused = true)]
async fn server_errors_on_every_request_exit_1_after_at_most_six_requests() {
    let here = Here::new().await;
    let world = &here.world;
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    world
        .standin
        .add_record("example.com", Record::new("www.example.com", "A", OLD_IPV4));
    world.standin.inject(Fault::status(
        500,
        r#"{"success":false,"errors":[{"code":10000,"message":"internal error"}]}"#,
    ));
    let config = world.config(&format!(
        "{}{}",
        record("home.example.com"),
        record("www.example.com")
    ));
    assert_eq!(here.once(&config).await, 1, "{}", here.log());
    let api = world.standin.api_requests();
    assert!(api.len() <= 6, "{} requests: {api:?}", api.len());
    assert!(here.log().contains("HTTP 500"), "{}", here.log());
}

#[test]
fn a_body_that_is_not_json_is_reported_without_a_panic() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    world
        .standin
        .inject(Fault::status(200, "this is not json {").path("/zones"));
    let outcome = world.once(&record("home.example.com"));
    assert_eq!(outcome.code, 1, "{}", outcome.output());
    assert!(outcome.stderr.contains("not JSON"), "{}", outcome.stderr);
    assert!(!outcome.stderr.contains("panicked"), "{}", outcome.stderr);
}

#[tokio::test(start_paused = true)]
async fn a_server_that_never_answers_ends_within_the_cycle_deadline() {
    let here = Here::new().await;
    let world = &here.world;
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    world.standin.inject(Fault::hang());
    let config = world.config(&format!(
        "[daemon]\ncycle_timeout = \"1s\"\n\n{}",
        record("home.example.com")
    ));
    let started = tokio::time::Instant::now();
    let code = here.once(&config).await;
    let elapsed = started.elapsed();
    assert_eq!(code, 1, "{}", here.log());
    // In virtual time the deadline is exact: the run ends within the 1 s it was given.
    assert!(
        elapsed <= std::time::Duration::from_secs(1),
        "took {elapsed:?}"
    );
    let log = here.log();
    assert!(
        log.contains("timed out") || log.contains("deadline") || log.contains("did not finish"),
        "{log}"
    );
}

#[test]
fn a_long_retry_after_ends_the_run_and_is_remembered_by_the_next_one() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    world.standin.inject(
        Fault::status(
            429,
            r#"{"success":false,"errors":[{"code":971,"message":"Please wait"}]}"#,
        )
        .header("retry-after", "600")
        .times(1),
    );
    let first = world.once(&record("home.example.com"));
    assert_eq!(first.code, 1, "{}", first.output());
    assert_eq!(first.api.len(), 1, "{:?}", first.api);
    assert!(
        first
            .stderr
            .contains("Cloudflare asked flaredns to wait (Retry-After) until"),
        "{}",
        first.stderr
    );
    // A cron run a minute later does not ask Cloudflare again before the time it gave.
    let second = world.once(&record("home.example.com"));
    assert_eq!(second.code, 1, "{}", second.output());
    assert!(second.api.is_empty(), "{:?}", second.api);
    assert!(
        second
            .stderr
            .contains("Cloudflare asked flaredns to wait (Retry-After) until"),
        "{}",
        second.stderr
    );
}
