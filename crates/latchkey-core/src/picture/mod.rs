//! Profile pictures: an account's `picture` (from the ID token or UserInfo),
//! fetched once per change of its URL for the window, as a `data:` URL.
//!
//! The URL comes from the provider's answer, so the fetch is fenced in:
//! - https only; http only on loopback, for a loopback development issuer;
//! - no userinfo in the URL, no cookies, credentials or `Referer` sent, no
//!   redirects followed, no proxy (a proxy would resolve the name itself);
//! - only global addresses: private, loopback, link-local, CGNAT, multicast,
//!   unique/site-local IPv6 and IPv4-mapped forms of these are refused, for
//!   IP literals ([`check_picture_url`]) and for what a name resolves to
//!   (`address::FilteringResolver`) — loopback is allowed only when the
//!   account's issuer is itself on loopback (a development server);
//! - at most [`MAX_PICTURE_BYTES`], PNG/JPEG/GIF/WebP only, 5 s / 10 s timeouts.
//!
//! [`cache::PictureCache`] keeps the result on disk, so the next launch shows
//! the picture without asking the picture's host again.

pub(crate) mod address;
pub mod cache;

use std::sync::OnceLock;
use std::time::Duration;

use url::{Host, Url};

use crate::http::{HttpClient, HttpLimits, ReqwestHttpClient, TransportError};

/// Largest profile picture fetched.
pub const MAX_PICTURE_BYTES: usize = 256 * 1024;

/// Why a picture URL is not fetched (never shown to people; logged by code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not a URL.
    NotAUrl,
    /// Not https (or http on loopback for a development issuer).
    Scheme,
    /// Carries a user name or password.
    Credentials,
    /// An IP literal in a private, local or special range.
    Address,
}

/// Checks a `picture` URL before any network access: scheme, credentials,
/// and the address when the host is an IP literal (reqwest does not resolve
/// those, so the resolver's filter never sees them).
pub fn check_picture_url(picture: &str, allow_loopback: bool) -> Result<Url, Refused> {
    let url = Url::parse(picture).map_err(|_| Refused::NotAUrl)?;
    match url.scheme() {
        "https" => {}
        "http" if allow_loopback && crate::provider::is_loopback_url(&url) => {}
        _ => return Err(Refused::Scheme),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refused::Credentials);
    }
    let literal = match url.host() {
        Some(Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
        Some(Host::Domain(_)) => None,
        None => return Err(Refused::NotAUrl),
    };
    if literal.is_some_and(|ip| !address::is_allowed(ip, allow_loopback)) {
        return Err(Refused::Address);
    }
    Ok(url)
}

/// True when the account's issuer is a loopback development server: then its
/// pictures may come from loopback too.
pub fn is_loopback_issuer(issuer: &str) -> bool {
    Url::parse(issuer).is_ok_and(|url| crate::provider::is_loopback_url(&url))
}

/// Fetches profile pictures with clients of their own (see the module docs).
///
/// Each client is built at its first picture, not when the fetcher is: a
/// client reads the system's certificate store, which would otherwise delay
/// the window at launch. A client that cannot be built is logged once and
/// every picture it would fetch is `None`.
#[derive(Debug, Default)]
pub struct PictureFetcher {
    public: OnceLock<Option<ReqwestHttpClient>>,
    loopback_dev: OnceLock<Option<ReqwestHttpClient>>,
}

impl PictureFetcher {
    /// The two fenced clients, built when first needed: one for any issuer,
    /// one for loopback issuers.
    pub fn new() -> Self {
        Self::default()
    }

    /// The picture at `picture` of an account at `issuer`, as a `data:` URL;
    /// `None` when it is refused or cannot be loaded.
    pub async fn fetch(&self, picture: &str, issuer: &str) -> Option<String> {
        let dev = is_loopback_issuer(issuer);
        let url = match check_picture_url(picture, dev) {
            Ok(url) => url,
            Err(refused) => {
                tracing::info!(?refused, "profile picture URL refused");
                return None;
            }
        };
        let slot = if dev {
            &self.loopback_dev
        } else {
            &self.public
        };
        let client = slot.get_or_init(|| {
            fenced_client(dev)
                .inspect_err(|err| tracing::warn!(error = %err, "no picture client"))
                .ok()
        });
        picture_data_url(client.as_ref()?, &url).await
    }
}

fn fenced_client(allow_loopback: bool) -> Result<ReqwestHttpClient, TransportError> {
    let limits = HttpLimits {
        connect_timeout: Duration::from_secs(5),
        total_timeout: Duration::from_secs(10),
        max_body_bytes: MAX_PICTURE_BYTES,
    };
    let client = reqwest::Client::builder()
        .dns_resolver(std::sync::Arc::new(address::FilteringResolver {
            allow_loopback,
        }))
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .connect_timeout(limits.connect_timeout)
        .timeout(limits.total_timeout)
        .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| TransportError::Other {
            host: String::new(),
            reason: err.to_string(),
        })?;
    Ok(ReqwestHttpClient::from_client(client, limits))
}

