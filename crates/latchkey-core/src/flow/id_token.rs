//! ID token validation (OIDC Core §3.1.3.7, and §12.2 after a refresh) with the
//! `openidconnect` crate, and the identity it proves.
//!
//! Checked: the signature against the provider's JWKS (an unknown `kid` makes
//! us fetch the JWKS once more, for key rotation), `alg` (asymmetric only: a
//! public client has no secret, so `none` and HS256 are refused), `iss`, `aud`
//! (no untrusted extra audiences), `azp`, `exp` and `iat` against the injected
//! clock, and `nonce`. Display name and email come from the claims, or from
//! UserInfo (with its `sub` checked) when the ID token does not carry them.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use http::{Method, header};
use openidconnect::core::{
    CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    ClaimsVerificationError, ClientId, IssuerUrl, Nonce, SignatureVerificationError,
};
use serde::Deserialize;
use url::Url;

use crate::error::ErrorCode;
use crate::http::{HttpClient, TransportError};
use crate::secret::SecretString;

/// Clock skew tolerated between us and the provider, both ways: an `iat`
/// this far in the future and an `exp` this far in the past still pass. A
/// laptop clock a few minutes fast must not reject a provider's 5-minute ID
/// tokens (Keycloak's default lifetime).
pub const CLOCK_SKEW_LEEWAY: Duration = Duration::from_secs(5 * 60);

/// Who signed in, as proven by the ID token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Issuer.
    pub issuer: String,
    /// Subject (`sub`), stable per issuer.
    pub subject: String,
    /// Display name.
    pub name: Option<String>,
    /// User name (`preferred_username`, GitHub's `login`).
    pub username: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Picture URL.
    pub picture: Option<String>,
}

/// Why an ID token was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// The token response had no ID token although `openid` was requested.
    #[error("the provider sent no ID token")]
    Missing,
    /// The JWKS could not be fetched or parsed.
    #[error("the provider's signing keys could not be loaded: {reason}")]
    Jwks {
        /// Why, in words for a person (never a secret).
        reason: String,
    },
    /// The JWKS could not be fetched.
    #[error("the provider's signing keys could not be loaded: {0}")]
    JwksTransport(#[from] TransportError),
    /// The signature is invalid, uses a refused algorithm or an unknown key.
    #[error("the ID token's signature is not valid: {reason}")]
    Signature {
        /// Why the signature was refused (RFC 7515 §5.2).
        reason: String,
    },
    /// `iss` is not the provider's issuer.
    #[error("the ID token was issued by someone else: {reason}")]
    Issuer {
        /// Why `iss` was refused (OIDC Core §3.1.3.7).
        reason: String,
    },
    /// `aud`/`azp` do not name this client (only).
    #[error("the ID token is not meant for Latchkey: {reason}")]
    Audience {
        /// Why `aud`/`azp` were refused (OIDC Core §3.1.3.7).
        reason: String,
    },
    /// `exp` is past.
    #[error("the ID token has expired")]
    Expired,
    /// `iat` is too far in the future.
    #[error("the ID token claims to be issued in the future")]
    IssuedInFuture,
    /// `nonce` is missing or wrong (replay or injection).
    #[error("the ID token's nonce does not match this sign-in ({reason})")]
    Nonce {
        /// `missing` or `mismatch` (OIDC Core §3.1.3.7).
        reason: &'static str,
    },
    /// `sub` differs from the account's (after a refresh).
    #[error("the ID token names a different user than this account")]
    SubjectChanged,
    /// Anything else wrong with the token.
    #[error("the ID token is not valid: {reason}")]
    Invalid {
        /// Why, in words for a person (never a secret).
        reason: String,
    },
    /// UserInfo failed.
    #[error("the provider's UserInfo response is not valid: {reason}")]
    UserInfo {
        /// Why the UserInfo response was refused (OIDC Core §5.3.4).
        reason: String,
    },
}

