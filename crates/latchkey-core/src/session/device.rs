//! Signing in with the device grant (RFC 8628): for a terminal without a
//! browser (SSH, a container) or "sign in on another device". No redirect,
//! no pending request in the keychain: the caller shows the user code and
//! the verification page, then waits in [`Latchkey::complete_device`], which
//! polls the provider and, once the person approved, stores the account like
//! any sign-in (ID token checked, refresh token in the keychain).

use std::time::Instant;

use crate::authorize::{AuthorizeError, Endpoints, PendingHandle};
use crate::device::{DeviceAuthorization, DeviceEndpoints, poll_device_token};
use crate::error::ErrorCode;
use crate::session::latchkey::Latchkey;
use crate::session::sign_in::{CompleteError, SignedIn};
use crate::session::signed_in::{Finish, Issued, identify, ms};
use crate::token::TokenError;

/// A device sign-in waiting for the person: show [`Self::user_code`] and
/// [`Self::verification_uri`] (or the complete URI), then call
/// [`Latchkey::complete_device`].
#[derive(Debug)]
pub struct DeviceSignIn {
    /// The provider id.
    pub provider_id: String,
    /// The provider's display name.
    pub provider_name: String,
    /// The code, page and expiry to show.
    pub authorization: DeviceAuthorization,
    device: DeviceEndpoints,
    endpoints: Endpoints,
    scopes: Vec<String>,
}

impl DeviceSignIn {
    /// The code to type at the verification page.
    pub fn user_code(&self) -> &str {
        &self.authorization.user_code
    }

    /// The page to open (with the code filled in when the provider offers it).
    pub fn verification_uri(&self) -> &url::Url {
        self.authorization
            .verification_uri_complete
            .as_ref()
            .unwrap_or(&self.authorization.verification_uri)
    }
}

/// Why a device sign-in could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The provider is unknown or its metadata could not be fetched.
    #[error(transparent)]
    Authorize(#[from] AuthorizeError),
    /// The provider does not offer the device grant.
    #[error(
        "{provider_name} does not offer sign-in on another device (no device_authorization_endpoint)"
    )]
    NotOffered {
        /// The provider's display name.
        provider_name: String,
    },
    /// The device authorization request failed.
    #[error("{provider_name} refused to start a device sign-in: {source}")]
    Token {
        /// The provider's display name.
        provider_name: String,
        /// The request's failure.
        source: TokenError,
    },
}

impl ErrorCode for DeviceError {
    fn code(&self) -> &'static str {
        match self {
            Self::Authorize(err) => err.code(),
            Self::NotOffered { .. } => "device_grant_not_offered",
            Self::Token { source, .. } => source.code(),
        }
    }
}

impl Latchkey {
    /// Starts a device sign-in with a provider: asks it for a user code.
    pub async fn begin_device(&self, provider_id: &str) -> Result<DeviceSignIn, DeviceError> {
        let metadata = self.metadata(provider_id).await?;
        let provider =
            self.provider(provider_id)
                .ok_or_else(|| AuthorizeError::UnknownProvider {
                    id: provider_id.to_owned(),
                })?;
        let provider_name = provider.name.clone();
        let Some(device_authorization) = metadata.device_authorization_endpoint.clone() else {
            return Err(DeviceError::NotOffered { provider_name });
        };
        let device = DeviceEndpoints {
            device_authorization,
            token: metadata.token_endpoint.clone(),
            client_id: provider.client_id.clone(),
        };
        let authorization = crate::device::request_device_authorization(
            self.http.as_ref(),
            &device,
            &provider.scopes,
            self.clock.now(),
        )
        .await
        .map_err(|source| DeviceError::Token {
            provider_name: provider_name.clone(),
            source,
        })?;
        tracing::info!(provider = provider_id, "device sign-in started");
        Ok(DeviceSignIn {
            provider_id: provider_id.to_owned(),
            provider_name,
            authorization,
            device,
            endpoints: Endpoints::from_metadata(&provider, &metadata),
            scopes: provider.scopes.clone(),
        })
    }

    /// Waits for the person to approve a device sign-in (polling politely),
    /// then checks the ID token and stores the account. Denied →
    /// [`CompleteError::Cancelled`]; the code expired → [`CompleteError::Expired`].
    /// Drop the future to give up.
    pub async fn complete_device(&self, sign_in: DeviceSignIn) -> Result<SignedIn, CompleteError> {
        let arrived = Instant::now();
        let DeviceSignIn {
            provider_id,
            provider_name,
            authorization,
            device,
            endpoints,
            scopes,
        } = sign_in;
        let started = Instant::now();
        let tokens = match poll_device_token(
            self.http.as_ref(),
            &device,
            &authorization,
            self.clock.as_ref(),
        )
        .await
        {
            Ok(tokens) => tokens,
            Err(TokenError::OAuth {
                error, description, ..
            }) if error == "access_denied" => {
                return Err(CompleteError::Cancelled {
                    provider_name,
                    description,
                });
            }
            Err(TokenError::OAuth { error, .. }) if error == "expired_token" => {
                return Err(CompleteError::Expired { provider_name });
            }
            Err(source) => {
                return Err(CompleteError::Token {
                    provider_name,
                    source,
                });
            }
        };
        // The accounts file must be writable before a grant is kept.
        self.registry.load()?;
        let exchanged = identify(
            tokens,
            Issued {
                provider_name: &provider_name,
                endpoints: &endpoints,
                client_id: &device.client_id,
                nonce: None,
                scopes,
            },
            self.http.as_ref(),
            self.clock.as_ref(),
            ms(started),
        )
        .await?;
        self.finish_sign_in(
            exchanged,
            Finish {
                provider_id,
                provider_name,
                client_id: device.client_id,
                revocation_endpoint: endpoints.revocation_endpoint.clone(),
                reauth_of: None,
                handle: PendingHandle::new(format!("device-{}", authorization.user_code)),
                arrived,
            },
        )
        .await
    }
}

#[cfg(test)]
#[path = "device_tests.rs"]
mod tests;
