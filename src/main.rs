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
    // One malloc arena: glibc gives every thread that allocates its own (64 MiB reserved,
    // pages kept), and a DDNS updater gains nothing from allocation in parallel.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    // One thread is plenty for a DDNS updater and keeps the footprint small; the few
    // blocking helpers (hooks' pipes, name lookups) end a second after their work.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(4)
        .thread_keep_alive(std::time::Duration::from_secs(1))
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
