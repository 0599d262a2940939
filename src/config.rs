//! Viewer defaults from `~/.config/cbbook/config.toml`; command-line flags override them.
//!
//! ```toml
//! products = ["BTC-USD", "ETH-USD"]   # used when no product is given on the command line
//! depth = 20                          # ladder levels per side (default: what the terminal fits)
//! group = 1                           # price grouping, in ticks
//! fps = 30                            # most frames drawn per second
//! theme = "dark"                      # dark, light or mono
//! time = "local"                      # trade times on the tape: local or utc
//! big_trade = 0.5                     # bold trades of at least this size (default: the 95th
//!                                     # percentile of the product's recent trades)
//! jwt_clock = "auto"                  # which clock signs JWTs: auto, local or server
//! clock_warn_ms = 250                 # show a clock offset over this (status line, auth pane)
//! heatmap_interval = "1s"             # the heatmap's time per sampled column: 250ms to 1m
//! heatmap_history = "30m"             # how much of the heatmap each product keeps
//! ```
//!
//! A missing default file is not an error (every key has a default); a file named with
//! `--config` must exist. Unknown keys are refused so that a typo does not go unnoticed.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;

use crate::cli::DisplayArgs;

/// Frames per second when neither the flag nor the file says.
pub const DEFAULT_FPS: u32 = 30;
/// The most frames per second accepted: more is invisible and only burns CPU.
pub const MAX_FPS: u32 = 240;
/// The most ladder levels per side that can be asked for.
pub const MAX_DEPTH: usize = 1000;
/// The largest grouping accepted, in ticks.
pub const MAX_GROUP: u32 = 1_000_000;

/// Why the configuration cannot be used. Each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "config file {path} is larger than 1 MiB: not a cbbook config file. Give the TOML file (e.g. ~/.config/cbbook/config.toml)"
    )]
    TooLarge { path: PathBuf },
    #[error("config file {path}{} is not valid: {message}{}", line_text(*.line), FORMAT_HINT)]
    Parse {
        path: PathBuf,
        /// 1-based line of the problem, when known.
        line: Option<usize>,
        message: String,
    },
    #[error(
        "config file {path}: `{}` in products is not a product id: {} (e.g. products = \
         [\"BTC-USD\", \"ETH-USD\"])",
        problem.id(),
        problem.hint()
    )]
    Product {
        path: PathBuf,
        problem: crate::product_id::ProductIdError,
    },
    #[error("{origin}: fps must be between 1 and {MAX_FPS}, got {value}")]
    Fps { origin: Origin, value: u32 },
    #[error("{origin}: depth must be between 1 and {MAX_DEPTH} levels, got {value}")]
    Depth { origin: Origin, value: usize },
    #[error("{origin}: group must be between 1 and {MAX_GROUP} ticks, got {value}")]
    Group { origin: Origin, value: u32 },
    #[error(
        "{origin}: trades kept must be between 1 and {MAX_TRADES_KEPT} per product, got {value}"
    )]
    TradesKept { origin: Origin, value: usize },
    #[error("{origin}: {problem}")]
    ProductsPerConnection {
        origin: Origin,
        problem: crate::feed::shards::BadProductsPerConnection,
    },
    #[error("{origin}: {problem}")]
    Theme {
        origin: Origin,
        problem: UnknownTheme,
    },
    #[error("{origin}: time must be \"local\" or \"utc\", got `{value}`")]
    Time { origin: Origin, value: String },
    #[error("{origin}: {problem}")]
    BigTrade { origin: Origin, problem: String },
    #[error("{origin}: {problem}")]
    JwtClock { origin: Origin, problem: String },
    #[error(
        "{origin}: clock_warn_ms must be between 1 and {MAX_CLOCK_WARN_MS} milliseconds, got {value}"
    )]
    ClockWarn { origin: Origin, value: i64 },
    #[error("{origin}: {problem}")]
    Heatmap { origin: Origin, problem: String },
}

/// The largest clock offset threshold accepted (`clock_warn_ms`): a minute.
pub const MAX_CLOCK_WARN_MS: i64 = 60_000;

/// The most trades kept per product (`--trades-kept`, `trades_kept`).
pub const MAX_TRADES_KEPT: usize = 100_000;

