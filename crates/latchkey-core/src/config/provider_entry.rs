//! One `[[provider]]` entry of the providers file, validated on its own:
//! its preset resolved into an issuer and endpoints, every URL checked
//! (https, or http on loopback for a development provider), its redirect
//! kind and ports, scopes, extra authorization parameters and whether it
//! uses a client secret (kept in the keychain, never in the file).

use serde::Deserialize;
use url::Url;

use crate::config::identity::AppIdentity;
use crate::config::preset::{PresetFields, resolve};
use crate::config::provider::*;

/// Validates one entry (`index`: its 1-based position, for errors).
pub(crate) fn validate_entry(
    value: toml::Value,
    index: usize,
    identity: &AppIdentity,
) -> Result<ProviderConfig, ConfigError> {
    RawProvider::deserialize(value)
        .map_err(|err| ConfigError::Entry {
            index,
            message: err.message().to_owned(),
        })
        .and_then(|raw| validate(raw, identity))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    id: String,
    name: Option<String>,
    preset: Option<String>,
    issuer: Option<String>,
    client_id: String,
    scopes: Option<Vec<String>>,
    redirect_uri: Option<String>,
    #[serde(default)]
    insecure_http_loopback: bool,
    redirect: Option<RawRedirect>,
    loopback_ports: Option<Vec<i64>>,
    // Preset fields.
    tenant: Option<String>,
    domain: Option<String>,
    authorization_server: Option<String>,
    base_url: Option<String>,
    realm: Option<String>,
    // Endpoints that discovery lacks, or all of them without discovery.
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    jwks_uri: Option<String>,
    authorization_params: Option<std::collections::BTreeMap<String, String>>,
    /// `true`: the client sends a secret kept in the keychain. A string is
    /// refused with advice (no secret in this file).
    client_secret: Option<toml::Value>,
    /// A PEM file of CA certificates to trust for this provider, besides
    /// the system's store (a private CA).
    ca_file: Option<String>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum RawRedirect {
    Scheme,
    Loopback,
}

fn validate(raw: RawProvider, identity: &AppIdentity) -> Result<ProviderConfig, ConfigError> {
    if !is_valid_provider_id(&raw.id) {
        return Err(ConfigError::Invalid {
            field: "id",
            reason: format!(
                "{:?} must be 1-64 lowercase letters, digits, '-' or '_'",
                raw.id
            ),
        });
    }
    let invalid = |field: &'static str, reason: String| ConfigError::Invalid { field, reason };
    let preset = match raw.preset.as_deref() {
        None => Preset::Oidc,
        Some(key) => Preset::from_key(key).ok_or_else(|| {
            let known: Vec<&str> = crate::config::preset::PRESETS
                .iter()
                .map(|p| p.preset.key())
                .collect();
            invalid(
                "preset",
                format!("{key:?} is not one of {}", known.join(", ")),
            )
        })?,
    };
    let info = preset.info();
    let fields = PresetFields {
        tenant: raw.tenant.as_deref(),
        domain: raw.domain.as_deref(),
        authorization_server: raw.authorization_server.as_deref(),
        base_url: raw.base_url.as_deref(),
        realm: raw.realm.as_deref(),
    };
    for (field, value) in [
        ("tenant", &raw.tenant),
        ("domain", &raw.domain),
        ("authorization_server", &raw.authorization_server),
        ("base_url", &raw.base_url),
        ("realm", &raw.realm),
    ] {
        let wanted = match field {
            "tenant" => preset == Preset::Microsoft,
            "domain" => matches!(preset, Preset::Okta | Preset::Auth0),
            "authorization_server" => preset == Preset::Okta,
            "base_url" => matches!(preset, Preset::Gitlab | Preset::Keycloak | Preset::Github),
            _ => preset == Preset::Keycloak,
        };
        if value.is_some() && !wanted {
            return Err(invalid(
                field,
                format!("is not a field of the {preset} preset"),
            ));
        }
    }
    let resolved = resolve(preset, &fields, raw.issuer.as_deref())
        .map_err(|(field, reason)| invalid(field, reason))?;
    let issuer = parse_issuer(&resolved.issuer, raw.insecure_http_loopback)?;
    let allow_http = raw.insecure_http_loopback && issuer.is_loopback();
    let mut endpoints = ConfiguredEndpoints::default();
    let preset_endpoints = resolved
        .endpoints
        .iter()
        .map(|(f, v)| (*f, Some(v.clone())));
    let file_endpoints = [
        ("authorization_endpoint", raw.authorization_endpoint.clone()),
        ("token_endpoint", raw.token_endpoint.clone()),
        ("revocation_endpoint", raw.revocation_endpoint.clone()),
        (
            "device_authorization_endpoint",
            raw.device_authorization_endpoint.clone(),
        ),
        ("userinfo_endpoint", raw.userinfo_endpoint.clone()),
        ("jwks_uri", raw.jwks_uri.clone()),
    ];
    // The file's endpoints win over the preset's (GitHub Enterprise quirks).
    for (field, value) in preset_endpoints.chain(file_endpoints) {
        let Some(value) = value else { continue };
        let url = parse_endpoint(field, &value, allow_http)?;
        let slot = match field {
            "authorization_endpoint" => &mut endpoints.authorization_endpoint,
            "token_endpoint" => &mut endpoints.token_endpoint,
            "revocation_endpoint" => &mut endpoints.revocation_endpoint,
            "device_authorization_endpoint" => &mut endpoints.device_authorization_endpoint,
            "userinfo_endpoint" => &mut endpoints.userinfo_endpoint,
            _ => &mut endpoints.jwks_uri,
        };
        *slot = Some(url);
    }
    if !resolved.discovery {
        for (field, value) in [
            ("authorization_endpoint", &endpoints.authorization_endpoint),
            ("token_endpoint", &endpoints.token_endpoint),
            ("userinfo_endpoint", &endpoints.userinfo_endpoint),
        ] {
            if value.is_none() {
                return Err(invalid(
                    field,
                    "is required: this provider has no discovery, and the user endpoint names the account".into(),
                ));
            }
        }
    }
    let redirect = redirect_kind(&raw, info.loopback)?;
    if raw.client_id.trim().is_empty() {
        return Err(invalid("client_id", "must not be empty".into()));
    }
    let client_secret = match &raw.client_secret {
        None => info.client_secret,
        Some(toml::Value::Boolean(uses)) => *uses,
        Some(_) => {
            return Err(invalid(
                "client_secret",
                "secrets are not kept in this file: write client_secret = true and store the secret in the keychain (Add provider in the window, or `latchkey client-secret <id>`)".into(),
            ));
        }
    };
    let scopes = raw
        .scopes
        .unwrap_or_else(|| info.scopes.iter().map(|s| (*s).to_owned()).collect());
    if let Some(bad) = scopes.iter().find(|s| {
        s.is_empty()
            || s.chars()
                .any(|c| c.is_whitespace() || c == '"' || c == '\\')
    }) {
        return Err(invalid(
            "scopes",
            format!("{bad:?} is not a valid scope token"),
        ));
    }
    let identity_kind = if resolved.discovery || endpoints.jwks_uri.is_some() {
        info.identity
    } else {
        IdentityKind::UserEndpoint
    };
    if identity_kind == IdentityKind::IdToken && !scopes.iter().any(|s| s == "openid") {
        return Err(invalid(
            "scopes",
            "must include \"openid\" (Latchkey signs in with OpenID Connect)".into(),
        ));
    }
    let mut authorization_params: Vec<(String, String)> = info
        .authorization_params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    for (key, value) in raw.authorization_params.unwrap_or_default() {
        if RESERVED_PARAMS.contains(&key.as_str()) {
            return Err(invalid(
                "authorization_params",
                format!("{key:?} is set by Latchkey itself"),
            ));
        }
        authorization_params.retain(|(k, _)| k != &key);
        authorization_params.push((key, value));
    }
    let (ca_file, ca_certs) = match &raw.ca_file {
        None => (None, Vec::new()),
        Some(path) => {
            let certs = read_ca_file(path)?;
            (Some(std::path::PathBuf::from(path)), certs)
        }
    };
    let name = raw.name.clone().unwrap_or_else(|| raw.id.clone());
    let base = ProviderConfig {
        default_redirect: true,
        name,
        id: ProviderId(raw.id.clone()),
        issuer,
        client_id: raw.client_id.clone(),
        scopes,
        redirect_uri: Url::parse(LOOPBACK_REDIRECT_URI).map_err(|err| ConfigError::BadUrl {
            field: "redirect_uri",
            value: LOOPBACK_REDIRECT_URI.into(),
            reason: err.to_string(),
        })?,
        insecure_http_loopback: raw.insecure_http_loopback,
        redirect: redirect.clone(),
        preset,
        discovery: resolved.discovery,
        endpoints,
        identity: identity_kind,
        authorization_params,
        client_secret,
        dead_grant_errors: info
            .dead_grant_errors
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        tenant_issuer: resolved.tenant_issuer,
        ca_file,
        ca_certs,
    };
    if redirect != RedirectKind::Scheme {
        return Ok(base);
    }
    let default_uri = identity.redirect_uri();
    let redirect_text = raw
        .redirect_uri
        .clone()
        .unwrap_or_else(|| default_uri.to_string());
    let redirect_uri = Url::parse(&redirect_text).map_err(|err| ConfigError::BadUrl {
        field: "redirect_uri",
        value: redirect_text.clone(),
        reason: err.to_string(),
    })?;
    let loopback_redirect = redirect_uri.scheme() == "http" && is_loopback_url(&redirect_uri);
    if redirect_uri.scheme() != identity.scheme() && !loopback_redirect {
        return Err(ConfigError::Invalid {
            field: "redirect_uri",
            reason: format!(
                "must use the app's scheme ({}:/...) or a loopback http address, not {redirect_text}",
                identity.scheme()
            ),
        });
    }
    Ok(ProviderConfig {
        default_redirect: redirect_uri == default_uri,
        redirect_uri,
        ..base
    })
}

/// The DER certificates of a `ca_file` (PEM): an absolute path, at least
/// one certificate, every block readable.
fn read_ca_file(path: &str) -> Result<Vec<Vec<u8>>, ConfigError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let invalid = |reason: String| ConfigError::Invalid {
        field: "ca_file",
        reason,
    };
    if !std::path::Path::new(path).is_absolute() {
        return Err(invalid(format!("{path:?} must be an absolute path")));
    }
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|err| invalid(format!("cannot read {path}: {err}")))?
        .map(|cert| cert.map(|c| c.as_ref().to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| invalid(format!("{path} is not a PEM certificate file: {err}")))?;
    if certs.is_empty() {
        return Err(invalid(format!("{path} holds no PEM certificate")));
    }
    Ok(certs)
}

