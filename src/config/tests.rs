//! Config tables: every key, every error with its line.

use super::*;

fn env_with_token(key: &str) -> Option<String> {
    (key == "CLOUDFLARE_API_TOKEN").then(|| "test-token".to_string())
}

fn parse_text(text: &str) -> Result<Config, ConfigError> {
    parse(
        Path::new("/etc/flaredns/config.toml"),
        text,
        &env_with_token,
    )
}

#[test]
fn minimal_config_takes_defaults() {
    let config = parse_text("[[records]]\nname = \"home.example.com\"\n").expect("valid");
    assert_eq!(config.detect.ipv4, vec![Provider::CloudflareTrace]);
    assert!(config.detect.ipv6.is_empty());
    assert_eq!(config.check, CheckMode::Auto);
    assert_eq!(config.daemon.interval, Duration::from_secs(300));
    assert_eq!(config.records[0].families, vec![Family::V4]);
    assert_eq!(config.tokens[0].source, TokenSource::Environment);
}

#[test]
fn unknown_key_names_key_and_line() {
    let error = parse_text(
        "[daemon]\ninterval = \"1m\"\n\n[[records]]\nname = \"home.example.com\"\nproxyed = true\n",
    )
    .expect_err("unknown key");
    let text = error.to_string();
    assert!(text.contains("proxyed"), "{text}");
    assert!(text.contains("config.toml:6"), "{text}");
}

#[test]
fn invalid_values_name_key_and_line() {
    let cases = [
        (
            "[daemon]\ninterval = \"soon\"\n[[records]]\nname = \"a.example.com\"\n",
            "daemon.interval",
            2,
        ),
        (
            "[[records]]\nname = \"a.example.com\"\nttl = 5\n",
            "records.ttl",
            3,
        ),
        ("[[records]]\nname = \"localhost\"\n", "records.name", 2),
        (
            "[detect]\nipv4 = [\"carrier-pigeon\"]\n[[records]]\nname = \"a.example.com\"\n",
            "detect.ipv4",
            2,
        ),
        (
            "[[records]]\nname = \"a.example.com\"\ntypes = [\"AAAA\"]\n",
            "records.types",
            3,
        ),
        (
            "[check]\nnameservers = [\"not-an-ip\"]\n[[records]]\nname = \"a.example.com\"\n",
            "check.nameservers",
            2,
        ),
    ];
    for (text, key, line) in cases {
        let error = parse_text(text).expect_err(key).to_string();
        assert!(error.contains(&format!("`{key}`")), "{error}");
        assert!(error.contains(&format!("config.toml:{line}:")), "{error}");
    }
}

