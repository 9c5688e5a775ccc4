//! The daemon's group methods (`group_*`, and `history` with `"group"`).

use serde_json::{Value, json};
use sotto_client::Client;

use super::request::GroupCall;
use crate::client::group_output;

/// Runs one group method.
pub async fn call(client: &Client, call: GroupCall) -> anyhow::Result<Value> {
    let group = match call {
        GroupCall::Create { name, members } => client.create_group(&name, &strs(&members)).await?,
        GroupCall::Add { group, usernames } => {
            client.add_members(&group, &strs(&usernames)).await?
        }
        GroupCall::Remove { group, usernames } => {
            client.remove_members(&group, &strs(&usernames)).await?
        }
        GroupCall::Admins { group, add, remove } if add.is_empty() && remove.is_empty() => {
            client.group(&group).await?
        }
        GroupCall::Admins { group, add, remove } => {
            client
                .set_admins(&group, &strs(&add), &strs(&remove))
                .await?
        }
        GroupCall::Leave { group } => client.leave_group(&group).await?,
        GroupCall::Rename { group, name } => client.rename_group(&group, &name).await?,
        GroupCall::List => {
            let groups = client.groups().await?;
            return Ok(groups.iter().map(group_output::group_json).collect());
        }
        GroupCall::Show { group } => client.group(&group).await?,
        GroupCall::History { group } => {
            let info = client.group(&group).await?;
            let me = client.account().username.clone();
            let history = client.group_history(&group).await?;
            return Ok(history
                .iter()
                .map(|m| group_output::history_json(m, &info, &me))
                .collect());
        }
    };
    Ok(json!(group_output::group_json(&group)))
}

/// The strings of a list, borrowed.
fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
