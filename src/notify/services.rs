//! Shoutrrr-style service URLs (`[notify] urls`), as favonia/cloudflare-ddns and ddns-updater
//! take them, parsed once at config validation into a typed `ServiceUrl` that already holds
//! the HTTPS endpoint of the service's own API. Parsing here means a typo is exit 2 at start,
//! not a warning at the first address change; and every secret (a webhook token, a bot token,
//! a topic, a user key) stays inside the value: `Display` shows `discord://<redacted>` or
//! `ntfy://HOST/<redacted>`, and no error ever repeats the text it was given.

use std::fmt;

use url::Url;

use self::parse::{discord, generic, gotify, ntfy, pushover, slack, telegram};
use super::deliver::Post;
use super::url_parts::{base64, fingerprint, object, text};

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
    Ntfy(Ntfy),
    Gotify {
        token: String,
        priority: i64,
        title: Option<String>,
    },
    Pushover(Pushover),
}

/// An ntfy topic's options: credentials and the headers it is sent with.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Ntfy {
    auth: Option<(String, String)>,
    priority: Option<String>,
    title: Option<String>,
    tags: Option<String>,
}

/// A Pushover receiver: the application token, the user key and the message's options.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pushover {
    token: String,
    user: String,
    devices: Option<String>,
    priority: Option<i64>,
    title: Option<String>,
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
            Kind::Pushover(_) => 1000,
            Kind::Discord => 1900,
            Kind::Slack | Kind::Telegram { .. } | Kind::Ntfy(_) | Kind::Gotify { .. } => 3500,
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
            Kind::Ntfy(ntfy) => vec![ntfy.post(self.target.clone(), message, title)],
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
            Kind::Pushover(pushover) => vec![pushover.post(self.target.clone(), message, title)],
        }
    }
}

impl Ntfy {
    /// The message as the body; title, priority, tags and credentials as headers.
    fn post(&self, target: Url, message: &str, title: &str) -> Post {
        let mut post = Post::bytes(
            target,
            "text/plain; charset=utf-8",
            message.as_bytes().to_vec(),
        );
        post.header("title", self.title.as_deref().unwrap_or(title));
        if let Some(priority) = &self.priority {
            post.header("priority", priority);
        }
        if let Some(tags) = &self.tags {
            post.header("tags", tags);
        }
        if let Some((user, password)) = &self.auth {
            let credentials = base64(format!("{user}:{password}").as_bytes());
            post.header("authorization", &format!("Basic {credentials}"));
        }
        post
    }
}

impl Pushover {
    /// A form with the token, the user key, the message and its options.
    fn post(&self, target: Url, message: &str, title: &str) -> Post {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("token", &self.token)
            .append_pair("user", &self.user)
            .append_pair("message", message)
            .append_pair("title", self.title.as_deref().unwrap_or(title));
        if let Some(devices) = &self.devices {
            form.append_pair("device", devices);
        }
        if let Some(priority) = self.priority {
            form.append_pair("priority", &priority.to_string());
        }
        Post::bytes(
            target,
            "application/x-www-form-urlencoded",
            form.finish().into_bytes(),
        )
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

#[path = "services_parse.rs"]
mod parse;

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
