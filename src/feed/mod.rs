//! The live feed: WebSocket client, books, integrity checks, record, replay and headless mode.

pub mod backoff;
pub mod core;
pub mod events;
pub mod protocol;
pub mod record;
pub mod time;
