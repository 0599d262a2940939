//! The keymap: one table ([`KEYMAP`]) from key presses to what they ask for. Key handling
//! ([`key_action`]), the help overlay, the footer's hints and the keymap's tests are all derived
//! from it, so a key cannot be bound without the help saying so.
//!
//! The table has two modes ([`KeyMode`]): the usual one, and typing the watchlist's filter,
//! where keys are text (Enter keeps it, Esc drops it, Backspace deletes) and only Ctrl-C keeps
//! its meaning: it always quits.
//!
//! Only presses count (`KeyEventKind::Press`): terminals that report releases and repeats would
//! otherwise toggle a pane twice. Ctrl-C always quits, whatever is open. A letter works in either
//! case (Caps Lock), and Alt with a key is not that key.

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
    /// Your orders pane (`o`): the shown product's, then every product's, then closed.
    ToggleOrders,
    /// Open or close the tape (the selected product's trades).
    ToggleTape,
    /// Show or hide the ladder's volume-at-price columns.
    ToggleVolume,
    /// Open or close the heatmap (the book through time).
    ToggleHeatmap,
    /// Heatmap: less time per column.
    HeatmapFiner,
    /// Heatmap: more time per column.
    HeatmapCoarser,
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
    /// Open or close the watchlist.
    ToggleWatchlist,
    /// Sort the watchlist by its next column.
    CycleSort,
    /// Reverse the watchlist's sort.
    ReverseSort,
    /// Start typing the watchlist's filter (opening the watchlist).
    Filter,
    /// Open the highlighted product of the watchlist.
    Open,
    /// Typing the filter: one more character.
    FilterChar(char),
    /// Typing the filter: delete the last character.
    FilterBackspace,
    /// Typing the filter: keep it and stop typing.
    FilterDone,
    /// Typing the filter: drop it and stop typing.
    FilterCancel,
}

/// Which keys the table's bindings are for: the usual ones, or typing the watchlist's filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyMode {
    #[default]
    Normal,
    /// Typing the watchlist's filter: keys are text.
    Typing,
}

/// A key as the table binds it: a key code, with or without Ctrl.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    const fn code(code: KeyCode) -> Key {
        Key { code, ctrl: false }
    }

    const fn char(c: char) -> Key {
        Key::code(KeyCode::Char(c))
    }

    const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            ctrl: true,
        }
    }

    /// The key as the help writes it.
    pub fn name(self) -> String {
        let name = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Left => "Left".to_string(),
            KeyCode::Right => "Right".to_string(),
            KeyCode::Up => "Up".to_string(),
            KeyCode::Down => "Down".to_string(),
            KeyCode::Tab => "Tab".to_string(),
            KeyCode::BackTab => "S-Tab".to_string(),
            KeyCode::PageUp => "PgUp".to_string(),
            KeyCode::PageDown => "PgDn".to_string(),
            KeyCode::Esc => "Esc".to_string(),
            KeyCode::Enter => "Enter".to_string(),
            KeyCode::Backspace => "Backspace".to_string(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}"),
        };
        if self.ctrl {
            format!("Ctrl-{}", name.to_uppercase())
        } else {
            name
        }
    }
}

/// A footer hint: its place in the footer, the keys in short, and one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hint {
    pub rank: u8,
    pub keys: &'static str,
    pub what: &'static str,
    /// The screen whose footer shows it.
    pub context: HintContext,
}

/// Which footer a hint belongs to: the footer shows the hints of what is on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HintContext {
    /// The ladder (and its side panes).
    #[default]
    Ladder,
    /// The watchlist: its own keys first.
    Watchlist,
    /// Typing the watchlist's filter.
    Typing,
}

/// One line of the help: keys, what each asks for, and what they do in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub keys: &'static [(Key, KeyAction)],
    pub what: &'static str,
    /// The footer's hint for these keys, if they are among the most used.
    pub hint: Option<Hint>,
    /// The mode these keys work in.
    pub mode: KeyMode,
}

