//! Whether each provider answers, as an app shows it: unknown until its
//! discovery document was fetched, then reachable or not — and reachable
//! again as soon as any of its accounts is refreshed, whatever discovery said
//! at launch. Also the launch-time mix-up check (RFC 9700 §4.4.2).

use std::collections::HashMap;
use std::sync::Arc;

use crate::accounts::AccountId;
use crate::config::provider::{ConfigError, ProviderConfig, ProviderEntry, load_providers_for};
use crate::error::{ErrorCode as _, report};
use crate::session::latchkey::{Latchkey, lock};
use crate::session::state::LiveStatus;

/// Whether a provider answers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reachability {
    /// Not checked yet in this process.
    Checking,
    /// Its discovery document was fetched, or one of its accounts refreshed.
    Reachable,
    /// The last check failed.
    Unreachable {
        /// A stable code ([`ErrorCode`](crate::error::ErrorCode)).
        code: &'static str,
        /// Why, for a person (never a secret).
        reason: String,
    },
}

/// A configured provider and whether it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderView {
    /// Its id in the providers file.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Its issuer.
    pub issuer: String,
    /// Whether it answers.
    pub reachability: Reachability,
}

/// What is known of each provider, by id.
pub(crate) type ReachabilityBook = std::sync::Mutex<HashMap<String, Reachability>>;

impl Latchkey {
    /// Fetches a provider's discovery document now and records whether it
    /// answered (see [`Latchkey::provider_views`]).
    pub async fn check_provider(&self, provider_id: &str) -> Reachability {
        match self.discover(provider_id).await {
            Ok(_) => Reachability::Reachable,
            Err(err) => {
                tracing::warn!(provider = provider_id, code = err.code(), error = %report(&err), "provider unreachable");
                let found = Reachability::Unreachable {
                    code: err.code(),
                    reason: report(&err),
                };
                lock(&self.reachability).insert(provider_id.to_owned(), found.clone());
                found
            }
        }
    }

    /// Replaces the configured providers (the providers file was edited).
    /// Cached metadata and reachability of a provider that was removed or
    /// whose configuration changed are dropped, so its next use discovers
    /// again; unchanged providers keep theirs. Accounts keep their grants: an
    /// account whose provider is gone fails its refresh with
    /// `unknown_provider` (its token stays in the keychain) until the provider
    /// comes back; an account of a provider that came back or changed, and
    /// that waits for "Retry now" (refused) or for its next try (offline), is
    /// retried at once.
    pub fn set_providers(&self, providers: Vec<ProviderConfig>) {
        let old = self.providers();
        let stale: Vec<String> = old
            .iter()
            .filter(|before| !providers.iter().any(|now| now == *before))
            .map(|before| before.id.to_string())
            .collect();
        let fresh: Vec<String> = providers
            .iter()
            .filter(|now| !old.iter().any(|before| before == *now))
            .map(|now| now.id.to_string())
            .collect();
        let count = providers.len();
        *self
            .providers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(providers);
        let mut metadata = lock(&self.metadata);
        let mut known = lock(&self.reachability);
        for id in &stale {
            metadata.remove(id);
            known.remove(id);
        }
        drop((metadata, known));
        tracing::info!(providers = count, changed_or_removed = ?stale, "providers replaced");
        self.retry_accounts_of(&fresh);
    }

    /// Reads a providers file again (it was edited): its valid entries
    /// become the providers ([`Self::set_providers`]). Returns every entry,
    /// rejected ones with why, for display. A file that cannot be read or
    /// parsed changes nothing: the providers in use stay.
    pub fn reload_providers_file(
        &self,
        path: &std::path::Path,
    ) -> Result<Vec<ProviderEntry>, ConfigError> {
        let entries = load_providers_for(path, self.identity())?;
        self.set_providers(
            entries
                .iter()
                .filter_map(|entry| entry.config.as_ref().ok().cloned())
                .collect(),
        );
        Ok(entries)
    }

