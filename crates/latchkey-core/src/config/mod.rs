//! Configuration: the providers file and each provider's metadata.

pub mod discovery;
pub mod identity;
pub mod preset;
pub mod provider;
mod provider_entry;
pub(crate) mod providers_file;
