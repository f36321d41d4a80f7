//! Configuration from the environment (containers, systemd's `Environment=`): variables
//! override the file, `FLAREDNS_RECORDS` alone is a whole config, a bad value is named by its
//! variable without being shown, and `check-config` says where each value came from.

use crate::harness::{record, World, PUBLIC_IPV4, TOKEN};

/// The stand-in as variables: API, trace and DNS server.
fn standin_env(world: &World) -> Vec<(String, String)> {
    vec![
        (
            "FLAREDNS_CLOUDFLARE_API_URL".to_string(),
            world.standin.api_url(),
        ),
        (
            "FLAREDNS_DETECT_IPV4".to_string(),
            format!("trace:{}", world.standin.trace_url()),
        ),
        (
            "FLAREDNS_CHECK_NAMESERVERS".to_string(),
            world.standin.dns_addr().to_string(),
        ),
        ("FLAREDNS_DETECT_TIMEOUT".to_string(), "2s".to_string()),
    ]
}

fn pairs(owned: &[(String, String)]) -> Vec<(&str, &str)> {
    owned
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect()
}

/// The environment is the whole config only where the default file is absent; a machine
/// with flaredns installed cannot run these tests, and says so instead of skipping.
fn assert_no_default_config() {
    assert!(
        !std::path::Path::new("/etc/flaredns/config.toml").exists(),
        "/etc/flaredns/config.toml exists on this machine, so the environment cannot be the whole config; run this test where flaredns is not installed"
    );
}

#[test]
fn the_environment_alone_is_a_config_when_no_file_exists() {
    assert_no_default_config();
    let world = World::new();
    let mut env = standin_env(&world);
    env.push((
        "FLAREDNS_RECORDS".to_string(),
        "home.example.com, vpn.example.com".to_string(),
    ));
    let outcome = world.run_raw_env(&["--once"], &pairs(&env));
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    for name in ["home.example.com", "vpn.example.com"] {
        let records = world.standin.records_at("example.com", name);
        assert_eq!(records.len(), 1, "{name}: {records:?}");
        assert_eq!(records[0].content, PUBLIC_IPV4);
    }

    let checked = world.run_raw_env(&["check-config"], &pairs(&env));
    assert_eq!(checked.code, 0, "{}", checked.output());
    assert!(
        checked
            .stdout
            .contains("from the environment (no config file)"),
        "{}",
        checked.stdout
    );
    assert!(
        checked
            .stdout
            .contains("name = \"vpn.example.com\"   # from FLAREDNS_RECORDS"),
        "{}",
        checked.stdout
    );
    assert!(
        checked
            .stdout
            .contains("# from FLAREDNS_CLOUDFLARE_API_URL"),
        "{}",
        checked.stdout
    );
}

#[test]
fn a_config_file_named_explicitly_that_is_missing_stays_an_error() {
    let world = World::new();
    let mut env = standin_env(&world);
    env.push((
        "FLAREDNS_RECORDS".to_string(),
        "home.example.com".to_string(),
    ));
    let missing = world.dir.path().join("missing.toml");
    let missing = missing.display().to_string();
    env.push(("FLAREDNS_CONFIG".to_string(), missing.clone()));
    let outcome = world.run_raw_env(&["--once"], &pairs(&env));
    assert_eq!(outcome.code, 2, "{}", outcome.output());
    assert!(outcome.stderr.contains(&missing), "{}", outcome.stderr);
    assert!(outcome.api.is_empty());
}

