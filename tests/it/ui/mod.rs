mod app;
mod auth;
mod e2e;
mod event_loop;
mod feed;
mod snapshots;
mod styles;
mod watchlist;
