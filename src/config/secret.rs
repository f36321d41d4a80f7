//! The API token, wrapped so that it cannot be printed by accident. `Debug` and `Display` show
//! a placeholder; only the HTTP client calls `expose`, to build the Authorization header.

use std::fmt;

/// A Cloudflare API token. There is deliberately no way to format the secret itself.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    /// Wraps a token, trimming the newline that token files usually end with.
    pub fn new(text: &str) -> Option<ApiToken> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            None
        } else {
            Some(ApiToken(trimmed.to_string()))
        }
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
        assert!(ApiToken::new("  \n").is_none());
    }
}
