//! Configuration: the providers file and each provider's metadata.

pub mod check;
pub mod discovery;
pub mod identity;
pub mod preset;
pub mod provider;
pub mod provider_draft;
mod provider_entry;
pub mod providers_edit;
pub(crate) mod providers_file;
