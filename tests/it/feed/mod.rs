mod aliases;
mod cli;
mod cli_signals;
mod client;
mod replay;
mod sim;
mod tls;
