//! The HTTP seam.
//!
//! Everything in the core that talks to an authorization server goes through
//! [`HttpClient`], so unit tests pass a closure-backed fake and integration
//! tests a real server on `127.0.0.1:0`. The production client,
//! [`ReqwestHttpClient`], never follows redirects (RFC 9700 §4.11), has connect
//! and total timeouts and caps the size of every response body.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// An HTTP request with a fully buffered body.
pub type HttpRequest = http::Request<Vec<u8>>;
/// An HTTP response with a fully buffered (and size-capped) body.
pub type HttpResponse = http::Response<Vec<u8>>;
/// A boxed, `Send` future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends one HTTP request. Implementations must not follow redirects.
pub trait HttpClient: Send + Sync + fmt::Debug {
    /// Sends `request` and returns the response, whatever its status.
    fn execute(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>>;
}

/// Why a request got no HTTP response. Messages name the host, never a body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The TCP/TLS connection could not be made.
    #[error("could not connect to {host}: {reason}")]
    Connect {
        /// The host that was asked.
        host: String,
        /// Why the connection failed.
        reason: String,
    },
    /// The server did not answer in time.
    #[error("{host} did not answer within {seconds} s")]
    Timeout {
        /// The host that was asked.
        host: String,
        /// The timeout that elapsed, in seconds.
        seconds: u64,
    },
    /// The response body exceeded the cap.
    #[error("the response from {host} is larger than {limit} bytes")]
    TooLarge {
        /// The host that was asked.
        host: String,
        /// The cap on the body, in bytes.
        limit: usize,
    },
    /// Anything else that went wrong while sending or receiving.
    #[error("request to {host} failed: {reason}")]
    Other {
        /// The host that was asked.
        host: String,
        /// What went wrong.
        reason: String,
    },
}

impl crate::error::ErrorCode for TransportError {
    fn code(&self) -> &'static str {
        match self {
            Self::Connect { .. } => "network_unreachable",
            Self::Timeout { .. } => "network_timeout",
            Self::TooLarge { .. } => "response_too_large",
            Self::Other { .. } => "network_error",
        }
    }
}

/// Limits applied by [`ReqwestHttpClient`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Time allowed to establish a connection.
    pub connect_timeout: Duration,
    /// Time allowed for the whole exchange, body included.
    pub total_timeout: Duration,
    /// Largest accepted response body.
    pub max_body_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(30),
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// TLS as the platform verifies it (rustls-platform-verifier: the system's
/// trust store; on Linux the CA bundle, `SSL_CERT_FILE`/`SSL_CERT_DIR`),
/// with extra trusted roots.
fn platform_tls(extra_roots: Vec<Vec<u8>>) -> Result<rustls::ClientConfig, String> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let roots = extra_roots
        .into_iter()
        .map(rustls::pki_types::CertificateDer::from);
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider.clone())
            .map_err(|err| err.to_string())?;
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| err.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(verifier))
        .with_no_client_auth())
}

/// The production [`HttpClient`], on `reqwest` with rustls.
#[derive(Debug, Clone)]
pub struct ReqwestHttpClient {
    /// Built at once, or at the first request ([`Self::deferred`]); an error
    /// building it is every request's error.
    client: Arc<OnceLock<Result<reqwest::Client, String>>>,
    /// The extra roots of a deferred client (empty once it is built).
    extra_roots: Arc<Vec<Vec<u8>>>,
    limits: HttpLimits,
}

impl ReqwestHttpClient {
    /// A client with [`HttpLimits::default`].
    pub fn new() -> Result<Self, TransportError> {
        Self::with_limits(HttpLimits::default())
    }

    /// A client with explicit limits.
    pub fn with_limits(limits: HttpLimits) -> Result<Self, TransportError> {
        Self::with_trust(limits, Vec::new())
    }

