//! Where the API token comes from, in order: `CLOUDFLARE_API_TOKEN`, systemd's credential,
//! `api_token_file`, `api_token`. Files are read through `files` (regular files only, at most
//! 4 KB), and a token readable by others is a warning. `Tokens` collects each distinct token
//! once for the records and lists that use it, and sets aside an entry whose own token file
//! cannot be read, so only that entry fails.

use std::path::{Path, PathBuf};

use super::raw::RawConfig;
use super::validate::Validator;
use toml::Spanned;

use super::{
    ApiToken, ConfigError, ConfigWarning, TokenEntry, TokenPathProblem, TokenSource, TokenUser,
    UnreadableToken, CREDENTIAL_NAME,
};

/// The tokens found while validating: each distinct token once (entries point at it by
/// index), and the entries whose own token file cannot be read.
pub(super) struct Tokens<'a> {
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
    pub(super) entries: Vec<TokenEntry>,
    pub(super) unreadable: Vec<UnreadableToken>,
}

impl Validator<'_> {
    /// The index of an entry's token in `tokens.entries`, or `None` when the entry's own
    /// token file cannot be read (recorded for `user` in `tokens.unreadable`).
    pub(super) fn token_for(
        &self,
        own_file: Option<&Spanned<String>>,
        raw: &RawConfig,
        tokens: &mut Tokens<'_>,
        warnings: &mut Vec<ConfigWarning>,
        user: impl FnOnce() -> TokenUser,
    ) -> Result<Option<usize>, ConfigError> {
        match self.token_index(own_file, raw, tokens.env, &mut tokens.entries, warnings) {
            Ok(token) => Ok(Some(token)),
            Err(error) if own_file.is_some() && is_unreadable(&error) => {
                tokens.unreadable.push(UnreadableToken {
                    user: user(),
                    error: std::sync::Arc::new(error),
                });
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    pub(super) fn token(
        &self,
        raw: &RawConfig,
        env: &dyn Fn(&str) -> Option<String>,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<(ApiToken, TokenSource), ConfigError> {
        if let Some(value) = env("CLOUDFLARE_API_TOKEN") {
            let source = TokenSource::Environment;
            return ApiToken::new(&value)
                .map(|token| (token, source.clone()))
                .map_err(|problem| ConfigError::BadToken {
                    token_source: source,
                    problem,
                });
        }
        if let Some(directory) = env("CREDENTIALS_DIRECTORY") {
            let credential = Path::new(&directory).join(CREDENTIAL_NAME);
            if credential.exists() {
                return read_token_file(&credential, TokenSource::Credential(credential.clone()));
            }
        }
        if let Some(file) = &raw.cloudflare.api_token_file {
            let token_path = self.token_path(file, "cloudflare.api_token_file", env)?;
            if let Some(warning) = loose_permissions(&token_path) {
                warnings.push(warning);
            }
            return read_token_file(&token_path, TokenSource::File(token_path.clone()));
        }
        if let Some(value) = &raw.cloudflare.api_token {
            if let Some(warning) = loose_permissions(self.path) {
                warnings.push(warning);
            }
            let source = TokenSource::ConfigFile;
            return ApiToken::new(value.get_ref())
                .map(|token| (token, source.clone()))
                .map_err(|problem| ConfigError::BadToken {
                    token_source: source,
                    problem,
                });
        }
        Err(ConfigError::NoToken {
            path: self.path.to_path_buf(),
        })
    }

    /// The index in `tokens` of the token for an entry (a record or a WAF list): its own
    /// `api_token_file`, else the main token. A token already in `tokens` is not added twice.
    pub(super) fn token_index(
        &self,
        own_file: Option<&Spanned<String>>,
        raw: &RawConfig,
        env: &dyn Fn(&str) -> Option<String>,
        tokens: &mut Vec<TokenEntry>,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<usize, ConfigError> {
        let entry = match own_file {
            Some(file) => self.record_token(file, env, warnings)?,
            None => {
                let (token, source) = self.token(raw, env, warnings)?;
                TokenEntry { token, source }
            }
        };
        Ok(
            match tokens.iter().position(|known| known.token == entry.token) {
                Some(index) => index,
                None => {
                    tokens.push(entry);
                    tokens.len() - 1
                }
            },
        )
    }

    /// A record's own `api_token_file` (its zone belongs to another account or token).
    pub(super) fn record_token(
        &self,
        file: &Spanned<String>,
        env: &dyn Fn(&str) -> Option<String>,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<TokenEntry, ConfigError> {
        let token_path = self.token_path(file, "api_token_file", env)?;
        if let Some(warning) = loose_permissions(&token_path) {
            if !warnings.contains(&warning) {
                warnings.push(warning);
            }
        }
        let source = if file.get_ref().trim().starts_with("credential:") {
            TokenSource::Credential(token_path.clone())
        } else {
            TokenSource::File(token_path.clone())
        };
        let (token, source) = read_token_file(&token_path, source)?;
        Ok(TokenEntry { token, source })
    }

    /// The file an `api_token_file` value names: `credential:NAME` is
    /// `$CREDENTIALS_DIRECTORY/NAME` (systemd's `LoadCredential=`), a relative path is
    /// relative to the config file's directory. A value shaped like a token (no `/`, no `.`,
    /// long) is refused without being shown: it was pasted into the wrong key.
    fn token_path(
        &self,
        file: &Spanned<String>,
        key: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<PathBuf, ConfigError> {
        let variable = self.variable_at(&file.span());
        let problem = |problem| match variable {
            Some(variable) => ConfigError::EnvTokenPath {
                variable: variable.to_string(),
                problem,
            },
            None => ConfigError::TokenPath {
                path: self.path.to_path_buf(),
                line: super::line_column(self.text, file.span().start).0,
                key: key.to_string(),
                problem,
            },
        };
        let value = file.get_ref().trim();
        if let Some(name) = value.strip_prefix("credential:") {
            if name.is_empty() || name.contains('/') || name == ".." {
                return Err(problem(TokenPathProblem::BadCredentialName));
            }
            let directory = env("CREDENTIALS_DIRECTORY")
                .ok_or_else(|| problem(TokenPathProblem::NoCredentialsDirectory))?;
            return Ok(Path::new(&directory).join(name));
        }
        if looks_like_token(value) {
            return Err(problem(TokenPathProblem::LooksLikeToken));
        }
        let path = PathBuf::from(value);
        // A relative path from a variable is relative to the working directory, as a shell's is.
        Ok(if path.is_relative() && variable.is_none() {
            self.path.parent().unwrap_or(Path::new(".")).join(path)
        } else {
            path
        })
    }
}

/// True for a value that holds a token rather than names a file: a word or path component
/// of 30 or more of the characters tokens are made of (`<TOKEN>`, `Bearer <TOKEN>`,
/// `~/<TOKEN>`), where no such file exists. Such a value is never shown.
fn looks_like_token(value: &str) -> bool {
    let token_like = |part: &str| {
        part.len() >= 30
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    value
        .split(|c: char| c == '/' || c.is_whitespace())
        .any(token_like)
        && !Path::new(value).exists()
}

fn read_token_file(
    token_path: &Path,
    source: TokenSource,
) -> Result<(ApiToken, TokenSource), ConfigError> {
    let text = crate::files::read_text(
        token_path,
        crate::files::MAX_TOKEN_BYTES,
        crate::files::Links::Follow,
    )
    .map_err(|source| ConfigError::TokenFile { source })?;
    ApiToken::new(&text)
        .map(|token| (token, source.clone()))
        .map_err(|problem| ConfigError::BadToken {
            token_source: source,
            problem,
        })
}

#[cfg(unix)]
fn loose_permissions(path: &Path) -> Option<ConfigWarning> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| ConfigWarning::LooseToken {
        path: path.to_path_buf(),
        mode: mode & 0o777,
    })
}

#[cfg(not(unix))]
fn loose_permissions(_path: &Path) -> Option<ConfigWarning> {
    None
}

/// True for a token error that only the entry naming the file should fail for: the file
/// cannot be read (missing, not this user's to read) or the credential directory is absent.
/// A token that reads but is malformed stays a config error.
fn is_unreadable(error: &ConfigError) -> bool {
    matches!(
        error,
        ConfigError::TokenFile { .. }
            | ConfigError::TokenPath {
                problem: TokenPathProblem::NoCredentialsDirectory,
                ..
            }
    )
}
