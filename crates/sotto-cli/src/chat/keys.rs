//! The keys of the chat screen: terminal key events to [`Input`]s, and the help bar's list.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::state::Input;

/// The keys, as the help bar lists them.
pub const HELP: &[(&str, &str)] = &[
    ("Ctrl-Q", "quit"),
    ("Enter", "send"),
    ("↑/↓", "conversation"),
    ("PgUp/PgDn", "scroll"),
    ("Ctrl-N", "new conversation"),
    ("Ctrl-S", "safety number"),
    ("Ctrl-A", "accept changed identity"),
    ("Esc", "dismiss"),
];

/// The input a key press means, if any (releases and repeats of modifiers mean nothing).
pub fn input(key: KeyEvent) -> Option<Input> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return match key.code {
            KeyCode::Char('c' | 'q') => Some(Input::Quit),
            KeyCode::Char('n') => Some(Input::NewConversation),
            KeyCode::Char('a') => Some(Input::AcceptIdentity),
            KeyCode::Char('s') => Some(Input::SafetyNumber),
            _ => None,
        };
    }
    Some(match key.code {
        KeyCode::Char(c) => Input::Char(c),
        KeyCode::Backspace => Input::Backspace,
        KeyCode::Enter => Input::Enter,
        KeyCode::Esc => Input::Escape,
        KeyCode::Up | KeyCode::BackTab => Input::Up,
        KeyCode::Down | KeyCode::Tab => Input::Down,
        KeyCode::PageUp => Input::PageUp,
        KeyCode::PageDown => Input::PageDown,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> Option<Input> {
        input(KeyEvent::new(code, modifiers))
    }

    #[test]
    fn control_keys_are_commands_and_others_are_text() {
        assert_eq!(
            key(KeyCode::Char('q'), KeyModifiers::CONTROL),
            Some(Input::Quit)
        );
        assert_eq!(
            key(KeyCode::Char('n'), KeyModifiers::CONTROL),
            Some(Input::NewConversation)
        );
        assert_eq!(
            key(KeyCode::Char('Q'), KeyModifiers::SHIFT),
            Some(Input::Char('Q'))
        );
        assert_eq!(key(KeyCode::Char('x'), KeyModifiers::CONTROL), None);
        assert_eq!(key(KeyCode::Tab, KeyModifiers::NONE), Some(Input::Down));
        assert_eq!(key(KeyCode::F(5), KeyModifiers::NONE), None);
    }

    #[test]
    fn releases_are_ignored() {
        let mut release = KeyEvent::new(KeyCode::Char('a'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(input(release), None);
    }
}
