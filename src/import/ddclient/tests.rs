//! Table tests of the ddclient reader: formats, strategies, notes and errors.

use super::*;
use crate::import::Problem;

fn import(text: &str) -> Imported {
    parse(text).expect("parses")
}

fn names(imported: &Imported) -> Vec<String> {
    imported
        .records
        .iter()
        .map(|r| r.name.to_string())
        .collect()
}

#[test]
fn blocks_with_continuations_quotes_and_two_zones() {
    let imported = import(
        "daemon=300\nssl=yes\nuse=web, web=https://api.ipify.org\n\
         protocol=cloudflare, \\\nzone=example.com, \\\nttl=1, \\\nlogin=token, \\\npassword='tok#en-one' \\\nhome.example.com,vpn.example.com\n\
         protocol=cloudflare, zone=example.org, login=token, password=token-two \\\n  www.example.org\n",
    );
    assert_eq!(
        names(&imported),
        ["home.example.com", "vpn.example.com", "www.example.org"]
    );
    assert_eq!(
        imported.records[0]
            .zone
            .as_ref()
            .map(|z| z.to_string())
            .as_deref(),
        Some("example.com")
    );
    assert_eq!(
        imported.records[2]
            .zone
            .as_ref()
            .map(|z| z.to_string())
            .as_deref(),
        Some("example.org")
    );
    assert_eq!(imported.records[0].ttl, Some(Ttl::Auto));
    assert_eq!(imported.interval, Some(std::time::Duration::from_secs(300)));
    assert_eq!(imported.ipv4, ["url:https://api.ipify.org"]);
    assert_eq!(imported.tokens.len(), 2);
    assert!(
        matches!(imported.tokens[0], TokenOrigin::Line { line: 8, .. }),
        "{:?}",
        imported.tokens
    );
    assert_eq!(
        (imported.records[0].token, imported.records[2].token),
        (Some(0), Some(1))
    );
    let text = imported.to_toml("test");
    assert!(
        !text.contains("tok#en-one") && !text.contains("token-two"),
        "{text}"
    );
}

#[test]
fn strategies_map_to_providers() {
    for (line, v4, v6) in [
        (
            "usev4=webv4, webv4=ipify-ipv4",
            vec!["cloudflare.trace"],
            vec![],
        ),
        ("use=if, if=eth0", vec!["iface:eth0"], vec![]),
        (
            "usev4=ifv4, ifv4=ppp0, usev6=ifv6, ifv6=ppp0",
            vec!["iface:ppp0"],
            vec!["iface:ppp0"],
        ),
        (
            "usev6=webv6, webv6=https://[2606:4700:4700::1111]/cdn-cgi/trace",
            vec![],
            vec!["cloudflare.trace"],
        ),
        (
            "usev4=webv4, webv4=https://trace.example.net/cdn-cgi/trace, webv4-skip='ip='",
            vec!["trace:https://trace.example.net/cdn-cgi/trace"],
            vec![],
        ),
        ("use=ip, ip=81.23.45.99", vec!["static:81.23.45.99"], vec![]),
        ("use=cmd, cmd=/bin/true", vec!["cloudflare.trace"], vec![]),
        (
            "use=linksys, fw=192.168.1.1",
            vec!["cloudflare.trace"],
            vec![],
        ),
        (
            "use=web, web=checkip.dyndns.org/, web-skip='IP Address'",
            vec!["cloudflare.trace"],
            vec![],
        ),
        ("", vec!["cloudflare.trace"], vec![]),
    ] {
        let imported = import(&format!("{line}\nprotocol=cloudflare, zone=example.com, login=token, password=t home.example.com\n"));
        assert_eq!(
            (imported.ipv4.clone(), imported.ipv6.clone()),
            (
                v4.iter().map(|s| s.to_string()).collect(),
                v6.iter().map(|s| s.to_string()).collect()
            ),
            "{line}"
        );
    }
}

#[test]
fn other_protocols_bad_names_and_global_keys_become_comments() {
    let imported = import(
        "protocol=dyndns2, server=members.dyndns.org, login=me, password=secret1 me.dyndns.org\n\
         protocol=cloudflare, zone=example.com, login=me@example.com, password=globalkey1 bad_name,-x-.example.com,ok.example.com\n\
         mail=root\n",
    );
    assert_eq!(names(&imported), ["ok.example.com"]);
    let notes: Vec<&str> = imported.notes.iter().map(|n| n.text.as_str()).collect();
    assert!(
        notes.iter().any(|n| n.contains("protocol=dyndns2")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("bad_name") && n.contains("invalid name")),
        "{notes:?}"
    );
    assert!(notes.iter().any(|n| n.starts_with("`mail`")), "{notes:?}");
    assert!(matches!(
        imported.tokens[0],
        TokenOrigin::GlobalKey { line: 2, .. }
    ));
    assert!(!notes
        .iter()
        .any(|n| n.contains("secret1") || n.contains("globalkey1")));
}

#[test]
fn positional_login_and_password_and_host_option() {
    let imported = import("protocol=cloudflare, zone=example.com, host=b.example.com a.example.com token positional-secret\n");
    assert_eq!(names(&imported), ["a.example.com", "b.example.com"]);
    assert!(matches!(
        imported.tokens[0],
        TokenOrigin::Line { line: 1, .. }
    ));
}

#[test]
fn unclosed_quote_is_an_error_at_its_line() {
    let error = parse("ssl=yes\nprotocol=cloudflare, \\\n web='abc \\\n home.example.com\n")
        .expect_err("unclosed");
    assert_eq!((error.line, error.problem), (3, Problem::UnclosedQuote));
}

#[test]
fn intervals() {
    for (text, seconds) in [
        ("300", Some(300)),
        ("5m", Some(300)),
        ("2h", Some(7200)),
        ("1d", Some(86400)),
        ("soon", None),
        ("99999999999999999999d", None),
    ] {
        assert_eq!(interval_seconds(text), seconds, "{text}");
    }
}

#[test]
fn a_megabyte_of_hosts_keys_and_passwords_stays_linear() {
    // 1 MiB of hostile but valid-looking lines: every line a host with its own password, an
    // unknown key, and a continuation. Quadratic merging would take minutes here.
    let mut text = String::new();
    let mut index = 0;
    while text.len() < 1024 * 1024 {
        text.push_str(&format!(
            "protocol=cloudflare, key{index}=x, password=secret-{index:08} \\\n h{index}.example.com\n"
        ));
        index += 1;
    }
    let started = std::time::Instant::now();
    let imported = parse(&text).expect("parses");
    let _ = imported.to_toml("big");
    assert_eq!(imported.records.len(), index);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}
