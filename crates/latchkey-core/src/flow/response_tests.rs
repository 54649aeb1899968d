//! Tests of `response`.
use super::*;

fn cb() -> Url {
    Url::parse("dev.latchkey:/oauth/callback").expect("url")
}

#[test]
fn success_response() {
    let r = parse_redirect(
        "dev.latchkey:/oauth/callback?code=abc%2Bdef&state=s1&iss=https%3A%2F%2Fid.example",
        &cb(),
    )
    .expect("ok");
    let Redirect::Success(r) = r else {
        panic!("success expected")
    };
    assert_eq!(r.code.expose(), "abc+def");
    assert_eq!(r.state, "s1");
    assert_eq!(r.iss.as_deref(), Some("https://id.example"));
}

#[test]
fn error_response_carries_description() {
    let r = parse_redirect(
        "dev.latchkey:/oauth/callback?error=access_denied&error_description=End-User+aborted+interaction&state=s1",
        &cb(),
    )
    .expect("ok");
    let Redirect::Error(e) = r else {
        panic!("error expected")
    };
    assert_eq!(e.error, "access_denied");
    assert_eq!(
        e.description.as_deref(),
        Some("End-User aborted interaction")
    );
    assert_eq!(e.state.as_deref(), Some("s1"));
}

#[test]
fn duplicates_are_rejected() {
    for url in [
        "dev.latchkey:/oauth/callback?code=a&code=b&state=s",
        "dev.latchkey:/oauth/callback?code=a&state=s&state=t",
        "dev.latchkey:/oauth/callback?code=a&state=s&iss=x&iss=y",
    ] {
        let err = parse_redirect(url, &cb()).expect_err(url);
        assert_eq!(err.code(), "link_duplicate_parameter");
    }
}

#[test]
fn missing_parameters() {
    assert_eq!(
        parse_redirect("dev.latchkey:/oauth/callback?code=a", &cb()).expect_err("no state"),
        RedirectError::MissingParameter { name: "state" }
    );
    assert_eq!(
        parse_redirect("dev.latchkey:/oauth/callback?state=a", &cb()).expect_err("no code"),
        RedirectError::MissingParameter { name: "code" }
    );
}

#[test]
fn empty_state_or_code_counts_as_missing() {
    for (url, name) in [
        ("dev.latchkey:/oauth/callback?code=&state=s", "code"),
        ("dev.latchkey:/oauth/callback?code=c&state", "state"),
        ("dev.latchkey:/oauth/callback?code=c&state\t\n", "state"),
    ] {
        assert_eq!(
            parse_redirect(url, &cb()).expect_err(url),
            RedirectError::MissingParameter { name },
            "{url}"
        );
    }
}

#[test]
fn other_paths_schemes_and_garbage() {
    for url in [
        "dev.latchkey:/other?code=a&state=s",
        "https://evil.example/oauth/callback?code=a&state=s",
        "dev.latchkey://oauth/callback?code=a&state=s",
    ] {
        assert_eq!(
            parse_redirect(url, &cb()).expect_err(url).code(),
            "link_not_callback"
        );
    }
    assert_eq!(
        parse_redirect("::::", &cb()).expect_err("garbage"),
        RedirectError::NotAUrl
    );
}

#[test]
fn malformed_encoding_and_non_utf8() {
    for url in [
        "dev.latchkey:/oauth/callback?code=%zz&state=s",
        "dev.latchkey:/oauth/callback?code=%4&state=s",
        "dev.latchkey:/oauth/callback?code=%ff%fe&state=s",
    ] {
        assert_eq!(
            parse_redirect(url, &cb()).expect_err(url).code(),
            "link_malformed"
        );
    }
}

#[test]
fn oversized_link() {
    let url = format!(
        "dev.latchkey:/oauth/callback?code={}&state=s",
        "a".repeat(MAX_REDIRECT_LEN)
    );
    assert_eq!(
        parse_redirect(&url, &cb()).expect_err("long").code(),
        "link_too_long"
    );
}

