//! `flaredns import`: realistic ddclient, inadyn and favonia inputs become configs that
//! `check-config` accepts and that plan the same records against the stand-in; the token is
//! in no output; unreadable inputs are exit 2 naming the file and line.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{Outcome, Record, World, OLD_IPV4, PUBLIC_IPV6, TOKEN};

const DDCLIENT_TOKEN: &str = "ddclient-secret-token-0123456789";
const DDCLIENT_TOKEN_2: &str = "ddclient-second-token-9876543210";
const INADYN_TOKEN: &str = "inadyn-secret-token-0123456789ab";
const FAVONIA_TOKEN: &str = "favonia-secret-token-0123456789a";

fn ddclient_conf() -> String {
    format!(
        r#"# /etc/ddclient.conf, as a Debian admin writes it
daemon=300                              # check every 5 minutes
syslog=yes
pid=/run/ddclient.pid
ssl=yes
usev4=webv4, webv4=ipify-ipv4
usev6=ifv6, ifv6=eth0

# example.com: two hosts, one token
protocol=cloudflare, \
zone=example.com, \
ttl=1, \
login=token, \
password='{DDCLIENT_TOKEN}' \
home.example.com, vpn.example.com

# example.org with another token
protocol=cloudflare, zone=example.org, ttl=300, login=token, password={DDCLIENT_TOKEN_2} www.example.org

# not Cloudflare
protocol=dyndns2, server=members.dyndns.org, login=me, password=dyn-password me.dyndns.org
"#
    )
}

fn inadyn_conf() -> String {
    format!(
        r#"# inadyn v2
period = 600
allow-ipv6 = true

provider cloudflare.com:1 {{
    checkip-server = 1.1.1.1
    checkip-path = /cdn-cgi/trace
    username = example.com
    password = "{INADYN_TOKEN}"   # Zone.Zone Read, Zone.DNS Edit
    hostname = {{ "home.example.com", "vpn.example.com" }}
    ttl = 1
    proxied = false
}}

provider cloudflare.com:2 {{
    checkip-server = dns64.cloudflare-dns.com
    checkip-path = /cdn-cgi/trace
    username = example.com
    password = {INADYN_TOKEN}
    hostname = home.example.com
}}

provider cloudflare.com:3 {{
    username = example.org
    password = {INADYN_TOKEN}
    hostname = www.example.org
    proxied = true
}}

custom namecheap {{
    username = example.net
    password = mypass
    ddns-server = dynamicdns.park-your-domain.com
    hostname = {{ "@", "www" }}
}}
"#
    )
}

fn favonia_env() -> String {
    format!(
        "# docker compose .env for favonia/cloudflare-ddns\nCLOUDFLARE_API_TOKEN={FAVONIA_TOKEN}\nDOMAINS=home.example.com,www.example.org\nIP6_DOMAINS=vpn.example.com\nIP6_PROVIDER=static:{PUBLIC_IPV6}\nPROXIED=false\nTTL=1\nUPDATE_CRON=@every 10m\nHEALTHCHECKS=https://hc-ping.com/5a1d3c9e-0000-4000-8000-000000000000\nUPTIMEKUMA=https://kuma.example.net/api/push/AbCdEf?status=up\nRECORD_COMMENT=managed by flaredns\nTZ=Europe/Berlin\n"
    )
}

/// Writes an input file into the world's scratch directory.
fn input(world: &World, name: &str, text: &str) -> PathBuf {
    let path = world.dir.path().join(name);
    std::fs::write(&path, text).expect("write input");
    path
}

/// `flaredns import SOURCE PATH`.
fn import(world: &World, source: &str, path: &Path) -> Outcome {
    world.run_raw(&["import", source, &path.to_string_lossy()])
}

/// Asserts that no token appears in either stream.
fn assert_no_token(outcome: &Outcome) {
    for token in [
        DDCLIENT_TOKEN,
        DDCLIENT_TOKEN_2,
        INADYN_TOKEN,
        FAVONIA_TOKEN,
        "dyn-password",
        "mypass",
    ] {
        assert!(
            !outcome.output().contains(token),
            "{token} printed:\n{}",
            outcome.output()
        );
    }
}

