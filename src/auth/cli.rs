//! `cbbook auth jwt|check|inspect`.

use std::process::ExitCode;

use crate::cli::AuthCommand;

/// Runs an `auth` subcommand and returns its exit status.
pub fn run(_command: &AuthCommand) -> ExitCode {
    eprintln!("cbbook: the auth commands are not built yet");
    ExitCode::FAILURE
}
