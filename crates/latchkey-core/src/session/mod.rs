//! The session layer: the [`Latchkey`](sign_in::Latchkey) core, one slot
//! per account, sign-in, refresh and its lifecycle, account management and
//! the startup reconciliation.

pub(crate) mod account_slot;
pub mod accounts;
mod client_secret;
pub mod device;
pub mod follow;
mod grant;
pub mod latchkey;
pub mod lifecycle;
pub mod loopback;
pub mod providers;
pub mod reconcile;
pub mod refresh;
mod refresh_all;
mod refresh_error;
pub(crate) mod schedule;
pub mod sign_in;
mod signed_in;
pub(crate) mod state;
pub mod views;

#[cfg(test)]
mod fixture;
