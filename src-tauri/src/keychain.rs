//! The keychain's status in the window, kept current: the probe at launch,
//! then every change of [`Vault::health`](latchkey_core::store::vault::Vault::health),
//! so the banner shows while keychain calls fail (say, after the keychain
//! daemon restarted) and goes once a call — or the recheck every
//! [`KEYCHAIN_RECHECK`] while calls fail — works again. The footer never says
//! "OK" while calls fail.

use std::sync::Arc;

use latchkey_core::ErrorCode;
use latchkey_core::config::identity::AppIdentity;
use latchkey_core::store::vault::{UnavailableStore, Vault, VaultError};
use latchkey_core::store::vault_choice::{
    PASSPHRASE_FILE_ENV, VaultKind, passphrase_file_from_env, read_passphrase_file,
};

use crate::dto::KeychainStatus;
use crate::error::UiError;
use crate::shell::Shell;

/// The vault `LATCHKEY_VAULT` chooses: the system keychain (unset or
/// `keychain`) or the encrypted file vault (`file`, its passphrase read from
/// `LATCHKEY_VAULT_PASSPHRASE_FILE`: the app does not prompt). When the
/// chosen vault cannot be opened, a vault whose every call says why (the
/// window's banner shows it): never another vault in its place.
pub fn open_vault(identity: &AppIdentity, data_dir: &std::path::Path) -> Vault {
    let failed = |kind: VaultKind, err: VaultError| {
        tracing::error!(vault = kind.as_str(), code = err.code(), error = %err, "vault unusable");
        Vault::new(Arc::new(UnavailableStore(err))).with_kind(kind)
    };
    match VaultKind::from_env() {
        Ok(None | Some(VaultKind::Keychain)) => Vault::platform_for(identity),
        Err(err) => failed(
            VaultKind::Keychain,
            VaultError::Unavailable {
                reason: err.to_string(),
            },
        ),
        Ok(Some(VaultKind::File)) => {
            let Some(file) = passphrase_file_from_env() else {
                return failed(
                    VaultKind::File,
                    VaultError::WrongPassphrase {
                        reason: format!(
                            "no passphrase: set {PASSPHRASE_FILE_ENV} to a file holding it \
                             (the app does not ask for it)"
                        ),
                    },
                );
            };
            let opened = read_passphrase_file(&file)
                .map_err(|err| VaultError::WrongPassphrase {
                    reason: err.to_string(),
                })
                .and_then(|passphrase| Vault::open_file(identity, data_dir, passphrase));
            match opened {
                Ok(vault) => {
                    tracing::info!(dir = %data_dir.display(), "using the encrypted file vault");
                    vault
                }
                Err(err) => failed(VaultKind::File, err),
            }
        }
    }
}

/// How often a failing keychain is probed again (see
/// [`Vault::recheck_while_failing`]): nothing is probed while calls work.
const KEYCHAIN_RECHECK: std::time::Duration = std::time::Duration::from_secs(10);

/// Probes the keychain, then follows its health for the life of the app,
/// probing it again while it fails so the banner goes as soon as it works.
pub fn watch_keychain(shell: &Arc<Shell>) {
    tauri::async_runtime::spawn(follow(Arc::clone(shell)));
    let vault = shell.core.vault().clone();
    tauri::async_runtime::spawn(async move { vault.recheck_while_failing(KEYCHAIN_RECHECK).await });
}

async fn follow(shell: Arc<Shell>) {
    // Subscribed before the probe: no change between the two is missed.
    let mut health = shell.core.vault().health();
    let started = std::time::Instant::now();
    let probe = shell.core.vault().check().await;
    let elapsed_ms = started.elapsed().as_millis();
    match &probe {
        Ok(()) => tracing::info!(elapsed_ms, "keychain usable"),
        Err(err) => {
            tracing::error!(code = err.code(), error = %err, elapsed_ms, "keychain unusable")
        }
    }
    // A later call may already have failed; a damaged probe item is not
    // recorded in the health but still means the keychain is not usable.
    let failing = health.borrow_and_update().clone();
    show(&shell, failing.as_ref().or(probe.as_ref().err()));
    while health.changed().await.is_ok() {
        let failing = health.borrow_and_update().clone();
        match &failing {
            Some(err) => tracing::warn!(code = err.code(), error = %err, "keychain calls fail"),
            None => tracing::info!("keychain calls work again"),
        }
        show(&shell, failing.as_ref());
    }
}

fn show(shell: &Shell, failing: Option<&VaultError>) {
    shell.update(|state| match failing {
        None => {
            state.keychain.status = KeychainStatus::Ok;
            state.keychain.error = None;
        }
        Some(err) => {
            state.keychain.status = KeychainStatus::Unavailable;
            state.keychain.error = Some(UiError::from_core(err));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    use latchkey_core::Latchkey;
    use latchkey_core::store::registry::Registry;
    use latchkey_core::store::vault::Vault;
    use latchkey_core::testing::FailingStore;

    async fn status_becomes(shell: &Shell, status: KeychainStatus) {
        for _ in 0..200 {
            if shell.snapshot().keychain.status == status {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!(
            "the keychain status stayed {:?}",
            shell.snapshot().keychain.status
        );
    }

    #[tokio::test]
    async fn the_banner_follows_keychain_calls_after_the_launch_probe() {
        // A keychain whose daemon can "restart" (every call fails) and come back.
        let store = FailingStore::new(
            VaultError::Platform {
                reason: "The session does not exist".into(),
            },
            false,
        );
        let vault = Vault::new(store.clone());
        let dir =
            std::env::temp_dir().join(format!("latchkey-app-keychain-{}", std::process::id()));
        let core = Arc::new(Latchkey::new(
            Arc::new(NoHttp),
            vault.clone(),
            Arc::new(latchkey_core::clock::SystemClock),
            Registry::in_dir(&dir),
            Vec::new(),
        ));
        let shell = Arc::new(Shell::new(core, None, Ok(Vec::new())));
        tokio::spawn(follow(Arc::clone(&shell)));
        status_becomes(&shell, KeychainStatus::Ok).await;
        // The daemon restarts: the next call fails, the banner shows.
        store.set_failing(true);
        assert!(vault.get("any").await.is_err());
        status_becomes(&shell, KeychainStatus::Unavailable).await;
        let error = shell.snapshot().keychain.error.expect("reason");
        assert_eq!(error.code, "keychain_error");
        assert!(
            error.message.contains("session does not exist"),
            "{}",
            error.message
        );
        // Once a call works again, it goes.
        store.set_failing(false);
        vault.get("any").await.expect("works again");
        status_becomes(&shell, KeychainStatus::Ok).await;
        assert!(shell.snapshot().keychain.error.is_none());
    }

    #[derive(Debug)]
    struct NoHttp;

    impl latchkey_core::http::HttpClient for NoHttp {
        fn execute(
            &self,
            _: latchkey_core::http::HttpRequest,
        ) -> latchkey_core::http::BoxFuture<
            '_,
            Result<latchkey_core::http::HttpResponse, latchkey_core::http::TransportError>,
        > {
            Box::pin(async {
                Err(latchkey_core::http::TransportError::Other {
                    host: String::new(),
                    reason: "no network in this test".into(),
                })
            })
        }
    }
}
