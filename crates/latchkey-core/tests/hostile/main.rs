//! The hostile authorization server suite (issue 6), from outside the crate:
//! only the public API and the `testing` fixtures.
//!
//! A deliberately malicious authorization server runs on 127.0.0.1:0 and the
//! real sign-in and refresh code is driven against it over real sockets with
//! the production HTTP client (a resolver-like wrapper sends every host to the
//! attacker, so issuers can be ordinary `https://` names). Each case checks
//! the error code, the message a person sees, and that no keychain item,
//! registry entry or other account changed.

mod attacker;

mod authorization_response;
mod discovery;
mod id_token;
mod token_endpoint;
