//! A sign-in handed to the Latchkey app, for a provider whose redirect is
//! the app's private-use scheme ([RFC 8252 §7.1](https://www.rfc-editor.org/rfc/rfc8252#section-7.1)):
//! only the app receives `dev.latchkey:` links. The CLI runs
//! `latchkey-app --sign-in PROVIDER` — argv, which only a local process can
//! pass, never a link, which any web page can fire. A running app gets the
//! arguments through single-instance (this launch exits at once); else this
//! launch becomes the app. The app begins the sign-in as its "Add account"
//! does (browser, pending card, window raised).
//!
//! The CLI then watches what the app and the CLI share: the pending
//! sign-ins in the keychain and the accounts file. The app's request for
//! the provider appears (the app took it), then leaves (completed,
//! cancelled or expired); the account it stored is the one of that
//! provider created, or signed in again, from then on. Ctrl-C only stops
//! the watching: the sign-in goes on in the app.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use latchkey_core::{Account, AccountBook, AccountId, Latchkey, PendingHandle, PendingSummary};

use super::{CtrlC, Options, report};
use crate::exit::{CliError, Exit};
use crate::output;

/// How long the app may take to start the sign-in (a cold start of the app,
/// then the provider's discovery).
const START: Duration = Duration::from_secs(90);
/// How long after its request left the keychain the account may take to
/// appear (a code exchange and an ID token check, under the core's own HTTP
/// timeouts).
const FINISHING: Duration = Duration::from_secs(30);
/// The pending sign-in's own life, and a margin.
const LIFE: Duration = Duration::from_secs(11 * 60);
const POLL: Duration = Duration::from_millis(400);

/// What the CLI has seen of the app's sign-in.
#[derive(Debug)]
pub struct Watch {
    provider: String,
    /// Pending sign-ins from before the hand-off (not ours).
    before: HashSet<PendingHandle>,
    /// The provider's accounts before it: id → last token response (unix s).
    baseline: HashMap<AccountId, Option<u64>>,
    handed_at: SystemTime,
    /// The app's request, and when it was last seen pending.
    seen: Option<(PendingHandle, SystemTime)>,
    /// When it was first seen gone.
    gone_at: Option<SystemTime>,
}

/// What a look at the keychain and the accounts file says.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing new.
    Waiting,
    /// The app has started the sign-in (said once): its provider's name.
    Started(String),
    /// The account the app stored; `true`: it existed (signed in again).
    Done(Box<Account>, bool),
    /// The app's request left without an account (cancelled, denied,
    /// expired, failed): the window says why.
    Ended,
    /// The app never started it.
    NotStarted,
}

impl Watch {
    /// Before the hand-off: the pending sign-ins and the provider's accounts.
    pub fn new(
        provider: &str,
        pending: &[PendingSummary],
        book: &AccountBook,
        now: SystemTime,
    ) -> Self {
        Self {
            provider: provider.to_owned(),
            before: pending.iter().map(|p| p.handle.clone()).collect(),
            baseline: book
                .accounts
                .iter()
                .filter(|a| a.provider_id == provider)
                .map(|a| (a.id.clone(), a.last_refreshed_at))
                .collect(),
            handed_at: now,
            seen: None,
            gone_at: None,
        }
    }

    /// One look, at `now`.
    pub fn step(
        &mut self,
        pending: &[PendingSummary],
        book: &AccountBook,
        now: SystemTime,
    ) -> Step {
        let mut started = None;
        if self.seen.is_none()
            && let Some(p) = pending
                .iter()
                .find(|p| p.provider_id == self.provider && !self.before.contains(&p.handle))
        {
            self.seen = Some((p.handle.clone(), now));
            started = Some(p.provider_name.clone());
        }
        let since = match &mut self.seen {
            Some((handle, last_seen)) => {
                if pending.iter().any(|p| &p.handle == handle) {
                    *last_seen = now;
                    return started.map_or(Step::Waiting, Step::Started);
                }
                *last_seen
            }
            None => self.handed_at,
        };
        if let Some((account, replaced)) = self.stored_since(book, since) {
            return Step::Done(Box::new(account), replaced);
        }
        let elapsed = |from: SystemTime| now.duration_since(from).unwrap_or_default();
        if self.seen.is_none() {
            return if elapsed(self.handed_at) > START {
                Step::NotStarted
            } else {
                Step::Waiting
            };
        }
        let gone_at = *self.gone_at.get_or_insert(now);
        if elapsed(gone_at) > FINISHING {
            Step::Ended
        } else {
            Step::Waiting
        }
    }

