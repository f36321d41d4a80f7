//! One test per bug that ordinary use ran into, each with the issue that reported it.

use crate::harness::{record, Record, World, OLD_IPV4, PUBLIC_IPV4};

// See: issue 21, point 6. In api mode a dashboard edit stayed for an hour: memory said "in sync".
#[test]
fn api_mode_compares_through_the_api_every_run() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4).proxied(true),
    );
    let dns = format!("nameservers = [\"{}\"]", world.standin.dns_addr());
    let config = world
        .config(&record("home.example.com"))
        .replace(&dns, "nameservers = \"api\"");
    assert!(config.contains("nameservers = \"api\""), "{config}");
    assert_eq!(world.run(&config, &["--once"]).code, 0);
    // A hand edit in the dashboard, a minute later.
    let id = world.standin.records_at("example.com", "home.example.com")[0]
        .id
        .clone();
    for zone in &mut world.standin.state().zones {
        for held in &mut zone.records {
            if held.id == id {
                held.content = "9.9.9.9".to_string();
            }
        }
    }
    let outcome = world.run(&config, &["--once"]);
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert_eq!(
        world.standin.records_at("example.com", "home.example.com")[0].content,
        PUBLIC_IPV4
    );
}

// See: issue 21, point 5. A second token file the service cannot read made the whole config
// exit 2, so under DynamicUser= nothing synced and systemd restarted it every 30 s.
#[test]
fn an_unreadable_second_token_fails_only_its_own_record() {
    let world = World::new();
    world.standin.add_zone("example.org");
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let missing = world.dir.path().join("no-such-token");
    let records = format!(
        "{}[[records]]\nname = \"home.example.org\"\napi_token_file = \"{}\"\n",
        record("home.example.com"),
        missing.display()
    );
    let outcome = world.run(&world.config(&records), &["--once"]);
    assert_eq!(outcome.code, 1, "{}", outcome.output());
    assert_eq!(
        world.standin.records_at("example.com", "home.example.com")[0].content,
        PUBLIC_IPV4
    );
    assert!(
        outcome.stderr.contains("cannot manage A home.example.org")
            && outcome.stderr.contains("no-such-token"),
        "{}",
        outcome.stderr
    );
    let doctor = world.run(&world.config(&records), &["doctor"]);
    assert_eq!(doctor.code, 1, "{}", doctor.output());
    assert!(
        doctor
            .stdout
            .contains("record home.example.org cannot be managed"),
        "{}",
        doctor.stdout
    );
    let check = world.run(&world.config(&records), &["check-config"]);
    assert_eq!(check.code, 0, "{}", check.output());
}

// See: issue 21, point 5. `credential:NAME` reads $CREDENTIALS_DIRECTORY/NAME (LoadCredential=).
#[test]
fn a_records_token_can_be_a_systemd_credential() {
    let world = World::new();
    let other_token = "other-account-token-fedcba9876543210";
    world.standin.add_zone("example.org");
    world
        .standin
        .add_scoped_token(other_token, &["example.org"]);
    let credentials = world.dir.path().join("credentials");
    std::fs::create_dir(&credentials).expect("dir");
    std::fs::write(credentials.join("token_other"), other_token).expect("token");
    let records = format!(
        "{}[[records]]\nname = \"home.example.org\"\napi_token_file = \"credential:token_other\"\n",
        record("home.example.com"),
    );
    let credentials_env = credentials.display().to_string();
    let outcome = world.run_env(
        &world.config(&records),
        &["--once"],
        &[("CREDENTIALS_DIRECTORY", credentials_env.as_str())],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert_eq!(
        world.standin.records_at("example.org", "home.example.org")[0].content,
        PUBLIC_IPV4
    );
    assert!(!outcome.output().contains(other_token));
}

// See: issue 21, point 4. A token pasted into api_token_file was printed as a path.
#[test]
fn a_token_pasted_as_a_path_is_refused_without_being_shown() {
    let world = World::new();
    let pasted = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-xyz";
    let records = format!(
        "{}api_token_file = \"{pasted}\"\n",
        record("home.example.com")
    );
    let outcome = world.run(&world.config(&records), &["check-config"]);
    assert_eq!(outcome.code, 2, "{}", outcome.output());
    assert!(
        outcome.stderr.contains("looks like a token"),
        "{}",
        outcome.stderr
    );
    assert!(!outcome.output().contains(pasted), "{}", outcome.output());
}

// See: issue 21, point 4. Provider URL secrets reached logs, status files and notifications;
// a config error echoed a notify URL given as a string instead of a list.
#[test]
fn no_config_url_secret_leaves_the_process() {
    let world = World::new();
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    let secret = "apikey=K9s3cr3tK9";
    // A provider that fails (404) with userinfo and a query: its reason is logged, kept in
    // status.json, sent to the heartbeat and shown by status and check-config.
    let failing = world
        .standin
        .url("/nothing-here")
        .replace("http://", "http://admin:pw0rd@");
    let config = world.config_detect(
        &format!(
            "ipv4 = [\"url:{failing}?{secret}\", \"trace:{}?{secret}\"]",
            world.standin.trace_url()
        ),
        &format!(
            "{}\n[notify]\nwebhooks = [\"{}\"]\n",
            record("home.example.com"),
            world.standin.url(&format!("/hook/{secret}"))
        ),
    );
    let mut shown = String::new();
    for args in [
        &["--once", "-vv"][..],
        &["check-config"][..],
        &["doctor"][..],
        &["status"][..],
        &["status", "--json"][..],
    ] {
        let outcome = world.run(&config, args);
        shown.push_str(&outcome.output());
        for request in world.standin.requests() {
            if request.path.starts_with("/hook") {
                shown.push_str(&request.body);
            }
        }
    }
    let state = world.dir.path().join("state/status.json");
    shown.push_str(&std::fs::read_to_string(state).expect("status.json"));
    assert!(
        shown.contains("url:http://127.0.0.1:") && shown.contains("/<redacted> answered HTTP 404"),
        "{shown}"
    );
    assert!(
        shown.contains("\"event\":\"changed\""),
        "the webhook was called: {shown}"
    );
    for leak in [secret, "pw0rd", "admin:"] {
        assert!(!shown.contains(leak), "{leak} leaked: {shown}");
    }

    let as_string = world.config(&format!(
        "{}\n[notify]\nwebhooks = \"https://ntfy.sh/{secret}\"\n",
        record("home.example.com")
    ));
    let refused = world.run(&as_string, &["check-config"]);
    assert_eq!(refused.code, 2, "{}", refused.output());
    assert!(!refused.output().contains(secret), "{}", refused.output());
    assert!(
        refused.stderr.contains("webhooks") || refused.stderr.contains(":"),
        "{}",
        refused.stderr
    );
}
