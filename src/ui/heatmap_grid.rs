//! What the heatmap pane and the picture (`cbbook heatmap`) share: which samples each column
//! shows, the size in a price range of a column sampled at any grouping, the log scale and the
//! colours (truecolor, 256 colours, or shades for mono).

use crate::config::{ColorDepth, ThemeName};
use crate::feed::core::heatmap::{HeatColumn, HeatSample, HeatTrade};
use crate::feed::events::Aggressor;

/// One column of the picture: the newest sample within its time, and every trade of it.
#[derive(Debug, Clone, Default)]
pub struct Pick<'a> {
    pub book: Option<&'a HeatColumn>,
    pub trades: Vec<&'a HeatTrade>,
    /// A sample in its time was suspect (drawn hatched).
    pub suspect: bool,
    /// Its book repeats the column before it (a column shorter than the sampling interval).
    pub repeated: bool,
}

/// The samples of each of `n` columns of `column_ms` each, the last ending at `end_ms` (the
/// newest on the right). A column no sample falls in repeats the book before it (the time per
/// column is finer than the sampling); columns before the first sample are empty.
pub fn pick_columns(
    samples: &[HeatSample],
    n: usize,
    column_ms: i64,
    end_ms: i64,
) -> Vec<Pick<'_>> {
    let mut columns: Vec<Pick<'_>> = vec![Pick::default(); n];
    let column_ms = column_ms.max(1);
    for s in samples {
        let back = (end_ms - s.at_ms).div_euclid(column_ms);
        if back < 0 || back >= n as i64 {
            continue;
        }
        let Some(c) = columns.get_mut(n - 1 - back as usize) else {
            continue;
        };
        c.book = Some(&s.book);
        c.trades.extend(s.trades.iter());
        c.suspect |= s.suspect;
    }
    let mut before: Option<(&HeatColumn, bool)> = None;
    for c in &mut columns {
        match c.book {
            Some(book) => before = Some((book, c.suspect)),
            None => {
                if let Some((book, suspect)) = before {
                    c.book = Some(book);
                    c.suspect |= suspect;
                    c.repeated = true;
                }
            }
        }
    }
    columns
}

/// The sizes resting in prices `[low, high)` (units) as (bids, asks): the column's buckets that
/// fall in it, a bucket that straddles an edge by the share inside (a column sampled at another
/// grouping than the one drawn).
pub fn size_in(column: &HeatColumn, low: u128, high: u128) -> (f32, f32) {
    let w = column.width.max(1);
    if high <= low {
        return (0.0, 0.0);
    }
    let Some((span_low, span_high)) = column.price_span() else {
        return (0.0, 0.0);
    };
    let (low, high) = (low.max(span_low), high.min(span_high));
    if high <= low {
        return (0.0, 0.0);
    }
    let (first, last) = (low / w, (high - 1) / w);
    let (mut bids, mut asks) = (0.0f32, 0.0f32);
    for k in first..=last {
        let (b, a) = column.at(k);
        if b == 0.0 && a == 0.0 {
            continue;
        }
        let inside = (high.min((k + 1) * w) - low.max(k * w)) as f64 / w as f64;
        bids += b * inside as f32;
        asks += a * inside as f32;
    }
    (bids, asks)
}

/// Where `size` sits between nothing and `max` on a log scale (0 to 1): resting sizes span
/// several orders of magnitude, and a linear scale would show only the largest wall.
pub fn intensity(size: f32, max: f32) -> f32 {
    if size <= 0.0 || max <= 0.0 || !size.is_finite() {
        return 0.0;
    }
    ((1.0 + size).ln() / (1.0 + max).ln()).clamp(0.0, 1.0)
}

/// How colours are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Palette {
    TrueColor(ThemeName),
    Ansi256(ThemeName),
    /// No colour: shades.
    Mono,
}

impl Palette {
    pub fn new(theme: ThemeName, colors: ColorDepth) -> Palette {
        match (theme, colors) {
            (ThemeName::Mono, _) => Palette::Mono,
            (theme, ColorDepth::TrueColor) => Palette::TrueColor(theme),
            (theme, ColorDepth::Ansi256) => Palette::Ansi256(theme),
        }
    }

    fn theme(self) -> ThemeName {
        match self {
            Palette::TrueColor(t) | Palette::Ansi256(t) => t,
            Palette::Mono => ThemeName::Mono,
        }
    }
}

/// An RGB colour.
pub type Rgb = [u8; 3];

/// A side's gradient from little to much size: three stops, on the theme's background.
fn stops(theme: ThemeName, bid: bool) -> [Rgb; 3] {
    match (theme == ThemeName::Light, bid) {
        (false, true) => [[0, 48, 40], [0, 170, 110], [190, 255, 220]],
        (false, false) => [[56, 8, 16], [210, 50, 50], [255, 215, 190]],
        (true, true) => [[215, 240, 225], [40, 160, 90], [0, 60, 30]],
        (true, false) => [[250, 222, 222], [205, 50, 50], [90, 0, 10]],
    }
}

