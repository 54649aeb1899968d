//! The preset catalogue: what each well-known provider demands of a native
//! client, as data. The providers file (`preset = "google"`) and the window's
//! "Add provider" dialog both read it; nothing else in the core names a
//! provider.
//!
//! Sources: each provider's own documentation (collected in the project's
//! provider notes); where a provider matches loopback ports exactly (Okta,
//! Auth0) its preset defaults to the app's scheme redirect.

use std::fmt;

/// A provider preset (the providers file's `preset` key).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Preset {
    /// Google (an OAuth "Desktop app" client): loopback only, a client
    /// secret that Google says is not treated as secret,
    /// `access_type=offline` instead of `offline_access`.
    Google,
    /// Microsoft Entra ID v2 (`tenant`: `common`, `organizations`,
    /// `consumers`, a tenant id or domain); a multi-tenant issuer is the
    /// template `…/{tenantid}/v2.0`, checked against the ID token's `tid`.
    Microsoft,
    /// GitHub (an OAuth App or a GitHub App): not OpenID Connect; identity
    /// from `GET /user`; errors with HTTP 200; an OAuth App's tokens never
    /// expire, a GitHub App's rotate on every refresh.
    Github,
    /// GitLab, gitlab.com or self-hosted (`base_url`).
    Gitlab,
    /// Okta (`domain`, `authorization_server`: `default`, a custom server
    /// id, or `org` for the org authorization server).
    Okta,
    /// Auth0 (`domain`): the issuer ends with a slash.
    Auth0,
    /// Keycloak (`base_url` + `realm`).
    Keycloak,
    /// Any OpenID Connect provider (`issuer`, discovered).
    #[default]
    Oidc,
    /// Any OAuth 2.0 server without discovery or ID tokens: explicit
    /// endpoints, identity from a JSON user endpoint.
    Oauth2,
}

/// A field a preset asks for (besides `id`, `name` and `client_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PresetField {
    /// Microsoft tenant.
    Tenant,
    /// Okta or Auth0 domain (`example.okta.com`).
    Domain,
    /// Okta authorization server id.
    AuthorizationServer,
    /// Base URL (GitLab, Keycloak, GitHub Enterprise Server).
    BaseUrl,
    /// Keycloak realm.
    Realm,
    /// The issuer (generic OIDC; an identifier for `oauth2`).
    Issuer,
    /// The explicit endpoints of an `oauth2` server.
    Endpoints,
    /// A client secret, kept in the keychain.
    ClientSecret,
}

/// Where a provider's account identity comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    /// A validated ID token (OpenID Connect).
    IdToken,
    /// A JSON user endpoint called with the access token (GitHub's
    /// `GET /user`, an OAuth 2.0 server's user endpoint).
    UserEndpoint,
}

/// What a preset knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresetInfo {
    /// The preset.
    pub preset: Preset,
    /// Shown to people.
    pub title: &'static str,
    /// Fields the preset needs, in the order a form asks for them.
    pub fields: &'static [PresetField],
    /// Whether the default redirect is the loopback listener (else the
    /// app's scheme).
    pub loopback: bool,
    /// Default scopes.
    pub scopes: &'static [&'static str],
    /// Extra authorization request parameters.
    pub authorization_params: &'static [(&'static str, &'static str)],
    /// Whether the provider requires a client secret from this (public)
    /// client.
    pub client_secret: bool,
    /// Where the identity comes from.
    pub identity: IdentityKind,
    /// OAuth error codes that, like `invalid_grant`, say the refresh token
    /// is dead (GitHub says `bad_refresh_token`).
    pub dead_grant_errors: &'static [&'static str],
    /// A line of help for the "Add provider" dialog.
    pub help: &'static str,
}

const OIDC_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

