//! Adding, editing and removing `[[provider]]` entries of the providers file
//! from the window, with [`toml_edit`]: the person's comments, key order and
//! layout stay as they were; only the entry concerned changes.
//!
//! Every edit is planned first ([`ProvidersFile::plan_add`] and friends): the
//! new text is read back by the providers-file parser, and an edit whose
//! entry the parser refuses is an error before anything is written. A
//! [`Plan`] is written by [`ProvidersFile::commit`] (which consumes it) only
//! if the file is still as the plan found it, and atomically: a temporary
//! file in the same folder, flushed to disk, renamed over the old one (which
//! keeps its permissions; a symbolic link keeps pointing where it did).

use std::path::{Path, PathBuf};

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table};

use crate::config::identity::AppIdentity;
use crate::config::preset::Preset;
use crate::config::provider::{ConfigError, ProviderConfig, parse_providers_for};
use crate::config::provider_draft::{DRAFT_KEYS, ProviderDraft};
use crate::error::ErrorCode;

/// The comment a providers file created by the window starts with.
const NEW_FILE_HEADER: &str = "# Latchkey's providers (see docs/providers.md). Written by the window's\n\
     # \"Add provider\"; edit freely: comments and layout are kept.\n";

/// Why an edit of the providers file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// The file could not be read.
    #[error("cannot read the providers file {path}: {source}")]
    Read {
        /// The providers file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file could not be written (nothing was changed).
    #[error("cannot write the providers file {path}: {source}")]
    Write {
        /// The providers file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML: fix it by hand first.
    #[error("the providers file is not valid TOML, so it is not edited: {message}")]
    Syntax {
        /// What the TOML parser reported.
        message: String,
    },
    /// The new or changed entry is refused by the providers-file parser.
    #[error("the provider {id:?} is not valid: {source}")]
    Invalid {
        /// The entry's id.
        id: String,
        /// What the parser said.
        #[source]
        source: ConfigError,
    },
    /// Another entry has this id.
    #[error("a provider with the id {id:?} already exists: choose another id")]
    IdTaken {
        /// The id.
        id: String,
    },
    /// No entry has this id.
    #[error("there is no provider {id:?} in the providers file")]
    UnknownId {
        /// The id.
        id: String,
    },
    /// `provider` is written in a form this editor does not change (an
    /// inline array, a plain table).
    #[error(
        "the providers file writes `provider` as {found}, not as [[provider]] tables: edit it by hand"
    )]
    Layout {
        /// What was found.
        found: &'static str,
    },
    /// The file changed between the plan and the write.
    #[error(
        "the providers file changed meanwhile (edited by hand?); nothing was written: try again"
    )]
    Changed,
}

impl ErrorCode for EditError {
    fn code(&self) -> &'static str {
        match self {
            Self::Read { .. } => "config_unreadable",
            Self::Write { .. } => "config_unwritable",
            Self::Syntax { .. } => "config_syntax",
            Self::Invalid { source, .. } => source.code(),
            Self::IdTaken { .. } => "provider_id_taken",
            Self::UnknownId { .. } => "unknown_provider",
            Self::Layout { .. } => "config_layout",
            Self::Changed => "config_changed",
        }
    }
}

/// An edit ready to be written: the file's text before and after, and the
/// configuration of the added or changed entry (`None` for a removal).
#[derive(Debug)]
#[must_use = "a plan does nothing until it is committed"]
pub struct Plan {
    before: String,
    after: String,
    config: Option<ProviderConfig>,
}

impl Plan {
    /// The configuration the added or changed entry gives.
    pub fn config(&self) -> Option<&ProviderConfig> {
        self.config.as_ref()
    }

    /// The file's text after the edit.
    pub fn text(&self) -> &str {
        &self.after
    }
}

fn parse(text: &str) -> Result<DocumentMut, EditError> {
    text.parse()
        .map_err(|err: toml_edit::TomlError| EditError::Syntax {
            message: err.message().to_owned(),
        })
}

fn tables(doc: &mut DocumentMut) -> Result<Option<&mut ArrayOfTables>, EditError> {
    match doc.get_mut("provider") {
        None => Ok(None),
        Some(Item::ArrayOfTables(list)) => Ok(Some(list)),
        Some(Item::Value(_)) => Err(EditError::Layout {
            found: "an inline array",
        }),
        Some(_) => Err(EditError::Layout { found: "a table" }),
    }
}

fn position(list: &ArrayOfTables, id: &str) -> Option<usize> {
    list.iter()
        .position(|table| table.get("id").and_then(Item::as_str) == Some(id))
}

