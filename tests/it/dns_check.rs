//! The DNS shortcut: authoritative answers decide whether the API is needed at all.

use crate::harness::{record, Record, World, PUBLIC_IPV4};

#[test]
fn auto_nameservers_come_from_the_zone_and_in_sync_costs_nothing_once_cached() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", PUBLIC_IPV4),
    );
    let config = world.config(&record("home.example.com")).replace(
        &format!("nameservers = [\"{}\"]", world.standin.dns_addr()),
        "nameservers = \"auto\"",
    );
    let first = world.run(&config, &["--once"]);
    assert_eq!(first.code, 0, "{}", first.output());
    assert_eq!(first.api.len(), 1, "only the zone list: {:?}", first.api);
    let second = world.run(&config, &["--once"]);
    assert_eq!(second.code, 0, "{}", second.output());
    assert!(second.api.is_empty(), "{:?}", second.api);
    assert!(world.standin.dns_queries() >= 2);
}

#[tokio::test(start_paused = true)]
async fn unreachable_dns_falls_back_to_the_api_and_says_so_once() {
    let here = crate::paused::Here::new().await;
    let world = &here.world;
    world.standin.add_record(
        "example.com",
        Record::new("a.example.com", "A", PUBLIC_IPV4),
    );
    world.standin.add_record(
        "example.com",
        Record::new("b.example.com", "A", PUBLIC_IPV4),
    );
    world.standin.set_dns_up(false);
    let config = world
        .config(&format!(
            "{}{}",
            record("a.example.com"),
            record("b.example.com")
        ))
        .replace("timeout = \"2s\"", "timeout = \"1s\"");
    assert_eq!(here.once(&config).await, 0, "{}", here.log());
    let log = here.log();
    assert_eq!(log.matches("did not answer").count(), 1, "{log}");
    let api = world.standin.api_requests();
    assert!(
        api.iter().all(|request| !request.is_write()),
        "records were in sync: {api:?}"
    );
    assert_eq!(api.len(), 2, "zones + list: {api:?}");
}

#[test]
fn check_api_mode_skips_dns() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", PUBLIC_IPV4),
    );
    let before = world.standin.dns_queries();
    let config = world.config(&record("home.example.com")).replace(
        &format!("nameservers = [\"{}\"]", world.standin.dns_addr()),
        "nameservers = \"api\"",
    );
    let outcome = world.run(&config, &["--once"]);
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert_eq!(world.standin.dns_queries(), before);
    assert_eq!(outcome.api.len(), 2, "{:?}", outcome.api);
}
