//! The operating system's keychain, chosen at build time: the Secret Service
//! on Linux (run and tested here), the macOS login keychain and the Windows
//! Credential Manager (written from the store crates' documentation and
//! source; **not compiled or run on those systems here** — the CI jobs on
//! macOS and Windows build them and run the `#[ignore]`d smoke test
//! `tests/real_keychain.rs`).
//!
//! Every platform keeps the same item layout: one generic item per key, named
//! by the pair (service = the app's identifier, user = the key), long secrets
//! split into parts of at most [`CHUNK_CHARS`](super::chunking::CHUNK_CHARS)
//! characters (`key`, `key.part1`, …).
//!
//! | | store crate | item | size limit per item |
//! |---|---|---|---|
//! | Linux | dbus-secret-service-keyring-store | Secret Service item, attributes `service`, `username` | none in practice |
//! | macOS | apple-native-keyring-store (`keychain`) | generic password in the login keychain, `svce` = service, `acct` = key | see below |
//! | Windows | windows-native-keyring-store | generic credential, target name `key@service` | 2,560 bytes (`CRED_MAX_CREDENTIAL_BLOB_SIZE`), stored as UTF-16 |
//!
//! **Windows**: a part of 1,200 characters is at most 2,400 bytes of UTF-16
//! when every character is in the Basic Multilingual Plane (our secrets are
//! JSON around ASCII tokens); the store refuses a larger blob with `TooLong`
//! instead of truncating it. The store is configured with `@` between key and
//! service (the crate's default `.` also occurs in `dev.latchkey.app` and in
//! `acct-….part1`, so a search could not split the target name back into
//! service and key) and `service_no_divider`, so the split is unambiguous.
//! Credentials get the crate's default persistence, `Enterprise` (they roam
//! with a domain profile).
//!
//! **macOS**: kubelogin #1255 ("data passed to Set was too big") is
//! go-keyring's own `ErrSetDataTooBig`: go-keyring drives
//! `/usr/bin/security -i`, whose input line is limited to 4,096 bytes. The
//! apple-native-keyring-store crate calls Keychain Services
//! (`SecKeychainAddGenericPassword` / `SecItem*` through security-framework)
//! directly, which documents no such cap, so that limit does not apply here;
//! and a 1,200-character part is 1,200 bytes for ASCII (≤ 4,800 bytes of UTF-8
//! at worst) in any case. Not measured here. The legacy (file-based) login
//! keychain is used, not the data-protection keychain, which needs a signed
//! app with a keychain-access-groups entitlement. Its items trust the app that
//! created them: the `latchkey` command reading an item the app wrote (or the
//! other way round) makes macOS ask the person once ("Always Allow").

use std::sync::Arc;

use keyring_core::CredentialStore;

use super::secret_store::VaultError;

/// How [`KeyringStore::list_keys`](super::secret_store::KeyringStore) asks
/// a store for one service's items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServiceSearch {
    /// A `service` search attribute (Secret Service, macOS, the in-memory store).
    Attribute,
    /// A `pattern` matched against target names `key@service` (Windows).
    #[cfg(target_os = "windows")]
    TargetName,
}

/// Between key and service in Windows target names.
#[cfg(any(target_os = "windows", test))]
const WINDOWS_DIVIDER: &str = "@";

/// The search spec that finds the items of `service` in a store searched the `how` way.
pub(crate) fn search_spec(how: ServiceSearch, service: &str) -> Vec<(&'static str, String)> {
    match how {
        ServiceSearch::Attribute => vec![("service", service.to_owned())],
        #[cfg(target_os = "windows")]
        ServiceSearch::TargetName => vec![("pattern", target_name_pattern(service))],
    }
}

/// The regular expression matching target names `…@<service>`.
#[cfg(any(target_os = "windows", test))]
fn target_name_pattern(service: &str) -> String {
    let mut pattern = String::from(WINDOWS_DIVIDER);
    for c in service.chars() {
        // The characters regex treats as meta characters (regex::escape's set).
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('$');
    pattern
}

/// Secret Service through D-Bus (gnome-keyring, KWallet, KeePassXC).
#[cfg(target_os = "linux")]
pub(crate) fn platform_store() -> Result<(Arc<CredentialStore>, ServiceSearch), VaultError> {
    let store = dbus_secret_service_keyring_store::Store::new().map_err(|err| {
        match VaultError::from(err) {
            VaultError::Platform { reason } => VaultError::Unavailable { reason },
            other => other,
        }
    })?;
    Ok((store, ServiceSearch::Attribute))
}

/// Who serves the Secret Service right now: the unique bus name that owns
/// `org.freedesktop.secrets` (it changes when the daemon is replaced), or
/// `None` when the session bus cannot tell. One short-lived bus connection;
/// asked when a store is opened and when a keychain call is stuck (see
/// `store::reconnecting`).
#[cfg(target_os = "linux")]
pub(crate) fn keychain_daemon() -> Option<String> {
    let bus = dbus::blocking::Connection::new_session().ok()?;
    let proxy = bus.with_proxy(
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        std::time::Duration::from_secs(1),
    );
    let (owner,): (String,) = proxy
        .method_call(
            "org.freedesktop.DBus",
            "GetNameOwner",
            ("org.freedesktop.secrets",),
        )
        .ok()?;
    Some(owner)
}

/// Keychain Services and the Credential Manager are no replaceable daemon
/// behind one session: nothing to tell apart.
#[cfg(not(target_os = "linux"))]
pub(crate) fn keychain_daemon() -> Option<String> {
    None
}

/// The login keychain (untested here: see the module docs).
#[cfg(target_os = "macos")]
pub(crate) fn platform_store() -> Result<(Arc<CredentialStore>, ServiceSearch), VaultError> {
    let store = apple_native_keyring_store::keychain::Store::new().map_err(VaultError::from)?;
    Ok((store, ServiceSearch::Attribute))
}

/// The Credential Manager (untested here: see the module docs).
#[cfg(target_os = "windows")]
pub(crate) fn platform_store() -> Result<(Arc<CredentialStore>, ServiceSearch), VaultError> {
    let config = std::collections::HashMap::from([
        ("divider", WINDOWS_DIVIDER),
        ("service_no_divider", "true"),
    ]);
    let store = windows_native_keyring_store::Store::new_with_configuration(&config)
        .map_err(VaultError::from)?;
    Ok((store, ServiceSearch::TargetName))
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
pub(crate) fn platform_store() -> Result<(Arc<CredentialStore>, ServiceSearch), VaultError> {
    Err(VaultError::Unavailable {
        reason: "this build of Latchkey has no keychain support for this platform".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_target_names_are_matched_by_service_suffix() {
        assert_eq!(
            target_name_pattern("dev.latchkey.app"),
            r"@dev\.latchkey\.app$"
        );
        assert_eq!(
            target_name_pattern("com.example-app"),
            r"@com\.example\-app$"
        );
    }

    #[test]
    fn attribute_search_names_the_service() {
        assert_eq!(
            search_spec(ServiceSearch::Attribute, "dev.latchkey.app"),
            vec![("service", "dev.latchkey.app".to_owned())]
        );
    }
}
