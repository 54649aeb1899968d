//! The authorization response, as it arrives in a redirect (deep link).
//!
//! [`parse_redirect`] is a pure function over the URL: it never consults or
//! changes state, so any page on the web may fire `dev.latchkey:/…` links at
//! the app and the worst they get is a typed error. It accepts only
//! - the base redirect URI's scheme and path, or for the app's own scheme that
//!   path followed by `/<provider id>` (the per-provider redirect URI, see
//!   [`crate::provider::ProviderConfig::redirect_uri_for`]),
//! - a query of at most [`MAX_REDIRECT_LEN`] bytes, strictly percent-encoded UTF-8,
//! - each parameter at most once (a duplicated `code`/`state`/`iss` is how
//!   parameter-pollution attacks start),
//!
//! and returns either the success parameters (RFC 6749 §4.1.2) or the error
//! response (§4.1.2.1). A response in the URL fragment is recognised and
//! refused ([`RedirectError::FragmentResponse`]). Matching `state` to a pending
//! request, checking that the link came on that request's redirect URI
//! ([`matches_pending`]) and checking `iss` (RFC 9207, [`check_issuer`]) is
//! the caller's job.
//!
//! Nothing a link carries reaches a message unfiltered: the server's `error`
//! and `error_description`, and every name or path echoed in an error, are
//! reduced to RFC 6749's character set and capped (the rule of `text.rs`).

use std::collections::HashMap;
use std::fmt;

use url::Url;

use crate::error::ErrorCode;
use crate::provider::is_valid_provider_id;
use crate::secret::SecretString;
use crate::text::{MAX_DESCRIPTION, MAX_ERROR_CODE, protocol_text};

/// Longest redirect URL accepted, in bytes.
pub const MAX_REDIRECT_LEN: usize = 8 * 1024;

/// A successful authorization response.
#[derive(Debug)]
pub struct AuthorizationResponse {
    /// The authorization code (one use only).
    pub code: SecretString,
    /// The `state` echoed back.
    pub state: String,
    /// The `iss` parameter (RFC 9207), when present.
    pub iss: Option<String>,
}

/// An error response from the authorization server (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationErrorResponse {
    /// The `error` code, e.g. `access_denied`: RFC 6749's character set only,
    /// at most 64 characters.
    pub error: String,
    /// `error_description`, when given (shown to people; never trusted as
    /// HTML): RFC 6749's character set only, at most 300 characters.
    pub description: Option<String>,
    /// The `state`, when given.
    pub state: Option<String>,
    /// The `iss`, when given.
    pub iss: Option<String>,
}

/// What a redirect URL carries.
#[derive(Debug)]
pub enum Redirect {
    /// Code and state.
    Success(AuthorizationResponse),
    /// An error from the server.
    Error(AuthorizationErrorResponse),
}

impl Redirect {
    /// The `state` parameter, when there is one.
    pub fn state(&self) -> Option<&str> {
        match self {
            Self::Success(r) => Some(&r.state),
            Self::Error(e) => e.state.as_deref(),
        }
    }

    /// The `iss` parameter, when there is one.
    pub fn iss(&self) -> Option<&str> {
        match self {
            Self::Success(r) => r.iss.as_deref(),
            Self::Error(e) => e.iss.as_deref(),
        }
    }
}

/// Why a redirect was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedirectError {
    /// Not a URL at all.
    #[error("the link is not a valid URL")]
    NotAUrl,
    /// A URL, but not our redirect URI (other scheme or path). `shown` is
    /// reduced to RFC 6749's character set and capped.
    #[error("the link {shown} is not a sign-in callback")]
    NotACallback {
        /// The link, reduced and capped for display.
        shown: String,
    },
    /// Longer than [`MAX_REDIRECT_LEN`].
    #[error("the sign-in link is too long ({len} bytes)")]
    TooLong {
        /// The link's length in bytes.
        len: usize,
    },
    /// Bad percent-encoding or not UTF-8.
    #[error("the sign-in link is malformed: {reason}")]
    Malformed {
        /// What is malformed, in words for a person.
        reason: &'static str,
    },
    /// A parameter appears more than once (`name` reduced and capped).
    #[error("the sign-in link repeats the parameter {name:?}")]
    DuplicateParameter {
        /// The repeated parameter's name, reduced and capped.
        name: String,
    },
    /// A required parameter is missing.
    #[error("the sign-in link has no {name:?} parameter")]
    MissingParameter {
        /// The missing parameter's name (`code` or `state`, RFC 6749 §4.1.2).
        name: &'static str,
    },
    /// The authorization response came in the URL fragment (`#code=…`), as
    /// with `response_mode=fragment`: Latchkey accepts it only in the query.
    /// `state` (when the fragment has one) names the pending sign-in to end;
    /// it is never shown.
    #[error(
        "the provider sent the sign-in response in the URL fragment (after '#'), which Latchkey does not accept; \
         check the provider's response_mode for this client (it must be query)"
    )]
    FragmentResponse {
        /// The fragment's `state`, if any (never shown).
        state: Option<String>,
    },
    /// The link came on another redirect URI than the one its sign-in was
    /// started with (RFC 9700 §4.4.2: a response meant for another provider).
    #[error(
        "the sign-in response arrived on {found}, but that sign-in was started for {expected} — \
         possible mix-up attack; nothing was stored"
    )]
    RedirectMismatch {
        /// The redirect URI the sign-in was started with.
        expected: String,
        /// The redirect URI the link arrived on.
        found: String,
    },
    /// `iss` differs from the issuer the request was sent to (RFC 9207 §2.4).
    #[error(
        "the sign-in response came from {found:?}, not from {expected:?} — possible mix-up attack; nothing was stored"
    )]
    IssuerMismatch {
        /// The issuer the request was sent to.
        expected: String,
        /// The `iss` the response carries (RFC 9207 §2).
        found: String,
    },
    /// `iss` is missing although the provider promises it (RFC 9207 §2.4).
    #[error(
        "the sign-in response has no issuer (iss) although {expected} always sends one; nothing was stored"
    )]
    IssuerMissing {
        /// The issuer the request was sent to.
        expected: String,
    },
}

