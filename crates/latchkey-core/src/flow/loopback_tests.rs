//! Tests of `loopback`: the listener on a real socket, with a stand-in for
//! the completion (the session's tests complete for real).
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::*;

const STATE: &str = "the-state-of-this-sign-in";
const CODE: &str = "code-that-must-never-show";

fn base() -> Url {
    Url::parse("http://127.0.0.1/oauth/callback").expect("url")
}

fn handle() -> PendingHandle {
    PendingHandle::for_state(STATE)
}

fn head(method: &str, target: &str, port: u16) -> Head {
    Head {
        method: method.into(),
        target: target.into(),
        host: Some(format!("127.0.0.1:{port}")),
    }
}

/// Sends one raw request; returns the whole answer ("" when refused or reset).
async fn send(port: u16, request: String) -> String {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return String::new();
    };
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

async fn get(port: u16, target: &str) -> String {
    send(
        port,
        format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: test\r\n\r\n"),
    )
    .await
}

fn ours() -> String {
    format!("/oauth/callback?code={CODE}&state={STATE}")
}

/// Waits (briefly) until nothing listens on `port` any more.
async fn refused(port: u16) -> bool {
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// A listener serving on a task.
type Serving = (
    Arc<AtomicUsize>,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Served<Result<(), ()>>>,
);

/// Serves on a task: how many completions ran, and how it ended.
fn spawn_serving(bound: Bound, outcome: Result<(), ()>) -> Serving {
    let calls = Arc::new(AtomicUsize::new(0));
    let (close, closed) = tokio::sync::oneshot::channel::<()>();
    let counted = Arc::clone(&calls);
    let task = tokio::spawn(async move {
        let stop = async {
            let _ = closed.await;
            Stopped::Closed
        };
        bound
            .serve(&handle(), "Latchkey", stop, |url| async move {
                assert!(url.contains(CODE) && url.starts_with("http://127.0.0.1:"));
                counted.fetch_add(1, Ordering::SeqCst);
                outcome
            })
            .await
    });
    (calls, close, task)
}

#[test]
fn only_a_get_on_the_path_with_this_sign_ins_state_is_ours() {
    let uri = Url::parse("http://127.0.0.1:4000/oauth/callback").expect("url");
    let h = handle();
    let target = ours();
    assert_eq!(
        judge(&head("GET", &target, 4000), &uri, &h),
        Verdict::Ours(format!("http://127.0.0.1:4000{target}"))
    );
    let cases = [
        (head("POST", &target, 4000), 404),
        (head("GET", "/favicon.ico", 4000), 404),
        (
            head(
                "GET",
                &target.replace("/oauth/callback", "/oauth/callback/x"),
                4000,
            ),
            404,
        ),
        (
            head("GET", &format!("http://127.0.0.1:4000{target}"), 4000),
            404,
        ),
        // DNS rebinding: another name for this address.
        (
            Head {
                host: Some("evil.example:4000".into()),
                ..head("GET", &target, 4000)
            },
            400,
        ),
        (
            Head {
                host: None,
                ..head("GET", &target, 4000)
            },
            400,
        ),
        (head("GET", &target, 4001), 400),
        (
            head("GET", "/oauth/callback?code=c&state=someone-else", 4000),
            400,
        ),
        (head("GET", "/oauth/callback?code=c", 4000), 400),
        (
            head(
                "GET",
                &format!("/oauth/callback?code=c&state={STATE}&state=x"),
                4000,
            ),
            400,
        ),
    ];
    for (head, status) in cases {
        assert!(
            matches!(judge(&head, &uri, &h), Verdict::Refused(s, _) if s == status),
            "{head:?} should get {status}"
        );
    }
    // An error response of this sign-in is its response too.
    let denied = format!("/oauth/callback?error=access_denied&state={STATE}");
    assert!(matches!(
        judge(&head("GET", &denied, 4000), &uri, &h),
        Verdict::Ours(_)
    ));
}

#[test]
fn request_heads_are_parsed_within_limits() {
    assert_eq!(
        parse_head(b"GET /x HTTP/1.1\r\nHost: a"),
        None,
        "incomplete"
    );
    let parsed = parse_head(b"GET /x?y HTTP/1.1\r\nhost: 127.0.0.1:9\r\n\r\n")
        .expect("complete")
        .expect("valid");
    assert_eq!(parsed.target, "/x?y");
    assert_eq!(parsed.host.as_deref(), Some("127.0.0.1:9"));
    assert!(matches!(
        parse_head(b"\x16\x03\x01 TLS hello\r\n\r\n"),
        Some(Err((400, _)))
    ));
    let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(MAX_HEAD));
    assert!(matches!(parse_head(long.as_bytes()), Some(Err((431, _)))));
    let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: 1\r\n")).collect();
    let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
    assert!(matches!(parse_head(many.as_bytes()), Some(Err((400, _)))));
}