/// Every preset, in the order the window lists them.
pub const PRESETS: &[PresetInfo] = &[
    PresetInfo {
        preset: Preset::Google,
        title: "Google",
        fields: &[PresetField::ClientSecret],
        loopback: true,
        scopes: &["openid", "profile", "email"],
        authorization_params: &[("access_type", "offline"), ("prompt", "consent")],
        client_secret: true,
        identity: IdentityKind::IdToken,
        dead_grant_errors: &[],
        help: "A \"Desktop app\" OAuth client from the Google Cloud console; its secret is required (Google does not treat it as secret).",
    },
    PresetInfo {
        preset: Preset::Microsoft,
        title: "Microsoft (Entra ID, personal accounts)",
        fields: &[PresetField::Tenant],
        loopback: false,
        scopes: OIDC_SCOPES,
        authorization_params: &[],
        client_secret: false,
        identity: IdentityKind::IdToken,
        dead_grant_errors: &[],
        help: "A \"Mobile and desktop applications\" platform with the redirect URI dev.latchkey:/oauth/callback/<id>; tenant common, organizations, consumers, or your tenant.",
    },
    PresetInfo {
        preset: Preset::Github,
        title: "GitHub",
        // The base URL only for GitHub Enterprise Server (default github.com).
        fields: &[PresetField::BaseUrl, PresetField::ClientSecret],
        loopback: true,
        scopes: &["read:user"],
        authorization_params: &[],
        client_secret: true,
        identity: IdentityKind::UserEndpoint,
        dead_grant_errors: &["bad_refresh_token"],
        help: "An OAuth App or GitHub App with the callback URL http://127.0.0.1/oauth/callback/<id>; base URL only for GitHub Enterprise Server.",
    },
    PresetInfo {
        preset: Preset::Gitlab,
        title: "GitLab",
        fields: &[PresetField::BaseUrl],
        loopback: false,
        scopes: &["openid", "profile", "email"],
        authorization_params: &[],
        client_secret: false,
        identity: IdentityKind::IdToken,
        dead_grant_errors: &[],
        help: "A non-confidential application; base URL https://gitlab.com or your instance.",
    },
    PresetInfo {
        preset: Preset::Okta,
        title: "Okta",
        fields: &[PresetField::Domain, PresetField::AuthorizationServer],
        loopback: false,
        scopes: OIDC_SCOPES,
        authorization_params: &[],
        client_secret: false,
        identity: IdentityKind::IdToken,
        dead_grant_errors: &[],
        help: "A Native app integration with the refresh token grant; authorization server default, a custom id, or org.",
    },
    PresetInfo {
        preset: Preset::Auth0,
        title: "Auth0",
        fields: &[PresetField::Domain],
        loopback: false,
        scopes: OIDC_SCOPES,
        authorization_params: &[],
        client_secret: false,
        identity: IdentityKind::IdToken,
        dead_grant_errors: &[],
        help: "A Native application with \"Allow Offline Access\" on its API; domain such as example.eu.auth0.com.",
    },
    PresetInfo {
        preset: Preset::Keycloak,
        title: "Keycloak",
        fields: &[PresetField::BaseUrl, PresetField::Realm],
        loopback: false,
        scopes: OIDC_SCOPES,
        authorization_params: &[],
        client_secret: false,
        identity: IdentityKind::IdToken,
        dead_grant_errors: &[],
        help: "A public OpenID Connect client; base URL without /realms.",
    },
    PresetInfo {
        preset: Preset::Oidc,
        title: "Other OpenID Connect provider",
        fields: &[PresetField::Issuer],
        loopback: false,
        scopes: &["openid", "offline_access"],
        authorization_params: &[],
        client_secret: false,
        identity: IdentityKind::IdToken,
        dead_grant_errors: &[],
        help: "Any provider that publishes OpenID Connect discovery for its issuer.",
    },
    PresetInfo {
        preset: Preset::Oauth2,
        title: "Other OAuth 2.0 server",
        fields: &[PresetField::Issuer, PresetField::Endpoints],
        loopback: false,
        scopes: &[],
        authorization_params: &[],
        client_secret: false,
        identity: IdentityKind::UserEndpoint,
        dead_grant_errors: &[],
        help: "A server without discovery: its authorization, token and user endpoints.",
    },
];

