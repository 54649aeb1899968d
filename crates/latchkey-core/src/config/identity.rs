//! The embedding app's identity: who is signing people in.
//!
//! Latchkey itself is one app built on the core; any other app (through
//! `tauri-plugin-latchkey`, or the core directly) brings its own identifier
//! and private-use redirect scheme, so its keychain items, folders, lock files
//! and redirect URIs never collide with Latchkey's.

use std::path::PathBuf;

use url::Url;

/// The path of the callback under the app's scheme (RFC 8252 §7.1).
pub const CALLBACK_PATH: &str = "/oauth/callback";

/// Who the app is: its reverse-DNS identifier (the keychain service name and
/// the name of its config, data and cache folders) and the private-use URI
/// scheme it registers for redirects (RFC 8252 §7.1: a reverse-DNS name the
/// app controls, e.g. `com.example.app`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppIdentity {
    identifier: String,
    scheme: String,
    name: String,
}

/// Why an identity was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The identifier is not a reverse-DNS name.
    #[error(
        "the app identifier {0:?} must be a reverse-DNS name (lowercase letters, digits, '-', at least one '.')"
    )]
    Identifier(String),
    /// The scheme is not a reverse-DNS private-use scheme.
    #[error(
        "the redirect scheme {0:?} must be a reverse-DNS name the app controls (RFC 8252 §7.1), e.g. com.example.app"
    )]
    Scheme(String),
}

impl crate::error::ErrorCode for IdentityError {
    fn code(&self) -> &'static str {
        match self {
            Self::Identifier(_) => "identity_identifier",
            Self::Scheme(_) => "identity_scheme",
        }
    }
}

fn reverse_dns(value: &str) -> bool {
    value.contains('.')
        && value.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && value.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
}

impl AppIdentity {
    /// An app's identity. Both values must be reverse-DNS names in lowercase.
    pub fn new(
        identifier: impl Into<String>,
        scheme: impl Into<String>,
    ) -> Result<Self, IdentityError> {
        let identifier = identifier.into();
        let scheme = scheme.into();
        if !reverse_dns(&identifier) {
            return Err(IdentityError::Identifier(identifier));
        }
        if !reverse_dns(&scheme) {
            return Err(IdentityError::Scheme(scheme));
        }
        Ok(Self {
            name: identifier.clone(),
            identifier,
            scheme,
        })
    }

    /// The app's name as people know it (default: the identifier), for the
    /// page a loopback redirect shows in the browser ("return to …").
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The app's name as people know it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Latchkey app's own identity: `dev.latchkey.app`, scheme `dev.latchkey`.
    pub fn latchkey() -> Self {
        Self {
            identifier: "dev.latchkey.app".into(),
            scheme: "dev.latchkey".into(),
            name: "Latchkey".into(),
        }
    }

    /// The identifier (keychain service name, folder names).
    pub fn identifier(&self) -> &str {
        &self.identifier
    }

    /// The private-use redirect scheme.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The default redirect URI, `<scheme>:/oauth/callback`.
    pub fn redirect_uri(&self) -> Url {
        #[allow(clippy::expect_used)]
        Url::parse(&format!("{}:{CALLBACK_PATH}", self.scheme))
            .expect("a reverse-DNS scheme makes a valid URL")
    }

    /// Whether a launch's arguments (`argv`, the program first) carry a link
    /// on this app's scheme: a second launch started by a deep link (the
    /// deep-link plugin delivers it; an app raises its window only when the
    /// link completes a sign-in, since any web page can send one).
    pub fn carries_link(&self, argv: &[String]) -> bool {
        let prefix = format!("{}:", self.scheme);
        argv.iter().skip(1).any(|arg| {
            arg.get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(&prefix))
        })
    }

    /// The app's data folder (`~/.local/share/<identifier>` on Linux).
    pub fn data_dir(&self) -> Option<PathBuf> {
        dirs::data_dir().map(|d| d.join(&self.identifier))
    }

    /// The app's config folder (`~/.config/<identifier>` on Linux).
    pub fn config_dir(&self) -> Option<PathBuf> {
        dirs::config_dir().map(|d| d.join(&self.identifier))
    }

    /// The app's cache folder (`~/.cache/<identifier>` on Linux).
    pub fn cache_dir(&self) -> Option<PathBuf> {
        dirs::cache_dir().map(|d| d.join(&self.identifier))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_launch_with_a_link_is_told_apart_from_a_plain_one() {
        let argv = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
        let latchkey = AppIdentity::latchkey();
        assert!(!latchkey.carries_link(&argv(&["latchkey-app"])));
        assert!(
            !latchkey.carries_link(&argv(&["dev.latchkey:/x"])),
            "argv[0] is the program"
        );
        assert!(latchkey.carries_link(&argv(&[
            "latchkey-app",
            "dev.latchkey:/oauth/callback?code=c&state=s"
        ])));
        assert!(latchkey.carries_link(&argv(&["latchkey-app", "DEV.LATCHKEY:/anything"])));
        assert!(!latchkey.carries_link(&argv(&["latchkey-app", "--flag", "https://x.example"])));
        // Another app's scheme is not ours, nor is a longer scheme starting like ours.
        assert!(!latchkey.carries_link(&argv(&[
            "latchkey-app",
            "com.example.notes:/oauth/callback"
        ])));
        assert!(!latchkey.carries_link(&argv(&[
            "latchkey-app",
            "dev.latchkey.example:/oauth/callback"
        ])));
        let notes = AppIdentity::new("com.example.notes", "com.example.notes").expect("valid");
        assert!(notes.carries_link(&argv(&[
            "notes",
            "com.example.notes:/oauth/callback?code=c"
        ])));
    }

    #[test]
    fn identities_are_reverse_dns_and_make_their_redirect_uri() {
        let app = AppIdentity::new("com.example.notes", "com.example.notes").expect("valid");
        assert_eq!(
            app.redirect_uri().as_str(),
            "com.example.notes:/oauth/callback"
        );
        assert_eq!(
            AppIdentity::latchkey().redirect_uri().as_str(),
            "dev.latchkey:/oauth/callback"
        );
        for bad in [
            "latchkey",
            "Com.Example",
            "com..example",
            "-a.b",
            "a.b/c",
            "",
        ] {
            assert!(AppIdentity::new("com.example.notes", bad).is_err(), "{bad}");
            assert!(AppIdentity::new(bad, "com.example.notes").is_err(), "{bad}");
        }
    }
}
