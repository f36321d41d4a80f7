//! `flaredns doctor`: finds the failures that make people need this tool, changes nothing.

use crate::harness::{record, Fault, Record, World, OLD_IPV4, PUBLIC_IPV4};

#[test]
fn a_healthy_setup_exits_0_and_json_parses_with_stable_fields() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", PUBLIC_IPV4),
    );
    let outcome = world.run(
        &world.config(&record("home.example.com")),
        &["doctor", "--json"],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    let report: serde_json::Value =
        serde_json::from_str(&outcome.stdout).expect("one JSON document");
    assert_eq!(report["problems"], 0);
    let findings = report["findings"].as_array().expect("findings");
    assert!(findings
        .iter()
        .all(|f| f["check"].is_string() && f["status"].is_string() && f["found"].is_string()));
    assert!(
        findings
            .iter()
            .any(|f| f["check"] == "record home.example.com A" && f["status"] == "ok"),
        "{findings:?}"
    );
    assert!(outcome.writes().is_empty());
}

#[test]
fn a_cname_to_a_ddns_host_is_a_problem_naming_target_risk_and_fix() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "CNAME", "myhome.duckdns.org"),
    );
    let outcome = world.run(&world.config(&record("home.example.com")), &["doctor"]);
    assert_eq!(outcome.code, 1, "{}", outcome.output());
    let text = outcome.stdout.clone();
    assert!(text.contains("[problem] record home.example.com"), "{text}");
    assert!(text.contains("CNAME to myhome.duckdns.org"), "{text}");
    assert!(text.contains("Duck DNS"), "{text}");
    assert!(text.contains("does not resolve now"), "{text}");
    assert!(text.contains("530 / 1016"), "{text}");
    assert!(text.contains("replace_cname = true"), "{text}");
    assert!(outcome.writes().is_empty());
}

#[test]
fn under_attack_mode_is_reported_with_what_it_does_and_the_fix() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", PUBLIC_IPV4),
    );
    world
        .standin
        .set_security_level("example.com", "under_attack");
    let outcome = world.run(&world.config(&record("home.example.com")), &["doctor"]);
    assert_eq!(
        outcome.code,
        0,
        "a warning, not a problem: {}",
        outcome.output()
    );
    assert!(
        outcome
            .stdout
            .contains("[warning] zone example.com: zone example.com is in Under Attack mode"),
        "{}",
        outcome.stdout
    );
    assert!(outcome.stdout.contains("Skip action"), "{}", outcome.stdout);
}

#[tokio::test(start_paused = true)]
async fn a_rejected_token_is_a_problem_that_says_token() {
    let here = crate::paused::Here::new().await;
    let config = here.config_token(
        &here.world.config(&record("home.example.com")),
        "not-the-token",
    );
    let (code, report) = here.doctor(config).await;
    assert_eq!(code, 1, "{report}\n{}", here.log());
    assert!(
        report.contains("[problem] token: Cloudflare rejected the API token"),
        "{report}"
    );
    assert!(!report.contains("not-the-token") && !here.log().contains("not-the-token"));
}

#[test]
fn an_ip_restricted_token_says_so() {
    let world = World::new();
    world.standin.inject(
        Fault::status(403, r#"{"success":false,"errors":[{"code":9109,"message":"Cannot use the access token from location: 81.23.45.99"}]}"#).path("/user/tokens/verify"),
    );
    let outcome = world.run(&world.config(&record("home.example.com")), &["doctor"]);
    assert_eq!(outcome.code, 1, "{}", outcome.output());
    assert!(
        outcome.stdout.contains("restricted to other IP addresses"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains("Client IP Address Filtering"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn providers_that_disagree_or_are_refused_are_reported() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", PUBLIC_IPV4),
    );
    let config = world
        .config(&record("home.example.com"))
        .replace("ipv4 = [", "ipv4 = [\"static:10.0.0.7\", ")
        .replace("timeout = \"2s\"", "timeout = \"2s\"\n# second provider\n")
        .replace("\"]\ntimeout", "\", \"static:81.23.45.77\"]\ntimeout");
    let outcome = world.run(&config, &["doctor"]);
    assert!(
        outcome
            .stdout
            .contains("static:10.0.0.7 answered 10.0.0.7, refused: private"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains("the providers disagree"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome
            .stdout
            .contains(&format!("this host's public IPv4 address is {PUBLIC_IPV4}")),
        "{}",
        outcome.stdout
    );
}

#[test]
fn a_proxied_record_is_explained_and_an_old_address_is_a_warning() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("api.example.com", "A", OLD_IPV4).proxied(true),
    );
    let outcome = world.run(&world.config(&record("api.example.com")), &["doctor"]);
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert!(
        outcome
            .stdout
            .contains("Cloudflare's own addresses: the record is proxied"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains(&format!(
            "out of date (api.example.com A: {OLD_IPV4} → {PUBLIC_IPV4}); the next run updates it"
        )),
        "{}",
        outcome.stdout
    );
}

#[test]
fn a_config_error_exits_2() {
    let world = World::new();
    let outcome = world.run(
        "[[records]]\nname = \"a.example.com\"\nbogus = 1\n",
        &["doctor"],
    );
    assert_eq!(outcome.code, 2, "{}", outcome.output());
}

#[tokio::test(start_paused = true)]
async fn an_account_token_that_cannot_use_user_verify_but_lists_zones_is_ok() {
    let here = crate::paused::Here::new().await;
    let world = &here.world;
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", PUBLIC_IPV4),
    );
    world.standin.inject(
        Fault::status(
            401,
            r#"{"success":false,"errors":[{"code":1000,"message":"Invalid API Token"}]}"#,
        )
        .path("/user/tokens/verify"),
    );
    let (code, report) = here
        .doctor(here.config(&world.config(&record("home.example.com"))))
        .await;
    assert_eq!(code, 0, "{report}\n{}", here.log());
    assert!(
        report.contains("[ok] token: the API token can list zones"),
        "{report}"
    );
}

// See: issue 22. Doctor is a reader: it wrote the zone cache into the state directory.
#[test]
fn doctor_writes_nothing_to_the_state_directory() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", PUBLIC_IPV4),
    );
    let outcome = world.run(&world.config(&record("home.example.com")), &["doctor"]);
    assert!(
        outcome.stdout.contains("record home.example.com"),
        "{}",
        outcome.stdout
    );
    let state = world.dir.path().join("state");
    let written: Vec<_> = std::fs::read_dir(&state)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name())
                .collect()
        })
        .unwrap_or_default();
    assert!(written.is_empty(), "doctor wrote {written:?}");
}
