//! The live side of `--record-rotate` (docs/recording.md, "Rotation"): a connection that sees
//! the recording go on in a new file asks for fresh snapshots, so that the file starts with whole
//! books. And the recording as the user connection writes it (it has no core of its own to
//! report a failure through).

use std::time::Instant;

use super::{Connection, Shared, Socket};
use crate::feed::record::Recorder;
use crate::feed::time::now_ms;

impl Shared {
    /// How many times the recording switched files (`--record-rotate`); 0 without one.
    pub(crate) fn recording_generation(&self) -> u64 {
        self.recorder
            .lock()
            .ok()
            .and_then(|r| r.as_ref().map(Recorder::generation))
            .unwrap_or(0)
    }

    /// Writes to the recording, if there is one. On failure the recording stops (for every
    /// connection) and the file and the error are returned, for the caller to report.
    pub(crate) fn record(
        &self,
        write: impl FnOnce(&mut Recorder) -> Result<(), crate::feed::record::RecordError>,
    ) -> Option<(String, String)> {
        let mut guard = self.recorder.lock().ok()?;
        let recorder = guard.as_mut()?;
        let err = write(recorder).err()?;
        tracing::error!("{err}; recording stopped");
        let path = recorder.path().display().to_string();
        *guard = None;
        Some((path, err.to_string()))
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
