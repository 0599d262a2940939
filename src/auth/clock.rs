//! Which clock signs a JWT (`--jwt-clock`), and what a refusal that the clock explains leads to
//! (docs/auth.md, "Clock skew"). Pure rules, told the time and the measured offset.
//!
//! Coinbase judges `nbf` by its own clock with little or no leeway: a machine whose clock runs
//! about a second ahead signs tokens from the server's future and gets `authentication failure`.
//! The feed measures the offset from the frames it receives (the estimate is never below the true
//! offset, so `nbf = now - offset` is never in the server's future); these rules turn it into an
//! `nbf`. A token's lifetime is never widened to hide skew: `exp` is always `nbf + 120`.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// An offset over this switches `auto` to the server's time (and explains a refusal).
pub const AUTO_SWITCH_MS: i64 = 500;
/// About how far ahead of Coinbase's clock a token's `nbf` may be before it is refused (one user
/// was refused at about 1 s ahead).
pub const SERVER_TOLERANCE_MS: i64 = 1_000;
/// An offset over this is shown in the status line and the auth pane (`clock_warn_ms`).
pub const DEFAULT_WARN_MS: i64 = 250;

/// `--jwt-clock`: which clock a JWT's `nbf` is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum JwtClock {
    /// This machine's time until an offset over 500 ms is measured, then the server's; after a
    /// refusal the measured clock explains, sign with the server's time and retry once.
    #[default]
    Auto,
    /// Always this machine's time.
    Local,
    /// The server's time, as measured (this machine's until a frame has been timed).
    Server,
}

impl JwtClock {
    pub fn as_str(self) -> &'static str {
        match self {
            JwtClock::Auto => "auto",
            JwtClock::Local => "local",
            JwtClock::Server => "server",
        }
    }
}

impl fmt::Display for JwtClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JwtClock {
    type Err = String;

    fn from_str(s: &str) -> Result<JwtClock, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(JwtClock::Auto),
            "local" => Ok(JwtClock::Local),
            "server" => Ok(JwtClock::Server),
            _ => Err(format!(
                "jwt clock must be \"auto\", \"local\" or \"server\", got `{s}`"
            )),
        }
    }
}

/// The clock that signed a JWT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "clock", rename_all = "lowercase")]
pub enum SignedWith {
    /// This machine's time.
    Local,
    /// The server's time: this machine's minus `offset_ms` (the measured offset).
    Server { offset_ms: i64 },
}

impl SignedWith {
    /// Milliseconds taken off this machine's time for `nbf`: the offset when this machine is
    /// ahead, never a negative amount (`nbf` is never later than this machine's time).
    pub fn correction_ms(self) -> i64 {
        match self {
            SignedWith::Local => 0,
            SignedWith::Server { offset_ms } => offset_ms.max(0),
        }
    }
}

/// `nbf` (Unix seconds) for a token signed at `now_ms` (this machine's time) in `mode`, with the
/// measured offset (this machine minus the server, ms) when there is one, and the clock used.
pub fn signing_time(mode: JwtClock, now_ms: i64, offset_ms: Option<i64>) -> (i64, SignedWith) {
    let with = match (mode, offset_ms) {
        (JwtClock::Local, _) | (_, None) => SignedWith::Local,
        (JwtClock::Auto, Some(offset)) if offset <= AUTO_SWITCH_MS => SignedWith::Local,
        (JwtClock::Auto | JwtClock::Server, Some(offset)) => {
            SignedWith::Server { offset_ms: offset }
        }
    };
    let nbf_ms = now_ms.saturating_sub(with.correction_ms());
    (nbf_ms.div_euclid(1000), with)
}

/// What to do after `authentication failure` answered a subscribe signed with `signed_with`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterRefusal {
    /// Sign again with the server's time and send the subscribes once more.
    Retry,
    /// Nothing is measured yet: time an answer first (a subscribe that needs no JWT), then ask
    /// again.
    Measure,
    /// Subscribe on the public path.
    FallBack,
}

/// The retry-once rule: in `auto` and `server`, a refusal that the measured clock explains
/// (signing with the server's time now would move `nbf` back by more than
/// [`AUTO_SWITCH_MS`] from the refused token's) is retried once with the server's time;
/// anything else falls back to the public feed. `local` never retries.
pub fn after_refusal(
    mode: JwtClock,
    signed_with: Option<SignedWith>,
    offset_ms: Option<i64>,
    retried: bool,
) -> AfterRefusal {
    if mode == JwtClock::Local || retried {
        return AfterRefusal::FallBack;
    }
    let Some(offset) = offset_ms else {
        return AfterRefusal::Measure;
    };
    let used = signed_with.map_or(0, SignedWith::correction_ms);
    if offset.max(0) - used > AUTO_SWITCH_MS {
        AfterRefusal::Retry
    } else {
        AfterRefusal::FallBack
    }
}

