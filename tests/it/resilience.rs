//! Failures the cycle must survive and explain.

use crate::harness::{record, Fault, Record, World, OLD_IPV4};

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

#[test]
fn rate_limit_with_retry_after_is_waited_out() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    world.standin.inject(Fault::status(429, r#"{"success":false,"errors":[{"code":971,"message":"Please wait and consider throttling your request speed"}]}"#).header("retry-after", "1").times(1));
    let outcome = world.once(&record("home.example.com"));
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    let gap = outcome.api[1].at - outcome.api[0].at;
    assert!(gap >= 0.95, "the retry came {gap}s after the 429");
}