    /// An account of the provider that is new, or whose last token response
    /// is new and no older than `since` (whole seconds, as stored).
    fn stored_since(&self, book: &AccountBook, since: SystemTime) -> Option<(Account, bool)> {
        let since = since
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let ours = book
            .accounts
            .iter()
            .filter(|a| a.provider_id == self.provider);
        let mut fresh = ours.filter(|a| match self.baseline.get(&a.id) {
            None => true,
            Some(before) => {
                a.last_refreshed_at != *before && a.last_refreshed_at.is_some_and(|t| t >= since)
            }
        });
        fresh
            .next()
            .map(|a| (a.clone(), self.baseline.contains_key(&a.id)))
    }
}

/// Hands the sign-in at `provider` to the app `exe` and waits for its account.
pub async fn run(
    core: &Latchkey,
    provider: &str,
    exe: &Path,
    options: Options,
) -> Result<Exit, CliError> {
    let mut ctrl_c = CtrlC::listen()?;
    // The request the app makes is kept in the keychain: watching needs it.
    let pending = core.pending().await.map_err(|err| CliError::vault(&err))?;
    let book = core.accounts().map_err(|err| CliError::registry(&err))?;
    let mut watch = Watch::new(provider, &pending, &book, SystemTime::now());
    let mut child = start_app(exe, provider)?;
    output::stderr(&format!(
        "Handed the sign-in to the Latchkey app ({}); finish it in your browser… (Ctrl-C stops \
         waiting; the sign-in goes on in the app)",
        exe.display()
    ));
    let deadline = tokio::time::Instant::now() + LIFE;
    let mut app_exited = None;
    loop {
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = ctrl_c.pressed() => {
                return Err(CliError::new(
                    Exit::Interrupted,
                    "stopped waiting (Ctrl-C): the sign-in goes on in the Latchkey app's window",
                ));
            }
        }
        if app_exited.is_none()
            && let Ok(Some(status)) = child.try_wait()
        {
            app_exited = Some(status);
        }
        // A keychain or file read that fails now may work at the next look.
        let (Ok(pending), Ok(book)) = (core.pending().await, core.accounts()) else {
            continue;
        };
        match watch.step(&pending, &book, SystemTime::now()) {
            Step::Waiting => {}
            Step::Started(name) => output::stderr(&format!(
                "The Latchkey app started the sign-in at {name}: waiting for it…"
            )),
            Step::Done(account, replaced) => {
                let name = core
                    .provider(provider)
                    .map_or_else(|| provider.to_owned(), |c| c.name.clone());
                return report(core, &account, replaced, &name, options.json).await;
            }
            Step::Ended => {
                return Err(CliError::new(
                    Exit::Failure,
                    "the sign-in ended in the Latchkey app without an account (cancelled, denied, \
                     expired or failed; its window says why): nothing was stored; run the \
                     command again to retry",
                ));
            }
            Step::NotStarted => return Err(not_started(core, exe, provider, app_exited)),
        }
        if let Some(status) = app_exited.filter(|s| !s.success()) {
            return Err(not_started(core, exe, provider, Some(status)));
        }
        if tokio::time::Instant::now() > deadline {
            return Err(CliError::new(
                Exit::Failure,
                "the sign-in was not finished in time: nothing was stored; run the command again",
            ));
        }
    }
}

/// Runs the app with `--sign-in PROVIDER`, detached: its own process group
/// (Ctrl-C here does not reach it), no terminal output (it keeps its log).
fn start_app(exe: &Path, provider: &str) -> Result<Child, CliError> {
    let mut command = Command::new(exe);
    command
        .args(["--sign-in", provider])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        command.process_group(0);
    }
    command.spawn().map_err(|err| {
        CliError::new(
            Exit::Failure,
            format!(
                "could not start the Latchkey app {} ({err}): set {} to its executable",
                exe.display(),
                super::app_exe::APP_ENV
            ),
        )
    })
}

fn not_started(
    core: &Latchkey,
    exe: &Path,
    provider: &str,
    exited: Option<std::process::ExitStatus>,
) -> CliError {
    let log = core
        .identity()
        .data_dir()
        .map(|d| d.join("logs").join("latchkey.log").display().to_string())
        .unwrap_or_else(|| "its log".into());
    let what = match exited {
        Some(status) if !status.success() => format!("exited ({status})"),
        _ => format!("did not start it within {} s", START.as_secs()),
    };
    CliError::new(
        Exit::Failure,
        format!(
            "the Latchkey app ({}) {what} before taking the sign-in at {provider}: its window or \
             its log ({log}) says why; or use --device",
            exe.display()
        ),
    )
}

#[cfg(test)]
#[path = "handoff_tests.rs"]
mod tests;
