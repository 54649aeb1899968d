//! TLS trust against a real TLS server (`openssl s_server` on 127.0.0.1)
//! whose certificate comes from a private CA made for the test, as a company
//! CA or a TLS-inspecting proxy would present:
//! - not trusted by default (neither bundled nor system roots know it);
//! - trusted through the operating system's store (on Linux the store
//!   rustls-platform-verifier reads honours `SSL_CERT_FILE`, set for a child
//!   run of this test binary: the workspace forbids the `unsafe` of
//!   `set_var`);
//! - trusted through a provider's `ca_file`, the system store untouched;
//!
//! Also: the proxy of the environment (`HTTP_PROXY`) carries the requests.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use latchkey_core::http::{HttpClient, HttpLimits, ReqwestHttpClient};

struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl {args:?}");
}

/// A private CA, a certificate for 127.0.0.1 signed by it, and a TLS server.
fn server(name: &str) -> Server {
    let dir = std::env::temp_dir().join(format!("latchkey-tls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Latchkey Test Company CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        &dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\n").expect("ext");
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.pem",
        ],
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-cert", "server.pem", "-key", "server.key"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("s_server starts");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "s_server listens"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { child, port, dir }
}

async fn get(client: &ReqwestHttpClient, port: u16) -> Result<u16, String> {
    let request = http::Request::builder()
        .uri(format!("https://127.0.0.1:{port}/"))
        .body(Vec::new())
        .expect("request");
    client
        .execute(request)
        .await
        .map(|r| r.status().as_u16())
        .map_err(|err| err.to_string())
}

/// Runs the ignored test `name` of this binary in `child` (this executable
/// with the environment the test needs); asserts it ran and passed.
fn run_child(name: &str, child: &mut Command) {
    let output = child
        .args(["--exact", name, "--ignored", "--nocapture"])
        .output()
        .expect("child run");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(out.contains("1 passed"), "{out}");
}

fn ca_der(server: &Server) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    CertificateDer::from_pem_file(server.dir.join("ca.pem"))
        .expect("ca")
        .as_ref()
        .to_vec()
}

#[tokio::test]
async fn a_private_ca_is_refused_by_default_and_trusted_from_a_ca_file() {
    let server = server("ca-file");
    let plain = ReqwestHttpClient::new().expect("client");
    let err = get(&plain, server.port).await.expect_err("an unknown CA");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let trusting = ReqwestHttpClient::with_trust(HttpLimits::default(), vec![ca_der(&server)])
        .expect("client");
    assert_eq!(get(&trusting, server.port).await, Ok(200));
}

/// The core's own client is built at its first request (not on the thread
/// that builds the core), with the same trust: the CA files, else refusal.
#[tokio::test]
async fn a_deferred_client_has_the_same_trust() {
    let server = server("deferred");
    let plain = ReqwestHttpClient::deferred(HttpLimits::default(), Vec::new());
    let err = get(&plain, server.port).await.expect_err("an unknown CA");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let trusting = ReqwestHttpClient::deferred(HttpLimits::default(), vec![ca_der(&server)]);
    assert_eq!(get(&trusting, server.port).await, Ok(200));
    // Built once: a second request uses the same client.
    assert_eq!(get(&trusting, server.port).await, Ok(200));
}

#[test]
fn the_operating_systems_store_is_trusted() {
    let server = server("system");
    // The child run sees the CA as the system's (SSL_CERT_FILE) and nothing else.
    run_child(
        "child_trusts_the_system_store",
        Command::new(std::env::current_exe().expect("exe"))
            .env("SSL_CERT_FILE", server.dir.join("ca.pem"))
            .env("LATCHKEY_TLS_TEST_PORT", server.port.to_string()),
    );
}

#[tokio::test]
#[ignore = "run by the_operating_systems_store_is_trusted with SSL_CERT_FILE set"]
async fn child_trusts_the_system_store() {
    let port: u16 = std::env::var("LATCHKEY_TLS_TEST_PORT")
        .expect("port")
        .parse()
        .expect("a port");
    let client = ReqwestHttpClient::new().expect("client");
    assert_eq!(get(&client, port).await, Ok(200));
}

/// A forward proxy on 127.0.0.1 that answers every request itself with 200
/// and remembers the request line it was sent.
fn recording_proxy() -> (u16, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            // Read the headers, then answer.
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let _ = tx.send(line.trim().to_owned());
            let mut stream = stream;
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
            );
        }
    });
    (port, rx)
}

#[test]
fn the_proxy_of_the_environment_is_used() {
    let (port, requests) = recording_proxy();
    // A host that does not exist: only the proxy can answer.
    run_child(
        "child_goes_through_the_proxy",
        Command::new(std::env::current_exe().expect("exe"))
            .env("HTTP_PROXY", format!("http://127.0.0.1:{port}"))
            .env_remove("NO_PROXY")
            .env_remove("no_proxy"),
    );
    let line = requests
        .recv_timeout(Duration::from_secs(10))
        .expect("the proxy saw a request");
    assert_eq!(
        line,
        "GET http://idp.invalid/.well-known/openid-configuration HTTP/1.1"
    );
}

#[tokio::test]
#[ignore = "run by the_proxy_of_the_environment_is_used with HTTP_PROXY set"]
async fn child_goes_through_the_proxy() {
    let client = ReqwestHttpClient::new().expect("client");
    let request = http::Request::builder()
        .uri("http://idp.invalid/.well-known/openid-configuration")
        .body(Vec::new())
        .expect("request");
    let response = client
        .execute(request)
        .await
        .expect("answered by the proxy");
    assert_eq!(response.status().as_u16(), 200);
}
