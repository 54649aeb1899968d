//! `token` and `exec-credential` (kubectl's exec credential plugin).

use std::time::{Duration, SystemTime};

use serde::Serialize;
use zeroize::Zeroizing;

use crate::commands::{Fresh, fresh_token, rfc3339};
use crate::exit::{CliError, Exit};
use crate::{TokenFormat, output, select};

/// `latchkey token --format json`.
#[derive(Serialize)]
struct TokenJson<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_at: Option<String>,
    account: &'a str,
}

/// The text `token` prints for `format` (a trailing newline included).
fn render(fresh: &Fresh, format: TokenFormat) -> Result<Zeroizing<String>, CliError> {
    let token = fresh.token.token.expose();
    let text = match format {
        TokenFormat::Raw => format!("{token}\n"),
        TokenFormat::Header => format!("Authorization: Bearer {token}\n"),
        TokenFormat::Json => {
            let json = TokenJson {
                access_token: token,
                token_type: "Bearer",
                expires_at: fresh.token.expires_at.map(rfc3339),
                account: fresh.account.id.as_str(),
            };
            let mut text = serde_json::to_string(&json)
                .map_err(|err| CliError::new(Exit::Failure, err.to_string()))?;
            text.push('\n');
            text
        }
    };
    Ok(Zeroizing::new(text))
}

/// Warns (stderr) when the provider's tokens live shorter than asked for.
fn warn_short(fresh: &Fresh, min_valid: Duration) {
    if let Some(at) = fresh.token.expires_at
        && at < SystemTime::now() + min_valid
    {
        output::stderr(&format!(
            "latchkey: warning: {}'s new token expires sooner than --min-valid asks \
             (the provider issues shorter-lived tokens)",
            select::who(&fresh.account)
        ));
    }
}

pub fn token(
    selector: Option<&str>,
    min_valid: Duration,
    format: TokenFormat,
) -> Result<Exit, CliError> {
    let fresh = fresh_token(selector, min_valid)?;
    warn_short(&fresh, min_valid);
    output::stdout_bytes(render(&fresh, format)?.as_bytes())?;
    Ok(Exit::Ok)
}

/// The ExecCredential versions whose output this plugin writes (their
/// `status.token` / `status.expirationTimestamp` are the same).
pub const EXEC_V1: &str = "client.authentication.k8s.io/v1";
pub const EXEC_V1BETA1: &str = "client.authentication.k8s.io/v1beta1";

/// The apiVersion to answer with: the one in `KUBERNETES_EXEC_INFO` (what the
/// kubeconfig's `exec.apiVersion` asks for, which client-go checks the
/// answer against), `v1` when it is unset. Anything else is refused.
pub fn requested_api_version(exec_info: Option<&str>) -> Result<&'static str, CliError> {
    let Some(info) = exec_info.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(EXEC_V1);
    };
    let value: serde_json::Value = serde_json::from_str(info).map_err(|err| {
        CliError::usage(format!(
            "KUBERNETES_EXEC_INFO is not valid JSON ({err}); it is set by kubectl for exec plugins"
        ))
    })?;
    let kind = value.get("kind").and_then(|k| k.as_str());
    if kind.is_some_and(|k| k != "ExecCredential") {
        return Err(CliError::usage(format!(
            "KUBERNETES_EXEC_INFO holds a {kind:?}, not an ExecCredential"
        )));
    }
    match value.get("apiVersion").and_then(|v| v.as_str()) {
        Some(EXEC_V1) => Ok(EXEC_V1),
        Some(EXEC_V1BETA1) => Ok(EXEC_V1BETA1),
        other => Err(CliError::usage(format!(
            "kubectl asks for an ExecCredential of apiVersion {}, which latchkey does not write: \
             set `apiVersion: {EXEC_V1}` (or {EXEC_V1BETA1}) in the kubeconfig's user.exec section",
            other.unwrap_or("(none)")
        ))),
    }
}

/// `status.token` and, when the expiry is known, `status.expirationTimestamp`
/// (RFC 3339).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExecStatus<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_timestamp: Option<String>,
    token: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExecCredential<'a> {
    api_version: &'static str,
    kind: &'static str,
    status: ExecStatus<'a>,
}

