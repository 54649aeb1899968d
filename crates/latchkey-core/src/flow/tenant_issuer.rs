//! Microsoft's multi-tenant issuer: the metadata of `/common` and
//! `/organizations` names `https://login.microsoftonline.com/{tenantid}/v2.0`,
//! a template that each ID token fills in with its own `tid`.
//!
//! The expected issuer of an ID token is the template with the token's `tid`
//! (a GUID) put in; the ID token's signature, `aud`, `exp` and `iss` are then
//! checked against that exact string as for any other provider, so reading
//! `tid` before the signature check decides nothing by itself.

use base64::Engine as _;
use serde::Deserialize;

use crate::config::preset::{TENANT_PLACEHOLDER, is_tenant_id};
use crate::id_token::IdTokenError;
use crate::secret::SecretString;

#[derive(Deserialize)]
struct TenantClaim {
    tid: Option<String>,
}

/// The issuer an ID token must name: `issuer` itself, or with its
/// `{tenantid}` replaced by the token's `tid`.
pub(crate) fn expected_issuer(
    issuer: &str,
    id_token: &SecretString,
) -> Result<String, IdTokenError> {
    if !issuer.contains(TENANT_PLACEHOLDER) {
        return Ok(issuer.to_owned());
    }
    let invalid = |reason: &str| IdTokenError::Issuer {
        reason: reason.to_owned(),
    };
    let payload = id_token
        .expose()
        .split('.')
        .nth(1)
        .ok_or_else(|| invalid("the ID token is not a JWT"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| invalid("the ID token's claims are not base64url"))?;
    let claims: TenantClaim = serde_json::from_slice(&bytes)
        .map_err(|_| invalid("the ID token's claims are not JSON"))?;
    let tid = claims
        .tid
        .filter(|tid| is_tenant_id(tid))
        .ok_or_else(|| invalid("a multi-tenant issuer's ID token has no tenant id (tid)"))?;
    Ok(issuer.replace(TENANT_PLACEHOLDER, &tid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(claims: &str) -> SecretString {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        SecretString::new(format!("{}.{}.sig", b64(r#"{"alg":"RS256"}"#), b64(claims)))
    }

    const TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";

    #[test]
    fn template_is_filled_with_the_tokens_tenant() {
        let tid = "9188040d-6c67-4c5b-b112-36a304b66dad";
        let expected =
            expected_issuer(TEMPLATE, &token(&format!(r#"{{"tid":"{tid}"}}"#))).expect("ok");
        assert_eq!(
            expected,
            "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
        );
    }

    #[test]
    fn template_without_a_guid_tid_is_refused() {
        for claims in [r#"{}"#, r#"{"tid":"x/../evil"}"#, r#"{"tid":"common"}"#] {
            let err = expected_issuer(TEMPLATE, &token(claims)).expect_err(claims);
            assert!(matches!(err, IdTokenError::Issuer { .. }), "{claims}");
        }
        assert!(expected_issuer(TEMPLATE, &SecretString::new("garbage")).is_err());
    }

    #[test]
    fn a_plain_issuer_is_used_as_is() {
        let plain = "https://login.example.com";
        assert_eq!(
            expected_issuer(plain, &SecretString::new("not even a jwt")).expect("ok"),
            plain
        );
    }
}
