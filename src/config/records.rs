//! One `[[records]]` entry, raw → `RecordConfig`: the name (IDNA), families, LAN host forms,
//! proxied, TTL, comment and CNAME replacement, each error with its key and line.

use toml::Spanned;

use super::raw::RawRecord;
use super::validate::Validator;
use super::{ConfigError, RecordConfig};
use crate::detect::Provider;
use crate::model::{DomainName, Family, ProxiedSetting, TtlSetting};

impl Validator<'_> {
    pub(super) fn record(
        &self,
        raw: &RawRecord,
        enabled: &[Family],
    ) -> Result<RecordConfig, ConfigError> {
        let ipv6_host = raw
            .ipv6_host
            .as_ref()
            .map(|value| {
                crate::prefix::HostId::parse(value.get_ref()).map_err(|problem| {
                    self.invalid(value.span(), "records.ipv6_host", problem.to_string())
                })
            })
            .transpose()?;
        let ipv6_prefix_from = raw
            .ipv6_prefix_from
            .as_ref()
            .map(|value| {
                if ipv6_host.is_none() {
                    return Err(self.invalid(
                        value.span(),
                        "records.ipv6_prefix_from",
                        "goes with `ipv6_host`: it says where that host's prefix comes from",
                    ));
                }
                Provider::parse(value.get_ref()).map_err(|problem| {
                    self.invalid(
                        value.span(),
                        "records.ipv6_prefix_from",
                        problem.to_string(),
                    )
                })
            })
            .transpose()?;
        // A LAN host is AAAA only; its prefix may come from elsewhere than [detect].ipv6.
        let mut enabled = enabled.to_vec();
        if ipv6_host.is_some() {
            if let Some(a) = raw
                .types
                .iter()
                .flatten()
                .find(|entry| Family::from_record_type(entry.get_ref()) == Some(Family::V4))
            {
                return Err(self.invalid(
                    a.span(),
                    "records.types",
                    "a record with `ipv6_host` is AAAA only: its address is derived from an IPv6 prefix",
                ));
            }
            enabled = if ipv6_prefix_from.is_some() || enabled.contains(&Family::V6) {
                vec![Family::V6]
            } else {
                let span = raw.ipv6_host.as_ref().map(Spanned::span).unwrap_or(0..0);
                return Err(self.invalid(span, "records.ipv6_host", "needs an IPv6 prefix: add a provider to [detect].ipv6, or set `ipv6_prefix_from` (e.g. \"iface:lan0\")"));
            };
        }
        let enabled = enabled.as_slice();
        let name = DomainName::parse(raw.name.get_ref()).map_err(|message| {
            self.invalid(
                raw.name.span(),
                "records.name",
                format!("invalid name: {message}"),
            )
        })?;
        let zone = match &raw.zone {
            None => None,
            Some(zone) => {
                let parsed = DomainName::parse(zone.get_ref()).map_err(|message| {
                    self.invalid(
                        zone.span(),
                        "records.zone",
                        format!("invalid zone: {message}"),
                    )
                })?;
                if !name.is_within(parsed.as_str()) {
                    return Err(self.invalid(
                        zone.span(),
                        "records.zone",
                        format!("{name} is not inside zone {parsed}"),
                    ));
                }
                Some(parsed)
            }
        };
        let families = match &raw.types {
            None => enabled.to_vec(),
            Some(types) => {
                let mut families = Vec::new();
                for entry in types {
                    let family = Family::from_record_type(entry.get_ref()).ok_or_else(|| {
                        self.invalid(
                            entry.span(),
                            "records.types",
                            format!(
                                "`{}` is not a type flaredns manages; use \"A\" and/or \"AAAA\"",
                                entry.get_ref()
                            ),
                        )
                    })?;
                    if !enabled.contains(&family) {
                        return Err(self.invalid(
                            entry.span(),
                            "records.types",
                            format!("{name} asks for {family} records but [detect].{} is empty; add a provider there or drop {family} here", if family == Family::V4 { "ipv4" } else { "ipv6" }),
                        ));
                    }
                    if !families.contains(&family) {
                        families.push(family);
                    }
                }
                if families.is_empty() {
                    return Err(self.invalid(
                        raw.name.span(),
                        "records.types",
                        format!("{name} has an empty `types` list"),
                    ));
                }
                families.sort();
                families
            }
        };
        let proxied = match &raw.proxied {
            None => ProxiedSetting::Keep,
            Some(value) => match value.get_ref() {
                toml::Value::Boolean(flag) => ProxiedSetting::Set(*flag),
                toml::Value::String(text) if text == "keep" => ProxiedSetting::Keep,
                _ => {
                    return Err(self.invalid(
                        value.span(),
                        "records.proxied",
                        "must be \"keep\", true or false",
                    ))
                }
            },
        };
        let ttl = match &raw.ttl {
            None => TtlSetting::Keep,
            Some(value) => match value.get_ref() {
                toml::Value::String(text) if text == "keep" => TtlSetting::Keep,
                toml::Value::String(text) if text == "auto" => TtlSetting::Auto,
                toml::Value::Integer(1) => TtlSetting::Auto,
                toml::Value::Integer(seconds) if (60..=86400).contains(seconds) => {
                    TtlSetting::Seconds(*seconds as u32)
                }
                _ => {
                    return Err(self.invalid(
                        value.span(),
                        "records.ttl",
                        "must be \"keep\", \"auto\", or a number of seconds from 60 to 86400",
                    ))
                }
            },
        };
        let comment = match &raw.comment {
            None => None,
            Some(text) if text.get_ref().chars().count() > 100 => {
                return Err(self.invalid(
                    text.span(),
                    "records.comment",
                    "is longer than 100 characters, Cloudflare's limit on the Free plan",
                ))
            }
            Some(text) => Some(text.get_ref().clone()),
        };
        Ok(RecordConfig {
            name,
            zone,
            families,
            proxied,
            ttl,
            comment,
            replace_cname: raw.replace_cname.unwrap_or(false),
            token: 0,
            ipv6_host,
            ipv6_prefix_from,
        })
    }
}