impl Preset {
    /// The preset's catalogue entry.
    pub fn info(self) -> &'static PresetInfo {
        PRESETS
            .iter()
            .find(|info| info.preset == self)
            .unwrap_or(&PRESETS[PRESETS.len() - 2])
    }

    /// The key used in the providers file.
    pub fn key(self) -> &'static str {
        match self {
            Self::Google => "google",
            Self::Microsoft => "microsoft",
            Self::Github => "github",
            Self::Gitlab => "gitlab",
            Self::Okta => "okta",
            Self::Auth0 => "auth0",
            Self::Keycloak => "keycloak",
            Self::Oidc => "oidc",
            Self::Oauth2 => "oauth2",
        }
    }

    /// The preset of a providers-file key.
    pub fn from_key(key: &str) -> Option<Self> {
        PRESETS
            .iter()
            .map(|info| info.preset)
            .find(|preset| preset.key() == key)
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Microsoft's multi-tenant issuer template (the metadata of `common`,
/// `organizations` and `consumers`); the ID token's `tid` fills it in.
pub const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// The Microsoft tenants whose metadata names the template issuer.
const MICROSOFT_MULTI_TENANTS: [&str; 2] = ["common", "organizations"];

/// The preset-specific fields of one providers-file entry, as written.
#[derive(Debug, Default, Clone)]
pub(crate) struct PresetFields<'a> {
    pub(crate) tenant: Option<&'a str>,
    pub(crate) domain: Option<&'a str>,
    pub(crate) authorization_server: Option<&'a str>,
    pub(crate) base_url: Option<&'a str>,
    pub(crate) realm: Option<&'a str>,
}

/// Where a preset's endpoints come from, resolved from its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The issuer (or, without OIDC, the identity namespace).
    pub(crate) issuer: String,
    /// Whether metadata is discovered.
    pub(crate) discovery: bool,
    /// Endpoints known without discovery: `(field, url)`.
    pub(crate) endpoints: Vec<(&'static str, String)>,
    /// Whether the discovered issuer may be Microsoft's tenant template
    /// (or a tenant's own issuer under the same host).
    pub(crate) tenant_issuer: bool,
}

