//! The terminal: init and restore, the event loop, frame pacing.
//!
//! [`run`] takes the terminal with a [`TerminalGuard`] (its `Drop` restores it, and so does a
//! panic hook while it is held), then runs [`event_loop`]: one `select!` over terminal input,
//! the feed's view `watch`, the feed's event channel, and a frame ticker. Input, views and events
//! only change the [`App`]; the screen is drawn on a tick, at most `fps` times a second, and only
//! when the App says something changed. A burst of feed traffic therefore costs one frame, and
//! keys stay responsive because the feed runs on its own task.

use std::io::{self, Stdout};
use std::panic::PanicHookInfo;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use crossterm::event::{Event, EventStream};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use futures_util::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};
use tokio::time::MissedTickBehavior;

use crate::app::{Action, App, keymap};
use crate::feed::events::{FeedCommand, FeedHandle};

pub use crate::app::ViewerSetup;

/// The time between two frames at `fps` frames per second (`fps` of 0 counts as 1).
pub fn frame_interval(fps: u32) -> Duration {
    Duration::from_secs(1) / fps.max(1)
}

/// Unix milliseconds from the system clock: the only place the viewer reads it.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Runs the viewer on the real terminal until the user quits (exit status 0); then asks the feed
/// to shut down. SIGTERM and SIGHUP also end it, with the terminal restored (status 143, 129).
pub async fn run(handle: FeedHandle, setup: ViewerSetup) -> anyhow::Result<ExitCode> {
    let fps = setup.display.fps;
    let app = App::new(setup, now_ms());
    let stop = termination();
    let mut guard = TerminalGuard::enter()?;
    let viewer = event_loop(
        &mut guard.terminal,
        EventStream::new(),
        handle,
        app,
        fps,
        now_ms,
    );
    let result = tokio::select! {
        result = viewer => result.map(|_| ExitCode::SUCCESS),
        code = stop => Ok(ExitCode::from(code)),
    };
    drop(guard);
    result
}

/// Resolves with the conventional exit status when the process is asked to terminate.
#[cfg(unix)]
async fn termination() -> u8 {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(mut term), Ok(mut hup)) => tokio::select! {
            _ = term.recv() => 143,
            _ = hup.recv() => 129,
        },
        // Without handlers the default action of these signals still ends the process.
        _ => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn termination() -> u8 {
    std::future::pending().await
}

/// The loop itself, with every side effect injected: any backend, any input stream, any clock.
/// Returns the App as it was when the user quit.
pub async fn event_loop<B, S, C>(
    terminal: &mut Terminal<B>,
    mut input: S,
    mut handle: FeedHandle,
    mut app: App,
    fps: u32,
    clock: C,
) -> anyhow::Result<App>
where
    B: Backend,
    B::Error: std::error::Error + Send + Sync + 'static,
    S: Stream<Item = io::Result<Event>> + Unpin,
    C: Fn() -> i64,
{
    let send = |commands: Vec<FeedCommand>, handle: &FeedHandle| {
        for command in commands {
            // The feed may be gone (replay over); there is nobody left to tell.
            let _ = handle.commands.send(command);
        }
    };

    let size = terminal.size().context("reading the terminal size")?;
    app.update(Action::Tick { now_ms: clock() });
    let commands = app.update(Action::Resize {
        width: size.width,
        height: size.height,
    });
    send(commands, &handle);
    let first = Arc::clone(&handle.views.borrow_and_update());
    send(app.update(Action::View(first)), &handle);

    let mut ticker = tokio::time::interval(frame_interval(fps));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let (mut input_open, mut views_open, mut events_open) = (true, true, true);

    while !app.should_quit() {
        let commands = tokio::select! {
            next = input.next(), if input_open => match next {
                Some(Ok(event)) => match action_for(&event) {
                    Some(action) => app.update(action),
                    None => Vec::new(),
                },
                Some(Err(err)) => return Err(err).context("reading terminal input"),
                None => {
                    input_open = false;
                    Vec::new()
                }
            },
            changed = handle.views.changed(), if views_open => match changed {
                Ok(()) => {
                    let view = Arc::clone(&handle.views.borrow_and_update());
                    app.update(Action::View(view))
                }
                Err(_) => {
                    views_open = false;
                    app.update(Action::FeedClosed)
                }
            },
            event = handle.events.recv(), if events_open => match event {
                Some(event) => app.update(Action::Event(event)),
                None => {
                    events_open = false;
                    Vec::new()
                }
            },
            _ = ticker.tick() => {
                let commands = app.update(Action::Tick { now_ms: clock() });
                if app.needs_draw() {
                    terminal
                        .draw(|frame| crate::ui::draw(frame, &app))
                        .context("drawing the screen")?;
                    app.drawn();
                }
                commands
            }
        };
        send(commands, &handle);
    }
    let _ = handle.commands.send(FeedCommand::Shutdown);
    Ok(app)
}

