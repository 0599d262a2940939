mod auth;
mod cli;
mod faults;
mod limits;
mod market;
mod orders;
mod protocol;
