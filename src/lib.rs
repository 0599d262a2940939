//! cbbook: a terminal order-book viewer for the Coinbase Advanced Trade WebSocket feed.
//!
//! The library holds everything; `src/main.rs` only parses the command line and dispatches.
//!
//! - [`auth`]: CDP keys, Coinbase JWTs, and offline diagnosis of keys and tokens.
//! - [`book`]: the exact level-2 order book.
//! - [`feed`]: the WebSocket client that keeps the books, plus record, replay and headless mode.
//! - [`product_id`]: the one rule for Coinbase product ids; [`product_list`]: the session's
//!   products from the command line, `--products-file` and the config file.
//! - [`sim`]: a Coinbase-compatible WebSocket server for tests, demos and offline use.
//! - [`app`], [`ui`], [`tui`]: the terminal viewer.
//! - [`text`]: control characters in untrusted text escaped before any output; [`output`]:
//!   stdout and stderr through it.

pub mod app;
pub mod auth;
pub mod book;
pub mod bounded;
pub mod cli;
pub mod config;
pub mod export;
pub mod feed;
pub mod heatmap_png;
pub mod launch;
pub mod logging;
pub mod output;
pub mod packaging;
pub mod product_id;
pub mod product_list;
pub mod sim;
pub mod text;
pub mod tui;
pub mod ui;
