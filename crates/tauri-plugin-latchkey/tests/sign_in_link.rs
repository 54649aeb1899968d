//! A whole sign-in through the plugin, against the core's fake IdP: the
//! request is begun, the provider's redirect comes back as a deep link on the
//! app's own scheme (or to the core's loopback listener), the plugin completes
//! it (or hears that the core did), announces it and the account is ready with
//! its access token for the app's Rust side.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use latchkey_core::Latchkey;
use latchkey_core::config::identity::AppIdentity;
use latchkey_core::flow::request::SignInOptions;
use latchkey_core::store::vault::{KeyringStore, Vault};
use latchkey_core::testing::{CLIENT_ID, Canned, Claims, FakeServer, ISSUER, jwks};
use serde_json::json;
use tauri_plugin_latchkey::dto::{AccountDto, ChangeEvent, StateName};
use tauri_plugin_latchkey::{Config, LatchkeyExt as _};

const SCHEME: &str = "com.example.notes";

fn idp() -> Arc<FakeServer> {
    let server = Arc::new(FakeServer::new());
    server.serve_discovery();
    server.set(
        "/jwks",
        Canned::json(200, serde_json::to_value(jwks(&[1])).expect("jwks")),
    );
    server
}

fn param(url: &url::Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .expect(name)
}

/// A mock app whose plugin has one provider `p` (with `extra` lines in its entry).
fn app_with(
    name: &str,
    extra: &str,
) -> (
    tauri::App<tauri::test::MockRuntime>,
    Arc<FakeServer>,
    std::path::PathBuf,
) {
    let dir = std::env::temp_dir().join(format!("lk-plugin-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let identity = AppIdentity::new("com.example.notes", SCHEME)
        .expect("identity")
        .with_name("Notes");
    let provider = latchkey_core::config::provider::parse_providers_for(
        &format!(
            "[[provider]]\nid = \"p\"\nissuer = \"{ISSUER}\"\nclient_id = \"{CLIENT_ID}\"\nscopes = [\"openid\", \"email\", \"offline_access\"]\n{extra}"
        ),
        &identity,
    )
    .expect("parses")
    .remove(0)
    .config
    .expect("valid");
    let server = idp();
    let core = Arc::new(
        Latchkey::builder(identity.clone())
            .http(server.clone())
            .vault(Vault::new(Arc::new(KeyringStore::in_memory(
                identity.identifier(),
            ))))
            .data_dir(&dir)
            .providers(vec![provider])
            .build()
            .expect("core"),
    );
    let app = tauri::test::mock_builder()
        .plugin(tauri_plugin_latchkey::init(
            Config::new(identity).core(core).open_browser(false),
        ))
        .build(tauri::test::mock_context(tauri::test::noop_assets()))
        .expect("app");
    (app, server, dir)
}

/// Makes the fake IdP answer the code exchange of the request `url`.
fn answer_code_exchange(server: &FakeServer, url: &url::Url) {
    let id_token = Claims::valid(SystemTime::now(), &param(url, "nonce")).sign();
    server.set(
        "/token",
        Canned::json(
            200,
            json!({
                "access_token": "AT-1", "token_type": "Bearer", "expires_in": 3600,
                "refresh_token": "RT-1", "id_token": id_token.to_string(),
                "scope": "openid email offline_access",
            }),
        ),
    );
}

fn response_query(url: &url::Url) -> String {
    let iss: String = url::form_urlencoded::byte_serialize(ISSUER.as_bytes()).collect();
    format!("code=C&state={}&iss={iss}", param(url, "state"))
}

/// The account of the next `signed_in` event (a failure fails the test).
async fn next_signed_in(events: &mut tokio::sync::broadcast::Receiver<ChangeEvent>) -> String {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("an event within 10 s")
            .expect("the feed is open");
        match event {
            ChangeEvent::SignedIn {
                account, replaced, ..
            } => {
                assert!(!replaced, "a new account");
                return account;
            }
            ChangeEvent::SignInFailed { code, message, .. } => panic!("{code}: {message}"),
            _ => {}
        }
    }
}

/// The account is listed, ready, and gives its access token to the app.
async fn assert_ready(app: &tauri::App<tauri::test::MockRuntime>, account: String) {
    let views = app.latchkey().account_views().expect("views");
    let dto = AccountDto::from(views.into_iter().next().expect("one account"));
    assert_eq!(dto.id, account);
    assert_eq!(dto.email.as_deref(), Some("alice@example.test"));
    assert_eq!(dto.state, StateName::Ready);
    let token = app
        .latchkey()
        .fresh_access_token(
            &latchkey_core::store::registry::AccountId::new(account),
            Duration::from_secs(60),
        )
        .await
        .expect("token");
    assert_eq!(token.token.expose(), "AT-1");
}

#[test]
fn a_deep_link_completes_the_sign_in_and_the_account_is_ready() {
    let (app, server, dir) = app_with("link", "");
    let mut events = app.latchkey_events();
    tauri::async_runtime::block_on(async {
        let pending = app
            .latchkey()
            .begin("p", &SignInOptions::default())
            .await
            .expect("begin");
        let url = &pending.authorization_url;
        assert_eq!(
            param(url, "redirect_uri"),
            format!("{SCHEME}:/oauth/callback"),
            "the app's own scheme"
        );
        answer_code_exchange(&server, url);
        app.latchkey_link(&format!("{SCHEME}:/oauth/callback?{}", response_query(url)));
        let account = next_signed_in(&mut events).await;
        assert_ready(&app, account).await;
    });
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_loopback_redirect_completes_the_sign_in_and_is_announced_like_a_link() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (app, server, dir) = app_with("loopback", "redirect = \"loopback\"\n");
    let mut events = app.latchkey_events();
    tauri::async_runtime::block_on(async {
        let pending = app
            .latchkey()
            .begin("p", &SignInOptions::default())
            .await
            .expect("begin");
        let url = &pending.authorization_url;
        let redirect_uri = url::Url::parse(&param(url, "redirect_uri")).expect("url");
        let port = redirect_uri.port().expect("a port");
        assert_eq!(
            redirect_uri.as_str(),
            format!("http://127.0.0.1:{port}/oauth/callback")
        );
        answer_code_exchange(&server, url);
        // The browser, at the end of the provider's redirect.
        let mut browser = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("the listener is open");
        let request = format!(
            "GET /oauth/callback?{} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n",
            response_query(url)
        );
        browser.write_all(request.as_bytes()).await.expect("write");
        let mut page = String::new();
        browser.read_to_string(&mut page).await.expect("read");
        assert!(page.contains("return to Notes"), "{page}");
        let account = next_signed_in(&mut events).await;
        assert_ready(&app, account).await;
        assert!(
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err(),
            "the listener is closed"
        );
    });
    std::fs::remove_dir_all(&dir).ok();
}