/// Said after a parse error: what a good file looks like.
const FORMAT_HINT: &str = " (the keys are products = [\"BTC-USD\"], depth = 20, group = 1, \
     fps = 30, theme = \"dark\", time = \"local\", big_trade = 0.5, products_per_connection = 10, \
     trades = true, trades_kept = 1000, jwt_clock = \"auto\", clock_warn_ms = 250, \
     heatmap_interval = \"1s\", heatmap_history = \"30m\"; all optional)";

fn line_text(line: Option<usize>) -> String {
    line.map(|n| format!(", line {n},")).unwrap_or_default()
}

/// Where a setting came from, so that an error points at the right place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag(&'static str),
    File(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Flag(flag) => write!(f, "--{flag}"),
            Origin::File(path) => write!(f, "config file {}", path.display()),
        }
    }
}

/// The config file's contents; every key optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub products: Option<Vec<String>>,
    pub depth: Option<usize>,
    pub group: Option<u32>,
    pub fps: Option<u32>,
    pub theme: Option<String>,
    /// Trade times on the tape: `local` (the default) or `utc`.
    pub time: Option<String>,
    /// Trades of at least this size are bold on the tape: a number or a string of one
    /// (`0.5`, `"0.5"`).
    pub big_trade: Option<Amount>,
    /// Level2 products per connection (docs/feed.md, "Sharding"): 1 to 16.
    pub products_per_connection: Option<usize>,
    /// Trades kept per product (docs/feed.md, "Trades"): 1 to 100000.
    pub trades_kept: Option<usize>,
    /// Subscribe `market_trades` and `ticker` (default true; `--no-trades` turns them off).
    pub trades: Option<bool>,
    /// Which clock signs JWTs: `auto` (the default), `local` or `server` (docs/auth.md, "Clock
    /// skew").
    pub jwt_clock: Option<String>,
    /// A clock offset over this many milliseconds is shown (default 250).
    pub clock_warn_ms: Option<i64>,
    /// The heatmap's time per sampled column (`"1s"`, `"500ms"`; docs/viewer.md, "Heatmap").
    pub heatmap_interval: Option<String>,
    /// How much of the heatmap each product keeps (`"30m"`, `"2h"`).
    pub heatmap_history: Option<String>,
    /// Where it was read from (None: built-in defaults, no file).
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

/// A number in the config file, written as a TOML number or a string (`0.5` or `"0.5"`): a
/// float is read through its shortest decimal text, so `0.1` is exactly 0.1.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Amount {
    Integer(i64),
    Float(f64),
    Text(String),
}

impl Amount {
    fn text(&self) -> String {
        match self {
            Amount::Integer(n) => n.to_string(),
            Amount::Float(f) => f.to_string(),
            Amount::Text(t) => t.clone(),
        }
    }
}

/// A `--big-trade` or `big_trade` size: a positive decimal number.
pub fn parse_big_trade(text: &str) -> Result<Decimal, String> {
    match Decimal::from_str(text.trim()) {
        Ok(size) if size > Decimal::ZERO => Ok(size.normalize()),
        Ok(_) => Err(format!(
            "big_trade must be a size above 0 (in the base currency, e.g. 0.5), got {text}"
        )),
        Err(_) => Err(format!(
            "big_trade must be a decimal number (a size in the base currency, e.g. 0.5), got `{text}`"
        )),
    }
}

/// How trade times are written on the tape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeDisplay {
    /// The machine's time zone.
    #[default]
    Local,
    Utc,
}

impl FromStr for TimeDisplay {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "local" => Ok(TimeDisplay::Local),
            "utc" => Ok(TimeDisplay::Utc),
            _ => Err(()),
        }
    }
}

/// The theme when neither `--theme` nor the config file names one: mono when `NO_COLOR` is set
/// to anything but the empty string (no-color.org), else `default`.
pub fn default_theme(no_color: Option<&std::ffi::OsStr>, default: ThemeName) -> ThemeName {
    if no_color.is_some_and(|v| !v.is_empty()) {
        ThemeName::Mono
    } else {
        default
    }
}

/// A theme's name, as written in the config file and `--theme`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThemeName {
    #[default]
    Dark,
    Light,
    Mono,
}

impl ThemeName {
    pub const ALL: [ThemeName; 3] = [ThemeName::Dark, ThemeName::Light, ThemeName::Mono];