impl Binding {
    /// The keys as the help lists them: each key's name, a run of digits as `1-9`. A binding
    /// with no key stands for the text typed in its mode.
    pub fn label(&self) -> String {
        if self.keys.is_empty() {
            return "text".to_string();
        }
        let mut names: Vec<String> = Vec::new();
        let mut digits: Vec<char> = Vec::new();
        let flush = |digits: &mut Vec<char>, names: &mut Vec<String>| {
            match digits.as_slice() {
                [] => {}
                [one] => names.push(one.to_string()),
                [first, .., last] => names.push(format!("{first}-{last}")),
            }
            digits.clear();
        };
        for (key, _) in self.keys {
            match key.code {
                KeyCode::Char(c)
                    if !key.ctrl
                        && c.is_ascii_digit()
                        && digits.last().is_none_or(|d| *d as u32 + 1 == c as u32) =>
                {
                    digits.push(c);
                }
                _ => {
                    flush(&mut digits, &mut names);
                    names.push(key.name());
                }
            }
        }
        flush(&mut digits, &mut names);
        names.join(" ")
    }

    /// Whether one of these keys asks for `action`.
    pub fn asks(&self, action: KeyAction) -> bool {
        self.keys.iter().any(|(_, a)| *a == action)
    }
}

/// Every key, in the order the help lists them.
pub const KEYMAP: &[Binding] = &[
    Binding {
        keys: &[
            (Key::code(KeyCode::Left), KeyAction::PrevProduct),
            (Key::code(KeyCode::Right), KeyAction::NextProduct),
        ],
        what: "previous / next product",
        hint: Some(Hint {
            rank: 2,
            keys: "←→",
            what: "product",
            context: HintContext::Ladder,
        }),
        mode: KeyMode::Normal,
    },
    Binding {
        keys: &[
            (Key::code(KeyCode::Tab), KeyAction::NextProduct),
            (Key::code(KeyCode::BackTab), KeyAction::PrevProduct),
        ],
        what: "next / previous product",
        hint: None,
        mode: KeyMode::Normal,
    },
    Binding {
        keys: &[
            (Key::char('1'), KeyAction::SelectProduct(0)),
            (Key::char('2'), KeyAction::SelectProduct(1)),
            (Key::char('3'), KeyAction::SelectProduct(2)),
            (Key::char('4'), KeyAction::SelectProduct(3)),
            (Key::char('5'), KeyAction::SelectProduct(4)),
            (Key::char('6'), KeyAction::SelectProduct(5)),
            (Key::char('7'), KeyAction::SelectProduct(6)),
            (Key::char('8'), KeyAction::SelectProduct(7)),
            (Key::char('9'), KeyAction::SelectProduct(8)),
        ],
        what: "product by number",
        hint: None,
        mode: KeyMode::Normal,
    },
    Binding {
        // `=` and `_` are `+` and `-` without Shift.
        keys: &[
            (Key::char('+'), KeyAction::GroupCoarser),
            (Key::char('-'), KeyAction::GroupFiner),
            (Key::char('='), KeyAction::GroupCoarser),
            (Key::char('_'), KeyAction::GroupFiner),
        ],
        what: "coarser / finer price grouping of this product",
        hint: Some(Hint {
            rank: 3,
            keys: "+-",
            what: "group",
            context: HintContext::Ladder,
        }),
        mode: KeyMode::Normal,
    },
    Binding {
        keys: &[(Key::char('a'), KeyAction::ToggleAuth)],
        what: "auth-debug pane (key, JWT, errors)",
        hint: Some(Hint {
            rank: 4,
            keys: "a",
            what: "auth",
            context: HintContext::Ladder,
        }),
        mode: KeyMode::Normal,
    },
    Binding {
        keys: &[(Key::char('d'), KeyAction::ToggleChart)],
        what: "depth chart",
        hint: Some(Hint {
            rank: 5,
            keys: "d",
            what: "depth",
            context: HintContext::Ladder,
        }),
        mode: KeyMode::Normal,
    },
    Binding {
        keys: &[(Key::char('o'), KeyAction::ToggleOrders)],
        what: "your orders (read-only): this product, all, closed",
        hint: None,
        mode: KeyMode::Normal,
    },
    Binding {
        keys: &[(Key::char('t'), KeyAction::ToggleTape)],
        what: "tape: the product's trades, newest first",
        hint: Some(Hint {
            rank: 6,
            keys: "t",
            what: "tape",
            context: HintContext::Ladder,
        }),
        mode: KeyMode::Normal,
    },
    Binding {
        keys: &[(Key::char('v'), KeyAction::ToggleVolume)],
        what: "ladder: volume traded at each price (bought / sold)",
        hint: None,
        mode: KeyMode::Normal,
    },
    Binding {
        keys: &[
            (Key::char('m'), KeyAction::ToggleHeatmap),
            (Key::char('['), KeyAction::HeatmapFiner),
            (Key::char(']'), KeyAction::HeatmapCoarser),
        ],
        what: "heatmap / less / more time per column",
        hint: None,
        mode: KeyMode::Normal,
    },
    Binding {
        keys: &[
            (Key::code(KeyCode::Up), KeyAction::Scroll(-1)),
            (Key::code(KeyCode::Down), KeyAction::Scroll(1)),
            (Key::char('k'), KeyAction::Scroll(-1)),
            (Key::char('j'), KeyAction::Scroll(1)),
        ],
        what: "scroll the auth pane / move in the watchlist a line",
        hint: None,
        mode: KeyMode::Normal,
    },
    Binding {
        keys: &[
            (Key::code(KeyCode::PageUp), KeyAction::Page(-1)),
            (Key::code(KeyCode::PageDown), KeyAction::Page(1)),
        ],
        what: "scroll the auth pane / move in the watchlist a page",
        hint: None,
        mode: KeyMode::Normal,
    },
    Binding {
        keys: &[(Key::char('w'), KeyAction::ToggleWatchlist)],
        what: "watchlist: every product in one table",
        hint: Some(Hint {
            rank: 10,
            keys: "w",
            what: "close",
            context: HintContext::Watchlist,
        }),
        mode: KeyMode::Normal,
    },
    Binding {
        keys: &[
            (Key::char('s'), KeyAction::CycleSort),
            (Key::char('i'), KeyAction::ReverseSort),
        ],
        what: "watchlist: sort by the next column / invert the order",
        hint: Some(Hint {
            rank: 11,
            keys: "s i",
            what: "sort",
            context: HintContext::Watchlist,
        }),
        mode: KeyMode::Normal,
    },
    Binding {
        keys: &[(Key::char('/'), KeyAction::Filter)],
        what: "watchlist: type a filter (part of a product id)",
        hint: Some(Hint {
            rank: 12,
            keys: "/",
            what: "filter",
            context: HintContext::Watchlist,
        }),
        mode: KeyMode::Normal,
    },
    Binding {
        keys: &[(Key::code(KeyCode::Enter), KeyAction::Open)],
        what: "watchlist: open the product's ladder",
        hint: Some(Hint {
            rank: 13,
            keys: "Enter",
            what: "open",
            context: HintContext::Watchlist,
        }),
        mode: KeyMode::Normal,
    },
    Binding {
        keys: &[
            (Key::char('p'), KeyAction::TogglePause),
            (Key::char(' '), KeyAction::TogglePause),
        ],
        what: "pause / resume the book",
        hint: Some(Hint {
            rank: 7,
            keys: "p",
            what: "pause",
            context: HintContext::Ladder,
        }),
        mode: KeyMode::Normal,
    },
    Binding {
        keys: &[(Key::char('r'), KeyAction::Resync)],
        what: "resync: fresh snapshots",
        hint: Some(Hint {
            rank: 8,
            keys: "r",
            what: "resync",
            context: HintContext::Ladder,
        }),
        mode: KeyMode::Normal,
    },
    Binding {
        keys: &[
            (Key::char('?'), KeyAction::ToggleHelp),
            (Key::char('h'), KeyAction::ToggleHelp),
            (Key::code(KeyCode::F(1)), KeyAction::ToggleHelp),
        ],
        what: "this help",
        hint: Some(Hint {
            rank: 1,
            keys: "?",
            what: "help",
            context: HintContext::Ladder,
        }),
        mode: KeyMode::Normal,
    },
    Binding {
        keys: &[(Key::code(KeyCode::Esc), KeyAction::Back)],
        what: "close a pane; quit if none",
        hint: None,
        mode: KeyMode::Normal,
    },
    Binding {
        keys: &[
            (Key::char('q'), KeyAction::Quit),
            (Key::ctrl('c'), KeyAction::Quit),
        ],
        what: "quit",
        hint: Some(Hint {
            rank: 0,
            keys: "q",
            what: "quit",
            context: HintContext::Ladder,
        }),
        mode: KeyMode::Normal,
    },
    Binding {
        keys: &[],
        what: "filter: the text typed (any case)",
        hint: None,
        mode: KeyMode::Typing,
    },
    Binding {
        keys: &[
            (Key::code(KeyCode::Enter), KeyAction::FilterDone),
            (Key::code(KeyCode::Esc), KeyAction::FilterCancel),
            (Key::code(KeyCode::Backspace), KeyAction::FilterBackspace),
        ],
        what: "filter: keep it / drop it / delete a character",
        hint: Some(Hint {
            rank: 20,
            keys: "Enter/Esc",
            what: "keep/drop the filter",
            context: HintContext::Typing,
        }),
        mode: KeyMode::Typing,
    },
];

