//! What the webview may see. Built from the shell's state at the boundary;
//! nothing here can hold a token, code or verifier.

use serde::Serialize;

use crate::error::UiError;

/// The whole window state.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StateDto {
    /// The app's version.
    pub version: &'static str,
    /// The accounts file.
    pub accounts_file: Option<String>,
    /// The log file.
    pub log_file: Option<String>,
    /// Where the providers file is (or would be).
    pub providers_file: Option<String>,
    /// A problem with the providers file as a whole.
    pub providers_file_error: Option<UiError>,
    /// One entry per configured provider.
    pub providers: Vec<ProviderDto>,
    /// The OS keychain.
    pub keychain: KeychainDto,
    /// Recent notices, newest last.
    pub notices: Vec<NoticeDto>,
    /// Signed-in accounts.
    pub accounts: Vec<AccountDto>,
    /// A problem with the accounts file.
    pub registry_error: Option<UiError>,
    /// Sign-ins waiting for the browser.
    pub pending: Vec<PendingDto>,
    /// A damaged accounts file that was moved aside at startup (persistent banner).
    pub registry_quarantined: Option<UiError>,
    /// The account added last (to highlight it).
    pub last_added: Option<String>,
}

/// An account, without any token.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountDto {
    /// Account id.
    pub id: String,
    /// Provider id.
    pub provider_id: String,
    /// Provider display name.
    pub provider_name: String,
    /// Issuer.
    pub issuer: String,
    /// What to call the account: name, user name, email, else
    /// "<provider> account <subject>".
    pub title: String,
    /// Display name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// The person's label.
    pub label: Option<String>,
    /// The profile picture as a `data:` URL, fetched by the backend.
    pub picture: Option<String>,
    /// The default account.
    pub is_default: bool,
    /// `refreshing`, `ready`, `offline`, `refused` (the provider refused
    /// Latchkey's request: tokens kept, waits for "Retry now"),
    /// `needs_sign_in`, or `signed_in` (stored, no access token in memory yet).
    pub status: tauri_plugin_latchkey::dto::StateName,
    /// When the in-memory access token expires (ms since epoch).
    pub access_expires_at_ms: Option<u64>,
    /// The access token never expires (nothing is refreshed).
    pub never_expires: bool,
    /// The provider named no person (no name, user name or email): the
    /// window offers to label it.
    pub unnamed: bool,
    /// When offline: the next attempt (ms since epoch).
    pub retry_at_ms: Option<u64>,
    /// Why it is offline, refused or needs sign-in (plain language, no secret).
    pub problem: Option<String>,
    /// When refused: the stable code (e.g. `invalid_client`).
    pub problem_code: Option<&'static str>,
    /// When the account was added (ms since epoch).
    pub created_at_ms: u64,
}

/// A sign-in waiting for the browser.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingDto {
    /// Handle for cancel / open again.
    pub handle: String,
    /// Provider id.
    pub provider_id: String,
    /// Provider display name.
    pub provider_name: String,
    /// Expiry (ms since epoch).
    pub expires_at_ms: u64,
    /// A sign-in on another device (device grant): the code to enter and
    /// where. Not a secret: it is meant to be shown and typed.
    pub device: Option<DeviceCodeDto>,
}

/// What a person needs for a sign-in on another device.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceCodeDto {
    /// The code to type.
    pub user_code: String,
    /// The page to open (with the code filled in when the provider offers it).
    pub verification_uri: String,
}

/// Reachability of a provider.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ProviderStatus {
    /// Discovery is running.
    Checking,
    /// Discovery succeeded.
    Reachable,
    /// Discovery failed.
    Unreachable,
    /// The configuration entry is invalid.
    Invalid,
}

/// A configured provider.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderDto {
    /// Provider id (or `#n` for an entry without a readable id).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Issuer, when the entry is valid.
    pub issuer: Option<String>,
    /// Reachability.
    pub status: ProviderStatus,
    /// Why it is unreachable or invalid.
    pub error: Option<UiError>,
}

/// Keychain status.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum KeychainStatus {
    /// The probe is running.
    Checking,
    /// Write, read and delete of a probe item worked.
    Ok,
    /// The keychain cannot be used.
    Unavailable,
}

/// The OS keychain.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeychainDto {
    /// Which vault: `keychain` (the system keychain) or `file` (the
    /// encrypted file vault, chosen with `LATCHKEY_VAULT=file`).
    pub vault: latchkey_core::store::vault::VaultKind,
    /// Status.
    pub status: KeychainStatus,
    /// Why it is unavailable.
    pub error: Option<UiError>,
}

/// How serious a notice is.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NoticeLevel {
    /// For information.
    Info,
    /// Something was ignored or refused.
    Warning,
    /// Something failed.
    Error,
}

/// A dismissible message for the person.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NoticeDto {
    /// Id for dismissal.
    pub id: u64,
    /// Severity.
    pub level: NoticeLevel,
    /// Stable code.
    pub code: String,
    /// Plain-language message.
    pub message: String,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
}

/// Pushed to the UI over its channel.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UiEvent {
    /// The state changed: call `get_state` again.
    StateChanged,
}

impl From<latchkey_core::flow::request::PendingSummary> for PendingDto {
    fn from(p: latchkey_core::flow::request::PendingSummary) -> Self {
        Self {
            handle: p.handle.as_str().to_owned(),
            provider_id: p.provider_id,
            provider_name: p.provider_name,
            expires_at_ms: latchkey_core::clock::unix_millis(p.expires_at),
            device: None,
        }
    }
}

/// A preset of the provider catalogue, for the Add provider dialog.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PresetDto {
    /// The providers file's `preset` value.
    pub key: &'static str,
    /// Shown to people.
    pub title: &'static str,
    /// The fields the preset asks for, in order (the providers file's keys,
    /// `endpoints` and `client_secret` for groups of their own).
    pub fields: &'static [latchkey_core::config::preset::PresetField],
    /// A line of help.
    pub help: &'static str,
    /// The provider requires a client secret (kept in the keychain).
    pub client_secret: bool,
    /// The default redirect: `scheme` or `loopback`.
    pub redirect: &'static str,
    /// The default scopes.
    pub scopes: &'static [&'static str],
}

impl From<&'static latchkey_core::config::preset::PresetInfo> for PresetDto {
    fn from(info: &'static latchkey_core::config::preset::PresetInfo) -> Self {
        Self {
            key: info.preset.key(),
            title: info.title,
            fields: info.fields,
            help: info.help,
            client_secret: info.client_secret,
            redirect: if info.loopback { "loopback" } else { "scheme" },
            scopes: info.scopes,
        }
    }
}

/// A provider entry to edit: its draft and whether a client secret is
/// stored (never the secret itself).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderDraftDto {
    /// The entry's values (the providers file's keys).
    pub draft: latchkey_core::config::provider_draft::ProviderDraft,
    /// A client secret is stored in the keychain for it.
    pub client_secret_stored: bool,
}

/// What the live check found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckDto {
    /// The provider's id.
    pub id: String,
    /// The issuer, exactly as the provider names itself.
    pub issuer: String,
    /// Whether the metadata was discovered (else the configured endpoints answered).
    pub discovery: bool,
    /// The authorization endpoint a sign-in uses.
    pub authorization_endpoint: String,
    /// The redirect URI to register at the provider.
    pub redirect_uri: String,
    /// The provider requires a client secret.
    pub client_secret: bool,
}
