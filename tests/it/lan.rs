//! LAN hosts from the prefix: AAAA records made of this host's IPv6 /64 and a fixed interface
//! id or a MAC's EUI-64, rewritten together when the prefix changes.

use crate::harness::{World, PUBLIC_IPV4};

fn lan_config(world: &World, prefix_host: &str) -> String {
    world.config_detect(
        &format!("ipv4 = [\"static:{PUBLIC_IPV4}\"]\nipv6 = [\"static:{prefix_host}\"]"),
        "[[records]]\nname = \"nas.example.com\"\nipv6_host = \"::10\"\n\n[[records]]\nname = \"printer.example.com\"\nipv6_host = \"mac:02:11:22:33:44:55\"\n",
    )
}

fn aaaa(world: &World, name: &str) -> Vec<String> {
    world
        .standin
        .records_at("example.com", name)
        .into_iter()
        .filter(|record| record.record_type == "AAAA")
        .map(|record| record.content)
        .collect()
}

#[test]
fn lan_hosts_follow_the_prefix_in_one_batch() {
    let world = World::new();
    let config = lan_config(&world, "2a01:4f8:c0c:1234::1");
    let plan = world.run(&config, &["--once", "--dry-run"]);
    assert_eq!(plan.code, 0, "{}", plan.output());
    assert!(
        plan.stdout.contains("derived       nas.example.com AAAA 2a01:4f8:c0c:1234::10 = the /64 of 2a01:4f8:c0c:1234::1 (the detected IPv6 address) + ::10"),
        "{}",
        plan.stdout
    );
    let first = world.run(&config, &["--once"]);
    assert_eq!(first.code, 0, "{}", first.output());
    assert_eq!(
        aaaa(&world, "nas.example.com"),
        vec!["2a01:4f8:c0c:1234::10"]
    );
    assert_eq!(
        aaaa(&world, "printer.example.com"),
        vec!["2a01:4f8:c0c:1234:11:22ff:fe33:4455"]
    );
    assert!(world
        .standin
        .records_at("example.com", "nas.example.com")
        .iter()
        .all(|r| r.record_type == "AAAA"));
    // The ISP hands out a new prefix: both hosts move, in one batch.
    let moved = world.run(&lan_config(&world, "2a01:4f8:c0c:9999::1"), &["--once"]);
    assert_eq!(moved.code, 0, "{}", moved.output());
    let batches = moved.writes().len();
    assert_eq!(batches, 1, "{:?}", moved.api);
    assert_eq!(
        aaaa(&world, "nas.example.com"),
        vec!["2a01:4f8:c0c:9999::10"]
    );
    assert_eq!(
        aaaa(&world, "printer.example.com"),
        vec!["2a01:4f8:c0c:9999:11:22ff:fe33:4455"]
    );
    let doctor = world.run(&lan_config(&world, "2a01:4f8:c0c:9999::1"), &["doctor"]);
    assert!(
        doctor
            .stdout
            .contains("derived: nas.example.com AAAA 2a01:4f8:c0c:9999::10"),
        "{}",
        doctor.stdout
    );
}

#[test]
fn a_non_global_prefix_never_becomes_a_published_aaaa() {
    let world = World::new();
    let config = world.config_detect(
        &format!("ipv4 = [\"static:{PUBLIC_IPV4}\"]"),
        "[[records]]\nname = \"nas.example.com\"\nipv6_host = \"::10\"\nipv6_prefix_from = \"static:fd12:3456:789a::1\"\n",
    );
    let outcome = world.run(&config, &["--once"]);
    assert_eq!(outcome.code, 1, "{}", outcome.output());
    assert!(
        outcome.stderr.contains("not publishable"),
        "{}",
        outcome.stderr
    );
    assert!(outcome.writes().is_empty());
}

