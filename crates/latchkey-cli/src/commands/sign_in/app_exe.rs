//! Which Latchkey app executable a sign-in is handed to: `LATCHKEY_APP`
//! when set, else `latchkey-app` next to this `latchkey` (the packages
//! install both in one folder, as does `cargo build`), else the first on
//! `PATH`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The variable that names the app's executable.
pub const APP_ENV: &str = "LATCHKEY_APP";

/// The app executable's file name.
pub fn file_name() -> String {
    format!("latchkey-app{}", std::env::consts::EXE_SUFFIX)
}

/// No app to hand a sign-in to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFound {
    /// `LATCHKEY_APP` named it (a setting to fix, not a fallback to take).
    pub explicit: bool,
    /// Where it was looked for, in order.
    pub tried: Vec<PathBuf>,
}

impl NotFound {
    /// "LATCHKEY_APP=/x" or "/a/latchkey-app, latchkey-app on PATH (/b, /c)".
    pub fn tried_text(&self) -> String {
        if self.explicit {
            return self
                .tried
                .first()
                .map(|p| format!("{APP_ENV}={}", p.display()))
                .unwrap_or_default();
        }
        self.tried
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Finds the app from this process's environment.
pub fn locate() -> Result<PathBuf, NotFound> {
    let me = std::env::current_exe().ok();
    find(
        std::env::var_os(APP_ENV),
        me.as_deref().and_then(Path::parent),
        std::env::var_os("PATH"),
        is_executable,
    )
}

/// The search itself: `env` (LATCHKEY_APP), the folder of `latchkey`, then
/// `path` (PATH); `usable` says whether a file can be run.
pub fn find(
    env: Option<OsString>,
    beside: Option<&Path>,
    path: Option<OsString>,
    usable: impl Fn(&Path) -> bool,
) -> Result<PathBuf, NotFound> {
    if let Some(named) = env.filter(|v| !v.is_empty()) {
        let named = PathBuf::from(named);
        return if usable(&named) {
            Ok(named)
        } else {
            Err(NotFound {
                explicit: true,
                tried: vec![named],
            })
        };
    }
    let name = file_name();
    let tried: Vec<PathBuf> = beside
        .map(|dir| dir.join(&name))
        .into_iter()
        .chain(
            path.iter()
                .flat_map(std::env::split_paths)
                .filter(|dir| !dir.as_os_str().is_empty())
                .map(|dir| dir.join(&name)),
        )
        .collect();
    match tried.iter().find(|candidate| usable(candidate)) {
        Some(found) => Ok(found.clone()),
        None => Err(NotFound {
            explicit: false,
            tried,
        }),
    }
}

/// A regular file this user may execute.
fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    meta.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(present: &'static [&'static str]) -> impl Fn(&Path) -> bool {
        move |p: &Path| present.iter().any(|x| Path::new(x) == p)
    }

    #[test]
    fn latchkey_app_wins_and_is_never_second_guessed() {
        let found = find(
            Some("/opt/lk/latchkey-app".into()),
            Some(Path::new("/usr/bin")),
            Some("/usr/bin".into()),
            only(&["/opt/lk/latchkey-app", "/usr/bin/latchkey-app"]),
        );
        assert_eq!(found, Ok(PathBuf::from("/opt/lk/latchkey-app")));
        // Named but missing: an error naming it, not the app beside.
        let missing = find(
            Some("/opt/nothing".into()),
            Some(Path::new("/usr/bin")),
            None,
            only(&["/usr/bin/latchkey-app"]),
        )
        .expect_err("missing");
        assert!(missing.explicit);
        assert_eq!(missing.tried_text(), "LATCHKEY_APP=/opt/nothing");
    }

    #[cfg(unix)]
    #[test]
    fn beside_the_command_then_on_path() {
        let path = Some(OsString::from("/home/a/bin::/usr/local/bin"));
        let beside = find(
            None,
            Some(Path::new("/usr/bin")),
            path.clone(),
            only(&["/usr/bin/latchkey-app", "/usr/local/bin/latchkey-app"]),
        );
        assert_eq!(beside, Ok(PathBuf::from("/usr/bin/latchkey-app")));
        let on_path = find(
            Some(OsString::new()),
            Some(Path::new("/tmp/x")),
            path.clone(),
            only(&["/usr/local/bin/latchkey-app"]),
        );
        assert_eq!(on_path, Ok(PathBuf::from("/usr/local/bin/latchkey-app")));
        let none = find(None, Some(Path::new("/tmp/x")), path, only(&[])).expect_err("none");
        assert!(!none.explicit);
        assert_eq!(
            none.tried_text(),
            "/tmp/x/latchkey-app, /home/a/bin/latchkey-app, /usr/local/bin/latchkey-app"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_file_that_cannot_be_run_is_not_the_app() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("latchkey-app-exe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join(file_name());
        std::fs::write(&file, "#!/bin/sh\n").expect("file");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(!is_executable(&file));
        assert!(!is_executable(&dir), "a folder is not the app");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert!(is_executable(&file));
        std::fs::remove_dir_all(&dir).ok();
    }
}