    /// Wakes the lifecycle of every account of these providers that waits
    /// after a refused or failed refresh.
    fn retry_accounts_of(&self, providers: &[String]) {
        if providers.is_empty() {
            return;
        }
        let Ok(book) = self.accounts() else { return };
        let waiting: Vec<AccountId> = {
            let live = lock(&self.coordination.live);
            book.accounts
                .into_iter()
                .filter(|a| providers.contains(&a.provider_id))
                .filter(|a| {
                    matches!(
                        live.get(&a.id),
                        Some(LiveStatus::Refused { .. } | LiveStatus::Offline { .. })
                    )
                })
                .map(|a| a.id)
                .collect()
        };
        for id in &waiting {
            tracing::info!(account = %id, "its provider came back or changed: retried now");
            self.retry_now(id);
        }
    }

    /// Checks a provider configuration that is not (or not yet) in use, with
    /// this core's HTTP client (see
    /// [`check_provider_config`](crate::config::check::check_provider_config)).
    /// Nothing is cached or recorded.
    pub async fn check_provider_config(
        &self,
        config: &ProviderConfig,
    ) -> Result<crate::discovery::ProviderMetadata, crate::config::check::CheckError> {
        crate::config::check::check_provider_config(self.http.as_ref(), config).await
    }

    /// The configured providers not checked yet in this process: added, or
    /// changed, since the last check (see [`Latchkey::set_providers`]).
    pub fn unchecked_providers(&self) -> Vec<String> {
        let known = lock(&self.reachability);
        self.providers()
            .iter()
            .map(|p| p.id.to_string())
            .filter(|id| !known.contains_key(id))
            .collect()
    }

    /// Records a fetched discovery document.
    pub(crate) fn answered(&self, provider_id: &str) {
        lock(&self.reachability).insert(provider_id.to_owned(), Reachability::Reachable);
    }

    /// Every configured provider, in the providers file's order, with whether
    /// it answers. A provider that failed its check is shown reachable once
    /// any of its accounts has a fresh access token.
    pub fn provider_views(&self) -> Vec<ProviderView> {
        let refreshed: Vec<String> = self
            .accounts()
            .map(|book| {
                book.accounts
                    .into_iter()
                    .filter(|a| matches!(self.live_status(&a.id), Some(LiveStatus::Ready { .. })))
                    .map(|a| a.provider_id)
                    .collect()
            })
            .unwrap_or_default();
        let mut known = lock(&self.reachability);
        for provider in refreshed {
            known.insert(provider, Reachability::Reachable);
        }
        self.providers()
            .iter()
            .map(|config| ProviderView {
                id: config.id.to_string(),
                name: config.name.clone(),
                issuer: config.issuer.to_string(),
                reachability: known
                    .get(config.id.as_str())
                    .cloned()
                    .unwrap_or(Reachability::Checking),
            })
            .collect()
    }

    /// Mix-up defence check (RFC 9700 §4.4.2): logs a warning when providers
    /// that do not name themselves with RFC 9207 `iss` share one explicit
    /// redirect URI (a response meant for one could then complete a sign-in
    /// with another). A provider whose metadata cannot be fetched counts as
    /// not naming itself. Returns the URIs so shared.
    pub async fn warn_shared_redirect_uris(&self) -> Vec<url::Url> {
        let mut risky = Vec::new();
        for (uri, ids) in crate::provider::shared_redirect_uris(&self.providers()) {
            let mut without_iss = Vec::new();
            for id in ids {
                let named = self
                    .metadata(id.as_str())
                    .await
                    .is_ok_and(|m| m.authorization_response_iss_parameter_supported);
                if !named {
                    without_iss.push(id.to_string());
                }
            }
            if without_iss.len() > 1 {
                tracing::warn!(
                    redirect_uri = %uri,
                    providers = ?without_iss,
                    "providers without RFC 9207 (iss) share one redirect URI: a sign-in response \
                     meant for one could complete a sign-in with another; give each its own \
                     redirect_uri (or remove it to use <scheme>:/oauth/callback/<id>)"
                );
                risky.push(uri);
            }
        }
        risky
    }
}

#[cfg(test)]
#[path = "providers_tests.rs"]
mod tests;
