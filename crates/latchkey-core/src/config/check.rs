//! The live check of a provider configuration before it is saved ("Check"
//! in the window's Add provider dialog): does the provider answer as
//! configured?
//!
//! - A provider with discovery: its metadata is fetched and validated by
//!   [`discover`] (the document's `issuer` must be exactly the configured
//!   one, OIDC Discovery §4.3 / RFC 8414 §3.3; endpoints https; PKCE S256).
//! - A provider without discovery (`oauth2`, GitHub): each endpoint the
//!   configuration gives for a sign-in (authorization, token, user) must
//!   answer. Any HTTP answer counts — an authorization endpoint asked
//!   without parameters answers 400 or a redirect, a token endpoint asked
//!   with GET 404 or 405 — only a transport failure (no connection, no
//!   answer in time) fails the check.
//!
//! Nothing is stored: [`Latchkey::check_provider_config`](crate::Latchkey::check_provider_config) neither caches the
//! metadata nor records reachability (the configuration is not in use yet).

use http::{Method, header};
use url::Url;

use crate::config::discovery::{DiscoveryError, ProviderMetadata, discover};
use crate::config::provider::ProviderConfig;
use crate::error::ErrorCode;
use crate::http::{HttpClient, TransportError};

/// Why a provider configuration failed its live check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// Discovery failed: unreachable, not metadata, or another issuer.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// An endpoint given in the configuration did not answer.
    #[error("the {field} {url} did not answer: {source}")]
    Unreachable {
        /// Which endpoint (e.g. `token_endpoint`).
        field: &'static str,
        /// The URL that was asked.
        url: String,
        /// The transport failure.
        #[source]
        source: TransportError,
    },
}

impl ErrorCode for CheckError {
    fn code(&self) -> &'static str {
        match self {
            Self::Discovery(err) => err.code(),
            Self::Unreachable { source, .. } => source.code(),
        }
    }
}

/// Checks a provider configuration against the live provider (see the
/// module documentation); returns the metadata a sign-in would use.
pub async fn check_provider_config(
    http: &dyn HttpClient,
    config: &ProviderConfig,
) -> Result<ProviderMetadata, CheckError> {
    let metadata = discover(http, config).await?;
    if !config.discovery {
        let endpoints = [
            (
                "authorization_endpoint",
                Some(&metadata.authorization_endpoint),
            ),
            ("token_endpoint", Some(&metadata.token_endpoint)),
            ("userinfo_endpoint", metadata.userinfo_endpoint.as_ref()),
        ];
        for (field, url) in endpoints {
            if let Some(url) = url {
                probe(http, field, url).await?;
            }
        }
    }
    tracing::info!(provider = %config.id, discovery = config.discovery, "provider configuration checked");
    Ok(metadata)
}

/// One GET without credentials: any HTTP answer means the endpoint is there.
async fn probe(http: &dyn HttpClient, field: &'static str, url: &Url) -> Result<(), CheckError> {
    let request = http::Request::builder()
        .method(Method::GET)
        .uri(url.as_str())
        .header(header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|_| DiscoveryError::BadEndpoint {
            field,
            value: url.to_string(),
        })?;
    match http.execute(request).await {
        Ok(response) => {
            tracing::debug!(
                field,
                status = response.status().as_u16(),
                "endpoint answered"
            );
            Ok(())
        }
        Err(source) => Err(CheckError::Unreachable {
            field,
            url: url.to_string(),
            source,
        }),
    }
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
