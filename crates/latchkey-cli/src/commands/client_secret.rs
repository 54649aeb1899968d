//! `client-secret PROVIDER [--delete]`: stores the client secret that some
//! providers demand of a native app (Google desktop clients, GitHub's web
//! flow) in the keychain, where the core reads it for token requests. It is
//! read from the terminal without echo, or from stdin when piped — never
//! from the command line, where other users' `ps` would see it.

use std::io::{BufRead, IsTerminal};

use latchkey_core::SecretString;

use crate::exit::{CliError, Exit};
use crate::{app, output};

/// Stores (or with `delete`, removes) a provider's client secret.
pub fn client_secret(provider: &str, delete: bool) -> Result<Exit, CliError> {
    let core = app::build()?;
    let Some(config) = core.provider(provider) else {
        return Err(CliError::new(
            Exit::Usage,
            format!("no usable provider {provider:?} in the providers file"),
        ));
    };
    let name = config.name.clone();
    let needs = config.client_secret;
    let runtime = app::runtime()?;
    if delete {
        runtime
            .block_on(core.delete_client_secret(provider))
            .map_err(|err| CliError::vault(&err))?;
        output::stderr(&format!("Removed the client secret of {name}."));
        return Ok(Exit::Ok);
    }
    let secret = read_secret(&name)?;
    runtime
        .block_on(core.set_client_secret(provider, secret))
        .map_err(|err| CliError::vault(&err))?;
    output::stderr(&format!(
        "Stored the client secret of {name} in the keychain.{}",
        if needs {
            ""
        } else {
            " (Its providers-file entry does not use one: add client_secret = true.)"
        }
    ));
    Ok(Exit::Ok)
}

fn read_secret(name: &str) -> Result<SecretString, CliError> {
    let text = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("Client secret of {name}: "))
            .map_err(|err| CliError::new(Exit::Failure, format!("cannot read the secret: {err}")))?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|err| CliError::new(Exit::Failure, format!("cannot read stdin: {err}")))?;
        line
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(CliError::new(
            Exit::Usage,
            "no client secret was given: nothing stored",
        ));
    }
    Ok(SecretString::new(text.to_owned()))
}
