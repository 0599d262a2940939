//! The live side of `--record-rotate` (docs/recording.md, "Rotation"): a connection that sees
//! the recording go on in a new file asks for fresh snapshots, so that the file starts with whole
//! books.

use std::time::Instant;

use super::{Connection, Shared, Socket};
use crate::feed::record::Recorder;
use crate::feed::time::now_ms;

impl Shared {
    /// How many times the recording switched files (`--record-rotate`); 0 without one.
    pub(super) fn recording_generation(&self) -> u64 {
        self.recorder
            .lock()
            .ok()
            .and_then(|r| r.as_ref().map(Recorder::generation))
            .unwrap_or(0)
    }
}

impl Connection {
    /// When the recording has gone on in a new file (`--record-rotate`): fresh snapshots, so
    /// that the new file starts with whole books, and a `resync` line of reason `rotate` there.
    pub(super) async fn resync_for_new_file(&mut self, socket: &mut Socket) -> Result<(), String> {
        let generation = self.shared.recording_generation();
        if generation == self.recorded_generation {
            return Ok(());
        }
        self.recorded_generation = generation;
        let now = now_ms();
        tracing::info!(
            connection = self.index,
            "new recording file: asking for fresh snapshots"
        );
        self.core.resync(now);
        let index = self.index;
        self.record(|r| r.rotated_resync_on(index, now));
        self.policy.level2_sent(Instant::now());
        self.resubscribe_level2(socket).await
    }
}
