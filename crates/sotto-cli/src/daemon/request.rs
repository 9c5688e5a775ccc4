//! Decoding one JSON-RPC 2.0 request line into a typed [`Request`]: the daemon's only decoder of
//! untrusted bytes. It depends on serde alone, so the fuzz target compiles this file as is
//! (`fuzz/fuzz_targets/daemon_request.rs`).

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

/// A method call with its parameters checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// `send`: a text and files to a user.
    Send {
        /// The recipient.
        username: String,
        /// The text.
        text: String,
        /// The message it answers.
        reply_to: Option<String>,
        /// Files to upload and attach (paths on the daemon's machine).
        attachments: Vec<PathBuf>,
    },
    /// `react`: an emoji on a message (`null` takes ours back).
    React {
        /// The conversation.
        username: String,
        /// The message.
        message_id: String,
        /// The emoji.
        emoji: Option<String>,
    },
    /// `edit`: new text for one of our messages.
    Edit {
        /// The conversation.
        username: String,
        /// The message.
        message_id: String,
        /// The new text.
        text: String,
    },
    /// `delete`: one of our messages, for everyone.
    Delete {
        /// The conversation.
        username: String,
        /// The message.
        message_id: String,
    },
    /// `timer`: set the disappearing timer (`null` or absent: off).
    Timer {
        /// The conversation.
        username: String,
        /// Seconds.
        seconds: Option<u32>,
    },
    /// `typing`: we started or stopped typing.
    Typing {
        /// The contact.
        username: String,
        /// Started (default) or stopped.
        started: bool,
    },
    /// `read`: mark the contact's messages read and send a read receipt.
    Read {
        /// The contact.
        username: String,
    },
    /// `get_attachments`: save the files of a message.
    GetAttachments {
        /// The contact.
        username: String,
        /// The message id.
        id: String,
        /// Where to save them (default `<profile>/attachments/`).
        save_dir: Option<PathBuf>,
    },
    /// `conversations`: the contacts.
    Conversations,
    /// `history`: the conversation with a user.
    History {
        /// The contact.
        username: String,
    },
    /// `verify`: the safety number, optionally accepting or marking it.
    Verify {
        /// The contact.
        username: String,
        /// Mark the current identity verified.
        mark_verified: bool,
        /// Accept a changed identity.
        accept: bool,
    },
    /// `subscribe`: events as notifications from now on.
    Subscribe,
    /// `send` with `"group"`: a text and files to every member of a group.
    SendGroup {
        /// The group (name or id prefix).
        group: String,
        /// The text.
        text: String,
        /// Files to upload and attach.
        attachments: Vec<PathBuf>,
    },
    /// `group_*`, and `history` with `"group"`.
    Group(GroupCall),
}

/// A group method; `group` is a group's name or a prefix of its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupCall {
    /// `group_create`.
    Create {
        /// Its name.
        name: String,
        /// Usernames to add.
        members: Vec<String>,
    },
    /// `group_add`.
    Add {
        /// The group.
        group: String,
        /// Usernames.
        usernames: Vec<String>,
    },
    /// `group_remove`.
    Remove {
        /// The group.
        group: String,
        /// Usernames.
        usernames: Vec<String>,
    },
    /// `group_admins`: the admins, after adding and removing some.
    Admins {
        /// The group.
        group: String,
        /// Usernames to make admins.
        add: Vec<String>,
        /// Usernames to make plain members.
        remove: Vec<String>,
    },
    /// `group_leave`.
    Leave {
        /// The group.
        group: String,
    },
    /// `group_rename`.
    Rename {
        /// The group.
        group: String,
        /// The new name.
        name: String,
    },
    /// `group_list`.
    List,
    /// `group_show`.
    Show {
        /// The group.
        group: String,
    },
    /// `history` with `"group"`.
    History {
        /// The group.
        group: String,
    },
}

/// A decoded request; without an id it is a notification and gets no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The request id, echoed in the answer.
    pub id: Option<Value>,
    /// What to do.
    pub call: Call,
}

