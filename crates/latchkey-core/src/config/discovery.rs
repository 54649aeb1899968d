//! Authorization server metadata: OpenID Connect Discovery 1.0 and RFC 8414.
//!
//! [`discover`] fetches `<issuer>/.well-known/openid-configuration` (falling
//! back to RFC 8414's `/.well-known/oauth-authorization-server<path>` on 404),
//! and accepts the document only if
//! - its `issuer` is *exactly* the configured issuer (OIDC Discovery §4.3,
//!   RFC 8414 §3.3 — this is what defeats a metadata mix-up),
//! - every endpoint is https, or http on loopback for a loopback issuer that
//!   the configuration marks `insecure_http_loopback`,
//! - it has the endpoints a native sign-in needs, and does not rule out
//!   PKCE with S256.

use http::{Method, StatusCode, header};
use serde::Deserialize;
use url::Url;

use crate::config::preset::IdentityKind;
use crate::error::ErrorCode;
use crate::http::{HttpClient, TransportError};
use crate::provider::{ProviderConfig, is_loopback_url};

/// The metadata Latchkey uses, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMetadata {
    /// Exactly the configured issuer.
    pub issuer: String,
    /// Authorization endpoint.
    pub authorization_endpoint: Url,
    /// Token endpoint.
    pub token_endpoint: Url,
    /// JWKS URL (for ID token signatures); `None` for a provider whose
    /// identity comes from a user endpoint.
    pub jwks_uri: Option<Url>,
    /// UserInfo endpoint, when offered.
    pub userinfo_endpoint: Option<Url>,
    /// RFC 7009 revocation endpoint, when offered.
    pub revocation_endpoint: Option<Url>,
    /// RFC 8628 device authorization endpoint, when offered.
    pub device_authorization_endpoint: Option<Url>,
    /// RFC 9207: the server returns `iss` in authorization responses.
    pub authorization_response_iss_parameter_supported: bool,
    /// Scopes the server advertises (empty when not advertised).
    pub scopes_supported: Vec<String>,
    /// OIDC `prompt` values the server supports, when advertised.
    pub prompt_values_supported: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct RawMetadata {
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    jwks_uri: Option<String>,
    userinfo_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
    code_challenge_methods_supported: Option<Vec<String>>,
    response_types_supported: Option<Vec<String>>,
    #[serde(default)]
    scopes_supported: Vec<String>,
    prompt_values_supported: Option<Vec<String>>,
}

/// Why discovery failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The server could not be reached.
    #[error("cannot reach the provider: {0}")]
    Transport(#[from] TransportError),
    /// The metadata URL answered with an unexpected status.
    #[error("the discovery document at {url} returned HTTP {status}")]
    Status {
        /// The metadata URL that was fetched.
        url: String,
        /// The HTTP status code it answered with.
        status: u16,
    },
    /// The body is not a JSON metadata document.
    #[error("the discovery document at {url} is not valid JSON metadata: {reason}")]
    NotJson {
        /// The metadata URL that was fetched.
        url: String,
        /// Why the body was rejected, as the JSON parser put it.
        reason: String,
    },
    /// The document's issuer differs from the configured one.
    #[error("the provider says its issuer is {found:?}, but {expected:?} is configured")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The `issuer` the document names (OIDC Discovery §4.3, RFC 8414 §3.3).
        found: String,
    },
    /// A required field is missing.
    #[error("the discovery document has no {field}")]
    MissingField {
        /// The metadata field's name (e.g. `token_endpoint`).
        field: &'static str,
    },
    /// An endpoint URL does not parse.
    #[error("{field} is not a valid URL: {value}")]
    BadEndpoint {
        /// The metadata field's name (e.g. `token_endpoint`).
        field: &'static str,
        /// The value the document gave.
        value: String,
    },
    /// An endpoint uses http (or another scheme) where https is required.
    #[error("{field} must use https: {value}")]
    InsecureEndpoint {
        /// The metadata field's name (e.g. `token_endpoint`).
        field: &'static str,
        /// The value the document gave.
        value: String,
    },
    /// The server does not support what a native client needs.
    #[error("the provider does not support {what}")]
    Unsupported {
        /// What is missing, naming the metadata field (e.g. PKCE with S256, RFC 7636).
        what: &'static str,
    },
}

