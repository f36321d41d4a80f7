//! Telling people, end to end: the real binary, the stand-in as webhook, healthchecks.io and
//! Uptime Kuma receivers over loopback, and an exec hook that writes what it was given.

use std::process::Command;
use std::time::Duration;

use crate::harness::{record, Fault, LoggedRequest, Record, World, OLD_IPV4, PUBLIC_IPV4, TOKEN};

/// A `[notify]` section with the stand-in's receivers and `extra` lines.
fn notify(world: &World, extra: &str) -> String {
    format!(
        "\n[notify]\nwebhooks = [\"{}\"]\nhealthchecks = \"{}\"\nuptime_kuma = \"{}\"\n{extra}\n",
        world.standin.url("/hook/secret-hook-key"),
        world.standin.url("/ping/secret-uuid"),
        world
            .standin
            .url("/api/push/secret-kuma?status=up&msg=OK&ping=")
    )
}

fn received(world: &World, prefix: &str) -> Vec<LoggedRequest> {
    world
        .standin
        .requests()
        .into_iter()
        .filter(|request| request.path.starts_with(prefix))
        .collect()
}

/// The webhook events as "event subject" (the record's name, or the failing detection).
pub(crate) fn event_summaries(world: &World) -> Vec<String> {
    events(world)
        .iter()
        .map(|event| {
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

/// The webhook events the stand-in received at `/hook` (and below it), in order.
pub(crate) fn events(world: &World) -> Vec<serde_json::Value> {
    received(world, "/hook")
        .iter()
        .map(|request| serde_json::from_str(&request.body).expect("a JSON event"))
        .collect()
}

#[test]
fn each_written_record_is_one_event_with_old_and_new_and_sync_is_silent() {
    let world = World::new();
    for name in ["a.example.com", "b.example.com"] {
        world
            .standin
            .add_record("example.com", Record::new(name, "A", OLD_IPV4));
    }
    let hook_out = world.dir.path().join("hook-out");
    std::fs::create_dir(&hook_out).expect("dir");
    let hook = world.dir.path().join("hook.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\nenv > {}/$FLAREDNS_EVENT-$FLAREDNS_NAME.env\n",
            hook_out.display()
        ),
    )
    .expect("hook");
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let config = world.config(&format!(
        "{}{}{}",
        record("a.example.com"),
        record("b.example.com"),
        notify(&world, &format!("exec = [\"{}\"]", hook.display()))
    ));
    let first = world.run(&config, &["--once"]);
    assert_eq!(first.code, 0, "{}", first.output());
    let sent = events(&world);
    assert_eq!(sent.len(), 2, "{sent:?}");
    for event in &sent {
        assert_eq!(event["event"], "changed");
        assert_eq!(event["type"], "A");
        assert_eq!(event["zone"], "example.com");
        assert_eq!(event["old"], OLD_IPV4);
        assert_eq!(event["new"], PUBLIC_IPV4);
        assert!(event["time"].is_string() && event["host"].is_string());
    }
    let env =
        std::fs::read_to_string(hook_out.join("changed-a.example.com.env")).expect("hook ran");
    assert!(env.contains("FLAREDNS_EVENT=changed"), "{env}");
    assert!(env.contains(&format!("FLAREDNS_OLD={OLD_IPV4}")), "{env}");
    assert!(
        env.contains(&format!("FLAREDNS_NEW={PUBLIC_IPV4}")),
        "{env}"
    );
    assert!(env.contains("FLAREDNS_TYPE=A"), "{env}");
    assert!(
        !env.contains(TOKEN) && !env.contains("CLOUDFLARE_API_TOKEN"),
        "{env}"
    );
    for request in world.standin.requests() {
        assert!(!request.body.contains(TOKEN), "the token in a payload");
    }
    assert!(
        !first.output().contains("secret-"),
        "a URL secret in the output"
    );
    // In sync: no event, only the heartbeats.
    world.standin.clear_requests();
    let second = world.run(&config, &["--once"]);
    assert_eq!(second.code, 0);
    assert!(events(&world).is_empty());
    assert_eq!(received(&world, "/ping/").len(), 1);
    assert_eq!(received(&world, "/api/push/").len(), 1);
}

#[test]
fn heartbeats_say_up_or_down_with_the_reason() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", PUBLIC_IPV4),
    );
    let config = world.config(&format!(
        "{}{}",
        record("home.example.com"),
        notify(&world, "")
    ));
    assert_eq!(world.run(&config, &["--once"]).code, 0);
    let ping = received(&world, "/ping/");
    assert_eq!(ping.len(), 1);
    assert_eq!(ping[0].path, "/ping/secret-uuid");
    let kuma = received(&world, "/api/push/");
    assert!(kuma[0].query.contains("status=up"), "{}", kuma[0].query);
    // Detection fails: /fail with the reason, status=down.
    world.standin.set_public_ipv4("192.168.1.20");
    world.standin.clear_requests();
    assert_eq!(world.run(&config, &["--once"]).code, 1);
    let ping = received(&world, "/ping/");
    assert_eq!(ping[0].path, "/ping/secret-uuid/fail");
    assert!(ping[0].body.contains("private"), "{}", ping[0].body);
    let kuma = received(&world, "/api/push/");
    assert!(kuma[0].query.contains("status=down"), "{}", kuma[0].query);
    assert_eq!(
        kuma[0].query.matches("status=").count(),
        1,
        "{}",
        kuma[0].query
    );
    let sent = events(&world);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["event"], "failed");
    assert_eq!(sent[0]["detection"], "ipv4");
}

