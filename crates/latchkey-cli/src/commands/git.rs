//! `latchkey git-credential`: a git credential helper (gitcredentials(7)).
//!
//! Configure it as `credential.helper = !latchkey git-credential` (or with
//! the binary's absolute path, `/usr/bin/latchkey git-credential`: git
//! prefixes any other helper string with `git credential-`).
//!
//! - `get`: reads `key=value` lines up to a blank line; for a host mapped to
//!   an account (see [`super::git_config`]) answers `username`, `password`
//!   (a fresh access token) and `password_expiry_utc` (git ≥ 2.41 drops an
//!   expired one). An unmapped host gets no answer and exit 0, so git asks
//!   its next helper. When a mapped account cannot give a token (needs
//!   sign-in, offline, keychain) the answer is `quit=1` alone, which stops
//!   git from asking other helpers or prompting for a password, with the
//!   reason on stderr and a non-zero exit.
//! - `store`, `erase`: the input is read and ignored. The token belongs to
//!   Latchkey, which refreshes it; a copy kept by git would go stale, and
//!   git erasing after a refused request must not sign anyone out. git
//!   erases after the host refused a credential: for a mapped host, `erase`
//!   says on stderr which account's token was refused and how to map another.
//! - any other operation is ignored, as gitcredentials(7) asks.

use std::time::Duration;

use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use crate::commands::git_config::{self, GitMapping};
use crate::commands::{fresh_token, unix};
use crate::exit::{CliError, Exit};
use crate::{duration, output};

#[derive(Debug, Args)]
pub struct GitArgs {
    #[command(subcommand)]
    op: GitOp,
}

#[derive(Debug, Subcommand)]
enum GitOp {
    /// Answers git's request for a mapped host (git runs this).
    Get {
        /// The token must stay valid at least this long.
        #[arg(long, default_value = "5m", value_parser = duration::parse)]
        min_valid: Duration,
    },
    /// Ignored: the token is Latchkey's, never stored by git.
    Store,
    /// Ignored: git's erase never signs an account out.
    Erase,
    /// Maps a host to an account in git.toml (the app's config folder).
    Configure {
        /// The host as git sends it (`git.example.com`, `host:port`), or a URL.
        host: String,
        /// The account (id, label, email or provider:name).
        account: String,
        /// The username to answer with.
        #[arg(long, default_value = "oauth2")]
        username: String,
        /// Only for repositories under this path (needs credential.useHttpPath).
        #[arg(long)]
        path_prefix: Option<String>,
    },
    #[command(external_subcommand)]
    Other(#[allow(dead_code)] Vec<String>),
}

/// What git asks about (the attributes a helper needs; others are ignored).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub protocol: Option<String>,
    pub host: Option<String>,
    pub path: Option<String>,
    pub username: Option<String>,
}

/// Parses git's `key=value` lines up to a blank line (or the end).
pub fn parse_request(input: &str) -> Request {
    let mut request = Request::default();
    for line in input.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = Some(value.to_owned());
        match key {
            "protocol" => request.protocol = value,
            "host" => request.host = value,
            "path" => request.path = value,
            "username" => request.username = value,
            "url" => {
                if let Some(Ok(url)) = value.as_deref().map(url::Url::parse) {
                    request.protocol = Some(url.scheme().to_owned());
                    request.host = url.host_str().map(|h| match url.port() {
                        Some(port) => format!("{h}:{port}"),
                        None => h.to_owned(),
                    });
                    let path = url.path().trim_start_matches('/');
                    request.path = (!path.is_empty()).then(|| path.to_owned());
                    request.username =
                        (!url.username().is_empty()).then(|| url.username().to_owned());
                }
            }
            _ => {}
        }
    }
    request
}

fn under(path: Option<&str>, prefix: &str) -> bool {
    let prefix = prefix.trim_matches('/');
    let Some(path) = path.map(|p| p.trim_matches('/')) else {
        return prefix.is_empty();
    };
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The mapping for a request: same protocol and host, a username git
/// already has must be the mapping's, and the longest matching path prefix
/// wins (the first of equals).
pub fn find<'a>(mappings: &'a [GitMapping], request: &Request) -> Option<&'a GitMapping> {
    let protocol = request.protocol.as_deref()?;
    let host = request.host.as_deref()?;
    let mut best: Option<&GitMapping> = None;
    for m in mappings {
        let fits = m.protocol.eq_ignore_ascii_case(protocol)
            && m.host.eq_ignore_ascii_case(host)
            && request.username.as_deref().is_none_or(|u| u == m.username)
            && under(
                request.path.as_deref(),
                m.path_prefix.as_deref().unwrap_or(""),
            );
        let len = |m: &GitMapping| {
            m.path_prefix
                .as_deref()
                .map_or(0, |p| p.trim_matches('/').len())
        };
        if fits && best.is_none_or(|b| len(m) > len(b)) {
            best = Some(m);
        }
    }
    best
}

