//! ddclient's address strategies → flaredns's `[detect]` providers: `use=`/`usev4=`/`usev6=`
//! (or the key that implies one), then `web=`, `if=`, `ip=`, `cmd=` or a router's name. A
//! table of its own, apart from the records, because most of it is saying what flaredns does
//! instead: ddclient's check-IP services and router pages become cloudflare.trace, with a note.

use std::net::IpAddr;

use super::read::Settings;
use crate::detect::Provider;
use crate::import::emit::shown;
use crate::import::imported::{Imported, Section};
use crate::model::Family;

/// ddclient's built-in check-IP services (`web=NAME`), which answer in their own formats.
const BUILTIN_WEB: &[&str] = &[
    "dyndns",
    "freedns",
    "googledomains",
    "he",
    "ip4only.me",
    "ip6only.me",
    "ipify-ipv4",
    "ipify-ipv6",
    "loopia",
    "myonlineportal",
    "noip-ipv4",
    "noip-ipv6",
    "nsupdate.info-ipv4",
    "nsupdate.info-ipv6",
    "zoneedit",
];

/// The families a host is updated for, adding each family's provider to `[detect]`.
pub(super) fn detection(
    settings: &Settings,
    imported: &mut Imported,
    say: &mut impl FnMut(&mut Imported, Section, String),
) -> Vec<Family> {
    let get = |key: &str| settings.get(key);
    // ddclient infers the strategy from the key that is set when `use…` is not.
    let infer = |keys: &[(&str, &str)]| {
        keys.iter()
            .filter(|(key, _)| get(key).is_some_and(|s| !is_flag(&s.value)))
            .map(|(_, strategy)| strategy.to_string())
            .next_back()
    };
    let old_ipv6_flag = get("ipv6").is_some_and(|s| is_true(&s.value));
    let legacy = get("use")
        .map(|s| s.value.clone())
        .or_else(|| infer(&[("web", "web"), ("if", "if"), ("ip", "ip")]));
    let v4 = get("usev4")
        .map(|s| s.value.clone())
        .or_else(|| infer(&[("webv4", "webv4"), ("ifv4", "ifv4"), ("ipv4", "ipv4")]))
        .or_else(|| legacy.clone().filter(|_| !old_ipv6_flag));
    let v6 = get("usev6")
        .map(|s| s.value.clone())
        .or_else(|| {
            infer(&[
                ("webv6", "webv6"),
                ("ifv6", "ifv6"),
                ("ipv6", "ipv6"),
                ("cmdv6", "cmdv6"),
            ])
        })
        .or_else(|| legacy.clone().filter(|_| old_ipv6_flag));
    let mut families = Vec::new();
    let v4 = match (&v4, &v6) {
        (None, None) => {
            say(
                imported,
                Section::Detect,
                "no use=/usev4= in ddclient: flaredns asks cloudflare.trace for the IPv4 address"
                    .to_string(),
            );
            Some("default".to_string())
        }
        _ => v4,
    };
    for (family, strategy) in [(Family::V4, v4), (Family::V6, v6)] {
        let Some(strategy) = strategy else { continue };
        if strategy == "disabled" || strategy == "no" {
            continue;
        }
        let provider = provider_of(&strategy, family, settings, imported, say);
        imported.provider(family, &provider);
        families.push(family);
    }
    families
}

fn is_flag(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "yes" | "no" | "true" | "false" | "1" | "0" | "on" | "off"
    )
}

fn is_true(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "yes" | "true" | "1" | "on"
    )
}