/// Authorization request parameters Latchkey sets itself.
const RESERVED_PARAMS: [&str; 8] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

/// An endpoint given in the file: https, or http on loopback for a
/// development provider.
fn parse_endpoint(field: &'static str, value: &str, allow_http: bool) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|err| ConfigError::BadUrl {
        field,
        value: value.to_owned(),
        reason: err.to_string(),
    })?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_http && is_loopback_url(&url) => Ok(url),
        _ => Err(ConfigError::BadUrl {
            field,
            value: value.to_owned(),
            reason: "must be an https URL".into(),
        }),
    }
}

/// The entry's `redirect` and `loopback_ports`: ports 1024-65535, each once;
/// `redirect_uri` belongs to scheme redirects, `loopback_ports` to loopback ones.
fn redirect_kind(raw: &RawProvider, loopback: bool) -> Result<RedirectKind, ConfigError> {
    let invalid = |field, reason: &str| ConfigError::Invalid {
        field,
        reason: reason.to_owned(),
    };
    match (
        raw.redirect.unwrap_or(if loopback {
            RawRedirect::Loopback
        } else {
            RawRedirect::Scheme
        }),
        &raw.loopback_ports,
    ) {
        (RawRedirect::Scheme, None) => Ok(RedirectKind::Scheme),
        (RawRedirect::Scheme, Some(_)) => Err(invalid(
            "loopback_ports",
            "is only for redirect = \"loopback\"",
        )),
        (RawRedirect::Loopback, _) if raw.redirect_uri.is_some() => Err(invalid(
            "redirect_uri",
            "is only for redirect = \"scheme\"; a loopback redirect is http://127.0.0.1:{port}/oauth/callback",
        )),
        (RawRedirect::Loopback, ports) => {
            let ports = ports.as_deref().unwrap_or_default();
            let mut valid = Vec::with_capacity(ports.len());
            for &port in ports {
                let port = u16::try_from(port)
                    .ok()
                    .filter(|p| *p >= 1024)
                    .ok_or_else(|| {
                        invalid(
                            "loopback_ports",
                            &format!("{port} is not a port from 1024 to 65535"),
                        )
                    })?;
                if valid.contains(&port) {
                    return Err(invalid(
                        "loopback_ports",
                        &format!("{port} is listed twice"),
                    ));
                }
                valid.push(port);
            }
            if raw.loopback_ports.is_some() && valid.is_empty() {
                return Err(invalid(
                    "loopback_ports",
                    "must list at least one port (or be left out)",
                ));
            }
            Ok(RedirectKind::Loopback { ports: valid })
        }
    }
}

