//! Commands of the window's Add / Edit / Remove provider: the catalogue, a
//! live check of a draft, saving it to the providers file (and its client
//! secret to the keychain), removing an entry. The core decides what a valid
//! entry is and edits the file; these only put the steps in order.
//!
//! A client secret travels one way: from the dialog's password field to the
//! keychain. No command returns it and none logs it; the window learns only
//! whether one is stored.

use std::sync::Arc;

use latchkey_core::config::preset::PRESETS;
use latchkey_core::config::provider::ProviderConfig;
use latchkey_core::config::provider_draft::ProviderDraft;
use latchkey_core::config::providers_edit::{Plan, ProvidersFile};
use latchkey_core::secret::SecretString;
use latchkey_core::{ErrorCode, Revocation};
use tauri::State;

use crate::dto::{CheckDto, NoticeLevel, PresetDto, ProviderDraftDto};
use crate::error::UiError;
use crate::shell::Shell;

fn ui<E: ErrorCode + std::error::Error + 'static>(err: E) -> UiError {
    UiError::from_core(&err)
}

/// The preset catalogue, in the order the dialog lists it.
#[tauri::command]
pub fn provider_presets() -> Vec<PresetDto> {
    PRESETS.iter().map(PresetDto::from).collect()
}

/// The values of a providers-file entry, to edit it.
#[tauri::command]
pub async fn provider_draft(
    shell: State<'_, Arc<Shell>>,
    id: String,
) -> Result<ProviderDraftDto, UiError> {
    let draft = shell.providers_file()?.draft(&id).map_err(ui)?;
    let client_secret_stored = shell.core.has_client_secret(&id).await.unwrap_or(false);
    Ok(ProviderDraftDto {
        draft,
        client_secret_stored,
    })
}

/// The edit a draft makes: a new entry, or `replace`'s entry changed.
fn plan(
    file: &ProvidersFile,
    draft: &ProviderDraft,
    replace: Option<&str>,
) -> Result<(Plan, ProviderConfig), UiError> {
    let plan = match replace {
        Some(id) => file.plan_update(id, draft),
        None => file.plan_add(draft),
    }
    .map_err(ui)?;
    let config = plan
        .config()
        .cloned()
        .ok_or_else(|| UiError::new("internal", "the edit has no provider"))?;
    Ok((plan, config))
}

/// Validates the draft as the providers file would read it, then checks it
/// against the live provider. Writes nothing.
async fn checked(
    shell: &Shell,
    draft: &ProviderDraft,
    replace: Option<&str>,
) -> Result<(Plan, ProviderConfig, CheckDto), UiError> {
    let file = shell.providers_file()?;
    let (plan, config) = plan(&file, draft, replace)?;
    let metadata = shell
        .core
        .check_provider_config(&config)
        .await
        .map_err(|err| {
            tracing::info!(provider = %config.id, code = err.code(), error = %err, "provider check failed");
            ui(err)
        })?;
    let found = CheckDto {
        id: config.id.to_string(),
        issuer: metadata.issuer.clone(),
        discovery: config.discovery,
        authorization_endpoint: metadata.authorization_endpoint.to_string(),
        redirect_uri: config
            .redirect_uri_for(metadata.authorization_response_iss_parameter_supported)
            .to_string(),
        client_secret: config.client_secret,
    };
    Ok((plan, config, found))
}

/// "Check": the draft is valid and the provider answers as configured.
#[tauri::command]
pub async fn check_provider(
    shell: State<'_, Arc<Shell>>,
    draft: ProviderDraft,
    replace: Option<String>,
) -> Result<CheckDto, UiError> {
    Ok(checked(&shell, &draft, replace.as_deref()).await?.2)
}

/// "Save": checks again, writes the providers file, stores the client
/// secret (when the preset uses one) in the keychain, and makes the
/// provider usable at once.
#[tauri::command]
pub async fn save_provider(
    shell: State<'_, Arc<Shell>>,
    draft: ProviderDraft,
    client_secret: Option<String>,
    replace: Option<String>,
) -> Result<CheckDto, UiError> {
    let secret = client_secret
        .filter(|s| !s.trim().is_empty())
        .map(|s| SecretString::new(s.trim().to_owned()));
    let (plan, config, found) = checked(&shell, &draft, replace.as_deref()).await?;
    let id = config.id.to_string();
    if config.client_secret
        && secret.is_none()
        && !shell.core.has_client_secret(&id).await.unwrap_or(false)
    {
        return Err(UiError::new(
            "client_secret_required",
            format!(
                "{} needs its client secret: enter it (it is kept in the keychain, never in the providers file)",
                config.name
            ),
        ));
    }
    shell.providers_file()?.commit(plan).map_err(ui)?;
    if let (true, Some(secret)) = (config.client_secret, secret) {
        shell
            .core
            .set_client_secret(&id, secret)
            .await
            .map_err(|err| {
                tracing::error!(provider = %id, code = err.code(), "client secret not stored");
                UiError::new(
                    err.code(),
                    format!(
                        "{} was saved, but its client secret could not be stored in the keychain: {}",
                        config.name,
                        latchkey_core::error::report(&err)
                    ),
                )
            })?;
    }
    if let Some(old) = replace.as_deref().filter(|old| *old != id) {
        // Renamed: the old id's secret is not anyone's any more.
        let _ = shell.core.delete_client_secret(old).await;
    }
    shell.reload_providers();
    // Just checked: this only records it reachable (and caches the metadata).
    shell.core.check_provider(&id).await;
    shell.show_providers();
    let verb = if replace.is_some() { "Saved" } else { "Added" };
    tracing::info!(provider = %id, preset = %config.preset, "provider saved");
    shell.notify(
        NoticeLevel::Info,
        "provider_saved",
        format!("{verb} {}.", config.name),
    );
    Ok(found)
}

