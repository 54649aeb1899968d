//! Managing accounts: labels, the default account, re-authentication, sign
//! out (RFC 7009 revocation + keychain delete) and the startup reconciliation
//! between the registry and the keychain.

use crate::accounts::{AccountId, AccountStatus, RegistryError};
use crate::authorize::{AuthorizeError, PendingSummary, SignInOptions};
use crate::error::ErrorCode;
use crate::session::latchkey::{Latchkey, lock};
use crate::token::revoke;
use crate::vault::VaultError;

/// Longest label, in characters.
pub const MAX_LABEL_CHARS: usize = 64;

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManageError {
    /// No account has this id.
    #[error("there is no account {id}")]
    UnknownAccount {
        /// The account id that was asked for.
        id: String,
    },
    /// The registry failed.
    #[error("{0}")]
    Registry(#[from] RegistryError),
    /// The keychain failed; nothing was changed.
    #[error("{0}; nothing was changed")]
    Vault(#[from] VaultError),
    /// Re-authentication could not start.
    #[error("{0}")]
    Begin(#[from] AuthorizeError),
    /// Another Latchkey process kept the account busy for too long.
    #[error("the account is busy in another Latchkey process ({reason}); nothing was changed")]
    Busy {
        /// Why the lock was not taken (the lock error, in words).
        reason: String,
    },
}

impl From<crate::file_lock::LockError> for ManageError {
    fn from(err: crate::file_lock::LockError) -> Self {
        Self::Busy {
            reason: err.to_string(),
        }
    }
}

impl ErrorCode for ManageError {
    fn code(&self) -> &'static str {
        match self {
            Self::UnknownAccount { .. } => "unknown_account",
            Self::Registry(err) => err.code(),
            Self::Vault(err) => err.code(),
            Self::Begin(err) => err.code(),
            Self::Busy { .. } => "lock_timeout",
        }
    }
}

/// What happened at the provider when signing out.
#[derive(Debug)]
pub enum Revocation {
    /// The refresh token was revoked (RFC 7009).
    Revoked,
    /// There was no token to revoke (the account already needed sign-in).
    NothingToRevoke,
    /// The provider could not be told; the account was removed locally anyway.
    Failed {
        /// Why the provider could not be told, in words for a person (never a secret).
        reason: String,
    },
}

/// The outcome of a sign-out.
#[derive(Debug)]
pub struct SignOutReport {
    /// The removed account's display name (email or name).
    pub who: String,
    /// Revocation outcome.
    pub revocation: Revocation,
}

impl Latchkey {
    fn check_exists(&self, id: &AccountId) -> Result<crate::accounts::Account, ManageError> {
        self.registry
            .load()?
            .get(id)
            .cloned()
            .ok_or_else(|| ManageError::UnknownAccount { id: id.to_string() })
    }

    /// Sets (or clears, with `None` or blank) an account's label.
    pub fn rename(&self, id: &AccountId, label: Option<&str>) -> Result<(), ManageError> {
        self.check_exists(id)?;
        let label = label
            .map(|l| {
                l.trim()
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(MAX_LABEL_CHARS)
                    .collect::<String>()
            })
            .filter(|l| !l.is_empty());
        self.registry.update(|book| {
            if let Some(account) = book.get_mut(id) {
                account.label = label;
            }
        })?;
        Ok(())
    }

    /// Makes an account the default one.
    pub fn make_default(&self, id: &AccountId) -> Result<(), ManageError> {
        self.check_exists(id)?;
        self.registry
            .update(|book| book.default = Some(id.clone()))?;
        tracing::info!(account = %id, "default account changed");
        Ok(())
    }

    /// Marks an account as needing sign-in (its refresh token is gone or refused).
    pub fn mark_needs_sign_in(&self, id: &AccountId) -> Result<(), ManageError> {
        self.registry.update(|book| {
            if let Some(account) = book.get_mut(id) {
                account.status = AccountStatus::NeedsSignIn;
            }
        })?;
        lock(&self.access_tokens).remove(id);
        Ok(())
    }

    /// Starts signing in again to an account: `login_hint` with its email
    /// (or `sub`) and `prompt=login` (plus `consent` for offline access).
    /// Signing in as someone else adds that account and leaves this one as it is.
    pub async fn reauthenticate(
        self: &std::sync::Arc<Self>,
        id: &AccountId,
    ) -> Result<PendingSummary, ManageError> {
        let account = self.check_exists(id)?;
        let metadata = self.metadata(&account.provider_id).await?;
        let provider =
            self.provider(&account.provider_id)
                .ok_or_else(|| AuthorizeError::UnknownProvider {
                    id: account.provider_id.clone(),
                })?;
        let supports_login = metadata
            .prompt_values_supported
            .as_ref()
            .is_none_or(|values| values.iter().any(|v| v == "login"));
        let mut prompt: Vec<&str> = Vec::new();
        if supports_login {
            prompt.push("login");
        }
        if provider.scopes.iter().any(|s| s == "offline_access") {
            prompt.push("consent");
        }
        let options = SignInOptions {
            login_hint: Some(
                account
                    .email
                    .clone()
                    .unwrap_or_else(|| account.subject.clone()),
            ),
            prompt: (!prompt.is_empty()).then(|| prompt.join(" ")),
            reauth_of: Some(id.to_string()),
        };
        Ok(self.begin(&account.provider_id, &options).await?)
    }

    /// Signs an account out: revokes its refresh token at the provider
    /// (RFC 7009), then deletes the keychain item and the metadata. When the
    /// provider cannot be told (offline), the account is still removed locally
    /// and the report says so. If the keychain fails, nothing is removed.
    ///
    /// Holds the account's writer: a refresh running now finishes first, and
    /// its rotated token is the one revoked, so no live token survives.
    pub async fn sign_out(&self, id: &AccountId) -> Result<SignOutReport, ManageError> {
        self.check_exists(id)?;
        let writer = self.writer(id).await?;
        let account = self.check_exists(id)?;
        let token = match self.live_refresh_token(id).await {
            Ok(token) => token,
            Err(VaultError::Corrupt { .. }) => None,
            Err(err) => return Err(err.into()),
        };
        let revocation = match token {
            None => Revocation::NothingToRevoke,
            Some(token) => self.revoke_at_provider(&account.provider_id, &token).await,
        };
        self.vault.delete(id.as_str()).await?;
        writer.clear_unsaved();
        self.registry.update(|book| book.remove(id))?;
        lock(&self.access_tokens).remove(id);
        drop(writer);
        // A lifecycle waiting for "Retry now" (refused) sees the account is gone and ends.
        self.retry_now(id);
        match &revocation {
            Revocation::Failed { reason } => {
                tracing::warn!(account = %id, reason = %reason, "signed out locally; the provider could not be told");
            }
            _ => tracing::info!(account = %id, "signed out"),
        }
        Ok(SignOutReport {
            who: account.email.or(account.name).unwrap_or(account.subject),
            revocation,
        })
    }

    async fn revoke_at_provider(
        &self,
        provider_id: &str,
        token: &crate::secret::SecretString,
    ) -> Revocation {
        let Some(provider) = self.provider(provider_id) else {
            return Revocation::Failed {
                reason: format!("the provider {provider_id:?} is no longer configured"),
            };
        };
        let metadata = match self.metadata(provider_id).await {
            Ok(metadata) => metadata,
            Err(err) => {
                return Revocation::Failed {
                    reason: err.to_string(),
                };
            }
        };
        let Some(endpoint) = metadata.revocation_endpoint else {
            return Revocation::Failed {
                reason: "the provider offers no revocation endpoint".into(),
            };
        };
        match revoke(
            self.http.as_ref(),
            &endpoint,
            &provider.client_id,
            token,
            "refresh_token",
        )
        .await
        {
            Ok(()) => Revocation::Revoked,
            Err(err) => Revocation::Failed {
                reason: err.to_string(),
            },
        }
    }
}

#[cfg(test)]
#[path = "accounts_tests.rs"]
mod tests;
