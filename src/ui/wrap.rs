//! Label-and-value lines whose values wrap under themselves, not under the label.
//!
//! ```text
//!  reason     key_unknown: the server trusts no key named
//!             organizations/x/apiKeys/y
//! ```

use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// Splits `text` into pieces of at most `width` characters, at spaces when it can. A word
/// longer than a line (JSON, key names) is cut after a `,` or `/` (else a `:` or `-`) in the
/// second half of the line when it has one, so that `organizations/x/apiKeys/` and
/// `"channel":"level2",` stay whole; anywhere otherwise. Existing newlines are kept.
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
            }
            let mut rest: Vec<char> = word.chars().collect();
            while rest.len() > width {
                let cut = cut_point(&rest[..width]);
                out.push(rest.drain(..cut).collect());
            }
            line = rest.iter().collect();
            line_len = rest.len();
        }
        out.push(line);
    }
    out
}

/// Where to cut a line that is all one word: after the last `,` or `/` in its second half,
/// else after the last `:` or `-` there, else at its end.
fn cut_point(line: &[char]) -> usize {
    let after_last = |breaks: &[char]| {
        line.iter()
            .rposition(|c| breaks.contains(c))
            .map(|i| i + 1)
            .filter(|&cut| cut * 2 >= line.len())
    };
    after_last(&[',', '/'])
        .or_else(|| after_last(&[':', '-']))
        .unwrap_or(line.len())
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
        assert_eq!(wrap_text("abcdefghij", 5), ["abcde", "fghij"]);
        assert_eq!(wrap_text("ab abcdefgh", 5), ["ab", "abcde", "fgh"]);
        assert_eq!(wrap_text("one\ntwo", 10), ["one", "two"]);
        assert_eq!(wrap_text("", 10), [""]);
    }

    #[test]
    fn long_words_are_cut_after_separators() {
        assert_eq!(
            wrap_text("organizations/cbbook-demo/apiKeys/demo-es256-test-only", 49),
            ["organizations/cbbook-demo/apiKeys/", "demo-es256-test-only"]
        );
        assert_eq!(
            wrap_text(
                r#"{"type":"subscribe","product_ids":[],"channel":"heartbeats","jwt":"<redacted>"}"#,
                64
            ),
            [
                r#"{"type":"subscribe","product_ids":[],"channel":"heartbeats","#,
                r#""jwt":"<redacted>"}"#
            ]
        );
        // A separator too early in the line would waste it: cut at the width instead.
        assert_eq!(wrap_text("a/bcdefghij", 5), ["a/bcd", "efghi", "j"]);
        // Second choice: a colon or a hyphen.
        assert_eq!(wrap_text("abc-defghij", 6), ["abc-", "defghi", "j"]);
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
