//! Editing the providers file: comments and layout kept, the parser as the
//! judge of every new entry, atomic writes.
use super::*;
use crate::config::provider::parse_providers;

const FILE: &str = r#"# My providers. Hand-written; please keep this comment.

# The work one.
[[provider]]
id = "work"   # do not rename: accounts use it
name = "Work"
issuer = "https://login.work.example"
client_id = "latchkey-desktop"
authorization_params = { audience = "api" }

[[git]]
host = "git.work.example"
account = "work"
"#;

fn identity() -> AppIdentity {
    AppIdentity::latchkey()
}

fn oidc(id: &str, issuer: &str) -> ProviderDraft {
    ProviderDraft {
        id: id.into(),
        name: Some("Home".into()),
        client_id: "home-client".into(),
        issuer: Some(issuer.into()),
        ..ProviderDraft::default()
    }
}

fn ids(text: &str) -> Vec<String> {
    parse_providers(text)
        .expect("parses")
        .into_iter()
        .map(|entry| {
            entry.config.expect("valid");
            entry.label
        })
        .collect()
}

#[test]
fn an_added_entry_goes_after_the_others_and_every_comment_stays() {
    let (text, config) =
        add_entry(FILE, &oidc("home", "https://home.example"), &identity()).expect("added");
    assert_eq!(config.id.as_str(), "home");
    assert_eq!(config.issuer.as_str(), "https://home.example");
    assert_eq!(ids(&text), ["work", "home"]);
    // The old text is all there, byte for byte, comments included.
    for line in FILE.lines() {
        assert!(text.contains(line), "{line:?} lost:\n{text}");
    }
    assert!(text.contains("[[provider]]\nid = \"home\"\nname = \"Home\"\npreset = \"oidc\"\nclient_id = \"home-client\"\nissuer = \"https://home.example\"\n"), "{text}");
    // The [[git]] table is still read as before.
    let table: toml::Table = toml::from_str(&text).expect("toml");
    assert_eq!(table["git"][0]["host"].as_str(), Some("git.work.example"));
}

#[test]
fn a_new_file_starts_with_a_header_comment() {
    let (text, _) =
        add_entry("", &oidc("home", "https://home.example"), &identity()).expect("added");
    assert!(text.starts_with("# Latchkey's providers"), "{text}");
    assert_eq!(ids(&text), ["home"]);
}

#[test]
fn an_entry_the_parser_refuses_is_an_error_naming_the_field() {
    // Plain http on a public host.
    let err =
        add_entry(FILE, &oidc("home", "http://home.example"), &identity()).expect_err("refused");
    assert_eq!(err.code(), "config_insecure_issuer");
    // Loopback http needs the development flag, then passes.
    let mut draft = oidc("dev", "http://127.0.0.1:9010");
    assert_eq!(
        add_entry(FILE, &draft, &identity())
            .expect_err("refused")
            .code(),
        "config_insecure_issuer"
    );
    draft.insecure_http_loopback = true;
    let (text, _) = add_entry(FILE, &draft, &identity()).expect("development issuer");
    assert!(text.contains("insecure_http_loopback = true"));
    // A preset's missing field.
    let keycloak = ProviderDraft {
        preset: Preset::Keycloak,
        id: "kc".into(),
        client_id: "c".into(),
        base_url: Some("https://sso.example".into()),
        ..ProviderDraft::default()
    };
    let err = add_entry(FILE, &keycloak, &identity()).expect_err("no realm");
    assert_eq!(err.code(), "config_invalid_value");
    assert!(err.to_string().contains("realm"), "{err}");
    // A bad id.
    let err = add_entry(
        FILE,
        &oidc("Home Mail", "https://home.example"),
        &identity(),
    )
    .expect_err("bad id");
    assert!(err.to_string().contains("lowercase"), "{err}");
}

#[test]
fn an_id_in_use_is_refused_when_adding() {
    let err =
        add_entry(FILE, &oidc("work", "https://home.example"), &identity()).expect_err("taken");
    assert_eq!(err.code(), "provider_id_taken");
}

#[test]
fn a_preset_that_needs_a_client_secret_says_so_without_any_secret_in_the_file() {
    let github = ProviderDraft {
        preset: Preset::Github,
        id: "gh".into(),
        client_id: "Iv1.abc".into(),
        ..ProviderDraft::default()
    };
    let (text, config) = add_entry(FILE, &github, &identity()).expect("added");
    assert!(config.client_secret, "the catalogue says GitHub needs one");
    assert!(!text.contains("client_secret"), "{text}");
    assert!(text.contains("preset = \"github\""));
}

