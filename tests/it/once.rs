//! `flaredns --once`: the core cycle end to end.

use crate::harness::{record, Record, World, OLD_IPV4, PUBLIC_IPV4, TOKEN};

#[test]
fn update_changes_only_content_and_keeps_ttl_proxied_comment_and_tags() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4)
            .ttl(120)
            .comment("set by hand")
            .tags(&["team:home"]),
    );
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "TXT", "keep me"),
    );
    let outcome = world.once(&record("home.example.com"));
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    let records = world.standin.records_at("example.com", "home.example.com");
    assert_eq!(records.len(), 2);
    let a = &records[0];
    assert_eq!(
        (a.content.as_str(), a.ttl, a.proxied),
        (PUBLIC_IPV4, 120, false)
    );
    assert_eq!(a.comment.as_deref(), Some("set by hand"));
    assert_eq!(a.tags, vec!["team:home".to_string()]);
    assert_eq!(records[1].content, "keep me");
    assert!(
        outcome.api.iter().all(|r| r.method != "PUT"),
        "no PUT: {:?}",
        outcome.api
    );
    assert!(
        outcome
            .stderr
            .contains(&format!("{OLD_IPV4} → {PUBLIC_IPV4}")),
        "{}",
        outcome.stderr
    );
}

#[test]
fn second_run_in_sync_sends_no_api_request() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    assert_eq!(world.once(&record("home.example.com")).code, 0);
    let second = world.once(&record("home.example.com"));
    assert_eq!(second.code, 0, "{}", second.output());
    assert!(
        second.api.is_empty(),
        "expected no API request, got {:?}",
        second.api
    );
    assert!(
        second.stderr.trim().is_empty(),
        "in sync is silent at the default level: {}",
        second.stderr
    );
}

#[test]
fn missing_record_is_created_with_its_comment_unproxied_and_ttl_auto() {
    let world = World::new();
    let outcome = world.once(&format!(
        "{}comment = \"managed by flaredns\"\n",
        record("new.example.com")
    ));
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    let records = world.standin.records_at("example.com", "new.example.com");
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].record_type.as_str(), records[0].content.as_str()),
        ("A", PUBLIC_IPV4)
    );
    assert_eq!((records[0].proxied, records[0].ttl), (false, 1));
    assert_eq!(records[0].comment.as_deref(), Some("managed by flaredns"));
}

#[test]
fn nested_zones_pick_the_longest_suffix() {
    let world = World::new();
    world.standin.add_zone("example.net");
    world.standin.add_zone("lab.example.net");
    let outcome = world.once(&format!(
        "{}{}",
        record("nas.lab.example.net"),
        record("www.example.net")
    ));
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert_eq!(
        world
            .standin
            .records_at("lab.example.net", "nas.lab.example.net")
            .len(),
        1
    );
    assert!(world
        .standin
        .records_at("example.net", "nas.lab.example.net")
        .is_empty());
    assert_eq!(
        world
            .standin
            .records_at("example.net", "www.example.net")
            .len(),
        1
    );
}

#[test]
fn seventy_five_zones_are_all_found_through_pages() {
    let world = World::new();
    for index in 0..75 {
        world
            .standin
            .add_zone(&format!("zone{index:02}.example.org"));
    }
    let outcome = world.once(&format!(
        "{}{}",
        record("host.zone00.example.org"),
        record("host.zone74.example.org")
    ));
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert_eq!(
        world
            .standin
            .records_at("zone74.example.org", "host.zone74.example.org")
            .len(),
        1
    );
    assert_eq!(
        world
            .standin
            .records_at("zone00.example.org", "host.zone00.example.org")
            .len(),
        1
    );
    let zone_pages = outcome
        .api
        .iter()
        .filter(|r| r.path.ends_with("/zones"))
        .count();
    assert_eq!(zone_pages, 2, "76 zones at 50 a page: {:?}", outcome.api);
}

#[test]
fn ten_changed_records_in_one_zone_cost_at_most_three_requests() {
    let world = World::new();
    let mut records = String::new();
    for index in 0..10 {
        let name = format!("host{index}.example.com");
        world
            .standin
            .add_record("example.com", Record::new(&name, "A", OLD_IPV4));
        records.push_str(&record(&name));
    }
    let outcome = world.once(&records);
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert!(
        outcome.api.len() <= 3,
        "{} requests: {:?}",
        outcome.api.len(),
        outcome.api
    );
    assert_eq!(outcome.writes().len(), 1, "one batch");
    assert!(world
        .standin
        .records("example.com")
        .iter()
        .all(|r| r.content == PUBLIC_IPV4));
}

