//! Start-up of the viewer and of replay: validate everything (config, key, products), start the
//! demo simulator when asked, then run headless or take the terminal.

use std::process::ExitCode;

use anyhow::bail;

use crate::cli::{ReplayArgs, ViewerArgs};

/// `cbbook [PRODUCT...]`: the live viewer, or a headless live run.
pub fn live(args: ViewerArgs) -> anyhow::Result<ExitCode> {
    // An unusable key stops start-up with the same diagnosis as `cbbook auth check`, before the
    // terminal is touched.
    let _key = match crate::auth::load_configured_key(args.feed.key.as_deref()) {
        Ok(key) => key,
        Err(failure) => {
            eprint!("cbbook: cannot start with this key\n\n{failure}");
            return Ok(ExitCode::FAILURE);
        }
    };
    bail!("the live viewer is not built yet")
}

/// `cbbook replay FILE`.
pub fn replay(_args: ReplayArgs) -> anyhow::Result<ExitCode> {
    bail!("replay is not built yet")
}