impl ErrorCode for DiscoveryError {
    fn code(&self) -> &'static str {
        match self {
            Self::Transport(err) => err.code(),
            Self::Status { .. } => "discovery_http_status",
            Self::NotJson { .. } => "discovery_not_json",
            Self::IssuerMismatch { .. } => "issuer_mismatch",
            Self::MissingField { .. } => "discovery_missing_field",
            Self::BadEndpoint { .. } => "discovery_bad_endpoint",
            Self::InsecureEndpoint { .. } => "discovery_insecure_endpoint",
            Self::Unsupported { .. } => "discovery_unsupported",
        }
    }
}

/// The OIDC Discovery URL for an issuer.
pub fn openid_configuration_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// The RFC 8414 metadata URL for an issuer (well-known segment before the path).
pub fn oauth_metadata_url(issuer: &Url) -> String {
    let path = issuer.path().trim_end_matches('/');
    let mut origin = issuer.origin().ascii_serialization();
    origin.push_str("/.well-known/oauth-authorization-server");
    origin.push_str(path);
    origin
}

/// Fetches and validates the provider's metadata; for a provider without
/// discovery (`oauth2`, GitHub), the endpoints its configuration gives.
pub async fn discover(
    http: &dyn HttpClient,
    provider: &ProviderConfig,
) -> Result<ProviderMetadata, DiscoveryError> {
    if !provider.discovery {
        return configured_metadata(provider);
    }
    let oidc_url = openid_configuration_url(provider.issuer.as_str());
    let body = match fetch(http, &oidc_url).await {
        Err(DiscoveryError::Status { status: 404, .. }) => {
            let url = oauth_metadata_url(provider.issuer.url());
            tracing::debug!(provider = %provider.id, "no openid-configuration, trying RFC 8414 metadata");
            (fetch(http, &url).await?, url)
        }
        other => (other?, oidc_url),
    };
    let (body, url) = body;
    let metadata = parse_metadata(&body, &url, provider)?;
    tracing::debug!(provider = %provider.id, iss_param = metadata.authorization_response_iss_parameter_supported, "discovery ok");
    Ok(metadata)
}

async fn fetch(http: &dyn HttpClient, url: &str) -> Result<Vec<u8>, DiscoveryError> {
    let request = http::Request::builder()
        .method(Method::GET)
        .uri(url)
        .header(header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|_| DiscoveryError::BadEndpoint {
            field: "issuer",
            value: url.to_owned(),
        })?;
    let response = http.execute(request).await?;
    if response.status() != StatusCode::OK {
        return Err(DiscoveryError::Status {
            url: url.to_owned(),
            status: response.status().as_u16(),
        });
    }
    Ok(response.into_body())
}

