//! Loopback sign-ins (RFC 8252 §7.3) in the session: [`Latchkey::begin`]
//! opens a listener ([`crate::flow::loopback`]) for each one, keyed by its
//! pending handle, and a task serves it until its response arrives, it is
//! cancelled, it expires or the app quits. Completed the same way as a deep
//! link ([`Latchkey::complete`]), its result is published to
//! [`Latchkey::sign_in_outcomes`], since nobody awaits it.
//!
//! While its listener lives, a sign-in holds the lock file
//! `loopback-<handle>`: at the next start, a loopback sign-in whose lock
//! nobody holds lost its listener with the process that quit, and is
//! removed and reported ([`CompleteError::Interrupted`]) by
//! [`Latchkey::launch`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::oneshot;

use crate::authorize::{
    AuthorizeError, PendingHandle, PendingSummary, SignInOptions, new_authorization_to,
};
use crate::discovery::ProviderMetadata;
use crate::file_lock::FileLock;
use crate::flow::loopback::{Bound, Served, Stopped};
use crate::provider::ProviderConfig;
use crate::session::latchkey::{Latchkey, lock};
use crate::session::sign_in::{CompleteError, SignedIn};

/// How a sign-in the core completed by itself (a loopback redirect, or the
/// expiry of its listener) ended. Cheap to clone: the result is shared.
#[derive(Debug, Clone)]
pub struct SignInOutcome {
    /// The pending sign-in it was.
    pub handle: PendingHandle,
    /// Signed in, or why not.
    pub result: Arc<Result<SignedIn, CompleteError>>,
}

/// The lock file a loopback sign-in holds while its listener lives.
fn owner_lock(handle: &PendingHandle) -> String {
    format!("loopback-{}", handle.as_str())
}

impl Latchkey {
    /// Sign-ins completed by the core itself: loopback redirects, and
    /// loopback sign-ins whose time ran out (`Expired`). A deep link's result
    /// is returned by [`Latchkey::complete`] to its caller instead.
    pub fn sign_in_outcomes(&self) -> tokio::sync::broadcast::Receiver<SignInOutcome> {
        self.sign_ins.subscribe()
    }

    /// Whether a loopback listener is open for this pending sign-in.
    pub fn is_listening(&self, handle: &PendingHandle) -> bool {
        lock(&self.loopbacks).contains_key(handle)
    }

    /// Opens the listener, builds the request on its redirect URI, remembers
    /// it, and serves the listener on the runtime.
    pub(crate) async fn begin_loopback(
        self: &Arc<Self>,
        provider: &ProviderConfig,
        metadata: &ProviderMetadata,
        ports: &[u16],
        options: &SignInOptions,
    ) -> Result<PendingSummary, AuthorizeError> {
        let unavailable = |reason: String| AuthorizeError::Loopback { reason };
        let base =
            provider.redirect_uri_for(metadata.authorization_response_iss_parameter_supported);
        let bound = Bound::bind(ports, &base).await.map_err(|err| {
            unavailable(match ports {
                [] => err.to_string(),
                ports => format!("none of the ports {ports:?} is free ({err})"),
            })
        })?;
        let now = self.clock.now();
        let pending = new_authorization_to(
            provider,
            metadata,
            bound.redirect_uri().clone(),
            options,
            now,
        )?;
        let handle = pending.handle.clone();
        // Held before the request is remembered: never a pending loopback
        // sign-in that looks abandoned while its listener lives.
        let owner = self
            .locks
            .lock(&owner_lock(&handle), Duration::ZERO)
            .await
            .map_err(|err| unavailable(err.to_string()))?;
        if let Err(err) = self.pending.insert(&pending, now).await {
            drop(owner);
            self.locks.remove(&owner_lock(&handle));
            return Err(err.into());
        }
        let (close, closed) = oneshot::channel();
        lock(&self.loopbacks).insert(handle.clone(), close);
        tracing::info!(provider = %provider.id, handle = handle.as_str(), port = bound.redirect_uri().port(), reauth = options.reauth_of.is_some(), "sign-in started; loopback listener open");
        let core = Arc::clone(self);
        let provider_name = provider.name.clone();
        let expires_at = pending.expires_at;
        tokio::spawn(async move {
            let ended = Ending {
                handle,
                provider_name,
                owner,
            };
            core.serve_loopback(bound, ended, expires_at, closed).await;
        });
        Ok(pending.summary())
    }

