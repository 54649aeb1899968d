//! The grant of an account: what keeps it (a rotated token is stored, or
//! kept in memory) and what ends it — only `invalid_grant`, or an ID token
//! validly signed by the provider that proves another identity (revoked
//! first). Every other failure keeps the refresh token: see [`Failure`].

use std::time::{Duration, SystemTime};

use crate::account_slot::AccountWriter;
use crate::accounts::AccountId;
use crate::discovery::ProviderMetadata;
use crate::error::ErrorCode;
use crate::id_token::IdTokenError;
use crate::provider::ProviderConfig;
use crate::secret::SecretString;
use crate::session::latchkey::Latchkey;
use crate::session::refresh::RefreshError;
use crate::token::{Failure, TokenError, revoke};

impl Latchkey {
    /// What a failed token request means (see [`Failure`]); only
    /// `invalid_grant` ends the grant.
    pub(crate) async fn token_failed(
        &self,
        writer: &AccountWriter,
        id: &AccountId,
        err: &TokenError,
    ) -> RefreshError {
        match err.failure() {
            Failure::GrantDead => {
                self.grant_dead(writer, id, &err.to_string(), "invalid_grant")
                    .await
            }
            Failure::Refused => {
                tracing::warn!(account = %id, code = err.code(), error = %err, "the provider refused the refresh; the refresh token is kept");
                RefreshError::Refused {
                    reason: err.to_string(),
                    code: err.code(),
                }
            }
            Failure::Transient => {
                tracing::info!(account = %id, code = err.code(), error = %err, "refresh failed; will retry");
                RefreshError::Transient {
                    reason: err.to_string(),
                    code: err.code(),
                    retry_after: err.retry_after(),
                }
            }
        }
    }

    /// A refreshed ID token failed a check that proves nothing about the
    /// grant: the (stored) refresh token is kept.
    pub(crate) fn id_token_failed(
        &self,
        id: &AccountId,
        err: &IdTokenError,
        server_date: Option<SystemTime>,
    ) -> RefreshError {
        tracing::warn!(account = %id, code = err.code(), error = %err, "the refreshed ID token was not accepted; the refresh token is kept");
        match err {
            IdTokenError::Jwks { .. } | IdTokenError::JwksTransport(_) => {
                RefreshError::transient(err)
            }
            IdTokenError::Expired | IdTokenError::IssuedInFuture => RefreshError::Transient {
                reason: clock_skew_text(self.clock.now(), server_date)
                    .unwrap_or_else(|| err.to_string()),
                code: "clock_skew",
                retry_after: None,
            },
            _ => RefreshError::Refused {
                reason: err.to_string(),
                code: err.code(),
            },
        }
    }

    /// Revokes a refresh token at the provider, if it has an endpoint (best
    /// effort: a grant is ended here anyway).
    pub(crate) async fn revoke_quietly(
        &self,
        metadata: &ProviderMetadata,
        provider: &ProviderConfig,
        token: &SecretString,
    ) {
        let Some(endpoint) = &metadata.revocation_endpoint else {
            return;
        };
        if let Err(err) = revoke(
            self.http.as_ref(),
            endpoint,
            &provider.client_id,
            token,
            "refresh_token",
        )
        .await
        {
            tracing::warn!(code = err.code(), error = %err, "a refresh token could not be revoked");
        }
    }

    pub(crate) async fn store_rotated(
        &self,
        writer: &AccountWriter,
        id: &AccountId,
        secret: &crate::account_secret::AccountSecret,
    ) -> Result<(), RefreshError> {
        let mut last = None;
        for attempt in 0..3u32 {
            match self.write_secret(id, secret).await {
                Ok(()) => {
                    writer.clear_unsaved();
                    return Ok(());
                }
                Err(err) => {
                    tracing::warn!(account = %id, attempt, code = err.code(), "could not store the rotated refresh token");
                    last = Some(err);
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt + 1))).await;
                }
            }
        }
        // Keep it for the next attempt: the provider has retired the old one.
        if let Some(token) = &secret.refresh_token {
            writer.keep_unsaved(token.clone());
        }
        Err(last.map_or_else(
            || RefreshError::Transient {
                reason: "keychain".into(),
                code: "keychain_error",
                retry_after: None,
            },
            RefreshError::Vault,
        ))
    }

    /// The grant is dead: delete the token, keep the metadata, mark "needs sign-in".
    pub(crate) async fn grant_dead(
        &self,
        writer: &AccountWriter,
        id: &AccountId,
        reason: &str,
        code: &'static str,
    ) -> RefreshError {
        tracing::warn!(account = %id, code, reason, "the grant has ended: the account needs sign-in");
        writer.clear_unsaved();
        if let Err(err) = self.vault.delete(id.as_str()).await {
            tracing::warn!(account = %id, code = err.code(), "could not delete the dead refresh token");
        }
        if let Err(err) = self.mark_needs_sign_in(id) {
            tracing::warn!(account = %id, code = err.code(), "could not mark the account");
        }
        RefreshError::NeedsSignIn {
            reason: reason.to_owned(),
            code,
        }
    }
}

/// "Your clock is N minutes off", when the provider's `Date` shows it.
fn clock_skew_text(now: SystemTime, server_date: Option<SystemTime>) -> Option<String> {
    let server = server_date?;
    let (ahead, by) = match now.duration_since(server) {
        Ok(by) => (true, by),
        Err(behind) => (false, behind.duration()),
    };
    if by < Duration::from_secs(90) {
        return None;
    }
    let minutes = (by.as_secs() + 30) / 60;
    Some(format!(
        "this computer's clock is {minutes} minute{} {} the provider's; set the clock right (automatic time) and Latchkey will retry",
        if minutes == 1 { "" } else { "s" },
        if ahead { "ahead of" } else { "behind" }
    ))
}
