//! Local files of attachments: names that are safe to send and to save, private temporary
//! files, and placing a checked file under a name that clobbers nothing.

use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use crate::content::safe_file_name;
use crate::error::ClientError;

/// Longest file name sent (the content rules allow 255 bytes).
const MAX_NAME_BYTES: usize = 255;

/// Wraps an I/O error with the path it concerns.
pub(super) fn file_error(path: &Path) -> impl FnOnce(std::io::Error) -> ClientError + '_ {
    move |source| ClientError::File {
        path: path.display().to_string(),
        source,
    }
}

/// The name to announce for a file: its last component, without leading dots, separators
/// or control characters, at most 255 bytes; `None` when nothing is left.
pub(super) fn announced_name(path: &Path) -> Option<String> {
    let raw = path.file_name()?.to_string_lossy();
    let cleaned: String = raw
        .trim_start_matches('.')
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let mut end = cleaned.len().min(MAX_NAME_BYTES);
    while !cleaned.is_char_boundary(end) {
        end -= 1;
    }
    let name = cleaned[..end].to_owned();
    safe_file_name(&name).then_some(name)
}

/// The media type of a file, guessed from its extension (`None` when unknown).
pub(super) fn guess_content_type(path: &Path) -> Option<String> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    let kind = match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "txt" | "md" => "text/plain",
        "html" | "htm" => "text/html",
        "json" => "application/json",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        "m4a" => "audio/mp4",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mov" => "video/quicktime",
        _ => return None,
    };
    Some(kind.to_owned())
}

/// Creates `dir` (and its parents) with mode 0700 if it does not exist.
pub(super) fn private_dir(dir: &Path) -> Result<(), ClientError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(file_error(dir))
}

/// Opens `path` for writing with mode 0600, truncated (`append`: kept and appended to).
pub(super) fn private_file(path: &Path, append: bool) -> Result<std::fs::File, ClientError> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).mode(0o600);
    if append {
        options.append(true);
    } else {
        options.write(true).truncate(true);
    }
    options.open(path).map_err(file_error(path))
}

/// Moves the finished file `temp` to `dir/name`, or `name (1).ext`, `name (2).ext`, … when
/// taken: a hard link never replaces an existing file, so nothing is clobbered even if another
/// program creates files in `dir` meanwhile. Where the file system has no hard links, the file
/// is renamed to a name that was free a moment before.
pub(super) fn place(temp: &Path, dir: &Path, name: &str) -> Result<PathBuf, ClientError> {
    let (stem, ext) = match name.rfind('.') {
        Some(dot) if dot > 0 => (&name[..dot], &name[dot..]),
        _ => (name, ""),
    };
    for n in 0u32.. {
        let candidate = if n == 0 {
            dir.join(name)
        } else {
            dir.join(format!("{stem} ({n}){ext}"))
        };
        match std::fs::hard_link(temp, &candidate) {
            Ok(()) => {
                std::fs::remove_file(temp).map_err(file_error(temp))?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            // A file system without hard links: a rename into a name free just now.
            Err(_) if !candidate.exists() => {
                std::fs::rename(temp, &candidate).map_err(file_error(&candidate))?;
                return Ok(candidate);
            }
            Err(_) => {}
        }
    }
    Err(file_error(dir)(std::io::Error::other("no free file name")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn announced_names_are_safe() {
        assert_eq!(
            announced_name(Path::new("/tmp/photo 1.jpg")).as_deref(),
            Some("photo 1.jpg")
        );
        assert_eq!(
            announced_name(Path::new("/tmp/.bashrc")).as_deref(),
            Some("bashrc")
        );
        assert_eq!(
            announced_name(Path::new("a\u{7}b:c")).as_deref(),
            Some("a_b_c")
        );
        assert_eq!(announced_name(Path::new("/tmp/...")), None);
        let long = "é".repeat(200);
        let name = announced_name(Path::new(&long)).unwrap_or_default();
        assert!(name.len() <= MAX_NAME_BYTES && long.starts_with(&name));
    }

    #[test]
    fn placing_never_clobbers() {
        let dir = tempfile::tempdir().unwrap();
        let place_one = |content: &str| {
            let temp = dir.path().join(".part");
            std::fs::write(&temp, content).unwrap();
            place(&temp, dir.path(), "notes.txt").unwrap()
        };
        let first = place_one("one");
        let second = place_one("two");
        let third = place_one("three");
        assert_eq!(first, dir.path().join("notes.txt"));
        assert_eq!(second, dir.path().join("notes (1).txt"));
        assert_eq!(third, dir.path().join("notes (2).txt"));
        assert_eq!(std::fs::read_to_string(first).unwrap(), "one");
        assert!(!dir.path().join(".part").exists());
    }
}
