//! One `[[records]]` entry, raw → `RecordConfig`: the name (IDNA), families, LAN host forms,
//! proxied, TTL, comment and CNAME replacement, each error with its key and line.

use toml::Spanned;

use super::raw::RawRecord;
use super::validate::Validator;
use super::{ConfigError, RecordConfig};
use crate::detect::Provider;
use crate::model::{DomainName, Family, ProxiedSetting, TtlSetting};
use crate::prefix::HostId;

/// A record's LAN host forms, and the families it may have because of them.
struct LanHost {
    ipv6_host: Option<HostId>,
    ipv6_prefix_from: Option<Provider>,
    /// The detected families, or only IPv6 for a LAN host.
    enabled: Vec<Family>,
}

impl Validator<'_> {
    pub(super) fn record(
        &self,
        raw: &RawRecord,
        enabled: &[Family],
    ) -> Result<RecordConfig, ConfigError> {
        let LanHost {
            ipv6_host,
            ipv6_prefix_from,
            enabled,
        } = self.lan_host(raw, enabled)?;
        let name = DomainName::parse(raw.name.get_ref()).map_err(|message| {
            self.invalid(
                raw.name.span(),
                "records.name",
                format!("invalid name: {message}"),
            )
        })?;
        let zone = self.record_zone(raw, &name)?;
        let families = self.record_families(raw, &name, &enabled)?;
        let proxied = self.record_proxied(raw)?;
        let ttl = self.record_ttl(raw)?;
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

    /// `ipv6_host` and `ipv6_prefix_from`, and the families the record may have: a LAN host
    /// is AAAA only, and its prefix may come from elsewhere than [detect].ipv6.
    fn lan_host(&self, raw: &RawRecord, enabled: &[Family]) -> Result<LanHost, ConfigError> {
        let ipv6_host = raw
            .ipv6_host
            .as_ref()
            .map(|value| {
                HostId::parse(value.get_ref()).map_err(|message| {
                    self.invalid(value.span(), "records.ipv6_host", message.to_string())
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
                Provider::parse(value.get_ref()).map_err(|message| {
                    self.invalid(
                        value.span(),
                        "records.ipv6_prefix_from",
                        message.to_string(),
                    )
                })
            })
            .transpose()?;
        if ipv6_host.is_none() {
            return Ok(LanHost {
                ipv6_host,
                ipv6_prefix_from,
                enabled: enabled.to_vec(),
            });
        }
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
        if ipv6_prefix_from.is_some() || enabled.contains(&Family::V6) {
            Ok(LanHost {
                ipv6_host,
                ipv6_prefix_from,
                enabled: vec![Family::V6],
            })
        } else {
            let span = raw.ipv6_host.as_ref().map(Spanned::span).unwrap_or(0..0);
            Err(self.invalid(span, "records.ipv6_host", "needs an IPv6 prefix: add a provider to [detect].ipv6, or set `ipv6_prefix_from` (e.g. \"iface:lan0\")"))
        }
    }

    /// `zone`: a pinned zone, which must hold the name.
    fn record_zone(
        &self,
        raw: &RawRecord,
        name: &DomainName,
    ) -> Result<Option<DomainName>, ConfigError> {
        let Some(zone) = &raw.zone else {
            return Ok(None);
        };
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
        Ok(Some(parsed))
    }

    /// `types`: A and/or AAAA, each of a family that can be detected; sorted, no repeats.
    /// Without it, every family that can be.
    fn record_families(
        &self,
        raw: &RawRecord,
        name: &DomainName,
        enabled: &[Family],
    ) -> Result<Vec<Family>, ConfigError> {
        let Some(types) = &raw.types else {
            return Ok(enabled.to_vec());
        };
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
        Ok(families)
    }

    /// `proxied`: "keep" (the default), true or false.
    fn record_proxied(&self, raw: &RawRecord) -> Result<ProxiedSetting, ConfigError> {
        let Some(value) = &raw.proxied else {
            return Ok(ProxiedSetting::Keep);
        };
        match value.get_ref() {
            toml::Value::Boolean(flag) => Ok(ProxiedSetting::Set(*flag)),
            toml::Value::String(text) if text == "keep" => Ok(ProxiedSetting::Keep),
            _ => Err(self.invalid(
                value.span(),
                "records.proxied",
                "must be \"keep\", true or false",
            )),
        }
    }

    /// `ttl`: "keep" (the default), "auto" (or 1), or 60 to 86400 seconds.
    fn record_ttl(&self, raw: &RawRecord) -> Result<TtlSetting, ConfigError> {
        let Some(value) = &raw.ttl else {
            return Ok(TtlSetting::Keep);
        };
        match value.get_ref() {
            toml::Value::String(text) if text == "keep" => Ok(TtlSetting::Keep),
            toml::Value::String(text) if text == "auto" => Ok(TtlSetting::Auto),
            toml::Value::Integer(1) => Ok(TtlSetting::Auto),
            toml::Value::Integer(seconds) if (60..=86400).contains(seconds) => {
                Ok(TtlSetting::Seconds(*seconds as u32))
            }
            _ => Err(self.invalid(
                value.span(),
                "records.ttl",
                "must be \"keep\", \"auto\", or a number of seconds from 60 to 86400",
            )),
        }
    }
}
