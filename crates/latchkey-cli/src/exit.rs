//! Exit codes, and the core's typed errors mapped onto them with a message
//! that says what to do next. Messages come from the core's error types,
//! which never contain a token.

use std::process::ExitCode;

use latchkey_core::ErrorCode;
use latchkey_core::session::accounts::ManageError;
use latchkey_core::session::latchkey::BuildError;
use latchkey_core::session::refresh::RefreshError;
use latchkey_core::store::registry::RegistryError;
use latchkey_core::store::vault::VaultError;

/// The exit codes (documented in `--help` and the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done.
    Ok = 0,
    /// Any other error.
    Failure = 1,
    /// A bad argument, an unknown or ambiguous account.
    Usage = 2,
    /// The grant has ended (or the refresh token is gone): sign in again.
    NeedsSignIn = 3,
    /// The provider could not be reached; the sign-in is kept.
    Unreachable = 4,
    /// The system keychain is not available (or the file vault's
    /// passphrase is wrong or missing).
    Keychain = 5,
    /// Stopped by Ctrl-C (SIGINT), as shells report it (128 + 2).
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// A failure: its exit code and a message for a person (never a secret).
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub message: String,
}

/// What to do when an account needs signing in again.
pub const SIGN_IN_AGAIN: &str =
    "open the Latchkey app and choose \"Sign in again\" on this account (or add it again)";
/// What to do when the keychain is not available.
const UNLOCK_KEYCHAIN: &str = "unlock the system keychain (or start its Secret Service, e.g. \
     gnome-keyring) and run the command again";
/// The explicit alternative when there is no keychain at all.
const CHOOSE_FILE_VAULT: &str = "unlock the system keychain (or start its Secret Service, e.g. \
     gnome-keyring) and run the command again, or set LATCHKEY_VAULT=file to use an encrypted \
     file vault (see `latchkey --help`)";
/// What to do when the file vault's passphrase does not open it.
const CHECK_PASSPHRASE: &str = "check the passphrase (LATCHKEY_VAULT_PASSPHRASE_FILE, or the one \
     typed at the prompt); the vault file was not changed";

