//! Shoutrrr-style service URLs (`[notify] urls`), as favonia/cloudflare-ddns and ddns-updater
//! take them, parsed once at config validation into a typed `ServiceUrl` that already holds
//! the HTTPS endpoint of the service's own API. Parsing here means a typo is exit 2 at start,
//! not a warning at the first address change; and every secret (a webhook token, a bot token,
//! a topic, a user key) stays inside the value: `Display` shows `discord://<redacted>` or
//! `ntfy://HOST/<redacted>`, and no error ever repeats the text it was given.

use std::fmt;

use url::Url;

use super::deliver::Post;
use super::url_parts::{
    bare_path, base64, decoded, endpoint, fingerprint, host_port, is_no, is_yes, object, option,
    text,
};

/// The forms flaredns takes, for error messages.
const FORMS: &str = "discord://TOKEN@WEBHOOK_ID, telegram://BOT_TOKEN@telegram?chats=CHAT_ID, ntfy://HOST/TOPIC, slack://TOKEN_A/TOKEN_B/TOKEN_C, gotify://HOST/APP_TOKEN, pushover://shoutrrr:API_TOKEN@USER_KEY or generic://HOST/PATH";

/// A service URL from the config. The whole text is a secret; only `shown` is ever printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceUrl {
    kind: Kind,
    /// The service's endpoint, secret included.
    target: Url,
    /// What logs and `check-config` show.
    shown: String,
    /// Tells receivers apart for "warn once" without keeping or showing the text.
    key: String,
}

/// What each service needs besides its endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Discord,
    Slack,
    Generic,
    Telegram {
        chats: Vec<String>,
        silent: bool,
    },
    Ntfy {
        auth: Option<(String, String)>,
        priority: Option<String>,
        title: Option<String>,
        tags: Option<String>,
    },
    Gotify {
        token: String,
        priority: i64,
        title: Option<String>,
    },
    Pushover {
        token: String,
        user: String,
        devices: Option<String>,
        priority: Option<i64>,
        title: Option<String>,
    },
}

/// Why a text is not a service URL. The text itself is never part of the message: it holds
/// the service's secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServiceUrlError {
    #[error("is not a URL (the value is not shown: it holds a secret); write one of {FORMS}")]
    NotAUrl,
    #[error("uses the scheme `{0}`, which flaredns does not know; write one of {FORMS}")]
    UnknownScheme(String),
    #[error("is a {service} URL of the wrong shape (the value is not shown: it holds a secret); write it as {form}")]
    Malformed {
        service: &'static str,
        form: &'static str,
    },
    #[error("is a {service} URL whose `{option}` option {problem}")]
    BadOption {
        service: &'static str,
        option: &'static str,
        problem: &'static str,
    },
}

impl ServiceUrl {
    /// Parses one `[notify] urls` entry.
    pub fn parse(text: &str) -> Result<ServiceUrl, ServiceUrlError> {
        let text = text.trim();
        let url = Url::parse(text).map_err(|_| ServiceUrlError::NotAUrl)?;
        let scheme = url.scheme().to_string();
        let (kind, target, shown) = match scheme.as_str() {
            "discord" => discord(&url)?,
            "telegram" => telegram(&url)?,
            "ntfy" => ntfy(&url)?,
            "slack" => slack(&url)?,
            "gotify" => gotify(&url)?,
            "pushover" => pushover(&url)?,
            "generic" | "generic+https" | "generic+http" => generic(&url)?,
            other => {
                let shown: String = other.chars().take(20).collect();
                return Err(ServiceUrlError::UnknownScheme(shown));
            }
        };
        Ok(ServiceUrl {
            kind,
            target,
            shown,
            key: fingerprint(text),
        })
    }

    /// A tag that tells this receiver from any other (the whole URL counts), never shown.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// True for `generic://`, which gets each event as its JSON, one POST per event.
    pub fn is_generic(&self) -> bool {
        self.kind == Kind::Generic
    }

    /// How many characters one message may carry, so a batch of lines fits the service.
    pub fn message_limit(&self) -> usize {
        match self.kind {
            Kind::Pushover { .. } => 1000,
            Kind::Discord => 1900,
            Kind::Slack | Kind::Telegram { .. } | Kind::Ntfy { .. } | Kind::Gotify { .. } => 3500,
            Kind::Generic => usize::MAX,
        }
    }

    /// The request that carries one event as its JSON (`generic://`).
    pub(super) fn event_post(&self, event: &super::Event) -> Post {
        Post::json(self.target.clone(), event)
    }

