//! The top-level error and the exit codes of the SPEC: 0 in sync, 1 a record or detection
//! failed, 2 usage or configuration. Only `main` turns these into a process exit code.

use crate::config::ConfigError;

/// Exit code: all managed records are in sync (or the dry-run plan was printed).
pub const EXIT_OK: u8 = 0;
/// Exit code: a record could not be brought in sync, or the address could not be detected.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: usage or configuration error.
pub const EXIT_CONFIG: u8 = 2;

/// What can stop flaredns before a cycle runs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Setup(#[from] crate::http::SetupError),
    #[error("{0}")]
    Lock(#[from] crate::state::LockError),
    #[error("cannot serve metrics on {address}: {source}; is another program using the port? change [metrics].listen")]
    Metrics {
        address: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl Error {
    /// The SPEC's exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) => EXIT_CONFIG,
            Error::Setup(_) | Error::Runtime(_) | Error::Lock(_) | Error::Metrics { .. } => {
                EXIT_FAILED
            }
        }
    }
}
