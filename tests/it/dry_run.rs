//! `--dry-run`: the plan is printed, nothing is written.

use crate::harness::{record, Record, World, OLD_IPV4, PUBLIC_IPV4};

#[test]
fn dry_run_sends_no_write_and_shows_old_and_new() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let records = format!(
        "{}{}",
        record("home.example.com"),
        record("new.example.com")
    );
    let outcome = world.run(&world.config(&records), &["--once", "--dry-run"]);
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert!(outcome.writes().is_empty(), "{:?}", outcome.api);
    assert!(
        outcome
            .stdout
            .contains(&format!("home.example.com A: {OLD_IPV4} → {PUBLIC_IPV4}")),
        "{}",
        outcome.stdout
    );
    assert!(outcome.stdout.contains("update"), "{}", outcome.stdout);
    assert!(
        outcome.stdout.contains("create") && outcome.stdout.contains("new.example.com"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains("nothing was changed"),
        "{}",
        outcome.stdout
    );
    assert_eq!(
        world.standin.records_at("example.com", "home.example.com")[0].content,
        OLD_IPV4
    );
    assert!(world
        .standin
        .records_at("example.com", "new.example.com")
        .is_empty());
}

#[test]
fn dry_run_when_in_sync_says_so() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", PUBLIC_IPV4),
    );
    let outcome = world.run(
        &world.config(&record("home.example.com")),
        &["--once", "--dry-run"],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert!(
        outcome.stdout.contains("in sync       home.example.com A"),
        "{}",
        outcome.stdout
    );
    assert!(outcome.api.is_empty());
}
