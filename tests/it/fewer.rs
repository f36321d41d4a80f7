//! Fewer requests still: a proxied record in sync costs nothing between reconciles, a
//! change is one listing and one batch (memory never chooses what to write, so a renamed or
//! tampered id is never written), a deleted record is re-created without a duplicate, and
//! records of two tokens are managed side by side without either token showing.

use std::time::Duration;

use crate::harness::{record, Record, World, OLD_IPV4, PUBLIC_IPV4};
use crate::paused::{self, Here};

#[tokio::test(start_paused = true)]
async fn a_proxied_record_in_sync_costs_no_request_between_reconciles() {
    let here = Here::new().await;
    let standin = here.standin();
    standin.add_record(
        "example.com",
        Record::new("api.example.com", "A", PUBLIC_IPV4).proxied(true),
    );
    let records = record("api.example.com");
    let once = here.world.config(&records);
    // From cron: the first run lists the zone; the next runs believe what it showed.
    assert_eq!(here.once(&once).await, 0, "{}", here.log());
    assert!(!standin.api_requests().is_empty());
    for _ in 0..3 {
        assert_eq!(here.once(&once).await, 0, "{}", here.log());
        assert!(
            standin.api_requests().is_empty(),
            "{:?}",
            standin.api_requests()
        );
    }
    // The daemon re-reads once at start, then nothing while the address holds.
    let config = here
        .world
        .config(&format!("{records}\n[daemon]\ninterval = \"1s\"\n"));
    let (code, requests) = here
        .daemon(&config, |_| async {
            // The first cycle and three more (at 1, 2 and 3 s).
            tokio::time::sleep(Duration::from_millis(3500)).await;
            standin.api_requests().len()
        })
        .await;
    assert_eq!(code, 0);
    assert_eq!(
        requests,
        1,
        "only the start-up re-read: {:?}",
        standin.api_requests()
    );
}

#[tokio::test(start_paused = true)]
async fn a_hand_edit_of_a_proxied_record_is_corrected_after_the_reconcile_interval() {
    let here = Here::new().await;
    let standin = here.standin();
    let id = standin.add_record(
        "example.com",
        Record::new("api.example.com", "A", PUBLIC_IPV4).proxied(true),
    );
    let config = here
        .world
        .config(&format!(
            "{}\n[daemon]\ninterval = \"1s\"\n",
            record("api.example.com")
        ))
        .replace("[check]\n", "[check]\nreconcile = \"3s\"\n");
    let content = || {
        standin.records_at("example.com", "api.example.com")[0]
            .content
            .clone()
    };
    let (code, (believed, corrected)) = here
        .daemon(&config, |_| async {
            assert!(paused::eventually(10, || !standin.api_requests().is_empty()).await);
            // Someone edits the record in the dashboard.
            {
                let mut state = standin.state();
                for zone in &mut state.zones {
                    for record in zone.records.iter_mut().filter(|record| record.id == id) {
                        record.content = OLD_IPV4.to_string();
                    }
                }
            }
            let edited = tokio::time::Instant::now();
            // DNS cannot see it (proxied): the listing is believed until it is 3 s old.
            tokio::time::sleep(Duration::from_millis(2500)).await;
            let believed = content() == OLD_IPV4;
            let corrected = paused::eventually(10, || content() == PUBLIC_IPV4)
                .await
                .then(|| edited.elapsed());
            (believed, corrected)
        })
        .await;
    let log = here.log();
    assert_eq!(code, 0);
    assert!(believed, "corrected before the reconcile interval: {log}");
    let corrected = corrected.unwrap_or_else(|| panic!("never corrected: {log}"));
    // At the first cycle after 3 s (the listing's age is counted in whole seconds).
    assert!(corrected <= Duration::from_millis(4500), "{corrected:?}");
    let listings = standin
        .api_requests()
        .iter()
        .filter(|request| request.path.ends_with("/dns_records"))
        .count();
    assert_eq!(listings, 2, "the start-up listing and the reconcile's");
}

#[test]
fn a_change_of_ten_records_is_a_listing_and_one_batch() {
    let world = World::new();
    let mut records = String::new();
    for index in 0..10 {
        let name = format!("h{index}.example.com");
        world
            .standin
            .add_record("example.com", Record::new(&name, "A", OLD_IPV4));
        records.push_str(&record(&name));
    }
    assert_eq!(world.once(&records).code, 0);
    world.standin.set_public_ipv4("81.23.45.77");
    let warm = world.once(&records);
    assert_eq!(warm.code, 0, "{}", warm.output());
    assert_eq!(warm.api.len(), 2, "{:?}", warm.api);
    assert!(warm.api[0].path.ends_with("/dns_records"));
    assert!(warm.api[1].path.ends_with("/batch"));
    let updated = world
        .standin
        .records("example.com")
        .iter()
        .filter(|record| record.content == "81.23.45.77")
        .count();
    assert_eq!(updated, 10);
}

#[test]
fn a_remembered_record_deleted_by_hand_is_recreated_once_without_a_duplicate() {
    let world = World::new();
    let id = world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    assert_eq!(world.once(&record("home.example.com")).code, 0);
    // Deleted by hand, and re-created by hand with another id and an old address.
    {
        let mut state = world.standin.state();
        for zone in &mut state.zones {
            zone.records.retain(|record| record.id != id);
        }
    }
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    world.standin.set_public_ipv4("81.23.45.77");
    let outcome = world.once(&record("home.example.com"));
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert!(outcome.api.len() <= 3, "{:?}", outcome.api);
    let held = world.standin.records_at("example.com", "home.example.com");
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].content, "81.23.45.77");
}

