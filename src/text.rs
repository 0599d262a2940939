//! Text that may reach a terminal: the one place control characters are escaped.
//!
//! Much of what cbbook prints comes from others: a token's `kid` and claim names (pasted from a
//! log or a chat), a key file's name, a product id a client sent to the simulator, a server's
//! error reason, a file name. Printed raw, a control character in it is an instruction to the
//! terminal of whoever reads the output: ESC and the C1 CSI (U+009B) start sequences that set the
//! window title, clear the screen, move the cursor over earlier lines, or write the clipboard
//! (OSC 52); a carriage return or a line break lets the text forge lines of the report around it.
//!
//! Every control character (Unicode category Cc: C0 U+0000..U+001F, DEL U+007F, C1
//! U+0080..U+009F) is therefore written as visible text:
//!
//! | character | written as |
//! |---|---|
//! | C0 and DEL | `\x` and two lower-case hex digits: ESC is `\x1b`, a line break `\x0a`, DEL `\x7f` |
//! | C1 | `\u{..}`: CSI U+009B is `\u{9b}` |
//!
//! (the forms `tracing-subscriber` uses in log files, so that a log and a report show the same
//! thing). Backslashes are left as they are: the escaped text is for reading, not for parsing
//! back. [`printable`] escapes everything, for a value inside a line; [`printable_lines`] keeps
//! line breaks, for whole messages whose lines cbbook built (the last line of defence of
//! [`crate::output`]). JSON output has its own form, [`json_printable`], which keeps the JSON
//! valid and its strings unchanged.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every control character escaped (line breaks too): for an untrusted value placed
/// in a line of output. Borrowed when there is nothing to escape.
pub fn printable(text: &str) -> Cow<'_, str> {
    escape_if(text, |_| true)
}

/// `text` with every control character escaped except the line break: for a whole message whose
/// lines cbbook built (the untrusted values in it should already have gone through
/// [`printable`]; anything that did not is caught here, except a line break).
pub fn printable_lines(text: &str) -> Cow<'_, str> {
    escape_if(text, |c| c != '\n')
}

/// Serialized JSON with DEL and the C1 characters written as `\u00XX` escapes. `serde_json`
/// escapes C0 inside strings (JSON requires it) but writes DEL and C1 as they are, where a
/// terminal showing the JSON may act on them; outside strings serialized JSON has no such
/// character (only whitespace, left alone), so the result is the same JSON value, safe to show.
pub fn json_printable(json: &str) -> Cow<'_, str> {
    let unsafe_in_json = |c: char| ('\u{7f}'..='\u{9f}').contains(&c);
    if !json.chars().any(unsafe_in_json) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if unsafe_in_json(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A control character (Unicode Cc: C0, DEL, C1).
fn is_escaped(c: char) -> bool {
    c.is_control()
}

/// Escapes the control characters `c` for which `this(c)` holds.
fn escape_if(text: &str, this: impl Fn(char) -> bool) -> Cow<'_, str> {
    let escaped = |c: char| is_escaped(c) && this(c);
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if !escaped(c) {
            out.push(c);
        } else if u32::from(c) < 0x80 {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_character_is_escaped_in_the_documented_form() {
        assert_eq!(printable("a\x1b]0;title\x07b"), "a\\x1b]0;title\\x07b");
        assert_eq!(printable("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(printable("\x7f \u{80} \u{9f}"), "\\x7f \\u{80} \\u{9f}");
        assert_eq!(
            printable("line\nnext\r\t\0"),
            "line\\x0anext\\x0d\\x09\\x00"
        );
        for c in (0u32..0x20).chain(0x7f..0xa0).filter_map(char::from_u32) {
            let shown = printable(&c.to_string()).into_owned();
            assert!(shown.chars().all(|c| !c.is_control()), "{shown:?}");
            assert!(shown.starts_with('\\'), "{shown:?}");
        }
    }

    #[test]
    fn text_without_controls_is_borrowed_unchanged() {
        for text in [
            "",
            "BTC-USD",
            "organizations/x/apiKeys/y",
            "é ü 中文 \\x1b",
            "\u{a0}",
        ] {
            assert!(
                matches!(printable(text), Cow::Borrowed(t) if t == text),
                "{text}"
            );
            assert!(matches!(printable_lines(text), Cow::Borrowed(_)), "{text}");
            assert!(matches!(json_printable(text), Cow::Borrowed(_)), "{text}");
        }
    }

    #[test]
    fn printable_lines_keeps_line_breaks_only() {
        assert_eq!(
            printable_lines("one\ntwo\r\x1b[2J\u{9b}"),
            "one\ntwo\\x0d\\x1b[2J\\u{9b}"
        );
    }

    #[test]
    fn json_stays_the_same_value_and_loses_del_and_c1() {
        let value = serde_json::json!({"kid": "a\u{9b}2J\x1b[31m\x7fz\u{85}", "n": [1, 2]});
        let json = serde_json::to_string(&value).unwrap();
        assert!(
            json.contains('\u{9b}'),
            "serde_json leaves C1 as it is: {json}"
        );
        let safe = json_printable(&json);
        assert!(!safe.chars().any(char::is_control), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, value);
        // Pretty JSON keeps its layout: the line breaks between values are not in strings.
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        let safe = json_printable(&pretty);
        assert_eq!(safe.lines().count(), pretty.lines().count());
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&safe).unwrap(),
            value
        );
    }
}
