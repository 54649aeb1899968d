//! The sign-in's critical path against a real local oidc-provider and the
//! real Secret Service: from the redirect link's arrival to the account
//! stored, against the least any client must do there.
//!
//! Compares, in one run and interleaved over several rounds:
//! - **baseline**: a bare reqwest code exchange (PKCE) and one keychain write
//!   of the refresh token, through the same Secret Service store;
//! - **core**: `Latchkey::complete` on the redirect link: link and `state`
//!   checks, the exchange, ID token validation (signature, `iss`, `aud`,
//!   `nonce`), the account's writer, the keychain write and the accounts
//!   file's durable write, until it returns the stored account.
//!
//! The browser's part (the IdP's login and consent forms) is done before the
//! clock starts by `tests/idp/authorize.mjs`, one fresh session per sign-in.
//! Every client is warmed up once; the order alternates per round; the report
//! gives the ratio of medians and the per-round ratios (min / median / max),
//! and the core's own split (exchange, ID token, keychain) from its timings.
//! Run by `scripts/bench.sh`:
//! `cargo bench -p latchkey-core --bench sign_in -- <issuer> <authorize.mjs> [rounds]`
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use latchkey_core::clock::SystemClock;
use latchkey_core::config::provider::parse_providers;
use latchkey_core::http::ReqwestHttpClient;
use latchkey_core::secret::SecretString;
use latchkey_core::store::registry::Registry;
use latchkey_core::store::vault::Vault;
use latchkey_core::{Latchkey, SignInOptions, callback_uri};

const CLIENT_ID: &str = "latchkey-desktop";
const REDIRECT: &str = "dev.latchkey:/oauth/callback";

/// The IdP's login and consent, done by `authorize.mjs` (one process for the run).
struct Browser {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Browser {
    fn start(script: &str) -> Self {
        let mut child = Command::new("node")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs authorize.mjs");
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        Self {
            child,
            input,
            output,
        }
    }