impl CliError {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, message)
    }

    /// A failed refresh of the account `who` (its email or name).
    pub fn refresh(err: &RefreshError, who: &str) -> Self {
        let code = err.code();
        match err {
            RefreshError::NeedsSignIn { reason, .. } => Self::new(
                Exit::NeedsSignIn,
                format!("{who} needs to sign in again ({reason}; {code}): {SIGN_IN_AGAIN}"),
            ),
            RefreshError::UnknownAccount { .. } => Self::new(
                Exit::NeedsSignIn,
                format!(
                    "{who} was signed out meanwhile: sign in in the Latchkey app, then `latchkey accounts`"
                ),
            ),
            RefreshError::Refused { reason, .. } => Self::new(
                Exit::Failure,
                format!(
                    "the provider refused Latchkey's request for {who} ({reason}; {code}): check the \
                     provider's entry in the providers file; the sign-in is kept"
                ),
            ),
            RefreshError::Vault(vault) => Self::vault(vault),
            RefreshError::Registry(registry) => Self::registry(registry),
            _ if err.is_transient() => Self::new(
                Exit::Unreachable,
                format!(
                    "could not refresh {who}'s token ({err}; {code}): the sign-in is kept; \
                     try again later (`latchkey status` shows every account)"
                ),
            ),
            _ => Self::new(Exit::Failure, format!("{err} ({code})")),
        }
    }

    pub fn vault(err: &VaultError) -> Self {
        let code = err.code();
        match err {
            VaultError::Corrupt { .. } => Self::new(
                Exit::NeedsSignIn,
                format!("{err} ({code}): {SIGN_IN_AGAIN} to replace it"),
            ),
            VaultError::Unavailable { .. } => Self::new(
                Exit::Keychain,
                format!("{err} ({code}): {CHOOSE_FILE_VAULT}"),
            ),
            VaultError::WrongPassphrase { .. } => Self::new(
                Exit::Keychain,
                format!("{err} ({code}): {CHECK_PASSPHRASE}"),
            ),
            _ => Self::new(Exit::Keychain, format!("{err} ({code}): {UNLOCK_KEYCHAIN}")),
        }
    }

    pub fn registry(err: &RegistryError) -> Self {
        let code = err.code();
        let next = match err {
            RegistryError::Newer { .. } => "update this `latchkey` to the app's version",
            _ => "open the Latchkey app, which repairs or reports it",
        };
        Self::new(Exit::Failure, format!("{err} ({code}): {next}"))
    }

    pub fn manage(err: &ManageError) -> Self {
        let code = err.code();
        match err {
            ManageError::UnknownAccount { .. } => Self::usage(format!(
                "{err}: it was signed out meanwhile; `latchkey accounts` lists the accounts"
            )),
            ManageError::Registry(registry) => Self::registry(registry),
            ManageError::Vault(vault) => Self::vault(vault),
            ManageError::Busy { .. } => Self::new(
                Exit::Unreachable,
                format!("{err} ({code}): try again in a moment"),
            ),
            _ => Self::new(Exit::Failure, format!("{err} ({code})")),
        }
    }

    pub fn build(err: &BuildError) -> Self {
        Self::new(
            Exit::Failure,
            format!(
                "{err} ({}): set HOME (or XDG_DATA_HOME) to the user's folder",
                err.code()
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn refresh_errors_map_to_their_exit_codes_and_say_what_next() {
        let dead = RefreshError::NeedsSignIn {
            reason: "the provider ended the grant".into(),
            code: "invalid_grant",
        };
        let e = CliError::refresh(&dead, "alice@example.com");
        assert_eq!(e.exit, Exit::NeedsSignIn);
        assert!(e.message.contains("Sign in again") && e.message.contains("invalid_grant"));

        let offline = RefreshError::Transient {
            reason: "connection refused".into(),
            code: "network",
            retry_after: None,
        };
        let e = CliError::refresh(&offline, "alice@example.com");
        assert_eq!(e.exit, Exit::Unreachable);
        assert!(e.message.contains("kept") && e.message.contains("try again"));

        let refused = RefreshError::Refused {
            reason: "invalid_client".into(),
            code: "invalid_client",
        };
        assert_eq!(CliError::refresh(&refused, "a").exit, Exit::Failure);
        let gone = RefreshError::UnknownAccount {
            id: "acct-1".into(),
        };
        assert_eq!(CliError::refresh(&gone, "a").exit, Exit::NeedsSignIn);
    }

    #[test]
    fn keychain_trouble_is_5_and_a_damaged_item_means_sign_in_again() {
        let none = CliError::vault(&VaultError::Unavailable {
            reason: "no bus".into(),
        });
        assert_eq!(none.exit, Exit::Keychain);
        assert!(
            none.message
                .contains("set LATCHKEY_VAULT=file to use an encrypted file vault"),
            "{}",
            none.message
        );
        let wrong = CliError::vault(&VaultError::WrongPassphrase {
            reason: "wrong passphrase".into(),
        });
        assert_eq!(wrong.exit, Exit::Keychain);
        assert!(
            wrong.message.contains("vault_wrong_passphrase"),
            "{}",
            wrong.message
        );
        for err in [
            VaultError::Locked {
                reason: "prompt".into(),
            },
            VaultError::Timeout { seconds: 5 },
            VaultError::Platform { reason: "x".into() },
        ] {
            let e = CliError::refresh(&RefreshError::Vault(err), "a");
            assert_eq!(e.exit, Exit::Keychain);
            assert!(
                e.message.contains("unlock the system keychain"),
                "{}",
                e.message
            );
        }
        let corrupt = VaultError::Corrupt {
            reason: "not JSON".into(),
        };
        assert_eq!(CliError::vault(&corrupt).exit, Exit::NeedsSignIn);
    }

    #[test]
    fn registry_and_manage_errors_map_too() {
        let newer = RegistryError::Newer {
            path: PathBuf::from("/x/accounts.json"),
            version: 9,
        };
        let e = CliError::refresh(&RefreshError::Registry(newer), "a");
        assert_eq!(e.exit, Exit::Failure);
        assert!(e.message.contains("update"));
        let busy = ManageError::Busy {
            reason: "lock".into(),
        };
        assert_eq!(CliError::manage(&busy).exit, Exit::Unreachable);
        let unknown = ManageError::UnknownAccount {
            id: "acct-1".into(),
        };
        assert_eq!(CliError::manage(&unknown).exit, Exit::Usage);
        assert_eq!(ExitCode::from(Exit::Keychain), ExitCode::from(5));
    }
}
