//! IPv6 and every IP provider: AAAA kept like A, families independent, nothing non-global
//! ever published.

use std::process::Command;

use crate::harness::{record, Record, World, OLD_IPV4, PUBLIC_IPV4, PUBLIC_IPV6};

const OLD_IPV6: &str = "2a01:4f8:c0c:1234::10";

/// The stand-in's IPv6 trace URL, or None (and a note) on a machine without IPv6 loopback.
fn trace_v6(world: &World) -> Option<String> {
    let url = world.standin.trace_url_v6();
    if url.is_none() {
        crate::netns::skip(
            "an IPv6 test",
            "this machine has no IPv6 loopback (::1) for the stand-in",
        );
    }
    url
}

#[test]
fn a_and_aaaa_are_updated_together_in_one_batch() {
    let world = World::new();
    let Some(trace6) = trace_v6(&world) else {
        return;
    };
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "AAAA", OLD_IPV6).comment("v6 by hand"),
    );
    let detect = format!(
        "ipv4 = [\"trace:{}\"]\nipv6 = [\"trace:{trace6}\"]",
        world.standin.trace_url()
    );
    let outcome = world.run(
        &world.config_detect(&detect, &record("home.example.com")),
        &["--once"],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert_eq!(outcome.writes().len(), 1, "{:?}", outcome.api);
    let records = world.standin.records_at("example.com", "home.example.com");
    assert_eq!(
        (records[0].record_type.as_str(), records[0].content.as_str()),
        ("A", PUBLIC_IPV4)
    );
    assert_eq!(
        (records[1].record_type.as_str(), records[1].content.as_str()),
        ("AAAA", PUBLIC_IPV6)
    );
    assert_eq!(records[1].comment.as_deref(), Some("v6 by hand"));
    let again = world.run(
        &world.config_detect(&detect, &record("home.example.com")),
        &["--once"],
    );
    assert!(
        again.api.is_empty(),
        "AAAA checked through DNS too: {:?}",
        again.api
    );
}

#[test]
fn an_ipv6_only_record_gets_only_aaaa() {
    let world = World::new();
    let Some(trace6) = trace_v6(&world) else {
        return;
    };
    let detect = format!("ipv4 = []\nipv6 = [\"trace:{trace6}\"]");
    let outcome = world.run(
        &world.config_detect(&detect, &record("v6.example.com")),
        &["--once"],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    let records = world.standin.records_at("example.com", "v6.example.com");
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].record_type.as_str(), records[0].content.as_str()),
        ("AAAA", PUBLIC_IPV6)
    );
}

#[test]
fn an_ipv6_failure_never_blocks_the_ipv4_update() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let detect = format!(
        "ipv4 = [\"trace:{}\"]\nipv6 = [\"static:2001:db8::1\"]",
        world.standin.trace_url()
    );
    let outcome = world.run(
        &world.config_detect(&detect, &record("home.example.com")),
        &["--once"],
    );
    assert_eq!(outcome.code, 1, "{}", outcome.output());
    assert!(
        outcome.stderr.contains("documentation (2001:db8::/32)"),
        "{}",
        outcome.stderr
    );
    let records = world.standin.records_at("example.com", "home.example.com");
    assert_eq!(records.len(), 1, "no AAAA was created: {records:?}");
    assert_eq!(records[0].content, PUBLIC_IPV4);
}

