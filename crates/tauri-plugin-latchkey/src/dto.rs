//! What the webview receives: plain, camelCase, no secret (except the access
//! token of [`AccessTokenDto`], behind its own permission).

use std::time::SystemTime;

use latchkey_core::session::accounts::{Revocation, SignOutReport};
use latchkey_core::session::views::{AccountState, AccountView};
use serde::Serialize;

/// Unix seconds of a time (0 before the epoch).
fn unix(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The state of an account, as a string enum (`"ready"`, `"needs_sign_in"`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StateName {
    /// A refresh is running.
    Refreshing,
    /// An access token is in memory.
    Ready,
    /// Signed in; no access token yet.
    SignedIn,
    /// The provider could not be reached; retried at `retryAt`.
    Offline,
    /// The provider refused the request; waits for a retry.
    Refused,
    /// The grant ended: the person must sign in again.
    NeedsSignIn,
    /// A state this plugin version does not know.
    Unknown,
}

impl StateName {
    /// The name of a core state.
    pub fn of(state: &AccountState) -> Self {
        match state {
            AccountState::Refreshing => Self::Refreshing,
            AccountState::Ready { .. } => Self::Ready,
            AccountState::SignedIn => Self::SignedIn,
            AccountState::Offline { .. } => Self::Offline,
            AccountState::Refused { .. } => Self::Refused,
            AccountState::NeedsSignIn { .. } => Self::NeedsSignIn,
            _ => Self::Unknown,
        }
    }
}

/// One account for the webview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountDto {
    /// Stable account id (pass it to `signOut` / `accessToken`).
    pub id: String,
    /// Provider id from the providers file.
    pub provider_id: String,
    /// Issuer.
    pub issuer: String,
    /// Display name.
    pub name: Option<String>,
    /// User name (`preferred_username`, GitHub's `login`).
    pub username: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Picture URL.
    pub picture: Option<String>,
    /// The person's own label.
    pub label: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Whether it is the default account.
    pub is_default: bool,
    /// Its state.
    pub state: StateName,
    /// `ready`: when the access token expires (unix seconds), if known.
    pub expires_at: Option<u64>,
    /// The access token never expires (nothing is refreshed).
    pub never_expires: bool,
    /// `offline`: when the next attempt runs (unix seconds).
    pub retry_at: Option<u64>,
    /// `offline`, `refused`, `needs_sign_in`: why, for people.
    pub reason: Option<String>,
    /// `refused`: the provider's error code.
    pub reason_code: Option<String>,
}

impl From<AccountView> for AccountDto {
    fn from(view: AccountView) -> Self {
        let state = StateName::of(&view.state);
        let (expires_at, retry_at, reason, reason_code) = match view.state {
            AccountState::Ready { expires_at } => (expires_at.map(unix), None, None, None),
            AccountState::Offline { reason, retry_at } => {
                (None, Some(unix(retry_at)), Some(reason), None)
            }
            AccountState::Refused { reason, code } => {
                (None, None, Some(reason), Some(code.to_owned()))
            }
            AccountState::NeedsSignIn { reason } => (None, None, reason, None),
            _ => (None, None, None, None),
        };
        let account = view.account;
        Self {
            id: account.id.to_string(),
            provider_id: account.provider_id,
            issuer: account.issuer,
            name: account.name,
            username: account.username,
            email: account.email,
            picture: account.picture,
            label: account.label,
            scopes: account.scopes,
            is_default: view.is_default,
            state,
            expires_at,
            never_expires: account.never_expires,
            retry_at,
            reason,
            reason_code,
        }
    }
}

/// A started sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInDto {
    /// Provider id.
    pub provider: String,
    /// The authorization URL (no secret: state and PKCE challenge travel
    /// through the browser by design).
    pub authorization_url: String,
    /// Whether the plugin opened it in the system browser; when `false`, the
    /// app opens it.
    pub opened: bool,
    /// When the sign-in expires if no link comes back (unix seconds).
    pub expires_at: u64,
}

