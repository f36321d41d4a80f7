//! Names written in Unicode: converted with IDNA (UTS #46, nontransitional) to the `xn--`
//! form Cloudflare and DNS hold, shown in both forms, and refused with the key, the line and
//! the reason when UTS #46 refuses them.

use crate::harness::{record, World};

#[test]
fn a_unicode_name_creates_its_xn_record_and_is_then_in_sync() {
    let world = World::new();
    let config = world.config(&record("bücher.example.com"));
    let plan = world.run(&config, &["--once", "--dry-run"]);
    assert_eq!(plan.code, 0, "{}", plan.output());
    assert!(
        plan.stdout.contains("xn--bcher-kva.example.com")
            && plan.stdout.contains("# bücher.example.com"),
        "{}",
        plan.stdout
    );
    let first = world.run(&config, &["--once"]);
    assert_eq!(first.code, 0, "{}", first.output());
    let held = world
        .standin
        .records_at("example.com", "xn--bcher-kva.example.com");
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].record_type, "A");
    let second = world.run(&config, &["--once"]);
    assert_eq!(second.code, 0, "{}", second.output());
    assert!(second.writes().is_empty(), "{:?}", second.api);

    let shown = world.run(&config, &["check-config"]);
    assert!(
        shown
            .stdout
            .contains("name = \"xn--bcher-kva.example.com\"   # bücher.example.com"),
        "{}",
        shown.stdout
    );
    let status = world.run(&config, &["status", "--json"]);
    let document: serde_json::Value = serde_json::from_str(&status.stdout).expect("json");
    let line = &document["records"][0];
    assert_eq!(line["name"], "xn--bcher-kva.example.com", "{document}");
    assert_eq!(line["unicode"], "bücher.example.com", "{document}");
    let status = world.run(&config, &["status"]);
    assert!(
        status
            .stdout
            .contains("xn--bcher-kva.example.com (bücher.example.com)"),
        "{}",
        status.stdout
    );
}

#[test]
fn a_unicode_zone_pinned_with_zone_is_found() {
    let world = World::new();
    world.standin.add_zone("xn--mnchen-3ya.de");
    let config = world.config("[[records]]\nname = \"www.münchen.de\"\nzone = \"MÜNCHEN.de\"\n");
    let first = world.run(&config, &["--once"]);
    assert_eq!(first.code, 0, "{}", first.output());
    let held = world
        .standin
        .records_at("xn--mnchen-3ya.de", "www.xn--mnchen-3ya.de");
    assert_eq!(held.len(), 1, "{held:?}");
    let shown = world.run(&config, &["check-config"]);
    assert!(
        shown
            .stdout
            .contains("zone = \"xn--mnchen-3ya.de\"   # münchen.de"),
        "{}",
        shown.stdout
    );
}

#[test]
fn names_uts46_refuses_are_config_errors_with_key_line_and_reason() {
    let world = World::new();
    for (name, reason) in [
        ("a\u{200d}b.example.com", "UTS #46"),
        ("bad\u{fffd}.example.com", "U+FFFD"),
        ("b\u{fc}cher .example.com", "may hold only"),
    ] {
        let config = world.config(&format!("\n\n[[records]]\nname = \"{name}\"\n"));
        let outcome = world.run(&config, &["check-config"]);
        assert_eq!(outcome.code, 2, "{name}: {}", outcome.output());
        assert!(
            outcome.stderr.contains("records.name") && outcome.stderr.contains(reason),
            "{name}: {}",
            outcome.stderr
        );
        assert!(
            outcome.stderr.contains(".toml:"),
            "the line: {}",
            outcome.stderr
        );
    }
}

#[test]
fn doctor_names_a_unicode_record_in_both_forms() {
    let world = World::new();
    let config = world.config(&record("bücher.example.com"));
    let first = world.run(&config, &["--once"]);
    assert_eq!(first.code, 0, "{}", first.output());
    let doctor = world.run(&config, &["doctor"]);
    assert!(
        doctor
            .stdout
            .contains("record xn--bcher-kva.example.com (bücher.example.com)"),
        "{}",
        doctor.stdout
    );
}
