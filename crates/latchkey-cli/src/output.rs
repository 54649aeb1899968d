//! The only writers of stdout and stderr. stdout carries the answer (a
//! token only when one was asked for); stderr carries messages.

use std::io::Write as _;

use crate::exit::{CliError, Exit};

/// Writes `bytes` to stdout and flushes.
pub fn stdout_bytes(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|err| CliError::new(Exit::Failure, format!("cannot write to stdout: {err}")))
}

/// Writes `text` and a newline to stdout.
pub fn stdout_line(text: &str) -> Result<(), CliError> {
    let mut line = zeroize::Zeroizing::new(String::with_capacity(text.len() + 1));
    line.push_str(text);
    line.push('\n');
    stdout_bytes(line.as_bytes())
}

/// Writes `text` and a newline to stderr (a failure to do so is ignored:
/// there is nowhere else to report it).
pub fn stderr(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}
