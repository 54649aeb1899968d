//! The authorization request (RFC 6749 §4.1.1 + RFC 7636 PKCE + OIDC `nonce`)
//! and the pending authorizations waiting for their redirect.
//!
//! A [`PendingAuthorization`] holds the one-time secrets of one request (PKCE
//! verifier, nonce) plus the snapshot of the provider configuration it was
//! made against (AppAuth's "request knows its configuration"), so a cold start
//! by the deep link can finish it without re-discovery. It is deliberately not
//! `Clone`: completing it consumes it.
//!
//! [`PendingStore`] keeps every pending authorization in **one keychain item**
//! (never a plain file), so they survive the app being closed or crashing while
//! the person is in the browser. Expired entries (older than [`PENDING_TTL`])
//! are purged on every access.

use std::time::{Duration, SystemTime};

use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use crate::clock::{from_unix_seconds, unix_seconds};
use crate::discovery::ProviderMetadata;
use crate::error::ErrorCode;
use crate::provider::ProviderConfig;
use crate::secret::SecretString;
use crate::vault::{Vault, VaultError};

/// How long a sign-in may stay in the browser.
pub const PENDING_TTL: Duration = Duration::from_secs(10 * 60);
/// The keychain item holding the pending authorizations.
pub const PENDING_KEY: &str = "pending-authorizations";
/// Bytes of randomness in `state` and `nonce` (256 bits; RFC 9700 asks ≥ 128).
const RANDOM_BYTES: u32 = 32;

/// Optional parts of a sign-in request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignInOptions {
    /// OIDC `login_hint` (e.g. the account's email when re-authenticating).
    pub login_hint: Option<String>,
    /// OIDC `prompt` (space-separated). Default: `consent` when `offline_access`
    /// is requested (OIDC Core §11), else none.
    pub prompt: Option<String>,
    /// The account being re-authenticated (its id), if any.
    pub reauth_of: Option<String>,
}

/// The endpoints and rules a request was made against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// Exact issuer.
    pub issuer: String,
    /// Token endpoint.
    pub token_endpoint: Url,
    /// JWKS URL.
    pub jwks_uri: Url,
    /// UserInfo endpoint.
    pub userinfo_endpoint: Option<Url>,
    /// Revocation endpoint.
    pub revocation_endpoint: Option<Url>,
    /// RFC 9207: the authorization response must carry `iss`.
    pub iss_required: bool,
}

impl Endpoints {
    /// From validated metadata.
    pub fn from_metadata(metadata: &ProviderMetadata) -> Self {
        Self {
            issuer: metadata.issuer.clone(),
            token_endpoint: metadata.token_endpoint.clone(),
            jwks_uri: metadata.jwks_uri.clone(),
            userinfo_endpoint: metadata.userinfo_endpoint.clone(),
            revocation_endpoint: metadata.revocation_endpoint.clone(),
            iss_required: metadata.authorization_response_iss_parameter_supported,
        }
    }
}

/// A short, non-secret handle the UI uses to name a pending sign-in
/// (a prefix of SHA-256 of the `state`; the state itself never leaves the core).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PendingHandle(String);

impl PendingHandle {
    fn for_state(state: &str) -> Self {
        let digest = Sha256::digest(state.as_bytes());
        Self(hex::encode(&digest[..8]))
    }

    /// From the UI's string.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// As a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One authorization request waiting for its redirect. Not `Clone`: it is
/// used once, by [`crate::signin`], which consumes it.
pub struct PendingAuthorization {
    pub(crate) state: SecretString,
    pub(crate) pkce_verifier: SecretString,
    pub(crate) nonce: SecretString,
    /// The handle shown to the UI.
    pub handle: PendingHandle,
    /// Provider id.
    pub provider_id: String,
    /// Provider display name.
    pub provider_name: String,
    /// OAuth client id.
    pub client_id: String,
    /// Redirect URI the request used.
    pub redirect_uri: Url,
    /// Scopes requested.
    pub scopes: Vec<String>,
    /// Endpoints snapshot.
    pub endpoints: Endpoints,
    /// The authorization URL (to open the browser again).
    pub authorization_url: Url,
    /// `login_hint` sent, if any.
    pub login_hint: Option<String>,
    /// The account this sign-in re-authenticates, if any.
    pub reauth_of: Option<String>,
    /// Creation time.
    pub created_at: SystemTime,
    /// Expiry time.
    pub expires_at: SystemTime,
}

impl std::fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL carries state and nonce: show only its endpoint.
        let mut endpoint = self.authorization_url.clone();
        endpoint.set_query(None);
        f.debug_struct("PendingAuthorization")
            .field("handle", &self.handle)
            .field("provider_id", &self.provider_id)
            .field("authorization_endpoint", &endpoint.as_str())
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl PendingAuthorization {
    /// True when the request is past its expiry.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        now >= self.expires_at
    }

