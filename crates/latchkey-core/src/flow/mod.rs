//! The authorization flow, one RFC concept a file (AppAuth's pieces): the
//! request and its pending store, the response from the redirect, the token
//! endpoint, revocation, the ID token and UserInfo.

pub mod device;
pub mod id_token;
pub mod loopback;
pub(crate) mod pending;
pub mod request;
pub mod response;
pub mod token;
