//! The WAF IP list, end to end against the stand-in's Lists API: created when missing, filled
//! with this host's address, foreign items kept, only flaredns's items swapped on a change,
//! nothing sent while in sync, failures named with the fix, and doctor on the rule.

use crate::harness::{record, LoggedRequest, World, PUBLIC_IPV4};
use crate::paused::Here;

pub(crate) const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

fn lists_config(world: &World, records: &str) -> String {
    world.config(&format!(
        "{records}\n[[waf_lists]]\naccount = \"{ACCOUNT}\"\nname = \"home_ips\"\n"
    ))
}

/// The API writes the stand-in saw since its log was last cleared (each run clears it).
pub(crate) fn writes(world: &World) -> Vec<LoggedRequest> {
    world
        .standin
        .api_requests()
        .into_iter()
        .filter(LoggedRequest::is_write)
        .collect()
}

/// This host's list as the stand-in holds it: (item, comment), sorted.
pub(crate) fn held(world: &World) -> Vec<(String, Option<String>)> {
    let mut items: Vec<(String, Option<String>)> = world
        .standin
        .list_items(ACCOUNT, "home_ips")
        .unwrap_or_default()
        .into_iter()
        .map(|item| (item.ip, item.comment))
        .collect();
    items.sort();
    items
}

#[tokio::test(start_paused = true)]
async fn the_list_is_created_filled_and_then_costs_nothing() {
    let here = Here::new().await;
    let world = &here.world;
    let config = lists_config(world, "");
    let (code, plan) = here.dry_run(&config).await;
    assert_eq!(code, 0, "{}", here.log());
    assert!(
        plan.contains("WAF list home_ips (to be created): (none) → 81.23.45.99"),
        "{plan}"
    );
    assert!(writes(world).is_empty());
    assert!(world.standin.list_items(ACCOUNT, "home_ips").is_none());
    assert_eq!(here.once(&config).await, 0, "{}", here.log());
    assert_eq!(
        held(world),
        vec![(PUBLIC_IPV4.to_string(), Some("flaredns".to_string()))]
    );
    assert_eq!(here.once(&config).await, 0, "{}", here.log());
    let again = world.standin.api_requests();
    assert!(again.is_empty(), "{again:?}");
}

