//! One test per bug that ordinary use ran into, each with the issue that reported it.

use crate::harness::{record, Record, World, OLD_IPV4, PUBLIC_IPV4};

// See: issue 21, point 6. In api mode a dashboard edit stayed for an hour: memory said "in sync".
#[test]
fn api_mode_compares_through_the_api_every_run() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4).proxied(true),
    );
    let dns = format!("nameservers = [\"{}\"]", world.standin.dns_addr());
    let config = world
        .config(&record("home.example.com"))
        .replace(&dns, "nameservers = \"api\"");
    assert!(config.contains("nameservers = \"api\""), "{config}");
    assert_eq!(world.run(&config, &["--once"]).code, 0);
    // A hand edit in the dashboard, a minute later.
    let id = world.standin.records_at("example.com", "home.example.com")[0]
        .id
        .clone();
    for zone in &mut world.standin.state().zones {
        for held in &mut zone.records {
            if held.id == id {
                held.content = "9.9.9.9".to_string();
            }
        }
    }
    let outcome = world.run(&config, &["--once"]);
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert_eq!(
        world.standin.records_at("example.com", "home.example.com")[0].content,
        PUBLIC_IPV4
    );
}
