//! The keymap: a pure table from a key press to what it asks for, and the help text drawn from it.
//!
//! Only presses count (`KeyEventKind::Press`): terminals that report releases and repeats would
//! otherwise toggle a pane twice. Ctrl-C always quits, whatever is open.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAction {
    /// `q`, Ctrl-C: leave at once.
    Quit,
    /// Esc: close the topmost overlay, or leave when none is open.
    Back,
    NextProduct,
    PrevProduct,
    /// `1`..`9`: the product with that number (0-based index here).
    SelectProduct(usize),
    ToggleAuth,
    ToggleChart,
    ToggleHelp,
    /// Ask the feed for fresh snapshots.
    Resync,
    /// Freeze or unfreeze the book on screen.
    TogglePause,
    /// Coarser price grouping.
    GroupCoarser,
    /// Finer price grouping.
    GroupFiner,
    /// Scroll the auth pane by this many lines (negative: up).
    Scroll(i16),
    /// Scroll the auth pane by this many of its visible heights (negative: up).
    Page(i16),
}

/// The action of a key event, if any.
pub fn key_action(key: &KeyEvent) -> Option<KeyAction> {
    if key.kind != KeyEventKind::Press {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let action = match key.code {
        KeyCode::Char('c' | 'C') if ctrl => KeyAction::Quit,
        _ if ctrl || key.modifiers.contains(KeyModifiers::ALT) => return None,
        KeyCode::Char('q' | 'Q') => KeyAction::Quit,
        KeyCode::Esc => KeyAction::Back,
        KeyCode::Right | KeyCode::Tab => KeyAction::NextProduct,
        KeyCode::Left | KeyCode::BackTab => KeyAction::PrevProduct,
        KeyCode::Char(c @ '1'..='9') => KeyAction::SelectProduct(usize::from(c as u8 - b'1')),
        KeyCode::Char('a' | 'A') => KeyAction::ToggleAuth,
        KeyCode::Char('d' | 'D') => KeyAction::ToggleChart,
        KeyCode::Char('?' | 'h' | 'H') | KeyCode::F(1) => KeyAction::ToggleHelp,
        KeyCode::Char('r' | 'R') => KeyAction::Resync,
        KeyCode::Char('p' | 'P' | ' ') => KeyAction::TogglePause,
        KeyCode::Char('+' | '=') => KeyAction::GroupCoarser,
        KeyCode::Char('-' | '_') => KeyAction::GroupFiner,
        KeyCode::Up | KeyCode::Char('k') => KeyAction::Scroll(-1),
        KeyCode::Down | KeyCode::Char('j') => KeyAction::Scroll(1),
        KeyCode::PageUp => KeyAction::Page(-1),
        KeyCode::PageDown => KeyAction::Page(1),
        _ => return None,
    };
    Some(action)
}

/// One line of the help overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelpLine {
    pub keys: &'static str,
    pub what: &'static str,
}

/// Every key, in the order the help overlay lists them.
pub const HELP: &[HelpLine] = &[
    HelpLine {
        keys: "Left Right",
        what: "previous / next product",
    },
    HelpLine {
        keys: "Tab S-Tab",
        what: "next / previous product",
    },
    HelpLine {
        keys: "1-9",
        what: "product by number",
    },
    HelpLine {
        keys: "+ -",
        what: "coarser / finer price grouping of this product",
    },
    HelpLine {
        keys: "a",
        what: "auth-debug pane (key, JWT, errors)",
    },
    HelpLine {
        keys: "d",
        what: "depth chart",
    },
    HelpLine {
        keys: "Up Down",
        what: "scroll the auth pane (PgUp PgDn: a page)",
    },
    HelpLine {
        keys: "p Space",
        what: "pause / resume the book",
    },
    HelpLine {
        keys: "r",
        what: "resync: fresh snapshots",
    },
    HelpLine {
        keys: "? h F1",
        what: "this help",
    },
    HelpLine {
        keys: "Esc",
        what: "close a pane; quit if none",
    },
    HelpLine {
        keys: "q Ctrl-C",
        what: "quit",
    },
];

