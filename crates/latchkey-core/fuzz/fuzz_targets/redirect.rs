//! Any page can fire `dev.latchkey:/…` links at the app: the redirect parser
//! must never panic, never accept duplicates, and never echo values in logs.
#![no_main]

use latchkey_core::redirect::{RedactedUrl, Redirect, check_issuer, parse_redirect};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let expected = url::Url::parse("dev.latchkey:/oauth/callback").expect("valid");
    // Also as a query on our callback, where most of the parser's work happens.
    for candidate in [text.to_owned(), format!("dev.latchkey:/oauth/callback?{text}")] {
        // The redacted form keeps names only: every value is "…".
        let shown = RedactedUrl(&candidate).to_string();
        if let Some((_, query)) = shown.split_once('?') {
            for pair in query.split('&') {
                let value = pair.split_once('=').map(|(_, v)| v);
                assert_eq!(value, Some("…"), "a value leaked into the redacted form: {shown}");
            }
        }
        if let Ok(redirect) = parse_redirect(&candidate, &expected) {
            let _ = check_issuer(redirect.iss(), "https://id.example", true);
            if let Redirect::Success(response) = &redirect {
                assert!(!response.state.is_empty(), "an empty state was accepted");
                assert!(!response.code.expose().is_empty(), "an empty code was accepted");
            }
            let _ = format!("{redirect:?}");
        }
    }
});
