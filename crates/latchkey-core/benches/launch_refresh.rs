//! Launch refresh of 100 accounts against a real local oidc-provider.
//!
//! Compares, in one run and interleaved over several rounds:
//! - **baseline**: a bare reqwest client sending the same 100 refresh-token
//!   grants with the same concurrency (8 at a time);
//! - **core (memory)**: `Latchkey::refresh_all` with keyring-core's in-memory
//!   store (everything but the keychain: single-flight, lock files, keychain
//!   re-read, rotation write, ID token validation, registry update);
//! - **core (keychain)**: the same over the real Secret Service;
//! - **floor**: the keychain work no client that keeps its refresh tokens in
//!   the keychain can skip, around the baseline's grants: each account's token
//!   read from the Secret Service, the grant, the rotated token written back
//!   (the same store, the same concurrency). Core (keychain) / floor is what
//!   Latchkey adds over that floor.
//!
//! Each phase redeems the refresh tokens the previous phase received, so every
//! grant is a real rotation. Every client is warmed up once the same way; the
//! phase order alternates per round; the report gives the ratio of medians and
//! the per-round ratios (min / median / max), and the keychain's cost per
//! account. Run by `scripts/bench.sh`, which starts the IdP,
//! seeds the tokens and a throwaway unlocked gnome-keyring:
//! `cargo bench -p latchkey-core --bench launch_refresh -- <issuer> <tokens.json> [rounds]`
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use latchkey_core::Latchkey;
use latchkey_core::clock::SystemClock;
use latchkey_core::config::provider::parse_providers;
use latchkey_core::flow::id_token::Identity;
use latchkey_core::http::ReqwestHttpClient;
use latchkey_core::secret::SecretString;
use latchkey_core::store::registry::{AccountId, Registry, new_account};
use latchkey_core::store::vault::{KeyringStore, Vault};

const CONCURRENCY: usize = 8;
const CLIENT_ID: &str = "latchkey-desktop";

#[derive(serde::Deserialize)]
struct Seeded {
    login: String,
    refresh_token: String,
}

async fn baseline(issuer: &str, tokens: &[(String, String)]) -> (Duration, Vec<(String, String)>) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = format!("{issuer}/token");
    let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let started = Instant::now();
    let tasks = tokens.iter().map(|(login, token)| {
        let client = client.clone();
        let url = url.clone();
        let slots = Arc::clone(&slots);
        async move {
            let _slot = slots.acquire().await.unwrap();
            let bytes = client
                .post(&url)
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", token),
                    ("client_id", CLIENT_ID),
                ])
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            let rotated = body["refresh_token"]
                .as_str()
                .expect("a rotated refresh token")
                .to_owned();
            (login.clone(), rotated)
        }
    });
    let rotated = futures_util::future::join_all(tasks).await;
    (started.elapsed(), rotated)
}

/// Stores `tokens` in `keychain` under their accounts' keys (untimed), then
/// times: for each account, 8 at a time, read its token, redeem it, write the
/// rotated one back.
async fn floor(
    issuer: &str,
    keychain: &Vault,
    tokens: &[(String, String)],
) -> (Duration, Vec<(String, String)>) {
    for (login, token) in tokens {
        keychain
            .set(
                AccountId::derive(issuer, login).as_str(),
                SecretString::new(token.clone()),
            )
            .await
            .unwrap();
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = format!("{issuer}/token");
    let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let started = Instant::now();
    let tasks = tokens.iter().map(|(login, _)| {
        let client = client.clone();
        let url = url.clone();
        let slots = Arc::clone(&slots);
        async move {
            let _slot = slots.acquire().await.unwrap();
            let key = AccountId::derive(issuer, login);
            let token = keychain.get(key.as_str()).await.unwrap().expect("stored");
            let bytes = client
                .post(&url)
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", token.expose()),
                    ("client_id", CLIENT_ID),
                ])
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            let rotated = body["refresh_token"]
                .as_str()
                .expect("a rotated refresh token")
                .to_owned();
            keychain
                .set(key.as_str(), SecretString::new(rotated.clone()))
                .await
                .unwrap();
            (login.clone(), rotated)
        }
    });
    let rotated = futures_util::future::join_all(tasks).await;
    (started.elapsed(), rotated)
}