impl ErrorCode for RedirectError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotAUrl | Self::NotACallback { .. } => "link_not_callback",
            Self::TooLong { .. } => "link_too_long",
            Self::Malformed { .. } => "link_malformed",
            Self::DuplicateParameter { .. } => "link_duplicate_parameter",
            Self::MissingParameter { .. } => "link_missing_parameter",
            Self::FragmentResponse { .. } => "fragment_response",
            Self::RedirectMismatch { .. } => "redirect_mismatch",
            Self::IssuerMismatch { .. } => "issuer_mismatch",
            Self::IssuerMissing { .. } => "issuer_missing",
        }
    }
}

/// Parameters that make a URL fragment an authorization response.
const RESPONSE_PARAMETERS: [&str; 5] = ["code", "state", "error", "access_token", "id_token"];

/// Parses a redirect URL received on the base redirect URI `base` (scheme,
/// host and path must match, or for the app's scheme `<base path>/<provider
/// id>`; the query is the response).
pub fn parse_redirect(url: &str, base: &Url) -> Result<Redirect, RedirectError> {
    let parsed = parse_callback(url, base)?;
    let params = parse_query(parsed.query().unwrap_or(""))?;
    let take = |name: &str| params.get(name).cloned();
    if let Some(error) = take("error") {
        return Ok(Redirect::Error(AuthorizationErrorResponse {
            error: protocol_text(&error, MAX_ERROR_CODE),
            description: take("error_description").map(|d| protocol_text(&d, MAX_DESCRIPTION)),
            state: take("state"),
            iss: take("iss"),
        }));
    }
    if !params.contains_key("code")
        && let Some(fragment) = parsed.fragment()
        && let Some(state) = fragment_response(fragment)
    {
        return Err(RedirectError::FragmentResponse {
            state: state.or_else(|| take("state")).filter(|s| !s.is_empty()),
        });
    }
    // An empty value is as good as none (found by fuzzing: `state` without `=`).
    let state = take("state")
        .filter(|s| !s.is_empty())
        .ok_or(RedirectError::MissingParameter { name: "state" })?;
    let code = take("code")
        .filter(|c| !c.is_empty())
        .ok_or(RedirectError::MissingParameter { name: "code" })?;
    Ok(Redirect::Success(AuthorizationResponse {
        code: SecretString::new(code),
        state,
        iss: take("iss"),
    }))
}

/// The redirect URI a link arrived on: the link without its query and
/// fragment, once it is known to be a callback for `base` (see
/// [`parse_redirect`]). This is what [`matches_pending`] compares.
pub fn callback_uri(url: &str, base: &Url) -> Result<Url, RedirectError> {
    let mut parsed = parse_callback(url, base)?;
    parsed.set_query(None);
    parsed.set_fragment(None);
    Ok(parsed)
}

/// RFC 9700 §4.4.2.2 (mix-up defence by distinct redirect URIs): the link
/// must have come on exactly the redirect URI its pending request was sent
/// with — same scheme, host, port and path (query and fragment are not
/// compared). A loopback redirect's port is its listener's: a response that
/// reached another port is not this request's.
pub fn matches_pending(link: &Url, pending_redirect: &Url) -> Result<(), RedirectError> {
    if link.scheme() == pending_redirect.scheme()
        && link.host_str() == pending_redirect.host_str()
        && link.port() == pending_redirect.port()
        && link.path() == pending_redirect.path()
    {
        Ok(())
    } else {
        Err(RedirectError::RedirectMismatch {
            expected: shown(pending_redirect),
            found: shown(link),
        })
    }
}