/// The short hints of the footer: (key, what).
pub const HINTS: &[(&str, &str)] = &[
    ("q", "quit"),
    ("?", "help"),
    ("←→", "product"),
    ("+-", "group"),
    ("a", "auth"),
    ("d", "depth"),
    ("p", "pause"),
    ("r", "resync"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventState;

    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn with(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn table() {
        let cases = [
            (press(KeyCode::Char('q')), Some(KeyAction::Quit)),
            (
                with(KeyCode::Char('c'), KeyModifiers::CONTROL),
                Some(KeyAction::Quit),
            ),
            (press(KeyCode::Esc), Some(KeyAction::Back)),
            (press(KeyCode::Right), Some(KeyAction::NextProduct)),
            (press(KeyCode::Tab), Some(KeyAction::NextProduct)),
            (press(KeyCode::Left), Some(KeyAction::PrevProduct)),
            (
                with(KeyCode::BackTab, KeyModifiers::SHIFT),
                Some(KeyAction::PrevProduct),
            ),
            (press(KeyCode::Char('1')), Some(KeyAction::SelectProduct(0))),
            (press(KeyCode::Char('9')), Some(KeyAction::SelectProduct(8))),
            (press(KeyCode::Char('0')), None),
            (press(KeyCode::Char('a')), Some(KeyAction::ToggleAuth)),
            (press(KeyCode::Char('d')), Some(KeyAction::ToggleChart)),
            (press(KeyCode::Char('?')), Some(KeyAction::ToggleHelp)),
            (
                with(KeyCode::Char('?'), KeyModifiers::SHIFT),
                Some(KeyAction::ToggleHelp),
            ),
            (press(KeyCode::F(1)), Some(KeyAction::ToggleHelp)),
            (press(KeyCode::Char('r')), Some(KeyAction::Resync)),
            (press(KeyCode::Char('p')), Some(KeyAction::TogglePause)),
            (press(KeyCode::Char(' ')), Some(KeyAction::TogglePause)),
            (press(KeyCode::Char('+')), Some(KeyAction::GroupCoarser)),
            (
                with(KeyCode::Char('+'), KeyModifiers::SHIFT),
                Some(KeyAction::GroupCoarser),
            ),
            (press(KeyCode::Char('=')), Some(KeyAction::GroupCoarser)),
            (press(KeyCode::Char('-')), Some(KeyAction::GroupFiner)),
            (press(KeyCode::Up), Some(KeyAction::Scroll(-1))),
            (press(KeyCode::Char('j')), Some(KeyAction::Scroll(1))),
            (press(KeyCode::PageDown), Some(KeyAction::Page(1))),
            (press(KeyCode::PageUp), Some(KeyAction::Page(-1))),
            (press(KeyCode::Char('x')), None),
            (press(KeyCode::Enter), None),
            // Ctrl or Alt with an ordinary key is not that key.
            (with(KeyCode::Char('q'), KeyModifiers::CONTROL), None),
            (with(KeyCode::Char('r'), KeyModifiers::ALT), None),
        ];
        for (key, expected) in cases {
            assert_eq!(key_action(&key), expected, "{key:?}");
        }
    }

    #[test]
    fn only_presses_count() {
        for kind in [KeyEventKind::Release, KeyEventKind::Repeat] {
            let key = KeyEvent {
                code: KeyCode::Char('q'),
                modifiers: KeyModifiers::NONE,
                kind,
                state: KeyEventState::NONE,
            };
            assert_eq!(key_action(&key), None, "{kind:?}");
        }
        let ctrl_c_release = KeyEvent {
            code: KeyCode::Char('c'),
            modifiers: KeyModifiers::CONTROL,
            kind: KeyEventKind::Release,
            state: KeyEventState::NONE,
        };
        assert_eq!(key_action(&ctrl_c_release), None);
    }

    #[test]
    fn help_names_every_bound_key() {
        let listed: String = HELP
            .iter()
            .map(|line| line.keys)
            .collect::<Vec<_>>()
            .join(" ");
        for needle in [
            "Left", "Right", "Up", "Down", "Tab", "S-Tab", "1-9", "+", "-", "a", "d", "p", "Space",
            "r", "?", "h", "F1", "Esc", "q", "Ctrl-C",
        ] {
            assert!(
                listed.split(' ').any(|k| k == needle),
                "help does not list `{needle}`"
            );
        }
    }
}
