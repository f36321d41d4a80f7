//! The flaredns binary: parse the command line, set up logging and the runtime, run, and map
//! the result to the SPEC's exit codes. Nothing else lives here.

use std::process::ExitCode;

use clap::Parser;

use flaredns::cli::Cli;
use flaredns::error::{Error, EXIT_FAILED};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let verbosity = if cli.quiet {
        -1
    } else {
        cli.verbose.min(2) as i8
    };
    flaredns::logging::init(verbosity);
    // One thread is plenty for a DDNS updater and keeps the footprint small.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!("{}", Error::Runtime(error));
            return ExitCode::from(EXIT_FAILED);
        }
    };
    ExitCode::from(runtime.block_on(flaredns::run(&cli)))
}
