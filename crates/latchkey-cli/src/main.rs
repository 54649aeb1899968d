//! `latchkey`: fresh access tokens from the Latchkey app's accounts, for
//! scripts, `git` (a credential helper) and `kubectl` (an exec credential
//! plugin) — like `gh auth token` or `gcloud auth print-access-token`.
//!
//! The CLI builds the same core as the app, over the same keychain items,
//! accounts file and providers file, and gets every token through
//! [`Latchkey::fresh_access_token`](latchkey_core::Latchkey::fresh_access_token):
//! one refresh at a time per account across the app and any number of CLI
//! processes (the account's lock file), rotated refresh tokens stored before
//! use. It never starts the app's lifecycles or reconciliation, never writes
//! a secret anywhere, and prints a token only on stdout, only when asked.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

mod app;
mod commands;
mod duration;
mod exit;
mod output;
mod select;

use exit::{CliError, Exit};

const EXIT_CODES: &str = "\
Exit codes:
  0  ok
  1  any other error (the message says what to do)
  2  usage: a bad argument, an unknown or ambiguous ACCOUNT
  3  needs sign-in: the account's grant has ended or its refresh token is gone;
     sign in again in the Latchkey app
  4  the provider could not be reached (offline, timeout, 5xx, 429): the sign-in
     is kept, try again later
  5  the system keychain is not available (locked, no Secret Service), or the
     file vault's passphrase is wrong or missing
  130  sign-in: cancelled with Ctrl-C (nothing is stored)

sign-in exits 1 when the sign-in was denied at the provider or expired
(nothing is stored), or ended in the app without an account; 2 for an unknown
provider, --no-browser at a provider the app signs in to, LATCHKEY_APP naming
no executable, or no app and no device grant; 4 when the provider cannot be
reached, 5 when the keychain is not available (checked before anything is
shown), 130 on Ctrl-C (a pending browser sign-in is cancelled; one handed to
the app goes on there).

ACCOUNT is an account id (acct-…), a label, an email, or provider:name /
provider:email (e.g. work:alice@example.com); without it, the default account.

Environment: LATCHKEY_PROVIDERS names the providers file (as for the app);
LATCHKEY_LOG=debug (any tracing filter) writes logs to stderr. Logs never
contain tokens.

Without a keychain (a server, a container, SSH): LATCHKEY_VAULT=file (or
--vault file) keeps the secrets in an encrypted file vault, vault.bin in the
app's data folder (argon2id + XChaCha20-Poly1305). Its passphrase comes from
the file LATCHKEY_VAULT_PASSPHRASE_FILE names, else a prompt on the terminal,
at every run (there is no agent). Latchkey never picks the file vault by
itself, and never stores a secret in plaintext.";

