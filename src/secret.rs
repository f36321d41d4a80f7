//! The API token, wrapped so that it cannot be printed by accident. `Debug` and `Display` show
//! a placeholder; only the HTTP client calls `expose`, to build the Authorization header. A
//! leaf module: config builds tokens, the API client spends them, and neither imports the other
//! for it. A token that could not be a header value (a second line, a control character) is
//! refused here, when the config is read, rather than failing three times on the wire.

use std::fmt;

/// A Cloudflare API token. There is deliberately no way to format the secret itself.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    /// Wraps a token. A UTF-8 byte order mark and the whitespace around the token (the
    /// newline token files end with) are dropped; anything else that cannot be part of a token
    /// is refused, named but never shown.
    pub fn new(text: &str) -> Result<ApiToken, TokenProblem> {
        let trimmed = text.trim_start_matches('\u{feff}').trim();
        if trimmed.is_empty() {
            return Err(TokenProblem::Empty);
        }
        if let Some(bad) = trimmed.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(match bad {
                '\n' | '\r' => TokenProblem::SecondLine,
                '\0' => TokenProblem::Nul,
                ' ' | '\t' => TokenProblem::Space,
                c if c.is_control() => TokenProblem::Control,
                _ => TokenProblem::NonAscii,
            });
        }
        Ok(ApiToken(trimmed.to_string()))
    }

    /// A short, non-reversible tag telling tokens apart (for the zone cache), never the token.
    pub fn fingerprint(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.0.hash(&mut hasher);
        format!("{:016x}", hasher.finish())
    }

    /// The secret itself. Call only to put it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

impl fmt::Display for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why a text cannot be an API token. The token itself is never part of the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenProblem {
    #[error("is empty")]
    Empty,
    #[error("contains a line break inside it (more than one line?); a token is one line")]
    SecondLine,
    #[error("contains a NUL byte (is this a binary file?)")]
    Nul,
    #[error("contains a space or tab inside it")]
    Space,
    #[error("contains a control character (DEL or below space)")]
    Control,
    #[error(
        "contains a character outside ASCII; Cloudflare tokens are letters, digits, `-` and `_`"
    )]
    NonAscii,
}

/// Where the token came from, for check-config and doctor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSource {
    Environment,
    Credential(std::path::PathBuf),
    File(std::path::PathBuf),
    ConfigFile,
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Environment => f.write_str("environment variable CLOUDFLARE_API_TOKEN"),
            TokenSource::Credential(path) => write!(f, "systemd credential {}", path.display()),
            TokenSource::File(path) => write!(f, "file {}", path.display()),
            TokenSource::ConfigFile => f.write_str("`api_token` in the config file"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_never_formats() {
        let token = ApiToken::new("s3cr3t-value\n").expect("non-empty");
        assert_eq!(token.expose(), "s3cr3t-value");
        assert!(!format!("{token:?} {token}").contains("s3cr3t"));
        assert_eq!(ApiToken::new("  \n"), Err(TokenProblem::Empty));
    }

    #[test]
    fn malformed_tokens_are_refused_and_a_bom_is_dropped() {
        let cases = [
            ("abc\ndef\n", Err(TokenProblem::SecondLine)),
            ("abc\r\ndef", Err(TokenProblem::SecondLine)),
            ("abc\0def", Err(TokenProblem::Nul)),
            ("abc\u{7f}def", Err(TokenProblem::Control)),
            ("abc def", Err(TokenProblem::Space)),
            ("abcé", Err(TokenProblem::NonAscii)),
            ("\u{feff}abc-def_1\r\n", Ok("abc-def_1")),
        ];
        for (text, expected) in cases {
            let got = ApiToken::new(text);
            assert_eq!(
                got.as_ref().map(ApiToken::expose).map_err(|p| *p),
                expected,
                "{text:?}"
            );
        }
    }
}

/// Why a text cannot be a `SecretUrl`. `Display` is a phrase fit to follow the key's name;
/// the text itself is never part of it (`url::ParseError` names the problem, not the input).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlProblem {
    #[error("is not a URL ({0})")]
    NotAUrl(url::ParseError),
    #[error("must be an http:// or https:// URL with a host")]
    NotHttp,
}

/// A URL that carries a secret (a healthchecks.io UUID, an Uptime Kuma push key, a webhook's
/// token): shown everywhere as its scheme and host only; `expose` is for the request itself.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(url::Url);