#[test]
fn token_precedence_env_then_credential_then_file_then_inline() {
    let dir = std::env::temp_dir().join(format!("flaredns-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join(CREDENTIAL_NAME), "from-credential\n").expect("write");
    std::fs::write(dir.join("token"), "from-file\n").expect("write");
    let text = format!("[cloudflare]\napi_token = \"inline\"\napi_token_file = \"{}\"\n[[records]]\nname = \"a.example.com\"\n", dir.join("token").display());
    let credentials = dir.display().to_string();
    let with_credentials =
        move |key: &str| (key == "CREDENTIALS_DIRECTORY").then(|| credentials.clone());
    let config = parse(Path::new("c.toml"), &text, &with_credentials).expect("valid");
    assert_eq!(config.tokens[0].token.expose(), "from-credential");
    let config = parse(Path::new("c.toml"), &text, &|_| None).expect("valid");
    assert_eq!(config.tokens[0].token.expose(), "from-file");
    let config = parse(Path::new("c.toml"), &text, &env_with_token).expect("valid");
    assert_eq!(config.tokens[0].token.expose(), "test-token");
    let inline_only =
        "[cloudflare]\napi_token = \"inline\"\n[[records]]\nname = \"a.example.com\"\n";
    let config = parse(Path::new("c.toml"), inline_only, &|_| None).expect("valid");
    assert_eq!(config.tokens[0].token.expose(), "inline");
    assert!(matches!(
        parse(
            Path::new("c.toml"),
            "[[records]]\nname = \"a.example.com\"\n",
            &|_| None
        ),
        Err(ConfigError::NoToken { .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plain_http_to_anything_but_loopback_is_warned_about() {
    let text = |url: &str| {
        format!("[cloudflare]\napi_url = \"{url}\"\n[[records]]\nname = \"a.example.com\"\n")
    };
    for remote in [
        "http://api.example.net/client/v4",
        "http://localhost.evil.com/client/v4",
        "http://127.0.0.1.evil.com/client/v4",
        "http://[::2]/client/v4",
    ] {
        let config = parse_text(&text(remote)).expect("valid");
        assert!(
            config
                .warnings
                .iter()
                .any(|w| matches!(w, ConfigWarning::PlainHttp { .. })
                    && w.to_string().contains("unencrypted")),
            "{remote}: {:?}",
            config.warnings
        );
    }
    for local in [
        "http://127.0.0.1:8080/client/v4",
        "http://127.9.9.9/client/v4",
        "http://localhost:9/client/v4",
        "http://[::1]:8080/client/v4",
    ] {
        let config = parse_text(&text(local)).expect("valid");
        assert!(config.warnings.is_empty(), "{local}: {:?}", config.warnings);
    }
    let error = parse_text(&text("http://127.0.0.1@evil.com/client/v4")).expect_err("userinfo");
    assert!(error.to_string().contains("user name"), "{error}");
}

#[test]
fn durations_are_bounded() {
    for (key, value) in [
        ("interval", "10000000000y"),
        ("interval", "8days"),
        ("cycle_timeout", "2h"),
        ("cycle_timeout", "10000000000y"),
    ] {
        let text =
            format!("[daemon]\n{key} = \"{value}\"\n[[records]]\nname = \"a.example.com\"\n");
        let error = parse_text(&text).expect_err(value);
        assert!(
            error.to_string().contains("at most"),
            "{key}={value}: {error}"
        );
        assert!(error.to_string().contains(":2:"), "{error}");
    }
    let text = "[detect]\ntimeout = \"1h\"\n[[records]]\nname = \"a.example.com\"\n";
    assert!(parse_text(text).is_err());
}

#[test]
fn only_a_leading_wildcard_label_is_a_valid_name() {
    for bad in [
        "a*b.example.net",
        "a.*.example.net",
        "**.example.net",
        "*a.example.net",
    ] {
        let text = format!("[[records]]\nname = \"{bad}\"\n");
        let error = parse_text(&text).expect_err(bad);
        assert!(error.to_string().contains("records.name"), "{error}");
    }
    assert!(parse_text("[[records]]\nname = \"*.example.net\"\n").is_ok());
}

#[test]
fn malformed_tokens_are_refused_at_config_time() {
    for token in ["abc\ndef", "abc\0def", "abc\u{7f}"] {
        let error = parse(
            Path::new("c.toml"),
            "[[records]]\nname = \"a.example.com\"\n",
            &|key| (key == "CLOUDFLARE_API_TOKEN").then(|| token.to_string()),
        )
        .expect_err("malformed");
        assert!(error.to_string().contains("the API token"), "{error}");
        assert!(!error.to_string().contains("abc"), "{error}");
    }
}

#[test]
fn effective_config_never_shows_the_token() {
    let text =
        "[cloudflare]\napi_token = \"sup3r-secret\"\n[[records]]\nname = \"a.example.com\"\n";
    let config = parse(Path::new("c.toml"), text, &|_| None).expect("valid");
    let shown = format!("{config}\n{config:?}");
    assert!(!shown.contains("sup3r-secret"), "{shown}");
    assert!(shown.contains("<redacted>"));
}

#[test]
fn a_record_may_name_its_own_token_file_and_shared_tokens_are_one() {
    let dir = tempfile::tempdir().expect("dir");
    let other = dir.path().join("token-other");
    std::fs::write(&other, "other-token\n").expect("write");
    let text = format!(
        "[check]\nreconcile = \"10m\"\n[[records]]\nname = \"a.example.com\"\n[[records]]\nname = \"b.example.org\"\napi_token_file = \"{}\"\n[[records]]\nname = \"c.example.org\"\napi_token_file = \"{}\"\n",
        other.display(),
        other.display()
    );
    let config = parse_text(&text).expect("valid");
    assert_eq!(config.tokens.len(), 2);
    assert_eq!(config.tokens[1].token.expose(), "other-token");
    let tokens: Vec<usize> = config.records.iter().map(|record| record.token).collect();
    assert_eq!(tokens, vec![0, 1, 1]);
    assert_eq!(config.reconcile, std::time::Duration::from_secs(600));
    let shown = config.to_string();
    assert!(!shown.contains("other-token"), "{shown}");
    assert!(shown.contains("token-other"), "{shown}");
    let too_short = "[check]\nreconcile = \"500ms\"\n[[records]]\nname = \"a.example.com\"\n";
    assert!(parse_text(too_short).is_err());
}

/// Variables of a test's environment.
type Vars = &'static [(&'static str, &'static str)];

/// The environment of a test: the token plus `vars`.
fn env_of(vars: Vars) -> impl Fn(&str) -> Option<String> {
    move |key: &str| {
        env_with_token(key).or_else(|| {
            vars.iter()
                .find(|(name, _)| *name == key)
                .map(|(_, value)| value.to_string())
        })
    }
}

#[test]
fn the_environment_overrides_the_file_and_adds_records() {
    let env = env_of(&[
        ("FLAREDNS_DAEMON_INTERVAL", "10m"),
        ("FLAREDNS_DETECT_IPV6", "none"),
        ("FLAREDNS_CHECK_NAMESERVERS", "api"),
        ("FLAREDNS_RECORDS", "vpn.example.com, nas.example.com"),
    ]);
    let config = parse(
        Path::new("/etc/flaredns/config.toml"),
        "[daemon]\ninterval = \"1m\"\n[detect]\nipv6 = [\"cloudflare.trace\"]\n[[records]]\nname = \"home.example.com\"\n",
        &env,
    )
    .expect("valid");
    assert_eq!(config.daemon.interval, Duration::from_secs(600));
    assert!(config.detect.ipv6.is_empty());
    assert_eq!(config.check, CheckMode::Api);
    let names: Vec<String> = config.records.iter().map(|r| r.name.to_string()).collect();
    assert_eq!(
        names,
        ["home.example.com", "vpn.example.com", "nas.example.com"]
    );
    let printed = config.to_string();
    assert!(
        printed.contains("interval = \"10m\"   # from FLAREDNS_DAEMON_INTERVAL"),
        "{printed}"
    );
    assert!(
        printed.contains("name = \"vpn.example.com\"   # from FLAREDNS_RECORDS"),
        "{printed}"
    );
    assert!(
        printed.contains("name = \"home.example.com\"\n"),
        "{printed}"
    );
}

#[test]
fn a_bad_variable_is_named_and_its_value_is_not_shown() {
    let cases: [(Vars, &str, &str); 4] = [
        (
            &[("FLAREDNS_DAEMON_INTERVAL", "0s")],
            "FLAREDNS_DAEMON_INTERVAL",
            "0s-never-shown",
        ),
        (
            &[(
                "FLAREDNS_CLOUDFLARE_API_URL",
                "ftp://user:hunter2@example.com",
            )],
            "FLAREDNS_CLOUDFLARE_API_URL",
            "hunter2",
        ),
        (
            &[(
                "FLAREDNS_NOTIFY_WEBHOOKS",
                "https://ok.example/a, ftp://hunter2@example.com",
            )],
            "FLAREDNS_NOTIFY_WEBHOOKS",
            "hunter2",
        ),
        (
            &[("FLAREDNS_DAEMON_MAX_REQUESTS_PER_HOUR", "hunter2")],
            "FLAREDNS_DAEMON_MAX_REQUESTS_PER_HOUR",
            "hunter2",
        ),
    ];
    for (vars, variable, secret) in cases {
        let env = env_of(vars);
        let error = parse(
            Path::new("/etc/flaredns/config.toml"),
            "[[records]]\nname = \"home.example.com\"\n",
            &env,
        )
        .expect_err("invalid");
        let text = error.to_string();
        assert!(text.starts_with(variable), "{text}");
        assert!(!text.contains(secret), "{text}");
        assert!(!text.contains("config.toml"), "{text}");
    }
}

#[test]
fn a_record_in_both_file_and_environment_names_the_variable() {
    let env = env_of(&[("FLAREDNS_RECORDS", "home.example.com")]);
    let error = parse(
        Path::new("/etc/flaredns/config.toml"),
        "[[records]]\nname = \"home.example.com\"\n",
        &env,
    )
    .expect_err("twice");
    assert!(error.to_string().starts_with("FLAREDNS_RECORDS"), "{error}");
}
