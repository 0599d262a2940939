//! The terminal: init and restore, the event loop, frame pacing.
//!
//! [`run`] takes the terminal with a [`TerminalGuard`] (its `Drop` restores it, and so does a
//! panic hook while it is held), then runs [`event_loop`]: one `select!` over terminal input,
//! the feed's view `watch`, the feed's event channel, and a frame ticker. Input, views and events
//! only change the [`App`]; the screen is drawn on a tick, at most `fps` times a second, and only
//! when the App says something changed. The loop owns the ui's [`DrawState`] across frames, and
//! hands the App what each frame measured. A burst of feed traffic therefore costs one frame, and
//! keys stay responsive because the feed runs on its own task.

use std::io::{self, IsTerminal, Stdout};
use std::panic::PanicHookInfo;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{self, Poll};
use std::time::Duration;

use anyhow::Context;
use crossterm::event::{Event, EventStream};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use futures_util::{Stream, StreamExt};
use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::app::{Action, App, keymap};
use crate::feed::events::{FeedCommand, FeedEvent, FeedHandle};
use crate::ui::{self, DrawState};

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
/// to shut down. A signal that would end the process (SIGINT, SIGTERM, SIGHUP, SIGQUIT and the
/// others of [`ENDING_SIGNALS`]) ends it too, with the terminal restored and the shell's status
/// for that signal (130, 143, 129, 131...).
pub async fn run(handle: FeedHandle, setup: ViewerSetup) -> anyhow::Result<ExitCode> {
    let fps = setup.display.fps;
    let app = App::new(setup, now_ms());
    // Before the terminal is taken: from here on no such signal can end the process with the
    // terminal in raw mode on the alternate screen.
    let mut stop = Termination::install();
    let mut guard = TerminalGuard::enter()?;
    let input = TerminalInput::start();
    let viewer = event_loop(&mut guard.terminal, input, handle, app, fps, now_ms);
    let result = tokio::select! {
        result = viewer => result.map(|_| ExitCode::SUCCESS),
        code = stop.recv() => Ok(ExitCode::from(code)),
    };
    drop(guard);
    result
}

/// Terminal input, read on a task of its own and handed over through a channel.
///
/// crossterm's `EventStream` looks for input every time it is polled, and while its thread waits
/// for input it holds the reader's lock, so each poll spins on that lock (`sched_yield`) before
/// giving up. Polled from a `select!` that is entered on every view and tick, that cost a spin
/// per wake-up; on its own task it is polled only when input has arrived.
pub struct TerminalInput {
    events: mpsc::UnboundedReceiver<io::Result<Event>>,
    reader: tokio::task::JoinHandle<()>,
}

impl TerminalInput {
    /// Starts reading; must be called within the Tokio runtime.
    pub fn start() -> TerminalInput {
        let (sender, events) = mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            let mut stream = EventStream::new();
            while let Some(event) = stream.next().await {
                let failed = event.is_err();
                // After an error the stream may fail again at once: stop, the loop reports it.
                if sender.send(event).is_err() || failed {
                    break;
                }
            }
        });
        TerminalInput { events, reader }
    }
}

impl Stream for TerminalInput {
    type Item = io::Result<Event>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.poll_recv(cx)
    }
}

impl Drop for TerminalInput {
    /// Stops the reader; dropping its `EventStream` ends crossterm's input thread.
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// The signals whose default action ends the process, which the viewer handles so that the
/// terminal is restored first, with the exit status a shell shows for each (128 + its number).
///
/// Raw mode turns Ctrl-C and Ctrl-\ into key presses, but the same signals still come from
/// `kill`, a process manager, or a terminal closing. Left out: SIGKILL and SIGSTOP (cannot be
/// caught), the signals of a fault in the program itself (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
/// SIGTRAP, SIGABRT, SIGSYS: returning from a handler would run the faulting code again; a panic
/// restores the terminal through the panic hook), SIGPIPE (ignored by every Rust program), and
/// the job-control stops (SIGTSTP, SIGTTIN, SIGTTOU), which suspend the viewer, not end it.
#[cfg(unix)]
pub const ENDING_SIGNALS: &[(&str, libc::c_int)] = &[
    ("SIGHUP", libc::SIGHUP),
    ("SIGINT", libc::SIGINT),
    ("SIGQUIT", libc::SIGQUIT),
    ("SIGTERM", libc::SIGTERM),
    ("SIGALRM", libc::SIGALRM),
    ("SIGUSR1", libc::SIGUSR1),
    ("SIGUSR2", libc::SIGUSR2),
    ("SIGVTALRM", libc::SIGVTALRM),
    ("SIGPROF", libc::SIGPROF),
    ("SIGXCPU", libc::SIGXCPU),
    ("SIGXFSZ", libc::SIGXFSZ),
    ("SIGIO", libc::SIGIO),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    ("SIGPWR", libc::SIGPWR),
];

/// Handlers for [`ENDING_SIGNALS`], installed when made; [`Termination::recv`] resolves with the
/// exit status of the first signal to arrive.
struct Termination {
    #[cfg(unix)]
    signals: Vec<(tokio::signal::unix::Signal, u8)>,
}

impl Termination {
    /// Installs the handlers (within the Tokio runtime). A signal whose handler cannot be
    /// installed keeps its default action, and the failure is logged.
    fn install() -> Termination {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signals = ENDING_SIGNALS
                .iter()
                .filter_map(
                    |&(name, number)| match signal(SignalKind::from_raw(number)) {
                        Ok(handler) => {
                            let status = u8::try_from(128 + number).unwrap_or(u8::MAX);
                            Some((handler, status))
                        }
                        Err(err) => {
                            tracing::warn!("cannot handle {name}: {err}");
                            None
                        }
                    },
                )
                .collect();
            Termination { signals }
        }
        #[cfg(not(unix))]
        Termination {}
    }