#[test]
fn issuer_checks() {
    assert!(check_issuer(Some("https://a"), "https://a", true).is_ok());
    assert!(check_issuer(None, "https://a", false).is_ok());
    assert_eq!(
        check_issuer(Some("https://b"), "https://a", false)
            .expect_err("mismatch")
            .code(),
        "issuer_mismatch"
    );
    assert_eq!(
        check_issuer(None, "https://a", true)
            .expect_err("missing")
            .code(),
        "issuer_missing"
    );
    // Exact comparison: no normalisation.
    assert!(check_issuer(Some("https://a/"), "https://a", false).is_err());
}

#[test]
fn redacted_url_hides_values() {
    let shown = RedactedUrl("dev.latchkey:/oauth/callback?code=SECRET&state=STATE").to_string();
    assert_eq!(shown, "dev.latchkey:/oauth/callback?code=…&state=…");
    assert!(!shown.contains("SECRET"));
}

#[test]
fn per_provider_callback_paths_are_accepted() {
    let r = parse_redirect("dev.latchkey:/oauth/callback/work-2?code=c&state=s", &cb())
        .expect("per-provider path");
    assert_eq!(r.state(), Some("s"));
    assert_eq!(
        callback_uri(
            "dev.latchkey:/oauth/callback/work-2?code=c&state=s#x",
            &cb()
        )
        .expect("callback")
        .as_str(),
        "dev.latchkey:/oauth/callback/work-2"
    );
    for url in [
        "dev.latchkey:/oauth/callback/?code=c&state=s",
        "dev.latchkey:/oauth/callback/Work?code=c&state=s",
        "dev.latchkey:/oauth/callback/a/b?code=c&state=s",
        "dev.latchkey:/oauth/callbackwork?code=c&state=s",
        "dev.latchkey:/oauth/callback/%2e%2e?code=c&state=s",
    ] {
        assert_eq!(
            parse_redirect(url, &cb()).expect_err(url).code(),
            "link_not_callback",
            "{url}"
        );
    }
    // Only the app's own scheme has per-provider paths.
    let loopback = Url::parse("http://127.0.0.1/callback").expect("url");
    assert!(parse_redirect("http://127.0.0.1/callback/p?code=c&state=s", &loopback).is_err());
}

#[test]
fn the_link_must_come_on_the_pending_redirect_uri() {
    let per_provider = Url::parse("dev.latchkey:/oauth/callback/work").expect("url");
    let link =
        callback_uri("dev.latchkey:/oauth/callback/work?code=c&state=s", &cb()).expect("callback");
    assert_eq!(matches_pending(&link, &per_provider), Ok(()));
    let shared =
        callback_uri("dev.latchkey:/oauth/callback?code=c&state=s", &cb()).expect("callback");
    assert_eq!(matches_pending(&shared, &cb()), Ok(()));
    let err = matches_pending(&shared, &per_provider).expect_err("shared for per-provider");
    assert_eq!(err.code(), "redirect_mismatch");
    assert!(err.to_string().contains("mix-up"), "{err}");
    let other =
        callback_uri("dev.latchkey:/oauth/callback/home?code=c&state=s", &cb()).expect("callback");
    assert!(matches_pending(&other, &per_provider).is_err());
    assert!(matches_pending(&link, &cb()).is_err());
}

#[test]
fn authorization_error_text_is_reduced_and_capped() {
    let url = format!(
        "dev.latchkey:/oauth/callback?error=access_denied%E2%80%AE%0A%22x%5C{}&error_description=Click%0D%0Ahttps%3A%2F%2Fevil.example+%E2%80%AEnow%22{}&state=s",
        "e".repeat(200),
        "d".repeat(1000)
    );
    let Redirect::Error(e) = parse_redirect(&url, &cb()).expect("error response") else {
        panic!("error expected")
    };
    assert!(e.error.starts_with("access_deniedxeee"), "{}", e.error);
    assert_eq!(e.error.len(), 64);
    let description = e.description.expect("description");
    assert!(
        description.starts_with("Clickhttps://evil.example now"),
        "{description}"
    );
    assert_eq!(description.len(), 300);
    let allowed = |c: char| matches!(c, ' '..='~') && c != '"' && c != '\\';
    assert!(e.error.chars().chain(description.chars()).all(allowed));
}