#[test]
fn an_update_changes_the_entry_in_place_and_keeps_the_rest() {
    let mut draft = draft_of(FILE, "work").expect("found");
    assert_eq!(draft.client_id, "latchkey-desktop");
    assert_eq!(draft.issuer.as_deref(), Some("https://login.work.example"));
    // Unchanged, the text is byte-identical.
    let (same, _) = update_entry(FILE, "work", &draft, &identity()).expect("updated");
    assert_eq!(same, FILE);
    draft.client_id = "another-client".into();
    draft.name = None;
    let (text, config) = update_entry(FILE, "work", &draft, &identity()).expect("updated");
    assert_eq!(config.client_id, "another-client");
    assert_eq!(config.name, "work", "the name was cleared");
    assert_eq!(
        text,
        FILE.replace("name = \"Work\"\n", "")
            .replace("\"latchkey-desktop\"", "\"another-client\"")
    );
    // Renamed (the value's comment stays); a taken or unknown id is refused.
    draft.id = "office".into();
    let (text, _) = update_entry(FILE, "work", &draft, &identity()).expect("renamed");
    assert!(text.contains("id = \"office\"   # do not rename"), "{text}");
    let (two, _) =
        add_entry(FILE, &oidc("home", "https://home.example"), &identity()).expect("added");
    let err = update_entry(
        &two,
        "work",
        &oidc("home", "https://x.example"),
        &identity(),
    )
    .expect_err("taken");
    assert_eq!(err.code(), "provider_id_taken");
    let err = update_entry(FILE, "nope", &draft, &identity()).expect_err("unknown");
    assert_eq!(err.code(), "unknown_provider");
    // An update the parser refuses.
    draft.issuer = Some("https://login.work.example/?tenant=x".into());
    let err = update_entry(FILE, "work", &draft, &identity()).expect_err("refused");
    assert_eq!(err.code(), "config_bad_url");
}

#[test]
fn a_removed_entry_takes_its_own_comment_and_leaves_the_file_header() {
    let (two, _) =
        add_entry(FILE, &oidc("home", "https://home.example"), &identity()).expect("added");
    let text = remove_entry(&two, "home").expect("removed");
    assert_eq!(
        text, FILE,
        "added then removed: the file as it was, byte for byte"
    );
    let text = remove_entry(FILE, "work").expect("removed");
    assert!(
        text.starts_with("# My providers. Hand-written; please keep this comment.\n"),
        "{text}"
    );
    assert!(!text.contains("The work one"), "{text}");
    assert!(ids(&text).is_empty());
    assert!(text.contains("[[git]]"));
    let err = remove_entry(FILE, "nope").expect_err("unknown");
    assert_eq!(err.code(), "unknown_provider");
}

#[test]
fn a_file_that_is_not_toml_or_not_tables_is_not_edited() {
    let draft = oidc("home", "https://home.example");
    let err = add_entry("[[provider]\nid = 1", &draft, &identity()).expect_err("syntax");
    assert_eq!(err.code(), "config_syntax");
    let err = add_entry("provider = []\n", &draft, &identity()).expect_err("inline");
    assert_eq!(err.code(), "config_layout");
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("latchkey-edit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_committed_plan_is_written_whole_and_a_stale_one_is_refused() {
    let dir = temp_dir("commit");
    let path = dir.join("config").join("providers.toml");
    let file = ProvidersFile::new(&path, identity());
    // The folder and the file are created.
    let plan = file
        .plan_add(&oidc("home", "https://home.example"))
        .expect("plan");
    assert!(!path.exists(), "planning writes nothing");
    file.commit(plan).expect("written");
    assert_eq!(
        ids(&std::fs::read_to_string(&path).expect("read")),
        ["home"]
    );
    // A plan made before a hand edit is not written over it.
    let plan = file.plan_remove("home").expect("plan");
    std::fs::write(&path, FILE).expect("hand edit");
    let err = file.commit(plan).expect_err("stale");
    assert_eq!(err.code(), "config_changed");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), FILE);
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["providers.toml"]);
    std::fs::remove_dir_all(&dir).ok();
}

#[cfg(unix)]
#[test]
fn a_write_keeps_the_file_mode_and_follows_a_symbolic_link() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir("mode");
    std::fs::create_dir_all(dir.join("dotfiles")).expect("dir");
    let real = dir.join("dotfiles").join("providers.toml");
    std::fs::write(&real, FILE).expect("write");
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let link = dir.join("providers.toml");
    std::os::unix::fs::symlink(&real, &link).expect("link");
    let file = ProvidersFile::new(&link, identity());
    let plan = file
        .plan_add(&oidc("home", "https://home.example"))
        .expect("plan");
    file.commit(plan).expect("written");
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("link")
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        ids(&std::fs::read_to_string(&real).expect("read")),
        ["work", "home"]
    );
    let mode = std::fs::metadata(&real).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    std::fs::remove_dir_all(&dir).ok();
}
