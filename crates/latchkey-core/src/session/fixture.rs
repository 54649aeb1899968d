//! The fixture of the sign-in and account tests: a core over a fake IdP,
//! an in-memory keychain that can refuse writes, and a manual clock.
use crate::authorize::SignInOptions;
use crate::session::latchkey::{Latchkey, lock};
use std::sync::Arc;
use std::time::SystemTime;
use url::Url;

use crate::accounts::AccountId;
use crate::clock::{Clock as _, ManualClock};
use crate::discovery::ProviderMetadata;
use crate::testing::{CLIENT_ID, Canned, Claims, FakeServer, ISSUER, RefusingStore, jwks};
use crate::vault::Vault;
use crate::vault::{KeyringStore, SecretStore};
use std::time::Duration;

pub(crate) fn metadata(iss_required: bool) -> ProviderMetadata {
    let url = |p: &str| Url::parse(&format!("{ISSUER}{p}")).expect("url");
    ProviderMetadata {
        issuer: ISSUER.into(),
        authorization_endpoint: url("/auth"),
        token_endpoint: url("/token"),
        jwks_uri: Some(url("/jwks")),
        userinfo_endpoint: Some(url("/me")),
        revocation_endpoint: None,
        authorization_response_iss_parameter_supported: iss_required,
        scopes_supported: vec![],
        prompt_values_supported: None,
        device_authorization_endpoint: None,
    }
}

pub(crate) struct Fixture {
    pub(crate) server: Arc<FakeServer>,
    pub(crate) store: Arc<RefusingStore>,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) signin: Arc<Latchkey>,
    pub(crate) dir: std::path::PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn fixture(name: &str) -> Fixture {
    fixture_for(name, &crate::config::identity::AppIdentity::latchkey())
}

/// The fixture for another app's identity (its scheme, its keychain service).
pub(crate) fn fixture_for(name: &str, identity: &crate::config::identity::AppIdentity) -> Fixture {
    fixture_with(name, identity, "")
}

/// The fixture whose provider `p` has these extra lines in its entry.
pub(crate) fn fixture_with(
    name: &str,
    identity: &crate::config::identity::AppIdentity,
    extra: &str,
) -> Fixture {
    let server = Arc::new(FakeServer::new());
    let store = Arc::new(RefusingStore::over(Arc::new(KeyringStore::in_memory(
        identity.identifier(),
    ))));
    let clock = Arc::new(ManualClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
    ));
    let dir = std::env::temp_dir().join(format!("latchkey-signin-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let provider = crate::provider::parse_providers_for(&provider_entry(extra), identity)
        .expect("parses")
        .remove(0)
        .config
        .expect("valid");
    let signin = Latchkey::builder(identity.clone())
        .http(server.clone())
        .vault(Vault::new(store.clone()))
        .clock(clock.clone())
        .data_dir(&dir)
        .providers(vec![provider])
        .build()
        .map(Arc::new)
        .expect("built");
    Fixture {
        server,
        store,
        clock,
        signin,
        dir,
    }
}

/// The fixture's provider `p` as a providers file entry, with `extra` lines.
pub(crate) fn provider_entry(extra: &str) -> String {
    format!(
        "[[provider]]\nid = \"p\"\nname = \"Example\"\nissuer = \"{ISSUER}\"\nclient_id = \"{CLIENT_ID}\"\nscopes = [\"openid\", \"email\", \"offline_access\"]\n{extra}"
    )
}

pub(crate) fn callback() -> Url {
    Url::parse("dev.latchkey:/oauth/callback").expect("url")
}

pub(crate) fn query(url: &Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .expect("param")
}

impl Fixture {
    /// Begins a sign-in and sets the fake server up to answer it like a real IdP.
    pub(crate) async fn begin(&self, iss_required: bool, refresh_token: bool) -> (String, String) {
        let (_, state, nonce) = self.begin_summary(iss_required, refresh_token).await;
        (state, nonce)
    }

    /// Begins a sign-in at provider `p`, described by `md`; returns it with
    /// its `state` and `nonce`.
    pub(crate) async fn begin_with(
        &self,
        md: ProviderMetadata,
    ) -> (crate::authorize::PendingSummary, String, String) {
        lock(&self.signin.metadata).insert("p".into(), md);
        let pending = self
            .signin
            .begin("p", &SignInOptions::default())
            .await
            .expect("begin");
        let state = query(&pending.authorization_url, "state");
        let nonce = query(&pending.authorization_url, "nonce");
        (pending, state, nonce)
    }

    /// [`Fixture::begin`], with the pending sign-in's summary.
    pub(crate) async fn begin_summary(
        &self,
        iss_required: bool,
        refresh_token: bool,
    ) -> (crate::authorize::PendingSummary, String, String) {
        let known = lock(&self.signin.metadata).get("p").cloned();
        let mut md = metadata(iss_required);
        md.revocation_endpoint = known.and_then(|k| k.revocation_endpoint);
        let (pending, state, nonce) = self.begin_with(md).await;
        let id_token = Claims::valid(self.clock.now(), &nonce).sign();
        let mut body = serde_json::json!({
            "access_token": "AT-1", "token_type": "Bearer", "expires_in": 3600,
            "id_token": id_token.to_string(), "scope": "openid email offline_access",
        });
        if refresh_token {
            body["refresh_token"] = "RT-1".into();
        }
        self.server.set("/token", Canned::json(200, body));
        self.server.set(
            "/jwks",
            Canned::json(200, serde_json::to_value(jwks(&[1])).expect("jwks")),
        );
        (pending, state, nonce)
    }

    pub(crate) fn nothing_stored(&self) {
        assert!(
            self.signin
                .accounts()
                .expect("registry")
                .accounts
                .is_empty()
        );
        let id = AccountId::derive(ISSUER, "alice");
        assert_eq!(self.store.get(id.as_str()).expect("get"), None);
    }
}

/// A well-formed callback (code `C`, our issuer) for a pending request.
pub(crate) fn callback_for(state: &str) -> String {
    format!(
        "dev.latchkey:/oauth/callback?code=C&state={state}&iss={}",
        urlencode(ISSUER)
    )
}

pub(crate) fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub(crate) async fn signed_in(f: &Fixture) -> AccountId {
    let (state, _) = f.begin(true, true).await;
    let url = callback_for(&state);
    f.signin
        .complete(&url, &callback())
        .await
        .expect("signed in")
        .account
        .id
}

pub(crate) fn with_revocation(f: &Fixture, status: u16) {
    let mut md = metadata(true);
    md.revocation_endpoint = Some(Url::parse(&format!("{ISSUER}/token/revocation")).expect("url"));
    lock(&f.signin.metadata).insert("p".into(), md);
    f.server.set(
        "/token/revocation",
        Canned::json(status, serde_json::json!({})),
    );
}