async fn core(
    issuer: &str,
    vault: Vault,
    tokens: &[(String, String)],
    dir: &std::path::Path,
) -> (Duration, Vec<(String, String)>) {
    let _ = std::fs::remove_dir_all(dir);
    let providers = parse_providers(&format!(
        "[[provider]]\nid = \"bench\"\nissuer = \"{issuer}\"\nclient_id = \"{CLIENT_ID}\"\ninsecure_http_loopback = true\n"
    ))
    .unwrap()
    .into_iter()
    .map(|e| e.config.unwrap())
    .collect();
    let registry = Registry::in_dir(dir);
    let core = Arc::new(Latchkey::new(
        Arc::new(ReqwestHttpClient::new().unwrap()),
        vault,
        Arc::new(SystemClock),
        registry.clone(),
        providers,
    ));
    let mut ids = Vec::new();
    registry
        .update(|book| {
            for (login, _) in tokens {
                let identity = Identity {
                    issuer: issuer.to_owned(),
                    subject: login.clone(),
                    name: None,
                    username: None,
                    email: None,
                    picture: None,
                };
                let account =
                    new_account("bench", &identity, vec!["openid".into()], SystemTime::now());
                ids.push((login.clone(), account.id.clone()));
                book.upsert(account);
            }
        })
        .unwrap();
    for ((_, id), (_, token)) in ids.iter().zip(tokens) {
        core.testing_store_refresh_token(id, &SecretString::new(token.clone()))
            .await
            .unwrap();
    }
    core.discover("bench").await.unwrap();
    let started = Instant::now();
    let results = core.refresh_all().await;
    let elapsed = started.elapsed();
    assert_eq!(results.len(), tokens.len());
    for (id, result) in &results {
        assert!(
            result.is_ok(),
            "{id}: {:?}",
            result.as_ref().err().map(ToString::to_string)
        );
    }
    let mut rotated = Vec::new();
    for (login, id) in &ids {
        let token = core
            .testing_refresh_token(id)
            .await
            .unwrap()
            .expect("stored");
        rotated.push((login.clone(), token.expose().to_owned()));
        core.sign_out_local_for_bench(id).await;
    }
    (elapsed, rotated)
}

trait BenchCleanup {
    async fn sign_out_local_for_bench(&self, id: &AccountId);
}