/// Why a line is not a request we can serve, with its JSON-RPC error code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// Not JSON (-32700).
    Parse,
    /// JSON, but not a request object, or not version 2.0 (-32600).
    Invalid {
        /// The request's id, when it had one.
        id: Option<Value>,
        /// What is wrong.
        why: String,
    },
    /// No such method (-32601).
    UnknownMethod {
        /// The request's id.
        id: Option<Value>,
    },
    /// The method's parameters are wrong (-32602).
    Params {
        /// The request's id.
        id: Option<Value>,
        /// What is wrong.
        why: String,
    },
}

impl RequestError {
    /// The JSON-RPC error code.
    pub fn code(&self) -> i64 {
        match self {
            Self::Parse => -32700,
            Self::Invalid { .. } => -32600,
            Self::UnknownMethod { .. } => -32601,
            Self::Params { .. } => -32602,
        }
    }

    /// The error message for the answer.
    pub fn message(&self) -> String {
        match self {
            Self::Parse => "parse error".to_owned(),
            Self::Invalid { why, .. } => why.clone(),
            Self::UnknownMethod { .. } => "method not found".to_owned(),
            Self::Params { why, .. } => format!("invalid params: {why}"),
        }
    }

    /// The id to answer with; `None` for a notification, which gets no answer unless the
    /// request itself was unreadable (then the answer's id is null).
    pub fn answer_id(&self) -> Option<Value> {
        match self {
            Self::Parse | Self::Invalid { id: None, .. } => Some(Value::Null),
            Self::Invalid { id: Some(id), .. } => Some(id.clone()),
            Self::UnknownMethod { id } | Self::Params { id, .. } => id.clone(),
        }
    }
}

/// The envelope of every request.
#[derive(Deserialize)]
struct Envelope {
    jsonrpc: String,
    method: String,
    #[serde(default)]
    params: Value,
    id: Option<Value>,
}

#[derive(Deserialize)]
struct UserParams {
    username: String,
}

#[derive(Deserialize)]
struct SendParams {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    text: String,
    #[serde(default)]
    reply_to: Option<String>,
    #[serde(default)]
    attachments: Vec<PathBuf>,
}

#[derive(Deserialize)]
struct ReactParams {
    username: String,
    message_id: String,
    emoji: Option<String>,
}

#[derive(Deserialize)]
struct EditParams {
    username: String,
    message_id: String,
    text: String,
}

#[derive(Deserialize)]
struct MessageParams {
    username: String,
    message_id: String,
}

#[derive(Deserialize)]
struct TimerParams {
    username: String,
    seconds: Option<u32>,
}