#[tokio::test(start_paused = true)]
async fn a_change_swaps_only_flaredns_items_and_keeps_foreign_ones() {
    let here = Here::new().await;
    let world = &here.world;
    world
        .standin
        .add_list_item(ACCOUNT, "home_ips", "9.9.9.9", Some("office"));
    world
        .standin
        .add_list_item(ACCOUNT, "home_ips", "203.0.113.0/24", None);
    let config = lists_config(world, "");
    assert_eq!(here.once(&config).await, 0);
    world.standin.set_public_ipv4("81.23.45.77");
    let mark = here.log().len();
    assert_eq!(here.once(&config).await, 0, "{}", here.log());
    assert_eq!(
        held(world),
        vec![
            ("203.0.113.0/24".to_string(), None),
            ("81.23.45.77".to_string(), Some("flaredns".to_string())),
            ("9.9.9.9".to_string(), Some("office".to_string())),
        ]
    );
    let item_writes = writes(world);
    assert_eq!(
        item_writes.len(),
        2,
        "one add and one remove: {item_writes:?}"
    );
    let changed = &here.log()[mark..];
    assert!(
        changed.contains("WAF list home_ips: 81.23.45.99 → 81.23.45.77"),
        "{changed}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_operation_or_a_token_without_list_permission_is_named_and_records_still_update() {
    {
        let here = Here::new().await;
        let world = &here.world;
        world.standin.add_record(
            "example.com",
            flaredns_standin::Record::new("home.example.com", "A", "81.23.45.10"),
        );
        world
            .standin
            .fail_next_operation("quota of list items exceeded");
        let config = lists_config(world, &record("home.example.com"));
        assert_eq!(here.once(&config).await, 1, "{}", here.log());
        let log = here.log();
        assert!(
            log.contains("home_ips") && log.contains("quota of list items exceeded"),
            "{log}"
        );
        assert_eq!(
            world.standin.records_at("example.com", "home.example.com")[0].content,
            PUBLIC_IPV4
        );
    }

    let other = Here::new().await;
    other
        .standin()
        .add_scoped_token("dns-only-token-000000000000", &["example.com"]);
    let config = other.config_token(
        &lists_config(&other.world, ""),
        "dns-only-token-000000000000",
    );
    assert_eq!(other.once_config(config).await, 1, "{}", other.log());
    assert!(
        other.log().contains("Account Filter Lists"),
        "{}",
        other.log()
    );
}

#[tokio::test(start_paused = true)]
async fn doctor_says_whether_a_rule_uses_the_list() {
    let here = Here::new().await;
    let world = &here.world;
    world.standin.add_record(
        "example.com",
        flaredns_standin::Record::new("home.example.com", "A", PUBLIC_IPV4),
    );
    let config = lists_config(world, &record("home.example.com"));
    let (_, without) = here.doctor(here.config(&config)).await;
    assert!(
        without.contains("no WAF custom rule in the managed zones uses $home_ips"),
        "{without}"
    );
    assert!(without.contains("(ip.src in $home_ips)"), "{without}");
    world
        .standin
        .add_firewall_rule("example.com", "(ip.src in $home_ips)");
    assert_eq!(here.once(&config).await, 0);
    let (_, with) = here.doctor(here.config(&config)).await;
    assert!(
        with.contains("a WAF custom rule (action skip) uses $home_ips in zone example.com"),
        "{with}"
    );
    assert!(with.contains("holds this host's 81.23.45.99"), "{with}");
    assert!(writes(world).is_empty());
}

#[test]
fn waf_list_settings_are_checked() {
    let world = World::new();
    for (section, key) in [
        (
            "[[waf_lists]]\naccount = \"nothex\"\nname = \"home_ips\"\n",
            "waf_lists.account",
        ),
        (
            &format!("[[waf_lists]]\naccount = \"{ACCOUNT}\"\nname = \"Home-IPs\"\n") as &str,
            "waf_lists.name",
        ),
        (
            &format!(
                "[[waf_lists]]\naccount = \"{ACCOUNT}\"\nname = \"home_ips\"\nipv4_prefix = 33\n"
            ) as &str,
            "waf_lists.ipv4_prefix",
        ),
    ] {
        let outcome = world.run(&world.config(section), &["check-config"]);
        assert_eq!(outcome.code, 2, "{section}: {}", outcome.output());
        assert!(outcome.stderr.contains(key), "{}", outcome.stderr);
    }
}

#[tokio::test(start_paused = true)]
async fn a_429_while_an_operation_runs_is_waited_out_and_an_empty_comment_is_refused() {
    let here = Here::new().await;
    let world = &here.world;
    world.standin.inject(
        crate::harness::Fault::status(
            429,
            r#"{"success":false,"errors":[{"code":971,"message":"slow down"}]}"#,
        )
        .header("retry-after", "1")
        .path("/bulk_operations/")
        .times(3),
    );
    assert_eq!(
        here.once(&lists_config(world, "")).await,
        0,
        "{}",
        here.log()
    );
    assert_eq!(
        held(world),
        vec![(PUBLIC_IPV4.to_string(), Some("flaredns".to_string()))]
    );

    // The binary itself for a config error's exit code 2; it sends no request, so it may
    // block this runtime (and the stand-in on it) while it runs.
    let config = world.config(&format!(
        "[[waf_lists]]\naccount = \"{ACCOUNT}\"\nname = \"home_ips\"\ncomment = \" \"\n"
    ));
    let refused = world.run(&config, &["check-config"]);
    assert_eq!(refused.code, 2, "{}", refused.output());
    assert!(
        refused.stderr.contains("waf_lists.comment"),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_list_of_another_kind_is_not_written() {
    let world = World::new();
    world
        .standin
        .add_list_item(ACCOUNT, "home_ips", "81.23.45.1", Some("someone"));
    {
        let mut state = world.standin.state();
        for list in &mut state.lists {
            list.kind = "hostname".to_string();
        }
    }
    let outcome = world.run(&lists_config(&world, ""), &["--once"]);
    assert_eq!(outcome.code, 1, "{}", outcome.output());
    assert!(
        outcome.stderr.contains("of kind hostname, not ip"),
        "{}",
        outcome.stderr
    );
    assert!(outcome.writes().is_empty(), "{:?}", outcome.api);
    // See: issue 22. Doctor said "the next run fills it"; it judges as the run does.
    let doctor = world.run(&lists_config(&world, ""), &["doctor"]);
    assert_eq!(doctor.code, 1, "{}", doctor.output());
    assert!(
        doctor
            .stdout
            .contains("[problem] waf list home_ips: list home_ips is of kind hostname, not ip"),
        "{}",
        doctor.stdout
    );
}

// See: issue 21, point 3. After a `comment` change (as the README advises for shared lists),
// this host's old address stayed in the skip list for good, and doctor said ok.
#[tokio::test(start_paused = true)]
async fn after_a_comment_change_the_old_address_leaves_the_skip_list() {
    let here = Here::new().await;
    let world = &here.world;
    world
        .standin
        .add_list_item(ACCOUNT, "home_ips", "9.9.9.9", Some("office"));
    assert_eq!(here.once(&lists_config(world, "")).await, 0);
    let renamed = world.config(&format!(
        "[[waf_lists]]\naccount = \"{ACCOUNT}\"\nname = \"home_ips\"\ncomment = \"home-server\"\n"
    ));
    world.standin.set_public_ipv4("81.23.45.77");
    let (_, doctor) = here.doctor(here.config(&renamed)).await;
    assert!(
        doctor.contains("list home_ips still holds this host's old 81.23.45.99; the next run removes it and adds 81.23.45.77"),
        "{doctor}"
    );
    let mark = here.log().len();
    assert_eq!(here.once(&renamed).await, 0, "{}", here.log());
    assert_eq!(
        held(world),
        vec![
            ("81.23.45.77".to_string(), Some("home-server".to_string())),
            ("9.9.9.9".to_string(), Some("office".to_string())),
        ]
    );
    let changed = &here.log()[mark..];
    assert!(
        changed.contains("WAF list home_ips: 81.23.45.99 → 81.23.45.77"),
        "{changed}"
    );
}

// See: issue 21, point 12. A list deleted out of band answered 404, which was taken for a
// rejected token (halting it) and re-created only the next run.
#[tokio::test(start_paused = true)]
async fn a_list_deleted_out_of_band_is_recreated_in_the_same_run() {
    let here = Here::new().await;
    let world = &here.world;
    world.standin.add_record(
        "example.com",
        crate::harness::Record::new("home.example.com", "A", crate::harness::OLD_IPV4),
    );
    let config = lists_config(world, &record("home.example.com"));
    assert_eq!(here.once(&config).await, 0);
    world.standin.delete_list(ACCOUNT, "home_ips");
    world.standin.set_public_ipv4("81.23.45.77");
    assert_eq!(here.once(&config).await, 0, "{}", here.log());
    assert_eq!(
        held(world),
        vec![("81.23.45.77".to_string(), Some("flaredns".to_string()))]
    );
    assert_eq!(
        world.standin.records_at("example.com", "home.example.com")[0].content,
        "81.23.45.77"
    );
}

// See: issue 21, point 12. Item pages had no repeated-id guard: an alternating cursor cost 100
// requests a cycle.
#[test]
fn a_looping_item_cursor_stops_at_the_first_repeated_item() {
    let world = World::new();
    for ip in ["9.9.9.1", "9.9.9.2", "9.9.9.3", "9.9.9.4"] {
        world.standin.add_list_item(ACCOUNT, "home_ips", ip, None);
    }
    world.standin.loop_item_cursor();
    let outcome = world.run(&lists_config(&world, ""), &["--once"]);
    assert_eq!(outcome.code, 1, "{}", outcome.output());
    assert!(
        outcome
            .stderr
            .contains("repeats an item of an earlier page"),
        "{}",
        outcome.stderr
    );
    assert!(outcome.api.len() <= 5, "{:?}", outcome.api);
}

// See: issue 21, point 12. A 429 on an item write (another operation of the account still
// pending) is waited out within the cycle, not taken as the end.
#[tokio::test(start_paused = true)]
async fn a_429_on_an_item_write_is_waited_out() {
    let here = crate::paused::Here::new().await;
    let world = &here.world;
    // Three 429s: as many as one call's attempts (MAX_ATTEMPTS), so the call gives up and the
    // item write's own wait takes over, which is the point. (In virtual time: the backoff's
    // seconds cost none.)
    world.standin.inject(
        crate::harness::Fault::status(
            429,
            r#"{"success":false,"errors":[{"code":10010,"message":"an operation is pending"}]}"#,
        )
        .method("POST")
        .path("/items")
        .times(3),
    );
    let code = here.once(&lists_config(world, "")).await;
    assert_eq!(code, 0, "{}", here.log());
    assert_eq!(
        held(world),
        vec![(PUBLIC_IPV4.to_string(), Some("flaredns".to_string()))]
    );
    let api = world.standin.api_requests();
    let item_writes = api
        .iter()
        .filter(|request| request.method == "POST" && request.path.contains("/items"))
        .count();
    assert_eq!(item_writes, 4, "three 429s, then the write: {api:?}");
}
