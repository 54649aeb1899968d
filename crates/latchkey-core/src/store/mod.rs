//! What Latchkey keeps: secrets in the OS keychain (the vault), non-secret
//! account metadata in the registry file, lock files shared by processes.

pub(crate) mod account_secret;
pub mod atomic_write;
pub(crate) mod chunking;
pub(crate) mod file_lock;
pub mod file_vault;
pub(crate) mod file_vault_format;
pub mod file_watch;
pub mod fsperm;
pub(crate) mod platform;
pub(crate) mod reconnecting;
pub mod registry;
pub(crate) mod secret_store;
pub mod vault;
pub mod vault_choice;
pub(crate) mod write_queue;
