//! CDP API keys and Coinbase JWTs: load every key form, build tokens, and diagnose keys and tokens.

pub mod cli;
