//! cbbook's integration tests, in one binary: after an edit in `src/`, linking one test binary
//! takes seconds where linking one per file took most of a minute. Modules are named after what
//! they test; shared helpers live in `support`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod book;
mod feed;
mod interop;
mod packaging;
mod rel;
mod sim;
mod support;
mod ui;