/// `scheme:path` of a URL, reduced for messages.
fn shown(url: &Url) -> String {
    let mut host = url.host_str().map(|h| format!("//{h}")).unwrap_or_default();
    if let Some(port) = url.port() {
        host = format!("{host}:{port}");
    }
    protocol_text(
        &format!("{}:{host}{}", url.scheme(), url.path()),
        MAX_DESCRIPTION,
    )
}

/// Length, URL syntax and callback path checks shared by [`parse_redirect`]
/// and [`callback_uri`].
fn parse_callback(url: &str, base: &Url) -> Result<Url, RedirectError> {
    if url.len() > MAX_REDIRECT_LEN {
        return Err(RedirectError::TooLong { len: url.len() });
    }
    let parsed = Url::parse(url).map_err(|_| RedirectError::NotAUrl)?;
    let path_ok = parsed.path() == base.path()
        || (!matches!(base.scheme(), "http" | "https")
            && parsed
                .path()
                .strip_prefix(base.path())
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(is_valid_provider_id));
    if parsed.scheme() != base.scheme() || parsed.host_str() != base.host_str() || !path_ok {
        return Err(RedirectError::NotACallback {
            shown: shown(&parsed),
        });
    }
    Ok(parsed)
}

/// When a URL fragment is an authorization response: `Some(its state)`.
/// Anything else in a fragment (`#_=_`, which some providers append) is not.
fn fragment_response(fragment: &str) -> Option<Option<String>> {
    match parse_query(fragment) {
        Ok(params) => RESPONSE_PARAMETERS
            .iter()
            .any(|name| params.contains_key(*name))
            .then(|| params.get("state").cloned()),
        // Malformed, but still recognisably a response: say so, without a state.
        Err(_) => fragment
            .split('&')
            .filter_map(|pair| pair.split('=').next())
            .any(|name| RESPONSE_PARAMETERS.contains(&name))
            .then_some(None),
    }
}

/// Splits an `application/x-www-form-urlencoded` query strictly: valid
/// percent-encoding, UTF-8, no repeated names.
fn parse_query(query: &str) -> Result<HashMap<String, String>, RedirectError> {
    let mut out = HashMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(name)?;
        let value = decode(value)?;
        if out.contains_key(&name) {
            return Err(RedirectError::DuplicateParameter {
                name: protocol_text(&name, MAX_ERROR_CODE),
            });
        }
        out.insert(name, value);
    }
    Ok(out)
}

fn decode(part: &str) -> Result<String, RedirectError> {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(RedirectError::Malformed {
                    reason: "a '%' is not followed by two hex digits",
                })?;
                let text = std::str::from_utf8(hex).map_err(|_| RedirectError::Malformed {
                    reason: "a '%' is not followed by two hex digits",
                })?;
                let byte = u8::from_str_radix(text, 16).map_err(|_| RedirectError::Malformed {
                    reason: "a '%' is not followed by two hex digits",
                })?;
                out.push(byte);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| RedirectError::Malformed {
        reason: "a parameter is not valid UTF-8",
    })
}

/// RFC 9207 §2.4: `iss` must equal the issuer the request went to; when the
/// provider advertises `authorization_response_iss_parameter_supported`, it
/// must be present.
pub fn check_issuer(
    iss: Option<&str>,
    expected: &str,
    iss_required: bool,
) -> Result<(), RedirectError> {
    match iss {
        Some(found) if found == expected => Ok(()),
        Some(found) => Err(RedirectError::IssuerMismatch {
            expected: expected.to_owned(),
            found: protocol_text(found, MAX_DESCRIPTION),
        }),
        None if iss_required => Err(RedirectError::IssuerMissing {
            expected: expected.to_owned(),
        }),
        None => Ok(()),
    }
}

/// A redirect URL with every parameter value hidden, for logs:
/// `dev.latchkey:/oauth/callback?code=…&state=…`.
pub struct RedactedUrl<'a>(pub &'a str);

impl fmt::Debug for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedactedUrl({self})")
    }
}

impl fmt::Display for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (base, query) = self.0.split_once('?').unwrap_or((self.0, ""));
        let base = base.split('#').next().unwrap_or_default();
        f.write_str(&base.chars().take(200).collect::<String>())?;
        let names: Vec<&str> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .take(20)
            .map(|p| p.split_once('=').map_or(p, |(n, _)| n))
            .collect();
        for (i, name) in names.iter().enumerate() {
            let sep = if i == 0 { '?' } else { '&' };
            let name: String = name
                .chars()
                .take(40)
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            write!(f, "{sep}{name}=…")?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