    /// A client that trusts the operating system's certificate store, as
    /// browsers do (so a provider behind a company CA or a TLS-inspecting
    /// proxy works), plus `extra_roots` (DER certificates: the providers'
    /// `ca_file`s). Where no system store can be read (a minimal container),
    /// the bundled web PKI roots, with a warning. Proxies come from
    /// `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` (and `ALL_PROXY`).
    pub fn with_trust(
        limits: HttpLimits,
        extra_roots: Vec<Vec<u8>>,
    ) -> Result<Self, TransportError> {
        let client = build_client(limits, extra_roots).map_err(|reason| TransportError::Other {
            host: String::new(),
            reason,
        })?;
        Ok(Self::from_client(client, limits))
    }

    /// Like [`Self::with_trust`], but the client (reading the system's
    /// certificate store: about 12 ms for 145 roots) is built at the first
    /// request, off the thread that creates it: an app builds its core before
    /// its window, and that time is not the window's.
    pub fn deferred(limits: HttpLimits, extra_roots: Vec<Vec<u8>>) -> Self {
        Self {
            client: Arc::new(OnceLock::new()),
            extra_roots: Arc::new(extra_roots),
            limits,
        }
    }

    /// A client built elsewhere (e.g. the picture fetcher's fenced one);
    /// `limits` must match its timeouts.
    pub(crate) fn from_client(client: reqwest::Client, limits: HttpLimits) -> Self {
        Self {
            client: Arc::new(OnceLock::from(Ok(client))),
            extra_roots: Arc::default(),
            limits,
        }
    }

    fn client(&self, host: &str) -> Result<&reqwest::Client, TransportError> {
        self.client
            .get_or_init(|| build_client(self.limits, self.extra_roots.to_vec()))
            .as_ref()
            .map_err(|reason| TransportError::Other {
                host: host.to_owned(),
                reason: reason.clone(),
            })
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let host = request
            .uri()
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let map_err = |err: reqwest::Error| classify(&host, self.limits, &err);
        let request = reqwest::Request::try_from(request).map_err(map_err)?;
        let mut response = self
            .client(&host)?
            .execute(request)
            .await
            .map_err(map_err)?;
        let limit = self.limits.max_body_bytes;
        if response
            .content_length()
            .is_some_and(|len| len > limit as u64)
        {
            return Err(TransportError::TooLarge { host, limit });
        }
        let mut builder = http::Response::builder()
            .status(response.status())
            .version(response.version());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(map_err)? {
            if body.len() + chunk.len() > limit {
                return Err(TransportError::TooLarge { host, limit });
            }
            body.extend_from_slice(&chunk);
        }
        builder.body(body).map_err(|err| TransportError::Other {
            host,
            reason: err.to_string(),
        })
    }
}

impl HttpClient for ReqwestHttpClient {
    fn execute(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(self.send(request))
    }
}

/// The client: the system's trust store plus `extra_roots` (else the bundled
/// web PKI roots, with a warning), no redirects, `limits`' timeouts.
fn build_client(limits: HttpLimits, extra_roots: Vec<Vec<u8>>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder();
    match platform_tls(extra_roots) {
        Ok(tls) => builder = builder.use_preconfigured_tls(tls),
        Err(reason) => tracing::warn!(
            reason,
            "the system's certificate store is unusable; trusting the bundled web PKI roots"
        ),
    }
    builder
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(limits.connect_timeout)
        .timeout(limits.total_timeout)
        .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| describe(&err))
}

fn classify(host: &str, limits: HttpLimits, err: &reqwest::Error) -> TransportError {
    let host = host.to_owned();
    if err.is_timeout() {
        let seconds = if err.is_connect() {
            limits.connect_timeout
        } else {
            limits.total_timeout
        }
        .as_secs();
        TransportError::Timeout { host, seconds }
    } else if err.is_connect() {
        TransportError::Connect {
            host,
            reason: describe(err),
        }
    } else {
        TransportError::Other {
            host,
            reason: describe(err),
        }
    }
}

/// The innermost useful cause of a reqwest error, without its URL.
fn describe(err: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    let mut last = None;
    while let Some(cause) = source {
        last = Some(cause.to_string());
        source = cause.source();
    }
    last.unwrap_or_else(|| {
        let mut text = err.to_string();
        if let Some(url) = err.url() {
            text = text.replace(url.as_str(), "");
        }
        text
    })
}
