//! The chat screen without a terminal: the state machine driven by inputs and SDK updates,
//! and what it draws on ratatui's `TestBackend`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sotto_client::{DeliveryState, Direction, Event, StoredMessage};

use super::app::{App, PAGE};
use super::state::{Action, Delivery, Input, Link, SendFailure, Snapshot, Update};
use super::view;

fn stored(direction: Direction, id: &str, text: &str, sent_at: i64) -> StoredMessage {
    StoredMessage {
        peer_account: "acct".into(),
        direction,
        message_id: id.into(),
        state: DeliveryState::Sent,
        text: text.into(),
        sent_at,
        device_id: 1,
        details: sotto_client::MessageDetails::default(),
        expires_at: None,
    }
}

fn snapshot(username: &str, history: Vec<StoredMessage>) -> Snapshot {
    Snapshot {
        username: username.into(),
        verified: false,
        identity_changed: false,
        history,
    }
}

fn incoming(peer: &str, id: &str, text: &str) -> Update {
    Update::Event(Event::Message {
        peer: peer.into(),
        direction: Direction::Incoming,
        device_id: 1,
        message_id: id.into(),
        text: text.into(),
        sent_at: 1_700_000_000_000,
        details: sotto_client::MessageDetails::default(),
        expires_at: None,
    })
}

/// Bob with two stored conversations: carol (older) and alice (newer).
fn bob() -> App {
    let mut app = App::new("bob");
    app.update(Update::Loaded(vec![
        snapshot(
            "carol",
            vec![stored(Direction::Incoming, "c1", "hey bob", 1_000)],
        ),
        snapshot(
            "alice",
            vec![
                stored(Direction::Incoming, "a1", "hi bob", 2_000),
                stored(Direction::Outgoing, "a2", "hi alice", 3_000),
            ],
        ),
    ]));
    app
}

fn names(app: &App) -> Vec<&str> {
    app.conversations
        .iter()
        .map(|c| c.username.as_str())
        .collect()
}

fn unread(app: &App, name: &str) -> usize {
    app.conversations
        .iter()
        .find(|c| c.username == name)
        .unwrap()
        .unread
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        assert_eq!(app.input(Input::Char(c)), None);
    }
}

#[test]
fn loading_sorts_by_recent_activity_and_selects_the_newest() {
    let app = bob();
    assert_eq!(names(&app), ["alice", "carol"]);
    assert_eq!(app.selected.as_deref(), Some("alice"));
    assert_eq!(app.current().unwrap().lines.len(), 2);
}

#[test]
fn loading_again_merges_without_duplicates_or_losing_unread_counts() {
    let mut app = bob();
    app.update(incoming("carol", "c2", "are you there?"));
    app.update(Update::Loaded(vec![snapshot(
        "carol",
        vec![
            stored(Direction::Incoming, "c1", "hey bob", 1_000),
            stored(Direction::Incoming, "c2", "are you there?", 4_000),
        ],
    )]));
    let carol = &app.conversations[0];
    assert_eq!(carol.username, "carol");
    assert_eq!(carol.lines.len(), 2);
    assert_eq!(carol.unread, 1);
}

#[test]
fn messages_for_other_conversations_count_as_unread_until_selected() {
    let mut app = bob();
    app.update(incoming("carol", "c2", "one"));
    app.update(incoming("carol", "c3", "two"));
    // A redelivery is shown (and counted) once.
    app.update(incoming("carol", "c3", "two"));
    app.update(incoming("alice", "a3", "seen at once"));
    assert_eq!(unread(&app, "carol"), 2);
    assert_eq!(unread(&app, "alice"), 0);
    assert_eq!(names(&app), ["alice", "carol"]);
    app.input(Input::Down);
    assert_eq!(app.selected.as_deref(), Some("carol"));
    assert_eq!(unread(&app, "carol"), 0);
}

