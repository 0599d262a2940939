mod aliases;
mod cli;
mod cli_signals;
mod client;
mod replay;
mod shards;
mod sim;
mod tls;