    /// The redirect link `authorization` ends on once `login` signs in.
    fn redirect(&mut self, login: &str, authorization: &str) -> String {
        writeln!(self.input, "{login} {authorization}").unwrap();
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        assert!(line.starts_with("dev.latchkey:"), "no redirect: {line:?}");
        line.trim().to_owned()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The baseline's own authorization request: PKCE S256 and a state.
fn baseline_request(issuer: &str) -> (String, oauth2::PkceCodeVerifier) {
    let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
    let mut url = url::Url::parse(&format!("{issuer}/auth")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", CLIENT_ID)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid profile email offline_access")
        .append_pair("prompt", "consent")
        .append_pair("state", oauth2::CsrfToken::new_random().secret())
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256");
    (url.to_string(), verifier)
}

/// Times the baseline from the link: the code out of it, the exchange, one keychain write.
async fn baseline(
    client: &reqwest::Client,
    issuer: &str,
    keychain: &Vault,
    key: &str,
    link: &str,
    verifier: oauth2::PkceCodeVerifier,
) -> Duration {
    let started = Instant::now();
    let parsed = url::Url::parse(link).unwrap();
    let code = parsed
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    let bytes = client
        .post(format!("{issuer}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
            ("code_verifier", verifier.secret()),
        ])
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let refresh = body["refresh_token"].as_str().expect("a refresh token");
    keychain
        .set(key, SecretString::new(refresh.to_owned()))
        .await
        .unwrap();
    started.elapsed()
}

/// The core's split of one sign-in (from its own timings), in ms.
#[derive(Clone, Copy)]
struct Split {
    exchange: u64,
    id_token: u64,
    keychain: u64,
    /// Link to account stored, as the core measures it (before `complete` returns).
    stored: u64,
}

/// Times `Latchkey::complete` from the link to the stored account.
async fn core(core: &Latchkey, link: &str) -> (Duration, Split) {
    let started = Instant::now();
    let redirect_uri = callback_uri(link, &core.identity().redirect_uri()).unwrap();
    let signed_in = core.complete(link, &redirect_uri).await.unwrap();
    let elapsed = started.elapsed();
    let t = signed_in.timings;
    (
        elapsed,
        Split {
            exchange: t.exchange_ms,
            id_token: t.id_token_ms,
            keychain: t.keychain_ms,
            stored: t.total_ms,
        },
    )
}

fn median<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let (Some(issuer), Some(script)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: sign_in <issuer> <authorize.mjs> [rounds]  (see scripts/bench.sh)");
        return;
    };
    let rounds: usize = args.get(3).map_or(15, |r| r.parse().unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let keychain = Vault::platform();
    runtime
        .block_on(keychain.check())
        .expect("the bench needs a working keychain (run scripts/bench.sh)");
    let dir = std::env::temp_dir().join(format!("latchkey-bench-sign-in-{}", std::process::id()));
    let providers = parse_providers(&format!(
        "[[provider]]\nid = \"bench\"\nissuer = \"{issuer}\"\nclient_id = \"{CLIENT_ID}\"\nscopes = [\"openid\", \"profile\", \"email\", \"offline_access\"]\ninsecure_http_loopback = true\n"
    ))
    .unwrap()
    .into_iter()
    .map(|e| e.config.unwrap())
    .collect();
    let core_client = Arc::new(Latchkey::new(
        Arc::new(ReqwestHttpClient::new().unwrap()),
        keychain.clone(),
        Arc::new(SystemClock),
        Registry::in_dir(&dir),
        providers,
    ));
    runtime.block_on(core_client.discover("bench")).unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut browser = Browser::start(script);
    let mut keys = Vec::new();
    let sign_in_core = |browser: &mut Browser, login: &str| {
        let pending = runtime
            .block_on(core_client.begin("bench", &SignInOptions::default()))
            .unwrap();
        let link = browser.redirect(login, pending.authorization_url.as_str());
        let (elapsed, split) = runtime.block_on(core(&core_client, &link));
        (elapsed, split)
    };
    let sign_in_baseline = |browser: &mut Browser, login: &str, keys: &mut Vec<String>| {
        let (authorization, verifier) = baseline_request(issuer);
        let link = browser.redirect(login, &authorization);
        let key = format!("bench-baseline-{login}");
        keys.push(key.clone());
        runtime.block_on(baseline(&client, issuer, &keychain, &key, &link, verifier))
    };
    // Warm-up, the same for each: connections, the IdP's JIT, the keychain's
    // session, the core's JWKS.
    sign_in_baseline(&mut browser, "warm-base", &mut keys);
    sign_in_core(&mut browser, "warm-core");
    let (mut base, mut lk, mut splits) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let login = format!("bench-{round}");
        let (b, (c, split)) = if round % 2 == 0 {
            let b = sign_in_baseline(&mut browser, &login, &mut keys);
            (b, sign_in_core(&mut browser, &login))
        } else {
            let c = sign_in_core(&mut browser, &login);
            (sign_in_baseline(&mut browser, &login, &mut keys), c)
        };
        println!(
            "round {round}: baseline {:.1} ms, core {:.1} ms (exchange {} ms, ID token {} ms, keychain {} ms, stored at {} ms)",
            ms(b),
            ms(c),
            split.exchange,
            split.id_token,
            split.keychain,
            split.stored
        );
        base.push(ms(b));
        lk.push(ms(c));
        splits.push(split);
    }
    // Leave the throwaway keychain and folder clean.
    runtime.block_on(async {
        for key in &keys {
            let _ = keychain.delete(key).await;
        }
        for account in &Registry::in_dir(&dir).load().unwrap().accounts {
            let _ = keychain.delete(account.id.as_str()).await;
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
    let mut pairs: Vec<f64> = lk.iter().zip(&base).map(|(c, b)| c / b).collect();
    pairs.sort_by(f64::total_cmp);
    let (b, c) = (median(base), median(lk));
    println!();
    println!("sign-in, link → account stored, median of {rounds} rounds:");
    println!("  baseline (exchange + one keychain write) {b:7.1} ms");
    println!(
        "  core (Latchkey::complete)                {c:7.1} ms   ratio {:.2} (goal <= 1.3); per round min / median / max {:.2} / {:.2} / {:.2}",
        c / b,
        pairs[0],
        pairs[pairs.len() / 2],
        pairs[pairs.len() - 1]
    );
    println!(
        "  core's split (medians): exchange {} ms, ID token {} ms, keychain {} ms; account stored at {} ms",
        median(splits.iter().map(|s| s.exchange).collect()),
        median(splits.iter().map(|s| s.id_token).collect()),
        median(splits.iter().map(|s| s.keychain).collect()),
        median(splits.iter().map(|s| s.stored).collect()),
    );
}