#[test]
fn a_message_from_a_stranger_opens_a_conversation_at_the_top() {
    let mut app = bob();
    app.update(incoming("dave", "d1", "hello, new here"));
    assert_eq!(names(&app), ["dave", "alice", "carol"]);
    assert_eq!(unread(&app, "dave"), 1);
    assert_eq!(app.selected.as_deref(), Some("alice"));
}

#[test]
fn selection_wraps_around_both_ways() {
    let mut app = bob();
    app.input(Input::Up);
    assert_eq!(app.selected.as_deref(), Some("carol"));
    app.input(Input::Down);
    assert_eq!(app.selected.as_deref(), Some("alice"));
    let mut empty = App::new("bob");
    empty.input(Input::Down);
    assert_eq!(empty.selected, None);
}

#[test]
fn enter_sends_the_compose_line_and_the_answer_marks_it_sent() {
    let mut app = bob();
    type_text(&mut app, "lunch?x");
    app.input(Input::Backspace);
    let action = app.input(Input::Enter).unwrap();
    let Action::Send { token, to, text } = action else {
        panic!("expected a send, got {action:?}");
    };
    assert_eq!((to.as_str(), text.as_str()), ("alice", "lunch?"));
    assert!(app.compose.is_empty());
    let line = app.current().unwrap().lines.last().unwrap().clone();
    assert_eq!(line.delivery, Delivery::Sending);
    assert_eq!(line.direction, Direction::Outgoing);
    app.update(Update::Sent {
        token,
        result: Ok(("m9".into(), 5_000)),
    });
    let line = app.current().unwrap().lines.last().unwrap();
    assert_eq!(line.delivery, Delivery::Sent);
    assert_eq!(line.id.as_deref(), Some("m9"));
    assert_eq!(line.sent_at, 5_000);
    // A reload that includes the stored copy does not show it twice.
    app.update(Update::Loaded(vec![snapshot(
        "alice",
        vec![stored(Direction::Outgoing, "m9", "lunch?", 5_000)],
    )]));
    assert_eq!(app.current().unwrap().lines.len(), 3);
}

#[test]
fn an_empty_line_or_no_conversation_sends_nothing() {
    let mut app = bob();
    type_text(&mut app, "   ");
    assert_eq!(app.input(Input::Enter), None);
    let mut alone = App::new("bob");
    type_text(&mut alone, "hello?");
    assert_eq!(alone.input(Input::Enter), None);
    assert!(alone.notice.as_ref().unwrap().error);
    assert_eq!(alone.compose, "hello?");
}

#[test]
fn a_failed_send_is_marked_and_explained() {
    let mut app = bob();
    type_text(&mut app, "hi");
    let Some(Action::Send { token, .. }) = app.input(Input::Enter) else {
        panic!("no send");
    };
    app.update(Update::Sent {
        token,
        result: Err(SendFailure {
            message: "alice's identity changed".into(),
            untrusted_identity: true,
        }),
    });
    let alice = app.current().unwrap();
    assert_eq!(alice.lines.last().unwrap().delivery, Delivery::Failed);
    assert!(alice.identity_changed);
    let notice = app.notice.clone().unwrap();
    assert!(notice.error);
    assert!(notice.text.contains("not sent to alice"), "{}", notice.text);
}

#[test]
fn delivery_events_mark_queued_messages_sent() {
    let mut app = App::new("bob");
    let mut queued = stored(Direction::Outgoing, "q1", "from the outbox", 1_000);
    queued.state = DeliveryState::Pending;
    app.update(Update::Loaded(vec![snapshot("alice", vec![queued])]));
    assert_eq!(app.current().unwrap().lines[0].delivery, Delivery::Queued);
    app.update(Update::Event(Event::Delivery {
        peer: "alice".into(),
        message_id: "q1".into(),
        state: DeliveryState::Sent,
    }));
    assert_eq!(app.current().unwrap().lines[0].delivery, Delivery::Sent);
}