#[test]
fn detection_falls_back_past_private_and_cgnat_answers() {
    let world = World::new();
    let detect = format!(
        "ipv4 = [\"static:192.168.1.20\", \"static:100.64.3.4\", \"url:{}\"]",
        world.standin.ip_url()
    );
    let outcome = world.run(
        &world.config_detect(&detect, &record("home.example.com")),
        &["--once"],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert!(
        outcome.stderr.contains("192.168.1.20, refused: private"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome
            .stderr
            .contains("100.64.3.4, refused: carrier-grade NAT"),
        "{}",
        outcome.stderr
    );
    assert_eq!(
        world.standin.records_at("example.com", "home.example.com")[0].content,
        PUBLIC_IPV4
    );
}

#[test]
fn nothing_usable_exits_1_and_writes_nothing() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    // A Cloudflare address, a documentation address, garbage text, loopback, and `lo`.
    let detect = format!(
        "ipv4 = [\"static:104.16.0.1\", \"static:192.0.2.1\", \"url:{}\", \"static:127.0.0.1\", \"iface:lo\"]",
        world.standin.trace_url()
    );
    let outcome = world.run(
        &world.config_detect(&detect, &record("home.example.com")),
        &["--once"],
    );
    assert_eq!(outcome.code, 1, "{}", outcome.output());
    assert!(outcome.api.is_empty(), "{:?}", outcome.api);
    for reason in [
        "Cloudflare's own ranges",
        "documentation (192.0.2.0/24)",
        "is not an IP address",
        "127.0.0.1, refused: loopback",
        "iface:lo answered 127.0.0.1",
    ] {
        assert!(
            outcome.stderr.contains(reason),
            "missing {reason:?}: {}",
            outcome.stderr
        );
    }
    assert_eq!(
        world.standin.records_at("example.com", "home.example.com")[0].content,
        OLD_IPV4
    );
}

#[test]
fn the_whoami_dns_provider_reads_the_address_for_each_family() {
    let world = World::new();
    let mut detect = format!("ipv4 = [\"dns:{}\"]", world.standin.dns_addr());
    let mut records = record("home.example.com");
    if let Some(dns6) = world.standin.dns_addr_v6() {
        detect.push_str(&format!("\nipv6 = [\"dns:{dns6}\"]"));
    } else {
        crate::netns::skip(
            "the IPv6 half of the_whoami_dns_provider_reads_the_address_for_each_family",
            "this machine has no IPv6 loopback (::1) for the stand-in",
        );
        records.push_str("types = [\"A\"]\n");
    }
    let outcome = world.run(&world.config_detect(&detect, &records), &["--once"]);
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    let contents: Vec<String> = world
        .standin
        .records_at("example.com", "home.example.com")
        .into_iter()
        .map(|r| r.content)
        .collect();
    assert!(contents.contains(&PUBLIC_IPV4.to_string()), "{contents:?}");
    if world.standin.dns_addr_v6().is_some() {
        assert!(contents.contains(&PUBLIC_IPV6.to_string()), "{contents:?}");
    }
}

#[test]
fn static_and_trace_providers_work() {
    let world = World::new();
    let detect = "ipv4 = [\"static:81.23.45.77\"]";
    let outcome = world.run(
        &world.config_detect(detect, &record("home.example.com")),
        &["--once"],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert_eq!(
        world.standin.records_at("example.com", "home.example.com")[0].content,
        "81.23.45.77"
    );
}

/// `iface:` against a dummy (or veth) interface in a network namespace this test creates. The binary
/// runs inside the namespace, where only detection can work, so it runs `doctor`, which
/// reports each provider's answer whatever happens to the API.
#[test]
fn the_iface_provider_reads_a_stable_global_address_of_a_dummy_interface() {
    let namespace = crate::netns::unique_name("test");
    let ip = |args: &[&str]| {
        Command::new("ip")
            .args(args)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if !ip(&["netns", "add", &namespace]) {
        crate::netns::skip(
            "the_iface_provider_reads_a_stable_global_address_of_a_dummy_interface",
            "cannot create a network namespace (needs root and iproute2)",
        );
        return;
    }
    struct Cleanup(String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
    let _cleanup = Cleanup(namespace.clone());
    let n = namespace.as_str();
    // A dummy interface where the kernel has the module, else one end of a veth pair.
    let created = ip(&["-n", n, "link", "add", "fl0", "type", "dummy"])
        || ip(&[
            "-n", n, "link", "add", "fl0", "type", "veth", "peer", "name", "fl1",
        ]);
    assert!(created, "add an interface in the namespace");
    assert!(ip(&["-n", n, "link", "set", "fl0", "up"]));
    assert!(ip(&["-n", n, "addr", "add", "10.9.8.7/24", "dev", "fl0"]));
    assert!(ip(&[
        "-n",
        n,
        "addr",
        "add",
        "81.23.45.55/32",
        "dev",
        "fl0"
    ]));
    assert!(
        ip(&[
            "-n",
            n,
            "addr",
            "add",
            "2a01:4f8:c0c:1234::99/64",
            "dev",
            "fl0",
            "nodad",
            "preferred_lft",
            "0"
        ]),
        "deprecated address"
    );
    assert!(
        ip(&[
            "-n",
            n,
            "addr",
            "add",
            "2a01:4f8:c0c:1234::55/64",
            "dev",
            "fl0",
            "nodad"
        ]),
        "stable address"
    );

    let world = World::new();
    // The stand-in is out of the namespace's reach: doctor's token check fails once, and
    // with one request a run it is not retried after a backoff.
    let config = world.config_detect(
        "ipv4 = [\"iface:fl0\"]\nipv6 = [\"iface:fl0\"]",
        &format!(
            "[daemon]\nmax_requests_per_cycle = 1\n\n{}",
            record("home.example.com")
        ),
    );
    let path = world.write_config(&config);
    // Plainly, and as the shipped units run it: under ProcSubset=pid, a proc mount with
    // subset=pid (in a mount namespace of the test's own), where /proc/net is hidden.
    let binary = env!("CARGO_BIN_EXE_flaredns");
    let plain = format!("exec {binary} --config {} doctor", path.display());
    let subset = format!(
        "mount -t proc -o subset=pid proc /proc || exit 77; test ! -e /proc/net/if_inet6 || exit 78; {plain}"
    );
    for (label, script, isolated) in [
        ("plain", plain.clone(), false),
        ("ProcSubset=pid", subset, true),
    ] {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", n]);
        if isolated {
            command.args(["unshare", "--mount", "--propagation", "private"]);
        }
        let output = command
            .args(["sh", "-c", &script])
            .env("CLOUDFLARE_API_TOKEN", "unused")
            .env("STATE_DIRECTORY", world.dir.path().join("state"))
            .output()
            .expect("run flaredns in the namespace");
        if isolated && matches!(output.status.code(), Some(77) | Some(78)) {
            eprintln!("skipped {label}: this kernel cannot mount proc with subset=pid");
            continue;
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("iface:fl0 answered 81.23.45.55"),
            "{label}: {stdout}"
        );
        assert!(
            stdout.contains("iface:fl0 answered 2a01:4f8:c0c:1234::55"),
            "{label}: the stable address, not the deprecated one: {stdout}"
        );
    }
    assert!(
        world.standin.requests().is_empty(),
        "nothing left the namespace"
    );
}
