//! Which profile a command uses and how it is unlocked.
//!
//! Unlocking, first that applies: `SOTTO_PASSPHRASE`; the profile's key file (`profile.key`)
//! when it exists; a passphrase typed at the terminal when stdin is one; else a key file,
//! created at registration.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sotto_client::{Client, ClientError, KEY_FILE, Profile, StoreError, Unlock};
use zeroize::Zeroizing;

use crate::exit::LockedError;

/// The environment variable holding the passphrase.
pub const PASSPHRASE_ENV: &str = "SOTTO_PASSPHRASE";

/// The profile directory: `--profile`/`SOTTO_PROFILE`, else the default under the data dir.
pub fn profile_dir(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    match given {
        Some(dir) => Ok(dir.to_owned()),
        None => sotto_client::default_profile_dir().context(
            "no home directory to put the default profile in: pass --profile DIR or set SOTTO_PROFILE",
        ),
    }
}

/// The database file that tells a profile exists.
fn database(dir: &Path) -> PathBuf {
    dir.join("profile.db")
}

/// How to unlock the profile in `dir`; `creating` asks twice at a terminal.
fn unlock(dir: &Path, creating: bool) -> anyhow::Result<Unlock> {
    if let Ok(pass) = std::env::var(PASSPHRASE_ENV)
        && !pass.is_empty()
    {
        return Ok(Unlock::Passphrase(Zeroizing::new(pass)));
    }
    let key_file = dir.join(KEY_FILE);
    if key_file.exists() || !std::io::stdin().is_terminal() {
        return Ok(Unlock::KeyFile(key_file));
    }
    prompt(dir, creating, key_file)
}

fn prompt(dir: &Path, creating: bool, key_file: PathBuf) -> anyhow::Result<Unlock> {
    let question = format!("Passphrase for the profile {}: ", dir.display());
    let pass =
        Zeroizing::new(rpassword::prompt_password(question).context("reading the passphrase")?);
    if creating && pass.is_empty() {
        eprintln!(
            "No passphrase: the profile is locked by a key file ({}).",
            key_file.display()
        );
        return Ok(Unlock::KeyFile(key_file));
    }
    if creating {
        let again = Zeroizing::new(
            rpassword::prompt_password("Again: ").context("reading the passphrase")?,
        );
        if again != pass {
            return Err(
                LockedError("the two passphrases differ; nothing was created".into()).into(),
            );
        }
    }
    Ok(Unlock::Passphrase(pass))
}

/// Opens the profile in `dir` for registration (it is created when missing).
pub async fn open_new(dir: &Path) -> anyhow::Result<Profile> {
    let creating = !database(dir).exists();
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let unlock = unlock(dir, creating)?;
    Ok(Profile::open(dir, &unlock).await?)
}

/// Opens the registered profile in `dir`.
pub async fn open_client(dir: &Path) -> anyhow::Result<Client> {
    if !database(dir).exists() {
        anyhow::bail!(
            "no profile in {}: register first with `sotto --profile {} account register --server URL USERNAME`",
            dir.display(),
            dir.display()
        );
    }
    let unlock = unlock(dir, false)?;
    let profile = Profile::open(dir, &unlock).await?;
    match profile.client().await {
        Err(ClientError::Store(StoreError::NotRegistered)) => anyhow::bail!(
            "profile {} has no account yet: run `sotto account register --server URL USERNAME`",
            dir.display()
        ),
        other => Ok(other?),
    }
}
