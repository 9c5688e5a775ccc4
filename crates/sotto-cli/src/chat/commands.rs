//! Slash commands typed in the compose line: `/reply TEXT`, `/react EMOJI`, `/unreact`,
//! `/edit TEXT`, `/delete`, `/timer 1h|off`, `/attach PATH`. Reactions and replies go to the contact's newest
//! message; edits and deletions to our own newest one.

use sotto_client::Direction;

use super::state::Change;
use crate::client::features::parse_duration;

/// What a compose line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Send text, perhaps answering a message.
    Send {
        /// The text.
        text: String,
        /// The message answered.
        reply_to: Option<String>,
        /// A file to attach.
        attach: Option<std::path::PathBuf>,
    },
    /// A change to the conversation.
    Change(Change),
}

/// The commands, as the help bar lists them.
pub const HELP: &str =
    "/reply TEXT  /react EMOJI  /unreact  /edit TEXT  /delete  /timer 1h|off  /attach PATH";

/// The newest message ids of a conversation the commands address.
pub struct Targets {
    /// The contact's newest message.
    pub theirs: Option<String>,
    /// Our newest message.
    pub ours: Option<String>,
}

impl Targets {
    fn get(&self, direction: Direction) -> Result<String, String> {
        let (id, whose) = match direction {
            Direction::Incoming => (&self.theirs, "no message from them yet"),
            Direction::Outgoing => (&self.ours, "no message of yours yet"),
        };
        id.clone().ok_or_else(|| whose.to_owned())
    }
}

/// Parses a compose line; an error says what to type instead.
pub fn parse(line: &str, targets: &Targets) -> Result<Command, String> {
    let Some(command) = line.strip_prefix('/') else {
        return Ok(Command::Send {
            text: line.to_owned(),
            reply_to: None,
            attach: None,
        });
    };
    let (name, rest) = command.split_once(' ').unwrap_or((command, ""));
    let rest = rest.trim();
    let needs = |what: &str| format!("/{name} needs {what}");
    match name {
        "reply" if !rest.is_empty() => Ok(Command::Send {
            text: rest.to_owned(),
            reply_to: Some(targets.get(Direction::Incoming)?),
            attach: None,
        }),
        "attach" if !rest.is_empty() => Ok(Command::Send {
            text: String::new(),
            reply_to: None,
            attach: Some(expand_home(rest)),
        }),
        "attach" => Err(needs("the path of a file")),
        "reply" => Err(needs("a text")),
        "react" if !rest.is_empty() => Ok(Command::Change(Change::React {
            message_id: targets.get(Direction::Incoming)?,
            emoji: Some(rest.to_owned()),
        })),
        "react" => Err(needs("an emoji")),
        "unreact" => Ok(Command::Change(Change::React {
            message_id: targets.get(Direction::Incoming)?,
            emoji: None,
        })),
        "edit" if !rest.is_empty() => Ok(Command::Change(Change::Edit {
            message_id: targets.get(Direction::Outgoing)?,
            text: rest.to_owned(),
        })),
        "edit" => Err(needs("the new text")),
        "delete" => Ok(Command::Change(Change::Delete {
            message_id: targets.get(Direction::Outgoing)?,
        })),
        "timer" => parse_duration(rest)
            .map(|seconds| Command::Change(Change::Timer { seconds }))
            .map_err(|e| e.to_string()),
        _ => Err(format!("unknown command /{name}; try {HELP}")),
    }
}

/// `~/x` as a path under the home directory (the shell is not there to expand it).
fn expand_home(path: &str) -> std::path::PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::Path::new(&home).join(rest),
        _ => std::path::PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn targets() -> Targets {
        Targets {
            theirs: Some("t1".into()),
            ours: Some("o1".into()),
        }
    }

    #[test]
    fn commands_address_the_newest_messages() {
        let t = targets();
        assert_eq!(
            parse("/react 👍", &t).unwrap(),
            Command::Change(Change::React {
                message_id: "t1".into(),
                emoji: Some("👍".into())
            })
        );
        assert_eq!(
            parse("/edit fixed", &t).unwrap(),
            Command::Change(Change::Edit {
                message_id: "o1".into(),
                text: "fixed".into()
            })
        );
        assert_eq!(
            parse("/reply yes", &t).unwrap(),
            Command::Send {
                text: "yes".into(),
                reply_to: Some("t1".into()),
                attach: None
            }
        );
        assert_eq!(
            parse("/timer off", &t).unwrap(),
            Command::Change(Change::Timer { seconds: None })
        );
        assert_eq!(
            parse("plain", &t).unwrap(),
            Command::Send {
                text: "plain".into(),
                reply_to: None,
                attach: None
            }
        );
        assert_eq!(
            parse("/attach /tmp/a b.png", &t).unwrap(),
            Command::Send {
                text: String::new(),
                reply_to: None,
                attach: Some("/tmp/a b.png".into())
            }
        );
    }

    #[test]
    fn bad_commands_say_what_to_do() {
        let none = Targets {
            theirs: None,
            ours: None,
        };
        assert!(
            parse("/delete", &none)
                .unwrap_err()
                .contains("no message of yours")
        );
        assert!(parse("/react", &targets()).unwrap_err().contains("emoji"));
        assert!(parse("/attach", &targets()).unwrap_err().contains("path"));
        assert!(
            parse("/dance", &targets())
                .unwrap_err()
                .contains("unknown command")
        );
        assert!(parse("/timer soon", &targets()).is_err());
    }
}
