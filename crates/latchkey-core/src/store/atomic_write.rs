//! Replacing a small file all at once: readers see the old content or the
//! new one, never a mix, and a crash leaves one of the two.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Replaces `path`'s content with `text` atomically: a temporary file in the
/// same folder (created, with any missing parent folders, when needed),
/// flushed, given the old file's permissions, renamed over it. A symbolic
/// link is followed: its target is replaced, the link stays.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let target = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => std::fs::canonicalize(path)?,
        _ => path.to_path_buf(),
    };
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        crate::store::fsperm::create_private_dir_all(&dir)?;
    }
    let permissions = std::fs::metadata(&target).ok().map(|m| m.permissions());
    let name = target
        .file_name()
        .map_or_else(|| "providers.toml".into(), |n| n.to_string_lossy());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let temp = dir.join(format!(".{name}.{}-{nanos}.tmp", std::process::id()));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        drop(file);
        if let Some(permissions) = permissions {
            std::fs::set_permissions(&temp, permissions)?;
        }
        std::fs::rename(&temp, &target)
    })();
    if let Err(err) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(err);
    }
    // The rename itself reaches the disk with the folder.
    #[cfg(unix)]
    if let Ok(folder) = std::fs::File::open(&dir) {
        let _ = folder.sync_all();
    }
    Ok(())
}
