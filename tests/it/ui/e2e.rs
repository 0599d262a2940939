//! The real binary in a real terminal (tmux), driven by keys: `cbbook --demo` shows two moving
//! books, switches product, opens the auth pane with the decoded claims, shows help, and quits
//! with status 0; pointed at a simulator that does not know the key, the pane shows the refusal,
//! its reason and the fix.
//!
//! A panic while the viewer holds the terminal gives it back: raw mode off, the alternate screen
//! left, the cursor shown, and the panic message on the normal screen where it can be read. So
//! does every signal that ends the viewer (SIGINT and SIGQUIT sent with `kill`, SIGTERM, SIGHUP...).
//!
//! These need the viewer wired into `cbbook` (src/launch.rs) and tmux on PATH; a missing tmux
//! fails the test rather than skipping it.

use crate::support::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A tmux session running one command, on a tmux server of its own; killed on drop.
///
/// Tests run in parallel: with one shared server, a test whose last session ends stops the
/// server while another test's `new-session` is connecting to it, and that start fails.
struct Tmux {
    name: String,
    /// The server's socket, in the test's temporary home: gone with it.
    socket: PathBuf,
}

/// `tmux -S SOCKET`: a command to the server at `socket`.
fn tmux(socket: &Path) -> Command {
    let mut command = Command::new("tmux");
    command.arg("-S").arg(socket);
    command
}

impl Tmux {
    fn start(name: &str, width: u16, height: u16, command: &str, home: &Path) -> Tmux {
        let socket = home.join("tmux.sock");
        let status = tmux(&socket)
            .args(["new-session", "-d", "-s", name])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .arg(command)
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env_remove("COINBASE_API_KEY")
            .env_remove("COINBASE_API_SECRET")
            .env("TERM", "xterm-256color")
            .status()
            .expect("tmux is needed for the end-to-end viewer tests");
        assert!(status.success(), "tmux new-session failed");
        Tmux {
            name: name.to_string(),
            socket,
        }
    }

