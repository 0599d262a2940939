//! The `cbbook` binary: parse the command line and hand over to the library.

use std::process::ExitCode;

use clap::Parser as _;

use cbbook::cli::{Cli, Command};

/// mimalloc rather than the system allocator: the viewer builds and drops many small values per
/// view (BENCHMARKS.md, "Allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return command_line_error(&err),
    };
    match cli.command {
        Some(Command::Auth { command }) => cbbook::auth::cli::run(&command),
        Some(Command::Sim(args)) => report(cbbook::sim::run(*args)),
        Some(Command::Replay(args)) => report(cbbook::launch::replay(*args)),
        Some(Command::Export(args)) => {
            report(cbbook::export::run_cli(&args).map(|()| ExitCode::SUCCESS))
        }
        Some(Command::Heatmap(args)) => {
            report(cbbook::heatmap_png::run(&args).map(|()| ExitCode::SUCCESS))
        }
        Some(Command::Completions { shell }) => report(cbbook::packaging::run_completions(shell)),
        Some(Command::Man) => report(cbbook::packaging::run_man()),
        None => report(cbbook::launch::live(cli.viewer)),
    }
}

/// A command line clap refused (or `--help`, `--version`). clap's message quotes the offending
/// argument as it is, and styles the message with escape sequences of its own, so the two cannot
/// be told apart afterwards: when an argument holds a control character (a product id or a file
/// name from a script's input), the message is printed unstyled through [`cbbook::output`], which
/// escapes what clap did not strip; otherwise clap prints it as usual.
fn command_line_error(err: &clap::Error) -> ExitCode {
    let hostile = std::env::args_os().any(|arg| arg.to_string_lossy().contains(char::is_control));
    if !hostile {
        let _ = err.print();
    } else if err.use_stderr() {
        cbbook::output::to_stderr(format_args!("{}", err.render()));
    } else {
        let _ = cbbook::output::to_stdout(format_args!("{}", err.render()));
    }
    ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2))
}

/// Turns a command's result into an exit status, printing the error chain on stderr.
fn report(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            // Not eprintln!: a stderr nobody can write to must not turn exit 1 into a panic.
            cbbook::output::to_stderr(format_args!("cbbook: {}\n", chain_text(&err)));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, joined by `: `, each cause once: a cause whose text the message
/// already shows (many messages include their source's) is not repeated.
fn chain_text(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::chain_text;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open {path}: {source}")]
    struct Shows {
        path: &'static str,
        source: std::io::Error,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open {path}")]
    struct Hides {
        path: &'static str,
        source: std::io::Error,
    }

    fn missing() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory")
    }

    #[test]
    fn a_cause_the_message_already_shows_is_printed_once() {
        let err = anyhow::Error::new(Shows {
            path: "a.json",
            source: missing(),
        });
        assert_eq!(
            chain_text(&err),
            "cannot open a.json: No such file or directory"
        );
    }

    #[test]
    fn a_cause_the_message_leaves_out_is_appended() {
        let err = anyhow::Error::new(Hides {
            path: "a.json",
            source: missing(),
        })
        .context("cannot start");
        assert_eq!(
            chain_text(&err),
            "cannot start: cannot open a.json: No such file or directory"
        );
    }
}
