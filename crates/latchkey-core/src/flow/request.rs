//! The authorization request (RFC 6749 §4.1.1 + RFC 7636 PKCE + OIDC `nonce`)
//! and the pending authorizations waiting for their redirect.
//!
//! A [`PendingAuthorization`] holds the one-time secrets of one request (PKCE
//! verifier, nonce) plus the snapshot of the provider configuration it was
//! made against (AppAuth's "request knows its configuration"), so a cold start
//! by the deep link can finish it without re-discovery. It is deliberately not
//! `Clone`: completing it consumes it.
//!
//! The pending store (`flow/pending.rs`) keeps every pending authorization in **one keychain item**
//! (never a plain file), so they survive the app being closed or crashing while
//! the person is in the browser. Expired entries (older than [`PENDING_TTL`])
//! are purged on every access.

use std::time::{Duration, SystemTime};

use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use crate::discovery::ProviderMetadata;
use crate::error::ErrorCode;
use crate::provider::{IdentityKind, ProviderConfig, RedirectKind};
use crate::secret::SecretString;
use crate::vault::VaultError;

/// How long a sign-in may stay in the browser.
pub const PENDING_TTL: Duration = Duration::from_secs(10 * 60);
/// The keychain item holding the pending authorizations.
pub const PENDING_KEY: &str = "pending-authorizations";
/// Bytes of randomness in `state` and `nonce` (256 bits; RFC 9700 asks ≥ 128).
const RANDOM_BYTES: u32 = 32;

/// Optional parts of a sign-in request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignInOptions {
    /// OIDC `login_hint` (e.g. the account's email when re-authenticating).
    pub login_hint: Option<String>,
    /// OIDC `prompt` (space-separated). Default: `consent` when `offline_access`
    /// is requested (OIDC Core §11), else none.
    pub prompt: Option<String>,
    /// The account being re-authenticated (its id), if any.
    pub reauth_of: Option<String>,
}

/// The endpoints and rules a request was made against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// Exact issuer.
    pub issuer: String,
    /// Token endpoint.
    pub token_endpoint: Url,
    /// JWKS URL (`None`: the identity comes from the user endpoint).
    pub jwks_uri: Option<Url>,
    /// UserInfo endpoint.
    pub userinfo_endpoint: Option<Url>,
    /// Revocation endpoint.
    pub revocation_endpoint: Option<Url>,
    /// RFC 9207: the authorization response must carry `iss`.
    pub iss_required: bool,
    /// The identity comes from the user endpoint, not an ID token.
    #[serde(default)]
    pub user_endpoint_identity: bool,
    /// Microsoft: `issuer` may be the `{tenantid}` template.
    #[serde(default)]
    pub tenant_issuer: bool,
    /// The client sends its secret (from the keychain) to the token endpoint.
    #[serde(default)]
    pub client_secret: bool,
}

impl Endpoints {
    /// From a provider's validated metadata.
    pub fn from_metadata(provider: &ProviderConfig, metadata: &ProviderMetadata) -> Self {
        Self {
            issuer: metadata.issuer.clone(),
            token_endpoint: metadata.token_endpoint.clone(),
            jwks_uri: metadata.jwks_uri.clone(),
            userinfo_endpoint: metadata.userinfo_endpoint.clone(),
            revocation_endpoint: metadata.revocation_endpoint.clone(),
            iss_required: metadata.authorization_response_iss_parameter_supported,
            user_endpoint_identity: provider.identity == IdentityKind::UserEndpoint,
            tenant_issuer: provider.tenant_issuer,
            client_secret: provider.client_secret,
        }
    }
}

/// A short, non-secret handle the UI uses to name a pending sign-in
/// (a prefix of SHA-256 of the `state`; the state itself never leaves the core).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PendingHandle(String);

impl PendingHandle {
    pub(crate) fn for_state(state: &str) -> Self {
        let digest = Sha256::digest(state.as_bytes());
        Self(hex::encode(&digest[..8]))
    }

