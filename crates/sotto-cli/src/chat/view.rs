//! Drawing the chat screen from an [`App`]: conversation list, history, compose line, status
//! and help bar. Pure: the same state always draws the same screen.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line as Row, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Wrap};
use sotto_client::Direction;

use super::app::App;
use super::keys::HELP;
use super::state::{Conversation, Delivery, Line, Link};

/// Width of the conversation list.
const LIST_WIDTH: u16 = 24;

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let [main, compose, status, help] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(3),
        Constraint::Length(1),
        // Two rows: the whole list fits on an 80-column terminal.
        Constraint::Length(2),
    ])
    .areas(frame.area());
    let [list, history] =
        Layout::horizontal([Constraint::Length(LIST_WIDTH), Constraint::Min(10)]).areas(main);
    draw_list(frame, app, list);
    draw_history(frame, app, history);
    draw_compose(frame, app, compose);
    frame.render_widget(Paragraph::new(status_row(app)), status);
    frame.render_widget(Paragraph::new(help_row()).wrap(Wrap { trim: true }), help);
}

fn draw_list(frame: &mut Frame, app: &App, area: Rect) {
    let items: Vec<ListItem> = app.conversations.iter().map(list_item).collect();
    let selected = app
        .selected
        .as_deref()
        .and_then(|name| app.conversations.iter().position(|c| c.username == name));
    let list = List::new(items)
        .block(Block::bordered().title(" Conversations "))
        .highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .highlight_symbol("> ");
    let mut state = ListState::default().with_selected(selected);
    frame.render_stateful_widget(list, area, &mut state);
}

fn list_item(conversation: &Conversation) -> ListItem<'static> {
    let mut spans = Vec::new();
    if conversation.identity_changed {
        spans.push(Span::styled("! ", Style::new().fg(Color::Red)));
    }
    spans.push(Span::raw(conversation.username.clone()));
    if conversation.unread > 0 {
        let unread = format!(" ({})", conversation.unread);
        spans.push(Span::styled(
            unread,
            Style::new().add_modifier(Modifier::BOLD),
        ));
    }
    ListItem::new(Row::from(spans))
}

fn draw_history(frame: &mut Frame, app: &App, area: Rect) {
    let Some(conversation) = app.current() else {
        let hint = if app.conversations.is_empty() {
            "No conversation yet: press Ctrl-N and type a username."
        } else {
            "Choose a conversation with ↑/↓, or press Ctrl-N for a new one."
        };
        let block = Block::bordered().title(" History ");
        let hint = Paragraph::new(hint).wrap(Wrap { trim: true });
        frame.render_widget(hint.block(block), area);
        return;
    };
    let mut title = format!(" {} ", conversation.username);
    if conversation.verified && !conversation.identity_changed {
        title.push_str("(verified) ");
    }
    if let Some(seconds) = conversation.timer {
        title.push_str(&format!(
            "⏱ {} ",
            crate::client::features::show_duration(seconds)
        ));
    }
    if conversation.typing {
        title.push_str("… typing ");
    }
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut rows = header_rows(app, conversation, inner.width);
    let room = usize::from(inner.height).saturating_sub(rows.len());
    rows.extend(message_rows(app, conversation, inner.width, room));
    frame.render_widget(Paragraph::new(rows), inner);
}

/// The warnings and the safety number above the messages.
fn header_rows(app: &App, conversation: &Conversation, width: u16) -> Vec<Row<'static>> {
    let name = &conversation.username;
    let mut texts = Vec::new();
    if conversation.identity_changed {
        texts.push(format!(
            "! {name}'s safety number changed. Compare it (Ctrl-S, or `sotto verify {name}`), then press Ctrl-A to accept it."
        ));
    }
    if let Some((who, digits)) = &app.safety_number
        && who == name
    {
        texts.push(format!("Safety number with {name}: {digits}"));
    }
    let warning = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
    texts
        .iter()
        .flat_map(|t| wrap(t, width))
        .map(|t| Row::styled(t, warning))
        .collect()
}

/// The newest messages that fit in `room` rows, `app.scroll` messages back from the end.
fn message_rows(
    app: &App,
    conversation: &Conversation,
    width: u16,
    room: usize,
) -> Vec<Row<'static>> {
    let end = conversation.lines.len().saturating_sub(app.scroll);
    let mut rows: Vec<Row<'static>> = Vec::new();
    for line in conversation.lines[..end].iter().rev() {
        if rows.len() >= room {
            break;
        }
        let mut wrapped: Vec<Row> = wrap(&message_text(app, conversation, line), width)
            .into_iter()
            .map(|t| Row::styled(t, message_style(line)))
            .collect();
        wrapped.append(&mut rows);
        rows = wrapped;
    }
    let extra = rows.len().saturating_sub(room);
    rows.split_off(extra)
}

