//! The Latchkey core: the one object an app (or the CLI) builds over its
//! injected HTTP client, keychain, clock, registry and providers. Sign-in,
//! refresh, the lifecycle and account management add their methods to it
//! from their own files.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime};

use crate::accounts::{AccountBook, AccountId, Registry, RegistryError};
use crate::authorize::AuthorizeError;
use crate::clock::{Clock, SystemClock};
use crate::config::identity::AppIdentity;
use crate::discovery::ProviderMetadata;
use crate::flow::pending::PendingStore;
use crate::http::HttpClient;
use crate::provider::ProviderConfig;
use crate::secret::SecretString;
use crate::vault::{Vault, VaultError};

/// An access token held in memory.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The token.
    pub token: SecretString,
    /// Expiry, if known.
    pub expires_at: Option<SystemTime>,
}

/// The Latchkey core: providers, sign-in, accounts. One per process; the app
/// and the CLI each build one over the same keychain and data folder.
pub struct Latchkey {
    pub(crate) identity: AppIdentity,
    pub(crate) http: Arc<dyn HttpClient>,
    pub(crate) vault: Vault,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) pending: Arc<PendingStore>,
    pub(crate) registry: Registry,
    /// Replaceable at runtime ([`Latchkey::set_providers`]): readers take a
    /// snapshot, never a lock held across an await.
    pub(crate) providers: RwLock<Arc<Vec<ProviderConfig>>>,
    pub(crate) metadata: Mutex<HashMap<String, ProviderMetadata>>,
    pub(crate) locks: crate::file_lock::LockDir,
    /// Hashes of the `state`s of sign-ins completed lately (repeat links).
    pub(crate) recent: Mutex<Vec<([u8; 32], Instant)>>,
    pub(crate) access_tokens: Mutex<HashMap<AccountId, AccessToken>>,
    pub(crate) coordination: crate::session::state::Coordination,
    pub(crate) jwks: crate::id_token::JwksCache,
    pub(crate) changes: tokio::sync::broadcast::Sender<AccountId>,
    pub(crate) reachability: crate::session::providers::ReachabilityBook,
    /// The open loopback listeners, by sign-in: dropping one's sender closes it.
    pub(crate) loopbacks:
        Mutex<HashMap<crate::authorize::PendingHandle, tokio::sync::oneshot::Sender<()>>>,
    /// Sign-ins completed by the core itself (loopback redirects).
    pub(crate) sign_ins: tokio::sync::broadcast::Sender<crate::session::loopback::SignInOutcome>,
}

impl std::fmt::Debug for Latchkey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Latchkey")
            .field("registry", &self.registry.path())
            .field("providers", &self.providers().len())
            .finish_non_exhaustive()
    }
}

pub(crate) use crate::lock;

impl Latchkey {
    /// A core for the Latchkey app's identity over the injected HTTP client,
    /// keychain, clock and registry, for the valid providers of the providers
    /// file. Another app uses [`Latchkey::builder`] with its own identity.
    pub fn new(
        http: Arc<dyn HttpClient>,
        vault: Vault,
        clock: Arc<dyn Clock>,
        registry: Registry,
        providers: Vec<ProviderConfig>,
    ) -> Self {
        Self::assemble(
            AppIdentity::latchkey(),
            http,
            vault,
            clock,
            registry,
            providers,
        )
    }

    /// Builds a core for an app's identity (see [`LatchkeyBuilder`]).
    pub fn builder(identity: AppIdentity) -> LatchkeyBuilder {
        LatchkeyBuilder {
            identity,
            http: None,
            vault: None,
            clock: None,
            data_dir: None,
            providers: Vec::new(),
        }
    }

    fn assemble(
        identity: AppIdentity,
        http: Arc<dyn HttpClient>,
        vault: Vault,
        clock: Arc<dyn Clock>,
        registry: Registry,
        providers: Vec<ProviderConfig>,
    ) -> Self {
        let data_dir = registry
            .path()
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        let locks = crate::file_lock::LockDir::new(crate::file_lock::lock_dir_for(
            identity.identifier(),
            &data_dir,
        ));
        Self {
            identity,
            pending: Arc::new(PendingStore::new(vault.clone(), locks.clone())),
            http,
            vault,
            clock,
            registry,
            providers: RwLock::new(Arc::new(providers)),
            metadata: Mutex::new(HashMap::new()),
            locks,
            recent: Mutex::new(Vec::new()),
            access_tokens: Mutex::new(HashMap::new()),
            coordination: crate::session::state::Coordination::default(),
            jwks: Mutex::new(HashMap::new()),
            changes: tokio::sync::broadcast::channel(256).0,
            reachability: Mutex::new(HashMap::new()),
            loopbacks: Mutex::new(HashMap::new()),
            sign_ins: tokio::sync::broadcast::channel(64).0,
        }
    }