    /// The requests that carry `message` (several lines, one per event) to the service.
    pub(super) fn posts(&self, message: &str, title: &str) -> Vec<Post> {
        let json = |fields: &[(&str, String)]| {
            Post::bytes(self.target.clone(), "application/json", object(fields))
        };
        match &self.kind {
            // Text from outside (a server's error message) must not ping a channel: Discord is
            // told to parse no mentions, and Slack's control characters are escaped as its
            // API documents (`&`, `<`, `>`), so `@everyone` and `<!channel>` stay text.
            Kind::Discord => vec![json(&[
                ("content", text(message)),
                ("allowed_mentions", r#"{"parse":[]}"#.to_string()),
            ])],
            Kind::Slack => vec![json(&[("text", text(&slack_escape(message)))])],
            // Generic receivers get events as JSON (`event_post`); text is for a caller that
            // has no event at hand.
            Kind::Generic => vec![Post::bytes(
                self.target.clone(),
                "text/plain; charset=utf-8",
                message.as_bytes().to_vec(),
            )],
            Kind::Telegram { chats, silent } => chats
                .iter()
                .map(|chat| {
                    json(&[
                        ("chat_id", text(chat)),
                        ("text", text(message)),
                        ("disable_notification", silent.to_string()),
                    ])
                })
                .collect(),
            Kind::Ntfy {
                auth,
                priority,
                title: own_title,
                tags,
            } => {
                let mut post = Post::bytes(
                    self.target.clone(),
                    "text/plain; charset=utf-8",
                    message.as_bytes().to_vec(),
                );
                post.header("title", own_title.as_deref().unwrap_or(title));
                if let Some(priority) = priority {
                    post.header("priority", priority);
                }
                if let Some(tags) = tags {
                    post.header("tags", tags);
                }
                if let Some((user, password)) = auth {
                    let credentials = base64(format!("{user}:{password}").as_bytes());
                    post.header("authorization", &format!("Basic {credentials}"));
                }
                vec![post]
            }
            Kind::Gotify {
                token,
                priority,
                title: own_title,
            } => {
                let mut post = json(&[
                    ("title", text(own_title.as_deref().unwrap_or(title))),
                    ("message", text(message)),
                    ("priority", priority.to_string()),
                ]);
                post.header("x-gotify-key", token);
                vec![post]
            }
            Kind::Pushover {
                token,
                user,
                devices,
                priority,
                title: own_title,
            } => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("token", token)
                    .append_pair("user", user)
                    .append_pair("message", message)
                    .append_pair("title", own_title.as_deref().unwrap_or(title));
                if let Some(devices) = devices {
                    form.append_pair("device", devices);
                }
                if let Some(priority) = priority {
                    form.append_pair("priority", &priority.to_string());
                }
                vec![Post::bytes(
                    self.target.clone(),
                    "application/x-www-form-urlencoded",
                    form.finish().into_bytes(),
                )]
            }
        }
    }
}

impl fmt::Display for ServiceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for ServiceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServiceUrl({})", self.shown)
    }
}

type Parsed = (Kind, Url, String);

/// `discord://TOKEN@WEBHOOK_ID` → `https://discord.com/api/webhooks/WEBHOOK_ID/TOKEN`.
fn discord(url: &Url) -> Result<Parsed, ServiceUrlError> {
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
fn telegram(url: &Url) -> Result<Parsed, ServiceUrlError> {
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
fn ntfy(url: &Url) -> Result<Parsed, ServiceUrlError> {
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
        Kind::Ntfy {
            auth,
            priority,
            title,
            tags,
        },
        target,
        format!("ntfy://{host}/<redacted>"),
    ))
}

/// `slack://A/B/C` or `slack://hook:A-B-C@webhook` → `https://hooks.slack.com/services/A/B/C`.
fn slack(url: &Url) -> Result<Parsed, ServiceUrlError> {
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
fn gotify(url: &Url) -> Result<Parsed, ServiceUrlError> {
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
fn pushover(url: &Url) -> Result<Parsed, ServiceUrlError> {
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
        Kind::Pushover {
            token,
            user,
            devices: option(url, "devices"),
            priority,
            title: option(url, "title"),
        },
        target,
        "pushover://<redacted>".to_string(),
    ))
}

/// `generic://HOST/PATH` → `https://HOST/PATH` (`generic+http://` or `?disabletls=yes`: http).
fn generic(url: &Url) -> Result<Parsed, ServiceUrlError> {
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

#[cfg(test)]
#[path = "services_tests.rs"]
mod tests;

/// Slack's escaping of message text: `&`, `<` and `>` become entities, so `<!channel>` and
/// links written by someone else are shown, never acted on.
fn slack_escape(message: &str) -> String {
    message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