    /// The non-secret view of this request.
    pub fn summary(&self) -> PendingSummary {
        PendingSummary {
            handle: self.handle.clone(),
            provider_id: self.provider_id.clone(),
            provider_name: self.provider_name.clone(),
            authorization_url: self.authorization_url.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
        }
    }
}

/// A non-secret description of a pending sign-in (for the UI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSummary {
    /// Handle.
    pub handle: PendingHandle,
    /// Provider id.
    pub provider_id: String,
    /// Provider display name.
    pub provider_name: String,
    /// URL to open in the browser (contains no secret: the PKCE challenge and
    /// state are meant to travel through the browser).
    pub authorization_url: Url,
    /// Creation time.
    pub created_at: SystemTime,
    /// Expiry time.
    pub expires_at: SystemTime,
}

/// Why an authorization request could not be built or stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorizeError {
    /// The provider's configuration cannot form a request.
    #[error("cannot build the sign-in request: {reason}")]
    Configuration { reason: String },
    /// The pending request could not be kept in the keychain.
    #[error("cannot remember the sign-in request: {0}")]
    Vault(#[from] VaultError),
    /// No usable provider has this id.
    #[error("no usable provider {id:?} is configured")]
    UnknownProvider { id: String },
    /// The provider's metadata could not be fetched.
    #[error("{0}")]
    Discovery(#[from] crate::discovery::DiscoveryError),
}

impl ErrorCode for AuthorizeError {
    fn code(&self) -> &'static str {
        match self {
            Self::Configuration { .. } => "sign_in_configuration",
            Self::Vault(err) => err.code(),
            Self::UnknownProvider { .. } => "unknown_provider",
            Self::Discovery(err) => err.code(),
        }
    }
}

/// Builds an authorization request: PKCE S256, 256-bit `state` and `nonce`
/// from the OS CSPRNG, the provider's scopes, optional `login_hint`/`prompt`,
/// and the redirect URI of [`ProviderConfig::redirect_uri_for`] (one per
/// provider unless it advertises RFC 9207 `iss`: the mix-up defence).
pub fn new_authorization(
    provider: &ProviderConfig,
    metadata: &ProviderMetadata,
    options: &SignInOptions,
    now: SystemTime,
) -> Result<PendingAuthorization, AuthorizeError> {
    let configuration = |reason: String| AuthorizeError::Configuration { reason };
    let redirect_uri =
        provider.redirect_uri_for(metadata.authorization_response_iss_parameter_supported);
    let client = BasicClient::new(ClientId::new(provider.client_id.clone()))
        .set_auth_uri(AuthUrl::from_url(metadata.authorization_endpoint.clone()))
        .set_redirect_uri(RedirectUrl::from_url(redirect_uri.clone()));
    // S256 only; the verifier is 64 random bytes (86 characters, RFC 7636 §4.1).
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256_len(64);
    let state = CsrfToken::new_random_len(RANDOM_BYTES);
    let nonce = CsrfToken::new_random_len(RANDOM_BYTES);
    let state_for_request = state.clone();
    let mut request = client
        .authorize_url(move || state_for_request)
        .add_scopes(provider.scopes.iter().cloned().map(Scope::new))
        .set_pkce_challenge(challenge)
        .add_extra_param("nonce", nonce.secret().clone());
    if let Some(hint) = &options.login_hint {
        request = request.add_extra_param("login_hint", hint.clone());
    }
    let prompt = options.prompt.clone().or_else(|| {
        provider
            .scopes
            .iter()
            .any(|s| s == "offline_access")
            .then(|| "consent".to_owned())
    });
    if let Some(prompt) = prompt {
        request = request.add_extra_param("prompt", prompt);
    }
    let (authorization_url, _) = request.url();
    if authorization_url.as_str().len() > 8 * 1024 {
        return Err(configuration(
            "the authorization URL would be too long".into(),
        ));
    }
    let state = SecretString::new(state.secret().clone());
    Ok(PendingAuthorization {
        handle: PendingHandle::for_state(state.expose()),
        state,
        pkce_verifier: SecretString::new(verifier.secret().clone()),
        nonce: SecretString::new(nonce.secret().clone()),
        provider_id: provider.id.to_string(),
        provider_name: provider.name.clone(),
        client_id: provider.client_id.clone(),
        redirect_uri,
        scopes: provider.scopes.clone(),
        endpoints: Endpoints::from_metadata(metadata),
        authorization_url,
        login_hint: options.login_hint.clone(),
        reauth_of: options.reauth_of.clone(),
        created_at: now,
        expires_at: now + PENDING_TTL,
    })
}

