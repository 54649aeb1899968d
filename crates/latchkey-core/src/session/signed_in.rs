//! A completed sign-in, whatever grant produced it (the authorization code
//! of a redirect, or the device grant): the token response checked into an
//! identity, then the account stored under its writer — refresh token, then
//! metadata, so a failure leaves nothing half-stored — and the grant it
//! replaced revoked.

use std::time::Instant;

use url::Url;

use crate::accounts::{Account, AccountId, new_account};
use crate::authorize::{Endpoints, PendingHandle};
use crate::clock::Clock;
use crate::error::ErrorCode;
use crate::flow::tenant_issuer::expected_issuer;
use crate::flow::user_endpoint::identify_by_user_endpoint;
use crate::http::HttpClient;
use crate::id_token::{Expectations, IdTokenError, Identity, complete_from_userinfo, verify};
use crate::secret::SecretString;
use crate::session::latchkey::{AccessToken, Latchkey, lock};
use crate::session::sign_in::CompleteError;
use crate::token::{TokenSet, revoke};

/// Whether a failed save kept the new refresh token in the keychain.
pub(crate) enum Kept {
    Yes,
    No,
}

/// How long each step of completing a sign-in took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Token endpoint round trip (ms).
    pub exchange_ms: u64,
    /// ID token validation incl. JWKS fetch (ms).
    pub id_token_ms: u64,
    /// Keychain write (ms).
    pub keychain_ms: u64,
    /// Link arrival to account stored (ms).
    pub total_ms: u64,
}

/// A completed sign-in.
#[derive(Debug)]
pub struct SignedIn {
    /// The stored account.
    pub account: Account,
    /// Whether the account existed already (signed in again).
    pub replaced: bool,
    /// For a sign-in again: whether the replaced refresh token was revoked.
    pub old_token_revoked: Option<bool>,
    /// A re-authentication that signed in as a *different* account: the
    /// account it was meant for (left as it was).
    pub reauth_of: Option<AccountId>,
    /// The handle of the pending sign-in this completed (now gone).
    pub handle: PendingHandle,
    /// Step timings.
    pub timings: Timings,
}

pub(crate) struct Exchanged {
    pub(crate) identity: Identity,
    pub(crate) refresh_token: Option<SecretString>,
    pub(crate) access: AccessToken,
    pub(crate) scopes: Vec<String>,
    pub(crate) exchange_ms: u64,
    pub(crate) id_token_ms: u64,
    /// Whether an access token without expiry or refresh token is kept as
    /// the grant (a non-OIDC provider's: GitHub OAuth Apps).
    pub(crate) non_expiring_allowed: bool,
}

impl Exchanged {
    /// The checked token response: `asked` scopes unless the response
    /// names others; `ms` is (exchange, identity check).
    fn of(
        identity: Identity,
        tokens: TokenSet,
        asked: Vec<String>,
        (exchange_ms, id_token_ms): (u64, u64),
        non_expiring_allowed: bool,
    ) -> Self {
        Self {
            identity,
            refresh_token: tokens.refresh_token,
            access: AccessToken {
                token: tokens.access_token,
                expires_at: tokens.expires_at,
            },
            scopes: tokens.scopes.unwrap_or(asked),
            exchange_ms,
            id_token_ms,
            non_expiring_allowed,
        }
    }
}

pub(crate) fn ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Who a sign-in was for, to finish it.
pub(crate) struct Finish {
    pub(crate) provider_id: String,
    pub(crate) provider_name: String,
    pub(crate) client_id: String,
    pub(crate) revocation_endpoint: Option<Url>,
    pub(crate) reauth_of: Option<AccountId>,
    pub(crate) handle: PendingHandle,
    pub(crate) arrived: Instant,
}

/// What a token response is checked against.
pub(crate) struct Issued<'a> {
    /// The provider's display name (for errors).
    pub(crate) provider_name: &'a str,
    /// Its endpoints.
    pub(crate) endpoints: &'a Endpoints,
    /// Our client id.
    pub(crate) client_id: &'a str,
    /// The request's nonce (`None` for a grant without one: the device grant).
    pub(crate) nonce: Option<&'a SecretString>,
    /// The scopes asked for (granted unless the response says otherwise).
    pub(crate) scopes: Vec<String>,
}

