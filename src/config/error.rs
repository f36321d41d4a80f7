//! The config's errors and warnings, apart from the types they judge: `ConfigError` (every
//! variant exit code 2, every message naming the file, line and key, never a value) and
//! `ConfigWarning` (works, but a careful admin would change it). `config` re-exports them.

use std::path::PathBuf;

use super::CREDENTIAL_NAME;
use crate::secret::TokenSource;

/// A configuration problem. Every variant maps to exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {source}; pass --config PATH or set FLAREDNS_CONFIG")]
    Read { source: crate::files::FileError },
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}:{line}: `{key}`: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
    #[error("{}: no API token: set CLOUDFLARE_API_TOKEN, or `api_token_file` in [cloudflare], or use systemd's LoadCredential={CREDENTIAL_NAME}:PATH", path.display())]
    NoToken { path: PathBuf },
    #[error(
        "cannot read the API token from {source}; check the path and that this user may read it (under systemd's DynamicUser=, use api_token_file = \"credential:NAME\" with LoadCredential=NAME:PATH)"
    )]
    TokenFile { source: crate::files::FileError },
    #[error("{}:{line}: `{key}`: {problem}", path.display())]
    TokenPath {
        path: PathBuf,
        line: usize,
        key: String,
        problem: TokenPathProblem,
    },
    #[error("the API token in {token_source} {problem}; put exactly the token there (one line), or set CLOUDFLARE_API_TOKEN")]
    BadToken {
        token_source: TokenSource,
        problem: crate::secret::TokenProblem,
    },
    #[error("{variable} (`{key}`): {message}")]
    EnvInvalid {
        variable: String,
        key: String,
        message: String,
    },
    #[error("{variable}: {problem}")]
    EnvTokenPath {
        variable: String,
        problem: TokenPathProblem,
    },
    #[error("{first} and {second} are both set; they name the same token file, so set one")]
    EnvConflict { first: String, second: String },
    #[error("{}: no [[records]]: add at least one record to manage, e.g. [[records]] name = \"home.example.com\"", path.display())]
    NoRecords { path: PathBuf },
}

/// Why an `api_token_file` value cannot name a token file. The value is never shown: it may
/// be the token itself, pasted into the wrong key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenPathProblem {
    #[error("looks like a token, not a path; put the token in a file (mode 0600) and name that file here")]
    LooksLikeToken,
    #[error("names a systemd credential, but $CREDENTIALS_DIRECTORY is not set; add LoadCredential=NAME:PATH to the unit")]
    NoCredentialsDirectory,
    #[error("`credential:` must be followed by a credential name without `/`")]
    BadCredentialName,
}

/// Something in the config that works but that a careful admin would change. `Display` is
/// the sentence, ending with the next step.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigWarning {
    #[error("{} holds the API token and is readable by group or others (mode {mode:o}); run `chmod 600 {}`", path.display(), path.display())]
    LooseToken { path: PathBuf, mode: u32 },
    #[error("{}: `cloudflare.api_url` is plain http:// to {host}, so the API token travels unencrypted; use https://", config.display())]
    PlainHttp { config: PathBuf, host: String },
    #[error("the exec hook {} {problem}; it will fail at the first event: fix the path or `chmod +x` it", path.display())]
    Hook { path: PathBuf, problem: String },
    #[error("{variable} is not a setting flaredns knows, so it is ignored; check its spelling (this section's are {known})")]
    UnknownVariable { variable: String, known: String },
}
