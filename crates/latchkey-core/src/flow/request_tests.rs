//! Tests of `request`.
use super::*;
use crate::flow::pending::{PendingStore, Taken};
use crate::provider::parse_providers;
use crate::vault::KeyringStore;
use crate::vault::Vault;
use std::sync::Arc;

pub(crate) fn provider() -> ProviderConfig {
    parse_providers(
        "[[provider]]\nid = \"p\"\nname = \"P\"\nissuer = \"https://id.example\"\nclient_id = \"latchkey-desktop\"\nscopes = [\"openid\", \"email\", \"offline_access\"]\n",
    )
    .expect("parses")
    .remove(0)
    .config
    .expect("valid")
}

pub(crate) fn metadata() -> ProviderMetadata {
    let url = |p: &str| Url::parse(&format!("https://id.example{p}")).expect("url");
    ProviderMetadata {
        issuer: "https://id.example".into(),
        authorization_endpoint: url("/auth"),
        token_endpoint: url("/token"),
        jwks_uri: Some(url("/jwks")),
        userinfo_endpoint: Some(url("/me")),
        revocation_endpoint: None,
        authorization_response_iss_parameter_supported: true,
        scopes_supported: vec![],
        prompt_values_supported: None,
        device_authorization_endpoint: None,
    }
}

fn params(url: &Url) -> std::collections::HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

#[test]
fn a_provider_without_iss_uses_its_own_redirect_uri() {
    let now = SystemTime::now();
    let mut md = metadata();
    md.authorization_response_iss_parameter_supported = false;
    let p = new_authorization(&provider(), &md, &SignInOptions::default(), now).expect("built");
    assert_eq!(p.redirect_uri.as_str(), "dev.latchkey:/oauth/callback/p");
    assert_eq!(
        params(&p.authorization_url)["redirect_uri"],
        "dev.latchkey:/oauth/callback/p"
    );
    // With RFC 9207 the shared URI stays (existing registrations keep working).
    let p =
        new_authorization(&provider(), &metadata(), &SignInOptions::default(), now).expect("built");
    assert_eq!(p.redirect_uri.as_str(), "dev.latchkey:/oauth/callback");
}

#[test]
fn request_has_pkce_s256_state_nonce_and_scopes() {
    let now = SystemTime::now();
    let p =
        new_authorization(&provider(), &metadata(), &SignInOptions::default(), now).expect("built");
    let q = params(&p.authorization_url);
    assert_eq!(p.authorization_url.path(), "/auth");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "latchkey-desktop");
    assert_eq!(q["redirect_uri"], "dev.latchkey:/oauth/callback");
    assert_eq!(q["scope"], "openid email offline_access");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["prompt"], "consent");
    assert_eq!(q["state"], p.state.expose());
    assert_eq!(q["nonce"], p.nonce.expose());
    // 32 random bytes, base64url without padding = 43 characters = 256 bits.
    assert_eq!(p.state.expose().len(), 43);
    assert_eq!(p.nonce.expose().len(), 43);
    let challenge = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        Sha256::digest(p.pkce_verifier.expose().as_bytes()),
    );
    assert_eq!(q["code_challenge"], challenge);
    assert!(!q.contains_key("code_verifier"));
    assert_eq!(p.expires_at, now + PENDING_TTL);
}