#[test]
fn an_identity_change_warns_and_ctrl_a_accepts_it() {
    let mut app = bob();
    assert_eq!(
        app.input(Input::AcceptIdentity),
        None,
        "nothing to accept yet"
    );
    app.update(Update::Event(Event::IdentityChanged {
        username: "alice".into(),
        was_verified: true,
    }));
    let alice = app.current().unwrap();
    assert!(alice.identity_changed && alice.verified);
    assert!(app.notice.as_ref().unwrap().error);
    assert_eq!(
        app.input(Input::AcceptIdentity),
        Some(Action::AcceptIdentity {
            username: "alice".into()
        })
    );
    app.update(Update::Accepted {
        username: "alice".into(),
        result: Ok(()),
    });
    let alice = app.current().unwrap();
    assert!(!alice.identity_changed && !alice.verified);
    let notice = app.notice.clone().unwrap();
    assert!(notice.text.contains("sotto verify alice --mark-verified"));
}

#[test]
fn ctrl_s_asks_for_the_safety_number_and_esc_hides_it() {
    let mut app = bob();
    assert_eq!(
        app.input(Input::SafetyNumber),
        Some(Action::SafetyNumber {
            username: "alice".into()
        })
    );
    app.update(Update::SafetyNumber {
        username: "alice".into(),
        result: Ok("12345 67890".into()),
    });
    assert_eq!(
        app.safety_number,
        Some(("alice".into(), "12345 67890".into()))
    );
    app.input(Input::Escape);
    assert_eq!(app.safety_number, None);
}

#[test]
fn ctrl_n_opens_a_conversation_with_a_valid_username_only() {
    let mut app = bob();
    app.input(Input::NewConversation);
    type_text(&mut app, "no way");
    app.input(Input::Enter);
    assert!(app.prompt.is_some(), "an invalid name keeps the prompt");
    assert!(app.notice.as_ref().unwrap().error);
    for _ in 0.."no way".len() {
        app.input(Input::Backspace);
    }
    type_text(&mut app, "Dave");
    app.input(Input::Enter);
    assert_eq!(app.prompt, None);
    assert_eq!(app.selected.as_deref(), Some("dave"));
    assert_eq!(names(&app)[0], "dave");
    type_text(&mut app, "hi dave");
    let Some(Action::Send { to, .. }) = app.input(Input::Enter) else {
        panic!("no send");
    };
    assert_eq!(to, "dave");
    // Esc leaves the prompt without opening anything.
    app.input(Input::NewConversation);
    type_text(&mut app, "erin");
    app.input(Input::Escape);
    assert_eq!(app.prompt, None);
    assert!(!names(&app).contains(&"erin"));
}

#[test]
fn scrolling_stays_within_the_history_and_holds_still_as_messages_arrive() {
    let mut app = App::new("bob");
    let history = (0..25)
        .map(|i| stored(Direction::Incoming, &format!("m{i}"), "x", i))
        .collect();
    app.update(Update::Loaded(vec![snapshot("alice", history)]));
    app.input(Input::PageUp);
    assert_eq!(app.scroll, PAGE);
    for _ in 0..5 {
        app.input(Input::PageUp);
    }
    assert_eq!(app.scroll, 24);
    app.input(Input::PageDown);
    assert_eq!(app.scroll, 24 - PAGE);
    app.update(incoming("alice", "new", "y"));
    assert_eq!(app.scroll, 24 - PAGE + 1);
    for _ in 0..5 {
        app.input(Input::PageDown);
    }
    assert_eq!(app.scroll, 0);
}

#[test]
fn quit_ends_even_from_the_prompt() {
    let mut app = bob();
    app.input(Input::NewConversation);
    app.input(Input::Quit);
    assert!(app.quit);
}

/// The screen as text, one string per row.
fn draw(app: &App, width: u16, height: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| view::draw(frame, app)).unwrap();
    let buffer = terminal.backend().buffer();
    (0..height)
        .map(|y| {
            (0..width)
                .map(|x| buffer[(x, y)].symbol().to_owned())
                .collect::<String>()
        })
        .collect()
}

