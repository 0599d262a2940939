//! `cbbook completions SHELL` and `cbbook man`: shell completion scripts (clap_complete) and the
//! man page (clap_mangen, roff), both generated from the command line's definition in
//! [`crate::cli`], so they list every command and option the binary accepts.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::CommandFactory as _;
use clap_complete::Shell;

use crate::cli::Cli;

/// The completion script for `shell`.
pub fn completions(shell: Shell) -> Vec<u8> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "cbbook", &mut out);
    out
}

/// The man page of `cbbook`, in roff (section 1).
pub fn man_page() -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .context("cannot render the man page")?;
    Ok(out)
}

/// `cbbook completions SHELL`: the script on stdout.
pub fn run_completions(shell: Shell) -> anyhow::Result<ExitCode> {
    write_stdout(&completions(shell))
}

/// `cbbook man`: the man page on stdout.
pub fn run_man() -> anyhow::Result<ExitCode> {
    write_stdout(&man_page()?)
}

/// Writes the bytes as they are (a script or roff, not text for a terminal). A reader that left
/// early (`cbbook man | head`) is not an error.
fn write_stdout(bytes: &[u8]) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(err) => Err(err).context("cannot write to stdout"),
    }
}