#[test]
fn rfc7636_appendix_b_vector() {
    // RFC 7636 Appendix B: this verifier has this S256 challenge.
    let verifier =
        oauth2::PkceCodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
    assert_eq!(
        challenge.as_str(),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
    assert_eq!(challenge.method().as_str(), "S256");
}

#[test]
fn each_request_is_fresh() {
    let now = SystemTime::now();
    let a = new_authorization(&provider(), &metadata(), &SignInOptions::default(), now).expect("a");
    let b = new_authorization(&provider(), &metadata(), &SignInOptions::default(), now).expect("b");
    assert_ne!(a.state, b.state);
    assert_ne!(a.nonce, b.nonce);
    assert_ne!(a.pkce_verifier, b.pkce_verifier);
    assert_ne!(a.handle, b.handle);
}

#[test]
fn login_hint_and_explicit_prompt() {
    let options = SignInOptions {
        login_hint: Some("alice@example.test".into()),
        prompt: Some("login".into()),
        reauth_of: None,
    };
    let p =
        new_authorization(&provider(), &metadata(), &options, SystemTime::now()).expect("built");
    let q = params(&p.authorization_url);
    assert_eq!(q["login_hint"], "alice@example.test");
    assert_eq!(q["prompt"], "login");
}

#[test]
fn secrets_are_not_in_debug_output() {
    let p = new_authorization(
        &provider(),
        &metadata(),
        &SignInOptions::default(),
        SystemTime::now(),
    )
    .expect("built");
    let debug = format!("{p:?}");
    assert!(!debug.contains(p.pkce_verifier.expose()));
    assert!(!debug.contains(p.nonce.expose()));
}

fn locks(name: &str) -> crate::file_lock::LockDir {
    let dir = std::env::temp_dir().join(format!("latchkey-pending-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    crate::file_lock::LockDir::new(dir)
}

fn store() -> PendingStore {
    PendingStore::new(
        Vault::new(Arc::new(KeyringStore::in_memory("pending-test"))),
        locks("store"),
    )
}

/// A keychain whose reads take a while, so read-modify-writes overlap.
#[derive(Debug)]
struct Slow(KeyringStore);

impl crate::vault::SecretStore for Slow {
    fn get(&self, key: &str) -> Result<Option<SecretString>, VaultError> {
        std::thread::sleep(Duration::from_millis(15));
        self.0.get(key)
    }
    fn set(&self, key: &str, secret: &SecretString) -> Result<(), VaultError> {
        self.0.set(key, secret)
    }
    fn delete(&self, key: &str) -> Result<(), VaultError> {
        self.0.delete(key)
    }
    fn list_keys(&self) -> Result<Vec<String>, VaultError> {
        self.0.list_keys()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_never_lose_each_others_pending_sign_ins() {
    let vault = Vault::new(Arc::new(Slow(KeyringStore::in_memory("pending-two"))));
    let locks = locks("two");
    // Two processes: each its own store (own in-process mutex) over the
    // same keychain and the same lock folder.
    let app = Arc::new(PendingStore::new(vault.clone(), locks.clone()));
    let cli = Arc::new(PendingStore::new(vault, locks));
    let now = SystemTime::now();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = Arc::clone(if i % 2 == 0 { &app } else { &cli });
        tasks.push(tokio::spawn(async move {
            let p = new_authorization(&provider(), &metadata(), &SignInOptions::default(), now)
                .expect("built");
            store.insert(&p, now).await.expect("insert");
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    assert_eq!(
        app.list(now).await.expect("list").len(),
        8,
        "a pending sign-in was lost"
    );
}

#[tokio::test]
async fn take_is_one_time() {
    let store = store();
    let now = SystemTime::now();
    let p =
        new_authorization(&provider(), &metadata(), &SignInOptions::default(), now).expect("built");
    let state = p.state.expose().to_owned();
    store.insert(&p, now).await.expect("insert");
    assert_eq!(store.list(now).await.expect("list").len(), 1);
    let Taken::Found(found) = store.take(&state, now).await.expect("take") else {
        panic!("expected the pending request")
    };
    assert_eq!(found.pkce_verifier, p.pkce_verifier);
    assert!(matches!(
        store.take(&state, now).await.expect("again"),
        Taken::Unknown
    ));
    assert!(store.list(now).await.expect("list").is_empty());
}

#[tokio::test]
async fn several_pending_at_once_and_cancel() {
    let store = store();
    let now = SystemTime::now();
    let a = new_authorization(&provider(), &metadata(), &SignInOptions::default(), now).expect("a");
    let b = new_authorization(&provider(), &metadata(), &SignInOptions::default(), now).expect("b");
    store.insert(&a, now).await.expect("a");
    store.insert(&b, now).await.expect("b");
    assert_eq!(store.list(now).await.expect("list").len(), 2);
    assert!(store.cancel(&a.handle).await.expect("cancel"));
    assert!(!store.cancel(&a.handle).await.expect("cancel twice"));
    assert!(matches!(
        store.take(a.state.expose(), now).await.expect("take"),
        Taken::Unknown
    ));
    assert!(matches!(
        store.take(b.state.expose(), now).await.expect("take"),
        Taken::Found(_)
    ));
}

#[tokio::test]
async fn expired_requests_are_reported_and_purged() {
    let store = store();
    let now = SystemTime::now();
    let a = new_authorization(&provider(), &metadata(), &SignInOptions::default(), now).expect("a");
    let b = new_authorization(&provider(), &metadata(), &SignInOptions::default(), now).expect("b");
    store.insert(&a, now).await.expect("a");
    store.insert(&b, now).await.expect("b");
    let later = now + PENDING_TTL + Duration::from_secs(1);
    assert!(matches!(
        store.take(a.state.expose(), later).await.expect("take"),
        Taken::Expired { .. }
    ));
    // b was purged as a side effect.
    assert!(store.list(later).await.expect("list").is_empty());
    assert!(matches!(
        store.take(b.state.expose(), later).await.expect("take"),
        Taken::Unknown
    ));
}

#[tokio::test]
async fn pending_survive_a_new_store_on_the_same_keychain() {
    let vault = Vault::new(Arc::new(KeyringStore::in_memory("pending-restart")));
    let now = SystemTime::now();
    let a = new_authorization(&provider(), &metadata(), &SignInOptions::default(), now).expect("a");
    PendingStore::new(vault.clone(), locks("restart"))
        .insert(&a, now)
        .await
        .expect("insert");
    // "Restart": a new store over the same keychain.
    let again = PendingStore::new(vault, locks("restart"));
    assert!(matches!(
        again.take(a.state.expose(), now).await.expect("take"),
        Taken::Found(_)
    ));
}
