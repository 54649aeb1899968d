//! The authorization response, as it arrives in a redirect (deep link).
//!
//! [`parse_redirect`] is a pure function over the URL: it never consults or
//! changes state, so any page on the web may fire `dev.latchkey:/…` links at
//! the app and the worst they get is a typed error. It accepts only
//! - the configured redirect URI's scheme and path,
//! - a query of at most [`MAX_REDIRECT_LEN`] bytes, strictly percent-encoded UTF-8,
//! - each parameter at most once (a duplicated `code`/`state`/`iss` is how
//!   parameter-pollution attacks start),
//!
//! and returns either the success parameters (RFC 6749 §4.1.2) or the error
//! response (§4.1.2.1). Matching `state` to a pending request and checking
//! `iss` (RFC 9207) is [`check_issuer`]'s and the pending store's job.

use std::collections::HashMap;
use std::fmt;

use url::Url;

use crate::error::ErrorCode;
use crate::secret::SecretString;

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
    /// The `error` code, e.g. `access_denied`.
    pub error: String,
    /// `error_description`, when given (shown to people; never trusted as HTML).
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
    /// A URL, but not our redirect URI (other scheme or path).
    #[error("the link {shown} is not a sign-in callback")]
    NotACallback { shown: String },
    /// Longer than [`MAX_REDIRECT_LEN`].
    #[error("the sign-in link is too long ({len} bytes)")]
    TooLong { len: usize },
    /// Bad percent-encoding or not UTF-8.
    #[error("the sign-in link is malformed: {reason}")]
    Malformed { reason: &'static str },
    /// A parameter appears more than once.
    #[error("the sign-in link repeats the parameter {name:?}")]
    DuplicateParameter { name: String },
    /// A required parameter is missing.
    #[error("the sign-in link has no {name:?} parameter")]
    MissingParameter { name: &'static str },
    /// `iss` differs from the issuer the request was sent to (RFC 9207 §2.4).
    #[error(
        "the sign-in response came from {found:?}, not from {expected:?} — possible mix-up attack; nothing was stored"
    )]
    IssuerMismatch { expected: String, found: String },
    /// `iss` is missing although the provider promises it (RFC 9207 §2.4).
    #[error(
        "the sign-in response has no issuer (iss) although {expected} always sends one; nothing was stored"
    )]
    IssuerMissing { expected: String },
}

impl ErrorCode for RedirectError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotAUrl | Self::NotACallback { .. } => "link_not_callback",
            Self::TooLong { .. } => "link_too_long",
            Self::Malformed { .. } => "link_malformed",
            Self::DuplicateParameter { .. } => "link_duplicate_parameter",
            Self::MissingParameter { .. } => "link_missing_parameter",
            Self::IssuerMismatch { .. } => "issuer_mismatch",
            Self::IssuerMissing { .. } => "issuer_missing",
        }
    }
}