impl SecretUrl {
    /// Parses an http(s) URL; the error's `Display` is a phrase fit to follow the key's name.
    pub fn parse(text: &str) -> Result<SecretUrl, UrlProblem> {
        let url = url::Url::parse(text.trim()).map_err(UrlProblem::NotAUrl)?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(UrlProblem::NotHttp);
        }
        Ok(SecretUrl(url))
    }

    /// A non-reversible tag of the whole URL, telling two receivers on one host apart (for
    /// "warn once") without keeping or showing the secret.
    pub fn fingerprint(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.0.as_str().hash(&mut hasher);
        format!("{:016x}", hasher.finish())
    }

    /// The whole URL, secret included. Call only to send the request.
    pub fn expose(&self) -> &url::Url {
        &self.0
    }

    /// `text` (a server's answer, an error) with every part of this URL that can be a secret
    /// replaced by `<redacted>`: the URL itself, its path and query, each query value, each
    /// long path segment, the user name and password. A provider that quotes the request in
    /// its answer must not carry its API key into a log or a notification.
    pub fn scrub(&self, text: &str) -> String {
        let url = &self.0;
        let mut secrets: Vec<String> = vec![url.as_str().to_string()];
        if !matches!(url.path(), "" | "/") {
            secrets.push(url.path().to_string());
            secrets.extend(
                url.path_segments()
                    .into_iter()
                    .flatten()
                    .filter(|segment| segment.len() >= 6)
                    .map(str::to_string),
            );
        }
        if let Some(query) = url.query() {
            secrets.push(query.to_string());
            secrets.extend(
                url.query_pairs()
                    .map(|(_, value)| value.into_owned())
                    .filter(|value| value.len() >= 3),
            );
        }
        secrets.extend(url.password().map(str::to_string));
        if url.username().len() >= 3 {
            secrets.push(url.username().to_string());
        }
        // Longest first, so a part of a longer secret does not leave the rest behind.
        secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
        let mut scrubbed = text.to_string();
        for secret in secrets.iter().filter(|secret| !secret.is_empty()) {
            scrubbed = scrubbed.replace(secret.as_str(), "<redacted>");
        }
        scrubbed
    }
}

impl fmt::Display for SecretUrl {
    /// `https://hc-ping.com/<redacted>`: scheme and host (and port), never the userinfo,
    /// path, query or fragment.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

/// The one way any URL is shown: `scheme://host[:port]`, then `/<redacted>` when it has
/// anything else (userinfo, a path, a query, a fragment), since any of those can be a secret
/// (a webhook token, an API key, a password).
pub fn redact_url(url: &url::Url) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or("?"));
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    let has_more = !url.username().is_empty()
        || url.password().is_some()
        || !matches!(url.path(), "" | "/")
        || url.query().is_some()
        || url.fragment().is_some();
    if has_more {
        shown.push_str("/<redacted>");
    }
    shown
}

/// `text` with every occurrence of `url` (as written, and as `url` normalises it) replaced by
/// its redacted form: for messages of libraries that quote the URL they failed on.
pub fn redact_in(text: &str, url: &url::Url) -> String {
    let shown = redact_url(url);
    let mut text = text.replace(url.as_str(), &shown);
    let bare = url.as_str().trim_end_matches('/');
    if bare.len() > shown.len() {
        text = text.replace(bare, &shown);
    }
    text
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({self})")
    }
}

#[cfg(test)]
mod url_tests {
    use super::SecretUrl;

    #[test]
    fn a_secret_url_shows_only_scheme_and_host() {
        let url = SecretUrl::parse("https://hc-ping.com/3f2a-secret-uuid?x=1").expect("url");
        assert_eq!(url.to_string(), "https://hc-ping.com/<redacted>");
        assert!(!format!("{url:?}").contains("secret"));
        let provider =
            SecretUrl::parse("http://admin:pw0rd@router/wan/Kxyz123?apikey=K9s3cr3t").expect("url");
        let echoed = provider.scrub("GET /wan/Kxyz123?apikey=K9s3cr3t HTTP/1.1 from admin pw0rd");
        for secret in ["K9s3cr3t", "Kxyz123", "pw0rd", "admin"] {
            assert!(!echoed.contains(secret), "{echoed}");
        }
        for (text, shown) in [
            ("http://admin:pw@router/wan", "http://router/<redacted>"),
            (
                "http://router:8080/?apikey=K",
                "http://router:8080/<redacted>",
            ),
            ("https://ip.example/", "https://ip.example"),
            ("https://user@ip.example", "https://ip.example/<redacted>"),
        ] {
            let url = SecretUrl::parse(text).expect("url");
            assert_eq!(url.to_string(), shown, "{text}");
        }
    }

    #[test]
    fn bad_urls_are_refused_by_kind_without_echoing_them() {
        use super::UrlProblem;
        for (text, expected) in [
            ("ftp://example.com/x", UrlProblem::NotHttp),
            ("mailto:SECRET@example.com", UrlProblem::NotHttp),
            (
                "not a url",
                UrlProblem::NotAUrl(url::ParseError::RelativeUrlWithoutBase),
            ),
            (
                "https://exa mple.com/SECRET",
                UrlProblem::NotAUrl(url::ParseError::IdnaError),
            ),
        ] {
            let problem = SecretUrl::parse(text).expect_err(text);
            assert_eq!(problem, expected, "{text}");
            assert!(!problem.to_string().contains("SECRET"), "{problem}");
        }
        assert_eq!(
            UrlProblem::NotAUrl(url::ParseError::EmptyHost).to_string(),
            "is not a URL (empty host)"
        );
    }
}
