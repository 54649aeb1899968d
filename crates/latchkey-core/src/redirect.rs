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
//! reduced to RFC 6749's character set and capped ([`crate::text`]).

use std::collections::HashMap;
use std::fmt;

use url::Url;

use crate::error::ErrorCode;
use crate::provider::{REDIRECT_SCHEME, is_valid_provider_id};
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
    NotACallback { shown: String },
    /// Longer than [`MAX_REDIRECT_LEN`].
    #[error("the sign-in link is too long ({len} bytes)")]
    TooLong { len: usize },
    /// Bad percent-encoding or not UTF-8.
    #[error("the sign-in link is malformed: {reason}")]
    Malformed { reason: &'static str },
    /// A parameter appears more than once (`name` reduced and capped).
    #[error("the sign-in link repeats the parameter {name:?}")]
    DuplicateParameter { name: String },
    /// A required parameter is missing.
    #[error("the sign-in link has no {name:?} parameter")]
    MissingParameter { name: &'static str },
    /// The authorization response came in the URL fragment (`#code=…`), as
    /// with `response_mode=fragment`: Latchkey accepts it only in the query.
    /// `state` (when the fragment has one) names the pending sign-in to end;
    /// it is never shown.
    #[error(
        "the provider sent the sign-in response in the URL fragment (after '#'), which Latchkey does not accept; \
         check the provider's response_mode for this client (it must be query)"
    )]
    FragmentResponse { state: Option<String> },
    /// The link came on another redirect URI than the one its sign-in was
    /// started with (RFC 9700 §4.4.2: a response meant for another provider).
    #[error(
        "the sign-in response arrived on {found}, but that sign-in was started for {expected} — \
         possible mix-up attack; nothing was stored"
    )]
    RedirectMismatch { expected: String, found: String },
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
/// with — same scheme, host and path (query and fragment are not compared; a
/// loopback port may differ, RFC 8252 §7.3).
pub fn matches_pending(link: &Url, pending_redirect: &Url) -> Result<(), RedirectError> {
    if link.scheme() == pending_redirect.scheme()
        && link.host_str() == pending_redirect.host_str()
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
    let host = url.host_str().map(|h| format!("//{h}")).unwrap_or_default();
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
        || (base.scheme() == REDIRECT_SCHEME
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
    fn per_provider_callback_paths_are_accepted() {
        let r = parse_redirect("dev.latchkey:/oauth/callback/work-2?code=c&state=s", &cb())
            .expect("per-provider path");
        assert_eq!(r.state(), Some("s"));
        assert_eq!(
            callback_uri(
                "dev.latchkey:/oauth/callback/work-2?code=c&state=s#x",
                &cb()
            )
            .expect("callback")
            .as_str(),
            "dev.latchkey:/oauth/callback/work-2"
        );
        for url in [
            "dev.latchkey:/oauth/callback/?code=c&state=s",
            "dev.latchkey:/oauth/callback/Work?code=c&state=s",
            "dev.latchkey:/oauth/callback/a/b?code=c&state=s",
            "dev.latchkey:/oauth/callbackwork?code=c&state=s",
            "dev.latchkey:/oauth/callback/%2e%2e?code=c&state=s",
        ] {
            assert_eq!(
                parse_redirect(url, &cb()).expect_err(url).code(),
                "link_not_callback",
                "{url}"
            );
        }
        // Only the app's own scheme has per-provider paths.
        let loopback = Url::parse("http://127.0.0.1/callback").expect("url");
        assert!(parse_redirect("http://127.0.0.1/callback/p?code=c&state=s", &loopback).is_err());
    }

    #[test]
    fn the_link_must_come_on_the_pending_redirect_uri() {
        let per_provider = Url::parse("dev.latchkey:/oauth/callback/work").expect("url");
        let link = callback_uri("dev.latchkey:/oauth/callback/work?code=c&state=s", &cb())
            .expect("callback");
        assert_eq!(matches_pending(&link, &per_provider), Ok(()));
        let shared =
            callback_uri("dev.latchkey:/oauth/callback?code=c&state=s", &cb()).expect("callback");
        assert_eq!(matches_pending(&shared, &cb()), Ok(()));
        let err = matches_pending(&shared, &per_provider).expect_err("shared for per-provider");
        assert_eq!(err.code(), "redirect_mismatch");
        assert!(err.to_string().contains("mix-up"), "{err}");
        let other = callback_uri("dev.latchkey:/oauth/callback/home?code=c&state=s", &cb())
            .expect("callback");
        assert!(matches_pending(&other, &per_provider).is_err());
        assert!(matches_pending(&link, &cb()).is_err());
    }

    #[test]
    fn authorization_error_text_is_reduced_and_capped() {
        let url = format!(
            "dev.latchkey:/oauth/callback?error=access_denied%E2%80%AE%0A%22x%5C{}&error_description=Click%0D%0Ahttps%3A%2F%2Fevil.example+%E2%80%AEnow%22{}&state=s",
            "e".repeat(200),
            "d".repeat(1000)
        );
        let Redirect::Error(e) = parse_redirect(&url, &cb()).expect("error response") else {
            panic!("error expected")
        };
        assert!(e.error.starts_with("access_deniedxeee"), "{}", e.error);
        assert_eq!(e.error.len(), 64);
        let description = e.description.expect("description");
        assert!(
            description.starts_with("Clickhttps://evil.example now"),
            "{description}"
        );
        assert_eq!(description.len(), 300);
        let allowed = |c: char| matches!(c, ' '..='~') && c != '"' && c != '\\';
        assert!(e.error.chars().chain(description.chars()).all(allowed));
    }

    #[test]
    fn names_echoed_from_a_rejected_link_are_reduced_and_capped() {
        let path = format!("/{}evil\n\"{}", '\u{202e}', "p".repeat(2000));
        let err = parse_redirect(&format!("dev.latchkey:{path}"), &cb()).expect_err("other path");
        let RedirectError::NotACallback { shown } = &err else {
            panic!("{err:?}")
        };
        assert!(shown.len() <= 300, "{}", shown.len());
        assert!(!shown.contains('\n') && !shown.contains('\u{202e}') && !shown.contains('"'));
        let long_name = format!("{}%0A%E2%80%AE", "n".repeat(500));
        let err = parse_redirect(
            &format!("dev.latchkey:/oauth/callback?{long_name}=1&{long_name}=2"),
            &cb(),
        )
        .expect_err("duplicate");
        let RedirectError::DuplicateParameter { name } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(name.len(), 64);
        assert!(name.bytes().all(|b| b == b'n'));
        let err = check_issuer(
            Some("https://evil.example\n\u{202e}\"x"),
            "https://a",
            false,
        )
        .expect_err("mismatch");
        assert!(err.to_string().contains("https://evil.examplex"), "{err}");
    }

    #[test]
    fn a_response_in_the_fragment_is_recognised() {
        let err = parse_redirect(
            "dev.latchkey:/oauth/callback#code=SECRETCODE&state=STATE-1&iss=https%3A%2F%2Fid",
            &cb(),
        )
        .expect_err("fragment");
        assert_eq!(err.code(), "fragment_response");
        assert_eq!(
            err,
            RedirectError::FragmentResponse {
                state: Some("STATE-1".into())
            }
        );
        let message = err.to_string();
        assert!(message.contains("fragment"), "{message}");
        assert!(message.contains("response_mode"), "{message}");
        assert!(!message.contains("STATE-1") && !message.contains("SECRETCODE"));
        // An error response, an implicit-flow response, a malformed one.
        for (url, state) in [
            (
                "dev.latchkey:/oauth/callback/p#error=access_denied&state=S2",
                Some("S2"),
            ),
            (
                "dev.latchkey:/oauth/callback#access_token=AT&token_type=bearer",
                None,
            ),
            ("dev.latchkey:/oauth/callback#code=%zz&state=S3", None),
            ("dev.latchkey:/oauth/callback?state=S4#code=C", Some("S4")),
        ] {
            assert_eq!(
                parse_redirect(url, &cb()).expect_err(url),
                RedirectError::FragmentResponse {
                    state: state.map(str::to_owned)
                },
                "{url}"
            );
        }
        // A fragment that is not a response (some providers append `#_=_`)
        // does not hide a good query.
        assert!(parse_redirect("dev.latchkey:/oauth/callback?code=c&state=s#_=_", &cb()).is_ok());
        assert!(
            parse_redirect("dev.latchkey:/oauth/callback?code=c&state=s#code=d", &cb()).is_ok()
        );
        assert_eq!(
            parse_redirect("dev.latchkey:/oauth/callback#_=_", &cb()).expect_err("empty"),
            RedirectError::MissingParameter { name: "state" }
        );
    }

    #[test]
    fn code_is_redacted_in_debug() {
        let r = parse_redirect("dev.latchkey:/oauth/callback?code=TOPSECRET&state=s", &cb())
            .expect("ok");
        assert!(!format!("{r:?}").contains("TOPSECRET"));
    }
}
