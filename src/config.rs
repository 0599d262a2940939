//! Viewer defaults from `~/.config/cbbook/config.toml`; command-line flags override them.
