//! A hostile or broken server, clock or input: each test here failed before its fix. The rule
//! they share: no panic, no lock-out, nothing unbounded, and a sentence that says what happened.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::harness::{record, Fault, Record, World, OLD_IPV4, PUBLIC_IPV4};

fn world_with_old_record() -> World {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    world
}

fn state_file(world: &World, name: &str) -> std::path::PathBuf {
    world.dir.path().join("state").join(name)
}

fn not_aborted(outcome: &crate::harness::Outcome) {
    assert!(
        outcome.code == 0 || outcome.code == 1,
        "exit {}:\n{}",
        outcome.code,
        outcome.output()
    );
    assert!(!outcome.stderr.contains("panicked"), "{}", outcome.stderr);
}

#[test]
fn a_retry_after_in_the_year_9999_is_capped_and_never_crashes_a_later_run() {
    let world = world_with_old_record();
    world.standin.inject(
        Fault::status(
            429,
            r#"{"success":false,"errors":[{"code":971,"message":"slow down"}]}"#,
        )
        .header("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT")
        .path("dns_records")
        .times(1),
    );
    let first = world.once(&record("home.example.com"));
    not_aborted(&first);
    assert_eq!(first.code, 1);
    let remembered: u64 = std::fs::read_to_string(state_file(&world, "rate-limited-until"))
        .expect("remembered")
        .trim()
        .parse()
        .expect("seconds");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    assert!(
        remembered <= now + 3601 + 5,
        "remembered {remembered}, now {now}"
    );
    let second = world.once(&record("home.example.com"));
    not_aborted(&second);
    assert!(second.stderr.contains("Retry-After"), "{}", second.stderr);
    // Garbage and far-future values written by anyone else are capped or ignored too.
    for text in ["99999999999999999999999\n", "253402300799\n", "-5\n"] {
        std::fs::write(state_file(&world, "rate-limited-until"), text).expect("write");
        let outcome = world.once(&record("home.example.com"));
        not_aborted(&outcome);
    }
}

