//! Identity without an ID token: a JSON user endpoint called with the
//! access token (GitHub's `GET /user`, an OAuth 2.0 server's user or
//! UserInfo endpoint).
//!
//! The account key is `(issuer, stable user id)`: the id is the document's
//! `sub` or, failing that, its `id` (GitHub's numeric user id). Never the
//! login or the email, which people can change and reuse.

use http::{Method, header};
use serde_json::Value;
use url::Url;

use crate::http::HttpClient;
use crate::id_token::{IdTokenError, Identity};
use crate::secret::SecretString;

/// Asks the user endpoint who holds `access_token`; `issuer` is the
/// provider's identity namespace (its issuer or web base URL).
pub async fn identify_by_user_endpoint(
    http: &dyn HttpClient,
    endpoint: &Url,
    access_token: &SecretString,
    issuer: &str,
) -> Result<Identity, IdTokenError> {
    let fail = |reason: String| IdTokenError::UserInfo { reason };
    let request = http::Request::builder()
        .method(Method::GET)
        .uri(endpoint.as_str())
        .header(header::ACCEPT, "application/json")
        // GitHub's API refuses requests without one.
        .header(header::USER_AGENT, "Latchkey")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", access_token.expose()),
        )
        .body(Vec::new())
        .map_err(|_| fail("invalid user endpoint URL".into()))?;
    let response = http
        .execute(request)
        .await
        .map_err(|err| fail(err.to_string()))?;
    if !response.status().is_success() {
        return Err(fail(format!(
            "the user endpoint answered HTTP {}",
            response.status().as_u16()
        )));
    }
    let document: Value = serde_json::from_slice(response.body())
        .map_err(|_| fail("the user endpoint did not answer with JSON".into()))?;
    identity_from_document(&document, issuer)
        .ok_or_else(|| fail("the user endpoint's answer has no user id (sub or id)".into()))
}

/// The identity a user document names (`None` without a stable id).
pub(crate) fn identity_from_document(document: &Value, issuer: &str) -> Option<Identity> {
    let text = |keys: &[&str]| {
        keys.iter().find_map(|key| {
            document
                .get(*key)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        })
    };
    let subject = match document.get("sub").or_else(|| document.get("id"))? {
        Value::String(s) if !s.trim().is_empty() => s.trim().to_owned(),
        Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        _ => return None,
    };
    Some(Identity {
        issuer: issuer.to_owned(),
        subject,
        name: text(&["name"]),
        username: text(&["preferred_username", "login", "username"]),
        email: text(&["email"]),
        picture: text(&["picture", "avatar_url"]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn github_user_is_keyed_by_its_numeric_id_not_its_login() {
        let identity = identity_from_document(
            &json!({"login": "octocat", "id": 583231, "name": "The Octocat", "email": null,
                    "avatar_url": "https://avatars.example/u/583231"}),
            "https://github.com",
        )
        .expect("identity");
        assert_eq!(identity.subject, "583231");
        assert_eq!(identity.issuer, "https://github.com");
        assert_eq!(identity.username.as_deref(), Some("octocat"));
        assert_eq!(identity.name.as_deref(), Some("The Octocat"));
        assert_eq!(identity.email, None);
        assert_eq!(
            identity.picture.as_deref(),
            Some("https://avatars.example/u/583231")
        );
    }

    #[test]
    fn sub_wins_over_id_and_no_id_is_no_identity() {
        let identity =
            identity_from_document(&json!({"sub": "u-1", "id": 7}), "https://a").expect("id");
        assert_eq!(identity.subject, "u-1");
        assert!(identity_from_document(&json!({"email": "a@b.c"}), "https://a").is_none());
        assert!(identity_from_document(&json!({"id": 1.5}), "https://a").is_none());
        assert!(identity_from_document(&json!({"sub": "  "}), "https://a").is_none());
    }
}
