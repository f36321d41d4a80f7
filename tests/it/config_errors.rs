//! Bad configuration: exit 2, naming the key and line.

use crate::harness::World;

#[test]
fn unknown_config_key_exits_2_naming_the_key_and_line() {
    let world = World::new();
    let config = world.config("[[records]]\nname = \"home.example.com\"\nproxyed = true\n");
    let outcome = world.run(&config, &["--once"]);
    assert_eq!(outcome.code, 2, "{}", outcome.output());
    assert!(outcome.stderr.contains("proxyed"), "{}", outcome.stderr);
    let line = config
        .lines()
        .position(|l| l.starts_with("proxyed"))
        .map(|i| i + 1)
        .unwrap_or(0);
    assert!(
        outcome.stderr.contains(&format!("config.toml:{line}:")),
        "line {line}: {}",
        outcome.stderr
    );
    assert!(outcome.api.is_empty());
}

#[test]
fn invalid_name_exits_2() {
    let world = World::new();
    let outcome = world.run(
        &world.config("[[records]]\nname = \"not a name\"\n"),
        &["--once"],
    );
    assert_eq!(outcome.code, 2, "{}", outcome.output());
    assert!(
        outcome.stderr.contains("records.name"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn missing_token_exits_2() {
    let mut world = World::new();
    world
        .env
        .push(("CLOUDFLARE_API_TOKEN".to_string(), String::new()));
    let outcome = world.run(
        &world.config("[[records]]\nname = \"home.example.com\"\n"),
        &["--once"],
    );
    assert_eq!(outcome.code, 2, "{}", outcome.output());
    assert!(
        outcome.stderr.contains("no API token"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn the_example_config_passes_check_config() {
    let world = World::new();
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml"))
            .expect("config.example.toml");
    let outcome = world.run(&example, &["check-config"]);
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert!(outcome.stdout.contains("[[records]]"), "{}", outcome.stdout);
}

#[test]
fn usage_error_exits_2() {
    let world = World::new();
    let outcome = world.run(
        &world.config("[[records]]\nname = \"home.example.com\"\n"),
        &["--no-such-flag"],
    );
    assert_eq!(outcome.code, 2, "{}", outcome.output());
}
