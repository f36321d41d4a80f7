//! The effective config as `check-config` prints it: TOML, defaults filled in, the token
//! shown only as `<redacted>` and where it came from.

use std::fmt;
use std::fmt::Write as _;

use super::{CheckMode, Config, Provider};
use crate::model::{ProxiedSetting, TtlSetting};

impl fmt::Display for Config {
    /// The effective config as TOML, token redacted, defaults filled in.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted = |items: &[Provider]| {
            items
                .iter()
                .map(|p| toml_quote(&p.to_string()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        // A key set by an environment variable says which one, as a trailing comment.
        let from = |key: &str| {
            self.from_env
                .iter()
                .find(|(known, _)| known == key)
                .map(|(_, variable)| format!("   # from {variable}"))
                .unwrap_or_default()
        };
        match &self.origin {
            super::Origin::Environment => writeln!(
                f,
                "# effective configuration from the environment (no config file)"
            )?,
            super::Origin::File(_) => {
                writeln!(f, "# effective configuration of {}", self.path.display())?
            }
        }
        writeln!(f, "[cloudflare]")?;
        if let Some(main) = self.tokens.first() {
            let named_by = match (&main.source, from("cloudflare.api_token_file")) {
                (super::TokenSource::File(_), variable) if !variable.is_empty() => {
                    format!(", named by{}", variable.trim_start_matches("   # from"))
                }
                _ => String::new(),
            };
            writeln!(
                f,
                "api_token = \"<redacted>\"   # from {}{named_by}",
                main.source
            )?;
        }
        writeln!(
            f,
            "api_url = \"{}\"{}",
            self.api_url,
            from("cloudflare.api_url")
        )?;
        writeln!(f, "\n[detect]")?;
        writeln!(
            f,
            "ipv4 = [{}]{}",
            quoted(&self.detect.ipv4),
            from("detect.ipv4")
        )?;
        writeln!(
            f,
            "ipv6 = [{}]{}",
            quoted(&self.detect.ipv6),
            from("detect.ipv6")
        )?;
        writeln!(
            f,
            "timeout = \"{}\"{}",
            humantime::format_duration(self.detect.timeout),
            from("detect.timeout")
        )?;
        if !self.detect.watch.is_empty() {
            let watch: Vec<String> = self
                .detect
                .watch
                .iter()
                .map(|name| toml_quote(name))
                .collect();
            writeln!(f, "watch = [{}]{}", watch.join(", "), from("detect.watch"))?;
        }
        writeln!(f, "\n[check]")?;
        let nameservers = from("check.nameservers");
        match &self.check {
            CheckMode::Auto => writeln!(f, "nameservers = \"auto\"{nameservers}")?,
            CheckMode::Api => writeln!(f, "nameservers = \"api\"{nameservers}")?,
            CheckMode::Servers(servers) => {
                let list: Vec<String> = servers
                    .iter()
                    .map(|server| format!("\"{server}\""))
                    .collect();
                writeln!(f, "nameservers = [{}]{nameservers}", list.join(", "))?
            }
        }
        writeln!(
            f,
            "reconcile = \"{}\"{}",
            humantime::format_duration(self.reconcile),
            from("check.reconcile")
        )?;
        writeln!(f, "\n[daemon]")?;
        writeln!(
            f,
            "interval = \"{}\"{}",
            humantime::format_duration(self.daemon.interval),
            from("daemon.interval")
        )?;
        writeln!(
            f,
            "cycle_timeout = \"{}\"{}",
            humantime::format_duration(self.daemon.cycle_timeout),
            from("daemon.cycle_timeout")
        )?;
        writeln!(
            f,
            "max_requests_per_cycle = {}{}",
            self.daemon.max_requests_per_cycle,
            from("daemon.max_requests_per_cycle")
        )?;
        writeln!(
            f,
            "max_requests_per_hour = {}{}",
            self.daemon.max_requests_per_hour,
            from("daemon.max_requests_per_hour")
        )?;
        if let Some(dir) = &self.state_dir {
            writeln!(
                f,
                "state_dir = {}{}",
                toml_quote(&dir.display().to_string()),
                from("daemon.state_dir")
            )?;
        }
        for record in &self.records {
            writeln!(f, "\n[[records]]")?;
            writeln!(f, "name = \"{}\"{}", record.name, {
                let unicode = unicode_comment(&record.name);
                let source = from(&format!("records.name {}", record.name));
                format!("{unicode}{source}")
            })?;
            if let Some(zone) = &record.zone {
                writeln!(f, "zone = \"{zone}\"{}", unicode_comment(zone))?;
            }
            if let Some(host) = &record.ipv6_host {
                writeln!(f, "ipv6_host = \"{host}\"")?;
            }
            if let Some(source) = &record.ipv6_prefix_from {
                writeln!(f, "ipv6_prefix_from = {}", toml_quote(&source.to_string()))?;
            }
            let types: Vec<String> = record
                .families
                .iter()
                .map(|family| format!("\"{family}\""))
                .collect();
            writeln!(f, "types = [{}]", types.join(", "))?;
            match record.proxied {
                ProxiedSetting::Keep => writeln!(f, "proxied = \"keep\"")?,
                ProxiedSetting::Set(flag) => writeln!(f, "proxied = {flag}")?,
            }
            match record.ttl {
                TtlSetting::Keep => writeln!(f, "ttl = \"keep\"")?,
                TtlSetting::Auto => writeln!(f, "ttl = \"auto\"")?,
                TtlSetting::Seconds(seconds) => writeln!(f, "ttl = {seconds}")?,
            }
            if let Some(comment) = &record.comment {
                writeln!(f, "comment = {}", toml_quote(comment))?;
            }
            writeln!(f, "replace_cname = {}", record.replace_cname)?;
            if record.token != 0 {
                if let Some(entry) = self.tokens.get(record.token) {
                    writeln!(
                        f,
                        "# this record's token: <redacted>, from {}",
                        entry.source
                    )?;
                }
            }
        }
        for unreadable in &self.unreadable {
            let who = match &unreadable.user {
                super::TokenUser::Record { name, .. } => format!("record {name}"),
                super::TokenUser::List { account, name } => {
                    format!("WAF list {name} (account {account})")
                }
            };
            writeln!(
                f,
                "\n# {who} is left out (it fails, exit 1, until its token can be read): {}",
                crate::logging::one_line(&unreadable.error.to_string())
            )?;
        }
        let notify = &self.notify;
        if notify.healthchecks.is_some()
            || notify.uptime_kuma.is_some()
            || !notify.webhooks.is_empty()
            || !notify.exec.is_empty()
            || !notify.urls.is_empty()
        {
            // URLs carry their secret in the path or query: only scheme and host are shown.
            writeln!(f, "\n[notify]")?;
            if let Some(url) = &notify.healthchecks {
                writeln!(f, "healthchecks = \"{url}\"{}", from("notify.healthchecks"))?;
            }
            if let Some(url) = &notify.uptime_kuma {
                writeln!(f, "uptime_kuma = \"{url}\"{}", from("notify.uptime_kuma"))?;
            }
            let hooks: Vec<String> = notify
                .webhooks
                .iter()
                .map(|url| format!("\"{url}\""))
                .collect();
            writeln!(
                f,
                "webhooks = [{}]{}",
                hooks.join(", "),
                from("notify.webhooks")
            )?;
            let exec: Vec<String> = notify
                .exec
                .iter()
                .map(|path| toml_quote(&path.display().to_string()))
                .collect();
            writeln!(f, "exec = [{}]{}", exec.join(", "), from("notify.exec"))?;
            // Service URLs hide more: for discord, telegram, slack and pushover the "host" is a
            // webhook id, a bot token's name or a user key, so only the scheme shows.
            let urls: Vec<String> = notify.urls.iter().map(|url| format!("\"{url}\"")).collect();
            writeln!(f, "urls = [{}]{}", urls.join(", "), from("notify.urls"))?;
            let events: Vec<String> = notify
                .events
                .iter()
                .map(|kind| format!("\"{}\"", kind.as_str()))
                .collect();
            writeln!(
                f,
                "events = [{}]{}",
                events.join(", "),
                from("notify.events")
            )?;
            writeln!(
                f,
                "timeout = \"{}\"{}",
                humantime::format_duration(notify.timeout),
                from("notify.timeout")
            )?;
        }
        if self.metrics.listen.is_some() || self.metrics.textfile.is_some() {
            writeln!(f, "\n[metrics]")?;
            if let Some(listen) = &self.metrics.listen {
                writeln!(f, "listen = \"{listen}\"{}", from("metrics.listen"))?;
            }
            if let Some(path) = &self.metrics.textfile {
                writeln!(
                    f,
                    "textfile = {}{}",
                    toml_quote(&path.display().to_string()),
                    from("metrics.textfile")
                )?;
            }
        }
        Ok(())
    }
}

/// A TOML basic string: quoted, with `"`, `\\` and control characters escaped. Written
/// here rather than through the toml crate's serializer, which the binary does not carry.
pub fn toml_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `   # bücher.example.com` after an internationalised name, else nothing.
fn unicode_comment(name: &crate::model::DomainName) -> String {
    name.unicode()
        .map(|unicode| format!("   # {}", crate::logging::one_line(&unicode)))
        .unwrap_or_default()
}
