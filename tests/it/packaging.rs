//! `cbbook completions SHELL` and `cbbook man` through the binary: a script for every shell
//! (bash's checked by `bash -n`), a man page with its title line, and a clear error for a shell
//! clap_complete does not know.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use crate::support::common::cbbook_bin;

fn cbbook(args: &[&str]) -> Output {
    Command::new(cbbook_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = cbbook(&["completions", shell]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{shell}: {:?} {stderr}", out.status);
        assert!(stderr.is_empty(), "{shell}: {stderr}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains("cbbook"), "{shell}: {script}");
        // Every subcommand is offered, the two new ones included.
        for sub in ["replay", "sim", "auth", "completions", "man"] {
            assert!(script.contains(sub), "{shell} completion lacks {sub}");
        }
    }
}

#[test]
fn bash_completion_parses() {
    if Command::new("bash").arg("--version").output().is_err() {
        eprintln!("skipped: no bash");
        return;
    }
    let out = cbbook(&["completions", "bash"]);
    assert!(out.status.success());
    let mut bash = Command::new("bash")
        .arg("-n")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    bash.stdin.take().unwrap().write_all(&out.stdout).unwrap();
    let checked = bash.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[test]
fn man_page_is_roff_with_a_title() {
    let out = cbbook(&["man"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = String::from_utf8(out.stdout).unwrap();
    let title = page
        .lines()
        .find(|l| l.starts_with(".TH "))
        .expect(".TH line");
    assert!(title.contains("cbbook"), "{title}");
    assert!(page.contains(".SH NAME"), "{page}");
    assert!(page.contains("cbbook"));
    // The subcommands and the viewer's options are documented.
    for word in ["replay", "completions", "\\-\\-demo"] {
        assert!(page.contains(word), "man page lacks {word}");
    }
}

#[test]
fn unknown_shell_is_a_usage_error() {
    let out = cbbook(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tcsh"), "{stderr}");
    assert!(
        stderr.contains("bash"),
        "the error lists the shells: {stderr}"
    );
}