#[test]
fn lan_host_settings_are_checked() {
    let world = World::new();
    for (record, key) in [
        (
            "ipv6_host = \"::10\"\ntypes = [\"A\", \"AAAA\"]\n",
            "records.types",
        ),
        ("ipv6_host = \"mac:02:11:22:33:44\"\n", "records.ipv6_host"),
        ("ipv6_host = \"2a01::10\"\n", "records.ipv6_host"),
        (
            "ipv6_host = \"neigh:02:11:22:33:44\"\n",
            "records.ipv6_host",
        ),
        (
            "ipv6_host = \"neigh:01:00:5e:00:00:01\"\n",
            "records.ipv6_host",
        ),
        ("ipv6_host = \"neigh:\"\n", "records.ipv6_host"),
        (
            "ipv6_host = \"neigh:02:11:22:33:44:55\"\ntypes = [\"A\"]\n",
            "records.types",
        ),
        (
            "ipv6_prefix_from = \"iface:lan0\"\n",
            "records.ipv6_prefix_from",
        ),
    ] {
        let config = world.config_detect(
            "ipv4 = [\"static:81.23.45.99\"]\nipv6 = [\"static:2a01:4f8:c0c:1234::1\"]",
            &format!("[[records]]\nname = \"nas.example.com\"\n{record}"),
        );
        let outcome = world.run(&config, &["check-config"]);
        assert_eq!(outcome.code, 2, "{record}: {}", outcome.output());
        assert!(outcome.stderr.contains(key), "{}", outcome.stderr);
    }
}

// See: issue 21, point 2. The prefix length read from the kernel was thrown away, so a /80 LAN
// or a /128 PPPoE address derived an AAAA outside the LAN.
#[test]
fn a_prefix_longer_than_64_derives_nothing_and_names_the_prefix() {
    let Some(namespace) = crate::netns::Namespace::new("prefix") else {
        return;
    };
    assert!(namespace.add_interface("lan0"));
    assert!(namespace.add_interface("ppp0"));
    assert!(namespace.ip(&[
        "addr",
        "add",
        "2a01:4f8:c0c:1234:5678::1/80",
        "dev",
        "lan0",
        "nodad"
    ]));
    assert!(namespace.ip(&[
        "addr",
        "add",
        "2a01:4f8:c0c:9999::1/128",
        "dev",
        "ppp0",
        "nodad"
    ]));
    let world = World::new();
    for (label, detect, record, prefix) in [
        (
            "a /80 LAN",
            format!("ipv4 = [\"static:{PUBLIC_IPV4}\"]"),
            "ipv6_prefix_from = \"iface:lan0\"\n",
            "/80",
        ),
        (
            "a /128 PPPoE address",
            format!("ipv4 = [\"static:{PUBLIC_IPV4}\"]\nipv6 = [\"iface:ppp0\"]"),
            "",
            "/128",
        ),
    ] {
        let config = world.config_detect(
            &detect,
            &format!("[[records]]\nname = \"nas.example.com\"\nipv6_host = \"::10\"\n{record}"),
        );
        let path = world.write_config(&config);
        let output = namespace
            .command(env!("CARGO_BIN_EXE_flaredns"))
            .arg("--config")
            .arg(&path)
            .args(["--once", "--dry-run"])
            .env("CLOUDFLARE_API_TOKEN", "unused")
            .env("STATE_DIRECTORY", world.dir.path().join("state"))
            .output()
            .expect("run flaredns in the namespace");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{label}: {stderr}");
        assert!(
            stderr.contains(&format!("is {prefix}, longer than /64")),
            "{label}: {stderr}"
        );
        assert!(
            !stdout.contains("::10 "),
            "{label}: nothing derived: {stdout}"
        );
    }
}

// See: issue 22. `status` showed the firewall's own IPv6 address for `ipv6_host` records: the
// report did not carry the content a record holds.
#[test]
fn status_shows_the_lan_hosts_own_address() {
    let world = World::new();
    let config = lan_config(&world, "2a01:4f8:c0c:1234::1");
    let first = world.run(&config, &["--once"]);
    assert_eq!(first.code, 0, "{}", first.output());
    let second = world.run(&config, &["--once"]);
    assert_eq!(second.code, 0, "{}", second.output());
    let status = world.run(&config, &["status", "--json"]);
    let document: serde_json::Value = serde_json::from_str(&status.stdout).expect("json");
    let records = document["records"].as_array().expect("records");
    let nas = records
        .iter()
        .find(|record| record["name"] == "nas.example.com")
        .expect("nas");
    assert_eq!(nas["address"], "2a01:4f8:c0c:1234::10", "{status:?}");
    let printer = records
        .iter()
        .find(|record| record["name"] == "printer.example.com")
        .expect("printer");
    assert_eq!(printer["address"], "2a01:4f8:c0c:1234:11:22ff:fe33:4455");
}
