//! The terminal: init and restore, the event loop, frame pacing.
