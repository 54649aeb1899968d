//! What a token endpoint answers: the HTTP adapter that lets the `oauth2`
//! crate use the injected [`HttpClient`] and remembers the status,
//! `Retry-After` and `Date` of the answer; the normalisation of providers'
//! quirks before parsing (a string `expires_in`); the checks of a token
//! response and the classification of its errors (RFC 6749 §5.2), including
//! errors sent with HTTP 200 (GitHub). No error ever carries the body.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use oauth2::TokenResponse;
use oauth2::basic::BasicTokenType;
use serde::Deserialize;

use crate::http::{BoxFuture, HttpClient, HttpRequest, HttpResponse, TransportError};
use crate::secret::SecretString;
use crate::text::protocol_text;
use crate::token::{Response, TokenError, TokenSet};

/// What the last response said besides its body: status, `Retry-After`, `Date`.
#[derive(Clone, Copy, Default)]
struct Seen {
    status: Option<u16>,
    retry_after: Option<Duration>,
    date: Option<SystemTime>,
}

/// Remembers [`Seen`] of the last response so errors can name it.
#[derive(Clone, Default)]
pub(crate) struct StatusProbe(Arc<Mutex<Seen>>);

impl StatusProbe {
    fn get(&self) -> Seen {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn http_date(value: &str) -> Option<SystemTime> {
    chrono::DateTime::parse_from_rfc2822(value.trim())
        .ok()
        .map(|d| SystemTime::from(d.with_timezone(&chrono::Utc)))
}

fn seen(response: &HttpResponse, now: SystemTime) -> Seen {
    let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok());
    let date = header(http::header::DATE).and_then(http_date);
    let retry_after = header(http::header::RETRY_AFTER).and_then(|v| {
        v.trim()
            .parse::<u64>()
            .ok()
            .map(Duration::from_secs)
            .or_else(|| {
                // An HTTP-date, relative to the server's own clock when it said.
                let at = http_date(v)?;
                Some(at.duration_since(date.unwrap_or(now)).unwrap_or_default())
            })
    });
    Seen {
        status: Some(response.status().as_u16()),
        retry_after: retry_after.map(|d| d.min(Duration::from_secs(24 * 3600))),
        date,
    }
}

/// The injected [`HttpClient`] as an `oauth2` async HTTP client.
pub(crate) struct OAuthHttp<'a> {
    pub(crate) http: &'a dyn HttpClient,
    pub(crate) probe: StatusProbe,
    pub(crate) now: SystemTime,
}

impl<'c> oauth2::AsyncHttpClient<'c> for OAuthHttp<'_> {
    type Error = TransportError;
    type Future = BoxFuture<'c, Result<HttpResponse, TransportError>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = numeric_expires_in(self.http.execute(request).await?);
            *self
                .probe
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = seen(&response, self.now);
            Ok(response)
        })
    }
}

/// A 2xx JSON token response whose `expires_in` is a string of digits (Entra
/// ID, GitHub): rewritten with a number, which is what RFC 6749 §5.1 says and
/// what the `oauth2` crate reads. Anything else passes unchanged.
fn numeric_expires_in(response: HttpResponse) -> HttpResponse {
    let quoted = |body: &[u8]| {
        let text = std::str::from_utf8(body).ok()?;
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        let seconds = value
            .get("expires_in")?
            .as_str()?
            .trim()
            .parse::<u64>()
            .ok()?;
        let mut value = value;
        value["expires_in"] = serde_json::Value::from(seconds);
        serde_json::to_vec(&value).ok()
    };
    if !response.status().is_success() {
        return response;
    }
    match quoted(response.body()) {
        Some(body) => {
            let (parts, _) = response.into_parts();
            http::Response::from_parts(parts, body)
        }
        None => response,
    }
}

/// The outcome of one token request through `oauth2`, with its error type
/// (`BasicErrorResponse`, or the device grant's error response).
type OAuthResult<T> =
    Result<Response, oauth2::RequestTokenError<TransportError, oauth2::StandardErrorResponse<T>>>;

