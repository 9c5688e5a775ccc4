//! `sotto group`: create, change, list and show groups. GROUP is a group's name or a prefix of
//! its id (at least 4 hex digits).

use std::path::Path;

use clap::{Args, Subcommand};
use serde_json::json;
use sotto_client::{Client, GroupInfo};

use super::{group_output, profile, say};

/// `sotto group`.
#[derive(Debug, Args)]
pub struct GroupArgs {
    #[command(subcommand)]
    command: GroupCommand,
    /// One JSON object per line.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum GroupCommand {
    /// Create a group with you as its admin.
    Create {
        /// Its name.
        name: String,
        /// Members to add (comma-separated usernames).
        #[arg(long, value_delimiter = ',', value_name = "USERNAMES")]
        members: Vec<String>,
    },
    /// Add members (admins only).
    Add {
        /// The group.
        group: String,
        /// Usernames to add.
        #[arg(required = true)]
        usernames: Vec<String>,
    },
    /// Remove members (admins only): everyone left starts a new Sender Key, so the removed
    /// members cannot read what follows.
    Remove {
        /// The group.
        group: String,
        /// Usernames to remove.
        #[arg(required = true)]
        usernames: Vec<String>,
    },
    /// Show the admins; with --add/--remove change them (admins only).
    Admins {
        /// The group.
        group: String,
        /// Make this member an admin (repeat for several).
        #[arg(long, value_name = "USERNAME")]
        add: Vec<String>,
        /// Make this admin a plain member (repeat for several).
        #[arg(long, value_name = "USERNAME")]
        remove: Vec<String>,
    },
    /// Leave a group.
    Leave {
        /// The group.
        group: String,
    },
    /// Rename a group (admins only).
    Rename {
        /// The group.
        group: String,
        /// The new name.
        name: String,
    },
    /// List your groups.
    List,
    /// Show a group and its members.
    Show {
        /// The group.
        group: String,
    },
}

/// Runs `sotto group`.
pub async fn run(dir: &Path, args: GroupArgs) -> anyhow::Result<()> {
    let client = profile::open_client(dir).await?;
    let result = command(&client, args.command).await;
    client.close().await;
    let groups = result?;
    for group in &groups {
        if args.json {
            say(group_output::group_json(group))?;
        } else {
            say(group_output::group_text(group))?;
            if groups.len() == 1 {
                for member in &group.members {
                    let name = member.username.as_deref().unwrap_or(&member.account_id);
                    let admin = if member.admin { " (admin)" } else { "" };
                    say(format!("  {name}{admin}"))?;
                }
            }
        }
    }
    Ok(())
}

/// Runs one group command; returns the groups to print.
async fn command(client: &Client, command: GroupCommand) -> anyhow::Result<Vec<GroupInfo>> {
    let one = match command {
        GroupCommand::Create { name, members } => {
            client.create_group(&name, &strs(&members)).await?
        }
        GroupCommand::Add { group, usernames } => {
            client.add_members(&group, &strs(&usernames)).await?
        }
        GroupCommand::Remove { group, usernames } => {
            client.remove_members(&group, &strs(&usernames)).await?
        }
        GroupCommand::Admins { group, add, remove } if add.is_empty() && remove.is_empty() => {
            let mut info = client.group(&group).await?;
            info.members.retain(|m| m.admin);
            info
        }
        GroupCommand::Admins { group, add, remove } => {
            client
                .set_admins(&group, &strs(&add), &strs(&remove))
                .await?
        }
        GroupCommand::Leave { group } => client.leave_group(&group).await?,
        GroupCommand::Rename { group, name } => client.rename_group(&group, &name).await?,
        GroupCommand::List => return Ok(client.groups().await?),
        GroupCommand::Show { group } => client.group(&group).await?,
    };
    Ok(vec![one])
}

/// Runs `sotto send --group`: one ciphertext for every member device.
pub async fn send(
    client: &Client,
    group: &str,
    message: sotto_client::OutgoingMessage,
    json: bool,
) -> anyhow::Result<()> {
    let mut events = client.subscribe();
    let id = client.send_group_message(group, message).await?;
    let notices = super::devices::device_notices(&mut events);
    super::messages::say_sent(json!({"id": id, "group": group}), &id, &notices, json)
}

/// Runs `sotto history --group`.
pub async fn history(client: &Client, group: &str, json: bool) -> anyhow::Result<()> {
    let info = client.group(group).await?;
    let me = client.account().username.clone();
    for message in client.group_history(group).await? {
        if json {
            say(group_output::history_json(&message, &info, &me))?;
        } else {
            say(group_output::history_text(&message, &info, &me))?;
        }
    }
    Ok(())
}

/// The strings of a list, borrowed.
fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
