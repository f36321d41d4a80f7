//! What an adversarial review of issue 21 found (each test failed before its fix): secrets
//! echoed by a provider, tokens pasted with a prefix, WAF items owned by address text, list
//! ids from memory used unchecked, a renamed list written, api mode trusting list memory,
//! the first lifetime refresh of an address seen as a change.

use crate::harness::{World, PUBLIC_IPV4};
use crate::paused::Here;
use crate::waf::{held, ACCOUNT};

fn list_config(world: &World, comment: &str) -> String {
    world.config(&format!(
        "[[waf_lists]]\naccount = \"{ACCOUNT}\"\nname = \"home_ips\"\ncomment = \"{comment}\"\n"
    ))
}

/// Replaces the item holding `ip` by a new one (new id) with `comment`, as another host or
/// an admin would by deleting and adding it in the dashboard.
fn replace_item(world: &World, ip: &str, comment: &str) {
    let mut state = world.standin.state();
    let list = state
        .lists
        .iter_mut()
        .find(|list| list.account == ACCOUNT && list.name == "home_ips")
        .expect("list");
    list.items.retain(|item| item.ip != ip);
    drop(state);
    world
        .standin
        .add_list_item(ACCOUNT, "home_ips", ip, Some(comment));
}

// Claim 3: README says hosts sharing one list must each have their own comment. Two hosts
// that started with the default comment and then follow that advice: host A remembers host
// B's item as "added by A" (note_added of everything under the old comment), so after the
// split A's next address change deletes B's live item, which now carries B's new comment.
// PASSES: under the shared comment A removes B's item at once (as the README warns), so
// nothing stale is left in A's memory. Kept as a guard.
#[tokio::test(start_paused = true)]
async fn review_after_a_comment_split_the_other_hosts_item_is_kept() {
    let here = Here::new().await;
    let world = &here.world;
    // Host B's address, under the shared default comment.
    world
        .standin
        .add_list_item(ACCOUNT, "home_ips", "203.0.113.5", Some("flaredns"));
    assert_eq!(here.once(&list_config(world, "flaredns")).await, 0);
    // The admin follows the README: A becomes "flaredns fw1", B "flaredns fw2".
    replace_item(world, "203.0.113.5", "flaredns fw2");
    let split = list_config(world, "flaredns fw1");
    world.standin.set_public_ipv4("81.23.45.77");
    assert_eq!(here.once(&split).await, 0, "{}", here.log());
    assert_eq!(
        held(world),
        vec![
            ("203.0.113.5".to_string(), Some("flaredns fw2".to_string())),
            ("81.23.45.77".to_string(), Some("flaredns fw1".to_string())),
        ],
        "{}",
        here.log()
    );
}

// Claim 3: ownership by remembered address text, never pruned when the item disappears out
// of band: this host's item is deleted in the dashboard and the same address is listed again
// by someone else ("office"); when this host's address moves on, it deletes the office item.
//  (foreign item removed).
#[tokio::test(start_paused = true)]
async fn review_a_foreign_item_at_this_hosts_old_address_is_kept() {
    let here = Here::new().await;
    let world = &here.world;
    let config = list_config(world, "flaredns");
    assert_eq!(here.once(&config).await, 0);
    replace_item(world, PUBLIC_IPV4, "office");
    world.standin.set_public_ipv4("81.23.45.77");
    assert_eq!(here.once(&config).await, 0, "{}", here.log());
    assert_eq!(
        held(world),
        vec![
            ("81.23.45.77".to_string(), Some("flaredns".to_string())),
            (PUBLIC_IPV4.to_string(), Some("office".to_string())),
        ],
        "{}",
        here.log()
    );
}

// Claim 10: "a notification that only refreshes lifetimes starts no cycle". The watcher's
// memory of addresses (`Judge::known`) starts empty, so the first refresh of an address that
// existed before the daemon started (every RA does one) starts a cycle.
#[test]
fn review_a_lifetime_refresh_of_an_address_present_at_start_starts_no_cycle() {
    use std::process::Command;
    use std::time::Instant;
    let Some(namespace) = crate::netns::Namespace::new("rv21") else {
        return;
    };
    assert!(namespace.add_interface("fl0"));
    assert!(namespace.add_interface("fl1"));
    let lifetimes = |verb: &str, seconds: &str| {
        namespace.ip(&[
            "addr",
            verb,
            "10.9.8.7/24",
            "dev",
            "fl0",
            "valid_lft",
            seconds,
            "preferred_lft",
            seconds,
        ])
    };
    assert!(lifetimes("add", "3000"));
    let dir = tempfile::tempdir().expect("dir");
    let config = crate::netns::watch_config(dir.path(), &["fl0", "fl1"]);
    let started = Instant::now();
    let mut daemon = namespace.spawn_flaredns(&config);
    let (log, reader) = crate::netns::follow_stderr(&mut daemon);
    assert!(log.wait_for_cycle(started).is_some(), "first cycle");
    let refreshed = Instant::now();
    assert!(lifetimes("change", "2900"));
    // The barrier: a new address on fl1, the other watched interface, whose line names it.
    let told = log.told_before(refreshed, || {
        assert!(namespace.ip(&["addr", "add", "10.9.9.9/24", "dev", "fl1"]));
    });
    let after = log.cycles_since(refreshed).len();
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let _ = daemon.wait();
    let _ = reader.join();
    assert!(
        told.len() == 1 && told[0].ends_with("an address changed on fl1: checking now"),
        "a lifetime refresh of a pre-existing address counted as a change: {told:#?}"
    );
    assert_eq!(
        after,
        1,
        "only the barrier's cycle may run:\n{}",
        log.text()
    );
}

