//! A providers-file entry as the window's "Add provider" dialog fills it:
//! the preset, the provider's id, name and client id, and the fields its
//! preset asks for ([`PresetInfo::fields`](crate::config::preset::PresetInfo)).
//! It is only ever turned into TOML and read back by the providers-file
//! parser, so a draft is valid exactly when the same text written by hand
//! would be.
//!
//! A draft has no client secret: a preset that needs one says so in the
//! catalogue (the parser derives [`ProviderConfig::client_secret`] from it)
//! and the secret itself goes to the keychain, never to the file.

use toml_edit::{Array, DocumentMut, Item, Table, Value};

use crate::config::identity::AppIdentity;
use crate::config::preset::Preset;
use crate::config::provider::{ConfigError, ProviderConfig, parse_providers_for};

/// The keys of a `[[provider]]` entry that a draft sets (and, when editing,
/// removes when the draft leaves them empty). Any other key of an entry —
/// `authorization_params`, `loopback_ports`, `client_secret = true`, … — is
/// the person's and is kept as written.
pub const DRAFT_KEYS: [&str; 17] = [
    "id",
    "name",
    "preset",
    "client_id",
    "tenant",
    "domain",
    "authorization_server",
    "base_url",
    "realm",
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "revocation_endpoint",
    "scopes",
    "redirect",
    "insecure_http_loopback",
];

/// A provider entry to add, or the new state of one to edit. Field names are
/// the providers file's keys; an empty text counts as not given.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderDraft {
    /// The preset ([`Preset::Oidc`] by default).
    pub preset: Preset,
    /// The stable id (1-64 lowercase letters, digits, `-`, `_`).
    pub id: String,
    /// Display name (default: the id).
    pub name: Option<String>,
    /// The public client's id.
    pub client_id: String,
    /// Microsoft tenant.
    pub tenant: Option<String>,
    /// Okta or Auth0 domain.
    pub domain: Option<String>,
    /// Okta authorization server.
    pub authorization_server: Option<String>,
    /// GitLab, Keycloak or GitHub Enterprise base URL.
    pub base_url: Option<String>,
    /// Keycloak realm.
    pub realm: Option<String>,
    /// Issuer (`oidc`; the identity namespace of `oauth2`).
    pub issuer: Option<String>,
    /// `oauth2`: the authorization endpoint.
    pub authorization_endpoint: Option<String>,
    /// `oauth2`: the token endpoint.
    pub token_endpoint: Option<String>,
    /// `oauth2`: the JSON user endpoint.
    pub userinfo_endpoint: Option<String>,
    /// An RFC 7009 revocation endpoint (when discovery omits it).
    pub revocation_endpoint: Option<String>,
    /// Scopes (default: the preset's).
    pub scopes: Option<Vec<String>>,
    /// `scheme` or `loopback` (default: the preset's).
    pub redirect: Option<String>,
    /// Development only: plain http for a loopback issuer and its endpoints.
    pub insecure_http_loopback: bool,
}

/// Trimmed, `None` when empty.
fn given(text: &Option<String>) -> Option<&str> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

impl ProviderDraft {
    /// The value of each [`DRAFT_KEYS`] key, `None` for one to leave out.
    pub(crate) fn values(&self) -> Vec<(&'static str, Option<Value>)> {
        let text = |value: Option<&str>| value.map(Value::from);
        let scopes = self.scopes.as_ref().map(|scopes| {
            let list: Array = scopes
                .iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .collect();
            Value::Array(list)
        });
        vec![
            ("id", Some(Value::from(self.id.trim()))),
            ("name", text(given(&self.name))),
            ("preset", Some(Value::from(self.preset.key()))),
            ("client_id", Some(Value::from(self.client_id.trim()))),
            ("tenant", text(given(&self.tenant))),
            ("domain", text(given(&self.domain))),
            (
                "authorization_server",
                text(given(&self.authorization_server)),
            ),
            ("base_url", text(given(&self.base_url))),
            ("realm", text(given(&self.realm))),
            ("issuer", text(given(&self.issuer))),
            (
                "authorization_endpoint",
                text(given(&self.authorization_endpoint)),
            ),
            ("token_endpoint", text(given(&self.token_endpoint))),
            ("userinfo_endpoint", text(given(&self.userinfo_endpoint))),
            (
                "revocation_endpoint",
                text(given(&self.revocation_endpoint)),
            ),
            ("scopes", scopes),
            ("redirect", text(given(&self.redirect))),
            (
                "insecure_http_loopback",
                self.insecure_http_loopback.then(|| Value::from(true)),
            ),
        ]
    }

    /// The entry as a new `[[provider]]` table.
    pub fn to_table(&self) -> Table {
        let mut table = Table::new();
        for (key, value) in self.values() {
            if let Some(value) = value {
                table.insert(key, Item::Value(value));
            }
        }
        table
    }

    /// The draft of an existing entry (to edit it): its [`DRAFT_KEYS`]
    /// values; a key of another type than the parser accepts is left empty
    /// (the parser would refuse the entry anyway).
    pub fn from_table(table: &Table) -> Self {
        let text = |key: &str| table.get(key).and_then(Item::as_str).map(str::to_owned);
        Self {
            preset: text("preset")
                .and_then(|key| Preset::from_key(&key))
                .unwrap_or_default(),
            id: text("id").unwrap_or_default(),
            name: text("name"),
            client_id: text("client_id").unwrap_or_default(),
            tenant: text("tenant"),
            domain: text("domain"),
            authorization_server: text("authorization_server"),
            base_url: text("base_url"),
            realm: text("realm"),
            issuer: text("issuer"),
            authorization_endpoint: text("authorization_endpoint"),
            token_endpoint: text("token_endpoint"),
            userinfo_endpoint: text("userinfo_endpoint"),
            revocation_endpoint: text("revocation_endpoint"),
            scopes: table.get("scopes").and_then(Item::as_array).map(|list| {
                list.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            }),
            redirect: text("redirect"),
            insecure_http_loopback: table
                .get("insecure_http_loopback")
                .and_then(Item::as_bool)
                .unwrap_or(false),
        }
    }

    /// Validates the draft on its own, by the providers-file parser: the
    /// configuration the entry would give, or why the parser refuses it.
    pub fn validate(&self, identity: &AppIdentity) -> Result<ProviderConfig, ConfigError> {
        validate_table(&self.to_table(), identity)
    }
}

/// Parses one `[[provider]]` table alone, as the providers file would.
pub(crate) fn validate_table(
    table: &Table,
    identity: &AppIdentity,
) -> Result<ProviderConfig, ConfigError> {
    let mut doc = DocumentMut::new();
    let mut list = toml_edit::ArrayOfTables::new();
    list.push(table.clone());
    doc.insert("provider", Item::ArrayOfTables(list));
    let text = doc.to_string();
    let mut entries = parse_providers_for(&text, identity)
        .map_err(|message| ConfigError::Entry { index: 1, message })?;
    match entries.pop() {
        Some(entry) => entry.config,
        None => Err(ConfigError::Entry {
            index: 1,
            message: "the entry is empty".into(),
        }),
    }
}