/// `check-config` on an imported config, with the stand-in's token in the environment and
/// in the second token's file (put where the import told the user to put it).
fn check_config(world: &World, config: &str) -> Outcome {
    let second = world.dir.path().join("token-2");
    std::fs::write(&second, TOKEN).expect("write token");
    std::fs::set_permissions(&second, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let config = config.replace("/etc/flaredns/token-2", &second.to_string_lossy());
    let path = input(world, "imported.toml", &config);
    world.run_raw(&["--config", &path.to_string_lossy(), "check-config"])
}

/// The imported config pointed at the stand-in (API, trace, DNS; IPv6 from a static
/// address), then `--once --dry-run`.
fn dry_run(world: &World, config: &str) -> Outcome {
    let mut table: toml::Table = toml::from_str(config).expect("imported config is TOML");
    let mut cloudflare = toml::Table::new();
    cloudflare.insert("api_url".into(), world.standin.api_url().into());
    table.insert("cloudflare".into(), cloudflare.into());
    let detect = table
        .get_mut("detect")
        .and_then(toml::Value::as_table_mut)
        .expect("[detect]");
    detect.insert(
        "ipv4".into(),
        toml::Value::Array(vec![format!("trace:{}", world.standin.trace_url()).into()]),
    );
    let ipv6_on = detect
        .get("ipv6")
        .and_then(toml::Value::as_array)
        .is_some_and(|list| !list.is_empty());
    if ipv6_on {
        detect.insert(
            "ipv6".into(),
            toml::Value::Array(vec![format!("static:{PUBLIC_IPV6}").into()]),
        );
    }
    let mut check = toml::Table::new();
    check.insert(
        "nameservers".into(),
        toml::Value::Array(vec![world.standin.dns_addr().to_string().into()]),
    );
    table.insert("check".into(), check.into());
    // Heartbeats are not part of the round trip.
    table.remove("notify");
    // One token for the stand-in: every record's own token file goes.
    if let Some(records) = table.get_mut("records").and_then(toml::Value::as_array_mut) {
        for record in records.iter_mut().filter_map(toml::Value::as_table_mut) {
            record.remove("api_token_file");
        }
    }
    let config = toml::to_string(&table).expect("serialise");
    world.run(&config, &["--once", "--dry-run"])
}

fn two_zones() -> World {
    let world = World::new();
    world.standin.add_zone("example.org");
    world.standin.add_record(
        "example.com",
        Record::new("home.example.com", "A", OLD_IPV4),
    );
    world
}

#[test]
fn ddclient_config_imports_and_plans_the_same_records() {
    let world = two_zones();
    let path = input(&world, "ddclient.conf", &ddclient_conf());
    let outcome = import(&world, "ddclient", &path);
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert_no_token(&outcome);
    let config = &outcome.stdout;
    for expected in [
        "name = \"home.example.com\"",
        "name = \"vpn.example.com\"",
        "name = \"www.example.org\"",
        "zone = \"example.org\"",
        "ttl = \"auto\"",
        "ttl = 300",
        "interval = \"5m\"",
        "ipv6 = [\"iface:eth0\"]",
        "api_token_file = \"/etc/flaredns/token-2\"",
        "protocol=dyndns2",
        "ssl=yes",
    ] {
        assert!(config.contains(expected), "{expected} missing:\n{config}");
    }
    assert!(!config.contains("me.dyndns.org\"\n"), "{config}");
    assert!(
        outcome.stderr.contains(&format!(
            "{} line 14 (password=) into /etc/flaredns/token, mode 0600",
            path.display()
        )),
        "{}",
        outcome.stderr
    );
    let checked = check_config(&world, config);
    assert_eq!(checked.code, 0, "{config}\n{}", checked.output());

    let planned = dry_run(&world, config);
    assert_eq!(planned.code, 0, "{}", planned.output());
    assert!(planned.writes().is_empty(), "{:?}", planned.api);
    for (name, record_type) in [
        ("home.example.com", "A"),
        ("home.example.com", "AAAA"),
        ("vpn.example.com", "A"),
        ("vpn.example.com", "AAAA"),
        ("www.example.org", "A"),
        ("www.example.org", "AAAA"),
    ] {
        assert!(
            planned.stdout.contains(&format!("{name} {record_type}")),
            "{name} {record_type}:\n{}",
            planned.stdout
        );
    }
}

#[test]
fn inadyn_config_imports_and_plans_the_same_records() {
    let world = two_zones();
    let path = input(&world, "inadyn.conf", &inadyn_conf());
    let outcome = import(&world, "inadyn", &path);
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert_no_token(&outcome);
    let config = &outcome.stdout;
    for expected in [
        "ipv4 = [\"cloudflare.trace\"]",
        "ipv6 = [\"cloudflare.trace\"]",
        "interval = \"10m\"",
        "proxied = true",
        "proxied = false",
        "types = [\"A\"]",
        "custom namecheap",
    ] {
        assert!(config.contains(expected), "{expected} missing:\n{config}");
    }
    assert!(
        outcome
            .stderr
            .contains("line 9 (password=) into /etc/flaredns/token"),
        "{}",
        outcome.stderr
    );
    let checked = check_config(&world, config);
    assert_eq!(checked.code, 0, "{config}\n{}", checked.output());

    let planned = dry_run(&world, config);
    assert_eq!(planned.code, 0, "{}", planned.output());
    assert!(planned.writes().is_empty(), "{:?}", planned.api);
    for (name, record_type) in [
        ("home.example.com", "A"),
        ("home.example.com", "AAAA"),
        ("vpn.example.com", "A"),
        ("www.example.org", "A"),
    ] {
        assert!(
            planned.stdout.contains(&format!("{name} {record_type}")),
            "{name} {record_type}:\n{}",
            planned.stdout
        );
    }
    assert!(
        !planned.stdout.contains("vpn.example.com AAAA"),
        "{}",
        planned.stdout
    );
}

#[test]
fn favonia_env_file_imports_and_plans_the_same_records() {
    let world = two_zones();
    let path = input(&world, "ddns.env", &favonia_env());
    let outcome = import(&world, "favonia", &path);
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert_no_token(&outcome);
    let config = &outcome.stdout;
    for expected in [
        "healthchecks = \"https://hc-ping.com/5a1d3c9e-0000-4000-8000-000000000000\"",
        "uptime_kuma = \"https://kuma.example.net/api/push/AbCdEf?status=up\"",
        "interval = \"10m\"",
        "comment = \"managed by flaredns\"",
        "types = [\"AAAA\"]",
        "TZ (line 12)",
    ] {
        assert!(config.contains(expected), "{expected} missing:\n{config}");
    }
    assert!(
        !outcome.stderr.contains("hc-ping.com") && !outcome.stderr.contains("AbCdEf"),
        "URL secrets on stderr: {}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("line 2 (CLOUDFLARE_API_TOKEN=)"),
        "{}",
        outcome.stderr
    );
    let checked = check_config(&world, config);
    assert_eq!(checked.code, 0, "{config}\n{}", checked.output());

    let planned = dry_run(&world, config);
    assert_eq!(planned.code, 0, "{}", planned.output());
    for (name, record_type) in [
        ("home.example.com", "A"),
        ("home.example.com", "AAAA"),
        ("www.example.org", "A"),
        ("vpn.example.com", "AAAA"),
    ] {
        assert!(
            planned.stdout.contains(&format!("{name} {record_type}")),
            "{name} {record_type}:\n{}",
            planned.stdout
        );
    }
}

#[test]
fn favonia_without_a_file_reads_the_environment() {
    let world = World::new();
    let output = Command::new(env!("CARGO_BIN_EXE_flaredns"))
        .args(["import", "favonia"])
        .env_clear()
        .env("CLOUDFLARE_API_TOKEN", FAVONIA_TOKEN)
        .env("DOMAINS", "home.example.com")
        .env("IP6_PROVIDER", "none")
        .env("UPDATE_CRON", "*/5 * * * *")
        .output()
        .expect("run flaredns");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stdout.contains(FAVONIA_TOKEN) && !stderr.contains(FAVONIA_TOKEN));
    assert!(
        stderr.contains("environment variable CLOUDFLARE_API_TOKEN"),
        "{stderr}"
    );
    assert!(
        stdout.contains("ipv6 = []") && stdout.contains("cron schedule"),
        "{stdout}"
    );
    let checked = check_config(&world, &stdout);
    assert_eq!(checked.code, 0, "{stdout}\n{}", checked.output());
}

