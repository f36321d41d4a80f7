//! What the adversarial review of round three found (each test failed before its fix).

use crate::harness::{record, Record, World, OLD_IPV4};

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
    assert_eq!(crate::notify::event_summaries(&world), vec!["failed ipv4"]);

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
    let kinds = crate::notify::event_summaries(&world);
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

/// Every file of the state directory: name, length, modification time and contents.
fn state_files(world: &World) -> Vec<(String, u64, std::time::SystemTime, Vec<u8>)> {
    let dir = world.dir.path().join("state");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| {
                    let meta = entry.metadata().expect("metadata");
                    (
                        entry.file_name().to_string_lossy().to_string(),
                        meta.len(),
                        meta.modified().expect("mtime"),
                        std::fs::read(entry.path()).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Doctor reads a full state directory (zone cache, memory of records and WAF lists, status,
/// a remembered Retry-After) and changes none of its files, whatever it meets: records out of
/// sync, a record renamed behind the memory's back, a rate limit, failing lists, api mode.
/// Runs doctor in-process with `fault` injected and asserts it changed no file of the state
/// directory.
async fn doctor_changes_nothing(
    here: &crate::paused::Here,
    label: &str,
    config: &str,
    fault: Option<crate::harness::Fault>,
) {
    let world = &here.world;
    let before = state_files(world);
    assert!(
        before.iter().any(|(name, ..)| name == "status.json"),
        "{before:?}"
    );
    world.standin.clear_faults();
    if let Some(fault) = fault {
        world.standin.inject(fault);
    }
    let (_, report) = here.doctor(here.config(config)).await;
    assert!(
        report.contains("problem(s)") || report.contains("record "),
        "{label}: {report}"
    );
    let after = state_files(world);
    let changed: Vec<&str> = after
        .iter()
        .filter(|file| !before.contains(file))
        .chain(before.iter().filter(|file| !after.contains(file)))
        .map(|(name, ..)| name.as_str())
        .collect();
    assert!(changed.is_empty(), "{label}: doctor changed {changed:?}");
}

// On paused time: doctor's backoff after a refused request costs no real second.
#[tokio::test(start_paused = true)]
async fn review3_doctor_changes_no_file_of_a_full_state_directory() {
    use crate::harness::Fault;
    let here = crate::paused::Here::new().await;
    let world = &here.world;
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let id = world.standin.add_record(
        "example.com",
        Record::new("gone.example.com", "A", OLD_IPV4),
    );
    let records = format!(
        "{}{}\n[[waf_lists]]\naccount = \"{}\"\nname = \"home_ips\"\n",
        record("home.example.com"),
        record("gone.example.com"),
        crate::waf::ACCOUNT
    );
    let dns = world.config(&records);
    let api = crate::harness::api_mode(&dns);
    assert_eq!(here.once(&dns).await, 0, "{}", here.log());
    world.standin.rename_record(&id, "renamed.example.com");
    world.standin.set_public_ipv4("81.23.45.124");
    // Beyond the cycle's deadline: no wait, the limit is reported (and a cycle remembers it).
    let limited = || {
        Fault::status(429, r#"{"success":false,"errors":[]}"#)
            .header("retry-after", "3000")
            .path("/client/v4")
    };
    let lists_refused = || {
        Fault::status(
            403,
            r#"{"success":false,"errors":[{"code":10000,"message":"Authentication error"}]}"#,
        )
        .path("/rules/lists")
    };
    doctor_changes_nothing(&here, "dns, out of sync", &dns, None).await;
    doctor_changes_nothing(&here, "api, out of sync", &api, None).await;
    doctor_changes_nothing(&here, "lists refused", &dns, Some(lists_refused())).await;
    // A Retry-After past the deadline with the refusal: doctor's next request is refused at
    // once, and the wait, which a cycle would remember, is one more thing it must not write.
    let refused_with_wait = lists_refused().header("retry-after", "3000");
    doctor_changes_nothing(
        &here,
        "lists refused, a wait",
        &dns,
        Some(refused_with_wait),
    )
    .await;
    doctor_changes_nothing(&here, "rate limited", &dns, Some(limited())).await;
    doctor_changes_nothing(&here, "api, rate limited", &api, Some(limited())).await;
    // Now with a Retry-After remembered by a cycle.
    world.standin.inject(limited());
    let _ = here.once(&dns).await;
    world.standin.clear_faults();
    assert!(
        state_files(world).len() > 3,
        "a cycle remembers the wait: {:?}",
        state_files(world)
            .iter()
            .map(|(name, ..)| name.clone())
            .collect::<Vec<_>>()
    );
    doctor_changes_nothing(&here, "a wait remembered", &dns, None).await;
    doctor_changes_nothing(&here, "api, a wait remembered", &api, None).await;
}
