//! Provider configuration: which authorization servers Latchkey signs in to.
//!
//! Providers are listed in a TOML file, by default
//! `<config dir>/dev.latchkey.app/providers.toml` (on Linux
//! `~/.config/dev.latchkey.app/providers.toml`), or the file named by the
//! `LATCHKEY_PROVIDERS` environment variable:
//!
//! ```toml
//! [[provider]]
//! id = "work"                      # stable id: lowercase letters, digits, '-', '_'
//! name = "Work (Example Corp)"     # shown to people; defaults to the id
//! issuer = "https://login.example.com"   # exact OpenID issuer identifier
//! client_id = "latchkey-desktop"   # a public (native) client
//! scopes = ["openid", "profile", "email", "offline_access"]   # default: openid offline_access
//! # redirect_uri: default "dev.latchkey:/oauth/callback" for providers that
//! # advertise RFC 9207 (iss), else "dev.latchkey:/oauth/callback/<id>"
//!
//! [[provider]]
//! id = "google"
//! preset = "google"                # loopback redirect, secret, access_type=offline
//! client_id = "1234-abc.apps.googleusercontent.com"
//!
//! [[provider]]
//! id = "shop"
//! preset = "auth0"                 # issuer https://shop.eu.auth0.com/ (with its slash)
//! domain = "shop.eu.auth0.com"
//! client_id = "abc"
//! redirect = "loopback"            # http://127.0.0.1:{port}/oauth/callback (RFC 8252 §7.3)
//! loopback_ports = [53682, 53683]  # exact-match providers: the first free one; default: any
//!
//! [[provider]]
//! id = "local-demo"
//! issuer = "http://127.0.0.1:9010"
//! client_id = "latchkey-desktop"
//! insecure_http_loopback = true    # development only: allow http on 127.0.0.1/::1/localhost
//! ```
//!
//! Presets (`google`, `microsoft`, `github`, `gitlab`, `okta`, `auth0`,
//! `keycloak`, `oidc`, `oauth2`) are described in [`crate::config::preset`]
//! and the project's `docs/providers.md`.
//!
//! Each `[[provider]]` entry is validated on its own: one bad entry yields a
//! [`ConfigError`] for that entry and the others still load. Unknown keys are
//! errors, so a typo never silently weakens a setting.

use std::fmt;

use url::{Host, Url};

pub use crate::config::preset::{IdentityKind, Preset};

/// Environment variable naming the providers file.
pub const PROVIDERS_ENV: &str = "LATCHKEY_PROVIDERS";
/// The Latchkey app's identifier ([`AppIdentity::latchkey`](crate::config::identity::AppIdentity::latchkey)), also the name
/// of its config and data folders.
pub const APP_IDENTIFIER: &str = "dev.latchkey.app";
/// The Latchkey app's private-use URI scheme (RFC 8252 §7.1).
pub const REDIRECT_SCHEME: &str = "dev.latchkey";
/// The Latchkey app's default redirect URI (for providers that advertise
/// RFC 9207; see [`ProviderConfig::redirect_uri_for`]).
pub const DEFAULT_REDIRECT_URI: &str = "dev.latchkey:/oauth/callback";

/// A provider's stable identifier, as written in the config file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct ProviderId(pub(crate) String);

impl ProviderId {
    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An issuer identifier (OIDC Discovery §3, RFC 8414 §2): compared as an
/// exact string, so it keeps the text as written (Auth0's ends with a slash).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IssuerUrl {
    pub(crate) url: Url,
    pub(crate) text: String,
}

impl IssuerUrl {
    /// The issuer exactly as configured (no trailing slash added or removed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// True when the host is 127.0.0.1, ::1 or localhost.
    pub fn is_loopback(&self) -> bool {
        is_loopback_url(&self.url)
    }
}

impl fmt::Display for IssuerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// True when a URL's host is a loopback address or `localhost`.
pub fn is_loopback_url(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// One validated provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    /// Stable id.
    pub id: ProviderId,
    /// Display name.
    pub name: String,
    /// Exact issuer identifier.
    pub issuer: IssuerUrl,
    /// OAuth client id of the native (public) client.
    pub client_id: String,
    /// Scopes requested at sign-in.
    pub scopes: Vec<String>,
    /// Redirect URI configured for the client ([`DEFAULT_REDIRECT_URI`] when
    /// the entry sets none). What a sign-in sends is
    /// [`ProviderConfig::redirect_uri_for`].
    pub redirect_uri: Url,
    /// Development only: allow plain http for a loopback issuer and its endpoints.
    pub insecure_http_loopback: bool,
    /// How the authorization response comes back: the app's scheme, or a
    /// listener on 127.0.0.1.
    pub redirect: RedirectKind,
    /// Whether `redirect_uri` is the app's default one (not set, or set to it).
    pub(crate) default_redirect: bool,
    /// The preset the entry uses ([`Preset::Oidc`] when it names none).
    pub preset: Preset,
    /// Whether the metadata is discovered (OIDC Discovery / RFC 8414); else
    /// [`ProviderConfig::endpoints`] is all there is.
    pub discovery: bool,
    /// Endpoints from the preset or the providers file; they take the place
    /// of discovered ones (e.g. a revocation endpoint discovery omits).
    pub endpoints: ConfiguredEndpoints,
    /// Where the account's identity comes from.
    pub identity: IdentityKind,
    /// Extra authorization request parameters (Google's
    /// `access_type=offline`, Auth0's `audience`).
    pub authorization_params: Vec<(String, String)>,
    /// Whether this public client sends a client secret (kept in the
    /// keychain, see [`client_secret_key`]).
    pub client_secret: bool,
    /// OAuth error codes besides `invalid_grant` that mean the grant is dead.
    pub dead_grant_errors: Vec<String>,
    /// Microsoft: the discovered issuer may be the `{tenantid}` template.
    pub(crate) tenant_issuer: bool,
    /// A PEM file of CA certificates trusted besides the system's store.
    pub ca_file: Option<std::path::PathBuf>,
    /// Its certificates (DER), read when the entry was validated.
    pub(crate) ca_certs: Vec<Vec<u8>>,
}