impl SignInDto {
    /// From the core's summary of a pending sign-in.
    pub fn new(summary: &latchkey_core::flow::request::PendingSummary, opened: bool) -> Self {
        Self {
            provider: summary.provider_id.clone(),
            authorization_url: summary.authorization_url.to_string(),
            opened,
            expires_at: unix(summary.expires_at),
        }
    }
}

/// What happened at the provider on sign-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationName {
    /// The refresh token was revoked.
    Revoked,
    /// There was nothing to revoke.
    NothingToRevoke,
    /// The provider could not be told; the account was removed locally anyway.
    Failed,
}

/// A finished sign-out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignOutDto {
    /// The removed account's display name.
    pub who: String,
    /// Revocation outcome.
    pub revocation: RevocationName,
    /// Why revocation failed, if it did.
    pub reason: Option<String>,
}

impl From<SignOutReport> for SignOutDto {
    fn from(report: SignOutReport) -> Self {
        let (revocation, reason) = match report.revocation {
            Revocation::Revoked => (RevocationName::Revoked, None),
            Revocation::NothingToRevoke => (RevocationName::NothingToRevoke, None),
            Revocation::Failed { reason } => (RevocationName::Failed, Some(reason)),
        };
        Self {
            who: report.who,
            revocation,
            reason,
        }
    }
}

/// An access token for the webview (only with `allow-access-token`).
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessTokenDto {
    /// The bearer token.
    pub token: String,
    /// When it expires (unix seconds), if known.
    pub expires_at: Option<u64>,
}

impl std::fmt::Debug for AccessTokenDto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokenDto")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl From<&latchkey_core::session::latchkey::AccessToken> for AccessTokenDto {
    fn from(token: &latchkey_core::session::latchkey::AccessToken) -> Self {
        Self {
            token: token.token.expose().to_owned(),
            expires_at: token.expires_at.map(unix),
        }
    }
}

/// An event of `onChange`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum ChangeEvent {
    /// An account's state changed (`account: null`: several did; reload all).
    Changed {
        /// The account id.
        account: Option<String>,
    },
    /// A deep link completed a sign-in.
    SignedIn {
        /// The account id.
        account: String,
        /// The provider id.
        provider: String,
        /// The account existed already (signed in again).
        replaced: bool,
        /// Signing in again: whether the replaced refresh token was revoked.
        old_token_revoked: Option<bool>,
        /// A re-authentication that signed in as another account: the account
        /// it was meant for (left as it was).
        reauth_of: Option<String>,
    },
    /// An account was signed out.
    SignedOut {
        /// The account id.
        account: String,
    },
    /// A provider's discovery document was checked (at launch): reload the
    /// providers to see whether it answered.
    ProviderChecked {
        /// The provider id.
        provider: String,
    },
    /// A deep link matched no sign-in or the sign-in failed.
    SignInFailed {
        /// Stable code.
        code: String,
        /// Message for people.
        message: String,
        /// The link belonged to no sign-in in progress (forged, replayed or
        /// malformed: any web page can send one). Raise no window for it.
        ignored_link: bool,
    },
}

impl ChangeEvent {
    /// The event of a completed sign-in.
    pub fn signed_in(signed_in: &latchkey_core::session::sign_in::SignedIn) -> Self {
        Self::SignedIn {
            account: signed_in.account.id.to_string(),
            provider: signed_in.account.provider_id.clone(),
            replaced: signed_in.replaced,
            old_token_revoked: signed_in.old_token_revoked,
            reauth_of: signed_in.reauth_of.as_ref().map(ToString::to_string),
        }
    }

    /// The event of a link that completed nothing.
    pub fn sign_in_failed(err: &latchkey_core::session::sign_in::CompleteError) -> Self {
        let ipc = crate::error::Error::from_core(err);
        Self::SignInFailed {
            code: ipc.code,
            message: ipc.message,
            ignored_link: err.is_ignored_link(),
        }
    }
}

#[cfg(test)]
#[path = "dto_tests.rs"]
mod tests;