/// The configuration of entry `id` in `text`, as the parser reads the
/// whole file (so a duplicate id or a file-level problem shows up too).
fn read_back(text: &str, id: &str, identity: &AppIdentity) -> Result<ProviderConfig, EditError> {
    let invalid = |source| EditError::Invalid {
        id: id.to_owned(),
        source,
    };
    let entries = parse_providers_for(text, identity)
        .map_err(|message| invalid(ConfigError::Entry { index: 0, message }))?;
    let entry = entries
        .into_iter()
        .rev()
        .find(|entry| entry.label == id)
        .ok_or_else(|| EditError::UnknownId { id: id.to_owned() })?;
    entry.config.map_err(invalid)
}

/// Adds the draft's entry at the end of the `[[provider]]` entries.
pub fn add_entry(
    text: &str,
    draft: &ProviderDraft,
    identity: &AppIdentity,
) -> Result<(String, ProviderConfig), EditError> {
    let id = draft.id.trim();
    // The entry alone first: its own error, not one about the file.
    draft
        .validate(identity)
        .map_err(|source| EditError::Invalid {
            id: id.to_owned(),
            source,
        })?;
    let mut doc = parse(text)?;
    let mut table = draft.to_table();
    if text.trim().is_empty() {
        doc = DocumentMut::new();
        table.decor_mut().set_prefix(format!("{NEW_FILE_HEADER}\n"));
    } else if !text.ends_with("\n\n") {
        // A blank line between the last entry (or comment) and this one.
        table.decor_mut().set_prefix("\n");
    }
    match tables(&mut doc)? {
        Some(list) => {
            if position(list, id).is_some() {
                return Err(EditError::IdTaken { id: id.to_owned() });
            }
            list.push(table);
        }
        None => {
            let mut list = ArrayOfTables::new();
            list.push(table);
            doc.insert("provider", Item::ArrayOfTables(list));
        }
    }
    let mut after = doc.to_string();
    if !after.ends_with('\n') {
        after.push('\n');
    }
    let config = read_back(&after, id, identity)?;
    Ok((after, config))
}

/// Changes entry `id` to the draft (which may rename it): the draft's keys
/// are set in place (keeping their comments) or removed when the draft
/// leaves them empty; every other key of the entry is kept as written.
pub fn update_entry(
    text: &str,
    id: &str,
    draft: &ProviderDraft,
    identity: &AppIdentity,
) -> Result<(String, ProviderConfig), EditError> {
    let new_id = draft.id.trim();
    let mut doc = parse(text)?;
    let list = tables(&mut doc)?.ok_or_else(|| EditError::UnknownId { id: id.to_owned() })?;
    let index = position(list, id).ok_or_else(|| EditError::UnknownId { id: id.to_owned() })?;
    if new_id != id && position(list, new_id).is_some() {
        return Err(EditError::IdTaken {
            id: new_id.to_owned(),
        });
    }
    let Some(table) = list.get_mut(index) else {
        return Err(EditError::UnknownId { id: id.to_owned() });
    };
    for (key, value) in draft.values() {
        debug_assert!(DRAFT_KEYS.contains(&key));
        // An entry without `preset` is an `oidc` one: it stays without.
        if key == "preset" && draft.preset == Preset::Oidc && table.get(key).is_none() {
            continue;
        }
        match (value, table.get_mut(key)) {
            (None, _) => {
                table.remove(key);
            }
            (Some(mut value), Some(Item::Value(old))) => {
                // The old value's comment (`key = "x"  # why`) stays with it.
                *value.decor_mut() = old.decor().clone();
                *old = value;
            }
            (Some(value), _) => {
                table.insert(key, Item::Value(value));
            }
        }
    }
    let after = doc.to_string();
    let config = read_back(&after, new_id, identity)?;
    Ok((after, config))
}

/// Removes entry `id`. Comments right above it go with it; comments set
/// apart from it by a blank line (say, the file's own header) stay.
pub fn remove_entry(text: &str, id: &str) -> Result<String, EditError> {
    let mut doc = parse(text)?;
    let list = tables(&mut doc)?.ok_or_else(|| EditError::UnknownId { id: id.to_owned() })?;
    let index = position(list, id).ok_or_else(|| EditError::UnknownId { id: id.to_owned() })?;
    let removed = list.remove(index);
    let prefix = removed
        .decor()
        .prefix()
        .and_then(|raw| raw.as_str())
        .unwrap_or_default();
    let kept = kept_comments(prefix);
    if !kept.is_empty() {
        // To whatever table comes next in the file, else to its end.
        let after = removed.position().unwrap_or(isize::MAX);
        match next_table(&mut doc, after) {
            Some(next) => {
                let own = next
                    .decor()
                    .prefix()
                    .and_then(|raw| raw.as_str())
                    .unwrap_or_default()
                    .to_owned();
                next.decor_mut().set_prefix(format!("{kept}{own}"));
            }
            None => {
                let trailing = doc.trailing().as_str().unwrap_or_default().to_owned();
                doc.set_trailing(format!("{kept}{trailing}"));
            }
        }
    }
    if tables(&mut doc)?.is_some_and(|list| list.is_empty()) {
        doc.remove("provider");
    }
    Ok(doc.to_string())
}