#[test]
fn two_tokens_manage_their_own_zones_and_neither_is_ever_shown() {
    let world = World::new();
    let other_token = "other-account-token-fedcba9876543210";
    world.standin.add_zone("example.org");
    world
        .standin
        .add_scoped_token(other_token, &["example.org"]);
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    world.standin.add_record(
        "example.org",
        Record::new("home.example.org", "A", OLD_IPV4),
    );
    let token_file = world.dir.path().join("token-other");
    std::fs::write(&token_file, format!("{other_token}\n")).expect("token");
    std::fs::set_permissions(
        &token_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("chmod");
    let records = format!(
        "{}{}api_token_file = \"{}\"\n",
        record("home.example.com"),
        record("home.example.org"),
        token_file.display()
    );
    let outcome = world.run(&world.config(&records), &["--once", "-vv"]);
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    for zone in ["example.com", "example.org"] {
        assert_eq!(
            world.standin.records_at(zone, &format!("home.{zone}"))[0].content,
            PUBLIC_IPV4
        );
    }
    for args in [
        &["check-config"][..],
        &["doctor"][..],
        &["--once", "-vv"][..],
    ] {
        let shown = world.run(&world.config(&records), args);
        for token in [crate::harness::TOKEN, other_token] {
            assert!(!shown.output().contains(token), "{args:?} showed a token");
        }
        if args == ["check-config"] {
            assert!(shown.stdout.contains("token-other"), "{}", shown.stdout);
        }
    }
    assert!(!outcome.output().contains(other_token));
}

/// Moves every remembered listing time in the state directory's records.json into the past.
fn age_memory(world: &World, seconds: u64) {
    let path = world.dir.path().join("state/records.json");
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("records.json")).expect("json");
    if let Some(zones) = value["zones"].as_object_mut() {
        for zone in zones.values_mut() {
            let at = zone["listed_at"].as_u64().unwrap_or(0);
            zone["listed_at"] = serde_json::json!(at.saturating_sub(seconds));
        }
    }
    std::fs::write(&path, value.to_string()).expect("write");
}

#[test]
fn a_change_stays_a_listing_and_a_batch_with_a_proxied_and_a_dns_only_record() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("api.example.com", "A", OLD_IPV4).proxied(true),
    );
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let records = format!(
        "{}{}",
        record("api.example.com"),
        record("home.example.com")
    );
    assert_eq!(world.once(&records).code, 0);
    // The reconcile interval passes: only the proxied record is re-read...
    age_memory(&world, 7200);
    let reread = world.once(&records);
    assert_eq!(reread.code, 0);
    assert_eq!(reread.api.len(), 1, "{:?}", reread.api);
    // ...and a change of address is one listing and one batch for both.
    world.standin.set_public_ipv4("81.23.45.77");
    let warm = world.once(&records);
    assert_eq!(warm.code, 0, "{}", warm.output());
    assert_eq!(warm.api.len(), 2, "{:?}", warm.api);
}

// See: issue 21, point 1. A tampered records.json used to aim the warm batch at another record.
#[test]
fn a_tampered_remembered_id_is_never_written() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let other = world.standin.add_record(
        "example.com",
        Record::new("other.example.com", "TXT", "\"keep me\""),
    );
    assert_eq!(world.once(&record("home.example.com")).code, 0);
    // Someone with access to the state directory points the id elsewhere.
    let path = world.dir.path().join("state/records.json");
    let text = std::fs::read_to_string(&path).expect("records.json");
    let home_id = world.standin.records_at("example.com", "home.example.com")[0]
        .id
        .clone();
    std::fs::write(&path, text.replace(&home_id, &other)).expect("write");
    world.standin.set_public_ipv4("81.23.45.77");
    let outcome = world.once(&record("home.example.com"));
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert_eq!(
        world.standin.records_at("example.com", "other.example.com")[0].content,
        "\"keep me\""
    );
    assert_eq!(
        world.standin.records_at("example.com", "home.example.com")[0].content,
        "81.23.45.77"
    );
}

// See: issue 21, point 1. Cloudflare keeps a record's id through a rename, and PATCH has no
// precondition: a write to the remembered id overwrote the renamed record.
#[test]
fn a_record_renamed_in_the_dashboard_is_never_written() {
    let world = World::new();
    let id = world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    assert_eq!(world.once(&record("home.example.com")).code, 0);
    world.standin.rename_record(&id, "office.example.com");
    world.standin.set_public_ipv4("81.23.45.77");
    let outcome = world.once(&record("home.example.com"));
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    let office = world
        .standin
        .records_at("example.com", "office.example.com");
    assert_eq!(office.len(), 1, "{office:?}");
    assert_eq!(
        office[0].content, PUBLIC_IPV4,
        "the renamed record was written"
    );
    let home = world.standin.records_at("example.com", "home.example.com");
    assert_eq!(home.len(), 1, "{home:?}");
    assert_eq!(home[0].content, "81.23.45.77");
    assert_ne!(home[0].id, id);
    assert!(
        outcome
            .api
            .iter()
            .all(|request| !request.body.contains(&id)),
        "{:?}",
        outcome.api
    );
}

#[test]
fn a_created_record_is_remembered_with_the_id_cloudflare_gave_it() {
    let world = World::new();
    assert_eq!(world.once(&record("new.example.com")).code, 0);
    assert_eq!(
        world
            .standin
            .records_at("example.com", "new.example.com")
            .len(),
        1
    );
    world.standin.set_public_ipv4("81.23.45.77");
    let warm = world.once(&record("new.example.com"));
    assert_eq!(warm.code, 0, "{}", warm.output());
    assert_eq!(warm.api.len(), 2, "{:?}", warm.api);
    let held = world.standin.records_at("example.com", "new.example.com");
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].content, "81.23.45.77");
}
