//! Label-and-value lines whose values wrap under themselves, not under the label.
//!
//! ```text
//!  reason     key_unknown: the server trusts no key named
//!             organizations/x/apiKeys/y
//! ```

use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// Splits `text` into pieces of at most `width` characters, at spaces when it can and anywhere
/// inside a longer word (JSON, key names). Existing newlines are kept.
pub fn wrap_text(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut line_len = 0;
        for word in paragraph.split(' ') {
            let word_len = word.chars().count();
            if line_len > 0 && line_len + 1 + word_len <= width {
                line.push(' ');
                line.push_str(word);
                line_len += 1 + word_len;
                continue;
            }
            if line_len > 0 {
                out.push(std::mem::take(&mut line));
                line_len = 0;
            }
            let mut chars = word.chars().peekable();
            while chars.peek().is_some() {
                let piece: String = chars.by_ref().take(width).collect();
                let piece_len = piece.chars().count();
                if piece_len == width && chars.peek().is_some() {
                    out.push(piece);
                } else {
                    line = piece;
                    line_len = piece_len;
                }
            }
        }
        out.push(line);
    }
    out
}

/// Lines for `label  value`, the value wrapped to `width` and indented under itself.
pub fn field(
    label: &str,
    label_width: usize,
    value: &str,
    label_style: Style,
    value_style: Style,
    width: usize,
) -> Vec<Line<'static>> {
    let room = width.saturating_sub(label_width + 2).max(8);
    wrap_text(value, room)
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let head = if i == 0 { label } else { "" };
            Line::from(vec![
                Span::styled(format!(" {head:<label_width$} "), label_style),
                Span::styled(piece, value_style),
            ])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces_and_inside_long_words() {
        assert_eq!(
            wrap_text("the quick brown fox", 10),
            ["the quick", "brown fox"]
        );
        assert_eq!(wrap_text("abcdefghijkl", 5), ["abcde", "fghij", "kl"]);
        assert_eq!(wrap_text("ab abcdefgh", 5), ["ab", "abcde", "fgh"]);
        assert_eq!(wrap_text("one\ntwo", 10), ["one", "two"]);
        assert_eq!(wrap_text("", 10), [""]);
    }

    #[test]
    fn continuation_lines_are_indented_under_the_value() {
        let lines = field(
            "reason",
            8,
            "aaaa bbbb cccc",
            Style::new(),
            Style::new(),
            16,
        );
        let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        assert_eq!(text, [" reason   aaaa", "          bbbb", "          cccc"]);
    }
}
