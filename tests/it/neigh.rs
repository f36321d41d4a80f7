//! `ipv6_host = "neigh:MAC"`: a LAN device with random interface ids is published by the
//! address the kernel's neighbour table shows for its MAC. Each test makes its own network
//! namespace with a LAN interface and static neighbour entries (`ip -6 neigh`), and runs
//! flaredns inside it; the stand-in is outside, so these tests read the plan (`--dry-run`),
//! doctor, and the daemon's log, and the API requests fail by design.

use std::time::Instant;

use crate::harness::World;
use crate::netns::Namespace;

const MAC: &str = "02:11:22:33:44:55";
const OTHER_MAC: &str = "02:66:77:88:99:aa";

/// A namespace with `lan0` up, holding 2a01:4f8:c0c:1234::1/64 (the prefix) and nothing
/// else (no link-local address whose notification could come after flaredns starts).
fn lan(label: &str) -> Option<Namespace> {
    let namespace = Namespace::new(label)?;
    assert!(namespace.add_interface("lan0"));
    // The veth peer, where there is no dummy module: up, so the link has a carrier.
    let _ = namespace.ip(&["link", "set", "lan0p", "up"]);
    assert!(namespace.ip(&[
        "addr",
        "add",
        "2a01:4f8:c0c:1234::1/64",
        "dev",
        "lan0",
        "nodad"
    ]));
    Some(namespace)
}

/// `ip -6 neigh VERB ADDRESS [lladdr MAC] dev lan0 nud STATE`.
fn neigh(namespace: &Namespace, verb: &str, address: &str, mac: Option<&str>, state: &str) {
    let mut args = vec!["-6", "neigh", verb, address];
    if let Some(mac) = mac {
        args.extend(["lladdr", mac]);
    }
    args.extend(["dev", "lan0", "nud", state]);
    assert!(namespace.ip(&args), "ip {args:?}");
}

/// The stand-in is out of reach from the namespace, so each request fails; one request a
/// cycle (and one an hour) fails as well as three would, and a request the budget refuses
/// is refused at once, so no run sits out a backoff.
fn config(world: &World, extra_detect: &str) -> String {
    world.config_detect(
        &format!("ipv6 = [\"iface:lan0\"]\n{extra_detect}"),
        &format!("[daemon]\nmax_requests_per_cycle = 1\nmax_requests_per_hour = 1\n\n[[records]]\nname = \"cam.example.com\"\nipv6_host = \"neigh:{MAC}\"\n"),
    )
}