    /// The exit status of the first signal received; never resolves without handlers.
    async fn recv(&mut self) -> u8 {
        #[cfg(unix)]
        {
            if self.signals.is_empty() {
                return std::future::pending().await;
            }
            let waits = self.signals.iter_mut().map(|(handler, status)| {
                let status = *status;
                Box::pin(async move {
                    if handler.recv().await.is_none() {
                        // The runtime's signal driver is gone: no signal can come any more.
                        std::future::pending::<()>().await;
                    }
                    status
                })
            });
            futures_util::future::select_all(waits).await.0
        }
        #[cfg(not(unix))]
        std::future::pending().await
    }
}

/// The loop itself, with every side effect injected: any backend, any input stream, any clock.
/// Returns the App as it was when the user quit.
///
/// It sleeps until something happens: input, a view, a feed event, or the wake-up
/// [`FramePacing`] sets (the next frame a changed screen may have, or the next change of the
/// screen's clocks). Every step first brings the App's time up to date, so flashes and rates
/// start from when a view arrived.
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
    let commands = app.update(ui::resize(size.width, size.height));
    send(commands, &handle);
    let first = Arc::clone(&handle.views.borrow_and_update());
    send(app.update(Action::View(first)), &handle);

    // What the drawing keeps across frames (the ladder's columns) and measured in the last one.
    let mut drawing = DrawState::default();
    let mut pacing = FramePacing::new(fps);
    let wake = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(wake);
    let (mut input_open, mut views_open, mut events_open) = (true, true, true);

    while !app.should_quit() {
        let deadline = pacing.next_wake(&app, clock());
        if wake.deadline() != deadline {
            wake.as_mut().reset(deadline);
        }
        let step = tokio::select! {
            next = input.next(), if input_open => Step::Input(next),
            changed = handle.views.changed(), if views_open => Step::View(changed.is_ok()),
            event = handle.events.recv(), if events_open => Step::Event(event),
            () = &mut wake => Step::Wake,
        };
        let mut commands = app.update(Action::Tick { now_ms: clock() });
        match step {
            Step::Input(Some(Ok(event))) => {
                if let Event::Resize(width, height) = event {
                    // The size comes from here only: asking the terminal on every frame (as a
                    // full-screen viewport does) costs an open of /dev/tty and an ioctl each time.
                    terminal
                        .resize(Rect::new(0, 0, width, height))
                        .context("resizing the screen")?;
                }
                if let Some(action) = action_for(&event, app.key_mode()) {
                    commands.extend(app.update(action));
                }
            }
            Step::Input(Some(Err(err))) => return Err(err).context("reading terminal input"),
            Step::Input(None) => input_open = false,
            Step::View(true) => {
                let view = Arc::clone(&handle.views.borrow_and_update());
                commands.extend(app.update(Action::View(view)));
            }
            Step::View(false) => {
                views_open = false;
                commands.extend(app.update(Action::FeedClosed));
            }
            Step::Event(Some(event)) => commands.extend(app.update(Action::Event(event))),
            Step::Event(None) => events_open = false,
            Step::Wake => {
                if app.needs_draw() {
                    terminal
                        .draw(|frame| ui::draw(frame, &app, &mut drawing))
                        .context("drawing the screen")?;
                    pacing.drawn();
                    app.drawn();
                    commands.extend(app.update(Action::Measured(drawing.measured())));
                }
            }
        }
        send(commands, &handle);
    }
    let _ = handle.commands.send(FeedCommand::Shutdown);
    Ok(app)
}

/// What woke the event loop.
enum Step {
    Input(Option<io::Result<Event>>),
    /// A new view (true), or the feed's view channel closed (false).
    View(bool),
    Event(Option<FeedEvent>),
    Wake,
}