    pub fn as_str(self) -> &'static str {
        match self {
            ThemeName::Dark => "dark",
            ThemeName::Light => "light",
            ThemeName::Mono => "mono",
        }
    }
}

impl fmt::Display for ThemeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many colours the terminal draws: the heatmap's gradients need more than the panes' 16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorDepth {
    /// 24-bit colour (`COLORTERM=truecolor` or `24bit`).
    #[default]
    TrueColor,
    /// The 256-colour palette: every terminal cbbook supports draws it.
    Ansi256,
}

impl ColorDepth {
    /// What `COLORTERM` says (https://github.com/termstandard/colors): 24-bit when it is
    /// `truecolor` or `24bit`, else 256 colours.
    pub fn from_colorterm(value: Option<&std::ffi::OsStr>) -> ColorDepth {
        match value.and_then(|v| v.to_str()).map(str::to_ascii_lowercase) {
            Some(v) if v == "truecolor" || v == "24bit" => ColorDepth::TrueColor,
            _ => ColorDepth::Ansi256,
        }
    }

    /// This terminal's, from the environment.
    pub fn detect() -> ColorDepth {
        ColorDepth::from_colorterm(std::env::var_os("COLORTERM").as_deref())
    }
}

/// The text after "unknown theme": what was given and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown theme `{0}`: use dark, light or mono")]
pub struct UnknownTheme(pub String);

impl FromStr for ThemeName {
    type Err = UnknownTheme;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ThemeName::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownTheme(s.to_string()))
    }
}

/// How the viewer draws, after flags, file and defaults are merged and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisplaySettings {
    pub fps: u32,
    /// Ladder levels per side; None follows the terminal height.
    pub depth: Option<usize>,
    /// Initial price grouping, in ticks.
    pub group_ticks: u32,
    pub theme: ThemeName,
    /// Trade times on the tape.
    pub time: TimeDisplay,
    /// Trades of at least this size are bold on the tape; None: the product's own threshold
    /// (the 95th percentile of its recent trades, from the feed).
    pub big_trade: Option<Decimal>,
    /// A clock offset over this many milliseconds is shown in the status line and the auth
    /// pane.
    pub clock_warn_ms: i64,
    /// The terminal's colours (the viewer sets it from `COLORTERM` at start).
    pub colors: ColorDepth,
    /// How the heatmap samples (`heatmap_interval`, `heatmap_history`).
    pub heatmap: crate::feed::core::heatmap::HeatSettings,
}

impl Default for DisplaySettings {
    fn default() -> Self {
        DisplaySettings {
            fps: DEFAULT_FPS,
            depth: None,
            group_ticks: 1,
            theme: ThemeName::default(),
            time: TimeDisplay::default(),
            big_trade: None,
            clock_warn_ms: crate::auth::clock::DEFAULT_WARN_MS,
            colors: ColorDepth::default(),
            heatmap: crate::feed::core::heatmap::HeatSettings::default(),
        }
    }
}

/// `~/.config/cbbook/config.toml` (under the platform's config directory).
pub fn default_path() -> Option<PathBuf> {
    dirs::config_dir().map(|dir| dir.join("cbbook").join("config.toml"))
}

/// Reads the config file: `explicit` (from `--config`) must exist; the default path may be absent.
pub fn load(explicit: Option<&Path>) -> Result<ConfigFile, ConfigError> {
    match explicit {
        Some(path) => read(path),
        None => match default_path() {
            Some(path) if path.exists() => read(&path),
            _ => Ok(ConfigFile::default()),
        },
    }
}

/// Parses config text; `path` is only used in messages.
pub fn parse(text: &str, path: &Path) -> Result<ConfigFile, ConfigError> {
    let mut file: ConfigFile = toml::from_str(text).map_err(|err| ConfigError::Parse {
        path: path.to_path_buf(),
        line: err
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1),
        message: plain_types(err.message()),
    })?;
    for product in file.products.iter().flatten() {
        crate::product_id::check(product).map_err(|problem| ConfigError::Product {
            path: path.to_path_buf(),
            problem,
        })?;
    }
    file.path = Some(path.to_path_buf());
    Ok(file)
}

