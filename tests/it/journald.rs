//! Under journald (`JOURNAL_STREAM` set) each stderr line starts with its sd-daemon priority,
//! so `journalctl -p warning` shows exactly the warnings and errors.

use crate::harness::{record, Fault, Record, World, OLD_IPV4};

/// The priority each level's lines must carry.
const LEVELS: [(&str, &str); 4] = [
    ("ERROR", "<3>"),
    ("WARN", "<4>"),
    ("INFO", "<6>"),
    ("DEBUG", "<7>"),
];

/// Checks every line and returns the priorities seen.
fn priorities(stderr: &str) -> Vec<&'static str> {
    let mut seen = Vec::new();
    for line in stderr.lines().filter(|line| !line.trim().is_empty()) {
        let (level, prefix) = LEVELS
            .iter()
            .find(|(_, prefix)| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("a line without a priority: {line:?}\n{stderr}"));
        assert!(
            line[3..].trim_start().starts_with(level),
            "{line:?} carries {prefix}"
        );
        seen.push(*prefix);
    }
    seen
}

#[test]
fn each_line_carries_its_priority_under_journald() {
    let mut world = World::new();
    world
        .env
        .push(("JOURNAL_STREAM".to_string(), "8:12345".to_string()));
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    world
        .standin
        .inject(Fault::status(400, "{}").path("/hook/"));
    let config = world.config(&format!(
        "{}\n[notify]\nwebhooks = [\"{}\"]\n",
        record("home.example.com"),
        world.standin.url("/hook/x")
    ));
    let changed = world.run(&config, &["--once", "-v"]);
    assert_eq!(changed.code, 0, "{}", changed.output());
    let seen = priorities(&changed.stderr);
    for prefix in ["<4>", "<6>", "<7>"] {
        assert!(
            seen.contains(&prefix),
            "no {prefix} line:\n{}",
            changed.stderr
        );
    }
    world.standin.set_public_ipv4("192.168.1.20");
    let failed = world.run(&config, &["--once"]);
    assert_eq!(failed.code, 1, "{}", failed.output());
    assert!(
        priorities(&failed.stderr).contains(&"<3>"),
        "{}",
        failed.stderr
    );
    // Without journald, no prefix.
    world.env.clear();
    let plain = world.run(&config, &["--once"]);
    assert!(
        !plain.stderr.contains("<3>") && !plain.stderr.starts_with('<'),
        "{}",
        plain.stderr
    );
}