/// The colour of `t` (0 to 1) of a side's gradient.
pub fn heat_rgb(theme: ThemeName, bid: bool, t: f32) -> Rgb {
    let [a, b, c] = stops(theme, bid);
    let t = t.clamp(0.0, 1.0);
    let (from, to, f) = if t < 0.5 {
        (a, b, t * 2.0)
    } else {
        (b, c, t * 2.0 - 1.0)
    };
    let mix = |x: u8, y: u8| (f32::from(x) + (f32::from(y) - f32::from(x)) * f).round() as u8;
    [
        mix(from[0], to[0]),
        mix(from[1], to[1]),
        mix(from[2], to[2]),
    ]
}

/// The best bid's and best ask's lines.
pub fn touch_rgb(theme: ThemeName, bid: bool) -> Rgb {
    match (theme == ThemeName::Light, bid) {
        (false, true) => [0, 215, 255],
        (false, false) => [255, 170, 0],
        (true, true) => [0, 70, 200],
        (true, false) => [200, 90, 0],
    }
}

/// A trade's marker, by aggressor: the colour of the side it took.
pub fn trade_rgb(theme: ThemeName, aggressor: Aggressor) -> Rgb {
    match (theme == ThemeName::Light, aggressor) {
        (false, Aggressor::Buy) => [120, 255, 140],
        (false, Aggressor::Sell) => [255, 110, 120],
        (true, Aggressor::Buy) => [0, 120, 40],
        (true, Aggressor::Sell) => [170, 0, 30],
    }
}

/// The picture's background (the PNG; the pane leaves the terminal's).
pub fn background_rgb(theme: ThemeName) -> Rgb {
    if theme == ThemeName::Light {
        [255, 255, 255]
    } else {
        [12, 12, 18]
    }
}

/// `rgb` halfway to grey: a suspect column.
pub fn dimmed(rgb: Rgb) -> Rgb {
    let grey = (u16::from(rgb[0]) + u16::from(rgb[1]) + u16::from(rgb[2])) / 3;
    rgb.map(|c| ((u16::from(c) + grey) / 2 / 2 + 20).min(255) as u8)
}

/// The nearest colour of the 256-colour cube (indices 16 to 231).
pub fn ansi256(rgb: Rgb) -> u8 {
    let level = |c: u8| -> u8 {
        // The cube's levels are 0, 95, 135, 175, 215, 255.
        match c {
            0..=47 => 0,
            48..=114 => 1,
            _ => ((u16::from(c) - 35) / 40).min(5) as u8,
        }
    };
    16 + 36 * level(rgb[0]) + 6 * level(rgb[1]) + level(rgb[2])
}

/// A terminal colour of `rgb` in `palette` (None for mono: no colour).
pub fn term_color(palette: Palette, rgb: Rgb) -> Option<ratatui::style::Color> {
    use ratatui::style::Color;
    match palette {
        Palette::TrueColor(_) => Some(Color::Rgb(rgb[0], rgb[1], rgb[2])),
        Palette::Ansi256(_) => Some(Color::Indexed(ansi256(rgb))),
        Palette::Mono => None,
    }
}

/// The cell colour of a size at intensity `t` in `palette` (None: nothing resting, or mono).
pub fn size_color(palette: Palette, bid: bool, t: f32) -> Option<ratatui::style::Color> {
    if t <= 0.0 {
        return None;
    }
    term_color(palette, heat_rgb(palette.theme(), bid, t))
}

/// Mono's shades, from little to much.
pub const SHADES: [char; 4] = ['░', '▒', '▓', '█'];