impl ErrorCode for IdTokenError {
    fn code(&self) -> &'static str {
        match self {
            Self::Missing => "id_token_missing",
            Self::Jwks { .. } | Self::JwksTransport(_) => "jwks_unavailable",
            Self::Signature { .. } => "id_token_signature",
            Self::Issuer { .. } => "id_token_issuer",
            Self::Audience { .. } => "id_token_audience",
            Self::Expired => "id_token_expired",
            Self::IssuedInFuture => "id_token_iat",
            Self::Nonce { .. } => "id_token_nonce",
            Self::SubjectChanged => "id_token_subject_changed",
            Self::Invalid { .. } => "id_token_invalid",
            Self::UserInfo { .. } => "userinfo_invalid",
        }
    }
}

/// What the ID token must match.
#[derive(Debug)]
pub struct Expectations<'a> {
    /// The provider's issuer.
    pub issuer: &'a str,
    /// Our client id.
    pub client_id: &'a str,
    /// The sign-in's nonce; `None` after a refresh (OIDC Core §12.2).
    pub nonce: Option<&'a SecretString>,
    /// The account's `sub` after a refresh.
    pub subject: Option<&'a str>,
    /// Now.
    pub now: SystemTime,
}

/// Fetches a JWKS document.
pub async fn fetch_jwks(
    http: &dyn HttpClient,
    jwks_uri: &Url,
) -> Result<CoreJsonWebKeySet, IdTokenError> {
    let request = http::Request::builder()
        .method(Method::GET)
        .uri(jwks_uri.as_str())
        .header(header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|_| IdTokenError::Jwks {
            reason: "invalid JWKS URL".into(),
        })?;
    let response = http.execute(request).await?;
    if !response.status().is_success() {
        return Err(IdTokenError::Jwks {
            reason: format!("HTTP {}", response.status().as_u16()),
        });
    }
    serde_json::from_slice(response.body()).map_err(|_| IdTokenError::Jwks {
        reason: if response.body().first() == Some(&b'<') {
            "the JWKS URL returned an HTML page".into()
        } else {
            "the JWKS document is not a valid key set".into()
        },
    })
}

/// Parses an ID token as the provider sent it (a JWT), naming the claim that
/// is missing or malformed, without echoing any value.
pub fn parse(raw: &SecretString) -> Result<CoreIdToken, IdTokenError> {
    raw.expose().parse::<CoreIdToken>().map_err(|err| {
        let text = err.to_string();
        let field = |prefix: &str| {
            text.split(prefix)
                .nth(1)
                .and_then(|rest| rest.split('`').next())
                .filter(|name| {
                    name.len() <= 40 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                })
                .map(str::to_owned)
        };
        let reason = if let Some(claim) = field("missing field `") {
            format!("its `{claim}` claim is missing")
        } else if let Some(claim) = field("unknown field `") {
            format!("its `{claim}` claim is not allowed")
        } else {
            "it is not a well-formed JWT with the claims OpenID Connect requires".to_owned()
        };
        IdTokenError::Invalid { reason }
    })
}

/// Verifies an ID token, fetching the JWKS (twice at most, for key rotation).
pub async fn verify(
    http: &dyn HttpClient,
    jwks_uri: &Url,
    id_token: &SecretString,
    expect: &Expectations<'_>,
) -> Result<Identity, IdTokenError> {
    // A fresh, empty cache: the key set is fetched now (and once more for an unknown kid).
    verify_cached(http, &JwksCache::default(), jwks_uri, id_token, expect).await
}

/// JWKS documents by URL, shared by the refreshes of one process.
pub type JwksCache = std::sync::Mutex<std::collections::HashMap<String, CoreJsonWebKeySet>>;

/// Like [`verify`], but keeps the key set between calls: it is fetched when
/// absent, and fetched again (once) when a key set from the cache does not
/// verify the signature — an unknown `kid`, or a provider that signs without
/// `kid` and has rotated its only key.
pub async fn verify_cached(
    http: &dyn HttpClient,
    cache: &JwksCache,
    jwks_uri: &Url,
    id_token: &SecretString,
    expect: &Expectations<'_>,
) -> Result<Identity, IdTokenError> {
    let id_token = &parse(id_token)?;
    let lock = |c: &JwksCache| {
        c.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(jwks_uri.as_str())
            .cloned()
    };
    let store = |jwks: &CoreJsonWebKeySet| {
        cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(jwks_uri.to_string(), jwks.clone());
    };
    let (jwks, fresh) = match lock(cache) {
        Some(jwks) => (jwks, false),
        None => {
            let jwks = fetch_jwks(http, jwks_uri).await?;
            store(&jwks);
            (jwks, true)
        }
    };
    match verify_with_keys(id_token, jwks, expect) {
        Err(IdTokenError::Signature { reason }) if !fresh || reason == NO_MATCHING_KEY => {
            tracing::info!(reason = %reason, "ID token signature not verified with the known keys; fetching the JWKS again");
            let jwks = fetch_jwks(http, jwks_uri).await?;
            store(&jwks);
            verify_with_keys(id_token, jwks, expect)
        }
        other => other,
    }
}