    /// The app this core signs people in for.
    pub fn identity(&self) -> &AppIdentity {
        &self.identity
    }

    /// The configured providers (a snapshot: [`Latchkey::set_providers`]
    /// may replace them at any time).
    pub fn providers(&self) -> Arc<Vec<ProviderConfig>> {
        Arc::clone(
            &self
                .providers
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// A configured provider (a copy of its configuration now).
    pub fn provider(&self, id: &str) -> Option<ProviderConfig> {
        self.providers()
            .iter()
            .find(|p| p.id.as_str() == id)
            .cloned()
    }

    /// The keychain (for its startup check and its health).
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// The injected HTTP client.
    pub fn http(&self) -> &dyn HttpClient {
        self.http.as_ref()
    }

    /// The registry file.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Fetches (and caches) a provider's metadata.
    pub async fn discover(&self, provider_id: &str) -> Result<ProviderMetadata, AuthorizeError> {
        let config = self
            .provider(provider_id)
            .ok_or_else(|| AuthorizeError::UnknownProvider {
                id: provider_id.to_owned(),
            })?;
        let metadata = crate::discovery::discover(self.http.as_ref(), &config).await?;
        lock(&self.metadata).insert(provider_id.to_owned(), metadata.clone());
        self.answered(provider_id);
        Ok(metadata)
    }

    /// A provider's metadata: cached, else discovered now.
    pub async fn metadata(&self, provider_id: &str) -> Result<ProviderMetadata, AuthorizeError> {
        let cached = lock(&self.metadata).get(provider_id).cloned();
        match cached {
            Some(metadata) => Ok(metadata),
            None => self.discover(provider_id).await,
        }
    }

    /// The registered accounts and the default one.
    pub fn accounts(&self) -> Result<AccountBook, RegistryError> {
        self.registry.load()
    }

    /// The in-memory access token's expiry for an account.
    pub fn access_token_expiry(&self, id: &AccountId) -> Option<Option<SystemTime>> {
        lock(&self.access_tokens).get(id).map(|t| t.expires_at)
    }

    /// The in-memory access token of an account, if any.
    pub fn access_token(&self, id: &AccountId) -> Option<AccessToken> {
        lock(&self.access_tokens).get(id).cloned()
    }

    /// When the access token shared through the account's keychain item
    /// expires (`None`: none cached, or its expiry unknown) — what another
    /// process (the app, a CLI) refreshed last. One keychain read; no network.
    pub async fn cached_access_expiry(
        &self,
        id: &AccountId,
    ) -> Result<Option<SystemTime>, VaultError> {
        Ok(self
            .read_secret(id)
            .await?
            .and_then(|secret| secret.access)
            .and_then(|(_, expires_at)| expires_at))
    }

    /// Reads an account's keychain item: its refresh token and the shared
    /// access-token cache.
    pub(crate) async fn read_secret(
        &self,
        id: &AccountId,
    ) -> Result<Option<crate::account_secret::AccountSecret>, VaultError> {
        match self.vault.get(id.as_str()).await? {
            Some(raw) => crate::account_secret::decode(&raw, id.as_str()).map(Some),
            None => Ok(None),
        }
    }

    /// Reads an account's refresh token from the keychain.
    pub(crate) async fn read_refresh_token(
        &self,
        id: &AccountId,
    ) -> Result<Option<SecretString>, VaultError> {
        Ok(self.read_secret(id).await?.and_then(|s| s.refresh_token))
    }

    /// The refresh token the provider currently accepts for an account: one
    /// the keychain refused to store (kept in memory) if any, else the
    /// keychain's. Call it holding the account's writer.
    pub(crate) async fn live_refresh_token(
        &self,
        id: &AccountId,
    ) -> Result<Option<SecretString>, VaultError> {
        match self.slot(id).unsaved() {
            Some(token) => Ok(Some(token)),
            None => self.read_refresh_token(id).await,
        }
    }

    /// Writes an account's keychain item. Call it holding the account's writer.
    pub(crate) async fn write_secret(
        &self,
        id: &AccountId,
        secret: &crate::account_secret::AccountSecret,
    ) -> Result<(), VaultError> {
        self.vault
            .set(id.as_str(), crate::account_secret::encode(secret)?)
            .await
    }

    /// Writes an account's refresh token alone (no access token to share).
    /// Call it holding the account's writer.
    pub(crate) async fn write_refresh_token(
        &self,
        id: &AccountId,
        token: &SecretString,
    ) -> Result<(), VaultError> {
        self.write_secret(
            id,
            &crate::account_secret::AccountSecret::refresh_only(token.clone()),
        )
        .await
    }

    /// Test seam: stores a refresh token for an account, as a sign-in would.
    #[cfg(any(test, feature = "testing"))]
    pub async fn testing_store_refresh_token(
        &self,
        id: &AccountId,
        token: &SecretString,
    ) -> Result<(), VaultError> {
        self.write_refresh_token(id, token).await
    }

    /// Test seam: the refresh token in an account's keychain item.
    #[cfg(any(test, feature = "testing"))]
    pub async fn testing_refresh_token(
        &self,
        id: &AccountId,
    ) -> Result<Option<SecretString>, VaultError> {
        self.read_refresh_token(id).await
    }
}

/// Why a core could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No data folder is known for this user (and none was given).
    #[error("no data folder is known for this user; give one with LatchkeyBuilder::data_dir")]
    NoDataDir,
}

impl crate::error::ErrorCode for BuildError {
    fn code(&self) -> &'static str {
        match self {
            Self::NoDataDir => "no_data_dir",
        }
    }
}