fn message_text(app: &App, conversation: &Conversation, line: &Line) -> String {
    let from = match line.direction {
        Direction::Incoming => conversation.username.as_str(),
        Direction::Outgoing => app.me.as_str(),
    };
    let mark = match line.delivery {
        Delivery::Received => "",
        Delivery::Sending => "  (sending)",
        Delivery::Queued => "  (queued, not yet sent)",
        Delivery::Sent => "  ✓",
        Delivery::Delivered => "  ✓✓",
        Delivery::Read => "  ✓✓ read",
        Delivery::Failed => "  (not sent)",
    };
    let mut text = String::new();
    if let Some(quote) = &line.quote {
        text.push_str(&format!("↪ \"{quote}\" "));
    }
    if line.deleted {
        text.push_str("(deleted)");
    } else {
        text.push_str(&line.text);
    }
    if line.edited && !line.deleted {
        text.push_str(" (edited)");
    }
    if !line.reactions.is_empty() {
        let emojis: Vec<&str> = line.reactions.iter().map(|(_, e)| e.as_str()).collect();
        text.push_str(&format!("  [{}]", emojis.join(" ")));
    }
    let timer = if line.disappearing { " ⏱" } else { "" };
    format!("[{}] {from}: {text}{mark}{timer}", clock(line.sent_at))
}

fn message_style(line: &Line) -> Style {
    match (line.direction, &line.delivery) {
        (_, Delivery::Failed) => Style::new().fg(Color::Red),
        (Direction::Outgoing, _) => Style::new().fg(Color::Cyan),
        _ => Style::new(),
    }
}

/// HH:MM (UTC) of a time in ms since the epoch; `--:--` before it is known.
fn clock(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(t) if ms > 0 => format!("{:02}:{:02}", t.hour(), t.minute()),
        _ => "--:--".to_owned(),
    }
}

/// Cuts `text` into rows of at most `width` characters, between words where it can (and at
/// its own line breaks); a word longer than a row is cut.
fn wrap(text: &str, width: u16) -> Vec<String> {
    let width = usize::from(width.max(1));
    let mut rows = Vec::new();
    for part in text.split('\n') {
        let mut row = String::new();
        let mut used = 0;
        for word in part.split(' ') {
            let mut chars: Vec<char> = word.chars().collect();
            let gap = usize::from(used > 0);
            if used + gap + chars.len() > width && used > 0 {
                rows.push(std::mem::take(&mut row));
                used = 0;
            } else if gap == 1 {
                row.push(' ');
                used += 1;
            }
            while chars.len() > width - used {
                let rest = chars.split_off(width - used);
                row.extend(chars);
                rows.push(std::mem::take(&mut row));
                (chars, used) = (rest, 0);
            }
            used += chars.len();
            row.extend(chars);
        }
        rows.push(row);
    }
    rows
}

fn draw_compose(frame: &mut Frame, app: &App, area: Rect) {
    let (title, text) = match (&app.prompt, app.selected.as_deref()) {
        (Some(typed), _) => (
            " New conversation: username, Enter to open ".to_owned(),
            typed,
        ),
        (None, Some(to)) => (
            format!(" Message to {to} · {} ", super::commands::HELP),
            &app.compose,
        ),
        (None, None) => (" Message ".to_owned(), &app.compose),
    };
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    // Show the end of a long line: that is where the cursor is.
    let chars: Vec<char> = text.chars().collect();
    let room = usize::from(inner.width.saturating_sub(1));
    let shown: String = chars[chars.len().saturating_sub(room)..].iter().collect();
    let cursor_x = inner.x + u16::try_from(shown.chars().count()).unwrap_or(0);
    frame.render_widget(Paragraph::new(shown).block(block), area);
    frame.set_cursor_position(Position::new(cursor_x, inner.y));
}

fn status_row(app: &App) -> Row<'static> {
    if let Some(notice) = &app.notice {
        let style = if notice.error {
            Style::new().fg(Color::Red)
        } else {
            Style::new().fg(Color::Green)
        };
        return Row::styled(notice.text.clone(), style);
    }
    match &app.link {
        Link::Receiving => Row::raw(format!("{} · receiving live", app.me)),
        Link::Retrying { error, retry_secs } => Row::styled(
            format!("{} · offline ({error}); retrying in {retry_secs} s", app.me),
            Style::new().fg(Color::Yellow),
        ),
    }
}

fn help_row() -> Row<'static> {
    let mut spans = Vec::new();
    for (key, what) in HELP {
        spans.push(Span::styled(
            *key,
            Style::new().add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::raw(format!(" {what}  ")));
    }
    Row::from(spans)
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn rows_break_between_words_and_cut_only_long_words() {
        assert_eq!(wrap("aaa bbb ccc", 7), ["aaa bbb", "ccc"]);
        assert_eq!(wrap("aaa bbb", 3), ["aaa", "bbb"]);
        assert_eq!(wrap("abcdefgh x", 3), ["abc", "def", "gh", "x"]);
        assert_eq!(wrap("ab\n\ncd", 5), ["ab", "", "cd"]);
        assert_eq!(wrap("", 5), [""]);
        assert_eq!(wrap("a  b", 5), ["a  b"]);
        for row in wrap(&"wörd ".repeat(30), 9) {
            assert!(row.chars().count() <= 9, "{row}");
        }
    }
}