/// Whether an ID token that failed the `iss` or `aud` check is nevertheless
/// validly signed by one of the provider's keys: then it *proves* that the
/// provider now issues this grant's tokens for another issuer or client. (The
/// `openidconnect` crate checks `iss` and `aud` before the signature, so
/// those errors alone prove nothing: anyone can forge an unsigned claim.)
pub async fn signed_by_provider(
    http: &dyn HttpClient,
    cache: &JwksCache,
    jwks_uri: &Url,
    id_token: &SecretString,
    client_id: &str,
) -> bool {
    let Ok(id_token) = parse(id_token) else {
        return false;
    };
    let cached = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(jwks_uri.as_str())
        .cloned();
    let jwks = match cached {
        Some(jwks) => jwks,
        None => match fetch_jwks(http, jwks_uri).await {
            Ok(jwks) => jwks,
            Err(_) => return false,
        },
    };
    let Ok(any_issuer) = IssuerUrl::new("https://any.invalid".to_owned()) else {
        return false;
    };
    let verifier = CoreIdTokenVerifier::new_public_client(
        ClientId::new(client_id.to_owned()),
        any_issuer,
        jwks,
    )
    .set_allowed_algs(ALLOWED_ALGS)
    .require_issuer_match(false)
    .require_audience_match(false)
    // Only the signature matters here, not the token's age.
    .set_time_fn(|| DateTime::<Utc>::from(SystemTime::UNIX_EPOCH))
    .set_issue_time_verifier_fn(|_| Ok(()));
    id_token
        .claims(&verifier, |_: Option<&Nonce>| Ok(()))
        .is_ok()
}

/// Asymmetric algorithms only: a public client has no secret, so `none` and
/// HS256 (which anyone who knows the client id could forge) are refused.
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

const NO_MATCHING_KEY: &str = "no key in the provider's key set matches";

/// Verifies an ID token against a given key set (no I/O).
pub fn verify_with_keys(
    id_token: &CoreIdToken,
    jwks: CoreJsonWebKeySet,
    expect: &Expectations<'_>,
) -> Result<Identity, IdTokenError> {
    let issuer = IssuerUrl::new(expect.issuer.to_owned()).map_err(|_| IdTokenError::Invalid {
        reason: "the expected issuer is not a URL".into(),
    })?;
    let now: DateTime<Utc> = expect.now.into();
    let leeway = chrono::Duration::from_std(CLOCK_SKEW_LEEWAY).unwrap_or_default();
    let latest_iat = now + leeway;
    // `exp` is compared with this time: the same leeway as for `iat`.
    let exp_time = now - leeway;
    let verifier = CoreIdTokenVerifier::new_public_client(
        ClientId::new(expect.client_id.to_owned()),
        issuer,
        jwks,
    )
    .set_allowed_algs(ALLOWED_ALGS)
    .set_time_fn(move || exp_time)
    .set_issue_time_verifier_fn(move |iat| {
        if iat > latest_iat {
            Err("issued in the future".into())
        } else {
            Ok(())
        }
    });
    let claims = match expect.nonce {
        Some(nonce) => {
            let nonce = Nonce::new(nonce.expose().to_owned());
            id_token
                .claims(&verifier, &nonce)
                .map_err(map_claims_error)?
                .clone()
        }
        // After a refresh a nonce is not required (OIDC Core §12.2).
        None => id_token
            .claims(&verifier, |_: Option<&Nonce>| Ok(()))
            .map_err(map_claims_error)?
            .clone(),
    };
    // OIDC Core §3.1.3.7 steps 4-5 (openidconnect leaves azp to the client).
    match claims.authorized_party() {
        Some(azp) if azp.as_str() != expect.client_id => {
            return Err(IdTokenError::Audience {
                reason: format!("azp is {:?}, not this client", azp.as_str()),
            });
        }
        None if claims.audiences().len() > 1 => {
            return Err(IdTokenError::Audience {
                reason: "several audiences but no azp".into(),
            });
        }
        _ => {}
    }
    let subject = claims.subject().as_str().to_owned();
    if let Some(expected) = expect.subject
        && expected != subject
    {
        return Err(IdTokenError::SubjectChanged);
    }
    Ok(Identity {
        issuer: expect.issuer.to_owned(),
        subject,
        name: claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned()),
        username: claims.preferred_username().map(|u| u.as_str().to_owned()),
        email: claims.email().map(|e| e.as_str().to_owned()),
        picture: claims
            .picture()
            .and_then(|p| p.get(None))
            .map(|p| p.as_str().to_owned()),
    })
}