/// Parses a redirect URL for the redirect URI `expected` (scheme, host and
/// path must match; the query is the response).
pub fn parse_redirect(url: &str, expected: &Url) -> Result<Redirect, RedirectError> {
    if url.len() > MAX_REDIRECT_LEN {
        return Err(RedirectError::TooLong { len: url.len() });
    }
    let parsed = Url::parse(url).map_err(|_| RedirectError::NotAUrl)?;
    if parsed.scheme() != expected.scheme()
        || parsed.host_str() != expected.host_str()
        || parsed.path() != expected.path()
    {
        return Err(RedirectError::NotACallback {
            shown: format!("{}:{}", parsed.scheme(), parsed.path()),
        });
    }
    let params = parse_query(parsed.query().unwrap_or(""))?;
    let take = |name: &str| params.get(name).cloned();
    if let Some(error) = take("error") {
        return Ok(Redirect::Error(AuthorizationErrorResponse {
            error,
            description: take("error_description"),
            state: take("state"),
            iss: take("iss"),
        }));
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

/// Splits an `application/x-www-form-urlencoded` query strictly: valid
/// percent-encoding, UTF-8, no repeated names.
fn parse_query(query: &str) -> Result<HashMap<String, String>, RedirectError> {
    let mut out = HashMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(name)?;
        let value = decode(value)?;
        if out.contains_key(&name) {
            return Err(RedirectError::DuplicateParameter { name });
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
            found: found.to_owned(),
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
mod tests {
    use super::*;

    fn cb() -> Url {
        Url::parse("dev.latchkey:/oauth/callback").expect("url")
    }

    #[test]
    fn success_response() {
        let r = parse_redirect(
            "dev.latchkey:/oauth/callback?code=abc%2Bdef&state=s1&iss=https%3A%2F%2Fid.example",
            &cb(),
        )
        .expect("ok");
        let Redirect::Success(r) = r else {
            panic!("success expected")
        };
        assert_eq!(r.code.expose(), "abc+def");
        assert_eq!(r.state, "s1");
        assert_eq!(r.iss.as_deref(), Some("https://id.example"));
    }

    #[test]
    fn error_response_carries_description() {
        let r = parse_redirect(
            "dev.latchkey:/oauth/callback?error=access_denied&error_description=End-User+aborted+interaction&state=s1",
            &cb(),
        )
        .expect("ok");
        let Redirect::Error(e) = r else {
            panic!("error expected")
        };
        assert_eq!(e.error, "access_denied");
        assert_eq!(
            e.description.as_deref(),
            Some("End-User aborted interaction")
        );
        assert_eq!(e.state.as_deref(), Some("s1"));
    }

    #[test]
    fn duplicates_are_rejected() {
        for url in [
            "dev.latchkey:/oauth/callback?code=a&code=b&state=s",
            "dev.latchkey:/oauth/callback?code=a&state=s&state=t",
            "dev.latchkey:/oauth/callback?code=a&state=s&iss=x&iss=y",
        ] {
            let err = parse_redirect(url, &cb()).expect_err(url);
            assert_eq!(err.code(), "link_duplicate_parameter");
        }
    }

    #[test]
    fn missing_parameters() {
        assert_eq!(
            parse_redirect("dev.latchkey:/oauth/callback?code=a", &cb()).expect_err("no state"),
            RedirectError::MissingParameter { name: "state" }
        );
        assert_eq!(
            parse_redirect("dev.latchkey:/oauth/callback?state=a", &cb()).expect_err("no code"),
            RedirectError::MissingParameter { name: "code" }
        );
    }

    #[test]
    fn empty_state_or_code_counts_as_missing() {
        for (url, name) in [
            ("dev.latchkey:/oauth/callback?code=&state=s", "code"),
            ("dev.latchkey:/oauth/callback?code=c&state", "state"),
            ("dev.latchkey:/oauth/callback?code=c&state\t\n", "state"),
        ] {
            assert_eq!(
                parse_redirect(url, &cb()).expect_err(url),
                RedirectError::MissingParameter { name },
                "{url}"
            );
        }
    }

    #[test]
    fn other_paths_schemes_and_garbage() {
        for url in [
            "dev.latchkey:/other?code=a&state=s",
            "https://evil.example/oauth/callback?code=a&state=s",
            "dev.latchkey://oauth/callback?code=a&state=s",
        ] {
            assert_eq!(
                parse_redirect(url, &cb()).expect_err(url).code(),
                "link_not_callback"
            );
        }
        assert_eq!(
            parse_redirect("::::", &cb()).expect_err("garbage"),
            RedirectError::NotAUrl
        );
    }

    #[test]
    fn malformed_encoding_and_non_utf8() {
        for url in [
            "dev.latchkey:/oauth/callback?code=%zz&state=s",
            "dev.latchkey:/oauth/callback?code=%4&state=s",
            "dev.latchkey:/oauth/callback?code=%ff%fe&state=s",
        ] {
            assert_eq!(
                parse_redirect(url, &cb()).expect_err(url).code(),
                "link_malformed"
            );
        }
    }

    #[test]
    fn oversized_link() {
        let url = format!(
            "dev.latchkey:/oauth/callback?code={}&state=s",
            "a".repeat(MAX_REDIRECT_LEN)
        );
        assert_eq!(
            parse_redirect(&url, &cb()).expect_err("long").code(),
            "link_too_long"
        );
    }

    #[test]
    fn issuer_checks() {
        assert!(check_issuer(Some("https://a"), "https://a", true).is_ok());
        assert!(check_issuer(None, "https://a", false).is_ok());
        assert_eq!(
            check_issuer(Some("https://b"), "https://a", false)
                .expect_err("mismatch")
                .code(),
            "issuer_mismatch"
        );
        assert_eq!(
            check_issuer(None, "https://a", true)
                .expect_err("missing")
                .code(),
            "issuer_missing"
        );
        // Exact comparison: no normalisation.
        assert!(check_issuer(Some("https://a/"), "https://a", false).is_err());
    }

    #[test]
    fn redacted_url_hides_values() {
        let shown = RedactedUrl("dev.latchkey:/oauth/callback?code=SECRET&state=STATE").to_string();
        assert_eq!(shown, "dev.latchkey:/oauth/callback?code=…&state=…");
        assert!(!shown.contains("SECRET"));
    }

    #[test]
    fn code_is_redacted_in_debug() {
        let r = parse_redirect("dev.latchkey:/oauth/callback?code=TOPSECRET&state=s", &cb())
            .expect("ok");
        assert!(!format!("{r:?}").contains("TOPSECRET"));
    }
}
