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
/// `"channel":"level2",` stay whole. A cut never falls inside a quoted string (`"BTC-USD"`
/// stays whole): a line that would end inside one is cut earlier, after the last separator or
/// punctuation outside strings; only a string wider than the line is cut anywhere. Existing
/// newlines are kept.
pub fn wrap_text(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut line_len = 0;
        // Whether the text so far ends inside a quoted string (prose between words keeps it).
        let mut quoted = false;
        for word in paragraph.split(' ') {
            let chars: Vec<char> = word.chars().collect();
            let inside = quote_states(&chars, quoted);
            quoted = inside[chars.len()];
            let word_len = chars.len();
            if line_len > 0 && line_len + 1 + word_len <= width {
                line.push(' ');
                line.push_str(word);
                line_len += 1 + word_len;
                continue;
            }
            if line_len > 0 {
                out.push(std::mem::take(&mut line));
            }
            let mut start = 0;
            while word_len - start > width {
                let cut = cut_point(&chars[start..start + width], &inside[start..=start + width]);
                out.push(chars[start..start + cut].iter().collect());
                start += cut;
            }
            line = chars[start..].iter().collect();
            line_len = word_len - start;
        }
        out.push(line);
    }
    out
}

/// For each boundary of `word` (before its first char, between chars, after its last), whether
/// it falls inside a double-quoted string; `quoted` says whether the word starts inside one.
/// A backslash-escaped quote does not end a string.
fn quote_states(word: &[char], quoted: bool) -> Vec<bool> {
    let mut states = Vec::with_capacity(word.len() + 1);
    let mut inside = quoted;
    let mut escaped = false;
    states.push(inside);
    for &c in word {
        if inside && escaped {
            escaped = false;
        } else if inside && c == '\\' {
            escaped = true;
        } else if c == '"' {
            inside = !inside;
        }
        states.push(inside);
    }
    states
}

/// Where to cut a line that is all one word. `inside[k]` says whether a cut before `line[k]`
/// would fall inside a quoted string. First choice: after the last `,` or `/` in the line's
/// second half, else after the last `:` or `-` there, outside strings. When the line's end
/// falls inside a string: after the last of those anywhere, else at the last boundary outside
/// strings next to punctuation (`["` | `BTC-USD"`). When there is none, the string is wider
/// than the line: it is cut after a separator in the line's second half (a quoted key name
/// keeps `organizations/x/apiKeys/` whole), else at the line's end.
fn cut_point(line: &[char], inside: &[bool]) -> usize {
    let len = line.len();
    let after_last = |breaks: &[char], min_cut: usize, in_strings: bool| {
        (min_cut.max(1)..=len)
            .rev()
            .find(|&cut| breaks.contains(&line[cut - 1]) && (in_strings || !inside[cut]))
    };
    let half = len.div_ceil(2);
    let preferred =
        after_last(&[',', '/'], half, false).or_else(|| after_last(&[':', '-'], half, false));
    if let Some(cut) = preferred {
        return cut;
    }
    if !inside[len] {
        return len;
    }
    let between_words = |cut: usize| line[cut - 1].is_alphanumeric() && line[cut].is_alphanumeric();
    after_last(&[',', '/', ':', '-'], 1, false)
        .or_else(|| {
            (1..len)
                .rev()
                .find(|&cut| !(inside[cut] || between_words(cut)))
        })
        .or_else(|| after_last(&[',', '/'], half, true))
        .or_else(|| after_last(&[':', '-'], half, true))
        .unwrap_or(len)
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
    fn quoted_strings_are_not_cut_unless_wider_than_a_line() {
        let json = r#"{"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channel":"level2"}"#;
        // From the width of the longest string (`"subscribe"`) up: no string is wider.
        for width in 11..json.len() {
            let pieces = wrap_text(json, width);
            assert_eq!(pieces.concat(), json, "width {width}");
            assert!(pieces.iter().all(|p| p.chars().count() <= width));
            for id in [r#""BTC-USD""#, r#""ETH-USD""#, r#""subscribe""#] {
                assert!(
                    pieces.iter().any(|p| p.contains(id)),
                    "width {width}: {id} cut: {pieces:?}"
                );
            }
        }
        assert_eq!(
            wrap_text(json, 44),
            [
                r#"{"type":"subscribe","product_ids":"#,
                r#"["BTC-USD","ETH-USD"],"channel":"level2"}"#
            ]
        );
        // Nothing but a string, wider than the line: cut where the line ends.
        assert_eq!(wrap_text(r#""abcdefgh""#, 5), [r#""abcd"#, r#"efgh""#]);
        // An escaped quote does not end the string.
        assert_eq!(
            wrap_text(r#"["a\"b-c","d"]"#, 8),
            [r#"["#, r#""a\"b-c""#, r#","d"]"#]
        );
        // A string with spaces in it is prose: it wraps at its spaces.
        assert_eq!(
            wrap_text(r#"{"reason":"the key is unknown"}"#, 16),
            [r#"{"reason":"the"#, r#"key is unknown"}"#]
        );
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