// Claim 1 (for lists): a list renamed in the dashboard keeps its id; memory's list id is
// used without checking the name this cycle, so flaredns keeps writing to the renamed list
// and never fills the list the rule `ip.src in $home_ips` names.
#[tokio::test(start_paused = true)]
async fn review_a_list_renamed_in_the_dashboard_is_not_written() {
    let here = Here::new().await;
    let world = &here.world;
    let config = list_config(world, "flaredns");
    assert_eq!(here.once(&config).await, 0);
    {
        let mut state = world.standin.state();
        let list = state
            .lists
            .iter_mut()
            .find(|list| list.account == ACCOUNT && list.name == "home_ips")
            .expect("list");
        list.name = "office_ips".to_string();
    }
    world.standin.set_public_ipv4("81.23.45.77");
    assert_eq!(here.once(&config).await, 0, "{}", here.log());
    let office = world
        .standin
        .list_items(ACCOUNT, "office_ips")
        .unwrap_or_default();
    assert!(
        office.iter().all(|item| item.ip != "81.23.45.77"),
        "the renamed list was written: {office:?}\n{:?}",
        world.standin.api_requests()
    );
    assert_eq!(
        held(world),
        vec![("81.23.45.77".to_string(), Some("flaredns".to_string()))],
        "home_ips holds this host's address"
    );
}

// Claim 12: a 429 that never ends on an item write is waited out only until the cycle's
// deadline ([daemon].cycle_timeout), with a bounded number of requests. Expected to pass.
#[tokio::test(start_paused = true)]
async fn review_an_endless_429_on_an_item_write_ends_at_the_deadline() {
    let here = Here::new().await;
    let world = &here.world;
    world.standin.inject(
        crate::harness::Fault::status(
            429,
            r#"{"success":false,"errors":[{"code":10010,"message":"an operation is pending"}]}"#,
        )
        .method("POST")
        .path("/items")
        .times(100_000),
    );
    let config = list_config(world, "flaredns").replace(
        "[[waf_lists]]",
        "[daemon]\ncycle_timeout = \"3s\"\n\n[[waf_lists]]",
    );
    let started = tokio::time::Instant::now();
    assert_eq!(here.once(&config).await, 1, "{}", here.log());
    // In virtual time the deadline is exact: the run ends within the 3 s it was given.
    let elapsed = started.elapsed();
    assert!(
        elapsed <= std::time::Duration::from_secs(3),
        "took {elapsed:?}"
    );
    let api = world.standin.api_requests();
    assert!(api.len() < 60, "{} requests", api.len());
}

// Claim 6: `[check] nameservers = "api"` "compares through the API every cycle and never
// trusts memory". WAF lists still answer "in sync" from records.json in api mode: a list
// item removed in the dashboard stays missing until [check].reconcile.
#[tokio::test(start_paused = true)]
async fn review_api_mode_reads_the_waf_list_every_run() {
    let here = Here::new().await;
    let world = &here.world;
    let config = list_config(world, "flaredns").replace(
        &format!("nameservers = [\"{}\"]", world.standin.dns_addr()),
        "nameservers = \"api\"",
    );
    assert!(config.contains("nameservers = \"api\""), "{config}");
    assert_eq!(here.once(&config).await, 0);
    {
        let mut state = world.standin.state();
        let list = state
            .lists
            .iter_mut()
            .find(|list| list.account == ACCOUNT && list.name == "home_ips")
            .expect("list");
        list.items.clear();
    }
    assert_eq!(here.once(&config).await, 0, "{}", here.log());
    assert_eq!(
        held(world),
        vec![(PUBLIC_IPV4.to_string(), Some("flaredns".to_string()))],
        "requests: {:?}",
        world.standin.api_requests()
    );
}

