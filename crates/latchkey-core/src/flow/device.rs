//! The device authorization grant (RFC 8628), through the `oauth2` crate over
//! the injected [`HttpClient`]: for a machine without a usable browser (SSH,
//! a container) or a provider that prefers it. The person opens the
//! verification URI on any device and enters the user code; meanwhile the
//! client polls the token endpoint, politely (`interval`, `slow_down`).

use std::time::{Duration, SystemTime};

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
};
use oauth2::{
    ClientId, DeviceAuthorizationUrl, EndpointNotSet, EndpointSet, Scope,
    StandardDeviceAuthorizationResponse, StandardRevocableToken, TokenUrl,
};
use url::Url;

use crate::clock::Clock;
use crate::http::HttpClient;
use crate::token::{OAuthHttp, Response, StatusProbe, TokenError, TokenSet, finish};

/// The longest a device sign-in is waited for, whatever the server says.
pub const MAX_DEVICE_WAIT: Duration = Duration::from_secs(30 * 60);

/// What the person needs to finish a device sign-in elsewhere. The device
/// code itself stays inside (it is the secret the poll presents).
pub struct DeviceAuthorization {
    /// The code to type at the verification page.
    pub user_code: String,
    /// The page where the person enters the code.
    pub verification_uri: Url,
    /// The same page with the code filled in, when the server offers one.
    pub verification_uri_complete: Option<Url>,
    /// When the code stops working.
    pub expires_at: SystemTime,
    /// How often the token endpoint may be asked (at least).
    pub interval: Duration,
    details: StandardDeviceAuthorizationResponse,
}

impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri.as_str())
            .field("expires_at", &self.expires_at)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

type DeviceClient = oauth2::Client<
    BasicErrorResponse,
    Response,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

fn client(device_endpoint: &Url, token_endpoint: &Url, client_id: &str) -> DeviceClient {
    oauth2::Client::new(ClientId::new(client_id.to_owned()))
        .set_device_authorization_url(DeviceAuthorizationUrl::from_url(device_endpoint.clone()))
        .set_token_uri(TokenUrl::from_url(token_endpoint.clone()))
}

/// Where a device sign-in is asked for and redeemed.
#[derive(Debug, Clone)]
pub struct DeviceEndpoints {
    /// RFC 8628 §3.1 device authorization endpoint.
    pub device_authorization: Url,
    /// Token endpoint.
    pub token: Url,
    /// OAuth client id.
    pub client_id: String,
}

/// Asks for a device code and user code (RFC 8628 §3.1–3.2).
pub async fn request_device_authorization(
    http: &dyn HttpClient,
    endpoints: &DeviceEndpoints,
    scopes: &[String],
    now: SystemTime,
) -> Result<DeviceAuthorization, TokenError> {
    let client = client(
        &endpoints.device_authorization,
        &endpoints.token,
        &endpoints.client_id,
    );
    let adapter = OAuthHttp {
        http,
        probe: StatusProbe::default(),
        now,
    };
    let details: StandardDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scopes(scopes.iter().map(|s| Scope::new(s.clone())))
        .request_async(&adapter)
        .await
        .map_err(|err| match finish(Err(err), &adapter.probe, now) {
            Err(err) => err,
            Ok(_) => TokenError::InvalidResponse {
                status: None,
                reason: "unexpected device authorization response".into(),
                retry_after: None,
                rotated: None,
            },
        })?;
    let invalid = |reason: &str| TokenError::InvalidResponse {
        status: None,
        reason: reason.to_owned(),
        retry_after: None,
        rotated: None,
    };
    let verification_uri = Url::parse(details.verification_uri().as_str())
        .map_err(|_| invalid("the verification_uri is not a URL"))?;
    if !matches!(verification_uri.scheme(), "https" | "http") {
        return Err(invalid("the verification_uri is not a web address"));
    }
    let verification_uri_complete = details
        .verification_uri_complete()
        .and_then(|u| Url::parse(u.secret()).ok())
        .filter(|u| u.scheme() == verification_uri.scheme() && u.host() == verification_uri.host());
    let user_code = details.user_code().secret().clone();
    if user_code.is_empty() || user_code.len() > 64 {
        return Err(invalid("the user_code is empty or too long"));
    }
    Ok(DeviceAuthorization {
        user_code,
        verification_uri,
        verification_uri_complete,
        expires_at: now + details.expires_in().min(MAX_DEVICE_WAIT),
        interval: details.interval(),
        details,
    })
}

/// Polls the token endpoint until the person approved (RFC 8628 §3.4–3.5):
/// waits `interval` between requests, longer after `slow_down`, and gives up
/// at the code's expiry (`expired_token`). `access_denied` is an OAuth error
/// like any other. Drop the future to stop polling.
pub async fn poll_device_token(
    http: &dyn HttpClient,
    endpoints: &DeviceEndpoints,
    authorization: &DeviceAuthorization,
    clock: &dyn Clock,
) -> Result<TokenSet, TokenError> {
    let client = client(
        &endpoints.device_authorization,
        &endpoints.token,
        &endpoints.client_id,
    );
    let now = clock.now();
    let adapter = OAuthHttp {
        http,
        probe: StatusProbe::default(),
        now,
    };
    let wait = authorization
        .expires_at
        .duration_since(now)
        .unwrap_or_default();
    let result = client
        .exchange_device_access_token(&authorization.details)
        .set_time_fn(|| chrono::DateTime::<chrono::Utc>::from(clock.now()))
        .request_async(&adapter, tokio::time::sleep, Some(wait))
        .await;
    finish(result, &adapter.probe, clock.now())
}

/// The device code, for tests that act as the person approving it.
#[cfg(any(test, feature = "testing"))]
impl DeviceAuthorization {
    /// The device code (a secret: tests only).
    pub fn testing_device_code(&self) -> crate::secret::SecretString {
        crate::secret::SecretString::new(self.details.device_code().secret().clone())
    }
}

#[cfg(test)]
#[path = "device_tests.rs"]
mod tests;
