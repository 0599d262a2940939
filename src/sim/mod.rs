//! `cbbook sim`: a Coinbase-compatible Advanced Trade WebSocket server.

use std::process::ExitCode;

use anyhow::bail;

use crate::cli::SimArgs;

/// Runs the simulator until SIGINT or SIGTERM.
pub fn run(_args: SimArgs) -> anyhow::Result<ExitCode> {
    bail!("the simulator is not built yet")
}
