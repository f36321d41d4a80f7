//! The engine's typed account of a cycle, seen from outside: doctor and `--once --dry-run`
//! agree because they share the planner; a 403 on one zone stops only that zone; a rejected
//! record costs about 2·log2(n) requests and is named; "log once" tells records apart; a
//! provider's endless answer is cut at the cap.

use crate::harness::{record, Fault, Record, World, OLD_IPV4, PUBLIC_IPV4};

/// One scenario for the agreement table: how the zone looks, and the record's config.
struct Scenario {
    label: &'static str,
    records: Vec<Record>,
    config: &'static str,
}

fn scenarios() -> Vec<Scenario> {
    let at = |content: &str| Record::new("home.example.com", "A", content);
    vec![
        Scenario {
            label: "in sync",
            records: vec![at(PUBLIC_IPV4)],
            config: "",
        },
        Scenario {
            label: "changed",
            records: vec![at(OLD_IPV4)],
            config: "",
        },
        Scenario {
            label: "missing",
            records: vec![],
            config: "",
        },
        Scenario {
            label: "ambiguous",
            records: vec![at(OLD_IPV4), at("81.23.45.11")],
            config: "",
        },
        Scenario {
            label: "cname",
            records: vec![Record::new(
                "home.example.com",
                "CNAME",
                "myhome.duckdns.org",
            )],
            config: "",
        },
        Scenario {
            label: "cname with replace_cname",
            records: vec![Record::new(
                "home.example.com",
                "CNAME",
                "myhome.duckdns.org",
            )],
            config: "replace_cname = true\n",
        },
        Scenario {
            label: "pinned ttl drift",
            records: vec![at(PUBLIC_IPV4).ttl(300)],
            config: "ttl = 120\n",
        },
        Scenario {
            label: "pinned proxied drift",
            records: vec![at(PUBLIC_IPV4)],
            config: "proxied = true\n",
        },
        Scenario {
            label: "proxied in sync",
            records: vec![at(PUBLIC_IPV4).proxied(true)],
            config: "",
        },
    ]
}

