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
    fn service_urls_never_panic_and_never_echo(scheme in prop_oneof![Just("discord"), Just("telegram"), Just("ntfy"), Just("slack"), Just("gotify"), Just("pushover"), Just("generic+http"), Just("x")], rest in "(?s).{0,60}") {
        let text = format!("{scheme}://{rest}SECRETPART");
        if let Err(error) = crate::notify::services::ServiceUrl::parse(&text) {
            prop_assert!(!error.to_string().contains("SECRETPART"));
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
