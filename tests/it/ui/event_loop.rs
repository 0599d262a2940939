//! The event loop with scripted input and a hand-driven feed: keys reach the App, commands reach
//! the feed, and frames are paced (at most `fps` a second, none when nothing changes).

use crate::support::ui as ui_fixtures;

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cbbook::app::App;
use cbbook::feed::events::{FeedCommand, FeedHandle, FeedView};
use cbbook::tui::{event_loop, now_ms};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};
use futures_util::Stream;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::{mpsc, watch};
use ui_fixtures::*;

/// The test's side of a running viewer.
struct Rig {
    keys: mpsc::UnboundedSender<io::Result<Event>>,
    views: watch::Sender<Arc<FeedView>>,
    events: mpsc::Sender<cbbook::feed::events::FeedEvent>,
    commands: mpsc::UnboundedReceiver<FeedCommand>,
    viewer: tokio::task::JoinHandle<anyhow::Result<App>>,
}

fn start(fps: u32, first: FeedView) -> Rig {
    let (keys, key_rx) = mpsc::unbounded_channel();
    let (views, view_rx) = watch::channel(Arc::new(first));
    let (events, event_rx) = mpsc::channel(64);
    let (command_tx, commands) = mpsc::unbounded_channel();
    let handle = FeedHandle {
        views: view_rx,
        events: event_rx,
        commands: command_tx,
    };
    let input = input_stream(key_rx);
    let viewer = tokio::spawn(async move {
        let mut terminal = Terminal::new(TestBackend::new(80, 24))?;
        let app = App::new(setup(), now_ms());
        event_loop(&mut terminal, input, handle, app, fps, now_ms).await
    });
    Rig {
        keys,
        views,
        events,
        commands,
        viewer,
    }
}

fn input_stream(
    rx: mpsc::UnboundedReceiver<io::Result<Event>>,
) -> impl Stream<Item = io::Result<Event>> + Unpin {
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (event, rx))
    }))
}

