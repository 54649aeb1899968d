//! `sign-in PROVIDER`: a sign-in from the terminal, chosen the way
//! `gh auth login` and `gcloud auth login` users expect:
//!
//! - a provider with `redirect = "loopback"` ([RFC 8252 §7.3](https://www.rfc-editor.org/rfc/rfc8252#section-7.3)):
//!   in the system browser of this machine, the redirect received by the
//!   core's listener on 127.0.0.1, bound in this process ([`loopback`]);
//! - a provider with the app's private-use scheme (`redirect = "scheme"`,
//!   the default): handed to the Latchkey app, which alone receives
//!   `dev.latchkey:` links; the CLI waits for the account ([`handoff`]).
//!   Without an app to hand it to, the device grant where offered;
//! - `--device` (or `--open`, its option, at a scheme provider): the device
//!   authorization grant ([RFC 8628](https://www.rfc-editor.org/rfc/rfc8628)),
//!   a code entered in a browser on any device ([`device`]).
//!
//! Either way the account is stored exactly as the app stores it. Messages
//! go to stderr (stdout stays for `--json`); no code, verifier or token is
//! ever printed.

pub mod app_exe;
mod device;
mod handoff;
mod loopback;

use std::sync::Arc;

use latchkey_core::config::discovery::DiscoveryError;
use latchkey_core::flow::id_token::IdTokenError;
use latchkey_core::flow::request::AuthorizeError;
use latchkey_core::flow::token::{Failure, TokenError};
use latchkey_core::{Account, CompleteError, ErrorCode, Latchkey, RedirectKind};
use serde::Serialize;
use url::Url;

use crate::exit::{CliError, Exit};
use crate::{app, output, select};

/// What `sign-in` was asked for, besides the provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `--device`: the device grant, whatever the provider's redirect.
    pub device: bool,
    /// `--open`: open the device grant's page in the system browser.
    pub open: bool,
    /// `--no-browser`: only print the loopback sign-in's URL.
    pub no_browser: bool,
    /// `--json`: the prompt, then the account, on stdout.
    pub json: bool,
}

/// How a sign-in from the terminal goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// In the system browser, back to a listener on 127.0.0.1.
    Loopback,
    /// The device grant; `explicit`: `--device` asked for it.
    Device { explicit: bool },
    /// Handed to the Latchkey app (the provider's redirect is its scheme).
    App,
}

impl Method {
    /// `--device` wins; else a loopback provider signs in in the browser;
    /// a scheme provider is handed to the app, unless `--open` (an option
    /// of the device grant) asks for the device grant.
    pub fn of(redirect: &RedirectKind, device: bool, open: bool) -> Self {
        match redirect {
            _ if device => Self::Device { explicit: true },
            RedirectKind::Loopback { .. } => Self::Loopback,
            _ if open => Self::Device { explicit: false },
            _ => Self::App,
        }
    }
}

/// Signs in at `provider` from the terminal.
pub fn sign_in(provider: &str, options: Options) -> Result<Exit, CliError> {
    let core = app::build()?;
    let Some(config) = core.provider(provider) else {
        let providers = core.providers();
        let known: Vec<&str> = providers.iter().map(|p| p.id.as_str()).collect();
        return Err(CliError::usage(format!(
            "no provider {provider:?} is configured (configured: {}): check the providers file",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        )));
    };
    let method = Method::of(&config.redirect, options.device, options.open);
    let provider_name = config.name.clone();
    let runtime = app::runtime()?;
    match method {
        Method::Loopback => runtime.block_on(loopback::run(&Arc::new(core), provider, options)),
        Method::Device { explicit } => {
            runtime.block_on(device::run(&core, provider, explicit, options))
        }
        Method::App => {
            if options.no_browser {
                return Err(no_browser_at_app(&provider_name));
            }
            match app_exe::locate() {
                Ok(exe) => runtime.block_on(handoff::run(&core, provider, &exe, options)),
                Err(not_found) if not_found.explicit => Err(CliError::usage(format!(
                    "{} is not an executable: point it at the Latchkey app (latchkey-app), or \
                     unset it",
                    not_found.tried_text()
                ))),
                Err(not_found) => {
                    // Over SSH, in a container: no app, perhaps the device grant.
                    output::stderr(&format!(
                        "latchkey: no Latchkey app to hand the sign-in to (tried {}): trying the \
                         device grant",
                        not_found.tried_text()
                    ));
                    runtime.block_on(device::run(&core, provider, false, options))
                }
            }
        }
    }
}

/// `--no-browser` at a provider whose redirect only the app receives.
fn no_browser_at_app(provider_name: &str) -> CliError {
    CliError::usage(format!(
        "--no-browser does not apply to {provider_name}: its sign-in comes back to the Latchkey \
         app (the dev.latchkey: redirect), so the app opens the browser; run without \
         --no-browser, or use --device to sign in from another device"
    ))
}

