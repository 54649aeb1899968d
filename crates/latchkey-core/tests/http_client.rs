//! The production HTTP client against real sockets on 127.0.0.1:0.

use std::time::Duration;

use latchkey_core::ErrorCode;
use latchkey_core::config::discovery::discover;
use latchkey_core::config::provider::parse_providers;
use latchkey_core::http::{HttpClient, HttpLimits, ReqwestHttpClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves every connection with `respond(port)`; `respond` writes raw bytes.
async fn serve<F, Fut>(respond: F) -> u16
where
    F: Fn(tokio::net::TcpStream, u16) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            tokio::spawn(respond(stream, port));
        }
    });
    port
}

fn get(url: String) -> http::Request<Vec<u8>> {
    http::Request::get(url).body(Vec::new()).expect("request")
}

fn limits() -> HttpLimits {
    HttpLimits {
        connect_timeout: Duration::from_secs(2),
        total_timeout: Duration::from_millis(800),
        max_body_bytes: 64 * 1024,
    }
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let port = serve(|mut s, _| async move {
        let _ = s
            .write_all(b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.2:9/steal\r\nContent-Length: 0\r\n\r\n")
            .await;
    })
    .await;
    let client = ReqwestHttpClient::with_limits(limits()).expect("client");
    let response = client
        .execute(get(format!("http://127.0.0.1:{port}/token")))
        .await
        .expect("response");
    assert_eq!(response.status(), 302);
}

#[tokio::test]
async fn oversized_bodies_are_cut_off() {
    let port = serve(|mut s, _| async move {
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
            .await;
        let chunk = vec![b'a'; 16 * 1024];
        for _ in 0..640 {
            if s.write_all(&chunk).await.is_err() {
                return;
            }
        }
    })
    .await;
    let client = ReqwestHttpClient::with_limits(limits()).expect("client");
    let err = client
        .execute(get(format!("http://127.0.0.1:{port}/big")))
        .await
        .expect_err("too large");
    assert_eq!(err.code(), "response_too_large");
}

#[tokio::test]
async fn a_trickling_body_times_out() {
    let port = serve(|mut s, _| async move {
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            .await;
        for _ in 0..100 {
            if s.write_all(b"{").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let client = ReqwestHttpClient::with_limits(limits()).expect("client");
    let err = client
        .execute(get(format!("http://127.0.0.1:{port}/slow")))
        .await
        .expect_err("timeout");
    assert_eq!(err.code(), "network_timeout", "{err}");
}

#[tokio::test]
async fn discovery_against_a_real_socket_and_a_dead_port() {
    let port = serve(|mut s, port| async move {
        let base = format!("http://127.0.0.1:{port}");
        let body = serde_json::json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/auth"),
            "token_endpoint": format!("{base}/token"),
            "jwks_uri": format!("{base}/jwks"),
        })
        .to_string();
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let _ = s.write_all(head.as_bytes()).await;
        let _ = s.write_all(body.as_bytes()).await;
    })
    .await;
    let config = |port: u16| {
        let text = format!(
            "[[provider]]\nid = \"local\"\nissuer = \"http://127.0.0.1:{port}\"\nclient_id = \"c\"\ninsecure_http_loopback = true\n"
        );
        parse_providers(&text)
            .expect("parses")
            .remove(0)
            .config
            .expect("valid")
    };
    let client = ReqwestHttpClient::with_limits(limits()).expect("client");
    let metadata = discover(&client, &config(port)).await.expect("discovered");
    assert_eq!(
        metadata.token_endpoint.as_str(),
        format!("http://127.0.0.1:{port}/token")
    );

    // A port that nothing listens on.
    let dead = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead_port = dead.local_addr().expect("addr").port();
    drop(dead);
    let err = discover(&client, &config(dead_port))
        .await
        .expect_err("unreachable");
    assert_eq!(err.code(), "network_unreachable", "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{dead_port}")),
        "{err}"
    );
}