#[test]
fn hostile_inputs_are_exit_2_naming_the_file_and_line() {
    let world = World::new();
    let mut garbage = b"protocol=cloudflare\nzone=example.com\n".to_vec();
    garbage.extend([0u8, 0xff, 0xfe, 0x00, 0x13]);
    let binary = world.dir.path().join("binary.conf");
    std::fs::write(&binary, &garbage).expect("write");
    let huge = world.dir.path().join("huge.conf");
    std::fs::write(&huge, "#".repeat(2 * 1024 * 1024)).expect("write");
    let long_line = input(
        &world,
        "long.conf",
        &format!("daemon=300\n{}\n", "x".repeat(10_000)),
    );
    let unclosed = input(&world, "unclosed.conf", "period = 300\n\nprovider cloudflare.com {\n  username = example.com\n  hostname = home.example.com\n");
    let quote = input(
        &world,
        "quote.env",
        "DOMAINS=home.example.com\nCLOUDFLARE_API_TOKEN=\"abc\n",
    );
    for (source, path, expected) in [
        ("ddclient", &binary, format!("{}:3:", binary.display())),
        (
            "ddclient",
            &huge,
            format!("{} is larger than", huge.display()),
        ),
        (
            "ddclient",
            &long_line,
            format!("{}:2:", long_line.display()),
        ),
        (
            "inadyn",
            &unclosed,
            format!(
                "{}:3: the `{{` opened here is never closed",
                unclosed.display()
            ),
        ),
        (
            "favonia",
            &quote,
            format!("{}:2: the quote", quote.display()),
        ),
        (
            "inadyn",
            &world.dir.path().join("missing.conf"),
            "missing.conf".to_string(),
        ),
    ] {
        let outcome = import(&world, source, path);
        assert_eq!(outcome.code, 2, "{}", outcome.output());
        assert!(outcome.stdout.is_empty(), "{}", outcome.stdout);
        assert!(
            outcome.stderr.contains(&expected),
            "{expected}:\n{}",
            outcome.stderr
        );
        assert!(!outcome.stderr.contains("abc"), "{}", outcome.stderr);
    }
}

#[test]
fn import_needs_no_config_and_no_token() {
    let world = World::new();
    let path = input(&world, "ddclient.conf", &ddclient_conf());
    let outcome = world.run_raw(&[
        "--config",
        "/nonexistent/flaredns.toml",
        "import",
        "ddclient",
        &path.to_string_lossy(),
    ]);
    assert_eq!(outcome.code, 0, "{}", outcome.output());
    assert!(outcome.api.is_empty());
    assert!(!outcome.output().contains(TOKEN));
}