/// GETs an already checked picture URL with `http` (no header of ours but
/// what reqwest adds) and returns it as a `data:` URL when it is a PNG, JPEG,
/// GIF or WebP of at most [`MAX_PICTURE_BYTES`].
pub async fn picture_data_url(http: &dyn HttpClient, url: &Url) -> Option<String> {
    use base64::Engine as _;
    let request = http::Request::get(url.as_str()).body(Vec::new()).ok()?;
    let response = http.execute(request).await.ok()?;
    if !response.status().is_success() || response.body().len() > MAX_PICTURE_BYTES {
        return None;
    }
    let mime = response
        .headers()
        .get(http::header::CONTENT_TYPE)?
        .to_str()
        .ok()?
        .split(';')
        .next()?
        .trim()
        .to_ascii_lowercase();
    if !cache::is_image_type(&mime) {
        return None;
    }
    let data = base64::engine::general_purpose::STANDARD.encode(response.body());
    Some(format!("data:{mime};base64,{data}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{BoxFuture, HttpRequest, HttpResponse};

    #[test]
    fn picture_urls_are_checked_before_any_request() {
        let ok = |u: &str, dev: bool| check_picture_url(u, dev).map(|_| ());
        assert_eq!(ok("https://cdn.example/a.png", false), Ok(()));
        assert_eq!(ok("http://cdn.example/a.png", false), Err(Refused::Scheme));
        assert_eq!(ok("http://cdn.example/a.png", true), Err(Refused::Scheme));
        assert_eq!(ok("file:///etc/passwd", true), Err(Refused::Scheme));
        assert_eq!(ok("not a url", false), Err(Refused::NotAUrl));
        assert_eq!(
            ok("https://user:pw@cdn.example/a.png", false),
            Err(Refused::Credentials)
        );
        for literal in [
            "https://127.0.0.1/a.png",
            "https://10.0.0.7/a.png",
            "https://169.254.169.254/latest/meta-data",
            "https://0x7f.1/a.png",
            "https://[::1]/a.png",
            "https://[::ffff:192.168.1.1]/a.png",
            "https://[fd00::1]/a.png",
        ] {
            assert_eq!(ok(literal, false), Err(Refused::Address), "{literal}");
        }
        // A loopback development issuer may serve pictures from loopback.
        assert_eq!(ok("http://127.0.0.1:9010/a.png", true), Ok(()));
        assert_eq!(ok("http://localhost:9010/a.png", true), Ok(()));
        assert_eq!(ok("https://[::1]/a.png", true), Ok(()));
        assert_eq!(ok("https://10.0.0.7/a.png", true), Err(Refused::Address));
        assert!(is_loopback_issuer("http://127.0.0.1:9010"));
        assert!(!is_loopback_issuer("https://id.example"));
    }

    #[derive(Debug)]
    struct Canned(u16, &'static str, usize);

    impl HttpClient for Canned {
        fn execute(
            &self,
            request: HttpRequest,
        ) -> BoxFuture<'_, Result<HttpResponse, crate::http::TransportError>> {
            assert!(
                request.headers().is_empty(),
                "no credential or cookie is sent"
            );
            let response = http::Response::builder()
                .status(self.0)
                .header("content-type", self.1)
                .body(vec![7; self.2])
                .expect("response");
            Box::pin(async move { Ok(response) })
        }
    }

    #[tokio::test]
    async fn only_small_images_become_data_urls() {
        let url = Url::parse("https://cdn.example/a.png").expect("url");
        let data = picture_data_url(&Canned(200, "image/PNG; x=1", 3), &url).await;
        assert_eq!(data.as_deref(), Some("data:image/png;base64,BwcH"));
        for canned in [
            Canned(200, "text/html", 3),
            Canned(200, "image/svg+xml", 3),
            Canned(404, "image/png", 3),
            Canned(200, "image/png", MAX_PICTURE_BYTES + 1),
        ] {
            assert_eq!(picture_data_url(&canned, &url).await, None, "{canned:?}");
        }
    }

    #[tokio::test]
    async fn the_fenced_client_fetches_from_a_loopback_issuer_only() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = [0; 1024];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: image/gif\r\ncontent-length: 3\r\nconnection: close\r\n\r\nGIF")
                    .await;
            }
        });
        let fetcher = PictureFetcher::new();
        let picture = format!("http://localhost:{port}/p.gif");
        assert_eq!(
            fetcher
                .fetch(&picture, "http://127.0.0.1:9010")
                .await
                .as_deref(),
            Some("data:image/gif;base64,R0lG")
        );
        // The same host for a real issuer: refused (http, and loopback).
        assert_eq!(fetcher.fetch(&picture, "https://id.example").await, None);
    }
}
