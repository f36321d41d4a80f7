//! What the adversarial review of round three found (each test failed before its fix).

use crate::harness::{record, Record, World, OLD_IPV4};

/// The webhook events the stand-in received, as "event subject".
fn events(world: &World) -> Vec<String> {
    world
        .standin
        .requests()
        .into_iter()
        .filter(|request| request.path.starts_with("/hook"))
        .map(|request| {
            let event: serde_json::Value = serde_json::from_str(&request.body).expect("JSON");
            format!(
                "{} {}",
                event["event"].as_str().unwrap_or(""),
                event["name"]
                    .as_str()
                    .or(event["detection"].as_str())
                    .unwrap_or("")
            )
        })
        .collect()
}

/// A status.json holding one entry the typed status does not know (here a history entry of a
/// family that is not one, which the string-typed version dropped on read) was ignored as a
/// whole by `--once`: the failure it remembered was never announced as recovered, and the
/// cycle counters started again from zero.
#[test]
fn review3_one_untyped_entry_in_status_json_does_not_lose_the_failure_or_the_counters() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let notify = format!(
        "\n[notify]\nwebhooks = [\"{}\"]\n",
        world.standin.url("/hook/review3")
    );
    let broken = world.config_detect(
        "ipv4 = [\"trace:http://127.0.0.1:1/cdn-cgi/trace\"]",
        &format!("{}{notify}", record("home.example.com")),
    );
    let fine = world.config(&format!("{}{notify}", record("home.example.com")));
    let failed = world.run(&broken, &["--once"]);
    assert_eq!(failed.code, 1, "{}", failed.output());
    assert_eq!(events(&world), vec!["failed ipv4"]);

    let path = world.dir.path().join("state").join("status.json");
    let mut status: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("status.json")).expect("JSON");
    status["history"]
        .as_array_mut()
        .expect("history")
        .push(serde_json::json!({"family": "ipv5", "old": "a", "new": "b", "at": 1}));
    std::fs::write(&path, status.to_string()).expect("edit");

    let recovered = world.run(&fine, &["--once"]);
    assert_eq!(recovered.code, 0, "{}", recovered.output());
    let kinds = events(&world);
    assert!(
        kinds.contains(&"recovered ipv4".to_string()),
        "{kinds:?}\n{}",
        recovered.output()
    );
    let status: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("status.json")).expect("JSON");
    assert_eq!(status["counters"]["cycles"]["failure"], 1, "{status}");
    assert_eq!(status["counters"]["cycles"]["success"], 1, "{status}");
}