/// Endpoints given by a preset or the providers file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfiguredEndpoints {
    /// Authorization endpoint.
    pub authorization_endpoint: Option<Url>,
    /// Token endpoint.
    pub token_endpoint: Option<Url>,
    /// RFC 7009 revocation endpoint.
    pub revocation_endpoint: Option<Url>,
    /// RFC 8628 device authorization endpoint.
    pub device_authorization_endpoint: Option<Url>,
    /// UserInfo, or the JSON user endpoint of a non-OIDC server.
    pub userinfo_endpoint: Option<Url>,
    /// JWKS URL.
    pub jwks_uri: Option<Url>,
}

/// The vault key of a provider's client secret.
pub fn client_secret_key(provider_id: &str) -> String {
    format!("client-secret.{provider_id}")
}

impl ProviderConfig {
    /// The redirect URI a sign-in with this provider uses.
    ///
    /// Mix-up defence (RFC 9700 §4.4.2): a provider that advertises
    /// `authorization_response_iss_parameter_supported` (RFC 9207) names
    /// itself in every response, so the shared [`DEFAULT_REDIRECT_URI`] is
    /// enough. For any other provider the default becomes a redirect URI of
    /// its own, `dev.latchkey:/oauth/callback/<id>`, so a response can only
    /// complete a sign-in started with that provider. An explicit
    /// `redirect_uri` other than the default is used as written.
    pub fn redirect_uri_for(&self, iss_supported: bool) -> Url {
        let mut uri = self.redirect_uri.clone();
        if !iss_supported && self.default_redirect {
            // The id is a safe path segment (`is_valid_provider_id`).
            uri.set_path(&format!("{}/{}", uri.path(), self.id));
        }
        uri
    }
}

/// How an authorization response reaches the app (the providers file's
/// `redirect` key).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RedirectKind {
    /// A private-use URI scheme (RFC 8252 §7.1), delivered as a deep link.
    #[default]
    Scheme,
    /// A one-request listener on `http://127.0.0.1:{port}` (RFC 8252 §7.3,
    /// the IP literal, never `localhost`), open only while its sign-in is
    /// pending.
    Loopback {
        /// Ports to try in order (for providers that match the port
        /// exactly); empty: an ephemeral port chosen by the OS.
        ports: Vec<u16>,
    },
}

/// The loopback redirect URI before its port is known: what
/// [`ProviderConfig::redirect_uri`] holds for a loopback provider (a listener
/// adds its port, and [`ProviderConfig::redirect_uri_for`] the provider's id
/// when the provider does not advertise RFC 9207).
pub const LOOPBACK_REDIRECT_URI: &str = "http://127.0.0.1/oauth/callback";

/// Providers that share one explicit redirect URI (not the default, which
/// [`ProviderConfig::redirect_uri_for`] splits per provider when needed).
/// When two of them do not advertise RFC 9207, a response meant for one can
/// complete a sign-in started with the other: the caller should warn.
pub fn shared_redirect_uris(configs: &[ProviderConfig]) -> Vec<(Url, Vec<ProviderId>)> {
    let mut groups: Vec<(Url, Vec<ProviderId>)> = Vec::new();
    for config in configs {
        if config.default_redirect {
            continue;
        }
        match groups.iter_mut().find(|(uri, _)| {
            uri.scheme() == config.redirect_uri.scheme()
                && uri.host_str() == config.redirect_uri.host_str()
                && uri.path() == config.redirect_uri.path()
        }) {
            Some((_, ids)) => ids.push(config.id.clone()),
            None => groups.push((config.redirect_uri.clone(), vec![config.id.clone()])),
        }
    }
    groups.retain(|(_, ids)| ids.len() > 1);
    groups
}

// The file itself: reading, parsing, validating (see providers_file.rs).
pub use crate::config::providers_file::{
    ConfigError, ProviderEntry, default_providers_path, is_valid_provider_id, load_providers,
    load_providers_for, parse_providers, parse_providers_for, providers_path_for,
};

#[cfg(test)]
#[path = "provider_tests.rs"]
mod tests;