/// One ddclient strategy (`web`, `ifv4`, `ip`, `cmdv6`, a router name…) → a flaredns provider.
fn provider_of(
    strategy: &str,
    family: Family,
    settings: &Settings,
    imported: &mut Imported,
    say: &mut impl FnMut(&mut Imported, Section, String),
) -> String {
    const DEFAULT: &str = "cloudflare.trace";
    let get = |key: &str| settings.get(key);
    let line = |key: &str| get(key).map(|s| s.line).unwrap_or(0);
    let strategy = strategy.to_ascii_lowercase();
    let kind = strategy.trim_end_matches("v4").trim_end_matches("v6");
    match kind {
        "default" => DEFAULT.to_string(),
        "web" => {
            let key = if strategy == "web" {
                "web".to_string()
            } else {
                strategy.clone()
            };
            let skip = get(&format!("{key}-skip")).is_some();
            let Some(web) = get(&key) else {
                say(imported, Section::Detect, format!("use{}={strategy} with no {key}=: ddclient's default check-IP service is replaced by {DEFAULT}", family_suffix(&strategy)));
                return DEFAULT.to_string();
            };
            web_provider(&web.value, skip, web.line, imported, say)
        }
        "if" => match get(&strategy) {
            Some(iface) if Provider::parse(&format!("iface:{}", iface.value)).is_ok() => {
                format!("iface:{}", iface.value)
            }
            _ => {
                say(imported, Section::Detect, format!("use {strategy} without an interface name ({strategy}=): flaredns asks {DEFAULT}"));
                DEFAULT.to_string()
            }
        },
        "ip" => {
            match get(&strategy).and_then(|s| s.value.parse::<IpAddr>().ok()) {
                Some(ip) if Family::of(ip) == family => format!("static:{ip}"),
                _ => {
                    say(imported, Section::Detect, format!("{strategy}: no usable {} address given (line {}); flaredns asks {DEFAULT}", family.describe(), line(&strategy)));
                    DEFAULT.to_string()
                }
            }
        }
        "cmd" => {
            say(imported, Section::Detect, format!("{strategy}= (line {}): flaredns runs no command to detect the address; it asks {DEFAULT} (or use url:, iface: or static:)", line(&strategy)));
            DEFAULT.to_string()
        }
        _ => {
            say(imported, Section::Detect, format!("use={} reads a router's status page; flaredns asks {DEFAULT} instead (or iface:NAME on the router itself)", shown(&strategy)));
            DEFAULT.to_string()
        }
    }
}

fn family_suffix(strategy: &str) -> &'static str {
    if strategy.ends_with("v4") {
        "v4"
    } else if strategy.ends_with("v6") {
        "v6"
    } else {
        ""
    }
}

/// `web=` → a provider: ddclient's named services and pages that need `web-skip` become
/// cloudflare.trace; a trace URL stays a trace; any other URL is read as a bare address.
fn web_provider(
    value: &str,
    skip: bool,
    line: usize,
    imported: &mut Imported,
    say: &mut impl FnMut(&mut Imported, Section, String),
) -> String {
    const DEFAULT: &str = "cloudflare.trace";
    if BUILTIN_WEB.contains(&value) {
        say(imported, Section::Detect, format!("web={value} (line {line}) is ddclient's built-in check-IP service; flaredns asks {DEFAULT} instead, one third party fewer"));
        return DEFAULT.to_string();
    }
    let url = if value.starts_with("https://") || value.starts_with("http://") {
        value.to_string()
    } else {
        format!("https://{value}")
    };
    let Ok(parsed) = url::Url::parse(&url) else {
        say(
            imported,
            Section::Detect,
            format!(
                "web={} (line {line}) is not a URL; flaredns asks {DEFAULT}",
                shown(value)
            ),
        );
        return DEFAULT.to_string();
    };
    if parsed
        .path()
        .trim_end_matches('/')
        .ends_with("/cdn-cgi/trace")
    {
        let cloudflare = matches!(
            parsed.host_str(),
            Some(
                "1.1.1.1"
                    | "1.0.0.1"
                    | "[2606:4700:4700::1111]"
                    | "[2606:4700:4700::1001]"
                    | "cloudflare.com"
                    | "www.cloudflare.com"
                    | "one.one.one.one"
            )
        );
        return if cloudflare {
            DEFAULT.to_string()
        } else {
            format!("trace:{url}")
        };
    }
    if skip {
        say(imported, Section::Detect, format!("web={} (line {line}) answers a page that needs web-skip; flaredns reads bare addresses or Cloudflare traces, so it asks {DEFAULT}", shown(value)));
        return DEFAULT.to_string();
    }
    let provider = format!("url:{url}");
    if Provider::parse(&provider).is_err() {
        return DEFAULT.to_string();
    }
    say(
        imported,
        Section::Detect,
        format!(
            "url:{} (line {line}): flaredns reads the whole answer as the address",
            shown(&url)
        ),
    );
    provider
}