/// The top-level table (or array-of-tables entry) that comes first after
/// document position `after`.
fn next_table(doc: &mut DocumentMut, after: isize) -> Option<&mut Table> {
    let mut found: Option<&mut Table> = None;
    for (_, item) in doc.as_table_mut().iter_mut() {
        let candidates: Vec<&mut Table> = match item {
            Item::Table(table) => vec![table],
            Item::ArrayOfTables(list) => list.iter_mut().collect(),
            _ => Vec::new(),
        };
        for table in candidates {
            let Some(at) = table.position().filter(|at| *at > after) else {
                continue;
            };
            if found
                .as_ref()
                .is_none_or(|best| best.position().is_some_and(|best| at < best))
            {
                found = Some(table);
            }
        }
    }
    found
}

/// The lines of a table's prefix up to its last blank line: what is not
/// attached to the table itself.
fn kept_comments(prefix: &str) -> String {
    let lines: Vec<&str> = prefix.split_inclusive('\n').collect();
    let kept = match lines.iter().rposition(|line| line.trim().is_empty()) {
        Some(last_blank) => lines[..=last_blank].concat(),
        None => String::new(),
    };
    // Blank lines alone are layout of the removed entry, not comments.
    if kept.trim().is_empty() {
        String::new()
    } else {
        kept
    }
}

/// The draft of entry `id` (to edit it in the window).
pub fn draft_of(text: &str, id: &str) -> Result<ProviderDraft, EditError> {
    let mut doc = parse(text)?;
    let list = tables(&mut doc)?.ok_or_else(|| EditError::UnknownId { id: id.to_owned() })?;
    let table: &Table = position(list, id)
        .and_then(|index| list.get(index))
        .ok_or_else(|| EditError::UnknownId { id: id.to_owned() })?;
    Ok(ProviderDraft::from_table(table))
}

/// The providers file of an app, for editing.
#[derive(Debug, Clone)]
pub struct ProvidersFile {
    path: PathBuf,
    identity: AppIdentity,
}

impl ProvidersFile {
    /// The providers file at `path`, whose entries are read for `identity`.
    pub fn new(path: impl Into<PathBuf>, identity: AppIdentity) -> Self {
        Self {
            path: path.into(),
            identity,
        }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its text; empty when the file does not exist yet.
    pub fn read(&self) -> Result<String, EditError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Ok(text),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(source) => Err(EditError::Read {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// Plans adding the draft's entry (see [`add_entry`]).
    pub fn plan_add(&self, draft: &ProviderDraft) -> Result<Plan, EditError> {
        let before = self.read()?;
        let (after, config) = add_entry(&before, draft, &self.identity)?;
        Ok(Plan {
            before,
            after,
            config: Some(config),
        })
    }

    /// Plans changing entry `id` to the draft (see [`update_entry`]).
    pub fn plan_update(&self, id: &str, draft: &ProviderDraft) -> Result<Plan, EditError> {
        let before = self.read()?;
        let (after, config) = update_entry(&before, id, draft, &self.identity)?;
        Ok(Plan {
            before,
            after,
            config: Some(config),
        })
    }

    /// Plans removing entry `id` (see [`remove_entry`]).
    pub fn plan_remove(&self, id: &str) -> Result<Plan, EditError> {
        let before = self.read()?;
        let after = remove_entry(&before, id)?;
        Ok(Plan {
            before,
            after,
            config: None,
        })
    }

    /// The draft of entry `id`.
    pub fn draft(&self, id: &str) -> Result<ProviderDraft, EditError> {
        draft_of(&self.read()?, id)
    }

    /// Writes a plan, if the file is still as the plan found it.
    pub fn commit(&self, plan: Plan) -> Result<(), EditError> {
        if self.read()? != plan.before {
            return Err(EditError::Changed);
        }
        crate::store::atomic_write::write_atomically(&self.path, &plan.after).map_err(
            |source| EditError::Write {
                path: self.path.clone(),
                source,
            },
        )?;
        tracing::info!(path = %self.path.display(), "providers file written");
        Ok(())
    }
}

#[cfg(test)]
#[path = "providers_edit_tests.rs"]
mod tests;
