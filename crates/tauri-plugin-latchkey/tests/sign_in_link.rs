//! A whole sign-in through the plugin, against the core's fake IdP: the
//! request is begun, the provider's redirect comes back as a deep link on the
//! app's own scheme, the plugin completes it, announces it and the account
//! is ready with its access token for the app's Rust side.

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
    server.set(
        "/.well-known/openid-configuration",
        Canned::json(
            200,
            json!({
                "issuer": ISSUER,
                "authorization_endpoint": format!("{ISSUER}/auth"),
                "token_endpoint": format!("{ISSUER}/token"),
                "jwks_uri": format!("{ISSUER}/jwks"),
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
                "authorization_response_iss_parameter_supported": true,
            }),
        ),
    );
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

#[test]
fn a_deep_link_completes_the_sign_in_and_the_account_is_ready() {
    let dir = std::env::temp_dir().join(format!("lk-plugin-link-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let identity = AppIdentity::new("com.example.notes", SCHEME).expect("identity");
    let provider = latchkey_core::config::provider::parse_providers_for(
        &format!(
            "[[provider]]\nid = \"p\"\nissuer = \"{ISSUER}\"\nclient_id = \"{CLIENT_ID}\"\nscopes = [\"openid\", \"email\", \"offline_access\"]\n"
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
        let iss: String = url::form_urlencoded::byte_serialize(ISSUER.as_bytes()).collect();
        app.latchkey_link(&format!(
            "{SCHEME}:/oauth/callback?code=C&state={}&iss={iss}",
            param(url, "state")
        ));

        let account = loop {
            let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
                .await
                .expect("an event within 10 s")
                .expect("the feed is open");
            match event {
                ChangeEvent::SignedIn {
                    account, replaced, ..
                } => {
                    assert!(!replaced, "a new account");
                    break account;
                }
                ChangeEvent::SignInFailed { code, message, .. } => panic!("{code}: {message}"),
                _ => {}
            }
        };
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
    });
    std::fs::remove_dir_all(&dir).ok();
}
