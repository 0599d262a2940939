mod cli;
mod client;
mod replay;
mod sim;
mod tls;
