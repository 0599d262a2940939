//! The `cbbook` binary: parse the command line and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

use cbbook::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Auth { command }) => cbbook::auth::cli::run(&command),
        Some(Command::Sim(args)) => report(cbbook::sim::run(*args)),
        Some(Command::Replay(args)) => report(cbbook::launch::replay(*args)),
        None => report(cbbook::launch::live(cli.viewer)),
    }
}

/// Turns a command's result into an exit status, printing the error chain on stderr.
fn report(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("cbbook: {err:#}");
            ExitCode::FAILURE
        }
    }
}