/// Checks a sign-in's token response into the identity it proves: the ID
/// token (signature, `iss`, `aud`, `exp`, `iat`, `nonce`), then display
/// fields from UserInfo when the ID token lacks them. A refused ID token's
/// fresh grant is revoked at the provider.
pub(crate) async fn identify(
    tokens: TokenSet,
    issued: Issued<'_>,
    http: &dyn HttpClient,
    clock: &dyn Clock,
    exchange_ms: u64,
) -> Result<Exchanged, CompleteError> {
    let started = Instant::now();
    let id_error = |source| CompleteError::IdToken {
        provider_name: issued.provider_name.to_owned(),
        source,
    };
    if issued.endpoints.user_endpoint_identity {
        // No ID token: the user endpoint names the account.
        let endpoint = issued.endpoints.userinfo_endpoint.as_ref().ok_or_else(|| {
            id_error(IdTokenError::UserInfo {
                reason: "the provider has no user endpoint".into(),
            })
        })?;
        let identity = identify_by_user_endpoint(
            http,
            endpoint,
            &tokens.access_token,
            &issued.endpoints.issuer,
        )
        .await
        .map_err(id_error)?;
        // No OpenID Connect: a token that never expires may be the grant.
        return Ok(Exchanged::of(
            identity,
            tokens,
            issued.scopes,
            (exchange_ms, ms(started)),
            true,
        ));
    }
    let verified = match (tokens.id_token.as_ref(), &issued.endpoints.jwks_uri) {
        (None, _) => Err(IdTokenError::Missing),
        (Some(_), None) => Err(IdTokenError::Jwks {
            reason: "the provider publishes no signing keys (jwks_uri)".into(),
        }),
        (Some(id_token), Some(jwks_uri)) => {
            // Only a provider configured as multi-tenant fills in a template.
            let issuer = if issued.endpoints.tenant_issuer {
                expected_issuer(&issued.endpoints.issuer, id_token)
            } else {
                Ok(issued.endpoints.issuer.clone())
            };
            match issuer {
                Err(err) => Err(err),
                Ok(issuer) => {
                    let expectations = Expectations {
                        issuer: &issuer,
                        client_id: issued.client_id,
                        nonce: issued.nonce,
                        subject: None,
                        now: clock.now(),
                    };
                    verify(http, jwks_uri, id_token, &expectations).await
                }
            }
        }
    };
    let mut identity = match verified {
        Ok(identity) => identity,
        Err(err) => {
            // The provider has just issued a grant we will not keep: end it there too.
            if let (Some(endpoint), Some(refresh_token)) = (
                &issued.endpoints.revocation_endpoint,
                tokens.refresh_token.as_ref(),
            ) && let Err(revoke_err) = revoke(
                http,
                endpoint,
                issued.client_id,
                refresh_token,
                "refresh_token",
            )
            .await
            {
                tracing::warn!(
                    code = revoke_err.code(),
                    "the refused sign-in's refresh token could not be revoked"
                );
            }
            return Err(id_error(err));
        }
    };
    if (identity.name.is_none() || identity.email.is_none())
        && let Some(userinfo) = &issued.endpoints.userinfo_endpoint
        && let Err(err) =
            complete_from_userinfo(http, userinfo, &tokens.access_token, &mut identity).await
    {
        // The ID token already proved who signed in; UserInfo only adds display fields.
        tracing::warn!(code = err.code(), error = %err, "UserInfo unavailable; keeping the ID token's claims");
    }
    Ok(Exchanged::of(
        identity,
        tokens,
        issued.scopes,
        (exchange_ms, ms(started)),
        false,
    ))
}

impl Latchkey {
    /// Stores a completed sign-in under the account's writer: the refresh
    /// token, then the metadata. Returns whether the account existed, its
    /// replaced refresh token (to revoke) and the keychain write's duration.
    async fn store_signed_in(
        &self,
        account: &Account,
        refresh_token: Option<&SecretString>,
        access: AccessToken,
    ) -> Result<(bool, Option<SecretString>, u64), (CompleteError, Kept)> {
        let lost = |err: CompleteError| (err, Kept::No);
        let writer = self.writer(&account.id).await.map_err(|err| {
            lost(CompleteError::Busy {
                reason: err.to_string(),
            })
        })?;
        let existed = self
            .registry
            .load()
            .map_err(|err| lost(err.into()))?
            .get(&account.id)
            .is_some();
        // The old token of an account signed in again: revoked once the new one is stored.
        let old_token = if existed {
            self.live_refresh_token(&account.id).await.ok().flatten()
        } else {
            None
        };
        let started = Instant::now();
        // The access token rides along: the CLI can use it at once.
        let secret = crate::account_secret::AccountSecret {
            refresh_token: refresh_token.cloned(),
            access: Some((access.token.clone(), access.expires_at)),
            obtained_at: Some(self.clock.now()),
        };
        self.write_secret(&account.id, &secret)
            .await
            .map_err(|err| lost(err.into()))?;
        // Whatever was kept in memory for this account is older than this token.
        writer.clear_unsaved();
        let keychain_ms = ms(started);
        // Our own write of the accounts file: following it reads nothing back.
        if let Some(at) = account.last_refreshed_at {
            self.saw_refresh(&account.id, at);
        }
        // The accounts file's watch may see this write before the caller
        // starts the account's lifecycle: it is ours, not another process's.
        lock(&self.coordination.signed_in_here).insert(account.id.clone());
        if let Err(err) = self.registry.update(|book| book.upsert(account.clone())) {
            lock(&self.coordination.signed_in_here).remove(&account.id);
            if existed {
                // The account's item now holds the new token: keep it.
                return Err((err.into(), Kept::Yes));
            }
            // Do not leave a keychain item without its account.
            let _ = self.vault.delete(account.id.as_str()).await;
            return Err(lost(err.into()));
        }
        lock(&self.access_tokens).insert(account.id.clone(), access);
        drop(writer);
        Ok((existed, old_token, keychain_ms))
    }

