//! Counters turned into lines: the latency histograms behind `--stats`'s latency line, and the
//! `--stats` line itself (docs/feed.md, "Headless mode").

use std::time::Duration;

use crate::feed::core::FeedCore;
use crate::feed::time::TimestampCache;

impl FeedCore {
    /// The latency from the server's envelope timestamp to the receive time.
    #[inline]
    pub(super) fn note_latency(&mut self, timestamp: Option<&[u8]>, now_ms: i64) {
        let server_ms = timestamp.and_then(|t| self.timestamps.ms(t));
        // The same figure, its minimum over a window, is the clock offset.
        self.clock_sample(now_ms, server_ms);
        if let Some(ts) = server_ms {
            // Saturating: a recording's receive time can be anything.
            let latency = now_ms.saturating_sub(ts);
            self.stats.latency_ms = Some(latency);
            // A server clock ahead of ours counts as no delay.
            self.server_to_received_ms
                .record(u64::try_from(latency).unwrap_or(0));
        }
    }

    /// The core's reader of envelope timestamps, for a caller that reads the timestamps of the
    /// frames it hands over (replay of bare frames): shared, each timestamp is parsed once.
    pub fn timestamps(&mut self) -> &mut TimestampCache {
        &mut self.timestamps
    }

    /// Live: the time from receiving a frame to having applied it (the caller times
    /// [`FeedCore::on_frame`] and whatever it does before).
    pub fn note_apply_time(&mut self, elapsed: Duration) {
        self.apply_us
            .record(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    }

    /// Receive-to-applied percentiles, and server-to-received ones, when frames were timed
    /// (live runs): `latency: receive_to_applied_us p50=.. p90=.. p99=.. p99.9=.. max=.. n=..;
    /// server_to_received_ms p50=.. ...`.
    pub fn latency_line(&self) -> Option<String> {
        if self.apply_us.is_empty() {
            return None;
        }
        Some(format!(
            "latency: receive_to_applied_us {}; server_to_received_ms {}",
            self.apply_us, self.server_to_received_ms
        ))
    }

    /// The `--stats` line: `frames=N updates=N gaps=N resyncs=N reconnects=N errors=N
    /// crossed=N trades=N elapsed_ms=N updates_per_s=N`.
    pub fn stats_line(&self, elapsed_ms: u64) -> String {
        let s = &self.stats;
        let per_s = if elapsed_ms == 0 {
            0
        } else {
            (u128::from(s.updates) * 1000 / u128::from(elapsed_ms)) as u64
        };
        format!(
            "frames={} updates={} gaps={} resyncs={} reconnects={} errors={} crossed={} trades={} elapsed_ms={} updates_per_s={}",
            s.frames,
            s.updates,
            s.gaps,
            s.resyncs,
            s.reconnects,
            s.errors,
            s.crossed,
            s.trades,
            elapsed_ms,
            per_s
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::core::test_frames::*;

    #[test]
    fn a_receive_time_from_any_recording_is_no_overflow() {
        let mut c = FeedCore::new("ws://test", &products(), false, 0);
        c.connection_started(0, false);
        let heartbeat = |seq: u64| {
            format!(
                r#"{{"channel":"heartbeats","client_id":"","timestamp":"2023-06-01T00:00:00Z","sequence_num":{seq},"events":[{{"current_time":"2023-06-01 00:00:00","heartbeat_counter":{seq}}}]}}"#
            )
        };
        c.on_frame(&heartbeat(0), i64::MIN);
        assert_eq!(c.stats().latency_ms, Some(i64::MIN));
        c.on_frame(&heartbeat(1), i64::MAX);
        assert_eq!(c.stats().latency_ms, Some(i64::MAX - 1_685_577_600_000));
    }

    #[test]
    fn stats_line_format() {
        let mut c = core();
        c.on_frame(
            &l2(
                0,
                "snapshot",
                "BTC-USD",
                &[("bid", "100", "1"), ("bid", "99", "1")],
            ),
            1,
        );
        c.on_frame(&heartbeat(3), 1);
        assert_eq!(
            c.stats_line(500),
            "frames=2 updates=2 gaps=1 resyncs=1 reconnects=0 errors=0 crossed=0 trades=0 elapsed_ms=500 updates_per_s=4"
        );
        assert!(c.stats_line(0).ends_with("elapsed_ms=0 updates_per_s=0"));
    }

    #[test]
    fn latency_line_only_for_timed_frames() {
        let mut c = core();
        c.on_frame(&heartbeat(0), 1_675_974_770_250);
        assert_eq!(c.latency_line(), None);
        c.note_apply_time(Duration::from_micros(40));
        c.note_apply_time(Duration::from_micros(7));
        assert_eq!(
            c.latency_line().unwrap(),
            "latency: receive_to_applied_us p50=7 p90=40 p99=40 p99.9=40 max=40 n=2; \
             server_to_received_ms p50=250 p90=250 p99=250 p99.9=250 max=250 n=1"
        );
    }

    #[test]
    fn latency_from_envelope_timestamp() {
        let mut c = core();
        // 2023-02-09T20:32:50Z = 1_675_974_770_000 ms.
        c.on_frame(&heartbeat(0), 1_675_974_770_250);
        assert_eq!(c.stats().latency_ms, Some(250));
    }
}
