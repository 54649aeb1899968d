//! Client secrets that some providers demand even of a native app
//! (Google's "Desktop app" clients, GitHub's web flow). They are not secret
//! in the RFC 6749 §2.1 sense — anyone with the app can read them — but a
//! person's client secret still stays out of files, logs and the webview:
//! it lives in the keychain next to the accounts, under
//! [`client_secret_key`], and travels only to the token endpoint.

use crate::provider::client_secret_key;
use crate::secret::SecretString;
use crate::session::latchkey::Latchkey;
use crate::vault::VaultError;

impl Latchkey {
    /// Stores a provider's client secret in the keychain (replacing one).
    pub async fn set_client_secret(
        &self,
        provider_id: &str,
        secret: SecretString,
    ) -> Result<(), VaultError> {
        self.vault
            .set(&client_secret_key(provider_id), secret)
            .await
    }

    /// Removes a provider's client secret (idempotent).
    pub async fn delete_client_secret(&self, provider_id: &str) -> Result<(), VaultError> {
        self.vault.delete(&client_secret_key(provider_id)).await
    }

    /// Whether a client secret is stored for the provider.
    pub async fn has_client_secret(&self, provider_id: &str) -> Result<bool, VaultError> {
        Ok(self.client_secret(provider_id).await?.is_some())
    }

    /// The provider's client secret, if one is stored.
    pub(crate) async fn client_secret(
        &self,
        provider_id: &str,
    ) -> Result<Option<SecretString>, VaultError> {
        self.vault.get(&client_secret_key(provider_id)).await
    }

    /// The secret a token request of this provider needs: `Ok(None)` for a
    /// provider without one; an error that says what to do when it is missing.
    pub(crate) async fn required_client_secret(
        &self,
        provider_id: &str,
        needs_secret: bool,
    ) -> Result<Option<SecretString>, MissingClientSecret> {
        if !needs_secret {
            return Ok(None);
        }
        match self.client_secret(provider_id).await {
            Ok(Some(secret)) => Ok(Some(secret)),
            Ok(None) => Err(MissingClientSecret::NotStored {
                provider_id: provider_id.to_owned(),
            }),
            Err(err) => Err(MissingClientSecret::Vault(err)),
        }
    }
}

/// Why a provider's client secret is not available.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MissingClientSecret {
    /// None is stored.
    #[error(
        "the provider {provider_id:?} needs its client secret, and none is stored: add it in the window (Providers → Edit) or run `latchkey client-secret {provider_id}`"
    )]
    NotStored { provider_id: String },
    /// The keychain failed.
    #[error("{0}")]
    Vault(VaultError),
}