    /// From the UI's string.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// As a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One authorization request waiting for its redirect. Not `Clone`: it is
/// used once, by [`crate::session::sign_in`], which consumes it.
pub struct PendingAuthorization {
    pub(crate) state: SecretString,
    pub(crate) pkce_verifier: SecretString,
    pub(crate) nonce: SecretString,
    /// The handle shown to the UI.
    pub handle: PendingHandle,
    /// Provider id.
    pub provider_id: String,
    /// Provider display name.
    pub provider_name: String,
    /// OAuth client id.
    pub client_id: String,
    /// Redirect URI the request used.
    pub redirect_uri: Url,
    /// Scopes requested.
    pub scopes: Vec<String>,
    /// Endpoints snapshot.
    pub endpoints: Endpoints,
    /// The authorization URL (to open the browser again).
    pub authorization_url: Url,
    /// `login_hint` sent, if any.
    pub login_hint: Option<String>,
    /// The account this sign-in re-authenticates, if any.
    pub reauth_of: Option<String>,
    /// Creation time.
    pub created_at: SystemTime,
    /// Expiry time.
    pub expires_at: SystemTime,
}

impl std::fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL carries state and nonce: show only its endpoint.
        let mut endpoint = self.authorization_url.clone();
        endpoint.set_query(None);
        f.debug_struct("PendingAuthorization")
            .field("handle", &self.handle)
            .field("provider_id", &self.provider_id)
            .field("authorization_endpoint", &endpoint.as_str())
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl PendingAuthorization {
    /// True when the request is past its expiry.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        now >= self.expires_at
    }

    /// The non-secret view of this request.
    pub fn summary(&self) -> PendingSummary {
        PendingSummary {
            handle: self.handle.clone(),
            provider_id: self.provider_id.clone(),
            provider_name: self.provider_name.clone(),
            authorization_url: self.authorization_url.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
        }
    }
}

/// A non-secret description of a pending sign-in (for the UI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSummary {
    /// Handle.
    pub handle: PendingHandle,
    /// Provider id.
    pub provider_id: String,
    /// Provider display name.
    pub provider_name: String,
    /// URL to open in the browser (contains no secret: the PKCE challenge and
    /// state are meant to travel through the browser).
    pub authorization_url: Url,
    /// Creation time.
    pub created_at: SystemTime,
    /// Expiry time.
    pub expires_at: SystemTime,
}

/// Why an authorization request could not be built or stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorizeError {
    /// The provider's configuration cannot form a request.
    #[error("cannot build the sign-in request: {reason}")]
    Configuration {
        /// Why, in words for a person (never a secret).
        reason: String,
    },
    /// The pending request could not be kept in the keychain.
    #[error("cannot remember the sign-in request: {0}")]
    Vault(#[from] VaultError),
    /// No usable provider has this id.
    #[error("no usable provider {id:?} is configured")]
    UnknownProvider {
        /// The provider id that was asked for.
        id: String,
    },
    /// The provider's metadata could not be fetched.
    #[error("{0}")]
    Discovery(#[from] crate::discovery::DiscoveryError),
    /// No loopback listener could be opened for the redirect.
    #[error("cannot listen for the sign-in's redirect on 127.0.0.1: {reason}")]
    Loopback {
        /// Why (the ports tried, the OS error).
        reason: String,
    },
}

impl ErrorCode for AuthorizeError {
    fn code(&self) -> &'static str {
        match self {
            Self::Configuration { .. } => "sign_in_configuration",
            Self::Vault(err) => err.code(),
            Self::UnknownProvider { .. } => "unknown_provider",
            Self::Discovery(err) => err.code(),
            Self::Loopback { .. } => "loopback_unavailable",
        }
    }
}