/// When the event loop wakes by itself. A changed screen is drawn as soon as the last frame is
/// 1/fps old; an unchanged one sleeps until the App's clocks next change (ages every 250 ms, a
/// flash ending), never at the frame rate for nothing.
struct FramePacing {
    interval: Duration,
    last_frame: Option<Instant>,
}

impl FramePacing {
    fn new(fps: u32) -> FramePacing {
        FramePacing {
            interval: frame_interval(fps),
            last_frame: None,
        }
    }

    /// The next wake-up, given the App's state and its clock's current reading.
    fn next_wake(&self, app: &App, now_ms: i64) -> Instant {
        let now = Instant::now();
        let earliest = self
            .last_frame
            .map_or(now, |last| (last + self.interval).max(now));
        if app.needs_draw() {
            return earliest;
        }
        let until_clocks = app.next_clock_change_ms().saturating_sub(now_ms);
        let until_clocks = Duration::from_millis(u64::try_from(until_clocks).unwrap_or(0));
        earliest.max(now + until_clocks)
    }

    fn drawn(&mut self) {
        self.last_frame = Some(Instant::now());
    }
}

/// The App's action for a terminal event, if it has one, with keys read in `mode` (the App's
/// [`App::key_mode`](crate::app::App::key_mode): text while a filter is typed).
pub fn action_for(event: &Event, mode: keymap::KeyMode) -> Option<Action> {
    match event {
        Event::Key(key) => keymap::key_action_in(mode, key).map(Action::Key),
        Event::Resize(width, height) => Some(ui::resize(*width, *height)),
        _ => None,
    }
}

type PanicHook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

/// Holds the terminal in raw mode on the alternate screen. Dropping it, or a panic while it is
/// held, gives the terminal back as it was.
pub struct TerminalGuard {
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
    /// Dropped after `terminal`: gives the terminal back.
    _taken: Taken,
}

impl TerminalGuard {
    /// Takes the terminal. Fails with a clear message, having written nothing, when stdin or
    /// stdout is not a terminal.
    pub fn enter() -> anyhow::Result<TerminalGuard> {
        if !(io::stdin().is_terminal() && io::stdout().is_terminal()) {
            anyhow::bail!(
                "the viewer needs a terminal (stdin and stdout must be a TTY); use --headless in scripts"
            );
        }
        let taken = Taken::take()?;
        let size = crossterm::terminal::size().context("reading the terminal size")?;
        // A fixed viewport, resized on the terminal's resize events: a full-screen one asks the
        // terminal for its size on every frame.
        let options = TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, size.0, size.1)),
        };
        let terminal = Terminal::with_options(CrosstermBackend::new(io::stdout()), options)
            .context("taking the terminal")?;
        Ok(TerminalGuard {
            terminal,
            _taken: taken,
        })
    }
}

/// What has been done to the terminal, undone on drop: raw mode, then the alternate screen and
/// the hidden cursor. Only what was done is undone, so a viewer that never got the terminal
/// writes nothing to a stdout that is not one.
struct Taken {
    previous_hook: Arc<PanicHook>,
}

/// Set while raw mode, and the alternate screen, are held. A panic restores the terminal twice
/// (the hook, then the guard's drop while unwinding), and leaving the alternate screen a second
/// time moves the cursor back to where it was when the viewer started: the shell's next output
/// would overwrite the panic message. So each is undone once per taking.
static RAW_MODE_HELD: AtomicBool = AtomicBool::new(false);
static ALTERNATE_SCREEN_HELD: AtomicBool = AtomicBool::new(false);

impl Taken {
    fn take() -> anyhow::Result<Taken> {
        enable_raw_mode().context(
            "the viewer needs a terminal (stdin and stdout must be a TTY); use --headless in scripts",
        )?;
        RAW_MODE_HELD.store(true, Ordering::SeqCst);
        let previous_hook: Arc<PanicHook> = Arc::new(std::panic::take_hook());
        let chained = Arc::clone(&previous_hook);
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            chained(info);
        }));
        let taken = Taken { previous_hook };
        // On failure `taken` is dropped: raw mode is left again.
        execute!(io::stdout(), EnterAlternateScreen, crossterm::cursor::Hide)
            .context("taking the terminal")?;
        ALTERNATE_SCREEN_HELD.store(true, Ordering::SeqCst);
        Ok(taken)
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        restore_terminal();
        // Put the previous hook back, except while unwinding: the hook cannot change then, and
        // ours finds the terminal already restored.
        if !std::thread::panicking() {
            let previous = Arc::clone(&self.previous_hook);
            let _ = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| previous(info)));
        }
    }
}

/// Leaves raw mode and, if it was entered, the alternate screen, and shows the cursor, each at
/// most once per taking; errors are ignored because there is nothing better to do with them on
/// the way out.
fn restore_terminal() {
    if RAW_MODE_HELD.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
    }
    if ALTERNATE_SCREEN_HELD.swap(false, Ordering::SeqCst) {
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