fn shows(rows: &[String], text: &str) -> bool {
    rows.iter().any(|row| row.contains(text))
}

#[test]
fn the_screen_shows_conversations_unread_counts_history_and_help() {
    let mut app = bob();
    app.update(incoming("carol", "c2", "ping"));
    type_text(&mut app, "draft");
    let rows = draw(&app, 100, 16);
    assert!(shows(&rows, "> alice"), "{rows:#?}");
    assert!(shows(&rows, "carol (1)"), "{rows:#?}");
    assert!(shows(&rows, "alice: hi bob"), "{rows:#?}");
    assert!(shows(&rows, "bob: hi alice  ✓"), "{rows:#?}");
    assert!(shows(&rows, "Message to alice"), "{rows:#?}");
    assert!(shows(&rows, "draft"), "{rows:#?}");
    assert!(shows(&rows, "Ctrl-N new conversation"), "{rows:#?}");
    assert!(shows(&rows, "bob · receiving live"), "{rows:#?}");
}

#[test]
fn the_screen_warns_of_a_changed_identity_and_shows_the_verify_command() {
    let mut app = bob();
    app.update(Update::Event(Event::IdentityChanged {
        username: "alice".into(),
        was_verified: false,
    }));
    let rows = draw(&app, 140, 16);
    assert!(shows(&rows, "! alice"), "{rows:#?}");
    assert!(shows(&rows, "`sotto verify alice`"), "{rows:#?}");
    assert!(shows(&rows, "Ctrl-A to accept"), "{rows:#?}");
}

#[test]
fn the_screen_shows_the_newest_lines_that_fit_and_scrolls_back() {
    let mut app = App::new("bob");
    let history = (1..=30)
        .map(|i| {
            stored(
                Direction::Incoming,
                &format!("m{i}"),
                &format!("line {i}."),
                i,
            )
        })
        .collect();
    app.update(Update::Loaded(vec![snapshot("alice", history)]));
    let rows = draw(&app, 80, 14);
    assert!(shows(&rows, "line 30."), "{rows:#?}");
    assert!(!shows(&rows, "line 20."), "{rows:#?}");
    app.input(Input::PageUp);
    let rows = draw(&app, 80, 14);
    assert!(shows(&rows, "line 20."), "{rows:#?}");
    assert!(!shows(&rows, "line 30."), "{rows:#?}");
}

#[test]
fn the_screen_shows_the_prompt_the_link_state_and_long_lines_wrapped() {
    let mut app = bob();
    app.update(Update::Link(Link::Retrying {
        error: "connection refused".into(),
        retry_secs: 4,
    }));
    let long = "word ".repeat(40);
    app.update(incoming("alice", "long", &long));
    let rows = draw(&app, 80, 20);
    assert!(
        shows(&rows, "offline (connection refused); retrying in 4 s"),
        "{rows:#?}"
    );
    let wrapped = rows.iter().filter(|r| r.contains("word word")).count();
    assert!(wrapped >= 3, "{rows:#?}");
    app.input(Input::NewConversation);
    type_text(&mut app, "dav");
    let rows = draw(&app, 80, 20);
    assert!(shows(&rows, "New conversation"), "{rows:#?}");
    assert!(shows(&rows, "dav"), "{rows:#?}");
}

#[test]
fn an_empty_profile_draws_a_hint() {
    let rows = draw(&App::new("bob"), 80, 12);
    assert!(shows(&rows, "press Ctrl-N"), "{rows:#?}");
}

#[test]
fn every_key_of_the_help_bar_fits_on_80_columns() {
    let rows = draw(&App::new("bob"), 80, 12);
    let help = rows[10..].join(" ");
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for (key, what) in super::keys::HELP {
        assert!(help.contains(&format!("{key} {what}")), "{key}: {rows:#?}");
    }
}