/// Ctrl-C (SIGINT), caught from the moment [`CtrlC::listen`] is called: a
/// press before the wait begins is not lost (and does not kill the process
/// half-way through starting a sign-in).
pub struct CtrlC {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl CtrlC {
    /// Starts catching Ctrl-C (inside the runtime).
    pub fn listen() -> Result<Self, CliError> {
        #[cfg(unix)]
        {
            let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
                .map_err(|err| {
                    CliError::new(Exit::Failure, format!("cannot catch Ctrl-C: {err}"))
                })?;
            Ok(Self { signal })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Resolves at the first Ctrl-C since [`CtrlC::listen`].
    pub async fn pressed(&mut self) {
        #[cfg(unix)]
        self.signal.recv().await;
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Prints the account (`--json`, as `accounts --json` does) and
/// "✓ Signed in as …".
async fn report(
    core: &Latchkey,
    account: &Account,
    replaced: bool,
    provider_name: &str,
    json: bool,
) -> Result<Exit, CliError> {
    if json {
        let row = super::accounts::row_of(core, &account.id).await?;
        output::stdout_line(&to_json(&row)?)?;
    }
    output::stderr(&format!(
        "✓ Signed in{} as {} at {provider_name} ({}).",
        if replaced { " again" } else { "" },
        select::who(account),
        account.id
    ));
    Ok(Exit::Ok)
}

fn to_json<T: Serialize>(value: &T) -> Result<String, CliError> {
    serde_json::to_string(value).map_err(|err| CliError::new(Exit::Failure, err.to_string()))
}

/// Opens `url` in the system browser (the `open` crate: `xdg-open`, then
/// `gio open`, …, detached). A failure only says so: the address is shown.
fn open_browser(url: &Url) {
    if let Err(err) = open::that_detached(url.as_str()) {
        output::stderr(&format!(
            "latchkey: could not open a browser ({err}): open the address above yourself"
        ));
    }
}

/// What to do when the command line cannot sign in at a provider.
const USE_THE_APP: &str = "sign in from the Latchkey window instead";

fn unreachable(err: &dyn std::fmt::Display, code: &str) -> CliError {
    CliError::new(
        Exit::Unreachable,
        format!("{err} ({code}): check the connection and run the command again"),
    )
}

/// Why a sign-in request could not be started (either method).
pub fn authorize_error(err: &AuthorizeError) -> CliError {
    let code = err.code();
    match err {
        AuthorizeError::Discovery(
            DiscoveryError::Transport(_)
            | DiscoveryError::Status { .. }
            | DiscoveryError::NotJson { .. },
        ) => unreachable(err, code),
        AuthorizeError::Vault(vault) => CliError::vault(vault),
        AuthorizeError::Loopback { .. } => CliError::new(
            Exit::Failure,
            format!(
                "{err} ({code}): free the port (or change loopback_ports in the providers file), \
                 or sign in with --device if the provider offers it"
            ),
        ),
        _ => CliError::new(
            Exit::Failure,
            format!("{err} ({code}): check the provider's entry in the providers file"),
        ),
    }
}

/// Why a sign-in did not finish. Nothing was stored in any case.
pub fn complete_error(err: &CompleteError, method: Method) -> CliError {
    let code = err.code();
    match err {
        CompleteError::Cancelled {
            provider_name,
            description,
        } => CliError::new(
            Exit::Failure,
            format!(
                "the sign-in was denied at {provider_name}{}: nothing was stored; run the \
                 command again to retry",
                description
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ),
        ),
        CompleteError::Expired { provider_name } => CliError::new(
            Exit::Failure,
            match method {
                Method::Device { .. } => format!(
                    "the code expired before the sign-in at {provider_name} was approved: \
                     nothing was stored; run the command again for a new code"
                ),
                Method::Loopback | Method::App => format!(
                    "the sign-in at {provider_name} was not finished in the browser before it \
                     expired: nothing was stored; run the command again"
                ),
            },
        ),
        CompleteError::Token { source, .. } if source.failure() == Failure::Transient => {
            unreachable(err, code)
        }
        CompleteError::Token {
            source: TokenError::OAuth { .. },
            ..
        } => CliError::new(
            Exit::Failure,
            format!("{err} ({code}): nothing was stored; check the provider's entry"),
        ),
        CompleteError::IdToken {
            source: IdTokenError::Jwks { .. } | IdTokenError::JwksTransport(_),
            ..
        } => unreachable(err, code),
        CompleteError::Vault(vault) => {
            let mut e = CliError::vault(vault);
            e.message = format!(
                "the sign-in could not be saved, nothing was stored: {}",
                e.message
            );
            e
        }
        CompleteError::Registry(registry) => CliError::registry(registry),
        CompleteError::Busy { .. } => CliError::new(
            Exit::Unreachable,
            format!("{err} ({code}): run the command again in a moment"),
        ),
        _ => CliError::new(Exit::Failure, format!("{err} ({code})")),
    }
}
