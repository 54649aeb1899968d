//! Which git hosts Latchkey answers for, and with which account: `[[git]]`
//! tables in the providers file, then in `git.toml` beside it in the app's
//! config folder (written by `latchkey git-credential configure`):
//!
//! ```toml
//! [[git]]
//! host = "git.example.com"          # as git sends it (with :port if any)
//! account = "work:alice@example.com" # any ACCOUNT selector
//! username = "oauth2"               # optional, default "oauth2"
//! path_prefix = "team/"             # optional; needs credential.useHttpPath
//! protocol = "https"                # optional, default "https"
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::exit::{CliError, Exit};

/// One host mapped to an account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitMapping {
    pub host: String,
    pub account: String,
    #[serde(default = "default_username")]
    pub username: String,
    #[serde(default)]
    pub path_prefix: Option<String>,
    #[serde(default = "default_protocol")]
    pub protocol: String,
}

fn default_username() -> String {
    "oauth2".into()
}

fn default_protocol() -> String {
    "https".into()
}

#[derive(Deserialize)]
struct MappingFile {
    #[serde(default)]
    git: Vec<GitMapping>,
}

/// The `[[git]]` tables of a TOML text (other tables are ignored).
pub fn parse_mappings(text: &str) -> Result<Vec<GitMapping>, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| e.message().to_owned())?;
    let Some(git) = table.get("git") else {
        return Ok(Vec::new());
    };
    let mut file = toml::Table::new();
    file.insert("git".into(), git.clone());
    let parsed: MappingFile = toml::Value::Table(file)
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_owned())?;
    Ok(parsed.git)
}

/// `git.toml` in the app's config folder.
pub fn git_toml_path() -> Option<PathBuf> {
    crate::app::identity()
        .config_dir()
        .map(|dir| dir.join("git.toml"))
}

fn read_mappings(path: &Path) -> Result<Vec<GitMapping>, CliError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => {
            return Err(CliError::new(
                Exit::Failure,
                format!("cannot read {}: {err}", path.display()),
            ));
        }
    };
    parse_mappings(&text).map_err(|message| {
        CliError::new(
            Exit::Failure,
            format!(
                "the [[git]] entries of {} are not valid: {message}",
                path.display()
            ),
        )
    })
}

/// Every mapping: the providers file's first, then `git.toml`'s.
pub fn load_mappings() -> Result<Vec<GitMapping>, CliError> {
    let mut all = Vec::new();
    for path in [crate::app::providers_path(), git_toml_path()]
        .into_iter()
        .flatten()
    {
        all.extend(read_mappings(&path)?);
    }
    Ok(all)
}

fn trim_path(p: &str) -> &str {
    p.trim_matches('/')
}

/// Adds (or updates: same protocol, host and path prefix) a mapping in the
/// TOML text of `git.toml`, keeping everything else (comments included).
pub fn upsert(text: &str, mapping: &GitMapping) -> Result<String, String> {
    use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| e.to_string())?;
    if doc.as_table().is_empty() && text.trim().is_empty() {
        doc.decor_mut().set_prefix(
            "# Git hosts whose credentials `latchkey git-credential` answers with an\n\
             # account's access token. Written by `latchkey git-credential configure`;\n\
             # edit freely (comments are kept).\n\n",
        );
    }
    let tables = doc
        .entry("git")
        .or_insert(Item::ArrayOfTables(ArrayOfTables::new()))
        .as_array_of_tables_mut()
        .ok_or("`git` in git.toml is not an array of tables ([[git]])")?;
    let same = |t: &Table| {
        let s = |k: &str| t.get(k).and_then(|v| v.as_str());
        s("host").is_some_and(|h| h.eq_ignore_ascii_case(&mapping.host))
            && s("protocol").unwrap_or("https") == mapping.protocol
            && s("path_prefix").map(trim_path) == mapping.path_prefix.as_deref().map(trim_path)
    };
    let found = tables.iter().position(same);
    let index = match found {
        Some(i) => i,
        None => {
            let mut t = Table::new();
            t["host"] = value(mapping.host.as_str());
            if let Some(prefix) = &mapping.path_prefix {
                t["path_prefix"] = value(prefix.as_str());
            }
            if mapping.protocol != "https" {
                t["protocol"] = value(mapping.protocol.as_str());
            }
            tables.push(t);
            tables.len() - 1
        }
    };
    let table = tables.get_mut(index).ok_or("lost the entry")?;
    table["account"] = value(mapping.account.as_str());
    table["username"] = value(mapping.username.as_str());
    Ok(doc.to_string())
}

/// Writes a mapping into `git.toml` (atomically); returns its path.
pub fn configure(mapping: &GitMapping) -> Result<PathBuf, CliError> {
    let path = git_toml_path().ok_or_else(|| {
        CliError::new(
            Exit::Failure,
            "no configuration folder is known for this user: set HOME",
        )
    })?;
    let fail = |what: &str, err: &dyn std::fmt::Display| {
        CliError::new(
            Exit::Failure,
            format!("cannot {what} {}: {err}", path.display()),
        )
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(err) => return Err(fail("read", &err)),
    };
    let updated = upsert(&text, mapping).map_err(|err| fail("update", &err))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|err| fail("create the folder of", &err))?;
    }
    let temp = path.with_extension(format!("toml.tmp-{}", std::process::id()));
    std::fs::write(&temp, updated)
        .and_then(|()| std::fs::rename(&temp, &path))
        .map_err(|err| {
            let _ = std::fs::remove_file(&temp);
            fail("write", &err)
        })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(host: &str, account: &str) -> GitMapping {
        GitMapping {
            host: host.into(),
            account: account.into(),
            username: "oauth2".into(),
            path_prefix: None,
            protocol: "https".into(),
        }
    }

    #[test]
    fn git_tables_are_read_with_their_defaults_beside_providers() {
        let text = r#"
[[provider]]
id = "work"
[[git]]
host = "git.example.com"
account = "work:alice"
[[git]]
host = "code.example.com:8443"
account = "Personal"
username = "x-token"
path_prefix = "team"
"#;
        let got = parse_mappings(text).expect("parses");
        assert_eq!(got[0], mapping("git.example.com", "work:alice"));
        assert_eq!(got[1].username, "x-token");
        assert_eq!(got[1].path_prefix.as_deref(), Some("team"));
        assert!(
            parse_mappings("[[provider]]\nid = \"x\"\n")
                .expect("ok")
                .is_empty()
        );
        let err = parse_mappings("[[git]]\nhost = \"h\"\naccount = \"a\"\nuser = \"typo\"\n")
            .expect_err("unknown key");
        assert!(err.contains("user"), "{err}");
    }

    #[test]
    fn configure_adds_then_updates_keeping_comments() {
        let first = upsert("", &mapping("git.example.com", "work:alice")).expect("new file");
        assert!(first.starts_with("# Git hosts"));
        let edited = format!("{first}\n# my own note\n");
        let mut again = mapping("GIT.example.com", "work:bob");
        again.username = "bob".into();
        let second = upsert(&edited, &again).expect("update");
        assert!(second.contains("# my own note"));
        let parsed = parse_mappings(&second).expect("parses");
        assert_eq!(parsed.len(), 1, "same host: updated in place\n{second}");
        assert_eq!(parsed[0].account, "work:bob");
        assert_eq!(parsed[0].username, "bob");
        let third = upsert(&second, &mapping("other.example.com", "home:carol")).expect("add");
        assert_eq!(parse_mappings(&third).expect("parses").len(), 2);
        assert!(upsert("git = 1\n", &mapping("h", "a")).is_err());
    }
}