#[derive(Deserialize)]
struct TypingParams {
    username: String,
    #[serde(default = "yes")]
    started: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct GetAttachmentsParams {
    username: String,
    id: String,
    #[serde(default)]
    save_dir: Option<PathBuf>,
}

#[derive(Deserialize)]
struct VerifyParams {
    username: String,
    #[serde(default)]
    mark_verified: bool,
    #[serde(default)]
    accept: bool,
}

/// Decodes one request line.
///
/// # Errors
/// [`RequestError`] says what is wrong and carries the id to answer with.
pub fn decode(line: &str) -> Result<Request, RequestError> {
    let envelope: Envelope = match serde_json::from_str(line) {
        Ok(envelope) => envelope,
        Err(e) if e.is_data() => {
            let why = "invalid request".to_owned();
            return Err(RequestError::Invalid { id: None, why });
        }
        Err(_) => return Err(RequestError::Parse),
    };
    let id = envelope.id;
    if envelope.jsonrpc != "2.0" {
        let why = "jsonrpc must be \"2.0\"".to_owned();
        return Err(RequestError::Invalid { id, why });
    }
    let call = call(&envelope.method, envelope.params).map_err(|failure| match failure {
        None => RequestError::UnknownMethod { id: id.clone() },
        Some(why) => RequestError::Params {
            id: id.clone(),
            why,
        },
    })?;
    Ok(Request { id, call })
}

/// The call of `method`: `Err(None)` for an unknown method, `Err(Some(why))` for bad params.
fn call(method: &str, params: Value) -> Result<Call, Option<String>> {
    fn parse<T: serde::de::DeserializeOwned>(params: Value) -> Result<T, Option<String>> {
        serde_json::from_value(params).map_err(|e| Some(e.to_string()))
    }
    Ok(match method {
        "send" => send_call(parse(params)?)?,
        "react" => {
            let ReactParams {
                username,
                message_id,
                emoji,
            } = parse(params)?;
            Call::React {
                username,
                message_id,
                emoji,
            }
        }
        "edit" => {
            let EditParams {
                username,
                message_id,
                text,
            } = parse(params)?;
            Call::Edit {
                username,
                message_id,
                text,
            }
        }
        "delete" => {
            let MessageParams {
                username,
                message_id,
            } = parse(params)?;
            Call::Delete {
                username,
                message_id,
            }
        }
        "timer" => {
            let TimerParams { username, seconds } = parse(params)?;
            Call::Timer { username, seconds }
        }
        "typing" => {
            let TypingParams { username, started } = parse(params)?;
            Call::Typing { username, started }
        }
        "read" => {
            let UserParams { username } = parse(params)?;
            Call::Read { username }
        }
        "get_attachments" => {
            let GetAttachmentsParams {
                username,
                id,
                save_dir,
            } = parse(params)?;
            Call::GetAttachments {
                username,
                id,
                save_dir,
            }
        }
        "conversations" => Call::Conversations,
        "history" => {
            let HistoryParams { username, group } = parse(params)?;
            match (username, group) {
                (Some(username), None) => Call::History { username },
                (None, Some(group)) => Call::Group(GroupCall::History { group }),
                _ => return Err(Some("give \"username\" or \"group\"".to_owned())),
            }
        }
        "verify" => {
            let VerifyParams {
                username,
                mark_verified,
                accept,
            } = parse(params)?;
            Call::Verify {
                username,
                mark_verified,
                accept,
            }
        }
        "subscribe" => Call::Subscribe,
        _ => Call::Group(group_call(method, params)?),
    })
}

fn send_call(params: SendParams) -> Result<Call, Option<String>> {
    let SendParams {
        username,
        group,
        text,
        reply_to,
        attachments,
    } = params;
    match (username, group) {
        (Some(username), None) => Ok(Call::Send {
            username,
            text,
            reply_to,
            attachments,
        }),
        (None, Some(_)) if reply_to.is_some() => {
            Err(Some("reply_to is not supported in groups".to_owned()))
        }
        (None, Some(group)) => Ok(Call::SendGroup {
            group,
            text,
            attachments,
        }),
        _ => Err(Some("give \"username\" or \"group\"".to_owned())),
    }
}

#[derive(Deserialize)]
struct HistoryParams {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    group: Option<String>,
}

#[derive(Deserialize)]
struct GroupParams {
    group: String,
}

#[derive(Deserialize)]
struct GroupCreateParams {
    name: String,
    #[serde(default)]
    members: Vec<String>,
}

#[derive(Deserialize)]
struct GroupMembersParams {
    group: String,
    usernames: Vec<String>,
}

#[derive(Deserialize)]
struct GroupAdminsParams {
    group: String,
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

#[derive(Deserialize)]
struct GroupRenameParams {
    group: String,
    name: String,
}

/// The group methods: `Err(None)` for an unknown method.
fn group_call(method: &str, params: Value) -> Result<GroupCall, Option<String>> {
    fn parse<T: serde::de::DeserializeOwned>(params: Value) -> Result<T, Option<String>> {
        serde_json::from_value(params).map_err(|e| Some(e.to_string()))
    }
    Ok(match method {
        "group_create" => {
            let GroupCreateParams { name, members } = parse(params)?;
            GroupCall::Create { name, members }
        }
        "group_add" => {
            let GroupMembersParams { group, usernames } = parse(params)?;
            GroupCall::Add { group, usernames }
        }
        "group_remove" => {
            let GroupMembersParams { group, usernames } = parse(params)?;
            GroupCall::Remove { group, usernames }
        }
        "group_admins" => {
            let GroupAdminsParams { group, add, remove } = parse(params)?;
            GroupCall::Admins { group, add, remove }
        }
        "group_leave" => GroupCall::Leave {
            group: parse::<GroupParams>(params)?.group,
        },
        "group_rename" => {
            let GroupRenameParams { group, name } = parse(params)?;
            GroupCall::Rename { group, name }
        }
        "group_list" => GroupCall::List,
        "group_show" => GroupCall::Show {
            group: parse::<GroupParams>(params)?.group,
        },
        _ => return Err(None),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn requests_decode_to_calls() {
        let line =
            r#"{"jsonrpc":"2.0","method":"send","params":{"username":"bob","text":"hi"},"id":7}"#;
        let request = decode(line).unwrap();
        assert_eq!(request.id, Some(Value::from(7)));
        let (username, text) = ("bob".to_owned(), "hi".to_owned());
        let reply_to = None;
        let attachments = Vec::new();
        assert_eq!(
            request.call,
            Call::Send {
                username,
                text,
                reply_to,
                attachments
            }
        );
        let line = r#"{"jsonrpc":"2.0","method":"react","params":{"username":"bob","message_id":"m1","emoji":null},"id":8}"#;
        assert_eq!(
            decode(line).unwrap().call,
            Call::React {
                username: "bob".into(),
                message_id: "m1".into(),
                emoji: None
            }
        );
        let line = r#"{"jsonrpc":"2.0","method":"typing","params":{"username":"bob"}}"#;
        assert_eq!(
            decode(line).unwrap().call,
            Call::Typing {
                username: "bob".into(),
                started: true
            }
        );
        let line = r#"{"jsonrpc":"2.0","method":"send","params":{"username":"bob","attachments":["/tmp/a b.png"]},"id":8}"#;
        let Call::Send {
            text, attachments, ..
        } = decode(line).unwrap().call
        else {
            panic!("not a send");
        };
        assert_eq!(
            (text.as_str(), attachments),
            ("", vec![PathBuf::from("/tmp/a b.png")])
        );
        let line = r#"{"jsonrpc":"2.0","method":"subscribe"}"#;
        assert_eq!(decode(line).unwrap().id, None);
    }

    #[test]
    fn group_requests_decode_to_group_calls() {
        let decoded = |line: &str| decode(line).map(|r| r.call);
        let line =
            r#"{"jsonrpc":"2.0","method":"send","params":{"group":"fam","text":"hi"},"id":1}"#;
        assert_eq!(
            decoded(line),
            Ok(Call::SendGroup {
                group: "fam".into(),
                text: "hi".into(),
                attachments: Vec::new()
            })
        );
        let line = r#"{"jsonrpc":"2.0","method":"group_create","params":{"name":"fam","members":["bob"]},"id":2}"#;
        assert_eq!(
            decoded(line),
            Ok(Call::Group(GroupCall::Create {
                name: "fam".into(),
                members: vec!["bob".into()]
            }))
        );
        let line = r#"{"jsonrpc":"2.0","method":"history","params":{"group":"fam"},"id":3}"#;
        assert_eq!(
            decoded(line),
            Ok(Call::Group(GroupCall::History {
                group: "fam".into()
            }))
        );
        let line = r#"{"jsonrpc":"2.0","method":"group_list","id":4}"#;
        assert_eq!(decoded(line), Ok(Call::Group(GroupCall::List)));
        for bad in [
            r#"{"jsonrpc":"2.0","method":"send","params":{"group":"g","username":"bob"},"id":5}"#,
            r#"{"jsonrpc":"2.0","method":"send","params":{"group":"g","reply_to":"m1"},"id":6}"#,
            r#"{"jsonrpc":"2.0","method":"group_add","params":{"group":"g"},"id":7}"#,
        ] {
            assert_eq!(decode(bad).unwrap_err().code(), -32602, "{bad}");
        }
    }

    #[test]
    fn errors_carry_their_code_and_answer_id() {
        let cases = [
            ("{", -32700, Some(Value::Null)),
            ("[1]", -32600, Some(Value::Null)),
            (
                r#"{"jsonrpc":"1.0","method":"send","id":1}"#,
                -32600,
                Some(Value::from(1)),
            ),
            (
                r#"{"jsonrpc":"2.0","method":"nope","id":"x"}"#,
                -32601,
                Some(Value::from("x")),
            ),
            (r#"{"jsonrpc":"2.0","method":"nope"}"#, -32601, None),
            (
                r#"{"jsonrpc":"2.0","method":"history","id":2}"#,
                -32602,
                Some(Value::from(2)),
            ),
        ];
        for (line, code, id) in cases {
            let error = decode(line).unwrap_err();
            assert_eq!((error.code(), error.answer_id()), (code, id), "{line}");
        }
    }
}
