//! `switchboard`: run services, or an operator command. See `switchboard --help`.

use std::process::ExitCode;

use clap::Parser as _;
use switchboard_server::cli::{Cli, run};

/// Every service allocates per message; glibc's malloc, with its arenas and consolidation, was a
/// fifth of the message path's CPU under load (docs/perf/README.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Exit code for a configuration or start-up error, distinct from a crash.
const EXIT_FAILURE: u8 = 1;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let _telemetry = match switchboard_telemetry::init("switchboard") {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("switchboard: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    match Box::pin(run(cli)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "switchboard failed");
            eprintln!("switchboard: {error:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