/// Builds a [`Latchkey`] for an app: its identity decides the keychain
/// service, the data folder, the lock files and the redirect URIs; the
/// production HTTP client, platform keychain and system clock are used
/// unless others are injected.
///
/// ```no_run
/// # fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use latchkey_core::{AppIdentity, Latchkey, load_providers_for, providers_path_for};
///
/// let identity = AppIdentity::new("com.example.notes", "com.example.notes")?;
/// let path = providers_path_for(&identity).ok_or("no config folder")?;
/// let providers = load_providers_for(&path, &identity)?
///     .into_iter()
///     .filter_map(|entry| entry.config.ok())
///     .collect();
/// let core = Latchkey::builder(identity).providers(providers).build()?;
/// # Ok(()) }
/// ```
#[must_use]
pub struct LatchkeyBuilder {
    identity: AppIdentity,
    http: Option<Arc<dyn HttpClient>>,
    vault: Option<Vault>,
    clock: Option<Arc<dyn Clock>>,
    data_dir: Option<std::path::PathBuf>,
    providers: Vec<ProviderConfig>,
}

impl std::fmt::Debug for LatchkeyBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatchkeyBuilder")
            .field("identity", &self.identity)
            .field("data_dir", &self.data_dir)
            .field("providers", &self.providers.len())
            .finish_non_exhaustive()
    }
}

impl LatchkeyBuilder {
    /// The HTTP client (default: the hardened production client).
    pub fn http(mut self, http: Arc<dyn HttpClient>) -> Self {
        self.http = Some(http);
        self
    }

    /// The keychain (default: the platform keychain, service = identifier).
    pub fn vault(mut self, vault: Vault) -> Self {
        self.vault = Some(vault);
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The data folder of the accounts file (default: the identity's).
    pub fn data_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// The providers (the valid entries of the app's providers file).
    pub fn providers(mut self, providers: Vec<ProviderConfig>) -> Self {
        self.providers = providers;
        self
    }

    /// The core.
    pub fn build(self) -> Result<Latchkey, BuildError> {
        let http = match self.http {
            Some(http) => http,
            // The system's trust store, plus every provider's `ca_file`, read
            // at the first request (not on the thread building the core).
            None => Arc::new(crate::http::ReqwestHttpClient::deferred(
                crate::http::HttpLimits::default(),
                self.providers
                    .iter()
                    .flat_map(|p| p.ca_certs.iter().cloned())
                    .collect(),
            )),
        };
        let data_dir = self
            .data_dir
            .or_else(|| self.identity.data_dir())
            .ok_or(BuildError::NoDataDir)?;
        let vault = self
            .vault
            .unwrap_or_else(|| Vault::platform_for(&self.identity));
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        Ok(Latchkey::assemble(
            self.identity,
            http,
            vault,
            clock,
            Registry::in_dir(&data_dir),
            self.providers,
        ))
    }
}