/// The action of a key event in the usual mode, if any: the table's, for presses only.
pub fn key_action(key: &KeyEvent) -> Option<KeyAction> {
    key_action_in(KeyMode::Normal, key)
}

/// The action of a key event in `mode`, if any: the table's bindings for that mode, for presses
/// only. Typing, a character that the mode's bindings do not take is text
/// ([`KeyAction::FilterChar`]), and Ctrl-C quits as it always does.
pub fn key_action_in(mode: KeyMode, key: &KeyEvent) -> Option<KeyAction> {
    if key.kind != KeyEventKind::Press {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    // Ctrl-C quits whatever the mode and whatever else is held.
    if ctrl && matches!(key.code, KeyCode::Char('c' | 'C')) {
        return Some(KeyAction::Quit);
    }
    let code = match (mode, key.code) {
        // Text keeps its case; the filter matches in any case.
        (KeyMode::Normal, KeyCode::Char(c)) => KeyCode::Char(c.to_ascii_lowercase()),
        (_, code) => code,
    };
    let pressed = Key { code, ctrl };
    // Alt with an ordinary key is not that key.
    if alt && !pressed.ctrl {
        return None;
    }
    let bound = KEYMAP
        .iter()
        .filter(|binding| binding.mode == mode)
        .flat_map(|binding| binding.keys)
        .find(|(key, _)| *key == pressed)
        .map(|(_, action)| *action);
    match (mode, bound, code) {
        (_, Some(action), _) => Some(action),
        (KeyMode::Typing, None, KeyCode::Char(c)) if !ctrl => Some(KeyAction::FilterChar(c)),
        _ => None,
    }
}

/// The bindings with a footer hint for `context`, in footer order: on the watchlist, quit and
/// help come first, then its own keys.
pub fn hinted_in(context: HintContext) -> Vec<(&'static Binding, Hint)> {
    let mut hinted: Vec<(&Binding, Hint)> = KEYMAP
        .iter()
        .filter_map(|binding| binding.hint.map(|hint| (binding, hint)))
        .filter(|(binding, hint)| {
            hint.context == context
                || (context == HintContext::Watchlist
                    && (binding.asks(KeyAction::Quit) || binding.asks(KeyAction::ToggleHelp)))
        })
        .collect();
    hinted.sort_by_key(|(_, hint)| hint.rank);
    hinted
}

/// The bindings with a footer hint on the ladder, in footer order.
pub fn hinted() -> Vec<(&'static Binding, Hint)> {
    hinted_in(HintContext::Ladder)
}

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
            (press(KeyCode::Char('o')), Some(KeyAction::ToggleOrders)),
            (press(KeyCode::Char('t')), Some(KeyAction::ToggleTape)),
            (press(KeyCode::Char('v')), Some(KeyAction::ToggleVolume)),
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
            (press(KeyCode::Char('k')), Some(KeyAction::Scroll(-1))),
            (press(KeyCode::Down), Some(KeyAction::Scroll(1))),
            (press(KeyCode::Char('h')), Some(KeyAction::ToggleHelp)),
            (press(KeyCode::Char('_')), Some(KeyAction::GroupFiner)),
            (
                with(KeyCode::Char('Q'), KeyModifiers::SHIFT),
                Some(KeyAction::Quit),
            ),
            (
                with(
                    KeyCode::Char('c'),
                    KeyModifiers::CONTROL | KeyModifiers::ALT,
                ),
                Some(KeyAction::Quit),
            ),
            (press(KeyCode::PageDown), Some(KeyAction::Page(1))),
            (press(KeyCode::PageUp), Some(KeyAction::Page(-1))),
            (press(KeyCode::Char('x')), None),
            (press(KeyCode::Enter), Some(KeyAction::Open)),
            (press(KeyCode::Char('w')), Some(KeyAction::ToggleWatchlist)),
            (press(KeyCode::Char('s')), Some(KeyAction::CycleSort)),
            (press(KeyCode::Char('i')), Some(KeyAction::ReverseSort)),
            (press(KeyCode::Char('/')), Some(KeyAction::Filter)),
            (press(KeyCode::Backspace), None),
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
    fn every_key_in_the_table_does_what_it_says_and_only_that() {
        let mut seen = Vec::new();
        for binding in KEYMAP {
            for (key, action) in binding.keys {
                assert!(
                    !seen.contains(&(binding.mode, *key)),
                    "{key:?} is bound twice in {:?}",
                    binding.mode
                );
                seen.push((binding.mode, *key));
                let modifiers = if key.ctrl {
                    KeyModifiers::CONTROL
                } else {
                    KeyModifiers::NONE
                };
                let pressed = with(key.code, modifiers);
                assert_eq!(key_action_in(binding.mode, &pressed), Some(*action));
                // Caps Lock: the upper case letter is the same key.
                if let KeyCode::Char(c) = key.code {
                    let upper = KeyCode::Char(c.to_ascii_uppercase());
                    assert_eq!(
                        key_action_in(binding.mode, &with(upper, modifiers)),
                        Some(*action)
                    );
                }
                assert!(
                    binding.label().split(' ').any(|name| name == key.name())
                        || matches!(key.code, KeyCode::Char('1'..='9')),
                    "the help does not name {}",
                    key.name()
                );
            }
        }
    }

    #[test]
    fn help_labels() {
        let labels: Vec<String> = KEYMAP.iter().map(Binding::label).collect();
        for label in [
            "Left Right",
            "Tab S-Tab",
            "1-9",
            "Up Down k j",
            "PgUp PgDn",
            "p Space",
            "? h F1",
            "q Ctrl-C",
            "s i",
            "Enter Esc Backspace",
            "text",
        ] {
            assert!(labels.iter().any(|l| l == label), "{label}: {labels:?}");
        }
    }

    #[test]
    fn footer_hints_in_order() {
        let hints: Vec<(&str, &str)> = hinted().iter().map(|(_, h)| (h.keys, h.what)).collect();
        assert_eq!(
            hints,
            [
                ("q", "quit"),
                ("?", "help"),
                ("←→", "product"),
                ("+-", "group"),
                ("a", "auth"),
                ("d", "depth"),
                ("t", "tape"),
                ("p", "pause"),
                ("r", "resync"),
            ]
        );
        let watchlist: Vec<(&str, &str)> = hinted_in(HintContext::Watchlist)
            .iter()
            .map(|(_, h)| (h.keys, h.what))
            .collect();
        assert_eq!(
            watchlist,
            [
                ("q", "quit"),
                ("?", "help"),
                ("w", "close"),
                ("s i", "sort"),
                ("/", "filter"),
                ("Enter", "open"),
            ]
        );
    }

    #[test]
    fn typing_a_filter_keys_are_text_but_ctrl_c_quits() {
        let typing = |key| key_action_in(KeyMode::Typing, &key);
        for c in ['q', 'Q', 'w', 's', '/', '1', '-', ' ', '?'] {
            assert_eq!(
                typing(press(KeyCode::Char(c))),
                Some(KeyAction::FilterChar(c))
            );
        }
        assert_eq!(
            typing(with(KeyCode::Char('E'), KeyModifiers::SHIFT)),
            Some(KeyAction::FilterChar('E'))
        );
        assert_eq!(
            typing(with(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(KeyAction::Quit)
        );
        assert_eq!(typing(press(KeyCode::Enter)), Some(KeyAction::FilterDone));
        assert_eq!(typing(press(KeyCode::Esc)), Some(KeyAction::FilterCancel));
        assert_eq!(
            typing(press(KeyCode::Backspace)),
            Some(KeyAction::FilterBackspace)
        );
        assert_eq!(typing(press(KeyCode::Up)), None);
        assert_eq!(typing(with(KeyCode::Char('x'), KeyModifiers::ALT)), None);
        assert_eq!(
            typing(with(KeyCode::Char('u'), KeyModifiers::CONTROL)),
            None
        );
        let release = KeyEvent {
            kind: KeyEventKind::Release,
            ..press(KeyCode::Char('a'))
        };
        assert_eq!(typing(release), None);
    }
}