    async fn serve_loopback(
        &self,
        bound: Bound,
        ending: Ending,
        expires_at: SystemTime,
        closed: oneshot::Receiver<()>,
    ) {
        let redirect_uri = bound.redirect_uri().clone();
        let stop = async {
            tokio::select! {
                _ = closed => Stopped::Closed,
                () = self.clock.sleep_until(expires_at) => Stopped::Expired,
            }
        };
        let uri = &redirect_uri;
        let served = bound
            .serve(
                &ending.handle,
                self.identity.name(),
                stop,
                |url| async move { self.complete(&url, uri).await },
            )
            .await;
        let Ending {
            handle,
            provider_name,
            owner,
        } = ending;
        lock(&self.loopbacks).remove(&handle);
        drop(owner);
        self.locks.remove(&owner_lock(&handle));
        let result = match served {
            Served::Answered(result) => result,
            Served::Stopped(Stopped::Closed) => {
                tracing::info!(handle = handle.as_str(), "loopback listener closed");
                return;
            }
            Served::Stopped(Stopped::Expired) => {
                // The request goes with its listener: the window stops waiting.
                if let Err(err) = self.pending.cancel(&handle).await {
                    tracing::warn!(
                        code = crate::error::ErrorCode::code(&err),
                        "the expired sign-in could not be removed"
                    );
                }
                Err(CompleteError::Expired { provider_name })
            }
        };
        match &result {
            Ok(_) => tracing::info!(
                handle = handle.as_str(),
                "loopback sign-in answered; listener closed"
            ),
            Err(err) => tracing::warn!(
                handle = handle.as_str(),
                code = crate::error::ErrorCode::code(err),
                "loopback sign-in not completed; listener closed"
            ),
        }
        let _ = self.sign_ins.send(SignInOutcome {
            handle,
            result: Arc::new(result),
        });
    }

    /// Closes the listener of a pending loopback sign-in (if it has one).
    pub(crate) fn close_listener(&self, handle: &PendingHandle) {
        // Dropping the sender stops the listener's task.
        lock(&self.loopbacks).remove(handle);
    }

    /// Closes every loopback listener (the app quits; their sign-ins are
    /// reported as interrupted at the next start).
    pub(crate) fn close_listeners(&self) {
        lock(&self.loopbacks).clear();
    }

    /// Removes the loopback sign-ins whose listener is gone with the process
    /// that opened it; each comes back as the error to show, once.
    pub(crate) async fn remove_interrupted_sign_ins(&self) -> Vec<CompleteError> {
        let abandoned = |p: &crate::authorize::PendingAuthorization| {
            p.redirect_uri.scheme() == "http" && !self.locks.is_held(&owner_lock(&p.handle))
        };
        match self.pending.remove_where(abandoned).await {
            Ok(removed) => removed
                .into_iter()
                .map(|p| {
                    self.locks.remove(&owner_lock(&p.handle));
                    tracing::info!(
                        handle = p.handle.as_str(),
                        "a loopback sign-in was pending when the app last quit; removed"
                    );
                    CompleteError::Interrupted {
                        provider_name: p.provider_name,
                    }
                })
                .collect(),
            Err(err) => {
                tracing::warn!(code = crate::error::ErrorCode::code(&err), error = %err, "pending sign-ins unreadable; interrupted loopback sign-ins are left for later");
                Vec::new()
            }
        }
    }
}

/// What a listener's task keeps until it ends.
struct Ending {
    handle: PendingHandle,
    provider_name: String,
    owner: FileLock,
}

#[cfg(test)]
#[path = "loopback_tests.rs"]
mod tests;
