//! Colours and text styles, one set per theme, so panes never hard-code a colour. The theme's
//! name is configuration ([`ThemeName`], in `config`); this module maps a name to its styles.
//!
//! `dark` suits dark terminals, `light` light ones; `mono` uses only bold, dim and reverse video,
//! for terminals without colour or users who cannot tell red from green. Every meaning carried by
//! colour (bid versus ask, health) is also carried by position or text, so `mono` loses nothing.

use ratatui::style::{Color, Modifier, Style};

use crate::app::{App, Health};
pub use crate::config::ThemeName;

/// Every style the panes use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub name: ThemeName,
    /// Ordinary text.
    pub text: Style,
    /// Labels, units, secondary text.
    pub dim: Style,
    /// Titles and the selected tab.
    pub title: Style,
    /// Column headers.
    pub header: Style,
    pub bid: Style,
    pub ask: Style,
    pub bid_bar: Style,
    pub ask_bar: Style,
    /// A level that changed since the last frame.
    pub flash: Style,
    /// The spread row.
    pub spread: Style,
    /// Something is wrong (crossed book, server error).
    pub error: Style,
    /// Something needs attention (gap, stale, warning).
    pub warn: Style,
    /// Something is fine (signature valid, no problems).
    pub ok: Style,
    /// Key hints in the footer.
    pub key: Style,
    /// The PAUSED marker.
    pub paused: Style,
    /// Borders and rules.
    pub border: Style,
    /// Tab of the selected product.
    pub tab_selected: Style,
}

impl Theme {
    pub fn new(name: ThemeName) -> Theme {
        match name {
            ThemeName::Dark => Theme::coloured(name, Color::Gray, Color::DarkGray, Color::White),
            ThemeName::Light => Theme::coloured(name, Color::Black, Color::DarkGray, Color::Black),
            ThemeName::Mono => Theme::mono(),
        }
    }

    fn coloured(name: ThemeName, text: Color, dim: Color, strong: Color) -> Theme {
        let (bid, ask, warn, accent) = match name {
            ThemeName::Light => (Color::Green, Color::Red, Color::Magenta, Color::Blue),
            _ => (
                Color::LightGreen,
                Color::LightRed,
                Color::Yellow,
                Color::Cyan,
            ),
        };
        Theme {
            name,
            text: Style::new().fg(text),
            dim: Style::new().fg(dim),
            title: Style::new().fg(strong).add_modifier(Modifier::BOLD),
            header: Style::new().fg(accent).add_modifier(Modifier::BOLD),
            bid: Style::new().fg(bid),
            ask: Style::new().fg(ask),
            bid_bar: Style::new().fg(Color::Green),
            ask_bar: Style::new().fg(Color::Red),
            flash: Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            spread: Style::new().fg(strong).add_modifier(Modifier::BOLD),
            error: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            warn: Style::new().fg(warn),
            ok: Style::new().fg(bid),
            key: Style::new().fg(accent).add_modifier(Modifier::BOLD),
            paused: Style::new()
                .fg(Color::Black)
                .bg(warn)
                .add_modifier(Modifier::BOLD),
            border: Style::new().fg(dim),
            tab_selected: Style::new()
                .fg(strong)
                .add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
        }
    }

    fn mono() -> Theme {
        let plain = Style::new();
        let bold = Style::new().add_modifier(Modifier::BOLD);
        let dim = Style::new().add_modifier(Modifier::DIM);
        Theme {
            name: ThemeName::Mono,
            text: plain,
            dim,
            title: bold,
            header: bold,
            bid: plain,
            ask: plain,
            bid_bar: plain,
            ask_bar: dim,
            flash: Style::new().add_modifier(Modifier::REVERSED),
            spread: bold,
            error: Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
            warn: bold,
            ok: plain,
            key: bold,
            paused: Style::new().add_modifier(Modifier::REVERSED),
            border: dim,
            tab_selected: Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
        }
    }

    /// The style of a health badge.
    pub fn health(&self, health: Health) -> Style {
        if self.name == ThemeName::Mono {
            return match health {
                Health::Live => self.text,
                Health::Ended => self.paused,
                Health::Connecting | Health::Stale | Health::Resync => self.warn,
                Health::AuthError | Health::Down | Health::Crossed => self.error,
            };
        }
        let bg = match health {
            Health::Live => Color::Green,
            Health::Connecting => Color::Blue,
            Health::Stale => Color::Yellow,
            Health::Resync => Color::Magenta,
            Health::AuthError | Health::Down => Color::Red,
            // Bad data, not a connection problem: red, but not DOWN's.
            Health::Crossed => Color::LightRed,
            Health::Ended => Color::DarkGray,
        };
        let fg = match health {
            Health::Stale => Color::Black,
            _ => Color::White,
        };
        Style::new().fg(fg).bg(bg).add_modifier(Modifier::BOLD)
    }
}

impl Theme {
    /// The styles of the theme the viewer was configured with.
    pub fn of(app: &App) -> Theme {
        Theme::new(app.setup().display.theme)
    }
}

impl Default for Theme {
    fn default() -> Self {
        Theme::new(ThemeName::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bids_and_asks_differ_in_every_coloured_theme() {
        for name in [ThemeName::Dark, ThemeName::Light] {
            let theme = Theme::new(name);
            assert_ne!(theme.bid, theme.ask, "{name}");
            assert_ne!(theme.health(Health::Live), theme.health(Health::Down));
        }
    }

    #[test]
    fn mono_uses_no_colour() {
        let theme = Theme::new(ThemeName::Mono);
        let styles = [
            theme.text,
            theme.dim,
            theme.bid,
            theme.ask,
            theme.flash,
            theme.error,
            theme.warn,
            theme.paused,
            theme.health(Health::Live),
            theme.health(Health::AuthError),
        ];
        for style in styles {
            assert_eq!(style.fg, None);
            assert_eq!(style.bg, None);
        }
    }
}
