//! What a group operation can refuse, apart from store and relay failures.

use sotto_core::group::GroupStateError;

/// Why a group operation was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// No group has this name or id prefix.
    #[error("no group {0:?}")]
    Unknown(String),
    /// More than one group matches.
    #[error("{0:?} names more than one group; give more of its id")]
    Ambiguous(String),
    /// Only an admin may change the group.
    #[error("only an admin of the group may do that")]
    NotAdmin,
    /// We left the group or were removed from it.
    #[error("you are no longer a member of this group")]
    NotAMember,
    /// The user is not in the group.
    #[error("{0} is not a member of the group")]
    NotListed(String),
    /// The new state is invalid (no admin left, name too long, too many members, …).
    #[error("group state: {0}")]
    State(#[from] GroupStateError),
    /// The signed state no longer fits one message.
    #[error("the group state is {size} bytes; at most {limit} fit in one message")]
    StateTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}
