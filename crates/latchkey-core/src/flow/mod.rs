//! The authorization flow, one RFC concept a file (AppAuth's pieces): the
//! request and its pending store, the response from the redirect, the token
//! endpoint, revocation, the ID token and UserInfo, the user endpoint of a non-OIDC
//! server, Microsoft's tenant issuer.

pub mod device;
pub mod id_token;
pub mod loopback;
pub(crate) mod pending;
pub mod request;
pub mod response;
pub(crate) mod tenant_issuer;
pub mod token;
mod token_response;
pub mod user_endpoint;