/// The ExecCredential JSON (and a newline) for a token.
pub fn exec_credential_json(
    api_version: &'static str,
    token: &str,
    expires_at: Option<SystemTime>,
) -> Result<Zeroizing<String>, CliError> {
    let credential = ExecCredential {
        api_version,
        kind: "ExecCredential",
        status: ExecStatus {
            expiration_timestamp: expires_at.map(rfc3339),
            token,
        },
    };
    let mut text = serde_json::to_string(&credential)
        .map_err(|err| CliError::new(Exit::Failure, err.to_string()))?;
    text.push('\n');
    Ok(Zeroizing::new(text))
}

pub fn exec_credential(
    selector: &str,
    min_valid: Duration,
    exec_info: Option<&str>,
) -> Result<Exit, CliError> {
    let api_version = requested_api_version(exec_info)?;
    let fresh = fresh_token(Some(selector), min_valid)?;
    let text = exec_credential_json(
        api_version,
        fresh.token.token.expose(),
        fresh.token.expires_at,
    )?;
    output::stdout_bytes(text.as_bytes())?;
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::secret::SecretString;
    use latchkey_core::session::sign_in::AccessToken;
    use latchkey_core::store::registry::{Account, AccountId, AccountStatus};

    fn at() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    #[test]
    fn exec_credential_has_the_v1_shape() {
        let text = exec_credential_json(EXEC_V1, "tok-1", Some(at())).expect("json");
        let value: serde_json::Value = serde_json::from_str(&text).expect("parses");
        assert_eq!(
            value,
            serde_json::json!({
                "apiVersion": "client.authentication.k8s.io/v1",
                "kind": "ExecCredential",
                "status": {"token": "tok-1", "expirationTimestamp": "2027-01-15T08:00:00Z"}
            })
        );
        let text = exec_credential_json(EXEC_V1, "tok-1", None).expect("json");
        assert!(
            !text.contains("expirationTimestamp"),
            "omitted when unknown"
        );
    }

    #[test]
    fn kubernetes_exec_info_decides_the_api_version() {
        assert_eq!(requested_api_version(None).ok(), Some(EXEC_V1));
        assert_eq!(requested_api_version(Some("")).ok(), Some(EXEC_V1));
        let info = |v: &str| {
            format!(
                r#"{{"apiVersion":"{v}","kind":"ExecCredential","spec":{{"interactive":false}}}}"#
            )
        };
        assert_eq!(
            requested_api_version(Some(&info(EXEC_V1))).ok(),
            Some(EXEC_V1)
        );
        assert_eq!(
            requested_api_version(Some(&info(EXEC_V1BETA1))).ok(),
            Some(EXEC_V1BETA1)
        );
        let err = requested_api_version(Some(&info("client.authentication.k8s.io/v1alpha1")))
            .expect_err("v1alpha1 is gone");
        assert_eq!(err.exit, Exit::Usage);
        assert!(
            err.message.contains("v1alpha1")
                && err
                    .message
                    .contains("apiVersion: client.authentication.k8s.io/v1")
        );
        assert_eq!(
            requested_api_version(Some("{nope"))
                .map_err(|e| e.exit)
                .err(),
            Some(Exit::Usage)
        );
    }

    #[test]
    fn token_formats() {
        let fresh = Fresh {
            account: Account {
                id: AccountId::new("acct-1"),
                provider_id: "work".into(),
                issuer: "https://id.example".into(),
                subject: "s".into(),
                name: None,
                username: None,
                never_expires: false,
                email: Some("a@example.com".into()),
                picture: None,
                label: None,
                scopes: vec![],
                created_at: 0,
                last_refreshed_at: None,
                status: AccountStatus::Active,
            },
            token: AccessToken {
                token: SecretString::new("tok-1"),
                expires_at: Some(at()),
            },
        };
        let raw = render(&fresh, TokenFormat::Raw).expect("raw");
        assert_eq!(raw.as_str(), "tok-1\n");
        let header = render(&fresh, TokenFormat::Header).expect("header");
        assert_eq!(header.as_str(), "Authorization: Bearer tok-1\n");
        let json = render(&fresh, TokenFormat::Json).expect("json");
        let value: serde_json::Value = serde_json::from_str(&json).expect("parses");
        assert_eq!(
            value,
            serde_json::json!({"access_token": "tok-1", "token_type": "Bearer",
                "expires_at": "2027-01-15T08:00:00Z", "account": "acct-1"})
        );
    }
}