#[test]
fn proxied_record_is_updated_once_and_stays_proxied() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("api.example.com", "A", OLD_IPV4).proxied(true),
    );
    let first = world.once(&record("api.example.com"));
    assert_eq!(first.code, 0, "{}", first.output());
    assert_eq!(first.writes().len(), 1);
    let stored = world.standin.records_at("example.com", "api.example.com");
    assert_eq!(
        (stored[0].content.as_str(), stored[0].proxied),
        (PUBLIC_IPV4, true)
    );
    // DNS shows Cloudflare's address for a proxied record, so the check goes through the API,
    // but nothing is written again.
    let second = world.once(&record("api.example.com"));
    assert_eq!(second.code, 0, "{}", second.output());
    assert!(second.writes().is_empty(), "{:?}", second.api);
}

#[test]
fn one_bad_record_does_not_block_the_others_and_exits_1() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let outcome = world.once(&format!(
        "{}{}",
        record("home.example.com"),
        record("home.not-my-zone.org")
    ));
    assert_eq!(outcome.code, 1, "{}", outcome.output());
    assert!(
        outcome.stderr.contains("home.not-my-zone.org"),
        "{}",
        outcome.stderr
    );
    assert!(outcome.stderr.contains("no zone"), "{}", outcome.stderr);
    assert_eq!(
        world.standin.records_at("example.com", "home.example.com")[0].content,
        PUBLIC_IPV4
    );
}

#[test]
fn cloudflare_error_is_shown_with_code_record_and_zone() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    world.standin.inject(
        crate::harness::Fault::status(400, r#"{"success":false,"errors":[{"code":9005,"message":"Content for A record must be a valid IPv4 address."}],"result":null}"#)
            .path("/dns_records/batch"),
    );
    let outcome = world.once(&record("home.example.com"));
    assert_eq!(outcome.code, 1, "{}", outcome.output());
    assert!(
        outcome
            .stderr
            .contains("9005: Content for A record must be a valid IPv4 address."),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome
            .stderr
            .contains("home.example.com in zone example.com"),
        "{}",
        outcome.stderr
    );
    assert_eq!(
        outcome.writes().len(),
        1,
        "a single-record batch is not retried: {:?}",
        outcome.api
    );
    assert_eq!(
        world.standin.records_at("example.com", "home.example.com")[0].content,
        OLD_IPV4
    );
}

#[test]
fn the_token_never_appears_in_output_even_at_trace_level() {
    let mut world = World::new();
    world
        .env
        .push(("RUST_LOG".to_string(), "trace".to_string()));
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let outcome = world.run(
        &world.config(&record("home.example.com")),
        &["--once", "-vv"],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert!(
        outcome.stderr.contains("cloudflare request"),
        "trace logging is on: {}",
        outcome.stderr
    );
    assert!(!outcome.output().contains(TOKEN), "the token leaked");
    let check = world.run(
        &world.config(&record("home.example.com")),
        &["check-config"],
    );
    assert_eq!(check.code, 0, "{}", check.output());
    assert!(!check.output().contains(TOKEN));
    assert!(check.stdout.contains("<redacted>"));
}

#[test]
fn zone_ids_are_cached_on_disk_for_the_next_run() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let first = world.once(&record("home.example.com"));
    assert_eq!(first.code, 0);
    world.standin.set_public_ipv4("81.23.45.123");
    let second = world.once(&record("home.example.com"));
    assert_eq!(second.code, 0, "{}", second.output());
    assert!(
        second.api.iter().all(|r| !r.path.ends_with("/zones")),
        "zones came from the cache: {:?}",
        second.api
    );
    // The zone id is remembered; the record is listed again before the write (the id
    // written is always one Cloudflare showed in this run), then one batch.
    assert_eq!(second.api.len(), 2, "listing and batch: {:?}", second.api);
    assert!(second.api[1].path.ends_with("/batch"));
    assert!(world.dir.path().join("state/zones.json").exists());
}

#[test]
fn a_cached_zone_that_is_gone_is_listed_again_and_the_run_still_succeeds() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    assert_eq!(world.once(&record("home.example.com")).code, 0);
    // The zone is deleted and added again: same name, new id, stale cache.
    world.standin.state().zones.clear();
    world.standin.add_zone("example.com");
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let outcome = world.once(&record("home.example.com"));
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert_eq!(
        world.standin.records_at("example.com", "home.example.com")[0].content,
        PUBLIC_IPV4
    );
    let paths: Vec<&str> = outcome.api.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths.len(),
        4,
        "stale list (404), zones, list, batch: {paths:?}"
    );
}