/// The parser's message with Rust type names in words (`expected usize` means nothing to a user).
fn plain_types(message: &str) -> String {
    ["usize", "u32", "u64", "i64"]
        .iter()
        .fold(message.to_string(), |m, ty| {
            m.replace(&format!("expected {ty}"), "expected a whole number")
        })
}

/// The largest config file read: a real one is a few hundred bytes.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

fn read(path: &Path) -> Result<ConfigFile, ConfigError> {
    let read_error = |error| ConfigError::Read {
        path: path.to_path_buf(),
        error,
    };
    let bytes = crate::bounded::read_file_at_most(path, MAX_CONFIG_BYTES)
        .map_err(read_error)?
        .ok_or_else(|| ConfigError::TooLarge {
            path: path.to_path_buf(),
        })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        read_error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "it is not UTF-8 text",
        ))
    })?;
    parse(&text, path)
}

impl ConfigFile {
    fn origin(&self) -> Origin {
        Origin::File(self.path.clone().unwrap_or_default())
    }

    /// The products to show: those on the command line, else the file's, else none.
    pub fn products(&self, command_line: &[String]) -> Vec<String> {
        if command_line.is_empty() {
            self.products.clone().unwrap_or_default()
        } else {
            command_line.to_vec()
        }
    }

    /// Trades kept per product: the flag, else the file's `trades_kept`, else 1000; 1 to
    /// [`MAX_TRADES_KEPT`].
    pub fn trades_kept(&self, flag: Option<usize>) -> Result<usize, ConfigError> {
        let origin = if flag.is_some() {
            Origin::Flag("trades-kept")
        } else {
            self.origin()
        };
        match flag.or(self.trades_kept) {
            None => Ok(crate::feed::core::DEFAULT_TRADES_KEPT),
            Some(n) if (1..=MAX_TRADES_KEPT).contains(&n) => Ok(n),
            Some(value) => Err(ConfigError::TradesKept { origin, value }),
        }
    }

    /// Level2 products per connection: the flag, else the file's `products_per_connection`, else
    /// the default (10); 1 to 16, or an error that says why.
    pub fn products_per_connection(&self, flag: Option<usize>) -> Result<usize, ConfigError> {
        let origin = if flag.is_some() {
            Origin::Flag("products-per-connection")
        } else {
            self.origin()
        };
        match flag.or(self.products_per_connection) {
            None => Ok(crate::feed::shards::DEFAULT_PRODUCTS_PER_CONNECTION),
            Some(n) => crate::feed::shards::check_products_per_connection(n)
                .map_err(|problem| ConfigError::ProductsPerConnection { origin, problem }),
        }
    }

    /// Merges flags over the file over the defaults, and checks every value.
    pub fn display(&self, flags: &DisplayArgs) -> Result<DisplaySettings, ConfigError> {
        let defaults = DisplaySettings::default();
        let pick = |flag: &'static str, from_flag: bool| {
            if from_flag {
                Origin::Flag(flag)
            } else {
                self.origin()
            }
        };

