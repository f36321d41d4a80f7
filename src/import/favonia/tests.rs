//! Table tests of the favonia reader: env files, compose lines, providers and schedules.

use super::*;
use crate::import::Problem;

const ENV_FILE: &str = "# cloudflare-ddns\nexport CLOUDFLARE_API_TOKEN=\"secret-token-value\"\nDOMAINS=home.example.com, www.example.org\nIP6_DOMAINS='v6.example.com'\nIP4_PROVIDER=local.iface:eth0\nIP6_PROVIDER=cloudflare.doh\nPROXIED=true\nTTL=1\nUPDATE_CRON=@every 10m\nHEALTHCHECKS=https://hc-ping.com/0a1b2c3d\nSHOUTRRR=\"discord://tok@123\ngeneric://example.com/hook\"\nWAF_LISTS=0123456789abcdef0123456789abcdef/home_ips\nRECORD_COMMENT=from favonia # a comment\nMYSTERY=do-not-print\n";

#[test]
fn an_env_file_maps_every_setting() {
    let imported = parse(ENV_FILE).expect("parses");
    let names: Vec<(String, Vec<Family>)> = imported
        .records
        .iter()
        .map(|r| (r.name.to_string(), r.families.clone()))
        .collect();
    assert_eq!(
        names,
        [
            ("home.example.com".to_string(), vec![Family::V4, Family::V6]),
            ("www.example.org".to_string(), vec![Family::V4, Family::V6]),
            ("v6.example.com".to_string(), vec![Family::V6]),
        ]
    );
    assert_eq!(imported.ipv4, ["iface:eth0"]);
    assert_eq!(imported.ipv6, ["cloudflare.dns"]);
    assert_eq!(imported.interval, Some(Duration::from_secs(600)));
    assert_eq!(imported.records[0].proxied, Some(true));
    assert_eq!(imported.records[0].comment.as_deref(), Some("from favonia"));
    assert_eq!(
        imported.urls,
        ["discord://tok@123", "generic://example.com/hook"]
    );
    assert_eq!(imported.waf_lists.len(), 1);
    assert!(matches!(
        imported.tokens[0],
        TokenOrigin::Line { line: 2, .. }
    ));
    let text = imported.to_toml("test");
    assert!(
        !text.contains("secret-token-value") && !text.contains("do-not-print"),
        "{text}"
    );
    assert!(text.contains("MYSTERY"), "{text}");
}

#[test]
fn compose_list_and_map_items_are_read() {
    let imported = parse("services:\n  ddns:\n    environment:\n      - DOMAINS=a.example.com\n      IP6_PROVIDER: none\n").expect("parses");
    assert_eq!(imported.records.len(), 1);
    assert!(imported.ipv6.is_empty());
}

#[test]
fn providers_and_schedules() {
    for (value, expected) in [
        ("none", None),
        ("cloudflare.trace", Some("cloudflare.trace")),
        (
            "url:https://api4.ipify.org",
            Some("url:https://api4.ipify.org"),
        ),
        ("static:81.23.45.99,81.23.45.98", Some("static:81.23.45.99")),
        ("static:2a01::1", Some("cloudflare.trace")),
        ("file:/ip4.txt", Some("cloudflare.trace")),
        ("bogus", Some("cloudflare.trace")),
    ] {
        let mut imported = Imported::default();
        assert_eq!(
            provider(value, Family::V4, "IP4_PROVIDER", &mut imported).as_deref(),
            expected,
            "{value}"
        );
    }
    for (value, expected) in [
        ("@every 5m", Some(300)),
        ("@every 1h30m", Some(5400)),
        ("@hourly", Some(3600)),
        ("*/5 * * * *", None),
        ("@once", None),
        ("@every 1ms", None),
    ] {
        let mut imported = Imported::default();
        cron(value, "UPDATE_CRON", &mut imported);
        assert_eq!(imported.interval.map(|d| d.as_secs()), expected, "{value}");
    }
}

#[test]
fn the_environment_is_read_for_known_keys_only() {
    let env = vec![
        ("DOMAINS".to_string(), "a.example.com".to_string()),
        (
            "CLOUDFLARE_API_TOKEN".to_string(),
            "secret-token-value".to_string(),
        ),
        ("PATH".to_string(), "/usr/bin".to_string()),
    ];
    let imported = from_env(&env);
    assert_eq!(imported.records.len(), 1);
    assert!(
        matches!(&imported.tokens[0], TokenOrigin::Env { name, .. } if name == "CLOUDFLARE_API_TOKEN")
    );
    assert!(!imported.to_toml("env").contains("PATH"));
}

#[test]
fn an_unclosed_quote_names_its_line() {
    let error = parse("DOMAINS=a.example.com\nTTL='60\n").expect_err("unclosed");
    assert_eq!((error.line, error.problem), (2, Problem::UnclosedQuote));
}

#[test]
fn a_token_file_is_kept_unless_the_token_is_also_a_value() {
    let imported = parse("CLOUDFLARE_API_TOKEN_FILE=/run/secrets/cf\nDOMAINS=a.example.com\n")
        .expect("parses");
    assert_eq!(
        imported.tokens,
        [TokenOrigin::File {
            path: "/run/secrets/cf".to_string()
        }]
    );
    assert!(imported
        .to_toml("test")
        .contains("api_token_file = \"/run/secrets/cf\""));
    let imported = parse("CLOUDFLARE_API_TOKEN_FILE=/run/secrets/cf\nCF_API_TOKEN=secret-token-value\nDOMAINS=a.example.com\n").expect("parses");
    assert_eq!(imported.tokens.len(), 1);
    assert!(matches!(
        imported.tokens[0],
        TokenOrigin::Line { line: 2, .. }
    ));
}

#[test]
fn a_megabyte_of_domains_stays_linear() {
    let mut domains = String::from("DOMAINS=");
    let mut index = 0;
    while domains.len() < 1024 * 1024 {
        domains.push_str(&format!("h{index}.example.com,h{index}.example.com,"));
        index += 1;
    }
    let imported = from_env(&[("DOMAINS".to_string(), domains[8..].to_string())]);
    assert_eq!(imported.records.len(), index);
}
