//! The terminal while the chat screen is open: raw mode and the alternate screen, restored when
//! [`Screen`] is dropped (on return, on error, and while unwinding from a panic), and by
//! ratatui's panic hook before a panic message is printed.

use std::io::IsTerminal as _;
use std::time::Duration;

use crossterm::event::{self, Event as TermEvent};
use ratatui::DefaultTerminal;
use tokio::sync::mpsc;

use crate::exit::UsageError;

/// How often the key reader checks whether the screen was closed.
const POLL: Duration = Duration::from_millis(100);

/// The terminal in chat mode.
pub struct Screen {
    /// The ratatui terminal to draw on.
    pub terminal: DefaultTerminal,
}

impl Screen {
    /// Switches the terminal to raw mode and the alternate screen.
    ///
    /// # Errors
    /// Standard input or output is not a terminal, or the terminal refused the switch.
    pub fn open() -> anyhow::Result<Self> {
        if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
            return Err(UsageError(
                "`sotto chat` needs a terminal; scripts can use send, receive or the daemon".into(),
            )
            .into());
        }
        // try_init also installs a panic hook that restores the terminal first.
        let terminal = ratatui::try_init()?;
        Ok(Self { terminal })
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Reads terminal events on a thread of its own (crossterm blocks) until the receiver is gone.
pub fn terminal_events() -> mpsc::Receiver<std::io::Result<TermEvent>> {
    let (events, received) = mpsc::channel(64);
    std::thread::spawn(move || {
        loop {
            let next = match event::poll(POLL) {
                Ok(false) if events.is_closed() => return,
                Ok(false) => continue,
                Ok(true) => event::read(),
                Err(error) => Err(error),
            };
            let failed = next.is_err();
            if events.blocking_send(next).is_err() || failed {
                return;
            }
        }
    });
    received
}
