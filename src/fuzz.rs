//! Property tests for every parser that reads outside input: Cloudflare's answers, trace and
//! provider bodies, names and the config file. The property is the same everywhere: any input
//! gives a value or an error, never a panic.

use proptest::prelude::*;

use crate::cloudflare::budget::{Budget, MAX_SERVER_WAIT};
use crate::cloudflare::{parse_ratelimit, parse_retry_after};
use crate::detect::{parse_plain, parse_trace, Provider};
use crate::model::DomainName;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn envelopes_never_panic(status in 100u16..600, body in proptest::collection::vec(any::<u8>(), 0..512), html in any::<bool>(), mitigated in any::<bool>()) {
        let _ = crate::cloudflare::classify_for_tests(status, mitigated, html, &body);
    }

    #[test]
    fn json_shaped_envelopes_never_panic(success in any::<bool>(), code in any::<u64>(), message in ".{0,40}", result in prop_oneof![Just("null".to_string()), Just("[]".to_string()), Just("{}".to_string()), "[0-9]{1,20}"]) {
        let body = format!(r#"{{"success":{success},"errors":[{{"code":{code},"message":{message:?}}}],"result":{result},"result_info":{{"page":1,"total_pages":{code}}}}}"#);
        let _ = crate::cloudflare::classify_for_tests(200, false, false, body.as_bytes());
        let _ = crate::cloudflare::classify_for_tests(400, false, false, body.as_bytes());
    }

    #[test]
    fn metrics_request_heads_never_panic(head in proptest::collection::vec(any::<u8>(), 0..600)) {
        let (method, path) = crate::metrics::server::request_line(&head);
        prop_assert!(method.len() + path.len() <= head.len() * 3);
    }

    #[test]
    fn netlink_datagrams_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        for message in crate::detect::netlink::address_messages(&bytes) {
            prop_assert_eq!(message.flags & !crate::detect::netlink::MEANINGFUL_FLAGS, 0);
        }
    }

    #[test]
    fn netlink_messages_survive_any_cut(cut in 0usize..200, flags in any::<u32>(), index in any::<u32>()) {
        let message = crate::detect::netlink::encode(20, index, "2a01:4f8::1".parse().expect("ip"), 64, flags, "ppp0");
        let whole = crate::detect::netlink::address_messages(&message);
        prop_assert_eq!(whole.len(), 1);
        prop_assert_eq!(whole[0].index, index);
        let _ = crate::detect::netlink::address_messages(&message[..cut.min(message.len())]);
    }

    #[test]
    fn neighbour_datagrams_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        for message in crate::detect::netlink::neighbour_messages(&bytes) {
            // A usable entry is a new one, never a failed or incomplete one.
            if message.is_usable() {
                prop_assert_eq!(message.state & 0x21, 0);
            }
            let _ = crate::detect::netlink::state_name(message.state);
        }
    }

    #[test]
    fn neighbour_messages_survive_any_cut(cut in 0usize..120, state in any::<u16>(), index in any::<u32>(), mac in any::<[u8; 6]>(), with_mac in any::<bool>()) {
        let address: std::net::Ipv6Addr = "2a01:4f8:c0c:1234::5".parse().expect("ip");
        let message = crate::detect::netlink::encode_neighbour(28, index, address, state, with_mac.then_some(mac));
        let whole = crate::detect::netlink::neighbour_messages(&message);
        prop_assert_eq!(whole.len(), 1);
        prop_assert_eq!(whole[0].index, index);
        prop_assert_eq!(whole[0].state, state);
        prop_assert_eq!(whole[0].address, Some(address));
        prop_assert_eq!(whole[0].mac, with_mac.then_some(mac));
        let cut = crate::detect::netlink::neighbour_messages(&message[..cut.min(message.len())]);
        prop_assert!(cut.len() <= 1);
    }

    #[test]
    fn whoami_answers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), id in any::<u16>()) {
        let _ = crate::detect::whoami::answer_to(&bytes, id);
    }

    #[test]
    fn waf_item_text_never_panics_and_normalises_idempotently(text in "(?s).{0,60}", a in any::<u32>(), prefix in 0u8..=40) {
        let _ = crate::waf::normalise(&text);
        let item = format!("{}/{prefix}", std::net::Ipv4Addr::from(a));
        if let Some((_, normal)) = crate::waf::normalise(&item) {
            prop_assert_eq!(crate::waf::normalise(&normal).map(|(_, again)| again), Some(normal));
        }
    }

    #[test]
    fn if_inet6_tables_never_panic(table in "(?s)[0-9a-f \n]{0,400}", name in "[a-z0-9]{1,6}") {
        for answer in crate::detect::iface::stable_ipv6(&table, &name) {
            prop_assert!(answer.prefix_len.unwrap_or(0) <= 128);
        }
    }

    #[test]
    fn service_urls_never_panic_and_never_echo(scheme in prop_oneof![Just("discord"), Just("telegram"), Just("ntfy"), Just("slack"), Just("gotify"), Just("pushover"), Just("generic+http"), Just("x")], rest in "(?s).{0,60}") {
        let text = format!("{scheme}://{rest}SECRETPART");
        if let Err(error) = crate::notify::services::ServiceUrl::parse(&text) {
            prop_assert!(!error.to_string().contains("SECRETPART"));
        }
    }

    #[test]
    fn unicode_names_become_ascii_that_parses_to_itself(label in "\\PC{1,12}", tld in prop_oneof![Just("example.com"), Just("bücher.de"), Just("xn--mnchen-3ya.de")]) {
        let text = format!("{label}.{tld}");
        if let Ok(name) = DomainName::parse(&text) {
            prop_assert!(name.as_str().is_ascii());
            prop_assert_eq!(DomainName::parse(name.as_str()), Ok(name.clone()));
            let _ = name.shown();
        }
    }

    #[test]
    fn trace_and_plain_bodies_never_panic(body in "(?s).{0,300}") {
        let _ = parse_trace(&body);
        let _ = parse_plain(&body);
    }

    #[test]
    fn trace_reads_any_ipv4_it_is_given(a in any::<u8>(), b in any::<u8>(), c in any::<u8>(), d in any::<u8>(), noise in "[a-z=\n]{0,40}") {
        let body = format!("{noise}\nip={a}.{b}.{c}.{d}\nwarp=off\n");
        prop_assert_eq!(parse_trace(&body).map(|ip| ip.to_string()), Ok(format!("{a}.{b}.{c}.{d}")));
    }

    #[test]
    fn headers_and_provider_syntax_never_panic(text in "(?s).{0,80}") {
        let _ = parse_ratelimit(&text);
        let _ = parse_retry_after(&text, std::time::SystemTime::now());
        if let Ok(provider) = Provider::parse(&text) {
            prop_assert_eq!(Provider::parse(&provider.to_string()), Ok(provider));
        }
    }

    #[test]
    fn names_are_canonical_and_idempotent(text in "[a-zA-Z0-9.*_-]{0,80}") {
        if let Ok(name) = DomainName::parse(&text) {
            prop_assert_eq!(DomainName::parse(name.as_str()), Ok(name.clone()));
            prop_assert!(name.is_within(name.as_str()));
        }
    }

    #[test]
    fn config_files_never_panic(text in "(?s).{0,400}") {
        let _ = crate::config::parse(std::path::Path::new("fuzz.toml"), &text, &|_| Some("token".to_string()));
    }

    #[test]
    fn mutated_valid_configs_never_panic(cut in 0usize..400, insert in "[\\[\\]=\"a-z0-9 .\n]{0,12}") {
        let valid = "[cloudflare]\napi_token = \"t\"\n[detect]\nipv4 = [\"static:81.23.45.99\"]\ntimeout = \"5s\"\n[check]\nnameservers = \"auto\"\n[daemon]\ninterval = \"5m\"\n[[records]]\nname = \"home.example.com\"\nttl = 120\nproxied = true\n";
        let cut = cut.min(valid.len());
        let mut text = valid.to_string();
        if text.is_char_boundary(cut) {
            text.insert_str(cut, &insert);
        }
        let _ = crate::config::parse(std::path::Path::new("fuzz.toml"), &text, &|_| None);
    }

    #[test]
    fn import_parsers_never_panic(text in "(?s).{0,400}") {
        let _ = crate::import::check_text(text.as_bytes());
        for parse in [crate::import::ddclient::parse, crate::import::inadyn::parse, crate::import::favonia::parse] {
            if let Ok(imported) = parse(&text) {
                let config = imported.to_toml("fuzz");
                prop_assert!(toml::from_str::<toml::Table>(&config).is_ok(), "{config}");
            }
        }
    }

    #[test]
    fn imports_of_their_own_syntax_give_configs_flaredns_accepts(parts in proptest::collection::vec(prop_oneof![
        Just("protocol=cloudflare".to_string()), Just(", ".to_string()), Just(" \\\n".to_string()), Just("'".to_string()),
        Just("\"".to_string()), Just(" { ".to_string()), Just(" } ".to_string()), Just(" = ".to_string()), Just("=".to_string()),
        Just("#".to_string()), Just("/*".to_string()), Just("*/".to_string()), Just("password=tok".to_string()),
        Just("zone=example.com".to_string()), Just("\n".to_string()), Just("provider cloudflare.com".to_string()),
        Just("hostname".to_string()), Just("username".to_string()), Just("home.example.com".to_string()),
        Just("DOMAINS=".to_string()), Just("IP6_PROVIDER=".to_string()), Just("TTL=".to_string()), Just("- ".to_string()),
        Just("export ".to_string()), Just("usev6=ifv6".to_string()), Just("ttl=".to_string()), Just("none".to_string()),
        "[a-z0-9.:*-]{0,12}",
    ], 0..40)) {
        let text = parts.concat();
        let token = |key: &str| (key == "CLOUDFLARE_API_TOKEN").then(|| "fuzz-token-0123456789".to_string());
        for parse in [crate::import::ddclient::parse, crate::import::inadyn::parse, crate::import::favonia::parse] {
            let Ok(imported) = parse(&text) else { continue };
            let config = imported.to_toml("fuzz");
            prop_assert!(toml::from_str::<toml::Table>(&config).is_ok(), "{config}");
            // Records with their own token file would read it from disk; one token is enough here.
            if imported.records.is_empty() || imported.tokens.len() > 1 || !imported.urls.is_empty() {
                continue;
            }
            let checked = crate::config::parse(std::path::Path::new("imported.toml"), &config, &token);
            prop_assert!(checked.is_ok(), "{text:?}\n{config}\n{:?}", checked.err().map(|e| e.to_string()));
        }
    }

    #[test]
    fn retry_after_of_any_size_or_date_is_capped(seconds in any::<u64>(), digits in "[0-9]{1,40}", year in 1000u32..=9999, noise in "(?s).{0,40}") {
        let now = std::time::SystemTime::now();
        for text in [seconds.to_string(), digits.clone(), format!("Fri, 31 Dec {year} 23:59:59 GMT"), noise.clone()] {
            if let Some(wait) = parse_retry_after(&text, now) {
                prop_assert!(wait <= MAX_SERVER_WAIT, "{text}: {wait:?}");
            }
        }
    }

    #[test]
    fn ratelimit_of_any_size_is_capped_and_the_budget_never_panics(remaining in any::<u64>(), reset in "[0-9]{1,40}", retry in proptest::option::of(any::<u64>())) {
        let header = format!("\"default\";r={remaining};t={reset}");
        let now = tokio::time::Instant::now();
        let mut budget = Budget::new(10, 100);
        if let Some((remaining, reset)) = parse_ratelimit(&header) {
            prop_assert!(reset <= MAX_SERVER_WAIT);
            budget.observe_ratelimit(now, remaining, reset);
        }
        budget.failed(now, retry.map(std::time::Duration::from_secs));
        if let Some((until, _)) = budget.not_before(now) {
            prop_assert!(until <= now + MAX_SERVER_WAIT);
        }
    }
}
