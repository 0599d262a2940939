//! The live feed: WebSocket client, books, integrity checks, record, replay and headless mode.

pub mod events;