#[test]
fn doctor_and_dry_run_agree_on_every_scenario() {
    for scenario in scenarios() {
        let world = World::new();
        for record in &scenario.records {
            world.standin.add_record("example.com", record.clone());
        }
        let config = world.config(&format!(
            "{}{}",
            record("home.example.com"),
            scenario.config
        ));
        let plan = world.run(&config, &["--once", "--dry-run"]);
        let doctor = world.run(&config, &["doctor", "--json"]);
        let statuses = finding_statuses(&doctor.stdout, "record ");
        let label = scenario.label;
        assert_eq!(
            plan.code, doctor.code,
            "{label}: --once --dry-run exited {} but doctor {}:\n{}\n{}",
            plan.code, doctor.code, plan.stdout, doctor.stdout
        );
        assert_eq!(
            statuses,
            vec![expected_status(&plan.stdout)],
            "{label}:\n{}\n{}",
            plan.stdout,
            doctor.stdout
        );
        assert!(
            plan.writes().is_empty() && doctor.writes().is_empty(),
            "{label}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_zone_the_token_may_not_read_does_not_stop_the_other_zones() {
    let here = crate::paused::Here::new().await;
    let world = &here.world;
    let denied = world.standin.add_zone("example.org");
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    world.standin.add_record(
        "example.org",
        Record::new("home.example.org", "A", OLD_IPV4),
    );
    world.standin.inject(
        Fault::status(
            403,
            r#"{"success":false,"errors":[{"code":10000,"message":"Authentication error"}]}"#,
        )
        .path(&format!("/zones/{denied}/")),
    );
    // Zones are listed in name order, so the denied example.org is not simply last.
    world.standin.add_zone("example.net");
    world.standin.add_record(
        "example.net",
        Record::new("home.example.net", "A", OLD_IPV4),
    );
    let config = world.config(&format!(
        "{}{}{}",
        record("home.example.com"),
        record("home.example.org"),
        record("home.example.net")
    ));
    let code = here.once(&config).await;
    let log = here.log();
    assert_eq!(code, 1, "{log}");
    for zone in ["example.com", "example.net"] {
        let name = format!("home.{zone}");
        assert_eq!(
            world.standin.records_at(zone, &name)[0].content,
            PUBLIC_IPV4,
            "{zone} was held back by another zone's 403:\n{log}"
        );
    }
    let errors: Vec<&str> = log.lines().filter(|line| line.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "{log}");
    assert!(
        errors[0].contains("home.example.org") && errors[0].contains("10000"),
        "{}",
        errors[0]
    );
}

#[test]
fn one_rejected_record_among_a_hundred_costs_a_few_requests_and_is_named() {
    let world = World::new();
    let mut records = String::new();
    for index in 0..100 {
        let name = format!("h{index:03}.example.com");
        world
            .standin
            .add_record("example.com", Record::new(&name, "A", OLD_IPV4));
        records.push_str(&record(&name));
    }
    let bad_id = world.standin.records_at("example.com", "h042.example.com")[0]
        .id
        .clone();
    world.standin.inject(
        Fault::status(400, r#"{"success":false,"errors":[{"code":9005,"message":"Content for A record must be a valid IPv4 address."}]}"#)
            .path("/dns_records/batch")
            .body_contains(&format!("\"{bad_id}\"")),
    );
    let outcome = world.once(&records);
    assert_eq!(outcome.code, 1, "{}", outcome.output());
    let batches = outcome
        .api
        .iter()
        .filter(|request| request.path.ends_with("/batch"))
        .count();
    // 1 + 2·log2(100) ≈ 14.3, and two listings before.
    assert!(batches <= 15, "{batches} batches");
    assert!(outcome.api.len() <= 17, "{} requests", outcome.api.len());
    let updated = world
        .standin
        .records("example.com")
        .iter()
        .filter(|record| record.content == PUBLIC_IPV4)
        .count();
    assert_eq!(updated, 99);
    let errors = outcome.errors();
    assert_eq!(errors.len(), 1, "{}", outcome.stderr);
    assert!(
        errors[0].contains("h042.example.com") && errors[0].contains("9005: Content for A record"),
        "{}",
        errors[0]
    );
}

#[test]
fn a_second_record_failing_after_the_first_is_logged_too() {
    // Two names that differ only in their digits, each in no zone: the old text-based
    // "log once" blanked digits out and took the second for the first.
    let world = World::new();
    let daemon_config =
        |name: &str| world.config(&format!("{}\n[daemon]\ninterval = \"1s\"\n", record(name)));
    let mut daemon = world.spawn(&daemon_config("srv1.exmple1.com"), &[]);
    assert!(
        daemon
            .wait_for_line_with(&["ERROR", "srv1.exmple1.com"], 10.0)
            .is_some(),
        "srv1's problem was never shown:\n{}",
        daemon.stderr_so_far()
    );
    world.write_config(&daemon_config("srv2.exmple2.com"));
    daemon.signal("HUP");
    // srv2's problem within a few intervals, or never (the bug).
    let _ = daemon.wait_for_line_with(&["ERROR", "srv2.exmple2.com"], 10.0);
    let (_, stderr) = daemon.terminate_with_stderr();
    let shown = |name: &str| {
        stderr
            .lines()
            .filter(|line| line.contains("ERROR") && line.contains(name))
            .count()
    };
    assert!(shown("srv1.exmple1.com") >= 1, "{stderr}");
    assert!(
        shown("srv2.exmple2.com") >= 1,
        "srv2's problem was never shown:\n{stderr}"
    );
}

#[test]
fn a_provider_that_answers_without_end_is_cut_at_the_cap() {
    let world = World::new();
    world.standin.inject(
        Fault::status(200, "")
            .path("/huge")
            .stream(300 * 1024 * 1024),
    );
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", PUBLIC_IPV4),
    );
    let huge = world.standin.ip_url().replace("/ip", "/huge");
    let config = world.config_detect(
        &format!(
            "ipv4 = [\"url:{huge}\", \"url:{}\"]",
            world.standin.ip_url()
        ),
        &record("home.example.com"),
    );
    let started = std::time::Instant::now();
    let outcome = world.run(&config, &["--once"]);
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert!(
        outcome.stderr.contains("more than 4096 bytes"),
        "{}",
        outcome.stderr
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// The records of the table again, with the DNS check off: `nameservers = "api"` reads every
/// record through the API, and doctor must agree with that cycle too.
#[test]
fn doctor_and_dry_run_agree_in_api_mode() {
    for label in ["in sync", "changed", "missing", "ambiguous"] {
        let scenario = scenarios()
            .into_iter()
            .find(|scenario| scenario.label == label)
            .expect("a scenario of the table");
        let world = World::new();
        for record in &scenario.records {
            world.standin.add_record("example.com", record.clone());
        }
        let config = world.config_api_mode(&record("home.example.com"));
        assert!(config.contains("nameservers = \"api\""), "{config}");
        let plan = world.run(&config, &["--once", "--dry-run"]);
        let doctor = world.run(&config, &["doctor", "--json"]);
        let statuses = finding_statuses(&doctor.stdout, "record ");
        assert_eq!(
            plan.code, doctor.code,
            "{label}: {}\n{}",
            plan.stdout, doctor.stdout
        );
        assert_eq!(
            statuses,
            vec![expected_status(&plan.stdout)],
            "{label}:\n{}\n{}",
            plan.stdout,
            doctor.stdout
        );
        assert!(plan.writes().is_empty() && doctor.writes().is_empty());
    }
}

/// A WAF list in each state the cycle knows; doctor's finding on the list's content says what
/// the dry run plans (the rule finding beside it is doctor's own and not compared).
#[test]
fn doctor_and_dry_run_agree_on_waf_lists() {
    use crate::waf::ACCOUNT;
    type Setup = fn(&World);
    let scenarios: [(&str, Setup); 5] = [
        ("missing", |_| {}),
        ("in sync", |world| {
            world
                .standin
                .add_list_item(ACCOUNT, "home_ips", PUBLIC_IPV4, Some("flaredns"));
        }),
        ("holds an old address", |world| {
            world
                .standin
                .add_list_item(ACCOUNT, "home_ips", OLD_IPV4, Some("flaredns"));
        }),
        ("foreign items only", |world| {
            world
                .standin
                .add_list_item(ACCOUNT, "home_ips", "9.9.9.9", Some("office"));
        }),
        ("another kind", |world| {
            world.standin.set_list_kind(ACCOUNT, "home_ips", "asn");
        }),
    ];
    for (label, setup) in scenarios {
        let world = World::new();
        world.standin.add_record(
            "example.com",
            Record::new("home.example.com", "A", PUBLIC_IPV4),
        );
        setup(&world);
        let config = world.config(&format!(
            "{}\n[[waf_lists]]\naccount = \"{ACCOUNT}\"\nname = \"home_ips\"\n",
            record("home.example.com")
        ));
        let plan = world.run(&config, &["--once", "--dry-run"]);
        let doctor = world.run(&config, &["doctor", "--json"]);
        let statuses = finding_statuses(&doctor.stdout, "waf list home_ips");
        let expected = if plan.stdout.contains("error ") {
            "problem"
        } else if plan.stdout.contains("update-list ") {
            "warning"
        } else {
            "ok"
        };
        assert_eq!(
            statuses.first().copied(),
            Some(expected),
            "{label}:\n{}\n{}",
            plan.stdout,
            doctor.stdout
        );
        assert_eq!(
            plan.code == 0,
            expected != "problem",
            "{label}: the dry run's exit code and doctor's verdict:\n{}\n{}",
            plan.stdout,
            doctor.stdout
        );
        assert!(
            plan.writes().is_empty() && doctor.writes().is_empty(),
            "{label}"
        );
    }
}

/// The statuses of doctor's findings whose check starts with `prefix`, in order.
fn finding_statuses(doctor_json: &str, prefix: &str) -> Vec<&'static str> {
    let document: serde_json::Value =
        serde_json::from_str(doctor_json).expect("doctor --json is JSON");
    document["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|finding| {
            finding["check"]
                .as_str()
                .is_some_and(|check| check.starts_with(prefix))
        })
        .filter_map(|finding| match finding["status"].as_str() {
            Some("ok") => Some("ok"),
            Some("warning") => Some("warning"),
            Some("problem") => Some("problem"),
            _ => None,
        })
        .collect()
}

/// What doctor should say of a record, from the dry run's plan.
fn expected_status(plan: &str) -> &'static str {
    if plan.contains("error ") {
        "problem"
    } else if ["create ", "update ", "replace-cname "]
        .iter()
        .any(|verb| plan.contains(verb))
    {
        "warning"
    } else {
        "ok"
    }
}