/// The keychain form of a pending authorization. Only ever serialized into
/// the keychain item, never to a file, a log or the UI.
#[derive(Serialize, Deserialize)]
struct PendingRecord {
    state: String,
    pkce_verifier: String,
    nonce: String,
    provider_id: String,
    provider_name: String,
    client_id: String,
    redirect_uri: Url,
    scopes: Vec<String>,
    endpoints: Endpoints,
    authorization_url: Url,
    login_hint: Option<String>,
    #[serde(default)]
    reauth_of: Option<String>,
    created_at: u64,
    expires_at: u64,
}

impl From<&PendingAuthorization> for PendingRecord {
    fn from(p: &PendingAuthorization) -> Self {
        Self {
            state: p.state.expose().to_owned(),
            pkce_verifier: p.pkce_verifier.expose().to_owned(),
            nonce: p.nonce.expose().to_owned(),
            provider_id: p.provider_id.clone(),
            provider_name: p.provider_name.clone(),
            client_id: p.client_id.clone(),
            redirect_uri: p.redirect_uri.clone(),
            scopes: p.scopes.clone(),
            endpoints: p.endpoints.clone(),
            authorization_url: p.authorization_url.clone(),
            login_hint: p.login_hint.clone(),
            reauth_of: p.reauth_of.clone(),
            created_at: unix_seconds(p.created_at),
            expires_at: unix_seconds(p.expires_at),
        }
    }
}

impl From<PendingRecord> for PendingAuthorization {
    fn from(r: PendingRecord) -> Self {
        Self {
            handle: PendingHandle::for_state(&r.state),
            state: SecretString::new(r.state),
            pkce_verifier: SecretString::new(r.pkce_verifier),
            nonce: SecretString::new(r.nonce),
            provider_id: r.provider_id,
            provider_name: r.provider_name,
            client_id: r.client_id,
            redirect_uri: r.redirect_uri,
            scopes: r.scopes,
            endpoints: r.endpoints,
            authorization_url: r.authorization_url,
            login_hint: r.login_hint,
            reauth_of: r.reauth_of,
            created_at: from_unix_seconds(r.created_at),
            expires_at: from_unix_seconds(r.expires_at),
        }
    }
}

#[derive(Serialize, Deserialize, Default)]
struct PendingFile {
    version: u32,
    entries: Vec<PendingRecord>,
}

/// What [`PendingStore::take`] found for a `state`.
#[derive(Debug)]
pub enum Taken {
    /// The request, now removed from the store.
    Found(Box<PendingAuthorization>),
    /// It existed but had expired (now removed).
    Expired { provider_name: String },
    /// Unknown or already used.
    Unknown,
}

/// The pending authorizations, kept in one keychain item.
#[derive(Debug)]
pub struct PendingStore {
    vault: Vault,
    lock: tokio::sync::Mutex<()>,
    locks: crate::file_lock::LockDir,
}

/// The lock file around every read-modify-write of [`PENDING_KEY`].
const PENDING_LOCK: &str = "pending-authorizations";

/// How long to wait for another process's use of the pending sign-ins.
const PENDING_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// The right to read-modify-write the pending sign-ins.
struct PendingGuard<'a> {
    _in_process: tokio::sync::MutexGuard<'a, ()>,
    _file: crate::file_lock::FileLock,
}

impl PendingStore {
    /// A store in `vault`; `locks` is the lock folder shared with the other
    /// Latchkey processes of this user.
    pub(crate) fn new(vault: Vault, locks: crate::file_lock::LockDir) -> Self {
        Self {
            vault,
            lock: tokio::sync::Mutex::new(()),
            locks,
        }
    }