/// The answer to `get`: username, password and its expiry.
pub fn answer(
    username: &str,
    token: &str,
    expires_at: Option<std::time::SystemTime>,
) -> Result<Zeroizing<String>, CliError> {
    if [username, token].iter().any(|v| v.contains(['\n', '\0'])) {
        return Err(CliError::new(
            Exit::Failure,
            "the username or token cannot be passed to git (it contains a newline)",
        ));
    }
    let mut text = Zeroizing::new(format!("username={username}\npassword={token}\n"));
    if let Some(at) = expires_at {
        text.push_str(&format!("password_expiry_utc={}\n", unix(at)));
    }
    Ok(text)
}

fn read_all(mut input: impl std::io::Read) -> String {
    let mut bytes = Zeroizing::new(Vec::new());
    let _ = input.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

fn read_stdin() -> String {
    read_all(std::io::stdin().lock())
}

/// `store`, `erase` and unknown operations: the input (which may carry a
/// password) is read, so git never meets a closed pipe, and dropped.
fn ignore(input: impl std::io::Read) -> Exit {
    drop(Zeroizing::new(read_all(input)));
    Exit::Ok
}

/// What `erase` says when the host that refused a credential is mapped: git
/// erases after a refused request, and its own "Authentication failed" does
/// not say which account's token that was.
pub fn refused_hint(mappings: &[GitMapping], request: &Request) -> Option<String> {
    let m = find(mappings, request)?;
    Some(format!(
        "latchkey: {}://{} refused the token of {} (the account mapped to it). \
         If this repository needs another account: latchkey git-credential configure {} ACCOUNT. \
         Nothing was erased; the account stays signed in.",
        m.protocol, m.host, m.account, m.host
    ))
}

/// `erase`: nothing is erased; a mapped host gets [`refused_hint`] on stderr.
fn erase() -> Exit {
    let request = parse_request(&Zeroizing::new(read_stdin()));
    // A mapping file that cannot be read now was readable for `get`: no hint then.
    if let Ok(mappings) = git_config::load_mappings()
        && let Some(hint) = refused_hint(&mappings, &request)
    {
        output::stderr(&hint);
    }
    Exit::Ok
}

fn get(min_valid: Duration) -> Result<Exit, CliError> {
    let request = parse_request(&read_stdin());
    let mappings = git_config::load_mappings()?;
    let Some(mapping) = find(&mappings, &request) else {
        return Ok(Exit::Ok); // not ours: git asks its next helper
    };
    let fresh = fresh_token(Some(&mapping.account), min_valid);
    let text = fresh.and_then(|f| {
        answer(
            &mapping.username,
            f.token.token.expose(),
            f.token.expires_at,
        )
    });
    match text {
        Ok(text) => {
            output::stdout_bytes(text.as_bytes())?;
            Ok(Exit::Ok)
        }
        Err(mut err) => {
            // Stop git here: no other helper, no password prompt.
            output::stdout_bytes(b"quit=1\n")?;
            err.message = format!(
                "no git credential for {} ({}): {}",
                mapping.host, mapping.account, err.message
            );
            Err(err)
        }
    }
}

fn configure(
    host: &str,
    account: &str,
    username: String,
    path_prefix: Option<String>,
) -> Result<Exit, CliError> {
    let (protocol, host, path_prefix) = match url::Url::parse(host) {
        Ok(url) if host.contains("://") => {
            let h = url
                .host_str()
                .ok_or_else(|| CliError::usage(format!("{host:?} has no host")))?;
            let h = url
                .port()
                .map_or_else(|| h.to_owned(), |p| format!("{h}:{p}"));
            let path = url.path().trim_matches('/');
            let prefix = path_prefix.or_else(|| (!path.is_empty()).then(|| path.to_owned()));
            (url.scheme().to_owned(), h, prefix)
        }
        _ if host.is_empty() || host.contains(['/', ' ', '=']) => {
            return Err(CliError::usage(format!(
                "{host:?} is not a host (e.g. git.example.com)"
            )));
        }
        _ => ("https".to_owned(), host.to_ascii_lowercase(), path_prefix),
    };
    // The selector must name one account now (the error lists them).
    let core = crate::app::build()?;
    let book = core.accounts().map_err(|err| CliError::registry(&err))?;
    let chosen = crate::select::select(&book, Some(account))?;
    let mapping = GitMapping {
        host,
        account: account.to_owned(),
        username,
        path_prefix,
        protocol,
    };
    let path = git_config::configure(&mapping)?;
    output::stderr(&format!(
        "{}://{} now uses {} ({}); written to {}.\nTell git: git config --global credential.{}://{}.helper '!latchkey git-credential'",
        mapping.protocol,
        mapping.host,
        crate::select::who(chosen),
        chosen.id,
        path.display(),
        mapping.protocol,
        mapping.host
    ));
    Ok(Exit::Ok)
}

pub fn run(args: GitArgs) -> Result<Exit, CliError> {
    match args.op {
        GitOp::Get { min_valid } => get(min_valid),
        GitOp::Erase => Ok(erase()),
        GitOp::Store | GitOp::Other(_) => Ok(ignore(std::io::stdin().lock())),
        GitOp::Configure {
            host,
            account,
            username,
            path_prefix,
        } => configure(&host, &account, username, path_prefix),
    }
}

#[cfg(test)]
#[path = "git_tests.rs"]
mod tests;
