//! Sotto's client SDK: everything a front end (CLI, TUI, daemon, bot) needs to chat.
//!
//! ```text
//!  Profile::open(dir, Unlock) ──► Profile ──register()/client()──► Client
//!                                                                   │
//!   send(user, text) ─► sotto-core encrypt per device ─► outbox (one transaction) ─► relay PUT
//!   receive(mode)    ◄─ relay WebSocket ◄─ decrypt ─► one transaction (session, prekeys,
//!                                                     contact, message) ─► ack
//!   subscribe()      ─► Event::{Message, IdentityChanged, Delivery, Undecryptable}
//!   upload_attachment(path) ─► encrypt while reading ─► PATCH pieces ─► AttachmentPointer
//!   save_attachment(user, id, n, dir) ◄─ GET Range ◄─ digest check ◄─ decrypt ─► file
//!   create_group / add_members / …  ─► admin-signed state ─► every member device (pairwise)
//!   send_group_message(group, msg)  ─► Sender Key to devices lacking it ─► encrypt ONCE ─►
//!                                      deliver_group: the same bytes to every member device
//! ```
//!
//! The profile's SQLite store holds identity, prekeys, sessions, contacts, groups (signed
//! state, Sender Keys) and history; its
//! sensitive columns are sealed with AES-256-GCM under a data key unlocked by a passphrase
//! (Argon2id) or a 0600 key file. See `docs/client.md`.

mod apply;
pub mod attachments;
mod bundles;
mod client;
pub mod content;
mod devices;
pub mod error;
pub mod events;
pub mod groups;
mod linking;
mod messaging;
mod pre_keys;
mod profile;
mod receive;
mod relay;
mod relay_attachments;
mod relay_devices;
mod relay_sealed;
pub mod sealed;
mod send;
pub mod store;
mod transport;
mod trust;

pub use attachments::{DEFAULT_ATTACHMENT_LIMIT, NoProgress, Progress};
pub use client::Client;
pub use content::{MAX_TEXT_BYTES, canonical_username};
pub use error::{ClientError, RelayError, StoreError};
pub use events::{DeliveryState, Event};
pub use groups::{GroupError, GroupInfo, GroupMemberInfo};
pub use linking::{LINK_CODE_PREFIX, LinkCode, PendingLink};
pub use messaging::OutgoingMessage;
pub use pre_keys::{
    ONE_TIME_BATCH, REPLENISH_BELOW, SIGNED_PRE_KEY_LIFETIME_MS, SIGNED_PRE_KEYS_KEPT,
};
pub use profile::{KEY_FILE, Profile, Server, default_profile_dir};
pub use receive::{Processed, ReceiveMode, ReceiveSummary};
pub use sotto_proto::api::OwnDevice;
pub use store::unlock::Unlock;
pub use store::{
    AccountRecord, Contact, Direction, MessageDetails, StoredAttachment, StoredMessage,
    StoredReaction,
};
