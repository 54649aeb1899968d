//! The loopback redirect (RFC 8252 §7.3): a listener on
//! `http://127.0.0.1:{port}` that waits for the one authorization response
//! of one sign-in.
//!
//! The listener binds the IP literal `127.0.0.1` (never `localhost`, whose
//! resolution another program may influence), on an ephemeral port or the
//! first free port of a list (providers that match the port exactly). Each
//! connection gets one request and one answer (`Connection: close`, no
//! keep-alive): the request head is read within [`READ_TIMEOUT`] and at most
//! [`MAX_HEAD`] bytes, and parsed by `httparse` (hyper's parser).
//!
//! - Another method or path: 404, and the listener keeps waiting.
//! - The callback path, but not this sign-in's response (no or another
//!   `state`, malformed, another `Host`): 400, and it keeps waiting — a
//!   request anyone on the machine can send must not end the sign-in.
//! - This sign-in's response: the listener is closed at once (a second
//!   request is refused by the OS), the response is completed exactly like a
//!   deep link, and the browser gets a small static page saying whether it
//!   worked and to return to the app. No page carries a code, token, state
//!   or error text; none loads anything (`default-src 'none'`).

use std::future::Future;
use std::net::Ipv4Addr;
use std::time::Duration;

use base64::Engine as _;
use sha2::Digest as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use url::Url;

use crate::flow::request::PendingHandle;
use crate::flow::response::parse_redirect;

/// Longest request head read (request line and headers); a redirect URL is
/// at most 8 KiB ([`crate::flow::response::MAX_REDIRECT_LEN`]).
pub const MAX_HEAD: usize = 16 * 1024;
/// How long a connection may take to send its request head.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long writing an answer may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections read at once; more are closed unanswered.
const MAX_CONNECTIONS: usize = 16;
/// Headers parsed per request; more is a bad request.
const MAX_HEADERS: usize = 64;

/// Why a listener stopped before its response arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Closed from outside: the sign-in was cancelled, or the app quits.
    Closed,
    /// The sign-in expired.
    Expired,
}

/// How a listener ended.
#[derive(Debug)]
pub enum Served<T> {
    /// Its sign-in's response arrived; this is what completing it gave.
    Answered(T),
    /// It stopped first.
    Stopped(Stopped),
}

/// A listener bound on 127.0.0.1, not yet serving.
#[derive(Debug)]
pub struct Bound {
    listener: TcpListener,
    redirect_uri: Url,
}

impl Bound {
    /// Binds 127.0.0.1: the first free port of `ports` in order, or an
    /// ephemeral one when `ports` is empty. `base` is the redirect URI
    /// without its port (`http://127.0.0.1/oauth/callback[/<id>]`).
    pub async fn bind(ports: &[u16], base: &Url) -> std::io::Result<Self> {
        let mut last_error = None;
        for port in if ports.is_empty() { &[0][..] } else { ports } {
            match TcpListener::bind((Ipv4Addr::LOCALHOST, *port)).await {
                Ok(listener) => {
                    let mut redirect_uri = base.clone();
                    let port = listener.local_addr()?.port();
                    // An http URL with a host always takes a port.
                    let _ = redirect_uri.set_port(Some(port));
                    return Ok(Self {
                        listener,
                        redirect_uri,
                    });
                }
                Err(err) => last_error = Some(err),
            }
        }
        Err(last_error.unwrap_or_else(|| std::io::ErrorKind::AddrNotAvailable.into()))
    }

    /// The exact redirect URI of this listener, port included.
    pub fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// Waits for the response of the sign-in `handle` names until `stop`
    /// resolves; hands it to `complete` (after closing the listener) and
    /// answers the browser with a page about the result, naming `app_name`.
    pub async fn serve<T, E, Fut>(
        self,
        handle: &PendingHandle,
        app_name: &str,
        stop: impl Future<Output = Stopped>,
        complete: impl FnOnce(String) -> Fut,
    ) -> Served<Result<T, E>>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        let Self {
            listener,
            redirect_uri,
        } = self;
        let mut reading = JoinSet::new();
        tokio::pin!(stop);
        let (url, stream) = loop {
            tokio::select! {
                stopped = &mut stop => return Served::Stopped(stopped),
                accepted = listener.accept() => {
                    if let Ok((stream, _)) = accepted && reading.len() < MAX_CONNECTIONS {
                        reading.spawn(read_head(stream));
                    }
                }
                // Every finished reader is taken here, also one whose peer
                // left without a request: a pattern that did not match would
                // switch this branch off for the rest of the wait, and the
                // requests of the others would never be answered.
                Some(joined) = reading.join_next() => {
                    let Ok(Some((head, stream))) = joined else { continue };
                    match head.map(|head| judge(&head, &redirect_uri, handle)) {
                        Ok(Verdict::Ours(url)) => break (url, stream),
                        Ok(Verdict::Refused(status, why)) | Err((status, why)) => {
                            tracing::info!(status, why, "loopback request refused; still waiting");
                            tokio::spawn(answer(stream, refusal(status)));
                        }
                    }
                }
            }
        };
        // One response per sign-in: nothing else can reach this port now.
        drop(listener);
        drop(reading);
        let result = complete(url).await;
        let page = match &result {
            Ok(_) => page(
                200,
                "Signed in",
                &format!("You are signed in. You can close this tab and return to {app_name}."),
            ),
            Err(_) => page(
                200,
                "Sign-in failed",
                &format!("The sign-in did not complete. Return to {app_name} to see why."),
            ),
        };
        answer(stream, page).await;
        Served::Answered(result)
    }
}

