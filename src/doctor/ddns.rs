//! The third-party dynamic DNS services doctor recognises behind a CNAME. Data, not logic: a
//! CNAME into one of these makes the site depend on that service staying up (the 530 / 1016
//! story this tool was born from).

/// Third-party dynamic DNS domains, by suffix, with the service's name. A CNAME into one of
/// these makes the site depend on that service staying up.
pub const KNOWN_DDNS: &[(&str, &str)] = &[
    ("duckdns.org", "Duck DNS"),
    ("no-ip.com", "No-IP"),
    ("no-ip.org", "No-IP"),
    ("no-ip.biz", "No-IP"),
    ("no-ip.info", "No-IP"),
    ("ddns.net", "No-IP"),
    ("hopto.org", "No-IP"),
    ("zapto.org", "No-IP"),
    ("sytes.net", "No-IP"),
    ("myftp.org", "No-IP"),
    ("servebeer.com", "No-IP"),
    ("dynu.com", "Dynu"),
    ("dynu.net", "Dynu"),
    ("freeddns.org", "Dynu"),
    ("afraid.org", "FreeDNS (afraid.org)"),
    ("mooo.com", "FreeDNS (afraid.org)"),
    ("chickenkiller.com", "FreeDNS (afraid.org)"),
    ("dyndns.org", "Dyn"),
    ("dyndns.com", "Dyn"),
    ("homeip.net", "Dyn"),
    ("dnsalias.com", "Dyn"),
    ("dynv6.net", "dynv6"),
    ("changeip.com", "ChangeIP"),
    ("synology.me", "Synology DDNS"),
    ("myqnapcloud.com", "QNAP myQNAPcloud"),
    ("asuscomm.com", "ASUS DDNS"),
    ("tplinkdns.com", "TP-Link DDNS"),
    ("myfritz.net", "AVM MyFRITZ!"),
    ("duckdns.net", "Duck DNS"),
    ("ydns.eu", "YDNS"),
    ("dedyn.io", "deSEC"),
];

/// The service behind a known third-party DDNS name.
pub fn ddns_service(target: &str) -> Option<&'static str> {
    let target = target.trim_end_matches('.').to_ascii_lowercase();
    KNOWN_DDNS
        .iter()
        .find(|(suffix, _)| target == *suffix || target.ends_with(&format!(".{suffix}")))
        .map(|(_, service)| *service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ddns_hosts_are_recognised_by_suffix() {
        assert_eq!(ddns_service("myhome.duckdns.org."), Some("Duck DNS"));
        assert_eq!(ddns_service("Home.DDNS.net"), Some("No-IP"));
        assert_eq!(ddns_service("nas.synology.me"), Some("Synology DDNS"));
        assert_eq!(ddns_service("notduckdns.org"), None);
        assert_eq!(ddns_service("www.example.com"), None);
    }
}