fn press(code: KeyCode) -> io::Result<Event> {
    Ok(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

impl Rig {
    fn key(&self, code: KeyCode) {
        self.keys.send(press(code)).unwrap();
    }

    /// Waits for the viewer to end (generously: the machine may be loaded).
    async fn finish(self) -> (App, Vec<FeedCommand>) {
        let Rig {
            viewer,
            mut commands,
            keys,
            views,
            events,
        } = self;
        let app = tokio::time::timeout(Duration::from_secs(30), viewer)
            .await
            .expect("the viewer did not stop")
            .unwrap()
            .unwrap();
        drop((keys, views, events));
        let mut sent = Vec::new();
        while let Ok(command) = commands.try_recv() {
            sent.push(command);
        }
        (app, sent)
    }
}

#[tokio::test]
async fn keys_drive_the_viewer_and_quit_shuts_the_feed_down() {
    let rig = start(30, live_view());
    rig.key(KeyCode::Right);
    rig.key(KeyCode::Char('a'));
    rig.key(KeyCode::Char('r'));
    rig.key(KeyCode::Char('+'));
    rig.key(KeyCode::Esc); // closes the auth pane
    rig.key(KeyCode::Char('q'));
    let (app, sent) = rig.finish().await;
    assert_eq!(app.selected(), 1);
    assert_eq!(app.side_pane(), cbbook::app::SidePane::None);
    assert_eq!(app.group_ticks(), 2);
    assert!(
        matches!(sent.first(), Some(FeedCommand::SetView(v)) if v.depth == 8),
        "{sent:?}"
    );
    assert!(sent.contains(&FeedCommand::Resync), "{sent:?}");
    assert!(
        sent.iter()
            .any(|c| matches!(c, FeedCommand::SetView(v) if v.group_ticks == 2)),
        "{sent:?}"
    );
    assert_eq!(sent.last(), Some(&FeedCommand::Shutdown));
}

#[tokio::test]
async fn releases_do_not_count_and_ctrl_c_quits() {
    let rig = start(30, live_view());
    rig.keys
        .send(Ok(Event::Key(KeyEvent {
            code: KeyCode::Char('q'),
            modifiers: KeyModifiers::NONE,
            kind: KeyEventKind::Release,
            state: KeyEventState::NONE,
        })))
        .unwrap();
    rig.key(KeyCode::Char('r'));
    rig.keys
        .send(Ok(Event::Key(KeyEvent::new(
            KeyCode::Char('c'),
            KeyModifiers::CONTROL,
        ))))
        .unwrap();
    let (_, sent) = rig.finish().await;
    assert!(
        sent.contains(&FeedCommand::Resync),
        "the release of q did not quit before r: {sent:?}"
    );
}

#[tokio::test]
async fn resize_asks_for_a_new_depth() {
    let rig = start(30, live_view());
    rig.keys.send(Ok(Event::Resize(120, 40))).unwrap();
    rig.key(KeyCode::Char('q'));
    let (app, sent) = rig.finish().await;
    assert_eq!(app.size(), (120, 40));
    assert!(
        sent.iter()
            .any(|c| matches!(c, FeedCommand::SetView(v) if v.depth == 16)),
        "{sent:?}"
    );
}

#[tokio::test]
async fn frames_are_capped_at_fps_under_a_flood_of_views() {
    let fps = 30;
    let rig = start(fps, live_view());
    let started = Instant::now();
    let views = rig.views.clone();
    let flood = tokio::spawn(async move {
        let mut n = 0u64;
        while started.elapsed() < Duration::from_secs(1) {
            let mut view = live_view();
            view.stats.frames += n;
            n += 1;
            views.send_replace(Arc::new(view));
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        n
    });
    let published = flood.await.unwrap();
    rig.key(KeyCode::Char('q'));
    let (app, _) = rig.finish().await;
    let elapsed = started.elapsed().as_secs_f64();
    let frames = app.frames_drawn();
    // Ticks come every 1/fps from the start (the first at once); draws happen only on ticks.
    let most = (elapsed * f64::from(fps)).ceil() as u64 + 1;
    assert!(published > 100, "the flood was a flood: {published} views");
    assert!(frames >= 1, "something was drawn");
    assert!(
        frames <= most,
        "{frames} frames in {elapsed:.2} s at {fps} fps"
    );
    assert!(frames < published, "{frames} frames for {published} views");
}

#[tokio::test]
async fn an_idle_screen_is_redrawn_only_for_its_clocks() {
    let fps = 60;
    let rig = start(fps, live_view());
    let started = Instant::now();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    rig.key(KeyCode::Char('q'));
    let (app, _) = rig.finish().await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    // Ages and uptime change at most every 250 ms; everything else is still.
    let most = elapsed_ms / 250 + 2;
    assert!(
        app.frames_drawn() <= most,
        "{} frames in {elapsed_ms} ms of nothing (at most {most})",
        app.frames_drawn()
    );
    assert!(
        app.frames_drawn() < u64::from(fps) * elapsed_ms / 1000 / 4,
        "far fewer than fps"
    );
}

#[tokio::test]
async fn a_finished_feed_leaves_the_viewer_up_until_the_user_quits() {
    let rig = start(30, live_view());
    let Rig {
        keys,
        views,
        events,
        commands,
        viewer,
    } = rig;
    drop(views);
    drop(events);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!viewer.is_finished(), "the viewer stays up");
    let rig = Rig {
        keys,
        views: watch::channel(Arc::new(live_view())).0,
        events: mpsc::channel(1).0,
        commands,
        viewer,
    };
    rig.key(KeyCode::Char('q'));
    let (app, _) = rig.finish().await;
    assert!(screen(&app).contains("Feed stopped"));
}

#[test]
fn without_a_terminal_the_viewer_refuses_and_writes_nothing_to_stdout() {
    let home = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cbbook"))
        .arg("--demo")
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the viewer did not give up without a terminal");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("needs a terminal") && stderr.contains("--headless"),
        "{stderr}"
    );
    // Nothing was taken, so nothing is given back: no escape sequences in the file.
    assert!(
        out.stdout.is_empty(),
        "stdout: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
}