/// A request head: what deciding about it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) host: Option<String>,
}

/// What to do with a request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// This sign-in's response, as a full URL.
    Ours(String),
    /// Answered with this status (and why, for the log); keep waiting.
    Refused(u16, &'static str),
}

/// Decides about one request (a pure function of its head).
pub(crate) fn judge(head: &Head, redirect_uri: &Url, handle: &PendingHandle) -> Verdict {
    let path = head.target.split('?').next().unwrap_or_default();
    if head.method != "GET" || path != redirect_uri.path() {
        return Verdict::Refused(404, "another method or path");
    }
    let authority = format!(
        "127.0.0.1:{}",
        redirect_uri.port_or_known_default().unwrap_or_default()
    );
    if head.host.as_deref() != Some(authority.as_str()) {
        return Verdict::Refused(400, "another Host");
    }
    let url = format!("http://{authority}{}", head.target);
    match parse_redirect(&url, redirect_uri) {
        Ok(redirect)
            if redirect
                .state()
                .is_some_and(|state| PendingHandle::for_state(state) == *handle) =>
        {
            Verdict::Ours(url)
        }
        Ok(_) => Verdict::Refused(400, "not this sign-in's state"),
        Err(_) => Verdict::Refused(400, "not a valid authorization response"),
    }
}

/// Reads one request head; `None` when the peer went quiet or away.
async fn read_head(
    mut stream: TcpStream,
) -> Option<(Result<Head, (u16, &'static str)>, TcpStream)> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let head = tokio::time::timeout(READ_TIMEOUT, async {
        loop {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(parsed) = parse_head(&buf) {
                return Some(parsed);
            }
        }
    })
    .await
    .ok()??;
    Some((head, stream))
}

/// Parses a request head: `None` while it is incomplete and short enough.
pub(crate) fn parse_head(buf: &[u8]) -> Option<Result<Head, (u16, &'static str)>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(buf) {
        Ok(httparse::Status::Complete(_)) => Some(Ok(Head {
            method: request.method.unwrap_or_default().to_owned(),
            target: request.path.unwrap_or_default().to_owned(),
            host: request
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("host"))
                .and_then(|h| std::str::from_utf8(h.value).ok())
                .map(str::to_owned),
        })),
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => None,
        Ok(httparse::Status::Partial) => Some(Err((431, "request head too large"))),
        Err(_) => Some(Err((400, "not an HTTP request"))),
    }
}

async fn answer(mut stream: TcpStream, response: Vec<u8>) {
    let _ = tokio::time::timeout(WRITE_TIMEOUT, async {
        stream.write_all(&response).await?;
        stream.shutdown().await
    })
    .await;
}

fn refusal(status: u16) -> Vec<u8> {
    match status {
        404 => page(404, "Not found", "There is nothing here."),
        431 => page(431, "Request too large", "This request is too large."),
        _ => page(
            400,
            "Not a sign-in response",
            "This is not the sign-in response this page waits for.",
        ),
    }
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;color:#1d1d1f;background:#f5f5f7}main{max-width:32em;padding:2em}h1{font-size:1.4em;margin:0 0 .5em}@media(prefers-color-scheme:dark){body{color:#f5f5f7;background:#1d1d1f}}";

/// A complete response: a small static HTML page, never cached, loading
/// nothing (its one inline style is allowed by hash), closing the connection.
pub(crate) fn page(status: u16, title: &str, text: &str) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        431 => "Request Header Fields Too Large",
        _ => "Bad Request",
    };
    let (title, text) = (escape(title), escape(text));
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title><style>{STYLE}</style></head><body><main><h1>{title}</h1><p>{text}</p></main></body></html>"
    );
    let style_hash =
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(STYLE.as_bytes()));
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nPragma: no-cache\r\nContent-Security-Policy: default-src 'none'; style-src 'sha256-{style_hash}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[path = "loopback_tests.rs"]
mod tests;
