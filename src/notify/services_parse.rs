//! The shoutrrr URL forms, one reader per service: each takes the parsed URL and returns
//! what the service needs (`Kind`), its HTTPS endpoint with the secret in it, and the form
//! shown in logs. Kept apart from `services` so the delivery side reads without them.

use url::Url;

use super::super::url_parts::{bare_path, decoded, endpoint, host_port, is_no, is_yes, option};
use super::{Kind, Ntfy, Pushover, ServiceUrlError};

/// A service's `Kind`, endpoint and shown form.
type Parsed = (Kind, Url, String);

/// `discord://TOKEN@WEBHOOK_ID` → `https://discord.com/api/webhooks/WEBHOOK_ID/TOKEN`.
pub(super) fn discord(url: &Url) -> Result<Parsed, ServiceUrlError> {
    let bad = ServiceUrlError::Malformed {
        service: "discord",
        form: "discord://TOKEN@WEBHOOK_ID",
    };
    let token = decoded(url.username());
    let id = url.host_str().map(decoded).unwrap_or_default();
    if token.is_empty() || id.is_empty() || url.password().is_some() || !bare_path(url) {
        return Err(bad);
    }
    let target = endpoint("https://discord.com/api/webhooks", &[&id, &token]).ok_or(bad)?;
    Ok((Kind::Discord, target, "discord://<redacted>".to_string()))
}

/// `telegram://BOT_TOKEN@telegram?chats=A,B` → `https://api.telegram.org/botBOT_TOKEN/sendMessage`.
pub(super) fn telegram(url: &Url) -> Result<Parsed, ServiceUrlError> {
    let bad = ServiceUrlError::Malformed {
        service: "telegram",
        form: "telegram://BOT_TOKEN@telegram?chats=CHAT_ID[,CHAT_ID]",
    };
    let token = match url.password() {
        Some(secret) => format!("{}:{}", decoded(url.username()), decoded(secret)),
        None => decoded(url.username()),
    };
    if token.len() < 3 || url.host_str() != Some("telegram") || !bare_path(url) {
        return Err(bad);
    }
    let chats: Vec<String> = option(url, "chats")
        .or_else(|| option(url, "channels"))
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|chat| !chat.is_empty())
        .map(str::to_string)
        .collect();
    if chats.is_empty() {
        return Err(ServiceUrlError::BadOption {
            service: "telegram",
            option: "chats",
            problem: "is missing or empty; add ?chats=CHAT_ID (a number, or @channel)",
        });
    }
    let silent = option(url, "notification").is_some_and(|value| is_no(&value));
    let target = endpoint(
        "https://api.telegram.org",
        &[&format!("bot{token}"), "sendMessage"],
    )
    .ok_or(bad)?;
    Ok((
        Kind::Telegram { chats, silent },
        target,
        "telegram://<redacted>".to_string(),
    ))
}

/// `ntfy://[USER:PASSWORD@]HOST/TOPIC` → `https://HOST/TOPIC`, the message as the body.
pub(super) fn ntfy(url: &Url) -> Result<Parsed, ServiceUrlError> {
    let bad = ServiceUrlError::Malformed {
        service: "ntfy",
        form: "ntfy://[USER:PASSWORD@]HOST/TOPIC",
    };
    let host = host_port(url).ok_or_else(|| bad.clone())?;
    let topic = decoded(url.path().trim_matches('/'));
    if topic.is_empty() || topic.contains('/') {
        return Err(bad);
    }
    let scheme = match option(url, "scheme").as_deref() {
        None | Some("https") => "https",
        Some("http") => "http",
        Some(_) => {
            return Err(ServiceUrlError::BadOption {
                service: "ntfy",
                option: "scheme",
                problem: "must be https (the default) or http",
            })
        }
    };
    let priority = option(url, "priority");
    if let Some(priority) = &priority {
        let known = [
            "1", "2", "3", "4", "5", "min", "low", "default", "high", "max", "urgent",
        ];
        if !known.contains(&priority.as_str()) {
            return Err(ServiceUrlError::BadOption {
                service: "ntfy",
                option: "priority",
                problem: "must be 1..5 or min, low, default, high, max, urgent",
            });
        }
    }
    let auth = (!url.username().is_empty()).then(|| {
        (
            decoded(url.username()),
            url.password().map(decoded).unwrap_or_default(),
        )
    });
    let target = endpoint(&format!("{scheme}://{host}"), &[&topic]).ok_or(bad)?;
    // These become HTTP header values: a line break or another control character would make
    // every delivery fail later, so it is refused now, at start.
    let header_option = |name: &'static str| match option(url, name) {
        Some(value) if value.chars().any(char::is_control) => Err(ServiceUrlError::BadOption {
            service: "ntfy",
            option: name,
            problem: "must be one line without control characters",
        }),
        value => Ok(value),
    };
    let title = header_option("title")?;
    let tags = header_option("tags")?;
    Ok((
        Kind::Ntfy(Ntfy {
            auth,
            priority,
            title,
            tags,
        }),
        target,
        format!("ntfy://{host}/<redacted>"),
    ))
}