#[tokio::test]
async fn one_valid_request_completes_answers_a_page_and_closes_the_listener() {
    let bound = Bound::bind(&[], &base()).await.expect("bound");
    let port = bound.redirect_uri().port().expect("port");
    assert_eq!(
        bound.redirect_uri().as_str(),
        format!("http://127.0.0.1:{port}/oauth/callback")
    );
    let (calls, _close, task) = spawn_serving(bound, Ok(()));
    // A browser's speculative connection that never sends anything does not
    // hold the real request up.
    let _idle = TcpStream::connect(("127.0.0.1", port)).await.expect("idle");
    let answer = get(port, &ours()).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("You are signed in"));
    assert!(answer.contains("return to Latchkey"));
    for header in [
        "Cache-Control: no-store",
        "Connection: close",
        "X-Content-Type-Options: nosniff",
        "Referrer-Policy: no-referrer",
        "Content-Security-Policy: default-src 'none'; style-src 'sha256-",
    ] {
        assert!(answer.contains(header), "{header} missing:\n{answer}");
    }
    assert!(
        !answer.contains(CODE) && !answer.contains(STATE),
        "no code or state echoed"
    );
    assert!(
        !answer.contains("src=") && !answer.contains("href="),
        "nothing loaded"
    );
    assert!(matches!(
        task.await.expect("task"),
        Served::Answered(Ok(()))
    ));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(refused(port).await, "a second request finds no listener");
}

#[tokio::test]
async fn other_paths_and_other_states_get_refused_and_the_listener_keeps_waiting() {
    let bound = Bound::bind(&[], &base()).await.expect("bound");
    let port = bound.redirect_uri().port().expect("port");
    let (calls, _close, task) = spawn_serving(bound, Err(()));
    let not_found = get(port, &ours().replace("/oauth/callback", "/other")).await;
    assert!(not_found.starts_with("HTTP/1.1 404 "), "{not_found}");
    let post = send(
        port,
        format!(
            "POST {} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n",
            ours()
        ),
    )
    .await;
    assert!(post.starts_with("HTTP/1.1 404 "), "{post}");
    let forged = get(port, "/oauth/callback?code=forged&state=not-this-one").await;
    assert!(forged.starts_with("HTTP/1.1 400 "), "{forged}");
    assert!(!forged.contains("forged") && !forged.contains("not-this-one"));
    let garbage = send(port, "\x16\x03\x01\x02\x00\r\n\r\n".into()).await;
    assert!(garbage.starts_with("HTTP/1.1 400 "), "{garbage}");
    assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing was completed");
    assert!(!task.is_finished(), "still waiting");
    // This sign-in's response still arrives; its failure says so, without detail.
    let answer = get(port, &ours()).await;
    assert!(
        answer.contains("Sign-in failed") && answer.contains("Return to Latchkey"),
        "{answer}"
    );
    assert!(!answer.contains(CODE) && !answer.contains(STATE));
    assert!(matches!(
        task.await.expect("task"),
        Served::Answered(Err(()))
    ));
    assert!(refused(port).await);
}

#[tokio::test]
async fn closing_stops_the_listener_without_completing() {
    let bound = Bound::bind(&[], &base()).await.expect("bound");
    let port = bound.redirect_uri().port().expect("port");
    let (calls, close, task) = spawn_serving(bound, Ok(()));
    drop(close);
    assert!(matches!(
        task.await.expect("task"),
        Served::Stopped(Stopped::Closed)
    ));
    assert!(refused(port).await);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_port_list_takes_the_first_free_port() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy = taken.local_addr().expect("addr").port();
    let free = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        probe.local_addr().expect("addr").port()
    };
    let bound = Bound::bind(&[busy, free], &base()).await.expect("bound");
    assert_eq!(bound.redirect_uri().port(), Some(free));
    // Only busy ports: the OS's error, no ephemeral fallback.
    drop(bound);
    assert!(Bound::bind(&[busy], &base()).await.is_err());
}

#[test]
fn pages_escape_what_they_show() {
    let page = String::from_utf8(page(200, "<b>", "a & \"b\"")).expect("utf-8");
    assert!(page.contains("<h1>&lt;b&gt;</h1>") && page.contains("a &amp; &quot;b&quot;"));
    let body = page.split("\r\n\r\n").nth(1).expect("body");
    assert!(page.contains(&format!("Content-Length: {}\r\n", body.len())));
}

#[tokio::test]
async fn a_peer_that_leaves_without_a_request_never_stalls_the_others() {
    // A port probe (connect, then close) whose end is noticed while another
    // connection is still sending its request: that request must still be
    // answered. (The listener once stopped watching its readers for the rest
    // of a wait after a reader came back empty, and hung.)
    let bound = Bound::bind(&[], &base()).await.expect("bind");
    let port = bound.redirect_uri().port().expect("port");
    let (calls, close, task) = spawn_serving(bound, Ok(()));
    let probe = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("probe");
    let mut forged = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("forged");
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(probe);
    tokio::time::sleep(Duration::from_millis(100)).await;
    forged
        .write_all(
            format!(
                "GET /oauth/callback?code=c&state=forged HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), forged.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the request after the probe was never answered"
    );
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 400"));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let _ = close.send(());
    assert!(matches!(
        task.await.expect("task"),
        Served::Stopped(Stopped::Closed)
    ));
}
