//! A CNAME at a managed name: refused without `replace_cname`, replaced in one batch with it.

use crate::harness::{record, Record, World, PUBLIC_IPV4};

#[test]
fn cname_is_refused_without_replace_cname_and_nothing_changes() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "CNAME", "myhome.duckdns.org"),
    );
    let outcome = world.once(&record("home.example.com"));
    assert_eq!(outcome.code, 1, "{}", outcome.output());
    assert!(
        outcome.stderr.contains("CNAME to myhome.duckdns.org"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("replace_cname"),
        "{}",
        outcome.stderr
    );
    assert!(outcome.writes().is_empty());
    assert_eq!(
        world.standin.records_at("example.com", "home.example.com")[0].record_type,
        "CNAME"
    );
}

#[test]
fn replace_cname_swaps_it_for_an_a_record_in_one_batch_and_keeps_txt() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "CNAME", "myhome.duckdns.org").proxied(true),
    );
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "TXT", "v=spf1 -all"),
    );
    let config = world.config(&format!(
        "{}replace_cname = true\n",
        record("home.example.com")
    ));
    let dry = world.run(&config, &["--once", "--dry-run"]);
    assert!(
        dry.stdout.contains(&format!(
            "replace CNAME → myhome.duckdns.org with A {PUBLIC_IPV4}"
        )),
        "{}",
        dry.stdout
    );
    assert!(dry.writes().is_empty());
    let outcome = world.run(&config, &["--once"]);
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert_eq!(outcome.writes().len(), 1, "one batch: {:?}", outcome.api);
    let records = world.standin.records_at("example.com", "home.example.com");
    let types: Vec<&str> = records.iter().map(|r| r.record_type.as_str()).collect();
    assert_eq!(types, vec!["A", "TXT"]);
    assert!(records[0].proxied, "proxied carried over from the CNAME");
    assert_eq!(records[0].content, PUBLIC_IPV4);
}
