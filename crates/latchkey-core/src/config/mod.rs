//! Configuration: the providers file and each provider's metadata.

pub mod discovery;
pub mod identity;
pub mod provider;
pub(crate) mod providers_file;
