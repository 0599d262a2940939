//! Durations in words, short enough for a status line: `350ms`, `4.2s`, `3m05s`.
//!
//! Here rather than in the ui because the notices [`App`](crate::app::App) composes say them too
//! ("reconnecting in 1.5s"); the panes use the same wording through the ui's `format`.

/// A duration: `350ms`, `4.2s`, `45s`, `3m05s`, `2h04m`, `3d02h`. Negative durations count as 0.
pub fn duration_ms(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    if ms < 10_000 {
        return format!("{}.{}s", ms / 1_000, (ms % 1_000) / 100);
    }
    let secs = ms / 1_000;
    match secs {
        0..60 => format!("{secs}s"),
        60..3_600 => format!("{}m{:02}s", secs / 60, secs % 60),
        3_600..86_400 => format!("{}h{:02}m", secs / 3_600, (secs % 3_600) / 60),
        _ => format!("{}d{:02}h", secs / 86_400, (secs % 86_400) / 3_600),
    }
}

/// A duration in whole seconds: `4s`, `45s`, `1m48s`, `2h04m`.
pub fn duration_secs(secs: i64) -> String {
    if secs < 10 {
        format!("{}s", secs.max(0))
    } else {
        duration_ms(secs.saturating_mul(1000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_ms(-5), "0ms");
        assert_eq!(duration_ms(350), "350ms");
        assert_eq!(duration_ms(4_250), "4.2s");
        assert_eq!(duration_ms(45_000), "45s");
        assert_eq!(duration_ms(185_000), "3m05s");
        assert_eq!(duration_ms(7_440_000), "2h04m");
        assert_eq!(duration_ms(3 * 86_400_000 + 7_200_000), "3d02h");
        assert_eq!(duration_secs(4), "4s");
        assert_eq!(duration_secs(108), "1m48s");
    }
}
