//! The chat commands: everything that uses a profile through the SDK.

pub mod account;
pub mod attachments;
pub mod devices;
pub mod features;
pub mod group_output;
pub mod groups;
pub mod messages;
pub mod output;
pub mod profile;
pub mod receive;
pub mod verify;

use std::io::Write as _;

/// Writes one line to stdout (a closed pipe is an error, not a panic).
pub fn say(line: impl std::fmt::Display) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    Ok(())
}