    /// Stores a sign-in's account and refresh token, then revokes the grant
    /// it replaced (signing in again).
    pub(crate) async fn finish_sign_in(
        &self,
        exchanged: Exchanged,
        finish: Finish,
    ) -> Result<SignedIn, CompleteError> {
        let Finish {
            provider_id,
            provider_name,
            client_id,
            revocation_endpoint,
            reauth_of,
            handle,
            arrived,
        } = finish;
        // No refresh token: an access token that never expires is the grant
        // (a GitHub OAuth App's); one that expires cannot keep the account.
        let never_expires = exchanged.refresh_token.is_none()
            && exchanged.access.expires_at.is_none()
            && exchanged.non_expiring_allowed;
        if exchanged.refresh_token.is_none() && !never_expires {
            return Err(CompleteError::NoRefreshToken {
                provider_name: provider_name.clone(),
            });
        }
        let refresh_token = exchanged.refresh_token;
        let exchanged_ms = (exchanged.exchange_ms, exchanged.id_token_ms);
        let mut account = new_account(
            &provider_id,
            &exchanged.identity,
            exchanged.scopes,
            self.clock.now(),
        );
        account.never_expires = never_expires;

        // One writer per account: a refresh of the old grant that is running
        // now finishes (and stores its rotated token) before we replace it.
        let stored = self
            .store_signed_in(&account, refresh_token.as_ref(), exchanged.access)
            .await;
        let (existed, old_token, keychain_ms) = match stored {
            Ok(stored) => stored,
            Err((err, Kept::Yes)) => return Err(err),
            Err((err, Kept::No)) => {
                // The provider has issued a grant we could not keep: end it there.
                if let (Some(endpoint), Some(refresh_token)) =
                    (&revocation_endpoint, &refresh_token)
                    && let Err(revoke_err) = revoke(
                        self.http.as_ref(),
                        endpoint,
                        &client_id,
                        refresh_token,
                        "refresh_token",
                    )
                    .await
                {
                    tracing::warn!(
                        code = revoke_err.code(),
                        "the unsaved sign-in's refresh token could not be revoked"
                    );
                }
                return Err(err);
            }
        };
        let replaced = existed;
        let mut old_token_revoked = None;
        if let Some(old) = old_token.filter(|old| Some(old) != refresh_token.as_ref()) {
            old_token_revoked = Some(match &revocation_endpoint {
                Some(endpoint) => match revoke(
                    self.http.as_ref(),
                    endpoint,
                    &client_id,
                    &old,
                    "refresh_token",
                )
                .await
                {
                    Ok(()) => true,
                    Err(err) => {
                        tracing::warn!(account = %account.id, code = err.code(), error = %err, "the replaced refresh token could not be revoked");
                        false
                    }
                },
                None => false,
            });
        }
        let timings = Timings {
            exchange_ms: exchanged_ms.0,
            id_token_ms: exchanged_ms.1,
            keychain_ms,
            total_ms: ms(arrived),
        };
        tracing::info!(
            account = %account.id,
            provider = %provider_id,
            replaced,
            exchange_ms = timings.exchange_ms,
            id_token_ms = timings.id_token_ms,
            keychain_ms = timings.keychain_ms,
            total_ms = timings.total_ms,
            "sign-in completed"
        );
        Ok(SignedIn {
            handle,
            reauth_of: reauth_of.filter(|id| id != &account.id),
            account,
            replaced,
            old_token_revoked,
            timings,
        })
    }
}

#[cfg(test)]
#[path = "signed_in_tests.rs"]
mod tests;