#[test]
fn a_failure_is_announced_once_and_its_end_once_across_cron_runs() {
    let world = World::new();
    let extra = world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", "81.23.45.11"),
    );
    let config = world.config(&format!(
        "{}{}",
        record("home.example.com"),
        notify(&world, "")
    ));
    let mut kinds = Vec::new();
    for run in 0..4 {
        if run == 3 {
            let mut state = world.standin.state();
            for zone in &mut state.zones {
                zone.records.retain(|record| record.id != extra);
            }
        }
        world.standin.clear_requests();
        world.run(&config, &["--once"]);
        kinds.extend(
            events(&world)
                .iter()
                .map(|event| event["event"].as_str().unwrap_or("").to_string()),
        );
    }
    // Run 0: ambiguous, failed. Runs 1 and 2: still failing, nothing. Run 3: the extra record
    // is gone, so the remaining one is updated (changed) and the failure is over (recovered).
    assert_eq!(
        kinds.iter().filter(|kind| *kind == "failed").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|kind| *kind == "recovered").count(),
        1,
        "{kinds:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_receiver_that_never_answers_does_not_hold_the_run() {
    let here = crate::paused::Here::new().await;
    let world = &here.world;
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    world.standin.inject(Fault::hang().path("/hook"));
    world.standin.inject(Fault::hang().path("/ping/"));
    let config = world.config(&format!(
        "{}{}",
        record("home.example.com"),
        notify(world, "timeout = \"1s\"")
    ));
    let started = tokio::time::Instant::now();
    let code = here.once(&config).await;
    let log = here.log();
    assert_eq!(
        code, 0,
        "a dead receiver never changes the exit code: {log}"
    );
    // In virtual time the wait is exact: the receivers' 1 s timeout, once.
    assert!(
        started.elapsed() <= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(log.contains("could not notify"), "{log}");
    assert!(!log.contains("secret-"), "{log}");
}

#[test]
fn a_dry_run_tells_nobody() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let config = world.config(&format!(
        "{}{}",
        record("home.example.com"),
        notify(&world, "")
    ));
    assert_eq!(world.run(&config, &["--once", "--dry-run"]).code, 0);
    assert!(received(&world, "/hook").is_empty());
    assert!(received(&world, "/ping/").is_empty());
}

#[test]
fn notify_settings_are_checked() {
    let world = World::new();
    for (section, key) in [
        ("[notify]\nwebhooks = [\"ftp://x/y\"]\n", "notify.webhooks"),
        ("[notify]\nexec = [\"relative/hook\"]\n", "notify.exec"),
        (
            "[notify]\nhealthchecks = \"not a url\"\n",
            "notify.healthchecks",
        ),
        ("[metrics]\nlisten = \"localhost\"\n", "metrics.listen"),
    ] {
        let outcome = world.run(
            &world.config(&format!("{}{section}", record("home.example.com"))),
            &["check-config"],
        );
        assert_eq!(outcome.code, 2, "{section}: {}", outcome.output());
        assert!(outcome.stderr.contains(key), "{}", outcome.stderr);
    }
}

#[test]
fn a_failure_outliving_a_detection_outage_is_announced_once_and_ends_once() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let config = world.config(&format!(
        "{}{}",
        record("home.example.com"),
        notify(&world, "")
    ));
    let refuse = || {
        world.standin.inject(
            Fault::status(
                400,
                r#"{"success":false,"errors":[{"code":9005,"message":"no"}]}"#,
            )
            .path("/dns_records/batch"),
        )
    };
    let mut kinds = Vec::new();
    for run in 0..5 {
        world.standin.clear_faults();
        match run {
            0 | 2 => refuse(),
            1 | 3 => world.standin.set_public_ipv4("192.168.1.20"),
            _ => {}
        }
        if run == 2 || run == 4 {
            world.standin.set_public_ipv4(PUBLIC_IPV4);
        }
        world.standin.clear_requests();
        world.run(&config, &["--once"]);
        kinds.extend(event_summaries(&world));
    }
    let count = |wanted: &str| kinds.iter().filter(|kind| *kind == wanted).count();
    assert_eq!(count("failed home.example.com"), 1, "{kinds:?}");
    assert_eq!(count("recovered home.example.com"), 1, "{kinds:?}");
}

#[test]
fn a_hook_that_hangs_is_killed_with_its_children_and_redirects_are_not_followed() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let hook = world.dir.path().join("hang.sh");
    std::fs::write(&hook, "#!/bin/sh\nsleep 31.7\n").expect("hook");
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    world.standin.inject(
        Fault::status(301, "")
            .header("location", "/hook/final")
            .path("/hook/moved"),
    );
    let config = world.config(&format!(
        "{}\n[notify]\nwebhooks = [\"{}\"]\nexec = [\"{}\"]\ntimeout = \"1s\"\n",
        record("home.example.com"),
        world.standin.url("/hook/moved"),
        hook.display()
    ));
    let outcome = world.run(&config, &["--once"]);
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert!(outcome.stderr.contains("redirect"), "{}", outcome.stderr);
    assert!(
        received(&world, "/hook/final").is_empty(),
        "the redirect was followed"
    );
    // The child would sleep 31.7 s; killed, it is gone within moments of the run's end.
    let gone = crate::harness::eventually(5.0, || {
        Command::new("pgrep")
            .args(["-f", "sleep 31.7"])
            .output()
            .map_or(true, |left| left.stdout.is_empty())
    });
    assert!(gone, "the hook's child outlived the timeout");
}