/// Whether a measured offset puts this machine's tokens outside what Coinbase accepts: `nbf`
/// over the tolerance in its future, or a clock so far behind that a token has expired (by the
/// server's clock) when it is signed.
pub fn offset_refuses_tokens(offset_ms: i64) -> bool {
    let tolerated = -(super::LIFETIME_SECS * 1000 - SERVER_TOLERANCE_MS)..=SERVER_TOLERANCE_MS;
    !tolerated.contains(&offset_ms)
}

/// `+2.98 s ahead of`, `-0.41 s behind`: the offset as the status line and the pane say it.
pub fn describe_offset(offset_ms: i64) -> String {
    let side = if offset_ms >= 0 { "ahead of" } else { "behind" };
    format!("{:+.2} s {side}", offset_ms as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_732_000_000_700;

    #[test]
    fn nbf_under_each_mode() {
        // Nothing measured: every mode signs with this machine's time.
        for mode in [JwtClock::Auto, JwtClock::Local, JwtClock::Server] {
            assert_eq!(
                signing_time(mode, NOW, None),
                (1_732_000_000, SignedWith::Local)
            );
        }
        // 3 s ahead: local keeps its time; auto and server take 3 s off.
        assert_eq!(
            signing_time(JwtClock::Local, NOW, Some(3_000)),
            (1_732_000_000, SignedWith::Local)
        );
        for mode in [JwtClock::Auto, JwtClock::Server] {
            assert_eq!(
                signing_time(mode, NOW, Some(3_000)),
                (1_731_999_997, SignedWith::Server { offset_ms: 3_000 })
            );
        }
        // 400 ms ahead: auto stays local, server corrects.
        assert_eq!(
            signing_time(JwtClock::Auto, NOW, Some(400)),
            (1_732_000_000, SignedWith::Local)
        );
        assert_eq!(
            signing_time(JwtClock::Server, NOW, Some(800)).0,
            1_731_999_999
        );
        // Behind the server: nbf is never later than this machine's time.
        let (nbf, with) = signing_time(JwtClock::Server, NOW, Some(-3_000));
        assert_eq!(nbf, 1_732_000_000);
        assert_eq!(with.correction_ms(), 0);
        assert_eq!(
            signing_time(JwtClock::Auto, NOW, Some(-3_000)).1,
            SignedWith::Local
        );
    }

    #[test]
    fn a_refusal_is_retried_once_when_the_clock_explains_it() {
        let local = Some(SignedWith::Local);
        // Local never retries.
        assert_eq!(
            after_refusal(JwtClock::Local, local, Some(3_000), false),
            AfterRefusal::FallBack
        );
        // Nothing measured: measure first.
        assert_eq!(
            after_refusal(JwtClock::Auto, local, None, false),
            AfterRefusal::Measure
        );
        // 3 s ahead, signed locally: retry, once.
        assert_eq!(
            after_refusal(JwtClock::Auto, local, Some(3_000), false),
            AfterRefusal::Retry
        );
        assert_eq!(
            after_refusal(JwtClock::Auto, local, Some(3_000), true),
            AfterRefusal::FallBack
        );
        assert_eq!(
            after_refusal(JwtClock::Server, local, Some(3_000), false),
            AfterRefusal::Retry
        );
        // Already signed with that offset, or a clock that does not explain it: fall back.
        let corrected = Some(SignedWith::Server { offset_ms: 2_900 });
        assert_eq!(
            after_refusal(JwtClock::Auto, corrected, Some(3_000), false),
            AfterRefusal::FallBack
        );
        assert_eq!(
            after_refusal(JwtClock::Auto, local, Some(120), false),
            AfterRefusal::FallBack
        );
        assert_eq!(
            after_refusal(JwtClock::Auto, local, Some(-5_000), false),
            AfterRefusal::FallBack
        );
    }

    #[test]
    fn tolerance_and_wording() {
        assert!(!offset_refuses_tokens(0));
        assert!(!offset_refuses_tokens(900));
        assert!(offset_refuses_tokens(1_200));
        assert!(!offset_refuses_tokens(-3_000));
        assert!(offset_refuses_tokens(-119_500));
        assert_eq!(describe_offset(2_980), "+2.98 s ahead of");
        assert_eq!(describe_offset(-410), "-0.41 s behind");
        assert_eq!("SERVER".parse::<JwtClock>(), Ok(JwtClock::Server));
        assert!("utc".parse::<JwtClock>().unwrap_err().contains("auto"));
    }
}