/// Parses and checks an issuer identifier: https, or http on loopback when
/// `insecure_http_loopback` is set; no query, no fragment.
pub fn parse_issuer(text: &str, insecure_http_loopback: bool) -> Result<IssuerUrl, ConfigError> {
    let url = Url::parse(text).map_err(|err| ConfigError::BadUrl {
        field: "issuer",
        value: text.to_owned(),
        reason: err.to_string(),
    })?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::IssuerQuery {
            issuer: text.to_owned(),
        });
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_url(&url) && insecure_http_loopback => {}
        "http" if is_loopback_url(&url) => {
            return Err(ConfigError::InsecureIssuer {
                issuer: text.to_owned(),
                hint: " (for a local development server set insecure_http_loopback = true)",
            });
        }
        "http" => {
            return Err(ConfigError::InsecureIssuer {
                issuer: text.to_owned(),
                hint: " (plain http is only allowed for loopback development servers)",
            });
        }
        _ => {
            return Err(ConfigError::BadUrl {
                field: "issuer",
                value: text.to_owned(),
                reason: "must be an https URL".into(),
            });
        }
    }
    if url.host().is_none() {
        return Err(ConfigError::BadUrl {
            field: "issuer",
            value: text.to_owned(),
            reason: "has no host".into(),
        });
    }
    let canonical = url.as_str();
    // `Url` adds a '/' to an empty path: an issuer without it is written so.
    let canonical = if url.path() == "/" && !text.ends_with('/') {
        canonical.strip_suffix('/').unwrap_or(canonical)
    } else {
        canonical
    };
    if canonical != text {
        return Err(ConfigError::BadUrl {
            field: "issuer",
            value: text.to_owned(),
            reason: format!(
                "is not in canonical form (did you mean {canonical:?}?); issuers are compared exactly"
            ),
        });
    }
    let issuer = IssuerUrl {
        text: text.to_owned(),
        url,
    };
    Ok(issuer)
}
