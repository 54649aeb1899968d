//! The token endpoint (RFC 6749 §4.1.3 code exchange, §6 refresh), through the
//! `oauth2` crate over the injected [`HttpClient`].
//!
//! The HTTP client never follows redirects and caps bodies; this module adds
//! the response checks: a Bearer `token_type`, an `access_token`, an ID token
//! when `openid` was asked for. No error message ever contains a token or any
//! part of the response body.

use std::time::{Duration, SystemTime};

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthorizationCode, ClientId, ClientSecret, EndpointNotSet, EndpointSet,
    PkceCodeVerifier, RedirectUrl, RefreshToken, StandardRevocableToken, TokenUrl,
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::ErrorCode;
use crate::http::{HttpClient, TransportError};
use crate::secret::SecretString;
use crate::text::protocol_text;

pub(crate) use crate::flow::token_response::{OAuthHttp, StatusProbe, finish};

/// Tokens from one token response. Secrets are redacted in `Debug`.
pub struct TokenSet {
    /// The access token (kept in memory only).
    pub access_token: SecretString,
    /// The refresh token, when one was issued (kept in the keychain only).
    pub refresh_token: Option<SecretString>,
    /// The ID token as sent (a JWT), still unparsed and unverified: its
    /// checks are [`crate::id_token`]'s, so a bad ID token never makes the
    /// rest of the response (a rotated refresh token) unreadable.
    pub id_token: Option<SecretString>,
    /// When the access token expires, if the server said.
    pub expires_at: Option<SystemTime>,
    /// Granted scopes, if the server said (else the requested ones apply).
    pub scopes: Option<Vec<String>>,
    /// The server's clock (its `Date` header), to explain clock skew.
    pub server_date: Option<SystemTime>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token)
            .field("id_token", &self.id_token)
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// What a failed token request means for the grant (RFC 6749 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// `invalid_grant`: the refresh token is dead. The only answer from a
    /// token endpoint that ends an account's grant.
    GrantDead,
    /// Any other OAuth error (`invalid_client`, `unauthorized_client`,
    /// `invalid_scope`, `invalid_request`, …): the provider refuses this
    /// client's request, which retrying will not change until its settings
    /// (or ours) do. The refresh token is kept.
    Refused,
    /// Anything that is not an OAuth answer — the network, a timeout, 5xx,
    /// 429, `temporarily_unavailable`, an HTML page from a WAF, proxy, load
    /// balancer or captive portal at any status, a redirect: try again later.
    /// The refresh token is kept.
    Transient,
}

/// Why a token request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token endpoint could not be reached or did not answer in time.
    #[error("the token endpoint could not be reached: {0}")]
    Transport(#[from] TransportError),
    /// The server answered with an OAuth error (RFC 6749 §5.2).
    #[error("the provider refused the request: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    OAuth {
        /// `error`, e.g. `invalid_grant`.
        error: String,
        /// `error_description`, if any.
        description: Option<String>,
        /// HTTP status, when known.
        status: Option<u16>,
        /// `Retry-After`, when the server sent one.
        retry_after: Option<Duration>,
    },
    /// The server answered something that is not a valid token response.
    #[error("the token endpoint sent an invalid response{}: {reason}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    InvalidResponse {
        /// HTTP status, when known.
        status: Option<u16>,
        /// What is wrong, without any body content.
        reason: String,
        /// `Retry-After`, when the server sent one.
        retry_after: Option<Duration>,
        /// A refresh token found in a successful (2xx) JSON response that is
        /// otherwise unusable: the provider may already have retired the one
        /// we sent, so this one must be kept.
        rotated: Option<SecretString>,
    },
}

impl TokenError {
    /// What this failure means for the grant (see [`Failure`]).
    pub fn failure(&self) -> Failure {
        match self {
            Self::OAuth { error, .. } if error == "invalid_grant" => Failure::GrantDead,
            Self::OAuth { error, status, .. }
                if matches!(
                    error.as_str(),
                    "temporarily_unavailable" | "server_error" | "slow_down"
                ) || status.is_some_and(|s| s >= 500 || s == 429) =>
            {
                Failure::Transient
            }
            Self::OAuth { .. } => Failure::Refused,
            Self::Transport(_) | Self::InvalidResponse { .. } => Failure::Transient,
        }
    }

    /// How long the server asked us to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::OAuth { retry_after, .. } | Self::InvalidResponse { retry_after, .. } => {
                *retry_after
            }
            Self::Transport(_) => None,
        }
    }
}

impl ErrorCode for TokenError {
    fn code(&self) -> &'static str {
        match self {
            Self::Transport(err) => err.code(),
            Self::OAuth { error, .. } => match error.as_str() {
                "invalid_grant" => "invalid_grant",
                "invalid_client" => "invalid_client",
                "unauthorized_client" => "unauthorized_client",
                "invalid_scope" => "invalid_scope",
                "invalid_request" => "invalid_request",
                "unsupported_grant_type" => "unsupported_grant_type",
                _ => "token_error_response",
            },
            Self::InvalidResponse { .. } => "token_invalid_response",
        }
    }
}

