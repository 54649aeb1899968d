//! Private files and folders: 0600 / 0700 on Unix, whatever the umask.
//!
//! Latchkey's files hold no secret, but they say which accounts a person has
//! (`accounts.json`), what they did (the log) and when (lock files): other
//! users on the machine have no business reading them. A new file is created
//! 0600 (never readable by others, not even for a moment); a folder Latchkey
//! creates is 0700; an existing file or folder of Latchkey's that is looser
//! (written by an older version, or under a permissive umask) is tightened.
//! Tightening an existing one is best effort (a file system without Unix
//! modes refuses it): logged, never fatal. On other platforms these are plain
//! `create_dir_all` and `open`.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Mode of Latchkey's files.
pub const FILE_MODE: u32 = 0o600;
/// Mode of Latchkey's folders.
pub const DIR_MODE: u32 = 0o700;

/// Creates `path` and any missing parents, each new folder 0700, and
/// tightens `path` itself to 0700 when it already existed. Parents that
/// already exist (say `~/.local/share`) are left as they are.
pub fn create_private_dir_all(path: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut next = Some(path);
    while let Some(dir) = next {
        if dir.as_os_str().is_empty() || dir.is_dir() {
            break;
        }
        missing.push(dir);
        next = dir.parent();
    }
    for dir in missing.iter().rev() {
        #[cfg_attr(not(unix), allow(unused_mut))]
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
        match builder.create(dir) {
            Ok(()) => set_mode(dir, DIR_MODE)?,
            // Another process made it meanwhile.
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
            Err(err) => return Err(err),
        }
    }
    tighten(path, DIR_MODE);
    Ok(())
}

/// Opens `path` with `options`; a file it creates is 0600, and an existing
/// one is tightened to 0600.
pub fn open_private(path: &Path, options: &OpenOptions) -> io::Result<File> {
    #[allow(unused_mut)]
    let mut options = options.clone();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let loose = file
            .metadata()
            .is_ok_and(|m| m.permissions().mode() & 0o7777 != FILE_MODE);
        if loose && let Err(err) = file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))
        {
            tracing::warn!(path = %path.display(), error = %err, "cannot make the file private");
        }
    }
    Ok(file)
}

/// Best effort: sets `path` (a file or folder of Latchkey's) to `mode` when
/// it is looser or otherwise different. A missing path is fine.
pub fn tighten(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return;
        };
        if meta.file_type().is_symlink() || meta.permissions().mode() & 0o7777 == mode {
            return;
        }
        if let Err(err) = set_mode(path, mode) {
            tracing::warn!(path = %path.display(), error = %err, "cannot make the path private");
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

#[cfg(all(test, unix))]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    /// Every test that checks modes runs under umask 000 (the most
    /// permissive): the modes must not come from the umask. Tests only ever
    /// set this one value, so running them in parallel is fine.
    pub(crate) fn permissive_umask() {
        rustix::process::umask(rustix::fs::Mode::empty());
    }

    pub(crate) fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o7777
    }

    pub(crate) fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("latchkey-fsperm-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn new_folders_and_files_are_private() {
        permissive_umask();
        let root = temp_dir("new");
        let leaf = root.join("a").join("b");
        create_private_dir_all(&leaf).expect("mkdir");
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("a")), 0o700);
        assert_eq!(mode(&leaf), 0o700);
        let file = leaf.join("f");
        open_private(&file, OpenOptions::new().create(true).append(true)).expect("open");
        assert_eq!(mode(&file), 0o600);
        std::fs::remove_dir_all(&root).ok();
    }

    #[test]
    fn existing_loose_ones_are_tightened_and_parents_left_alone() {
        permissive_umask();
        let root = temp_dir("loose");
        let leaf = root.join("ours");
        std::fs::create_dir_all(&leaf).expect("mkdir");
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::set_permissions(&leaf, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let file = leaf.join("f");
        std::fs::write(&file, b"x").expect("write");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        create_private_dir_all(&leaf).expect("mkdir");
        assert_eq!(mode(&leaf), 0o700);
        assert_eq!(
            mode(&root),
            0o755,
            "a parent that existed is not ours to change"
        );
        open_private(&file, OpenOptions::new().read(true)).expect("open");
        assert_eq!(mode(&file), 0o600);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        tighten(&file, FILE_MODE);
        assert_eq!(mode(&file), 0o600);
        tighten(&leaf.join("absent"), FILE_MODE);
        std::fs::remove_dir_all(&root).ok();
    }
}
