mod cli;
mod docs;
mod keys;
mod tokens;