/// `slack://A/B/C` or `slack://hook:A-B-C@webhook` → `https://hooks.slack.com/services/A/B/C`.
pub(super) fn slack(url: &Url) -> Result<Parsed, ServiceUrlError> {
    let bad = ServiceUrlError::Malformed {
        service: "slack",
        form: "slack://TOKEN_A/TOKEN_B/TOKEN_C or slack://hook:TOKEN_A-TOKEN_B-TOKEN_C@webhook (bot tokens, xoxb-…, are not supported)",
    };
    let host = url.host_str().map(decoded).unwrap_or_default();
    let parts: Vec<String> = if url.password().is_some() {
        if host != "webhook" || !bare_path(url) {
            return Err(bad);
        }
        url.password()
            .map(decoded)
            .unwrap_or_default()
            .split('-')
            .map(str::to_string)
            .collect()
    } else {
        // The old form; a user name before `@` was a bot name, which webhooks ignore.
        std::iter::once(host)
            .chain(
                url.path()
                    .split('/')
                    .filter(|part| !part.is_empty())
                    .map(decoded),
            )
            .collect()
    };
    if parts.len() != 3 || parts.iter().any(|part| part.is_empty()) {
        return Err(bad);
    }
    let segments: Vec<&str> = parts.iter().map(String::as_str).collect();
    let target = endpoint("https://hooks.slack.com/services", &segments).ok_or(bad)?;
    Ok((Kind::Slack, target, "slack://<redacted>".to_string()))
}

/// `gotify://HOST[:PORT][/SUBPATH]/APP_TOKEN` → `https://HOST[:PORT][/SUBPATH]/message`.
pub(super) fn gotify(url: &Url) -> Result<Parsed, ServiceUrlError> {
    let bad = ServiceUrlError::Malformed {
        service: "gotify",
        form: "gotify://HOST[:PORT][/SUBPATH]/APP_TOKEN",
    };
    let host = host_port(url).ok_or_else(|| bad.clone())?;
    let mut segments: Vec<String> = url
        .path()
        .split('/')
        .filter(|part| !part.is_empty())
        .map(decoded)
        .collect();
    let token = segments.pop().unwrap_or_default();
    if token.is_empty() || !url.username().is_empty() {
        return Err(bad);
    }
    let priority = match option(url, "priority") {
        None => 5,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|p| (0..=10).contains(p))
            .ok_or(ServiceUrlError::BadOption {
                service: "gotify",
                option: "priority",
                problem: "must be a whole number from 0 to 10",
            })?,
    };
    let scheme = if option(url, "disabletls").is_some_and(|value| is_yes(&value)) {
        "http"
    } else {
        "https"
    };
    segments.push("message".to_string());
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    let target = endpoint(&format!("{scheme}://{host}"), &parts).ok_or(bad)?;
    Ok((
        Kind::Gotify {
            token,
            priority,
            title: option(url, "title"),
        },
        target,
        format!("gotify://{host}/<redacted>"),
    ))
}

/// `pushover://shoutrrr:API_TOKEN@USER_KEY` → a form POST to `https://api.pushover.net/1/messages.json`.
pub(super) fn pushover(url: &Url) -> Result<Parsed, ServiceUrlError> {
    let bad = ServiceUrlError::Malformed {
        service: "pushover",
        form: "pushover://shoutrrr:API_TOKEN@USER_KEY",
    };
    let token = url.password().map(decoded).unwrap_or_default();
    let user = url.host_str().map(decoded).unwrap_or_default();
    if token.is_empty() || user.is_empty() || !bare_path(url) {
        return Err(bad);
    }
    let priority = match option(url, "priority") {
        None => None,
        // 2 (emergency) needs retry and expire, which a DNS notice has no use for.
        Some(text) => Some(
            text.parse::<i64>()
                .ok()
                .filter(|p| (-2..=1).contains(p))
                .ok_or(ServiceUrlError::BadOption {
                    service: "pushover",
                    option: "priority",
                    problem: "must be -2, -1, 0 or 1",
                })?,
        ),
    };
    let target = endpoint("https://api.pushover.net/1/messages.json", &[]).ok_or(bad)?;
    Ok((
        Kind::Pushover(Pushover {
            token,
            user,
            devices: option(url, "devices"),
            priority,
            title: option(url, "title"),
        }),
        target,
        "pushover://<redacted>".to_string(),
    ))
}

/// `generic://HOST/PATH` → `https://HOST/PATH` (`generic+http://` or `?disabletls=yes`: http).
pub(super) fn generic(url: &Url) -> Result<Parsed, ServiceUrlError> {
    let bad = ServiceUrlError::Malformed {
        service: "generic",
        form: "generic://HOST[:PORT]/PATH (generic+http:// for plain http)",
    };
    let host = host_port(url).ok_or_else(|| bad.clone())?;
    if !url.username().is_empty() {
        return Err(bad);
    }
    let plain = url.scheme() == "generic+http"
        || option(url, "disabletls").is_some_and(|value| is_yes(&value));
    let scheme = if plain { "http" } else { "https" };
    let mut target = Url::parse(&format!("{scheme}://{host}")).map_err(|_| bad.clone())?;
    target.set_path(url.path());
    // The query goes on as written (a receiver's own key, say); `disabletls` with it.
    target.set_query(url.query());
    Ok((
        Kind::Generic,
        target,
        format!("{}://{host}/<redacted>", url.scheme()),
    ))
}