/// Fresh access tokens from Latchkey's accounts (the app's keychain and
/// accounts), for scripts, git and kubectl.
#[derive(Debug, Parser)]
#[command(name = "latchkey", version, after_help = EXIT_CODES)]
struct Cli {
    /// Where the secrets are: the system keychain (default) or the encrypted
    /// file vault (also LATCHKEY_VAULT=file).
    #[arg(long, global = true, value_enum)]
    vault: Option<VaultArg>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum VaultArg {
    Keychain,
    File,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Lists the accounts: provider, name or email, label, default, state.
    Accounts(ListArgs),
    /// Like `accounts`, and checks each account's keychain item; exits 0 only
    /// when every account is usable.
    Status(ListArgs),
    /// Prints an access token valid for at least --min-valid (refreshed when
    /// needed; the token alone goes to stdout).
    Token(TokenArgs),
    /// Signs in at a provider from the terminal and stores the account as the
    /// app does: in this machine's browser for a provider with `redirect =
    /// "loopback"` (back to a listener on 127.0.0.1); a provider with the
    /// app's dev.latchkey: redirect is handed to the Latchkey app (started if
    /// needed; LATCHKEY_APP names it) and the command waits for the account;
    /// --device: the device grant (RFC 8628: a code to enter in any browser).
    SignIn(SignInArgs),
    /// Signs an account out: revokes its refresh token at the provider, then
    /// deletes its keychain item and metadata.
    SignOut {
        /// The account (id, label, email or provider:name).
        account: String,
    },
    /// Makes an account the default one.
    Default {
        /// The account (id, label, email or provider:name).
        account: String,
    },
    /// kubectl exec credential plugin: prints an ExecCredential
    /// (client.authentication.k8s.io/v1) with a fresh token.
    ExecCredential(ExecArgs),
    /// git credential helper (`credential.helper = !latchkey git-credential`):
    /// answers `get` for the hosts mapped to an account; never stores anything.
    GitCredential(commands::git::GitArgs),
    /// Stores a provider's client secret in the keychain (for providers
    /// that demand one of desktop apps: Google, GitHub's web flow), read
    /// without echo from the terminal or from stdin.
    ClientSecret {
        /// The provider's id in the providers file.
        provider: String,
        /// Remove the stored secret instead.
        #[arg(long)]
        delete: bool,
    },
    /// Prints a shell completion script (e.g. `latchkey completions bash >
    /// ~/.local/share/bash-completion/completions/latchkey`).
    Completions {
        /// The shell.
        shell: Shell,
    },
}

#[derive(Debug, Args)]
struct ListArgs {
    /// JSON on stdout (an array, one object per account).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct SignInArgs {
    /// The provider's id in the providers file (e.g. `work`).
    provider: String,
    /// Use the device grant (RFC 8628) instead of the browser on this
    /// machine (from SSH, a container or another device); also used when no
    /// Latchkey app can be found for a provider that needs it.
    #[arg(long)]
    device: bool,
    /// Device grant: open the verification page (with the code filled in,
    /// when the provider offers that) in the system browser (at a provider
    /// the app would sign in to, it implies the device grant).
    #[arg(long)]
    open: bool,
    /// Loopback redirect: only print the URL to open (in a browser on this
    /// machine) instead of opening the system browser. Refused where the app
    /// signs in (it opens the browser).
    #[arg(long, conflicts_with = "open")]
    no_browser: bool,
    /// JSON on stdout: one object at once — {authorization_url} for a
    /// browser sign-in, {verification_uri, verification_uri_complete,
    /// user_code, expires_at} for the device grant, nothing for a sign-in
    /// handed to the app — then the account (as `accounts --json` prints it)
    /// when signed in. Messages stay on stderr.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct TokenArgs {
    /// The account (id, label, email or provider:name); default: the default account.
    account: Option<String>,
    /// The token must stay valid at least this long (30s, 5m, 1h, 1h30m).
    #[arg(long, default_value = "60s", value_parser = duration::parse)]
    min_valid: Duration,
    /// raw: the token and a newline; json: {access_token, token_type,
    /// expires_at, account}; header: `Authorization: Bearer …`.
    #[arg(long, value_enum, default_value_t = TokenFormat::Raw)]
    format: TokenFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TokenFormat {
    Raw,
    Json,
    Header,
}

#[derive(Debug, Args)]
struct ExecArgs {
    /// The account (id, label, email or provider:name).
    account: String,
    /// The token must stay valid at least this long.
    #[arg(long, default_value = "60s", value_parser = duration::parse)]
    min_valid: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

fn init_tracing() {
    // Logs only when asked, and only on stderr (stdout carries the answer).
    if std::env::var_os("LATCHKEY_LOG").is_none() {
        return;
    }
    let filter = tracing_subscriber::EnvFilter::try_from_env("LATCHKEY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .try_init();
}

fn run(cli: Cli) -> Result<Exit, CliError> {
    if let Some(vault) = cli.vault {
        app::choose_vault(match vault {
            VaultArg::Keychain => latchkey_core::store::vault_choice::VaultKind::Keychain,
            VaultArg::File => latchkey_core::store::vault_choice::VaultKind::File,
        });
    }
    match cli.command {
        Command::Accounts(args) => commands::accounts::list(args.json),
        Command::Status(args) => commands::accounts::status(args.json),
        Command::Token(args) => {
            commands::token::token(args.account.as_deref(), args.min_valid, args.format)
        }
        Command::SignIn(args) => {
            let options = commands::sign_in::Options {
                device: args.device,
                open: args.open,
                no_browser: args.no_browser,
                json: args.json,
            };
            commands::sign_in::sign_in(&args.provider, options)
        }
        Command::SignOut { account } => commands::accounts::sign_out(&account),
        Command::Default { account } => commands::accounts::make_default(&account),
        Command::ExecCredential(args) => commands::token::exec_credential(
            &args.account,
            args.min_valid,
            std::env::var("KUBERNETES_EXEC_INFO").ok().as_deref(),
        ),
        Command::GitCredential(args) => commands::git::run(args),
        Command::ClientSecret { provider, delete } => {
            commands::client_secret::client_secret(&provider, delete)
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            let shell = match shell {
                Shell::Bash => clap_complete::Shell::Bash,
                Shell::Zsh => clap_complete::Shell::Zsh,
                Shell::Fish => clap_complete::Shell::Fish,
            };
            clap_complete::generate(shell, &mut Cli::command(), "latchkey", &mut script);
            output::stdout_bytes(&script)?;
            Ok(Exit::Ok)
        }
    }
}

fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    match run(cli) {
        Ok(exit) => exit.into(),
        Err(err) => {
            output::stderr(&format!("latchkey: {}", err.message));
            err.exit.into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn usage_errors_exit_2_and_help_lists_the_exit_codes() {
        let err = Cli::try_parse_from(["latchkey", "token", "--min-valid", "soon"])
            .expect_err("a bad duration");
        assert_eq!(err.exit_code(), 2);
        let help = Cli::command().render_long_help().to_string();
        for line in [
            "3  needs sign-in",
            "4  the provider",
            "5  the system keychain",
        ] {
            assert!(help.contains(line), "{line}");
        }
    }

    #[test]
    fn sign_in_takes_a_provider_and_its_flags() {
        let cli = Cli::try_parse_from(["latchkey", "sign-in", "work", "--device", "--json"])
            .expect("parses");
        let Command::SignIn(args) = cli.command else {
            panic!("sign-in")
        };
        assert_eq!(args.provider, "work");
        assert!(args.device && args.json && !args.open && !args.no_browser);
        let err = Cli::try_parse_from(["latchkey", "sign-in"]).expect_err("no provider");
        assert_eq!(err.exit_code(), 2);
        let err = Cli::try_parse_from(["latchkey", "sign-in", "work", "--open", "--no-browser"])
            .expect_err("opening and not opening");
        assert_eq!(err.exit_code(), 2);
        let cli =
            Cli::try_parse_from(["latchkey", "sign-in", "work", "--no-browser"]).expect("parses");
        assert!(matches!(
            cli.command,
            Command::SignIn(SignInArgs {
                no_browser: true,
                ..
            })
        ));
        let help = Cli::command().render_long_help().to_string();
        assert!(
            help.contains("130  sign-in: cancelled with Ctrl-C"),
            "{help}"
        );
    }

    #[test]
    fn token_defaults_to_60_seconds_and_raw() {
        let cli = Cli::try_parse_from(["latchkey", "token"]).expect("parses");
        let Command::Token(args) = cli.command else {
            panic!("token")
        };
        assert_eq!(args.min_valid, Duration::from_secs(60));
        assert_eq!(args.format, TokenFormat::Raw);
        assert_eq!(args.account, None);
    }

    #[test]
    fn vault_is_a_global_flag_keychain_or_file() {
        let cli = Cli::try_parse_from(["latchkey", "token", "--vault", "file"]).expect("after");
        assert_eq!(cli.vault, Some(VaultArg::File));
        let cli =
            Cli::try_parse_from(["latchkey", "--vault", "keychain", "accounts"]).expect("before");
        assert_eq!(cli.vault, Some(VaultArg::Keychain));
        let err = Cli::try_parse_from(["latchkey", "--vault", "plaintext", "accounts"])
            .expect_err("no such vault");
        assert_eq!(err.exit_code(), 2);
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("LATCHKEY_VAULT=file"), "{help}");
    }
}