    fn screen(&self) -> String {
        let out = tmux(&self.socket)
            .args(["capture-pane", "-p", "-t", &self.name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let status = tmux(&self.socket)
            .args(["send-keys", "-t", &self.name])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (up to 30 s: the machine may be loaded) until the screen satisfies `ok`.
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A tmux format variable of the pane (`alternate_on`, `cursor_flag`...).
    fn pane_flag(&self, name: &str) -> String {
        let out = tmux(&self.socket)
            .args(["display-message", "-p", "-t", &self.name])
            .arg(format!("#{{{name}}}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Tmux {
    /// The session may have ended with its command, and the server with it: tmux's complaints
    /// about that (`can't find session`, `no server running`) are not news.
    fn drop(&mut self) {
        let _ = tmux(&self.socket)
            .args(["kill-session", "-t", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

/// The ladder rows of a screen (lines with a price, a size and a cumulative size; the price
/// may carry the last trade's mark).
fn ladder(screen: &str) -> Vec<&str> {
    let mark = cbbook::ui::ladder::LAST_TRADE_MARK;
    screen
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .take(3)
                .all(|w| w.trim_start_matches(mark).parse::<f64>().is_ok())
        })
        .filter(|l| l.split_whitespace().count() >= 3)
        .collect()
}

/// The tape's trade lines of a screen: `HH:MM:SS.mmm ▲` or `▼`, then numbers.
fn tape(screen: &str) -> Vec<String> {
    screen
        .lines()
        .filter_map(|l| {
            let at = l.find("│ ")?;
            let rest = &l[at + "│ ".len()..];
            let mut words = rest.split_whitespace();
            let time = words.next()?;
            let arrow = words.next()?;
            let is_time =
                time.len() == 12 && time.as_bytes()[2] == b':' && time.as_bytes()[8] == b'.';
            (is_time && (arrow == "▲" || arrow == "▼")).then(|| rest.trim_end().to_string())
        })
        .collect()
}

fn read_exit(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Presses `q` and waits (at most 30 s) for the command to exit with status 0.
fn quit_and_expect_status_0(tmux: &Tmux, exit_file: &Path) {
    tmux.keys(&["q"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while read_exit(exit_file).is_none() {
        assert!(
            Instant::now() < deadline,
            "cbbook did not exit:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(read_exit(exit_file).as_deref(), Some("0"));
}

#[test]
fn demo_shows_moving_books_the_auth_pane_and_quits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let exit_file = dir.path().join("exit");
    let command = format!(
        "{} --demo --log-file {}; echo $? > {}",
        shell_quote(&common::cbbook_bin()),
        shell_quote(&dir.path().join("cbbook.log")),
        shell_quote(&exit_file),
    );
    let tmux = Tmux::start(
        &format!("cbbook-e2e-demo-{}", std::process::id()),
        100,
        30,
        &command,
        dir.path(),
    );

    let first = tmux.wait_for("two live books", |s| {
        s.contains("1 BTC-USD")
            && s.contains("2 ETH-USD")
            && s.matches("LIVE").count() >= 2
            && ladder(s).len() >= 10
    });
    assert!(first.contains("demo"), "{first}");
    tmux.wait_for("the book to move", |s| ladder(s) != ladder(&first));

    tmux.keys(&["Right"]);
    tmux.wait_for("ETH-USD selected", |s| {
        s.lines()
            .nth(1)
            .is_some_and(|l| l.trim_start().starts_with("ETH-USD"))
    });

    tmux.keys(&["a"]);
    let pane = tmux.wait_for("the auth pane with decoded claims", |s| {
        s.contains("signed subscribe accepted") && s.contains("iss        cdp")
    });
    assert!(
        pane.contains("alg        ES256") || pane.contains("alg        EdDSA"),
        "{pane}"
    );
    assert!(
        pane.contains("TEST") || pane.contains("demo"),
        "the demo key says what it is:\n{pane}"
    );

    tmux.keys(&["?"]);
    tmux.wait_for("help", |s| s.contains("keys") && s.contains("Ctrl-C"));
    tmux.keys(&["Escape"]);
    let back = tmux.wait_for("help closed", |s| !s.contains("Esc or ? closes"));
    assert!(
        back.contains("a closes"),
        "Esc closes the help, not the pane:\n{back}"
    );

    tmux.keys(&["a"]);
    let closed = tmux.wait_for("the auth pane closed by a", |s| {
        !s.contains("a closes") && !s.contains("verdict")
    });
    assert!(ladder(&closed).len() >= 10, "the ladder is back:\n{closed}");

    quit_and_expect_status_0(&tmux, &exit_file);
}

/// The watchlist in the real binary: `w` opens it, `s` sorts, `/` and text filter, Enter keeps
/// the filter and a second Enter opens the highlighted product's ladder.
#[test]
fn the_watchlist_sorts_filters_and_opens_a_ladder() {
    let dir = tempfile::tempdir().unwrap();
    let exit_file = dir.path().join("exit");
    let command = format!(
        "{} --demo BTC-USD ETH-USD SOL-USD --log-file {}; echo $? > {}",
        shell_quote(&common::cbbook_bin()),
        shell_quote(&dir.path().join("cbbook.log")),
        shell_quote(&exit_file),
    );
    let tmux = Tmux::start(
        &format!("cbbook-e2e-watch-{}", std::process::id()),
        120,
        40,
        &command,
        dir.path(),
    );
    tmux.wait_for("three live books", |s| {
        s.contains("3 SOL-USD") && s.matches("LIVE").count() >= 3
    });

    tmux.keys(&["w"]);
    let list = tmux.wait_for("the watchlist", |s| {
        s.contains("watchlist  3 products") && s.contains("spread bps")
    });
    for name in ["BTC-USD", "ETH-USD", "SOL-USD"] {
        assert!(list.matches(name).count() >= 2, "{name} has a row:\n{list}");
    }

    tmux.keys(&["s"]);
    tmux.wait_for("sorted by product", |s| s.contains("▲ product"));

    tmux.keys(&["/", "sol"]);
    tmux.wait_for("the filter typed", |s| {
        s.contains("filter: sol▏") && s.contains("1 of 3 products")
    });
    tmux.keys(&["Enter"]);
    tmux.wait_for("the filter kept", |s| {
        s.contains("filter: sol") && !s.contains("filter: sol▏")
    });
    tmux.keys(&["Enter"]);
    let ladder_screen = tmux.wait_for("SOL-USD's ladder", |s| {
        !s.contains("watchlist")
            && s.lines()
                .nth(1)
                .is_some_and(|l| l.trim_start().starts_with("SOL-USD"))
    });
    assert!(ladder(&ladder_screen).len() >= 10, "{ladder_screen}");

    quit_and_expect_status_0(&tmux, &exit_file);
}

/// `t` opens the tape beside the ladder and `v` adds the volume columns to the ladder; a second
/// press closes each. (What fills them is the next test's.)
#[test]
fn t_opens_the_tape_and_v_the_volume_columns() {
    let dir = tempfile::tempdir().unwrap();
    let exit_file = dir.path().join("exit");
    let command = format!(
        "{} --demo --utc --log-file {}; echo $? > {}",
        shell_quote(&common::cbbook_bin()),
        shell_quote(&dir.path().join("cbbook.log")),
        shell_quote(&exit_file),
    );
    let tmux = Tmux::start(
        &format!("cbbook-e2e-tape-{}", std::process::id()),
        140,
        40,
        &command,
        dir.path(),
    );
    tmux.wait_for("a live book", |s| {
        s.contains("LIVE") && ladder(s).len() >= 10
    });

    tmux.keys(&["t"]);
    let open = tmux.wait_for("the tape beside the ladder", |s| {
        s.contains("┌ trades · BTC-USD") && (s.contains("time UTC") || s.contains("no trades yet"))
    });
    assert!(
        ladder(&open).len() >= 10,
        "the ladder stays beside it:
{open}"
    );
    assert!(open.contains("t tape"), "{open}");

    tmux.keys(&["v"]);
    tmux.wait_for("the volume columns", |s| {
        s.contains("bought") && s.contains("sold")
    });
    tmux.keys(&["v"]);
    tmux.wait_for("the volume columns gone", |s| !s.contains("bought"));
    tmux.keys(&["t"]);
    let closed = tmux.wait_for("the tape closed", |s| !s.contains("┌ trades"));
    assert!(ladder(&closed).len() >= 10, "{closed}");

    quit_and_expect_status_0(&tmux, &exit_file);
}

/// `cbbook --demo` shows a moving tape beside the ladder, a last price and a 24 h change in the
/// header, the last trade's row marked, trades/s, and volume at the ladder's prices: the demo
/// simulator's trades and tickers, read by the feed, drawn by the viewer.
#[test]
fn demo_shows_a_moving_tape_and_a_last_price() {
    let dir = tempfile::tempdir().unwrap();
    let exit_file = dir.path().join("exit");
    let command = format!(
        "{} --demo --utc --log-file {}; echo $? > {}",
        shell_quote(&common::cbbook_bin()),
        shell_quote(&dir.path().join("cbbook.log")),
        shell_quote(&exit_file),
    );
    let tmux = Tmux::start(
        &format!("cbbook-e2e-trades-{}", std::process::id()),
        140,
        40,
        &command,
        dir.path(),
    );
    tmux.wait_for("a live book", |s| {
        s.contains("LIVE") && ladder(s).len() >= 10
    });
    tmux.keys(&["t"]);
    let first = tmux.wait_for("trade lines on the tape", |s| tape(s).len() >= 3);
    let header = first.lines().nth(1).unwrap_or_default();
    assert!(header.contains("last "), "{header}");
    assert!(
        first.contains(cbbook::ui::ladder::LAST_TRADE_MARK),
        "{first}"
    );
    assert!(first.contains("trades/s"), "{first}");
    tmux.wait_for("the tape to move", |s| tape(s) != tape(&first));
    tmux.wait_for("a 24 h change in the header", |s| {
        s.lines().nth(1).is_some_and(|l| l.contains("24h "))
    });

    tmux.keys(&["v"]);
    let mark = cbbook::ui::ladder::LAST_TRADE_MARK;
    // A row with volume has four numbers or more: price, size, cumulative, bought and/or sold.
    tmux.wait_for("volume at the ladder's prices", |s| {
        s.contains("bought")
            && ladder(s).iter().any(|row| {
                row.split_whitespace()
                    .take_while(|w| w.trim_start_matches(mark).parse::<f64>().is_ok())
                    .count()
                    >= 4
            })
    });
    quit_and_expect_status_0(&tmux, &exit_file);
}

#[test]
fn an_unknown_key_shows_the_refusal_its_reason_and_the_fix() {
    let (_sim, url) = common::start_sim(&["--port", "0"], None);
    let dir = tempfile::tempdir().unwrap();
    // A valid key the simulator has never heard of.
    let key: PathBuf = common::repo_root().join("tests/fixtures/keys/pkcs8-p256.json");
    let command = format!(
        "{} --url {} --key {} --log-file {} BTC-USD",
        shell_quote(&common::cbbook_bin()),
        url,
        shell_quote(&key),
        shell_quote(&dir.path().join("cbbook.log")),
    );
    let tmux = Tmux::start(
        &format!("cbbook-e2e-refused-{}", std::process::id()),
        120,
        40,
        &command,
        dir.path(),
    );
    // The market connection's fallback (the status line's words): the user connection, refused
    // too, may say so first.
    tmux.wait_for("the refusal", |s| s.contains("key refused"));
    tmux.keys(&["a"]);
    let pane = tmux.wait_for("the auth pane", |s| {
        s.contains("verdict") && s.contains("authentication failure") && s.contains("reason")
    });
    assert!(pane.contains("reason"), "{pane}");
    assert!(pane.contains("key_unknown"), "{pane}");
    assert!(pane.contains("fix"), "{pane}");
    assert!(
        pane.contains("the server does not trust this key name"),
        "{pane}"
    );
    tmux.keys(&["q"]);
}

/// A snapshot frame of BTC-USD (bids at 100 and 99, an ask at 101) as recorded.
fn recorded_snapshot(t_ms: i64, seq: u64) -> String {
    let level = |side: &str, price: &str| {
        format!(
            r#"{{"side":"{side}","event_time":"2026-01-01T00:00:00Z","price_level":"{price}","new_quantity":"1.5"}}"#
        )
    };
    format!(
        r#"{{"t":{t_ms},"frame":{{"channel":"l2_data","client_id":"","timestamp":"2026-01-01T00:00:00Z","sequence_num":{seq},"events":[{{"type":"snapshot","product_id":"BTC-USD","updates":[{},{},{}]}}]}}}}"#,
        level("bid", "100"),
        level("bid", "99"),
        level("offer", "101")
    )
}

#[test]
fn a_replay_ends_with_end_in_recorded_time_and_quits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    // 2026-01-01T00:00:00Z: a session with one lost connection, a second long.
    let t0: i64 = 1_767_225_600_000;
    let connect = |t: i64| {
        format!(
            r#"{{"t":{t},"connect":{{"url":"wss://advanced-trade-ws.coinbase.com","authenticated":false,"products":["BTC-USD"]}}}}"#
        )
    };
    let lines = [
        connect(t0),
        recorded_snapshot(t0 + 100, 0),
        format!(
            r#"{{"t":{},"disconnect":"the server closed the connection"}}"#,
            t0 + 400
        ),
        connect(t0 + 700),
        recorded_snapshot(t0 + 800, 0),
    ];
    let recording = dir.path().join("session.jsonl");
    std::fs::write(&recording, lines.join("\n") + "\n").unwrap();
    let exit_file = dir.path().join("exit");
    let command = format!(
        "{} replay {} --log-file {}; echo $? > {}",
        shell_quote(&common::cbbook_bin()),
        shell_quote(&recording),
        shell_quote(&dir.path().join("cbbook.log")),
        shell_quote(&exit_file),
    );
    let tmux = Tmux::start(
        &format!("cbbook-e2e-replay-{}", std::process::id()),
        100,
        30,
        &command,
        dir.path(),
    );
    let end = tmux.wait_for("the end of the replay", |s| s.contains("Replay finished"));
    assert!(end.contains("1 BTC-USD  END"), "{end}");
    assert!(
        end.contains("Replay finished at 2026-01-01 00:00:00 UTC"),
        "recorded time, not the wall clock:\n{end}"
    );
    assert!(end.contains("END of the recording"), "{end}");
    assert!(end.contains("reconnects 1"), "one recorded loss:\n{end}");
    assert!(!end.contains("DOWN"), "{end}");
    assert!(
        end.contains("replay finished: the end of the recording"),
        "{end}"
    );
    // The recorded clock has stopped: nothing frozen is shown as if it were current.
    assert!(end.contains("msg/s 0  upd/s 0"), "{end}");
    assert!(end.contains("age -"), "{end}");
    assert!(
        !end.contains(" · up "),
        "the recorded connection is over:\n{end}"
    );
    assert!(ladder(&end).len() >= 3, "{end}");

    quit_and_expect_status_0(&tmux, &exit_file);
}

/// The environment variable that turns [`panicking_child_takes_the_terminal`] on.
const PANIC_CHILD: &str = "CBBOOK_E2E_PANIC_CHILD";

/// Not a test of its own: the program [`a_panic_gives_the_terminal_back`] runs in tmux (this
/// test binary, filtered to this function). It takes the terminal as the viewer does, draws, and
/// panics. Ignored, and a no-op without its variable, so that only that test runs it.
#[test]
#[ignore = "run inside tmux by a_panic_gives_the_terminal_back"]
fn panicking_child_takes_the_terminal() {
    if std::env::var_os(PANIC_CHILD).is_none() {
        return;
    }
    let mut guard = cbbook::tui::TerminalGuard::enter().unwrap();
    guard
        .terminal
        .draw(|frame| {
            let text = ratatui::widgets::Paragraph::new("CONTENT OF THE ALTERNATE SCREEN");
            frame.render_widget(text, frame.area());
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    panic!("cbbook-e2e: a panic while the viewer holds the terminal");
}

#[test]
fn a_panic_gives_the_terminal_back() {
    let dir = tempfile::tempdir().unwrap();
    let done = dir.path().join("done");
    let stty = dir.path().join("stty");
    let this = std::env::current_exe().unwrap();
    // After the child: the terminal's modes as the shell finds them, then a marker; the shell
    // stays so that the screen can be read.
    let command = format!(
        "{PANIC_CHILD}=1 {} {} --exact --ignored --nocapture \
         --test-threads=1; stty -a > {}; echo finished > {}; sleep 60",
        shell_quote(&this),
        common::test_name(module_path!(), "panicking_child_takes_the_terminal"),
        shell_quote(&stty),
        shell_quote(&done),
    );
    let tmux = Tmux::start(
        &format!("cbbook-e2e-panic-{}", std::process::id()),
        100,
        30,
        &command,
        dir.path(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while read_exit(&done).is_none() {
        assert!(
            Instant::now() < deadline,
            "the child did not finish:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Whole: nothing written after the panic (the harness's report, the shell) overwrote it.
    let screen = tmux.wait_for("the panic message on the normal screen", |s| {
        s.contains("\ncbbook-e2e: a panic while the viewer holds the terminal\n")
    });
    assert!(
        !screen.contains("CONTENT OF THE ALTERNATE SCREEN"),
        "the alternate screen's content is gone:\n{screen}"
    );
    assert_eq!(tmux.pane_flag("alternate_on"), "0", "alternate screen left");
    assert_eq!(tmux.pane_flag("cursor_flag"), "1", "cursor shown");
    let modes = std::fs::read_to_string(&stty).unwrap();
    let words: Vec<&str> = modes.split_whitespace().collect();
    for mode in ["icanon", "echo", "isig"] {
        assert!(
            words.contains(&mode),
            "raw mode left on ({mode} off):\n{modes}"
        );
    }
}

/// Runs the viewer (replaying a short recording, which stays on screen after its end) in tmux,
/// sends it `signal` with `kill` once it is drawn, and checks that it exits with `status` and
/// leaves the terminal as the shell needs it: the alternate screen left, the cursor shown, and
/// line mode, echo and signals back on.
fn a_signal_gives_the_terminal_back(signal: &str, status: &str) {
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("session.jsonl");
    let connect = r#"{"t":1767225600000,"connect":{"url":"wss://advanced-trade-ws.coinbase.com","authenticated":false,"products":["BTC-USD"]}}"#;
    let lines = [connect.to_string(), recorded_snapshot(1_767_225_600_100, 0)];
    std::fs::write(&recording, lines.join("\n") + "\n").unwrap();
    let (pid_file, exit_file) = (dir.path().join("pid"), dir.path().join("exit"));
    let (stty, done) = (dir.path().join("stty"), dir.path().join("done"));
    // `exec` keeps the shell's pid for the viewer, so that the pid written is the viewer's and
    // the viewer is in the foreground with the terminal as its stdin.
    let command = format!(
        "sh -c 'echo $$ > {}; exec {} replay {} --log-file {}'; echo $? > {}; stty -a > {}; \
         echo finished > {}; sleep 60",
        shell_quote(&pid_file),
        shell_quote(&common::cbbook_bin()),
        shell_quote(&recording),
        shell_quote(&dir.path().join("cbbook.log")),
        shell_quote(&exit_file),
        shell_quote(&stty),
        shell_quote(&done),
    );
    let tmux = Tmux::start(
        &format!("cbbook-e2e-{signal}-{}", std::process::id()),
        100,
        30,
        &command,
        dir.path(),
    );
    tmux.wait_for("the replayed book", |s| s.contains("Replay finished"));
    assert_eq!(
        tmux.pane_flag("alternate_on"),
        "1",
        "the viewer took the screen"
    );
    let pid = read_exit(&pid_file).unwrap();
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal} {pid}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while read_exit(&done).is_none() {
        assert!(
            Instant::now() < deadline,
            "the viewer did not end on SIG{signal}:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        read_exit(&exit_file).as_deref(),
        Some(status),
        "SIG{signal}"
    );
    assert_eq!(
        tmux.pane_flag("alternate_on"),
        "0",
        "SIG{signal}: alternate screen left"
    );
    assert_eq!(
        tmux.pane_flag("cursor_flag"),
        "1",
        "SIG{signal}: cursor shown"
    );
    let modes = std::fs::read_to_string(&stty).unwrap();
    let words: Vec<&str> = modes.split_whitespace().collect();
    for mode in ["icanon", "echo", "isig"] {
        assert!(
            words.contains(&mode),
            "SIG{signal}: raw mode left on ({mode} off):\n{modes}"
        );
    }
}

#[test]
fn sigint_sent_to_the_viewer_gives_the_terminal_back() {
    a_signal_gives_the_terminal_back("INT", "130");
}

#[test]
fn sigquit_sent_to_the_viewer_gives_the_terminal_back() {
    a_signal_gives_the_terminal_back("QUIT", "131");
}

#[test]
fn every_other_ending_signal_gives_the_terminal_back() {
    for (signal, status) in [
        ("TERM", "143"),
        ("HUP", "129"),
        ("USR1", "138"),
        ("ALRM", "142"),
    ] {
        a_signal_gives_the_terminal_back(signal, status);
    }
}

/// The viewer replaying a file with no readable entry says so in place of the book, instead of
/// waiting for a snapshot for ever; while such a file is still being read it says that.
#[test]
fn a_replay_of_a_file_without_entries_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "\n\n").unwrap();
    for (case, (file, expect)) in [
        (
            "/dev/zero",
            "no readable entry in the 768 MiB read from line 1 on",
        ),
        (path_text(&empty), "is empty: nothing to replay"),
    ]
    .into_iter()
    .enumerate()
    {
        // A tmux server of its own per case: the first case's server may still be exiting when
        // the second starts, and a new session on its socket then fails.
        let home = dir.path().join(format!("case{case}"));
        std::fs::create_dir(&home).unwrap();
        let command = format!(
            "{} replay {} --log-file {}; sleep 60",
            shell_quote(&common::cbbook_bin()),
            shell_quote(Path::new(file)),
            shell_quote(&dir.path().join("cbbook.log")),
        );
        let tmux = Tmux::start(
            &format!("cbbook-e2e-noentry-{}", std::process::id()),
            100,
            30,
            &command,
            &home,
        );
        let screen = tmux.wait_for("the reason the replay stopped", |s| {
            s.contains("cannot replay") && s.contains(expect)
        });
        assert!(!screen.contains("snapshot…"), "{screen}");
        assert!(
            screen.contains(&format!("cannot replay {file}")),
            "{screen}"
        );
        drop(tmux);
    }
}

fn path_text(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `cbbook --demo` with `o`: the demo key's resting orders are marked on the ladder (`◆`) and
/// counted on the tabs, the pane lists them (read-only), `o` again lists every product's, and
/// they fill as the demo market trades through them: a fill appears under "last fills".
#[test]
fn demo_orders_show_on_the_ladder_and_in_the_pane_and_fill() {
    let dir = tempfile::tempdir().unwrap();
    let exit_file = dir.path().join("exit");
    let command = format!(
        "{} --demo --utc --log-file {}; echo $? > {}",
        shell_quote(&common::cbbook_bin()),
        shell_quote(&dir.path().join("cbbook.log")),
        shell_quote(&exit_file),
    );
    let tmux = Tmux::start(
        &format!("cbbook-e2e-orders-{}", std::process::id()),
        140,
        45,
        &command,
        dir.path(),
    );
    let live = tmux.wait_for("a live book with your orders marked", |s| {
        s.contains("LIVE") && ladder(s).len() >= 10 && s.contains("◆")
    });
    let tabs = live.lines().next().unwrap_or_default();
    assert!(tabs.contains("BTC-USD ◆"), "the tab counts them: {tabs}");

    tmux.keys(&["o"]);
    // Waited for whole: a capture may catch the terminal halfway through drawing the pane.
    tmux.wait_for("the orders pane, read-only, with the level size", |s| {
        s.contains("your orders · BTC-USD")
            && s.contains(" OPEN ")
            && s.contains("cbbook only reads")
            && s.contains("level size")
    });

    tmux.keys(&["o"]);
    tmux.wait_for("every product's orders", |s| {
        s.contains("your orders · all products")
    });
    // The demo orders rest a few ticks from the touch: the market trades through them within
    // a minute or two.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let screen = tmux.screen();
        if screen.contains("last fills") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no fill in 180 s; the screen:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    tmux.keys(&["o"]);
    tmux.wait_for("the pane closed", |s| !s.contains("your orders"));
    quit_and_expect_status_0(&tmux, &exit_file);
}

#[test]
fn m_opens_a_moving_heatmap_and_brackets_change_its_time_per_column() {
    let dir = tempfile::tempdir().unwrap();
    let exit_file = dir.path().join("exit");
    let command = format!(
        "{} --demo --utc --log-file {}; echo $? > {}",
        shell_quote(&common::cbbook_bin()),
        shell_quote(&dir.path().join("cbbook.log")),
        shell_quote(&exit_file),
    );
    let tmux = Tmux::start(
        &format!("cbbook-e2e-heatmap-{}", std::process::id()),
        140,
        40,
        &command,
        dir.path(),
    );
    tmux.wait_for("a live book", |s| {
        s.contains("LIVE") && ladder(s).len() >= 10
    });
    tmux.keys(&["m"]);
    let cells = |s: &str| s.chars().filter(|c| matches!(c, '▀' | '▄')).count();
    let first = tmux.wait_for("the heatmap filling with columns", |s| {
        s.contains("BTC-USD heatmap") && s.contains("1s/col") && cells(s) > 40
    });
    assert!(first.contains("now"), "the time axis:\n{first}");
    // Another column a second later: the picture moves.
    tmux.wait_for("the heatmap moving", |s| {
        s.contains("1s/col") && cells(s) > cells(&first) + 5
    });
    tmux.keys(&["["]);
    tmux.wait_for("500 ms a column", |s| s.contains("500ms/col"));
    tmux.keys(&["]", "]"]);
    tmux.wait_for("2 s a column", |s| s.contains("2s/col"));
    tmux.keys(&["m"]);
    let closed = tmux.wait_for("the ladder back", |s| !s.contains("heatmap ·"));
    assert!(ladder(&closed).len() >= 10, "{closed}");
    quit_and_expect_status_0(&tmux, &exit_file);
}