/// Resolves a preset's issuer and endpoints. `Err` names the field that
/// is missing or wrong.
pub(crate) fn resolve(
    preset: Preset,
    fields: &PresetFields<'_>,
    issuer: Option<&str>,
) -> Result<Resolved, (&'static str, String)> {
    let required = |field: &'static str, value: Option<&str>| {
        value
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or((field, "is required for this preset".to_owned()))
    };
    let host = |field: &'static str, value: Option<&str>| -> Result<String, _> {
        let value = required(field, value)?;
        let value = value.trim_start_matches("https://").trim_end_matches('/');
        if value.is_empty()
            || value
                .chars()
                .any(|c| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        {
            return Err((field, format!("{value:?} is not a host name")));
        }
        Ok(value.to_ascii_lowercase())
    };
    let base = |value: Option<&str>, default: Option<&str>| -> Result<String, _> {
        let value = value.or(default);
        Ok(required("base_url", value)?
            .trim_end_matches('/')
            .to_owned())
    };
    let discovered = |issuer: String| Resolved {
        issuer,
        discovery: true,
        endpoints: Vec::new(),
        tenant_issuer: false,
    };
    // Providers with more than one cloud or custom domains may name their
    // issuer in full instead.
    let only_issuer = issuer.is_some()
        && matches!(
            preset,
            Preset::Microsoft | Preset::Okta | Preset::Auth0 | Preset::Keycloak | Preset::Gitlab
        )
        && fields.domain.is_none()
        && fields.base_url.is_none()
        && fields.tenant.is_none();
    if only_issuer {
        // An issuer written out in full (e.g. a sovereign cloud): the
        // preset's quirks apply to it as given.
        let issuer = required("issuer", issuer)?;
        let tenant_issuer = preset == Preset::Microsoft;
        return Ok(Resolved {
            tenant_issuer,
            ..discovered(issuer)
        });
    }
    if issuer.is_some() && !matches!(preset, Preset::Oidc | Preset::Oauth2) {
        return Err((
            "issuer",
            format!("is derived from the {preset} preset's fields; leave it out"),
        ));
    }
    Ok(match preset {
        Preset::Google => discovered("https://accounts.google.com".into()),
        Preset::Microsoft => {
            let tenant = fields.tenant.unwrap_or("common").trim();
            if tenant.is_empty()
                || !tenant
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            {
                return Err(("tenant", format!("{tenant:?} is not a tenant")));
            }
            Resolved {
                tenant_issuer: true,
                ..discovered(format!("https://login.microsoftonline.com/{tenant}/v2.0"))
            }
        }
        Preset::Github => {
            let web = base(fields.base_url, Some("https://github.com"))?;
            let api = if web == "https://github.com" {
                "https://api.github.com".to_owned()
            } else {
                format!("{web}/api/v3")
            };
            Resolved {
                issuer: web.clone(),
                discovery: false,
                endpoints: vec![
                    (
                        "authorization_endpoint",
                        format!("{web}/login/oauth/authorize"),
                    ),
                    ("token_endpoint", format!("{web}/login/oauth/access_token")),
                    (
                        "device_authorization_endpoint",
                        format!("{web}/login/device/code"),
                    ),
                    ("userinfo_endpoint", format!("{api}/user")),
                ],
                tenant_issuer: false,
            }
        }
        Preset::Gitlab => discovered(base(fields.base_url, Some("https://gitlab.com"))?),
        Preset::Okta => {
            let domain = host("domain", fields.domain)?;
            match fields.authorization_server.unwrap_or("default").trim() {
                "org" => discovered(format!("https://{domain}")),
                server
                    if !server.is_empty() && server.chars().all(|c| c.is_ascii_alphanumeric()) =>
                {
                    discovered(format!("https://{domain}/oauth2/{server}"))
                }
                other => {
                    return Err((
                        "authorization_server",
                        format!("{other:?} is not an authorization server id"),
                    ));
                }
            }
        }
        // Auth0's issuer is the only one here that ends with a slash.
        Preset::Auth0 => discovered(format!("https://{}/", host("domain", fields.domain)?)),
        Preset::Keycloak => {
            let base = base(fields.base_url, None)?;
            let realm = required("realm", fields.realm)?;
            if realm.contains('/') {
                return Err(("realm", format!("{realm:?} is not a realm name")));
            }
            discovered(format!("{base}/realms/{realm}"))
        }
        Preset::Oidc => discovered(required("issuer", issuer)?),
        Preset::Oauth2 => Resolved {
            issuer: required("issuer", issuer)?,
            discovery: false,
            endpoints: Vec::new(),
            tenant_issuer: false,
        },
    })
}

/// Whether a discovered issuer is acceptable for a tenant-issuer
/// (Microsoft) provider configured with `configured`: the template, or a
/// tenant's own issuer on the same host, in the form
/// `https://<host>/<tenant>/v2.0`.
pub(crate) fn tenant_issuer_matches(configured: &str, found: &str) -> bool {
    let Some((scheme_host, rest)) = split_host(configured) else {
        return false;
    };
    let Some((found_host, found_rest)) = split_host(found) else {
        return false;
    };
    if scheme_host != found_host {
        return false;
    }
    let (tenant, version) = rest.split_once('/').unwrap_or((rest, ""));
    let (found_tenant, found_version) = found_rest.split_once('/').unwrap_or((found_rest, ""));
    if version != found_version {
        return false;
    }
    found_tenant == tenant
        || found_tenant == TENANT_PLACEHOLDER
        || (is_tenant_id(found_tenant) && !MICROSOFT_MULTI_TENANTS.contains(&tenant))
}

/// `("https://host", "rest/of/path")` (http too: a loopback test server).
fn split_host(url: &str) -> Option<(&str, &str)> {
    let scheme_len = if url.starts_with("https://") {
        8
    } else if url.starts_with("http://") {
        7
    } else {
        return None;
    };
    let slash = scheme_len + url[scheme_len..].find('/')?;
    Some((&url[..slash], &url[slash + 1..]))
}

/// A tenant id: a GUID.
pub(crate) fn is_tenant_id(text: &str) -> bool {
    uuid_shape(text)
}

fn uuid_shape(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
#[path = "preset_tests.rs"]
mod tests;
