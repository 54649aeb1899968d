//! Text that came from outside (a provider's error, a link any web page can
//! send) reduced to something safe to show.
//!
//! RFC 6749 §4.1.2.1 and §5.2 allow `error` and `error_description` only
//! printable ASCII without `"` and `\` (%x20-21 / %x23-5B / %x5D-7E). Anything
//! else — control characters, bidi overrides, look-alike letters, newlines
//! that forge a second log line — is dropped, and the result is capped, so a
//! hostile value can neither spoof the window nor flood it.

/// Longest `error` code kept.
pub(crate) const MAX_ERROR_CODE: usize = 64;
/// Longest description (or other echoed value) kept.
pub(crate) const MAX_DESCRIPTION: usize = 300;

/// `value` reduced to RFC 6749's character set and cut to `max` characters.
pub(crate) fn protocol_text(value: &str, max: usize) -> String {
    value
        .chars()
        .filter(|c| matches!(c, ' '..='~') && *c != '"' && *c != '\\')
        .take(max)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_printable_ascii_only() {
        assert_eq!(
            protocol_text("bad\u{202e}\n\"quote\"\\ é ok~", 100),
            "badquote  ok~"
        );
    }

    #[test]
    fn caps_the_length() {
        assert_eq!(protocol_text(&"x".repeat(1000), MAX_ERROR_CODE).len(), 64);
        assert_eq!(protocol_text(&"y".repeat(1000), MAX_DESCRIPTION).len(), 300);
    }
}