/// The shade of intensity `t` (a space for nothing).
pub fn shade(t: f32) -> char {
    if t <= 0.0 {
        return ' ';
    }
    let i = ((t * SHADES.len() as f32).ceil() as usize).clamp(1, SHADES.len());
    SHADES[i - 1]
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn the_log_scale_spreads_sizes_over_orders_of_magnitude() {
        assert_eq!(intensity(0.0, 100.0), 0.0);
        assert_eq!(intensity(100.0, 100.0), 1.0);
        assert_eq!(intensity(1_000.0, 100.0), 1.0, "clamped");
        let (small, mid) = (intensity(1.0, 100.0), intensity(10.0, 100.0));
        assert!(small > 0.1 && small < mid && mid < 1.0, "{small} {mid}");
        // A tenth of the max is past halfway: that is the point of the log.
        assert!(mid > 0.5);
        assert_eq!(intensity(f32::NAN, 1.0), 0.0);
        assert_eq!(intensity(1.0, 0.0), 0.0);
    }

    #[test]
    fn colours_fall_back_from_truecolor_to_256_to_shades() {
        use ratatui::style::Color;
        let dark = Palette::new(ThemeName::Dark, ColorDepth::TrueColor);
        assert!(matches!(size_color(dark, true, 0.5), Some(Color::Rgb(..))));
        let c256 = Palette::new(ThemeName::Light, ColorDepth::Ansi256);
        assert!(matches!(
            size_color(c256, true, 0.5),
            Some(Color::Indexed(16..=231))
        ));
        let mono = Palette::new(ThemeName::Mono, ColorDepth::TrueColor);
        assert_eq!(mono, Palette::Mono);
        assert_eq!(size_color(mono, true, 0.5), None);
        assert_eq!((shade(0.0), shade(0.1), shade(1.0)), (' ', '░', '█'));
        // Nothing resting: no colour in any palette.
        assert_eq!(size_color(dark, false, 0.0), None);
        // The cube's corners and a middle grey.
        assert_eq!(ansi256([0, 0, 0]), 16);
        assert_eq!(ansi256([255, 255, 255]), 231);
        assert_eq!(ansi256([255, 0, 0]), 196);
        // Bids and asks differ, more size is further from the background, in both themes.
        for theme in [ThemeName::Dark, ThemeName::Light] {
            assert_ne!(heat_rgb(theme, true, 0.5), heat_rgb(theme, false, 0.5));
            let bg = background_rgb(theme);
            let dist = |c: Rgb| {
                c.iter()
                    .zip(bg)
                    .map(|(a, b)| (i32::from(*a) - i32::from(b)).abs())
                    .sum::<i32>()
            };
            assert!(
                dist(heat_rgb(theme, true, 0.9)) > dist(heat_rgb(theme, true, 0.1)),
                "{theme}"
            );
            assert_ne!(touch_rgb(theme, true), heat_rgb(theme, true, 1.0));
        }
    }

    fn column(
        width: u128,
        bid_top: u128,
        bids: &[f32],
        ask_bottom: u128,
        asks: &[f32],
    ) -> HeatColumn {
        HeatColumn {
            width,
            bid_top,
            bids: bids.into(),
            ask_bottom,
            asks: asks.into(),
            best_bid: Some(bid_top * width),
            best_ask: Some(ask_bottom * width),
        }
    }

    #[test]
    fn a_column_regroups_into_any_price_range() {
        // Buckets of 10 units: bids at 90, 80, 70; asks at 110, 120.
        let c = column(10, 9, &[1.0, 2.0, 4.0], 11, &[8.0, 16.0]);
        assert_eq!(size_in(&c, 90, 100), (1.0, 0.0));
        assert_eq!(size_in(&c, 70, 100), (7.0, 0.0), "coarser: summed");
        assert_eq!(size_in(&c, 100, 130), (0.0, 24.0));
        assert_eq!(size_in(&c, 90, 95), (0.5, 0.0), "finer: its share");
        assert_eq!(size_in(&c, 0, 1_000), (7.0, 24.0));
        assert_eq!(size_in(&c, 500, 600), (0.0, 0.0), "beyond what was kept");
    }

    fn sample(at_ms: i64, suspect: bool) -> HeatSample {
        HeatSample {
            at_ms,
            book: Arc::new(column(10, 9, &[at_ms as f32], 11, &[])),
            trades: Arc::from(vec![HeatTrade::new(100, 1.0, Aggressor::Buy)]),
            suspect,
        }
    }

    #[test]
    fn columns_take_the_newest_sample_in_their_time_and_repeat_when_finer() {
        let samples: Vec<HeatSample> = (1..=6).map(|s| sample(s * 1_000, s == 3)).collect();
        // 2 s a column: three columns of two samples each.
        let cols = pick_columns(&samples, 3, 2_000, 6_000);
        let firsts: Vec<f32> = cols.iter().map(|c| c.book.unwrap().bids[0]).collect();
        assert_eq!(firsts, [2_000.0, 4_000.0, 6_000.0]);
        assert!(cols.iter().all(|c| c.trades.len() == 2));
        assert_eq!(
            cols.iter().map(|c| c.suspect).collect::<Vec<_>>(),
            [false, true, false]
        );
        // 500 ms a column: each sample twice, the repeat without its trades.
        let cols = pick_columns(&samples, 4, 500, 6_000);
        assert_eq!(cols[3].book.unwrap().bids[0], 6_000.0);
        assert!(!cols[3].repeated && cols[2].repeated);
        assert_eq!(cols[2].book.unwrap().bids[0], 5_000.0);
        assert!(cols[2].trades.is_empty());
        // More columns than history: the oldest are empty.
        let cols = pick_columns(&samples, 10, 1_000, 6_000);
        assert!(cols[..4].iter().all(|c| c.book.is_none()));
        assert!(cols[4..].iter().all(|c| c.book.is_some()));
    }
}
