mod auth;
mod cli;
mod faults;
mod market;
mod protocol;
