//! The effective config as `check-config` prints it: TOML, defaults filled in, the token
//! shown only as `<redacted>` and where it came from.

use std::fmt;
use std::fmt::Write as _;

use super::{CheckMode, Config, Provider, RecordConfig};
use crate::model::{ProxiedSetting, TtlSetting};

impl fmt::Display for Config {
    /// The effective config as TOML, token redacted, defaults filled in.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            super::Origin::Environment => writeln!(
                f,
                "# effective configuration from the environment (no config file)"
            )?,
            super::Origin::File(_) => {
                writeln!(f, "# effective configuration of {}", self.path.display())?
            }
        }
        self.write_cloudflare(f)?;
        self.write_detect(f)?;
        self.write_check(f)?;
        self.write_daemon(f)?;
        for record in &self.records {
            self.write_record(f, record)?;
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
        self.write_notify(f)?;
        self.write_metrics(f)
    }
}

/// One writer per section of the printed config, in the file's order.
impl Config {
    /// A key set by an environment variable says which one, as a trailing comment.
    fn variable_note(&self, key: &str) -> String {
        self.from_env
            .iter()
            .find(|(known, _)| known == key)
            .map(|(_, variable)| format!("   # from {variable}"))
            .unwrap_or_default()
    }

    fn write_cloudflare(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "[cloudflare]")?;
        if let Some(main) = self.tokens.first() {
            let named_by = match (
                &main.source,
                self.variable_note("cloudflare.api_token_file"),
            ) {
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
            self.variable_note("cloudflare.api_url")
        )
    }

    fn write_detect(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "\n[detect]")?;
        writeln!(
            f,
            "ipv4 = [{}]{}",
            quoted(&self.detect.ipv4),
            self.variable_note("detect.ipv4")
        )?;
        writeln!(
            f,
            "ipv6 = [{}]{}",
            quoted(&self.detect.ipv6),
            self.variable_note("detect.ipv6")
        )?;
        writeln!(
            f,
            "timeout = \"{}\"{}",
            humantime::format_duration(self.detect.timeout),
            self.variable_note("detect.timeout")
        )?;
        if !self.detect.watch.is_empty() {
            let watch: Vec<String> = self
                .detect
                .watch
                .iter()
                .map(|name| toml_quote(name))
                .collect();
            writeln!(
                f,
                "watch = [{}]{}",
                watch.join(", "),
                self.variable_note("detect.watch")
            )?;
        }
        Ok(())
    }

    fn write_check(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "\n[check]")?;
        let nameservers = self.variable_note("check.nameservers");
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
            self.variable_note("check.reconcile")
        )
    }

    fn write_daemon(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "\n[daemon]")?;
        writeln!(
            f,
            "interval = \"{}\"{}",
            humantime::format_duration(self.daemon.interval),
            self.variable_note("daemon.interval")
        )?;
        writeln!(
            f,
            "cycle_timeout = \"{}\"{}",
            humantime::format_duration(self.daemon.cycle_timeout),
            self.variable_note("daemon.cycle_timeout")
        )?;
        writeln!(
            f,
            "max_requests_per_cycle = {}{}",
            self.daemon.max_requests_per_cycle,
            self.variable_note("daemon.max_requests_per_cycle")
        )?;
        writeln!(
            f,
            "max_requests_per_hour = {}{}",
            self.daemon.max_requests_per_hour,
            self.variable_note("daemon.max_requests_per_hour")
        )?;
        if let Some(dir) = &self.state_dir {
            writeln!(
                f,
                "state_dir = {}{}",
                toml_quote(&dir.display().to_string()),
                self.variable_note("daemon.state_dir")
            )?;
        }
        Ok(())
    }

    fn write_record(&self, f: &mut fmt::Formatter<'_>, record: &RecordConfig) -> fmt::Result {
        writeln!(f, "\n[[records]]")?;
        writeln!(f, "name = \"{}\"{}", record.name, {
            let unicode = unicode_comment(&record.name);
            let source = self.variable_note(&format!("records.name {}", record.name));
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
        Ok(())
    }

    /// `[notify]`, when anything is configured. URLs carry their secret in the path or
    /// query: only scheme and host are shown.
    fn write_notify(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let notify = &self.notify;
        if notify.healthchecks.is_none()
            && notify.uptime_kuma.is_none()
            && notify.webhooks.is_empty()
            && notify.exec.is_empty()
            && notify.urls.is_empty()
        {
            return Ok(());
        }
        writeln!(f, "\n[notify]")?;
        if let Some(url) = &notify.healthchecks {
            writeln!(
                f,
                "healthchecks = \"{url}\"{}",
                self.variable_note("notify.healthchecks")
            )?;
        }
        if let Some(url) = &notify.uptime_kuma {
            writeln!(
                f,
                "uptime_kuma = \"{url}\"{}",
                self.variable_note("notify.uptime_kuma")
            )?;
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
            self.variable_note("notify.webhooks")
        )?;
        let exec: Vec<String> = notify
            .exec
            .iter()
            .map(|path| toml_quote(&path.display().to_string()))
            .collect();
        writeln!(
            f,
            "exec = [{}]{}",
            exec.join(", "),
            self.variable_note("notify.exec")
        )?;
        // Service URLs hide more: for discord, telegram, slack and pushover the "host" is a
        // webhook id, a bot token's name or a user key, so only the scheme shows.
        let urls: Vec<String> = notify.urls.iter().map(|url| format!("\"{url}\"")).collect();
        writeln!(
            f,
            "urls = [{}]{}",
            urls.join(", "),
            self.variable_note("notify.urls")
        )?;
        let events: Vec<String> = notify
            .events
            .iter()
            .map(|kind| format!("\"{}\"", kind.as_str()))
            .collect();
        writeln!(
            f,
            "events = [{}]{}",
            events.join(", "),
            self.variable_note("notify.events")
        )?;
        writeln!(
            f,
            "timeout = \"{}\"{}",
            humantime::format_duration(notify.timeout),
            self.variable_note("notify.timeout")
        )
    }

    fn write_metrics(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.metrics.listen.is_none() && self.metrics.textfile.is_none() {
            return Ok(());
        }
        writeln!(f, "\n[metrics]")?;
        if let Some(listen) = &self.metrics.listen {
            writeln!(
                f,
                "listen = \"{listen}\"{}",
                self.variable_note("metrics.listen")
            )?;
        }
        if let Some(path) = &self.metrics.textfile {
            writeln!(
                f,
                "textfile = {}{}",
                toml_quote(&path.display().to_string()),
                self.variable_note("metrics.textfile")
            )?;
        }
        Ok(())
    }
}

/// Providers as the items of a TOML array.
fn quoted(items: &[Provider]) -> String {
    items
        .iter()
        .map(|p| toml_quote(&p.to_string()))
        .collect::<Vec<_>>()
        .join(", ")
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
