//! Secret values that cannot be printed, logged or serialized by accident.

use std::fmt;

use zeroize::Zeroizing;

/// A secret string (refresh token, authorization code, PKCE verifier, ...).
///
/// `Debug` and `Display` print `[redacted]`; there is no `Serialize`; the
/// memory is zeroed when the value is dropped (`zeroize`). Read the value with
/// [`SecretString::expose`] at the single place that must send it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The secret itself. Call this only where the value leaves the process
    /// (an HTTP request body, the keychain, the one token a CLI was asked for).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = SecretString::new("rt-very-secret");
        assert!(!format!("{secret:?}").contains("very-secret"));
        assert!(!format!("{secret}").contains("very-secret"));
        assert_eq!(secret.expose(), "rt-very-secret");
    }
}