#[test]
fn variables_override_the_file_and_check_config_names_them() {
    let world = World::new();
    let config = world.config(&record("home.example.com"));
    let outcome = world.run_env(
        &config,
        &["check-config"],
        &[
            ("FLAREDNS_DAEMON_INTERVAL", "10m"),
            ("FLAREDNS_DETECT_IPV6", "none"),
            ("FLAREDNS_RECORDS", "vpn.example.com"),
            (
                "FLAREDNS_NOTIFY_WEBHOOKS",
                "https://hooks.example.net/s3cr3t",
            ),
            ("FLAREDNS_NOTIFY_EVENTS", "failed,recovered"),
            ("FLAREDNS_DAEMON_CYCLETIMEOUT", "30s"),
        ],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    // A misspelt variable is ignored, but not silently.
    assert!(
        outcome
            .stderr
            .contains("FLAREDNS_DAEMON_CYCLETIMEOUT is not a setting flaredns knows"),
        "{}",
        outcome.stderr
    );
    let out = &outcome.stdout;
    assert!(
        out.contains("interval = \"10m\"   # from FLAREDNS_DAEMON_INTERVAL"),
        "{out}"
    );
    assert!(
        out.contains("ipv6 = []   # from FLAREDNS_DETECT_IPV6"),
        "{out}"
    );
    assert!(
        out.contains("events = [\"failed\", \"recovered\"]   # from FLAREDNS_NOTIFY_EVENTS"),
        "{out}"
    );
    assert!(out.contains("name = \"home.example.com\"\n"), "{out}");
    assert!(
        out.contains("name = \"vpn.example.com\"   # from FLAREDNS_RECORDS"),
        "{out}"
    );
    assert!(
        out.contains("webhooks = [\"https://hooks.example.net/<redacted>\"]   # from FLAREDNS_NOTIFY_WEBHOOKS"),
        "{out}"
    );
    assert!(!out.contains("s3cr3t"), "{out}");
    // The file's own values say nothing about a variable.
    assert!(out.contains("timeout = \"2s\"\n"), "{out}");
}

#[test]
fn a_bad_variable_exits_2_naming_it_without_showing_its_value() {
    let world = World::new();
    let config = world.config(&record("home.example.com"));
    let cases = [
        ("FLAREDNS_DAEMON_INTERVAL", "0s", "must be at least 1s"),
        (
            "FLAREDNS_CLOUDFLARE_API_URL",
            "https://admin:s3cr3t-pass@api.example.com/client/v4",
            "user name or password",
        ),
        (
            "FLAREDNS_NOTIFY_HEALTHCHECKS",
            "hc-ping.com/s3cr3t-uuid",
            "notify.healthchecks",
        ),
        (
            "FLAREDNS_DAEMON_MAX_REQUESTS_PER_CYCLE",
            "s3cr3t",
            "whole number",
        ),
    ];
    for (variable, value, reason) in cases {
        let outcome = world.run_env(&config, &["--once"], &[(variable, value)]);
        assert_eq!(outcome.code, 2, "{variable}: {}", outcome.output());
        assert!(
            outcome.stderr.contains(variable),
            "{variable}: {}",
            outcome.stderr
        );
        assert!(
            outcome.stderr.contains(reason),
            "{variable}: {}",
            outcome.stderr
        );
        assert!(
            !outcome.output().contains("s3cr3t"),
            "{variable}: {}",
            outcome.output()
        );
        assert!(outcome.api.is_empty());
    }
}

#[test]
fn cloudflare_api_token_file_names_the_token_file() {
    let world = World::new();
    let token_file = world.dir.path().join("cloudflare_api_token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("write token");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
    }
    let token_path = token_file.display().to_string();
    let config = world.config(&record("home.example.com"));
    let mut command_env = vec![("CLOUDFLARE_API_TOKEN_FILE", token_path.as_str())];
    let outcome = world.run_without_token_env(&config, &["--once"], &command_env);
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert_eq!(
        world.standin.records_at("example.com", "home.example.com")[0].content,
        PUBLIC_IPV4
    );
    let checked = world.run_without_token_env(&config, &["check-config"], &command_env);
    assert_eq!(checked.code, 0, "{}", checked.output());
    assert!(
        checked.stdout.contains(&format!(
            "# from file {token_path}, named by CLOUDFLARE_API_TOKEN_FILE"
        )),
        "{}",
        checked.stdout
    );
    assert!(!checked.output().contains(TOKEN));

    // A token pasted where its file's name belongs is named by the variable, never shown.
    let pasted = world.run_without_token_env(
        &config,
        &["--once"],
        &[(
            "CLOUDFLARE_API_TOKEN_FILE",
            "s3cr3tTOKENs3cr3tTOKENs3cr3tTOKEN01",
        )],
    );
    assert_eq!(pasted.code, 2, "{}", pasted.output());
    assert!(
        pasted
            .stderr
            .contains("CLOUDFLARE_API_TOKEN_FILE: looks like a token"),
        "{}",
        pasted.stderr
    );
    assert!(!pasted.output().contains("s3cr3t"), "{}", pasted.output());

    // Both spellings at once are one too many: which file would win is not guessed.
    command_env.push(("FLAREDNS_CLOUDFLARE_API_TOKEN_FILE", token_path.as_str()));
    let both = world.run_without_token_env(&config, &["--once"], &command_env);
    assert_eq!(both.code, 2, "{}", both.output());
    assert!(
        both.stderr.contains("FLAREDNS_CLOUDFLARE_API_TOKEN_FILE"),
        "{}",
        both.stderr
    );
}