/// The App's action for a terminal event, if it has one.
pub fn action_for(event: &Event) -> Option<Action> {
    match event {
        Event::Key(key) => keymap::key_action(key).map(Action::Key),
        Event::Resize(width, height) => Some(Action::Resize {
            width: *width,
            height: *height,
        }),
        _ => None,
    }
}

type PanicHook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

/// Holds the terminal in raw mode on the alternate screen. Dropping it, or a panic while it is
/// held, gives the terminal back as it was.
pub struct TerminalGuard {
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
    previous_hook: Arc<PanicHook>,
}

impl TerminalGuard {
    /// Takes the terminal. Fails with a clear message when stdout is not a terminal.
    pub fn enter() -> anyhow::Result<TerminalGuard> {
        let previous_hook: Arc<PanicHook> = Arc::new(std::panic::take_hook());
        let chained = Arc::clone(&previous_hook);
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            chained(info);
        }));
        let guard = TerminalGuard::take(previous_hook);
        if guard.is_err() {
            restore_terminal();
        }
        guard
    }

    fn take(previous_hook: Arc<PanicHook>) -> anyhow::Result<TerminalGuard> {
        enable_raw_mode().context(
            "the viewer needs a terminal (stdin/stdout must be a TTY); use --headless in scripts",
        )?;
        TERMINAL_HELD.store(true, Ordering::SeqCst);
        execute!(io::stdout(), EnterAlternateScreen, crossterm::cursor::Hide)
            .context("taking the terminal")?;
        let terminal =
            Terminal::new(CrosstermBackend::new(io::stdout())).context("taking the terminal")?;
        Ok(TerminalGuard {
            terminal,
            previous_hook,
        })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
        // Put the previous hook back, except while unwinding: the hook cannot change then, and
        // ours restores a terminal that is already restored, which is harmless.
        if !std::thread::panicking() {
            let previous = Arc::clone(&self.previous_hook);
            let _ = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| previous(info)));
        }
    }
}

/// Set while the terminal is taken. A panic restores it twice (the hook, then the guard's drop
/// while unwinding), and leaving the alternate screen a second time moves the cursor back to
/// where it was when the viewer started: the shell's next output would overwrite the panic
/// message. So only the first restore acts.
static TERMINAL_HELD: AtomicBool = AtomicBool::new(false);

/// Leaves raw mode and the alternate screen and shows the cursor, once per taking; errors are
/// ignored because there is nothing better to do with them on the way out.
fn restore_terminal() {
    if TERMINAL_HELD.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(io::stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_interval_is_one_over_fps() {
        for fps in [1, 10, 24, 30, 60, 120, 240] {
            let interval = frame_interval(fps);
            let second = interval * fps;
            // Exact up to the nanosecond rounding of 1/fps.
            assert!(second <= Duration::from_secs(1), "fps {fps}");
            assert!(
                Duration::from_secs(1) - second < Duration::from_nanos(fps.into()),
                "fps {fps}"
            );
        }
        assert_eq!(frame_interval(30), Duration::from_nanos(33_333_333));
        assert_eq!(frame_interval(0), Duration::from_secs(1));
    }
}
