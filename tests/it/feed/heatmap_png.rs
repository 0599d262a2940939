//! `cbbook heatmap`: a simulated recording drawn to a PNG, and the command's bad inputs.

use std::time::Duration;

use std::process::Output;

use crate::support::common::{path_str, run_env};

fn run(args: &[&str], limit: Duration) -> Output {
    run_env(args, &[], limit)
}

fn corpus(dir: &std::path::Path) -> std::path::PathBuf {
    let corpus = dir.join("corpus.jsonl");
    let out = run(
        &[
            "sim",
            "--write-corpus",
            path_str(&corpus),
            "--updates",
            "20000",
            "--seed",
            "3",
            "--corpus-trades",
        ],
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    corpus
}

#[test]
fn a_recording_becomes_a_picture_of_its_size_that_is_not_blank() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus(dir.path());
    let png = dir.path().join("book.png");
    let out = run(
        &[
            "heatmap",
            path_str(&corpus),
            "-o",
            path_str(&png),
            "--width",
            "800",
            "--height",
            "450",
        ],
        Duration::from_secs(120),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("heatmap: replaying") && stderr.contains("heatmap: wrote"),
        "{stderr}"
    );
    let img = image::open(&png).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (800, 450));
    let background = *img.get_pixel(799, 449);
    let painted = img.pixels().filter(|p| **p != background).count();
    let share = painted as f64 / f64::from(800 * 450);
    assert!(share > 0.3, "most of the picture is drawn: {share:.2}");
    let mut colours: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        colours.len() > 50,
        "a gradient, not a flat fill: {} colours",
        colours.len()
    );
    // Greens below the touch and reds above it: some of each.
    let more = |a: u8, b: u8| i32::from(a) > i32::from(b) + 60;
    let green = img.pixels().filter(|p| more(p.0[1], p.0[0])).count();
    let red = img.pixels().filter(|p| more(p.0[0], p.0[1])).count();
    assert!(green > 5_000 && red > 5_000, "bids {green}, asks {red}");
    // A window of it, in the light theme.
    let part = dir.path().join("part.png");
    let out = run(
        &[
            "heatmap",
            path_str(&corpus),
            "-o",
            path_str(&part),
            "--from",
            "+60s",
            "--to",
            "-60s",
            "--theme",
            "light",
            "--product",
            "BTC-USD",
        ],
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        image::open(&part).unwrap().to_rgb8().dimensions(),
        (1600, 900)
    );
}

#[test]
fn bad_heatmap_arguments_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus(dir.path());
    let png = dir.path().join("x.png");
    let cases: &[(&[&str], &str)] = &[
        (&["--from", "-1s", "--to", "+1s"], "is not before --to"),
        (&["--from", "yesterday"], "is not a time"),
        (&["--product", "SOL-USD"], "SOL-USD has no book"),
        (&["--width", "10"], "--width and --height"),
        (&["--theme", "pink"], "use dark or light"),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["heatmap", path_str(&corpus), "-o", path_str(&png)];
        args.extend_from_slice(extra);
        let out = run(&args, Duration::from_secs(60));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra:?}");
        assert!(stderr.contains(expected), "{extra:?}: {stderr}");
    }
    let missing = dir.path().join("missing.jsonl");
    let out = run(
        &["heatmap", path_str(&missing), "-o", path_str(&png)],
        Duration::from_secs(60),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.jsonl"));
    assert!(!png.exists(), "no picture written on an error");
}
