//! Reading a busy feed in rounds (docs/feed.md, "Reading in rounds").
//!
//! A busy feed sends its frames one by one: with 200 products, about 10,000 a second over 20
//! connections. Read as each one lands, every frame costs the feed's thread a wake-up, an
//! `epoll_wait` and a `recvfrom` (with the context switches around them), which was most of the
//! viewer's CPU, far more than parsing and applying the frames. The viewer runs its feed on one
//! thread of its own; while frames come faster than [`BUSY_FRAMES_PER_SEC`], that thread rests
//! between rounds: the kernel queues what lands meanwhile, and the next round reads everything
//! that came, on every connection, in one wake-up.
//!
//! What it costs: a frame waits at most one [`ROUND`] (5 ms) before it is read, a fraction of the
//! screen's 33 ms frame time; frames are read in order and none is skipped (the kernel holds
//! them). It never slows a feed down: a round that took a whole [`ROUND`] of work is followed by
//! no rest at all. A quiet feed (a few frames a second) is read as soon as each frame lands.
//!
//! The rest blocks the thread (that is the point: a thread blocked in a sleep is not woken by
//! the network), so it runs only where the feed has a multi-threaded runtime with one worker to
//! itself, as the viewer's does ([`can_rest_here`]); the viewer's screen runs on another thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::runtime::{Handle, RuntimeFlavor};

/// The longest a frame waits for its round.
pub const ROUND: Duration = Duration::from_millis(5);
/// Below this rate the feed is read as frames land.
pub const BUSY_FRAMES_PER_SEC: u64 = 500;
/// How often the rate is looked at.
const WATCH: Duration = Duration::from_millis(200);

/// Frames received by the connections of a session (they count them), and the rests taken.
#[derive(Debug, Default)]
pub struct FrameCount {
    frames: AtomicU64,
    rests: AtomicU64,
}

impl FrameCount {
    pub fn add_one(&self) {
        self.frames.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    /// Rests taken between rounds so far.
    pub fn rests(&self) -> u64 {
        self.rests.load(Ordering::Relaxed)
    }
}

/// Whether the current runtime gives its one worker to the feed: a multi-threaded runtime with
/// one worker (a current-thread runtime would stop everything else on it while resting).
pub fn can_rest_here() -> bool {
    let handle = Handle::current();
    handle.runtime_flavor() == RuntimeFlavor::MultiThread && handle.metrics().num_workers() == 1
}

/// How long to rest after a round whose work took `worked`: the rest of the [`ROUND`].
pub fn rest_after(worked: Duration) -> Duration {
    ROUND.saturating_sub(worked)
}

/// Whether `frames` received over `over` make a busy feed.
pub fn is_busy(frames: u64, over: Duration) -> bool {
    let millis = over.as_millis();
    millis > 0 && u128::from(frames) * 1000 / millis >= u128::from(BUSY_FRAMES_PER_SEC)
}

/// Runs for the life of the session (the session aborts it): watches the frame rate and, while
/// it is busy, rests the thread between rounds.
pub async fn rest_between_rounds(frames: Arc<FrameCount>) {
    loop {
        // Quiet: look again in a while, without holding the thread.
        let seen = frames.get();
        tokio::time::sleep(WATCH).await;
        if !is_busy(frames.get() - seen, WATCH) {
            continue;
        }
        tracing::debug!("the feed is busy: reading it in rounds of {ROUND:?}");
        let mut window = (Instant::now(), frames.get());
        loop {
            // The round: every task the network woke runs before this one is polled again.
            let round = Instant::now();
            tokio::task::yield_now().await;
            // Blocking on purpose (see the module comment): frames queue in the kernel.
            std::thread::sleep(rest_after(round.elapsed()));
            frames.rests.fetch_add(1, Ordering::Relaxed);
            let (since, seen) = window;
            if since.elapsed() >= WATCH {
                let now = frames.get();
                if !is_busy(now - seen, since.elapsed()) {
                    tracing::debug!("the feed is quiet again: reading frames as they land");
                    break;
                }
                window = (Instant::now(), now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_rests_for_what_its_work_left_of_it() {
        assert_eq!(rest_after(Duration::ZERO), ROUND);
        assert_eq!(
            rest_after(Duration::from_millis(2)),
            ROUND - Duration::from_millis(2)
        );
        assert_eq!(rest_after(ROUND), Duration::ZERO, "a full round: no rest");
        assert_eq!(
            rest_after(ROUND * 3),
            Duration::ZERO,
            "never a rest after a long round"
        );
    }

    #[test]
    fn busy_from_the_threshold_rate() {
        let second = Duration::from_secs(1);
        assert!(!is_busy(0, second));
        assert!(!is_busy(BUSY_FRAMES_PER_SEC - 1, second));
        assert!(is_busy(BUSY_FRAMES_PER_SEC, second));
        assert!(is_busy(BUSY_FRAMES_PER_SEC / 5, Duration::from_millis(200)));
        assert!(
            !is_busy(1, Duration::ZERO),
            "no time: no rate, no division by zero"
        );
    }

    #[test]
    fn frames_are_counted() {
        let count = FrameCount::default();
        count.add_one();
        count.add_one();
        assert_eq!(count.get(), 2);
    }

    #[test]
    fn rests_only_on_a_runtime_with_one_worker_of_its_own() {
        let one = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        assert!(one.block_on(async { can_rest_here() }));
        let two = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        assert!(!two.block_on(async { can_rest_here() }));
        let current = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(!current.block_on(async { can_rest_here() }));
    }

    #[test]
    fn a_busy_feed_is_read_in_rounds_and_a_quiet_one_as_frames_land() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let frames = Arc::new(FrameCount::default());
            let rounds = tokio::spawn(rest_between_rounds(Arc::clone(&frames)));
            // Quiet: a few frames, no rest.
            for _ in 0..5 {
                frames.add_one();
                tokio::time::sleep(WATCH / 2).await;
            }
            assert_eq!(frames.rests(), 0, "a quiet feed is never rested");
            // Busy: far more than the threshold (100 frames a millisecond at most).
            let feeder = {
                let frames = Arc::clone(&frames);
                tokio::spawn(async move {
                    loop {
                        for _ in 0..100 {
                            frames.add_one();
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                })
            };
            let started = Instant::now();
            while frames.rests() < 10 {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "a busy feed is rested"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            // While resting, the thread runs once a round: a task that would run every
            // millisecond runs at most once per rest (give or take the round in progress).
            let (rests, ticks) = (frames.rests(), ticks_in(Duration::from_millis(100)).await);
            assert!(
                ticks <= frames.rests() - rests + 2,
                "{ticks} wake-ups over {} rests",
                frames.rests() - rests
            );
            // Quiet again: the rests stop.
            feeder.abort();
            tokio::time::sleep(WATCH * 3).await;
            let settled = frames.rests();
            tokio::time::sleep(WATCH * 2).await;
            assert_eq!(
                frames.rests(),
                settled,
                "a feed gone quiet is no longer rested"
            );
            rounds.abort();
        });
    }

    /// How many times a task waiting 1 ms at a time runs in `span`.
    async fn ticks_in(span: Duration) -> u64 {
        let start = Instant::now();
        let mut n = 0;
        while start.elapsed() < span {
            tokio::time::sleep(Duration::from_millis(1)).await;
            n += 1;
        }
        n
    }
}