/// "Remove": signs out the provider's accounts first when asked, removes
/// its entry and its client secret.
#[tauri::command]
pub async fn remove_provider(
    shell: State<'_, Arc<Shell>>,
    id: String,
    sign_out_accounts: bool,
) -> Result<(), UiError> {
    let file = shell.providers_file()?;
    // Refused before anything happens when the entry is not there.
    let plan = file.plan_remove(&id).map_err(ui)?;
    let name = shell.provider_name(&id);
    if sign_out_accounts {
        let book = shell.core.accounts().map_err(ui)?;
        for account in book.accounts.iter().filter(|a| a.provider_id == id) {
            // Revocation needs the provider: before its entry goes.
            let report = shell.core.sign_out(&account.id).await.map_err(ui)?;
            if let Revocation::Failed { reason } = report.revocation {
                shell.notify(
                    NoticeLevel::Warning,
                    "signed_out_locally",
                    format!(
                        "Signed out {} on this computer, but the provider could not be told ({reason}).",
                        report.who
                    ),
                );
            }
        }
    }
    file.commit(plan).map_err(ui)?;
    if let Err(err) = shell.core.delete_client_secret(&id).await {
        tracing::warn!(provider = %id, code = err.code(), "client secret not deleted");
    }
    shell.reload_providers();
    shell.reload_accounts().await;
    tracing::info!(provider = %id, sign_out_accounts, "provider removed");
    shell.notify(
        NoticeLevel::Info,
        "provider_removed",
        format!("Removed {name}."),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::Latchkey;
    use latchkey_core::config::provider::load_providers_for;
    use latchkey_core::http::{BoxFuture, HttpClient, HttpRequest, HttpResponse, TransportError};
    use latchkey_core::store::registry::Registry;
    use latchkey_core::store::vault::{KeyringStore, Vault};

    const ISSUER: &str = "https://id.example";

    /// Serves a discovery document naming `ISSUER` at every path.
    #[derive(Debug)]
    struct Discovery;

    impl HttpClient for Discovery {
        fn execute(&self, _: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
            let body = serde_json::json!({
                "issuer": ISSUER,
                "authorization_endpoint": format!("{ISSUER}/auth"),
                "token_endpoint": format!("{ISSUER}/token"),
                "jwks_uri": format!("{ISSUER}/jwks"),
            });
            Box::pin(async move { Ok(HttpResponse::new(body.to_string().into_bytes())) })
        }
    }

    fn draft(id: &str, issuer: &str) -> ProviderDraft {
        ProviderDraft {
            id: id.into(),
            client_id: "c".into(),
            issuer: Some(issuer.into()),
            ..ProviderDraft::default()
        }
    }

    #[tokio::test]
    async fn a_checked_draft_is_written_and_reloaded_and_a_failing_one_writes_nothing() {
        let dir = std::env::temp_dir().join(format!("latchkey-app-addprov-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("providers.toml");
        let original = "# mine\n[[provider]]\nid = \"p\"\nissuer = \"https://id.example\"\nclient_id = \"c\"\n";
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(&path, original).expect("write");
        let identity = latchkey_core::AppIdentity::latchkey();
        let entries = load_providers_for(&path, &identity).expect("loads");
        let configs = entries
            .iter()
            .filter_map(|e| e.config.as_ref().ok().cloned())
            .collect();
        let core = Arc::new(Latchkey::new(
            Arc::new(Discovery),
            Vault::new(Arc::new(KeyringStore::in_memory("app-addprov-test"))),
            Arc::new(latchkey_core::clock::SystemClock),
            Registry::in_dir(&dir),
            configs,
        ));
        let shell = Shell::new(Arc::clone(&core), Some(path.clone()), Ok(entries));

        // The provider names another issuer: the check fails, nothing is written.
        let err = checked(&shell, &draft("other", "https://other.example"), None)
            .await
            .expect_err("issuer mismatch");
        assert_eq!(err.code, "issuer_mismatch");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), original);

        // Its own issuer: written, then the core and the window have it.
        let (plan, config, found) = checked(&shell, &draft("second", ISSUER), None)
            .await
            .expect("checks");
        assert_eq!(found.redirect_uri, "dev.latchkey:/oauth/callback/second");
        assert!(core.provider("second").is_none(), "not before it is saved");
        shell
            .providers_file()
            .expect("file")
            .commit(plan)
            .expect("written");
        shell.reload_providers();
        assert_eq!(core.provider("second"), Some(config));
        let listed: Vec<String> = shell
            .snapshot()
            .providers
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(listed, ["p", "second"]);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.starts_with(original), "{text}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