    /// Every change is a read-modify-write of one keychain item: in this
    /// process and across processes (an instance starting while another
    /// quits, the CLI) one at a time, or one would lose the other's sign-ins.
    async fn guard(&self) -> Result<PendingGuard<'_>, VaultError> {
        let in_process = self.lock.lock().await;
        let file = self
            .locks
            .lock(PENDING_LOCK, PENDING_LOCK_TIMEOUT)
            .await
            .map_err(|err| VaultError::Platform {
                reason: format!("the pending sign-ins are busy: {err}"),
            })?;
        Ok(PendingGuard {
            _in_process: in_process,
            _file: file,
        })
    }

    async fn load(&self) -> Result<Vec<PendingAuthorization>, VaultError> {
        let Some(secret) = self.vault.get(PENDING_KEY).await? else {
            return Ok(Vec::new());
        };
        match serde_json::from_str::<PendingFile>(secret.expose()) {
            Ok(file) => Ok(file
                .entries
                .into_iter()
                .map(PendingAuthorization::from)
                .collect()),
            Err(_) => {
                tracing::warn!("the pending sign-ins item is damaged; starting with none");
                Ok(Vec::new())
            }
        }
    }

    async fn save(&self, entries: &[PendingAuthorization]) -> Result<(), VaultError> {
        if entries.is_empty() {
            return self.vault.delete(PENDING_KEY).await;
        }
        let file = PendingFile {
            version: 1,
            entries: entries.iter().map(PendingRecord::from).collect(),
        };
        let json = serde_json::to_string(&file).map_err(|err| VaultError::Platform {
            reason: format!("cannot encode pending sign-ins: {err}"),
        })?;
        self.vault.set(PENDING_KEY, SecretString::new(json)).await
    }

    /// Remembers a new pending authorization (and purges expired ones).
    pub async fn insert(
        &self,
        pending: &PendingAuthorization,
        now: SystemTime,
    ) -> Result<(), VaultError> {
        let _guard = self.guard().await?;
        let mut entries = self.load().await?;
        entries.retain(|p| !p.is_expired(now));
        let record = PendingRecord::from(pending);
        entries.push(PendingAuthorization::from(record));
        self.save(&entries).await
    }

    /// Removes and returns the authorization for `state`: it can be used once.
    pub async fn take(&self, state: &str, now: SystemTime) -> Result<Taken, VaultError> {
        let _guard = self.guard().await?;
        let mut entries = self.load().await?;
        let before = entries.len();
        let position = entries.iter().position(|p| p.state.expose() == state);
        let taken = position.map(|i| entries.remove(i));
        entries.retain(|p| !p.is_expired(now));
        if taken.is_some() || entries.len() != before {
            self.save(&entries).await?;
        }
        Ok(match taken {
            Some(p) if p.is_expired(now) => Taken::Expired {
                provider_name: p.provider_name,
            },
            Some(p) => Taken::Found(Box::new(p)),
            None => Taken::Unknown,
        })
    }

    /// Cancels a pending sign-in; `false` when there was none.
    pub async fn cancel(&self, handle: &PendingHandle) -> Result<bool, VaultError> {
        let _guard = self.guard().await?;
        let mut entries = self.load().await?;
        let before = entries.len();
        entries.retain(|p| &p.handle != handle);
        let removed = entries.len() != before;
        if removed {
            self.save(&entries).await?;
        }
        Ok(removed)
    }

    /// The live pending sign-ins (expired ones are purged).
    pub async fn list(&self, now: SystemTime) -> Result<Vec<PendingSummary>, VaultError> {
        let _guard = self.guard().await?;
        let mut entries = self.load().await?;
        let before = entries.len();
        entries.retain(|p| !p.is_expired(now));
        if entries.len() != before {
            tracing::info!(
                purged = before - entries.len(),
                "expired pending sign-ins purged"
            );
            self.save(&entries).await?;
        }
        Ok(entries.iter().map(PendingAuthorization::summary).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::parse_providers;
    use crate::vault::KeyringStore;
    use std::sync::Arc;

    pub(crate) fn provider() -> ProviderConfig {
        parse_providers(
            "[[provider]]\nid = \"p\"\nname = \"P\"\nissuer = \"https://id.example\"\nclient_id = \"latchkey-desktop\"\nscopes = [\"openid\", \"email\", \"offline_access\"]\n",
        )
        .expect("parses")
        .remove(0)
        .config
        .expect("valid")
    }

    pub(crate) fn metadata() -> ProviderMetadata {
        let url = |p: &str| Url::parse(&format!("https://id.example{p}")).expect("url");
        ProviderMetadata {
            issuer: "https://id.example".into(),
            authorization_endpoint: url("/auth"),
            token_endpoint: url("/token"),
            jwks_uri: url("/jwks"),
            userinfo_endpoint: Some(url("/me")),
            revocation_endpoint: None,
            authorization_response_iss_parameter_supported: true,
            scopes_supported: vec![],
            prompt_values_supported: None,
        }
    }

    fn params(url: &Url) -> std::collections::HashMap<String, String> {
        url.query_pairs().into_owned().collect()
    }

    #[test]
    fn a_provider_without_iss_uses_its_own_redirect_uri() {
        let now = SystemTime::now();
        let mut md = metadata();
        md.authorization_response_iss_parameter_supported = false;
        let p = new_authorization(&provider(), &md, &SignInOptions::default(), now).expect("built");
        assert_eq!(p.redirect_uri.as_str(), "dev.latchkey:/oauth/callback/p");
        assert_eq!(
            params(&p.authorization_url)["redirect_uri"],
            "dev.latchkey:/oauth/callback/p"
        );
        // With RFC 9207 the shared URI stays (existing registrations keep working).
        let p = new_authorization(&provider(), &metadata(), &SignInOptions::default(), now)
            .expect("built");
        assert_eq!(p.redirect_uri.as_str(), "dev.latchkey:/oauth/callback");
    }

    #[test]
    fn request_has_pkce_s256_state_nonce_and_scopes() {
        let now = SystemTime::now();
        let p = new_authorization(&provider(), &metadata(), &SignInOptions::default(), now)
            .expect("built");
        let q = params(&p.authorization_url);
        assert_eq!(p.authorization_url.path(), "/auth");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "latchkey-desktop");
        assert_eq!(q["redirect_uri"], "dev.latchkey:/oauth/callback");
        assert_eq!(q["scope"], "openid email offline_access");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["prompt"], "consent");
        assert_eq!(q["state"], p.state.expose());
        assert_eq!(q["nonce"], p.nonce.expose());
        // 32 random bytes, base64url without padding = 43 characters = 256 bits.
        assert_eq!(p.state.expose().len(), 43);
        assert_eq!(p.nonce.expose().len(), 43);
        let challenge = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            Sha256::digest(p.pkce_verifier.expose().as_bytes()),
        );
        assert_eq!(q["code_challenge"], challenge);
        assert!(!q.contains_key("code_verifier"));
        assert_eq!(p.expires_at, now + PENDING_TTL);
    }

    #[test]
    fn rfc7636_appendix_b_vector() {
        // RFC 7636 Appendix B: this verifier has this S256 challenge.
        let verifier =
            oauth2::PkceCodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
        assert_eq!(
            challenge.as_str(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(challenge.method().as_str(), "S256");
    }

    #[test]
    fn each_request_is_fresh() {
        let now = SystemTime::now();
        let a =
            new_authorization(&provider(), &metadata(), &SignInOptions::default(), now).expect("a");
        let b =
            new_authorization(&provider(), &metadata(), &SignInOptions::default(), now).expect("b");
        assert_ne!(a.state, b.state);
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.pkce_verifier, b.pkce_verifier);
        assert_ne!(a.handle, b.handle);
    }

    #[test]
    fn login_hint_and_explicit_prompt() {
        let options = SignInOptions {
            login_hint: Some("alice@example.test".into()),
            prompt: Some("login".into()),
            reauth_of: None,
        };
        let p = new_authorization(&provider(), &metadata(), &options, SystemTime::now())
            .expect("built");
        let q = params(&p.authorization_url);
        assert_eq!(q["login_hint"], "alice@example.test");
        assert_eq!(q["prompt"], "login");
    }

    #[test]
    fn secrets_are_not_in_debug_output() {
        let p = new_authorization(
            &provider(),
            &metadata(),
            &SignInOptions::default(),
            SystemTime::now(),
        )
        .expect("built");
        let debug = format!("{p:?}");
        assert!(!debug.contains(p.pkce_verifier.expose()));
        assert!(!debug.contains(p.nonce.expose()));
    }

    fn locks(name: &str) -> crate::file_lock::LockDir {
        let dir =
            std::env::temp_dir().join(format!("latchkey-pending-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        crate::file_lock::LockDir::new(dir)
    }

    fn store() -> PendingStore {
        PendingStore::new(
            Vault::new(Arc::new(KeyringStore::in_memory("pending-test"))),
            locks("store"),
        )
    }

    /// A keychain whose reads take a while, so read-modify-writes overlap.
    #[derive(Debug)]
    struct Slow(KeyringStore);

    impl crate::vault::SecretStore for Slow {
        fn get(&self, key: &str) -> Result<Option<SecretString>, VaultError> {
            std::thread::sleep(Duration::from_millis(15));
            self.0.get(key)
        }
        fn set(&self, key: &str, secret: &SecretString) -> Result<(), VaultError> {
            self.0.set(key, secret)
        }
        fn delete(&self, key: &str) -> Result<(), VaultError> {
            self.0.delete(key)
        }
        fn list_keys(&self) -> Result<Vec<String>, VaultError> {
            self.0.list_keys()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_processes_never_lose_each_others_pending_sign_ins() {
        let vault = Vault::new(Arc::new(Slow(KeyringStore::in_memory("pending-two"))));
        let locks = locks("two");
        // Two processes: each its own store (own in-process mutex) over the
        // same keychain and the same lock folder.
        let app = Arc::new(PendingStore::new(vault.clone(), locks.clone()));
        let cli = Arc::new(PendingStore::new(vault, locks));
        let now = SystemTime::now();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let store = Arc::clone(if i % 2 == 0 { &app } else { &cli });
            tasks.push(tokio::spawn(async move {
                let p = new_authorization(&provider(), &metadata(), &SignInOptions::default(), now)
                    .expect("built");
                store.insert(&p, now).await.expect("insert");
            }));
        }
        for task in tasks {
            task.await.expect("task");
        }
        assert_eq!(
            app.list(now).await.expect("list").len(),
            8,
            "a pending sign-in was lost"
        );
    }

    #[tokio::test]
    async fn take_is_one_time() {
        let store = store();
        let now = SystemTime::now();
        let p = new_authorization(&provider(), &metadata(), &SignInOptions::default(), now)
            .expect("built");
        let state = p.state.expose().to_owned();
        store.insert(&p, now).await.expect("insert");
        assert_eq!(store.list(now).await.expect("list").len(), 1);
        let Taken::Found(found) = store.take(&state, now).await.expect("take") else {
            panic!("expected the pending request")
        };
        assert_eq!(found.pkce_verifier, p.pkce_verifier);
        assert!(matches!(
            store.take(&state, now).await.expect("again"),
            Taken::Unknown
        ));
        assert!(store.list(now).await.expect("list").is_empty());
    }

    #[tokio::test]
    async fn several_pending_at_once_and_cancel() {
        let store = store();
        let now = SystemTime::now();
        let a =
            new_authorization(&provider(), &metadata(), &SignInOptions::default(), now).expect("a");
        let b =
            new_authorization(&provider(), &metadata(), &SignInOptions::default(), now).expect("b");
        store.insert(&a, now).await.expect("a");
        store.insert(&b, now).await.expect("b");
        assert_eq!(store.list(now).await.expect("list").len(), 2);
        assert!(store.cancel(&a.handle).await.expect("cancel"));
        assert!(!store.cancel(&a.handle).await.expect("cancel twice"));
        assert!(matches!(
            store.take(a.state.expose(), now).await.expect("take"),
            Taken::Unknown
        ));
        assert!(matches!(
            store.take(b.state.expose(), now).await.expect("take"),
            Taken::Found(_)
        ));
    }

    #[tokio::test]
    async fn expired_requests_are_reported_and_purged() {
        let store = store();
        let now = SystemTime::now();
        let a =
            new_authorization(&provider(), &metadata(), &SignInOptions::default(), now).expect("a");
        let b =
            new_authorization(&provider(), &metadata(), &SignInOptions::default(), now).expect("b");
        store.insert(&a, now).await.expect("a");
        store.insert(&b, now).await.expect("b");
        let later = now + PENDING_TTL + Duration::from_secs(1);
        assert!(matches!(
            store.take(a.state.expose(), later).await.expect("take"),
            Taken::Expired { .. }
        ));
        // b was purged as a side effect.
        assert!(store.list(later).await.expect("list").is_empty());
        assert!(matches!(
            store.take(b.state.expose(), later).await.expect("take"),
            Taken::Unknown
        ));
    }

    #[tokio::test]
    async fn pending_survive_a_new_store_on_the_same_keychain() {
        let vault = Vault::new(Arc::new(KeyringStore::in_memory("pending-restart")));
        let now = SystemTime::now();
        let a =
            new_authorization(&provider(), &metadata(), &SignInOptions::default(), now).expect("a");
        PendingStore::new(vault.clone(), locks("restart"))
            .insert(&a, now)
            .await
            .expect("insert");
        // "Restart": a new store over the same keychain.
        let again = PendingStore::new(vault, locks("restart"));
        assert!(matches!(
            again.take(a.state.expose(), now).await.expect("take"),
            Taken::Found(_)
        ));
    }
}