/// Builds an authorization request: PKCE S256, 256-bit `state` and `nonce`
/// from the OS CSPRNG, the provider's scopes, optional `login_hint`/`prompt`,
/// and the redirect URI of [`ProviderConfig::redirect_uri_for`] (one per
/// provider unless it advertises RFC 9207 `iss`: the mix-up defence).
///
/// For a provider with a scheme redirect only: a loopback redirect needs its
/// listener's port ([`new_authorization_to`]; `Latchkey::begin` does both).
pub fn new_authorization(
    provider: &ProviderConfig,
    metadata: &ProviderMetadata,
    options: &SignInOptions,
    now: SystemTime,
) -> Result<PendingAuthorization, AuthorizeError> {
    if provider.redirect != RedirectKind::Scheme {
        return Err(AuthorizeError::Configuration {
            reason: "a loopback redirect needs its listener's port".into(),
        });
    }
    let redirect_uri =
        provider.redirect_uri_for(metadata.authorization_response_iss_parameter_supported);
    new_authorization_to(provider, metadata, redirect_uri, options, now)
}

/// Like [`new_authorization`], sent with `redirect_uri` (for a loopback
/// redirect: the listener's, port included).
pub fn new_authorization_to(
    provider: &ProviderConfig,
    metadata: &ProviderMetadata,
    redirect_uri: Url,
    options: &SignInOptions,
    now: SystemTime,
) -> Result<PendingAuthorization, AuthorizeError> {
    let configuration = |reason: String| AuthorizeError::Configuration { reason };
    let client = BasicClient::new(ClientId::new(provider.client_id.clone()))
        .set_auth_uri(AuthUrl::from_url(metadata.authorization_endpoint.clone()))
        .set_redirect_uri(RedirectUrl::from_url(redirect_uri.clone()));
    // S256 only; the verifier is 64 random bytes (86 characters, RFC 7636 §4.1).
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256_len(64);
    let state = CsrfToken::new_random_len(RANDOM_BYTES);
    let nonce = CsrfToken::new_random_len(RANDOM_BYTES);
    let state_for_request = state.clone();
    let mut request = client
        .authorize_url(move || state_for_request)
        .add_scopes(provider.scopes.iter().cloned().map(Scope::new))
        .set_pkce_challenge(challenge)
        .add_extra_param("nonce", nonce.secret().clone());
    if let Some(hint) = &options.login_hint {
        request = request.add_extra_param("login_hint", hint.clone());
    }
    let preset_prompt = provider
        .authorization_params
        .iter()
        .find(|(k, _)| k == "prompt")
        .map(|(_, v)| v.clone());
    for (key, value) in provider
        .authorization_params
        .iter()
        .filter(|(k, _)| k != "prompt" && k != "login_hint")
    {
        request = request.add_extra_param(key.clone(), value.clone());
    }
    let prompt = options.prompt.clone().or(preset_prompt).or_else(|| {
        provider
            .scopes
            .iter()
            .any(|s| s == "offline_access")
            .then(|| "consent".to_owned())
    });
    if let Some(prompt) = prompt {
        request = request.add_extra_param("prompt", prompt);
    }
    let (authorization_url, _) = request.url();
    if authorization_url.as_str().len() > 8 * 1024 {
        return Err(configuration(
            "the authorization URL would be too long".into(),
        ));
    }
    let state = SecretString::new(state.secret().clone());
    Ok(PendingAuthorization {
        handle: PendingHandle::for_state(state.expose()),
        state,
        pkce_verifier: SecretString::new(verifier.secret().clone()),
        nonce: SecretString::new(nonce.secret().clone()),
        provider_id: provider.id.to_string(),
        provider_name: provider.name.clone(),
        client_id: provider.client_id.clone(),
        redirect_uri,
        scopes: provider.scopes.clone(),
        endpoints: Endpoints::from_metadata(provider, metadata),
        authorization_url,
        login_hint: options.login_hint.clone(),
        reauth_of: options.reauth_of.clone(),
        created_at: now,
        expires_at: now + PENDING_TTL,
    })
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
