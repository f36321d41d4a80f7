// The command line, as the SPEC defines it. Parsing only: `lib::run` decides what to do.
// No inner doc comment here: build.rs includes this file to generate the man page and the
// shell completions from the same definition (see the doc on `mod cli` in lib.rs).

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand};

/// Keeps Cloudflare A/AAAA records pointed at this host's public address, gently.
#[derive(Debug, Parser)]
#[command(
    name = "flaredns",
    version,
    about,
    long_about = None,
    after_help = "Exit codes: 0 all managed records in sync (or the dry-run plan was printed); \
                  1 a record could not be synced, or the address could not be detected; \
                  2 usage or configuration error."
)]
pub struct Cli {
    /// Config file [default: $FLAREDNS_CONFIG, else /etc/flaredns/config.toml, else the
    /// environment alone when FLAREDNS_RECORDS is set]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Run one detect → check → plan → apply cycle, then exit (for cron and timers)
    #[arg(long)]
    pub once: bool,
    /// Print what would change and change nothing (only GET requests are sent)
    #[arg(long)]
    pub dry_run: bool,
    /// More log output (-v debug, -vv trace)
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors in the log
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands besides the default run.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Diagnose the setup and change nothing
    Doctor {
        /// Print one JSON document instead of lines
        #[arg(long)]
        json: bool,
    },
    /// Parse and validate the config, print the effective config (token redacted)
    CheckConfig,
    /// Show what the last cycle did, from the state directory (sends no request)
    Status {
        /// Print one JSON document (the state directory's status.json)
        #[arg(long)]
        json: bool,
        /// Exit 0 while a cycle succeeded within two intervals, else 1, printing one line
        /// (the /healthz rule; a container's health check)
        #[arg(long, conflicts_with = "json")]
        check: bool,
    },
    /// Read another updater's configuration and print a flaredns config on stdout
    ///
    /// Settings that do not map are kept as comments saying why. The token is never printed:
    /// the config names api_token_file, and stderr says where to copy the token from.
    Import {
        /// The updater the configuration comes from
        #[arg(value_enum)]
        source: ImportSource,
        /// Its config file [default: /etc/ddclient.conf, /etc/inadyn.conf; favonia: an env
        /// file, else this process's environment]
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Print a shell completion script
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: Shell,
    },
}

/// Updaters whose configuration `import` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportSource {
    /// ddclient.conf (protocol=cloudflare entries)
    Ddclient,
    /// inadyn.conf (provider cloudflare.com sections)
    Inadyn,
    /// favonia/cloudflare-ddns environment variables (an env file or the environment)
    Favonia,
}

/// Shells that completions are generated for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}