/// Checks a token response (or classifies its error).
pub(crate) fn finish<T: oauth2::ErrorResponseType + AsRef<str> + std::fmt::Display>(
    result: OAuthResult<T>,
    probe: &StatusProbe,
    now: SystemTime,
) -> Result<TokenSet, TokenError> {
    let seen = probe.get();
    let status = seen.status;
    let response = result.map_err(|err| classify(err, seen))?;
    let invalid = |reason: &str| TokenError::InvalidResponse {
        status,
        reason: reason.to_owned(),
        retry_after: None,
        rotated: response
            .refresh_token()
            .map(|t| t.secret().clone())
            .filter(|t| !t.is_empty())
            .map(SecretString::new),
    };
    if !matches!(response.token_type(), BasicTokenType::Bearer) {
        return Err(invalid("token_type is not Bearer"));
    }
    let access = response.access_token().secret();
    if access.is_empty() {
        return Err(invalid("the access_token is empty"));
    }
    let refresh_token = response
        .refresh_token()
        .map(|t| t.secret().clone())
        .filter(|t| !t.is_empty())
        .map(SecretString::new);
    Ok(TokenSet {
        access_token: SecretString::new(access.clone()),
        refresh_token,
        id_token: response
            .extra_fields()
            .id_token
            .clone()
            .map(SecretString::new),
        expires_at: response
            .expires_in()
            .map(|d| now + d.min(Duration::from_secs(366 * 24 * 3600))),
        // GitHub separates scopes with commas.
        scopes: response.scopes().map(|s| {
            s.iter()
                .flat_map(|s| s.split(','))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        }),
        server_date: seen.date,
    })
}

/// The `refresh_token` of a 2xx JSON body that failed to parse as a whole.
fn salvage_refresh_token(status: Option<u16>, body: &[u8]) -> Option<SecretString> {
    #[derive(Deserialize)]
    struct Partial {
        refresh_token: Option<zeroize::Zeroizing<String>>,
    }
    if !status.is_some_and(|s| (200..300).contains(&s)) {
        return None;
    }
    serde_json::from_slice::<Partial>(body)
        .ok()?
        .refresh_token
        .filter(|t| !t.is_empty())
        .map(|t| SecretString::new(t.as_str()))
}

/// An OAuth error sent with a 2xx status and no access token (GitHub
/// answers every token request with HTTP 200).
fn error_with_success_status(status: Option<u16>, body: &[u8]) -> Option<(String, Option<String>)> {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: String,
        error_description: Option<String>,
        access_token: Option<serde::de::IgnoredAny>,
    }
    if !status.is_some_and(|s| (200..300).contains(&s)) {
        return None;
    }
    let parsed = serde_json::from_slice::<ErrorBody>(body).ok()?;
    if parsed.access_token.is_some() || parsed.error.trim().is_empty() {
        return None;
    }
    Some((
        protocol_text(&parsed.error, 64),
        parsed.error_description.map(|d| protocol_text(&d, 300)),
    ))
}

fn classify<T: oauth2::ErrorResponseType + AsRef<str> + std::fmt::Display>(
    err: oauth2::RequestTokenError<TransportError, oauth2::StandardErrorResponse<T>>,
    seen: Seen,
) -> TokenError {
    use oauth2::RequestTokenError as E;
    let Seen {
        status,
        retry_after,
        ..
    } = seen;
    match err {
        E::ServerResponse(response) => TokenError::OAuth {
            error: protocol_text(response.error().as_ref(), 64),
            description: response.error_description().map(|d| protocol_text(d, 300)),
            status,
            retry_after,
        },
        E::Request(transport) => TokenError::Transport(transport),
        E::Parse(_, body)
            if let Some((error, description)) = error_with_success_status(status, &body) =>
        {
            TokenError::OAuth {
                error,
                description,
                status,
                retry_after,
            }
        }
        E::Parse(parse, body) => {
            // Never echo the body or serde's message (it may quote values).
            let path = parse.path().to_string();
            let inner = parse.inner();
            let missing = inner
                .to_string()
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next())
                .filter(|name| {
                    name.len() <= 40 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                })
                .map(str::to_owned);
            let reason = match (status, missing) {
                (Some(s), _) if !(200..300).contains(&s) => {
                    "an error status without a valid OAuth error body".to_owned()
                }
                (_, Some(field)) => format!("the `{field}` field is missing"),
                _ if body.first() == Some(&b'<') => "an HTML page, not a token response".to_owned(),
                _ if matches!(
                    inner.classify(),
                    serde_json::error::Category::Syntax | serde_json::error::Category::Eof
                ) =>
                {
                    "not valid JSON".to_owned()
                }
                _ if path == "." => "not a JSON token response".to_owned(),
                _ => format!("missing or malformed field `{path}`"),
            };
            TokenError::InvalidResponse {
                status,
                reason,
                retry_after,
                rotated: salvage_refresh_token(status, &body),
            }
        }
        E::Other(message) => TokenError::InvalidResponse {
            status,
            reason: if message.contains("Content-Type") {
                "the response is not JSON (Content-Type)".to_owned()
            } else {
                "unexpected response".to_owned()
            },
            retry_after,
            rotated: None,
        },
    }
}
