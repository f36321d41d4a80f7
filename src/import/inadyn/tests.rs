//! Table tests of the inadyn reader: sections, lists, families, providers and errors.

use super::*;
use crate::import::Problem;

const TWO_FAMILIES: &str = r#"# IPv4 and IPv6, two zones
period = 300
allow-ipv6 = true
verify-address = false

provider cloudflare.com:1 {
checkip-server = 1.1.1.1
checkip-path = /cdn-cgi/trace
username = example.com
password = "secret-token-1" # a comment
hostname = { "home.example.com", "vpn.example.com" }
ttl = 1
proxied = false
}
provider cloudflare.com:2 {
checkip-server = dns64.cloudflare-dns.com
checkip-path = /cdn-cgi/trace
username = example.com
password = secret-token-1
hostname = home.example.com
}
/* another account */
provider default@cloudflare.com:3 {
username = example.org
password = 'secret-token-2'
hostname = www.example.org
proxied = true
ttl = 300
}
custom namecheap {
username = me
password = x
ddns-server = dynamicdns.park-your-domain.com
hostname = { "@", "www" }
}
provider freedns { username = a  password = b  hostname = c.example.net }
"#;

#[test]
fn several_blocks_hostnames_and_families() {
    let imported = parse(TWO_FAMILIES).expect("parses");
    let records: Vec<(String, Vec<Family>)> = imported
        .records
        .iter()
        .map(|r| (r.name.to_string(), r.families.clone()))
        .collect();
    assert_eq!(
        records,
        [
            ("home.example.com".to_string(), vec![Family::V4, Family::V6]),
            ("vpn.example.com".to_string(), vec![Family::V4]),
            ("www.example.org".to_string(), vec![Family::V4]),
        ]
    );
    assert_eq!(imported.ipv4, ["cloudflare.trace"]);
    assert_eq!(imported.ipv6, ["cloudflare.trace"]);
    assert_eq!(imported.interval, Some(std::time::Duration::from_secs(300)));
    assert_eq!(imported.tokens.len(), 2);
    assert_eq!(imported.records[2].proxied, Some(true));
    assert_eq!(imported.records[2].ttl, Some(Ttl::Seconds(300)));
    assert_eq!(imported.records[0].ttl, Some(Ttl::Auto));
    let notes: Vec<&str> = imported.notes.iter().map(|n| n.text.as_str()).collect();
    assert!(
        notes.iter().any(|n| n.starts_with("custom namecheap")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.starts_with("provider freedns")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.starts_with("verify-address")),
        "{notes:?}"
    );
    let text = imported.to_toml("test");
    assert!(!text.contains("secret-token"), "{text}");
}

#[test]
fn malformed_input_names_the_line() {
    for (text, line, problem) in [
        (
            "period = 300\nprovider cloudflare.com {\n  username = a\n",
            2,
            Problem::UnclosedBrace,
        ),
        (
            "provider cloudflare.com {\n  hostname = { \"a\", \"b\"\n}\n",
            1,
            Problem::UnclosedBrace,
        ),
        ("period = 300\n}\n", 2, Problem::UnexpectedClose),
        ("x = 1\npassword = \"abc\n", 2, Problem::UnclosedQuote),
        ("x = 1\n/* never\nclosed\n", 2, Problem::UnclosedComment),
    ] {
        let error = parse(text).expect_err(text);
        assert_eq!((error.line, error.problem), (line, problem), "{text}");
    }
    assert!(matches!(
        parse("period 300\n").map_err(|e| e.problem),
        Err(Problem::Syntax(_))
    ));
}

#[test]
fn checkip_servers_map_to_providers() {
    for (server, path, ssl, expected) in [
        (None, None, true, "cloudflare.trace"),
        (Some("default"), None, true, "cloudflare.trace"),
        (
            Some("1.1.1.1"),
            Some("/cdn-cgi/trace"),
            true,
            "cloudflare.trace",
        ),
        (
            Some("trace.example.net"),
            Some("/cdn-cgi/trace"),
            true,
            "trace:https://trace.example.net/cdn-cgi/trace",
        ),
        (
            Some("api.ipify.org"),
            None,
            true,
            "url:https://api.ipify.org/",
        ),
        (
            Some("checkip.example.com:8080"),
            Some("ip"),
            false,
            "url:http://checkip.example.com:8080/ip",
        ),
    ] {
        let mut imported = Imported::default();
        assert_eq!(
            checkip_provider(server, path, ssl, 1, &mut imported),
            expected,
            "{server:?}"
        );
    }
}

#[test]
fn a_megabyte_of_sections_stays_linear() {
    let mut text = String::from("allow-ipv6 = true\n");
    let mut index = 0;
    while text.len() < 1024 * 1024 {
        text.push_str(&format!(
            "provider cloudflare.com:{index} {{ checkip-server = check{index}.example.net\n password = secret-{index:08}\n hostname = {{ h{index}.example.com, \"g{index}.example.com\" }} }}\n"
        ));
        index += 1;
    }
    let imported = parse(&text).expect("parses");
    assert_eq!(imported.records.len(), 2 * index);
    assert_eq!(imported.ipv4.len(), index);
    let _ = imported.to_toml("big");
}