/// The token endpoint of one client.
#[derive(Debug, Clone)]
pub struct TokenEndpoint {
    /// Token endpoint URL.
    pub url: Url,
    /// OAuth client id.
    pub client_id: String,
    /// Issuer (for the ID token of the response).
    pub issuer: String,
    /// A client secret the provider demands even of a native client
    /// (Google's desktop clients, GitHub's web flow), sent in the request
    /// body; it comes from the keychain and is never logged.
    pub client_secret: Option<SecretString>,
    /// OAuth error codes that mean what `invalid_grant` means at this
    /// provider (GitHub's `bad_refresh_token`).
    pub dead_grant_errors: Vec<String>,
}

/// The token response's extra field: the ID token, kept as text.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub(crate) struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) id_token: Option<String>,
}

impl oauth2::ExtraTokenFields for IdTokenField {}

pub(crate) type Response = oauth2::StandardTokenResponse<IdTokenField, BasicTokenType>;

type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    Response,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

fn client(endpoint: &TokenEndpoint, redirect: Option<&Url>) -> OAuthClient {
    let mut client = oauth2::Client::new(ClientId::new(endpoint.client_id.clone()))
        .set_token_uri(TokenUrl::from_url(endpoint.url.clone()));
    if let Some(secret) = &endpoint.client_secret {
        // In the body: the one way both Google and GitHub accept.
        client = client
            .set_client_secret(ClientSecret::new(secret.expose().to_owned()))
            .set_auth_type(AuthType::RequestBody);
    }
    if let Some(redirect) = redirect {
        client = client.set_redirect_uri(RedirectUrl::from_url(redirect.clone()));
    }
    client
}

/// Exchanges an authorization code (with its PKCE verifier) for tokens.
/// Both one-time values are taken by value.
pub async fn exchange_code(
    http: &dyn HttpClient,
    endpoint: &TokenEndpoint,
    redirect_uri: &Url,
    code: SecretString,
    pkce_verifier: SecretString,
    now: SystemTime,
) -> Result<TokenSet, TokenError> {
    let client = client(endpoint, Some(redirect_uri));
    let adapter = OAuthHttp {
        http,
        probe: StatusProbe::default(),
        now,
    };
    let result = client
        .exchange_code(AuthorizationCode::new(code.expose().to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.expose().to_owned()))
        .request_async(&adapter)
        .await;
    finish(result, &adapter.probe, now)
}

/// Redeems a refresh token (RFC 6749 §6).
pub async fn refresh(
    http: &dyn HttpClient,
    endpoint: &TokenEndpoint,
    refresh_token: &SecretString,
    now: SystemTime,
) -> Result<TokenSet, TokenError> {
    let client = client(endpoint, None);
    let adapter = OAuthHttp {
        http,
        probe: StatusProbe::default(),
        now,
    };
    let token = RefreshToken::new(refresh_token.expose().to_owned());
    let result = client
        .exchange_refresh_token(&token)
        .request_async(&adapter)
        .await;
    finish(result, &adapter.probe, now).map_err(|err| match err {
        TokenError::OAuth {
            error,
            description,
            status,
            retry_after,
        } if endpoint.dead_grant_errors.contains(&error) => TokenError::OAuth {
            description: Some(format!(
                "{error}{}",
                description.map(|d| format!(": {d}")).unwrap_or_default()
            )),
            error: "invalid_grant".to_owned(),
            status,
            retry_after,
        },
        other => other,
    })
}

/// Revokes a token at an RFC 7009 endpoint, with a direct POST (the `oauth2`
/// crate refuses non-https revocation URLs, which loopback development
/// issuers use). Success is HTTP 200, also for a token the server no longer
/// knows (RFC 7009 §2.2).
pub async fn revoke(
    http: &dyn HttpClient,
    revocation_endpoint: &Url,
    client_id: &str,
    token: &SecretString,
    hint: &str,
) -> Result<(), TokenError> {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token.expose())
        .append_pair("token_type_hint", hint)
        .append_pair("client_id", client_id)
        .finish();
    let request = http::Request::builder()
        .method(http::Method::POST)
        .uri(revocation_endpoint.as_str())
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(http::header::ACCEPT, "application/json")
        .body(body.into_bytes())
        .map_err(|_| TokenError::InvalidResponse {
            status: None,
            reason: "invalid revocation URL".into(),
            retry_after: None,
            rotated: None,
        })?;
    let response = http.execute(request).await?;
    let status = response.status().as_u16();
    if status == 200 {
        return Ok(());
    }
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        error: String,
        error_description: Option<String>,
    }
    match serde_json::from_slice::<ErrorBody>(response.body()) {
        Ok(e) => Err(TokenError::OAuth {
            error: protocol_text(&e.error, 64),
            description: e.error_description.map(|d| protocol_text(&d, 300)),
            status: Some(status),
            retry_after: None,
        }),
        Err(_) => Err(TokenError::InvalidResponse {
            status: Some(status),
            reason: "the revocation endpoint refused the request".into(),
            retry_after: None,
            rotated: None,
        }),
    }
}

#[cfg(test)]
#[path = "token_tests.rs"]
mod tests;