// Claim 5: "a token pasted as a path is refused without echo". The copy from Cloudflare's
// own curl example (`Bearer TOKEN`) or `~/TOKEN` is not "token-shaped", so it is taken as a
// path and the token is echoed in the log and kept in status.json (and sent to webhooks).
//
#[test]
fn review_a_token_pasted_with_bearer_is_never_echoed() {
    let world = World::new();
    let token = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-Ab";
    let config = world.config(&format!(
        "[[records]]\nname = \"home.example.com\"\napi_token_file = \"Bearer {token}\"\n"
    ));
    let outcome = world.run(&config, &["--once"]);
    let status =
        std::fs::read_to_string(world.dir.path().join("state/status.json")).unwrap_or_default();
    assert!(
        !outcome.output().contains(token) && !status.contains(token),
        "exit {}: {}\nstatus.json: {status}",
        outcome.code,
        outcome.output()
    );
}

// Claim 4: a provider URL's query secret leaves the process when the provider's answer quotes
// the request (an error page, a router's status page): "the answer `…` is not an IP address"
// shows the answer verbatim in the log, status.json, /healthz, webhook payloads and the
// healthchecks /fail body.
#[test]
fn review_a_provider_echoing_its_url_does_not_leak_the_secret() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = [0u8; 2048];
            let count = stream.read(&mut buffer).unwrap_or(0);
            let head = String::from_utf8_lossy(&buffer[..count]).to_string();
            let line = head.lines().next().unwrap_or("").to_string();
            let body = format!("404 not found: {line}");
            let _ = write!(
                stream,
                "HTTP/1.0 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let world = World::new();
    let config = world.config_detect(
        &format!("ipv4 = [\"url:http://127.0.0.1:{port}/wan?apikey=S3CR3TKEY\"]\nipv6 = []"),
        "[[records]]\nname = \"home.example.com\"\n",
    );
    let outcome = world.run(&config, &["--once"]);
    let status =
        std::fs::read_to_string(world.dir.path().join("state/status.json")).unwrap_or_default();
    assert_eq!(outcome.code, 1, "{}", outcome.output());
    assert!(
        !outcome.output().contains("S3CR3TKEY") && !status.contains("S3CR3TKEY"),
        "{}\nstatus.json: {status}",
        outcome.output()
    );
}

// Claim 1/3 with a tampered records.json: `added_items` is believed as read (no cap, no
// check against what this host ever wrote), so a line in the state file makes flaredns
// delete any foreign item of the list at the next change of address.
#[tokio::test(start_paused = true)]
async fn review_a_tampered_added_items_memory_never_deletes_foreign_items() {
    let here = Here::new().await;
    let world = &here.world;
    world
        .standin
        .add_list_item(ACCOUNT, "home_ips", "9.9.9.9", Some("office"));
    let config = list_config(world, "flaredns");
    assert_eq!(here.once(&config).await, 0);
    let path = world.dir.path().join("state/records.json");
    let text = std::fs::read_to_string(&path).expect("records.json");
    let mut memory: serde_json::Value = serde_json::from_str(&text).expect("json");
    let added = memory["added_items"].as_object_mut().expect("added_items");
    for (_, items) in added.iter_mut() {
        items.as_array_mut().expect("array").push("9.9.9.9".into());
    }
    std::fs::write(&path, memory.to_string()).expect("write");
    world.standin.set_public_ipv4("81.23.45.77");
    let mark = here.log().len();
    assert_eq!(here.once(&config).await, 0, "{}", here.log());
    assert!(
        held(world).contains(&("9.9.9.9".to_string(), Some("office".to_string()))),
        "the office item was deleted: {:?}\n{}",
        held(world),
        &here.log()[mark..]
    );
}

// README: "a list id that is not an id, is never written". The list id remembered in
// records.json is used as a path segment without that check (list_info's safe_id guards only
// ids from the API), so a tampered id walks out of /rules/lists.
#[tokio::test(start_paused = true)]
async fn review_a_remembered_list_id_that_is_not_an_id_is_never_used() {
    let here = Here::new().await;
    let world = &here.world;
    let zone = world.standin.state().zones[0].id.clone();
    let config = list_config(world, "flaredns");
    assert_eq!(here.once(&config).await, 0);
    let path = world.dir.path().join("state/records.json");
    let text = std::fs::read_to_string(&path).expect("records.json");
    let mut memory: serde_json::Value = serde_json::from_str(&text).expect("json");
    for (_, list) in memory["lists"].as_object_mut().expect("lists").iter_mut() {
        list["id"] = format!("../../../../zones/{zone}/dns_records#").into();
        list["checked_at"] = 0.into();
    }
    std::fs::write(&path, memory.to_string()).expect("write");
    world.standin.set_public_ipv4("81.23.45.77");
    here.once(&config).await;
    let strays: Vec<String> = world
        .standin
        .api_requests()
        .iter()
        .filter(|request| !request.path.contains("/rules/lists"))
        .map(|request| format!("{} {}", request.method, request.path))
        .collect();
    assert!(
        strays.is_empty(),
        "requests outside the Lists API: {strays:?}\n{}",
        here.log()
    );
}
