//! The per-process state of the session layer: each account's live status
//! and the coordination of refreshes (data only; the behaviour is in
//! `refresh.rs` and `lifecycle.rs`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use crate::account_slot::AccountSlot;
use crate::accounts::AccountId;

/// The live state of an account, for the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveStatus {
    /// A refresh is running.
    Refreshing,
    /// A fresh access token is in memory.
    Ready {
        /// When it expires.
        expires_at: Option<SystemTime>,
        /// When the next refresh is planned.
        next_refresh_at: SystemTime,
    },
    /// The provider could not be reached; tokens kept.
    Offline {
        /// Why.
        reason: String,
        /// Next attempt.
        retry_at: SystemTime,
        /// Attempts so far.
        attempt: u32,
    },
    /// The provider refused Latchkey's request (an OAuth error other than
    /// `invalid_grant`, such as `invalid_client`, or an ID token Latchkey
    /// cannot accept): the tokens are kept, and nothing is retried until
    /// "Retry now" or the next launch (the provider settings need a look).
    Refused {
        /// Why.
        reason: String,
        /// A stable code (e.g. `invalid_client`).
        code: &'static str,
    },
    /// The refresh token is gone or refused.
    NeedsSignIn {
        /// Why.
        reason: String,
    },
}

/// Per-account and per-issuer coordination inside one process.
#[derive(Debug, Default)]
pub(crate) struct Coordination {
    pub(crate) slots: std::sync::Mutex<HashMap<AccountId, Arc<AccountSlot>>>,
    pub(crate) issuers: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
    pub(crate) live: std::sync::Mutex<HashMap<AccountId, LiveStatus>>,
    pub(crate) wakers: std::sync::Mutex<HashMap<AccountId, Arc<tokio::sync::Notify>>>,
    pub(crate) running: std::sync::Mutex<std::collections::HashSet<AccountId>>,
    pub(crate) touched: std::sync::Mutex<HashMap<AccountId, u64>>,
    /// Per account, the newest `last_refreshed_at` this process wrote or
    /// followed (see `session/follow.rs`).
    pub(crate) seen_refreshes: std::sync::Mutex<HashMap<AccountId, u64>>,
    /// Accounts this process signed in whose lifecycle the sign-in's caller
    /// has not started yet: the accounts file's watch must not adopt them as
    /// another process's (see `Latchkey::adopt_new_accounts`).
    pub(crate) signed_in_here: std::sync::Mutex<std::collections::HashSet<AccountId>>,
    pub(crate) active: std::sync::atomic::AtomicUsize,
    pub(crate) closing: std::sync::atomic::AtomicBool,
}
