pub mod auth;
pub mod common;
pub mod feed;
pub mod hostile;
pub mod rel;
pub mod sim;
pub mod ui;