fn map_claims_error(err: ClaimsVerificationError) -> IdTokenError {
    use ClaimsVerificationError as C;
    match err {
        C::Expired(reason) if reason.contains("issued in the future") => {
            IdTokenError::IssuedInFuture
        }
        C::Expired(_) => IdTokenError::Expired,
        C::InvalidAudience(reason) => IdTokenError::Audience { reason },
        C::InvalidIssuer(reason) => IdTokenError::Issuer { reason },
        C::InvalidNonce(reason) => IdTokenError::Nonce {
            reason: if reason.contains("missing") {
                "missing"
            } else {
                "mismatch"
            },
        },
        C::SignatureVerification(sig) => IdTokenError::Signature {
            reason: match sig {
                SignatureVerificationError::NoMatchingKey => NO_MATCHING_KEY.to_owned(),
                SignatureVerificationError::DisallowedAlg(reason) => reason,
                SignatureVerificationError::NoSignature => "the token is not signed".to_owned(),
                other => other.to_string(),
            },
        },
        C::Unsupported(reason) if reason.contains("alg") || reason.contains("none") => {
            IdTokenError::Signature { reason }
        }
        other => IdTokenError::Invalid {
            reason: other.to_string(),
        },
    }
}

#[derive(Deserialize)]
struct UserInfo {
    sub: String,
    name: Option<String>,
    preferred_username: Option<String>,
    email: Option<String>,
    picture: Option<String>,
}

/// Fills name/email from UserInfo when the ID token lacks them. The UserInfo
/// `sub` must equal the ID token's (OIDC Core §5.3.4).
pub async fn complete_from_userinfo(
    http: &dyn HttpClient,
    userinfo: &Url,
    access_token: &SecretString,
    identity: &mut Identity,
) -> Result<(), IdTokenError> {
    let request = http::Request::builder()
        .method(Method::GET)
        .uri(userinfo.as_str())
        .header(header::ACCEPT, "application/json")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", access_token.expose()),
        )
        .body(Vec::new())
        .map_err(|_| IdTokenError::UserInfo {
            reason: "invalid UserInfo URL".into(),
        })?;
    let response = http
        .execute(request)
        .await
        .map_err(|err| IdTokenError::UserInfo {
            reason: err.to_string(),
        })?;
    if !response.status().is_success() {
        return Err(IdTokenError::UserInfo {
            reason: format!("HTTP {}", response.status().as_u16()),
        });
    }
    let info: UserInfo =
        serde_json::from_slice(response.body()).map_err(|_| IdTokenError::UserInfo {
            reason: "not a JSON UserInfo document".into(),
        })?;
    if info.sub != identity.subject {
        return Err(IdTokenError::UserInfo {
            reason: "its sub differs from the ID token's".into(),
        });
    }
    identity.name = identity.name.take().or(info.name);
    identity.username = identity.username.take().or(info.preferred_username);
    identity.email = identity.email.take().or(info.email);
    identity.picture = identity.picture.take().or(info.picture);
    Ok(())
}

#[cfg(test)]
#[path = "id_token_tests.rs"]
mod tests;