#[test]
fn names_echoed_from_a_rejected_link_are_reduced_and_capped() {
    let path = format!("/{}evil\n\"{}", '\u{202e}', "p".repeat(2000));
    let err = parse_redirect(&format!("dev.latchkey:{path}"), &cb()).expect_err("other path");
    let RedirectError::NotACallback { shown } = &err else {
        panic!("{err:?}")
    };
    assert!(shown.len() <= 300, "{}", shown.len());
    assert!(!shown.contains('\n') && !shown.contains('\u{202e}') && !shown.contains('"'));
    let long_name = format!("{}%0A%E2%80%AE", "n".repeat(500));
    let err = parse_redirect(
        &format!("dev.latchkey:/oauth/callback?{long_name}=1&{long_name}=2"),
        &cb(),
    )
    .expect_err("duplicate");
    let RedirectError::DuplicateParameter { name } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(name.len(), 64);
    assert!(name.bytes().all(|b| b == b'n'));
    let err = check_issuer(
        Some("https://evil.example\n\u{202e}\"x"),
        "https://a",
        false,
    )
    .expect_err("mismatch");
    assert!(err.to_string().contains("https://evil.examplex"), "{err}");
}

#[test]
fn a_response_in_the_fragment_is_recognised() {
    let err = parse_redirect(
        "dev.latchkey:/oauth/callback#code=SECRETCODE&state=STATE-1&iss=https%3A%2F%2Fid",
        &cb(),
    )
    .expect_err("fragment");
    assert_eq!(err.code(), "fragment_response");
    assert_eq!(
        err,
        RedirectError::FragmentResponse {
            state: Some("STATE-1".into())
        }
    );
    let message = err.to_string();
    assert!(message.contains("fragment"), "{message}");
    assert!(message.contains("response_mode"), "{message}");
    assert!(!message.contains("STATE-1") && !message.contains("SECRETCODE"));
    // An error response, an implicit-flow response, a malformed one.
    for (url, state) in [
        (
            "dev.latchkey:/oauth/callback/p#error=access_denied&state=S2",
            Some("S2"),
        ),
        (
            "dev.latchkey:/oauth/callback#access_token=AT&token_type=bearer",
            None,
        ),
        ("dev.latchkey:/oauth/callback#code=%zz&state=S3", None),
        ("dev.latchkey:/oauth/callback?state=S4#code=C", Some("S4")),
    ] {
        assert_eq!(
            parse_redirect(url, &cb()).expect_err(url),
            RedirectError::FragmentResponse {
                state: state.map(str::to_owned)
            },
            "{url}"
        );
    }
    // A fragment that is not a response (some providers append `#_=_`)
    // does not hide a good query.
    assert!(parse_redirect("dev.latchkey:/oauth/callback?code=c&state=s#_=_", &cb()).is_ok());
    assert!(parse_redirect("dev.latchkey:/oauth/callback?code=c&state=s#code=d", &cb()).is_ok());
    assert_eq!(
        parse_redirect("dev.latchkey:/oauth/callback#_=_", &cb()).expect_err("empty"),
        RedirectError::MissingParameter { name: "state" }
    );
}

#[test]
fn code_is_redacted_in_debug() {
    let r =
        parse_redirect("dev.latchkey:/oauth/callback?code=TOPSECRET&state=s", &cb()).expect("ok");
    assert!(!format!("{r:?}").contains("TOPSECRET"));
}

#[test]
fn a_loopback_response_must_come_on_the_exact_port() {
    let begun = Url::parse("http://127.0.0.1:50123/oauth/callback").expect("url");
    let same = Url::parse("http://127.0.0.1:50123/oauth/callback").expect("url");
    assert_eq!(matches_pending(&same, &begun), Ok(()));
    let other_port = Url::parse("http://127.0.0.1:50124/oauth/callback").expect("url");
    let err = matches_pending(&other_port, &begun).expect_err("another port");
    assert_eq!(err.code(), "redirect_mismatch");
    assert!(err.to_string().contains("127.0.0.1:50123"), "{err}");
}