/// Parses and validates a metadata document fetched from `url` for `provider`.
pub fn parse_metadata(
    body: &[u8],
    url: &str,
    provider: &ProviderConfig,
) -> Result<ProviderMetadata, DiscoveryError> {
    let raw: RawMetadata = serde_json::from_slice(body).map_err(|err| DiscoveryError::NotJson {
        url: url.to_owned(),
        reason: if body.first().is_some_and(|b| *b == b'<') {
            "it looks like an HTML page".to_owned()
        } else {
            err.to_string()
        },
    })?;
    let expected = provider.issuer.as_str();
    let found = raw
        .issuer
        .ok_or(DiscoveryError::MissingField { field: "issuer" })?;
    let matches = found == expected
        || (provider.tenant_issuer
            && crate::config::preset::tenant_issuer_matches(expected, &found));
    if !matches {
        return Err(DiscoveryError::IssuerMismatch {
            expected: expected.to_owned(),
            found,
        });
    }
    let allow_http = provider.insecure_http_loopback && provider.issuer.is_loopback();
    let endpoint =
        |field: &'static str, value: Option<String>| -> Result<Option<Url>, DiscoveryError> {
            let Some(value) = value else { return Ok(None) };
            let url = Url::parse(&value).map_err(|_| DiscoveryError::BadEndpoint {
                field,
                value: value.clone(),
            })?;
            let ok = match url.scheme() {
                "https" => true,
                "http" => allow_http && is_loopback_url(&url),
                _ => false,
            };
            if !ok {
                return Err(DiscoveryError::InsecureEndpoint { field, value });
            }
            Ok(Some(url))
        };
    // An endpoint given in the providers file takes the place of the
    // discovered one (or fills a gap in the document).
    let given = &provider.endpoints;
    let either = |field, ours: &Option<Url>, theirs| match ours {
        Some(url) => Ok(Some(url.clone())),
        None => endpoint(field, theirs),
    };
    let authorization_endpoint = either(
        "authorization_endpoint",
        &given.authorization_endpoint,
        raw.authorization_endpoint,
    )?
    .ok_or(DiscoveryError::MissingField {
        field: "authorization_endpoint",
    })?;
    let token_endpoint = either("token_endpoint", &given.token_endpoint, raw.token_endpoint)?
        .ok_or(DiscoveryError::MissingField {
            field: "token_endpoint",
        })?;
    let jwks_uri = either("jwks_uri", &given.jwks_uri, raw.jwks_uri)?;
    if jwks_uri.is_none() && provider.identity == IdentityKind::IdToken {
        return Err(DiscoveryError::MissingField { field: "jwks_uri" });
    }
    let userinfo_endpoint = either(
        "userinfo_endpoint",
        &given.userinfo_endpoint,
        raw.userinfo_endpoint,
    )?;
    let revocation_endpoint = either(
        "revocation_endpoint",
        &given.revocation_endpoint,
        raw.revocation_endpoint,
    )?;
    let device_authorization_endpoint = either(
        "device_authorization_endpoint",
        &given.device_authorization_endpoint,
        raw.device_authorization_endpoint,
    )?;
    if raw
        .code_challenge_methods_supported
        .is_some_and(|methods| !methods.iter().any(|m| m == "S256"))
    {
        return Err(DiscoveryError::Unsupported {
            what: "PKCE with S256 (code_challenge_methods_supported)",
        });
    }
    if raw
        .response_types_supported
        .is_some_and(|types| !types.iter().any(|t| t == "code"))
    {
        return Err(DiscoveryError::Unsupported {
            what: "the authorization code flow (response_type=code)",
        });
    }
    Ok(ProviderMetadata {
        issuer: found,
        authorization_endpoint,
        token_endpoint,
        jwks_uri,
        userinfo_endpoint,
        revocation_endpoint,
        device_authorization_endpoint,
        authorization_response_iss_parameter_supported: raw
            .authorization_response_iss_parameter_supported,
        scopes_supported: raw.scopes_supported,
        prompt_values_supported: raw.prompt_values_supported,
    })
}

/// The metadata of a provider without discovery: what its configuration
/// gives (the providers file checked that the required endpoints are there).
pub fn configured_metadata(provider: &ProviderConfig) -> Result<ProviderMetadata, DiscoveryError> {
    let given = &provider.endpoints;
    let required = |field: &'static str, url: &Option<Url>| {
        url.clone().ok_or(DiscoveryError::MissingField { field })
    };
    Ok(ProviderMetadata {
        issuer: provider.issuer.as_str().to_owned(),
        authorization_endpoint: required("authorization_endpoint", &given.authorization_endpoint)?,
        token_endpoint: required("token_endpoint", &given.token_endpoint)?,
        jwks_uri: given.jwks_uri.clone(),
        userinfo_endpoint: given.userinfo_endpoint.clone(),
        revocation_endpoint: given.revocation_endpoint.clone(),
        device_authorization_endpoint: given.device_authorization_endpoint.clone(),
        authorization_response_iss_parameter_supported: false,
        scopes_supported: Vec::new(),
        prompt_values_supported: None,
    })
}

#[cfg(test)]
#[path = "discovery_tests.rs"]
mod tests;
