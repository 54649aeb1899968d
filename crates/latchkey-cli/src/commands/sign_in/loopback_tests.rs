use std::time::{Duration, SystemTime};

use latchkey_core::RedirectKind;
use latchkey_core::flow::request::AuthorizeError;
use url::Url;

use super::*;

fn pending() -> PendingSummary {
    let created_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    PendingSummary {
        handle: PendingHandle::new("h1"),
        provider_id: "work".into(),
        provider_name: "Work".into(),
        authorization_url: Url::parse(
            "https://id.example.com/authorize?client_id=c&redirect_uri=http%3A%2F%2F127.0.0.1%3A53682%2Foauth%2Fcallback&state=s",
        )
        .expect("a URL"),
        created_at,
        expires_at: created_at + Duration::from_secs(600),
    }
}

#[test]
fn a_loopback_provider_signs_in_in_the_browser_a_scheme_one_in_the_app_unless_device() {
    let loopback = RedirectKind::Loopback { ports: vec![] };
    assert_eq!(Method::of(&loopback, false, false), Method::Loopback);
    assert_eq!(Method::of(&loopback, false, true), Method::Loopback);
    assert_eq!(
        Method::of(&loopback, true, false),
        Method::Device { explicit: true }
    );
    assert_eq!(Method::of(&RedirectKind::Scheme, false, false), Method::App);
    // --open is the device grant's option: it implies the grant.
    assert_eq!(
        Method::of(&RedirectKind::Scheme, false, true),
        Method::Device { explicit: false }
    );
    assert_eq!(
        Method::of(&RedirectKind::Scheme, true, false),
        Method::Device { explicit: true }
    );
}

#[test]
fn no_browser_at_a_scheme_provider_says_the_app_opens_it() {
    let err = super::super::no_browser_at_app("Work");
    assert_eq!(err.exit, Exit::Usage);
    assert!(
        err.message.contains("the app opens the browser"),
        "{}",
        err.message
    );
    assert!(err.message.contains("--device"), "{}", err.message);
}

#[test]
fn the_prompt_shows_the_url_first_and_says_what_happens_next() {
    let opening = prompt(&pending(), true);
    let url = pending().authorization_url.to_string();
    assert!(
        opening.starts_with(&format!("Open this URL in your browser: {url}\n")),
        "{opening}"
    );
    assert!(opening.contains("Opening it in your browser."), "{opening}");
    assert!(opening.contains("Waiting for the sign-in to Work there… (Ctrl-C to cancel)"));

    let printed = prompt(&pending(), false);
    assert!(printed.starts_with(&format!("Open this URL in your browser: {url}\n")));
    assert!(!printed.contains("Opening"), "{printed}");
    assert!(
        printed.contains("it comes back to http://127.0.0.1:53682/oauth/callback"),
        "{printed}"
    );
    assert!(printed.contains("use --device"), "{printed}");
}

#[test]
fn the_json_line_is_the_authorization_url_alone() {
    let p = pending();
    let value = serde_json::to_value(Started {
        authorization_url: p.authorization_url.as_str(),
    })
    .expect("serializes");
    assert_eq!(
        value,
        serde_json::json!({ "authorization_url": p.authorization_url.as_str() })
    );
}

#[test]
fn an_expired_browser_sign_in_says_so_not_a_code() {
    let err = complete_error(
        &CompleteError::Expired {
            provider_name: "Work".into(),
        },
        Method::Loopback,
    );
    assert_eq!(err.exit, Exit::Failure);
    assert!(
        err.message
            .starts_with("the sign-in at Work was not finished in the browser"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("code"), "{}", err.message);
    assert!(err.message.contains("nothing was stored"));
}

#[test]
fn a_busy_port_names_the_ways_out() {
    let err = authorize_error(&AuthorizeError::Loopback {
        reason: "none of the ports [53682] is free".into(),
    });
    assert_eq!(err.exit, Exit::Failure);
    assert!(
        err.message.contains("loopback_unavailable"),
        "{}",
        err.message
    );
    assert!(err.message.contains("--device"), "{}", err.message);
}