/// Runs flaredns in the namespace: (exit code, stdout, stderr).
fn run_in(
    namespace: &Namespace,
    world: &World,
    config: &str,
    args: &[&str],
) -> (i32, String, String) {
    let path = world.write_config(config);
    let output = namespace
        .command(env!("CARGO_BIN_EXE_flaredns"))
        .arg("--config")
        .arg(&path)
        .args(args)
        .env("CLOUDFLARE_API_TOKEN", "unused")
        .env("STATE_DIRECTORY", world.dir.path().join("state"))
        .output()
        .expect("run flaredns in the namespace");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_neigh_record_follows_the_device_and_fails_cleanly_when_it_is_gone() {
    let Some(namespace) = lan("neigh") else {
        return;
    };
    let world = World::new();
    let config = config(&world, "");
    let derived = |address: &str| {
        format!("derived       cam.example.com AAAA {address} = the address the neighbour table shows for neigh:{MAC}")
    };
    neigh(
        &namespace,
        "add",
        "2a01:4f8:c0c:1234:abcd::5",
        Some(MAC),
        "permanent",
    );
    // Another device, a link-local entry of this one, and another prefix: none is chosen.
    neigh(
        &namespace,
        "add",
        "2a01:4f8:c0c:1234::2",
        Some(OTHER_MAC),
        "reachable",
    );
    neigh(
        &namespace,
        "add",
        "fe80::11:22ff:fe33:4455",
        Some(MAC),
        "reachable",
    );
    neigh(
        &namespace,
        "add",
        "2a01:4f8:c0c:9999::3",
        Some(MAC),
        "reachable",
    );
    let (_, plan, stderr) = run_in(&namespace, &world, &config, &["--once", "--dry-run"]);
    assert!(
        plan.contains(&derived("2a01:4f8:c0c:1234:abcd::5")),
        "{plan}{stderr}"
    );

    // The device takes a new address and the old one goes stale then fails: the record
    // follows; of two usable addresses the lowest is chosen.
    neigh(
        &namespace,
        "add",
        "2a01:4f8:c0c:1234:abcd::9",
        Some(MAC),
        "stale",
    );
    neigh(
        &namespace,
        "replace",
        "2a01:4f8:c0c:1234:abcd::5",
        None,
        "failed",
    );
    let (_, plan, stderr) = run_in(&namespace, &world, &config, &["--once", "--dry-run"]);
    assert!(
        plan.contains(&derived("2a01:4f8:c0c:1234:abcd::9")),
        "{plan}{stderr}"
    );
    neigh(
        &namespace,
        "add",
        "2a01:4f8:c0c:1234:abcd::7",
        Some(MAC),
        "delay",
    );
    let (_, plan, _) = run_in(&namespace, &world, &config, &["--once", "--dry-run"]);
    assert!(
        plan.contains(&derived("2a01:4f8:c0c:1234:abcd::7")),
        "{plan}"
    );

    // The device leaves: the record fails, says what the table holds and what to do, and
    // nothing is derived or sent.
    neigh(
        &namespace,
        "replace",
        "2a01:4f8:c0c:1234:abcd::7",
        None,
        "failed",
    );
    neigh(
        &namespace,
        "replace",
        "2a01:4f8:c0c:1234:abcd::9",
        None,
        "failed",
    );
    let (code, plan, stderr) = run_in(&namespace, &world, &config, &["--once", "--dry-run"]);
    assert_eq!(code, 1, "{plan}{stderr}");
    assert!(!plan.contains("derived"), "{plan}");
    assert!(
        plan.contains(&format!("AAAA cam.example.com was not checked: the neighbour table holds no usable address of {MAC} in 2a01:4f8:c0c:1234::/64")),
        "{plan}"
    );
    assert!(
        plan.contains("it holds 2a01:4f8:c0c:9999::3 on lan0 (reachable), fe80::11:22ff:fe33:4455 on lan0 (reachable);"),
        "sorted by address: {plan}"
    );
    assert!(plan.contains("make sure the device is on"), "{plan}");
    assert!(world
        .standin
        .requests()
        .iter()
        .all(|request| !request.is_write()));

    // Doctor says what the table holds for the MAC.
    let (_, report, _) = run_in(&namespace, &world, &config, &["doctor"]);
    assert!(
        report.contains(&format!("[problem] neighbour {MAC}: AAAA cam.example.com was not checked: the neighbour table holds no usable address of {MAC}")),
        "{report}"
    );
    neigh(
        &namespace,
        "replace",
        "2a01:4f8:c0c:1234:abcd::9",
        Some(MAC),
        "stale",
    );
    let (_, report, _) = run_in(&namespace, &world, &config, &["doctor"]);
    assert!(
        report.contains(&format!(
            "[ok] neighbour {MAC}: the neighbour table holds for {MAC}: "
        )),
        "{report}"
    );
    assert!(
        report.contains("2a01:4f8:c0c:1234:abcd::9 on lan0 (stale)"),
        "{report}"
    );
    assert!(
        report.contains("; cam.example.com gets 2a01:4f8:c0c:1234:abcd::9"),
        "{report}"
    );
}

#[test]
fn a_neighbour_change_of_the_configured_mac_starts_a_cycle_and_nothing_else_does() {
    let Some(namespace) = lan("neighwatch") else {
        return;
    };
    let world = World::new();
    let config = config(&world, "watch = [\"lan0\"]");
    let config = config.replace("[daemon]\n", "[daemon]\ninterval = \"1h\"\n");
    let path = world.write_config(&config);
    let started = Instant::now();
    let mut daemon = namespace.spawn_flaredns(&path);
    let (log, reader) = crate::netns::follow_stderr(&mut daemon);
    assert!(log.wait_for_cycle(started).is_some(), "no first cycle");
    // Changes that must start no cycle are followed by a barrier, not a quiet window: an
    // IPv4 address on lan0 (watched), the only change the daemon may tell since (see
    // `told_before`), and its cycle the only one.
    let no_cycle_from = |since: Instant, address: &str, what: &str| {
        let told = log.told_before(since, || {
            assert!(namespace.ip(&["addr", "add", address, "dev", "lan0"]));
        });
        assert!(
            told.len() == 1 && told[0].ends_with("an address changed on lan0: checking now"),
            "{what} started a cycle: {told:#?}"
        );
        assert_eq!(log.cycles_since(since).len(), 1, "{what}:\n{}", log.text());
    };
    let cycle_from = |since: Instant, what: &str| {
        let after = log.wait_for_cycle(since);
        // Within the (divided) settle window and a cycle, with room for a loaded machine.
        assert!(
            after.is_some_and(|after| after < std::time::Duration::from_secs(2)),
            "no cycle within 2 s after {what}: {after:?}"
        );
        let told: Vec<String> = log
            .told_since(since)
            .into_iter()
            .map(|(_, line)| line)
            .collect();
        assert!(
            told.len() == 1
                && told[0].ends_with(&format!(
                    "the neighbour table changed for {MAC}: checking now"
                )),
            "{what}: {told:#?}"
        );
    };

    // Another device's entry, and a link-local entry of this one: no cycle.
    let quiet = Instant::now();
    neigh(
        &namespace,
        "add",
        "2a01:4f8:c0c:1234::2",
        Some(OTHER_MAC),
        "reachable",
    );
    neigh(
        &namespace,
        "add",
        "fe80::11:22ff:fe33:4455",
        Some(MAC),
        "reachable",
    );
    no_cycle_from(quiet, "10.7.7.1/24", "another MAC or a link-local entry");

    // The configured device appears: a cycle.
    let appeared = Instant::now();
    neigh(
        &namespace,
        "add",
        "2a01:4f8:c0c:1234:abcd::5",
        Some(MAC),
        "reachable",
    );
    cycle_from(appeared, "the device appeared");

    // Reachable ↔ stale flips: no cycle.
    let flips = Instant::now();
    for state in ["stale", "reachable", "stale"] {
        neigh(
            &namespace,
            "replace",
            "2a01:4f8:c0c:1234:abcd::5",
            Some(MAC),
            state,
        );
    }
    no_cycle_from(flips, "10.7.7.2/24", "a state flip");

    // The device leaves: a cycle.
    let left = Instant::now();
    neigh(
        &namespace,
        "replace",
        "2a01:4f8:c0c:1234:abcd::5",
        None,
        "failed",
    );
    cycle_from(left, "the device left");

    let _ = daemon.kill();
    let _ = daemon.wait();
    let _ = reader.join();
    assert!(
        !log.text().contains("changed during the cycle"),
        "a change came in during a cycle:\n{}",
        log.text()
    );
}