#[test]
fn an_absurd_ratelimit_header_neither_aborts_nor_is_blamed_on_backoff() {
    let world = world_with_old_record();
    world.standin.inject(
        Fault::status(429, r#"{"success":false,"errors":[]}"#)
            .header("ratelimit", "\"default\";r=0;t=18446744073709551615")
            .path("dns_records"),
    );
    let outcome = world.once(&record("home.example.com"));
    not_aborted(&outcome);
    assert_eq!(outcome.code, 1);
    assert!(
        outcome.stderr.contains("Ratelimit header"),
        "{}",
        outcome.stderr
    );
    assert!(
        !outcome.stderr.contains("backing off"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_name_in_no_zone_does_not_relist_the_zones_every_run() {
    let world = world_with_old_record();
    let records = format!(
        "{}{}",
        record("home.example.com"),
        record("typo.exmple.com")
    );
    let mut zone_listings = 0;
    for _ in 0..3 {
        let outcome = world.once(&records);
        assert_eq!(outcome.code, 1, "{}", outcome.output());
        assert!(
            outcome.stderr.contains("typo.exmple.com"),
            "{}",
            outcome.stderr
        );
        zone_listings += outcome
            .api
            .iter()
            .filter(|request| request.path.ends_with("/zones"))
            .count();
    }
    assert_eq!(
        zone_listings, 1,
        "the zones were listed {zone_listings} times"
    );
    assert_eq!(
        world.standin.records_at("example.com", "home.example.com")[0].content,
        PUBLIC_IPV4
    );
}

#[test]
fn state_files_are_never_written_through_a_planted_symlink() {
    let world = world_with_old_record();
    let state = world.dir.path().join("state");
    std::fs::create_dir_all(&state).expect("state dir");
    let victim = world.dir.path().join("victim");
    std::fs::write(&victim, "precious").expect("victim");
    for name in ["zones.json", "zones.json.tmp", "rate-limited-until"] {
        std::os::unix::fs::symlink(&victim, state.join(name)).expect("symlink");
    }
    world.standin.inject(
        Fault::status(429, r#"{"success":false,"errors":[]}"#)
            .header("retry-after", "600")
            .path("dns_records")
            .times(1),
    );
    let outcome = world.once(&record("home.example.com"));
    not_aborted(&outcome);
    assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious");
}

#[test]
fn a_state_directory_others_can_write_is_refused_with_one_warning() {
    use std::os::unix::fs::PermissionsExt;
    let world = world_with_old_record();
    let state = world.dir.path().join("state");
    std::fs::create_dir_all(&state).expect("state dir");
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let outcome = world.once(&record("home.example.com"));
    assert!(
        outcome.stderr.contains("writable by other users"),
        "{}",
        outcome.stderr
    );
    assert!(!state.join("zones.json").exists());
}

#[test]
fn a_malformed_token_is_a_config_error_that_names_the_problem() {
    let world = world_with_old_record();
    let token_path = world.dir.path().join("token");
    let config = |world: &World| {
        world.config(&record("home.example.com")).replace(
            "[cloudflare]\n",
            &format!(
                "[cloudflare]\napi_token_file = \"{}\"\n",
                token_path.display()
            ),
        )
    };
    for (content, phrase) in [
        ("abc\ndef\n", "line break"),
        ("abc\0def", "NUL"),
        ("abc\u{7f}def", "control character"),
    ] {
        std::fs::write(&token_path, content).expect("token");
        let outcome = world.run_without_token(&config(&world), &["--once"]);
        assert_eq!(outcome.code, 2, "{content:?}: {}", outcome.output());
        assert!(outcome.stderr.contains(phrase), "{}", outcome.stderr);
        assert!(outcome.api.is_empty());
    }
}

#[test]
fn special_files_as_config_or_token_are_refused_at_once() {
    let world = World::new();
    let started = Instant::now();
    let outcome = world.run_raw(&["--config", "/dev/zero", "--once"]);
    assert_eq!(outcome.code, 2, "{}", outcome.output());
    assert!(
        outcome.stderr.contains("not a regular file"),
        "{}",
        outcome.stderr
    );

    let fifo = world.dir.path().join("token-fifo");
    let c_path = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("path");
    // SAFETY: mkfifo reads a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let config = world.config(&record("home.example.com")).replace(
        "[cloudflare]\n",
        &format!("[cloudflare]\napi_token_file = \"{}\"\n", fifo.display()),
    );
    let outcome = world.run_without_token(&config, &["--once"]);
    assert_eq!(outcome.code, 2, "{}", outcome.output());
    assert!(
        outcome.stderr.contains("not a regular file"),
        "{}",
        outcome.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn api_redirects_are_reported_and_never_followed() {
    for status in [301, 302, 307, 308] {
        let world = world_with_old_record();
        world.standin.inject(
            Fault::status(status, "")
                .header("location", "http://127.0.0.1:1/elsewhere?steal=1")
                .path("/dns_records/batch"),
        );
        let outcome = world.once(&record("home.example.com"));
        assert_eq!(outcome.code, 1, "{status}: {}", outcome.output());
        assert!(outcome.stderr.contains("redirect"), "{}", outcome.stderr);
        assert!(!outcome.stderr.contains("updated"), "{}", outcome.stderr);
        assert!(!outcome.stderr.contains("steal"), "{}", outcome.stderr);
        let batches = outcome
            .api
            .iter()
            .filter(|request| request.path.ends_with("/batch"))
            .count();
        assert_eq!(batches, 1, "{status}");
    }
}

#[test]
fn a_batch_success_that_does_not_show_the_change_is_not_believed() {
    let world = world_with_old_record();
    world.standin.inject(
        Fault::status(
            200,
            r#"{"success":true,"errors":[],"messages":[],"result":{}}"#,
        )
        .path("/dns_records/batch"),
    );
    let outcome = world.once(&record("home.example.com"));
    assert_eq!(outcome.code, 1, "{}", outcome.output());
    assert!(
        outcome.stderr.contains("could not confirm"),
        "{}",
        outcome.stderr
    );
    assert!(
        !outcome.stderr.contains("updated home"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_gateway_error_on_a_write_is_unconfirmed_not_failed() {
    for body in ["<html>502 Bad Gateway</html>", "not json at all"] {
        let world = world_with_old_record();
        world.standin.inject(
            Fault::status(502, body)
                .header("content-type", "text/html")
                .path("/dns_records/batch"),
        );
        let outcome = world.once(&record("home.example.com"));
        assert_eq!(outcome.code, 1, "{}", outcome.output());
        assert!(
            outcome.stderr.contains("could not confirm"),
            "{}",
            outcome.stderr
        );
        let batches = outcome
            .api
            .iter()
            .filter(|r| r.path.ends_with("/batch"))
            .count();
        assert_eq!(batches, 1, "a write that may have landed is not repeated");
    }
}

#[test]
fn a_listing_that_repeats_its_page_forever_is_stopped() {
    let world = world_with_old_record();
    let page = format!(
        r#"{{"success":true,"errors":[],"result":[{{"id":"r1","name":"home.example.com","type":"A","content":"{OLD_IPV4}","proxied":false,"ttl":1}}],"result_info":{{"page":1,"total_pages":1000000}}}}"#
    );
    world
        .standin
        .inject(Fault::status(200, &page).method("GET").path("/dns_records"));
    let outcome = world.once(&record("home.example.com"));
    assert_eq!(outcome.code, 1, "{}", outcome.output());
    assert!(outcome.api.len() <= 4, "{} requests", outcome.api.len());
    assert!(
        outcome.stderr.contains("repeats an item"),
        "{}",
        outcome.stderr
    );
    assert!(outcome.writes().is_empty());
}

#[test]
fn a_server_message_cannot_forge_a_log_line() {
    let world = world_with_old_record();
    world.standin.inject(
        Fault::status(
            400,
            r#"{"success":false,"errors":[{"code":9005,"message":"bad\nERROR forged: all records deleted"}]}"#,
        )
        .path("/dns_records/batch"),
    );
    let outcome = world.once(&record("home.example.com"));
    assert_eq!(outcome.code, 1);
    assert!(
        !outcome
            .stderr
            .lines()
            .any(|line| line.starts_with("ERROR forged")),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("bad\\nERROR forged"),
        "{}",
        outcome.stderr
    );
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_sigusr1_runs_at_most_one_cycle_a_second() {
    let here = crate::paused::Here::in_sync().await;
    let config = here.world.config(&format!(
        "{}\n[daemon]\ninterval = \"1h\"\n",
        record("home.example.com")
    ));
    let traces = || here.cycle_starts().len();
    let (code, (cycles, seconds)) = here
        .daemon(&config, |control| async move {
            assert!(crate::paused::eventually(10, || traces() >= 1).await);
            let before = traces();
            let started = tokio::time::Instant::now();
            for _ in 0..50 {
                control.run_now();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tokio::time::sleep(Duration::from_millis(1500)).await;
            (traces() - before, started.elapsed().as_secs_f64())
        })
        .await;
    assert_eq!(code, 0);
    // In 2.5 s from the first signal: the cycles due 1 s and 2 s after the first one.
    assert!(
        cycles as f64 <= seconds,
        "{cycles} cycles in {seconds:.1} s from 50 signals"
    );
    assert!(cycles >= 1, "the signal was acted on");
    let log = here.log();
    let info_lines = log.lines().filter(|line| line.contains("SIGUSR1")).count();
    assert!(info_lines <= cycles + 1, "{info_lines} lines:\n{log}");
}

#[test]
fn concurrent_runs_take_turns_and_leave_one_record() {
    let world = World::new();
    let config = world.config(&record("home.example.com"));
    let path = world.write_config(&config);
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_flaredns"))
            .arg("--config")
            .arg(&path)
            .arg("--once")
            .env_clear()
            .env("CLOUDFLARE_API_TOKEN", crate::harness::TOKEN)
            .env("STATE_DIRECTORY", world.dir.path().join("state"))
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let children: Vec<_> = (0..3).map(|_| spawn()).collect();
    for child in children {
        let output = child.wait_with_output().expect("wait");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(
        world
            .standin
            .records_at("example.com", "home.example.com")
            .len(),
        1
    );
}

/// Three zones, each with an old record: for halts that must stop at the first zone.
fn three_zones() -> (World, String) {
    let world = world_with_old_record();
    let mut records = record("home.example.com");
    for zone in ["example.net", "example.org"] {
        world.standin.add_zone(zone);
        let name = format!("home.{zone}");
        world
            .standin
            .add_record(zone, Record::new(&name, "A", OLD_IPV4));
        records.push_str(&record(&name));
    }
    (world, records)
}

#[test]
fn an_html_401_or_a_firewall_block_halts_the_token() {
    for (status, content_type, body, phrase) in [
        (
            401,
            "text/html",
            "<html>401 Authorization Required</html>",
            "rejected the API token",
        ),
        (403, "text/plain", "error code: 1020", "firewall blocked"),
    ] {
        let (world, records) = three_zones();
        world.standin.inject(
            Fault::status(status, body)
                .header("content-type", content_type)
                .path("/dns_records"),
        );
        let outcome = world.once(&records);
        assert_eq!(outcome.code, 1, "{}", outcome.output());
        let listings = outcome
            .api
            .iter()
            .filter(|request| request.path.ends_with("/dns_records"))
            .count();
        assert_eq!(
            listings, 1,
            "{status}: the first refusal halts: {:?}",
            outcome.api
        );
        assert!(outcome.stderr.contains(phrase), "{}", outcome.stderr);
    }
}

#[test]
fn a_batch_refused_for_every_record_is_not_split_down_to_each() {
    let world = World::new();
    let mut records = String::new();
    for index in 0..100 {
        let name = format!("n{index:03}.example.com");
        records.push_str(&record(&name));
    }
    world.standin.inject(
        Fault::status(
            400,
            r#"{"success":false,"errors":[{"code":81045,"message":"Record quota exceeded."}]}"#,
        )
        .path("/dns_records/batch"),
    );
    let outcome = world.once(&records);
    assert_eq!(outcome.code, 1);
    let batches = outcome
        .api
        .iter()
        .filter(|r| r.path.ends_with("/batch"))
        .count();
    assert!(batches <= 33, "{batches} batches for one refusal of all");
    assert!(outcome.stderr.contains("81045"), "{}", outcome.stderr);
}

#[test]
fn a_batch_success_that_does_not_show_the_created_record_is_not_believed() {
    for result in [
        r#"{"posts":[{}]}"#,
        r#"{"posts":[{"id":"x","name":"evil.example.com","type":"A","content":"6.6.6.6"}]}"#,
    ] {
        let world = World::new();
        world.standin.inject(
            Fault::status(
                200,
                &format!(r#"{{"success":true,"errors":[],"result":{result}}}"#),
            )
            .path("/dns_records/batch"),
        );
        let outcome = world.once(&record("new.example.com"));
        assert_eq!(outcome.code, 1, "{}", outcome.output());
        assert!(
            outcome.stderr.contains("could not confirm"),
            "{}",
            outcome.stderr
        );
    }
}

#[test]
fn a_503_with_retry_after_is_waited_out_too() {
    let world = world_with_old_record();
    world.standin.inject(
        Fault::status(
            503,
            r#"{"success":false,"errors":[{"code":1200,"message":"busy"}]}"#,
        )
        .header("retry-after", "120")
        .path("/dns_records"),
    );
    let outcome = world.once(&record("home.example.com"));
    assert_eq!(outcome.code, 1);
    let listings = outcome
        .api
        .iter()
        .filter(|request| request.path.ends_with("/dns_records"))
        .count();
    assert_eq!(listings, 1, "no retry inside the 120 s: {:?}", outcome.api);
    assert!(outcome.stderr.contains("Retry-After"), "{}", outcome.stderr);
}

#[test]
fn pages_that_alternate_are_caught() {
    let world = world_with_old_record();
    let page = |id: &str| {
        format!(
            r#"{{"success":true,"errors":[],"result":[{{"id":"{id}","name":"{id}.example.com","type":"A","content":"{OLD_IPV4}"}}],"result_info":{{"total_pages":1000000}}}}"#
        )
    };
    for index in 0..6 {
        let id = if index % 2 == 0 { "aaa" } else { "bbb" };
        world.standin.inject(
            Fault::status(200, &page(id))
                .method("GET")
                .path("/dns_records")
                .times(1),
        );
    }
    let outcome = world.once(&record("home.example.com"));
    assert_eq!(outcome.code, 1, "{}", outcome.output());
    assert!(outcome.api.len() <= 5, "{} requests", outcome.api.len());
    assert!(
        outcome.stderr.contains("repeats an item"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn record_contents_from_the_server_cannot_forge_log_lines() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new(
            "home.example.com",
            "A",
            "81.23.45.10\n2026-11-25T22:00:00.000000Z  INFO FORGED LINE",
        ),
    );
    for args in [&["--once"][..], &["doctor"][..]] {
        let outcome = world.run(&world.config(&record("home.example.com")), args);
        assert!(
            !outcome
                .output()
                .lines()
                .any(|line| line.contains("INFO FORGED") && !line.contains("\\n")),
            "{args:?}:\n{}",
            outcome.output()
        );
    }
}

#[test]
fn a_server_that_echoes_the_token_cannot_make_it_appear() {
    let world = world_with_old_record();
    world.standin.inject(
        Fault::status(
            400,
            &format!(
                r#"{{"success":false,"errors":[{{"code":1004,"message":"bad request from Bearer {}"}}]}}"#,
                crate::harness::TOKEN
            ),
        )
        .path("/dns_records/batch"),
    );
    let outcome = world.run(
        &world.config(&record("home.example.com")),
        &["--once", "-vv"],
    );
    assert_eq!(outcome.code, 1);
    assert!(
        !outcome.output().contains(crate::harness::TOKEN),
        "{}",
        outcome.output()
    );
    assert!(outcome.stderr.contains("<redacted>"), "{}", outcome.stderr);
}

#[test]
fn state_in_a_directory_others_can_write_is_never_read() {
    use std::os::unix::fs::PermissionsExt;
    let world = world_with_old_record();
    let state = world.dir.path().join("state");
    std::fs::create_dir_all(&state).expect("state dir");
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    std::fs::write(state.join("rate-limited-until"), "99999999999\n").expect("plant");
    let outcome = world.once(&record("home.example.com"));
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert_eq!(
        world.standin.records_at("example.com", "home.example.com")[0].content,
        PUBLIC_IPV4
    );
}

#[test]
fn status_needs_no_token() {
    let world = world_with_old_record();
    assert_eq!(world.once(&record("home.example.com")).code, 0);
    let outcome = world.run_without_token(&world.config(&record("home.example.com")), &["status"]);
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert!(
        outcome.stdout.contains("home.example.com"),
        "{}",
        outcome.stdout
    );
}