        let fps = match (flags.fps, self.fps) {
            (Some(v), _) | (None, Some(v)) => {
                if !(1..=MAX_FPS).contains(&v) {
                    return Err(ConfigError::Fps {
                        origin: pick("fps", flags.fps.is_some()),
                        value: v,
                    });
                }
                v
            }
            (None, None) => defaults.fps,
        };
        let depth = match flags.depth.or(self.depth) {
            Some(v) if !(1..=MAX_DEPTH).contains(&v) => {
                return Err(ConfigError::Depth {
                    origin: pick("depth", flags.depth.is_some()),
                    value: v,
                });
            }
            other => other,
        };
        let group_ticks = match flags.group.or(self.group) {
            Some(v) if !(1..=MAX_GROUP).contains(&v) => {
                return Err(ConfigError::Group {
                    origin: pick("group", flags.group.is_some()),
                    value: v,
                });
            }
            Some(v) => v,
            None => defaults.group_ticks,
        };
        let theme = match flags.theme.as_deref().or(self.theme.as_deref()) {
            Some(text) => text.parse().map_err(|problem| ConfigError::Theme {
                origin: pick("theme", flags.theme.is_some()),
                problem,
            })?,
            // https://no-color.org: without a theme asked for, a non-empty NO_COLOR means mono.
            None => default_theme(std::env::var_os("NO_COLOR").as_deref(), defaults.theme),
        };
        let time = if flags.utc {
            TimeDisplay::Utc
        } else {
            match self.time.as_deref() {
                Some(text) => text.parse().map_err(|()| ConfigError::Time {
                    origin: self.origin(),
                    value: text.to_string(),
                })?,
                None => defaults.time,
            }
        };
        let big_trade = match (flags.big_trade, &self.big_trade) {
            (Some(size), _) => Some(size),
            (None, Some(amount)) => {
                Some(
                    parse_big_trade(&amount.text()).map_err(|problem| ConfigError::BigTrade {
                        origin: self.origin(),
                        problem,
                    })?,
                )
            }
            (None, None) => None,
        };
        let clock_warn_ms = match flags.clock_warn_ms.or(self.clock_warn_ms) {
            None => defaults.clock_warn_ms,
            Some(v) if (1..=MAX_CLOCK_WARN_MS).contains(&v) => v,
            Some(value) => {
                return Err(ConfigError::ClockWarn {
                    origin: pick("clock-warn-ms", flags.clock_warn_ms.is_some()),
                    value,
                });
            }
        };
        let heatmap = self.heatmap(flags)?;
        Ok(DisplaySettings {
            fps,
            depth,
            group_ticks,
            theme,
            time,
            big_trade,
            clock_warn_ms,
            colors: ColorDepth::default(),
            heatmap,
        })
    }

    /// The heatmap's sampling: the flags, else the file's keys, else 1 s for 30 minutes.
    fn heatmap(
        &self,
        flags: &DisplayArgs,
    ) -> Result<crate::feed::core::heatmap::HeatSettings, ConfigError> {
        use crate::feed::core::heatmap::{
            DEFAULT_HISTORY_MS, DEFAULT_INTERVAL_MS, HeatSettings, parse_duration_ms,
        };
        let origin = |flag: &'static str, from_flag: bool| {
            if from_flag {
                Origin::Flag(flag)
            } else {
                self.origin()
            }
        };
        let read = |flag: &'static str, given: &Option<String>, file: &Option<String>, default| {
            match given.as_ref().or(file.as_ref()) {
                None => Ok(default),
                Some(text) => parse_duration_ms(text).map_err(|problem| ConfigError::Heatmap {
                    origin: origin(flag, given.is_some()),
                    problem: format!("{}: {problem}", flag.replace('-', "_")),
                }),
            }
        };
        let interval = read(
            "heatmap-interval",
            &flags.heatmap_interval,
            &self.heatmap_interval,
            DEFAULT_INTERVAL_MS,
        )?;
        let history = read(
            "heatmap-history",
            &flags.heatmap_history,
            &self.heatmap_history,
            DEFAULT_HISTORY_MS,
        )?;
        // An interval out of range is the interval's fault; anything else, the history's.
        let interval_ok = HeatSettings::checked(interval, interval).is_ok();
        HeatSettings::checked(interval, history).map_err(|problem| ConfigError::Heatmap {
            origin: if interval_ok {
                origin("heatmap-history", flags.heatmap_history.is_some())
            } else {
                origin("heatmap-interval", flags.heatmap_interval.is_some())
            },
            problem,
        })
    }

    /// Which clock signs JWTs: the flag, else the file's `jwt_clock`, else `auto`.
    pub fn jwt_clock(
        &self,
        flag: Option<crate::auth::clock::JwtClock>,
    ) -> Result<crate::auth::clock::JwtClock, ConfigError> {
        match (flag, &self.jwt_clock) {
            (Some(mode), _) => Ok(mode),
            (None, Some(text)) => text.parse().map_err(|problem| ConfigError::JwtClock {
                origin: self.origin(),
                problem,
            }),
            (None, None) => Ok(crate::auth::clock::JwtClock::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> ConfigFile {
        parse(text, Path::new("/tmp/config.toml")).unwrap()
    }

    #[test]
    fn names_parse_case_insensitively_and_round_trip() {
        use std::ffi::OsStr;
        assert_eq!(default_theme(None, ThemeName::Dark), ThemeName::Dark);
        assert_eq!(
            default_theme(Some(OsStr::new("")), ThemeName::Dark),
            ThemeName::Dark
        );
        assert_eq!(
            default_theme(Some(OsStr::new("1")), ThemeName::Dark),
            ThemeName::Mono
        );
        for name in ThemeName::ALL {
            assert_eq!(name.as_str().parse::<ThemeName>(), Ok(name));
            assert_eq!(name.as_str().to_uppercase().parse::<ThemeName>(), Ok(name));
        }
        let err = "solarized".parse::<ThemeName>().unwrap_err();
        assert!(err.to_string().contains("dark, light or mono"), "{err}");
    }

    #[test]
    fn jwt_clock_and_clock_warn_from_flag_file_or_default() {
        use crate::auth::clock::JwtClock;
        assert_eq!(file("").jwt_clock(None).unwrap(), JwtClock::Auto);
        let cfg = file("jwt_clock = \"server\"\nclock_warn_ms = 800\n");
        assert_eq!(cfg.jwt_clock(None).unwrap(), JwtClock::Server);
        assert_eq!(
            cfg.jwt_clock(Some(JwtClock::Local)).unwrap(),
            JwtClock::Local
        );
        assert_eq!(
            cfg.display(&DisplayArgs::default()).unwrap().clock_warn_ms,
            800
        );
        let err = file("jwt_clock = \"ntp\"\n").jwt_clock(None).unwrap_err();
        assert!(
            err.to_string()
                .contains("\"auto\", \"local\" or \"server\""),
            "{err}"
        );
        let err = file("clock_warn_ms = 0\n")
            .display(&DisplayArgs::default())
            .unwrap_err();
        assert!(
            err.to_string().contains("clock_warn_ms must be between 1"),
            "{err}"
        );
        let flags = DisplayArgs {
            clock_warn_ms: Some(-5),
            ..DisplayArgs::default()
        };
        let err = file("").display(&flags).unwrap_err();
        assert!(err.to_string().starts_with("--clock-warn-ms"), "{err}");
    }

    #[test]
    fn the_heatmap_samples_as_the_flags_or_the_file_say() {
        use crate::feed::core::heatmap::HeatSettings;
        let settings = file("heatmap_interval = \"500ms\"\nheatmap_history = \"1h\"\n")
            .display(&DisplayArgs::default())
            .unwrap();
        assert_eq!(settings.heatmap, HeatSettings::new(500, 3_600_000));
        assert_eq!(settings.heatmap.capacity, 7_200);
        let flags = DisplayArgs {
            heatmap_interval: Some("2s".into()),
            heatmap_history: Some("1h30m".into()),
            ..DisplayArgs::default()
        };
        let settings = file("heatmap_interval = \"500ms\"\n")
            .display(&flags)
            .unwrap();
        assert_eq!(settings.heatmap.interval_ms, 2_000);
        assert_eq!(settings.heatmap.capacity, 2_700);
        for (text, expect) in [
            ("heatmap_interval = \"100ms\"\n", "between 250 ms and 60 s"),
            (
                "heatmap_interval = \"fast\"\n",
                "heatmap_interval: \"fast\" is not a duration",
            ),
            (
                "heatmap_history = \"200h\"\n",
                "between 1 and 86400 columns",
            ),
            ("heatmap_history = \"0s\"\n", "between 1 and 86400 columns"),
        ] {
            let err = file(text).display(&DisplayArgs::default()).unwrap_err();
            assert!(err.to_string().starts_with("config file"), "{err}");
            assert!(err.to_string().contains(expect), "{text}: {err}");
        }
        let flags = DisplayArgs {
            heatmap_interval: Some("5".into()),
            ..DisplayArgs::default()
        };
        let err = file("").display(&flags).unwrap_err();
        assert!(err.to_string().starts_with("--heatmap-interval"), "{err}");
        let flags = DisplayArgs {
            heatmap_interval: Some("100ms".into()),
            ..DisplayArgs::default()
        };
        let err = file("heatmap_history = \"1h\"\n")
            .display(&flags)
            .unwrap_err();
        assert!(err.to_string().starts_with("--heatmap-interval"), "{err}");
        let flags = DisplayArgs {
            heatmap_history: Some("300h".into()),
            ..DisplayArgs::default()
        };
        let err = file("").display(&flags).unwrap_err();
        assert!(err.to_string().starts_with("--heatmap-history"), "{err}");
    }

    #[test]
    fn empty_file_gives_defaults() {
        let settings = file("").display(&DisplayArgs::default()).unwrap();
        assert_eq!(settings, DisplaySettings::default());
        assert_eq!(settings.fps, 30);
        assert_eq!(settings.depth, None);
    }

    #[test]
    fn file_values_apply_and_flags_override_them() {
        let cfg =
            file("products = [\"SOL-USD\"]\ndepth = 12\ngroup = 5\nfps = 20\ntheme = \"light\"\n");
        let from_file = cfg.display(&DisplayArgs::default()).unwrap();
        assert_eq!(
            from_file,
            DisplaySettings {
                fps: 20,
                depth: Some(12),
                group_ticks: 5,
                theme: ThemeName::Light,
                ..DisplaySettings::default()
            }
        );
        let flags = DisplayArgs {
            fps: Some(60),
            depth: Some(8),
            group: Some(10),
            theme: Some("mono".into()),
            ..DisplayArgs::default()
        };
        let merged = cfg.display(&flags).unwrap();
        assert_eq!(
            merged,
            DisplaySettings {
                fps: 60,
                depth: Some(8),
                group_ticks: 10,
                theme: ThemeName::Mono,
                ..DisplaySettings::default()
            }
        );
        assert_eq!(cfg.products(&[]), ["SOL-USD"]);
        assert_eq!(cfg.products(&["BTC-USD".to_string()]), ["BTC-USD"]);
    }

    #[test]
    fn bad_values_name_their_origin_and_the_accepted_range() {
        let err = file("fps = 0")
            .display(&DisplayArgs::default())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "config file /tmp/config.toml: fps must be between 1 and 240, got 0"
        );
        let flags = DisplayArgs {
            depth: Some(0),
            ..DisplayArgs::default()
        };
        let err = file("").display(&flags).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--depth: depth must be between 1 and 1000 levels, got 0"
        );
        let flags = DisplayArgs {
            theme: Some("neon".into()),
            ..DisplayArgs::default()
        };
        let err = file("").display(&flags).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--theme: unknown theme `neon`: use dark, light or mono"
        );
        let err = file("group = 0")
            .display(&DisplayArgs::default())
            .unwrap_err();
        assert!(err.to_string().contains("group must be between 1"), "{err}");
    }

    #[test]
    fn trade_times_are_local_unless_the_file_or_the_flag_says_utc() {
        let time = |text: &str, utc: bool| {
            let flags = DisplayArgs {
                utc,
                ..DisplayArgs::default()
            };
            file(text).display(&flags).map(|d| d.time)
        };
        assert_eq!(time("", false).unwrap(), TimeDisplay::Local);
        assert_eq!(time("time = \"utc\"", false).unwrap(), TimeDisplay::Utc);
        assert_eq!(time("time = \"UTC\"", false).unwrap(), TimeDisplay::Utc);
        assert_eq!(time("time = \"local\"", true).unwrap(), TimeDisplay::Utc);
        assert_eq!(time("", true).unwrap(), TimeDisplay::Utc);
        let err = time("time = \"gmt\"", false).unwrap_err().to_string();
        assert_eq!(
            err,
            "config file /tmp/config.toml: time must be \"local\" or \"utc\", got `gmt`"
        );
    }

    #[test]
    fn big_trade_is_an_exact_positive_size_from_the_flag_or_the_file() {
        let big = |text: &str, flag: Option<&str>| {
            let flags = DisplayArgs {
                big_trade: flag.map(|f| parse_big_trade(f).unwrap()),
                ..DisplayArgs::default()
            };
            file(text).display(&flags).map(|d| d.big_trade)
        };
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(big("", None).unwrap(), None);
        // A TOML float is read through its shortest text: 0.1 is exactly 0.1.
        assert_eq!(big("big_trade = 0.1", None).unwrap(), Some(d("0.1")));
        assert_eq!(big("big_trade = 2", None).unwrap(), Some(d("2")));
        assert_eq!(big("big_trade = \"0.25\"", None).unwrap(), Some(d("0.25")));
        assert_eq!(
            big("big_trade = 0.1", Some("1.50")).unwrap(),
            Some(d("1.5")),
            "the flag wins"
        );
        let err = big("big_trade = 0", None).unwrap_err().to_string();
        assert!(
            err.starts_with("config file /tmp/config.toml: big_trade must be a size above 0"),
            "{err}"
        );
        let err = big("big_trade = \"lots\"", None).unwrap_err().to_string();
        assert!(err.contains("must be a decimal number"), "{err}");
        assert!(parse_big_trade("-1").is_err());
        assert!(parse_big_trade("abc").is_err());
    }

    #[test]
    fn trades_kept_comes_from_the_flag_the_file_or_the_default() {
        assert_eq!(file("").trades_kept(None).unwrap(), 1000);
        let f = file("trades_kept = 50\ntrades = false\n");
        assert_eq!(f.trades_kept(None).unwrap(), 50);
        assert_eq!(f.trades, Some(false));
        assert_eq!(f.trades_kept(Some(7)).unwrap(), 7);
        let err = f.trades_kept(Some(0)).unwrap_err().to_string();
        assert!(
            err.starts_with("--trades-kept: trades kept must be between 1 and 100000"),
            "{err}"
        );
        let err = file("trades_kept = 200000\n")
            .trades_kept(None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("config file") && err.contains("got 200000"),
            "{err}"
        );
    }

    #[test]
    fn products_per_connection_comes_from_the_flag_the_file_or_the_default() {
        assert_eq!(file("").products_per_connection(None).unwrap(), 10);
        let f = file("products_per_connection = 4\n");
        assert_eq!(f.products_per_connection(None).unwrap(), 4);
        assert_eq!(f.products_per_connection(Some(16)).unwrap(), 16);
        let err = file("products_per_connection = 17\n")
            .products_per_connection(None)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("config file /tmp/config.toml"), "{err}");
        assert!(err.contains("must be between 1 and 16, got"), "{err}");
        let err = f.products_per_connection(Some(0)).unwrap_err().to_string();
        assert!(err.contains("products-per-connection"), "{err}");
        assert!(err.contains("too many L2 streams"), "{err}");
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_refused() {
        let err = parse("fsp = 30", Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("unknown field `fsp`"), "{err}");
        let err = parse("fps = \"fast\"", Path::new("c.toml")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("config file c.toml, line 1, is not valid"),
            "{err}"
        );
    }

    #[test]
    fn parse_errors_give_the_line_plain_words_and_the_format() {
        let err = parse("fps = 30\ndepth = \"ten\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("config file c.toml, line 2, is not valid: invalid type: string \"ten\", expected a whole number"),
            "{err}"
        );
        assert!(err.contains("depth = 20"), "{err}");
        let err = parse("group = -1", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected a whole number"), "{err}");
        assert!(!err.contains("u32"), "{err}");
    }

    #[test]
    fn products_in_the_file_must_be_product_ids() {
        for bad in ["btc-usd", "BTC USD", "", "-BTC"] {
            let err = parse(
                &format!("products = [\"ETH-USD\", \"{bad}\"]"),
                Path::new("c.toml"),
            )
            .unwrap_err()
            .to_string();
            assert!(
                err.starts_with(&format!(
                    "config file c.toml: `{bad}` in products is not a product id"
                )),
                "{err}"
            );
        }
        assert_eq!(
            file("products = [\"BTC-USD\", \"USDT-USDC\"]").products(&[]),
            ["BTC-USD", "USDT-USDC"]
        );
    }

    #[test]
    fn errors_do_not_repeat_their_cause() {
        // main prints the whole error chain: a message that says its cause must not chain it too.
        let missing = load(Some(Path::new("/nonexistent/cbbook.toml"))).unwrap_err();
        let theme = file("theme = \"neon\"")
            .display(&DisplayArgs::default())
            .unwrap_err();
        for (err, cause) in [(missing, "(os error 2)"), (theme, "unknown theme `neon`")] {
            let chained = format!("{:#}", anyhow::Error::from(err));
            assert_eq!(chained.matches(cause).count(), 1, "{chained}");
        }
    }

    #[test]
    fn explicit_path_must_exist_and_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        let err = load(Some(&missing)).unwrap_err();
        assert!(
            err.to_string().starts_with("cannot read config file"),
            "{err}"
        );

        let path = dir.path().join("config.toml");
        std::fs::write(&path, "fps = 10\n").unwrap();
        let cfg = load(Some(&path)).unwrap();
        assert_eq!(cfg.fps, Some(10));
        assert_eq!(cfg.path.as_deref(), Some(path.as_path()));
    }
}