impl BenchCleanup for Latchkey {
    async fn sign_out_local_for_bench(&self, id: &AccountId) {
        // Leave the throwaway keychain clean: the next phase stores its own items.
        let _ = self.registry().update(|book| book.remove(id));
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let (Some(issuer), Some(file)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: launch_refresh <issuer> <tokens.json> [rounds]  (see scripts/bench.sh)");
        return;
    };
    let rounds: usize = args.get(3).map_or(5, |r| r.parse().unwrap());
    let seeded: Vec<Seeded> = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    let mut tokens: Vec<(String, String)> = seeded
        .into_iter()
        .map(|s| (s.login, s.refresh_token))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("latchkey-bench-{}", std::process::id()));
    let keychain = Vault::platform();
    runtime
        .block_on(keychain.check())
        .expect("the bench needs a working keychain (run scripts/bench.sh)");
    let (mut base, mut mem, mut kc, mut fl) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    runtime.block_on(async {
        // Warm-up, the same for every client: connections, the IdP's JIT,
        // the page cache, the keychain's session.
        let (_, t) = baseline(issuer, &tokens).await;
        let warm = Vault::new(Arc::new(KeyringStore::in_memory("bench-warm")));
        let (_, t) = core(issuer, warm, &t, &dir).await;
        let (_, t) = core(issuer, keychain.clone(), &t, &dir).await;
        forget(&keychain, issuer, &t).await;
        let (_, t) = floor(issuer, &keychain, &t).await;
        forget(&keychain, issuer, &t).await;
        tokens = t;
        for round in 0..rounds {
            // The phase order alternates: no phase always runs first (or
            // always right after the keychain's writes).
            let mut order = [
                Phase::Baseline,
                Phase::Memory,
                Phase::Keychain,
                Phase::Floor,
            ];
            if round % 2 == 1 {
                order.reverse();
            }
            let mut times = [Duration::ZERO; 4];
            for phase in order {
                let (d, t) = match phase {
                    Phase::Baseline => baseline(issuer, &tokens).await,
                    Phase::Memory => {
                        let memory =
                            Vault::new(Arc::new(KeyringStore::in_memory(format!("bench-{round}"))));
                        core(issuer, memory, &tokens, &dir).await
                    }
                    Phase::Keychain => {
                        let r = core(issuer, keychain.clone(), &tokens, &dir).await;
                        forget(&keychain, issuer, &r.1).await;
                        r
                    }
                    Phase::Floor => {
                        let r = floor(issuer, &keychain, &tokens).await;
                        forget(&keychain, issuer, &r.1).await;
                        r
                    }
                };
                times[phase as usize] = d;
                tokens = t;
            }
            let [d, d2, d3, d4] = times;
            base.push(d);
            mem.push(d2);
            kc.push(d3);
            fl.push(d4);
            println!(
                "round {round} ({order:?}): baseline {:.1} ms, core (memory) {:.1} ms, core (keychain) {:.1} ms, floor {:.1} ms",
                ms(d),
                ms(d2),
                ms(d3),
                ms(d4)
            );
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
    let n = tokens.len();
    let pairs_to = |xs: &[Duration], to: &[Duration]| -> String {
        let mut r: Vec<f64> = xs.iter().zip(to).map(|(x, b)| ms(*x) / ms(*b)).collect();
        r.sort_by(f64::total_cmp);
        format!(
            "{:.2} / {:.2} / {:.2}",
            r[0],
            r[r.len() / 2],
            r[r.len() - 1]
        )
    };
    let per_account: Vec<Duration> = kc
        .iter()
        .zip(&mem)
        .map(|(k, m)| k.saturating_sub(*m) / u32::try_from(n.max(1)).unwrap_or(1))
        .collect();
    let pairs = |xs: &[Duration]| pairs_to(xs, &base);
    let (pm, pk, pf, pkf) = (pairs(&mem), pairs(&kc), pairs(&fl), pairs_to(&kc, &fl));
    let (b, m, k, f) = (median(base.clone()), median(mem), median(kc), median(fl));
    println!();
    println!("launch refresh of {n} accounts, {CONCURRENCY} at a time, median of {rounds} rounds:");
    println!("  baseline (bare reqwest)      {:8.1} ms", ms(b));
    println!(
        "  core, in-memory keychain     {:8.1} ms   ratio {:.2} (goal <= 1.3); per round min / median / max {pm}",
        ms(m),
        ms(m) / ms(b)
    );
    println!(
        "  core, Secret Service         {:8.1} ms   ratio {:.2}; per round min / median / max {pk}",
        ms(k),
        ms(k) / ms(b)
    );
    println!(
        "  floor (read + grant + write)  {:7.1} ms   ratio {:.2}; per round min / median / max {pf}",
        ms(f),
        ms(f) / ms(b)
    );
    println!(
        "  core (Secret Service) / floor {:7.2}      per round min / median / max {pkf}",
        ms(k) / ms(f)
    );
    println!(
        "  keychain share of core time  {:7.0} %",
        100.0 * (ms(k) - ms(m)).max(0.0) / ms(k)
    );
    println!(
        "  keychain cost per account    {:8.2} ms (median over rounds of (keychain - memory) / accounts)",
        ms(median(per_account))
    );
}

/// The four clients of a round.
#[derive(Debug, Clone, Copy)]
enum Phase {
    Baseline = 0,
    Memory = 1,
    Keychain = 2,
    Floor = 3,
}

/// Deletes the benchmark's accounts from the real keychain.
async fn forget(keychain: &Vault, issuer: &str, tokens: &[(String, String)]) {
    for (login, _) in tokens {
        let _ = keychain
            .delete(AccountId::derive(issuer, login).as_str())
            .await;
    }
}
