//! A second process using the core, for the cross-process refresh test:
//! refreshes one account `total` times from `concurrency` tasks, over the
//! same keychain, data folder and providers file as the app.
//!
//! `cargo run -p latchkey-core --example refresh_hammer -- <account-id> <total> <concurrency>`
//! Prints `{"ok": N, "errors": {"code": count}}` and exits non-zero on any error.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use latchkey_core::ErrorCode;
use latchkey_core::Latchkey;
use latchkey_core::clock::SystemClock;
use latchkey_core::config::provider::{default_providers_path, load_providers};
use latchkey_core::http::ReqwestHttpClient;
use latchkey_core::store::registry::{AccountId, Registry, default_data_dir};
use latchkey_core::store::vault::Vault;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, id, total, concurrency] = args.as_slice() else {
        eprintln!("usage: refresh_hammer <account-id> <total> <concurrency>");
        std::process::exit(2);
    };
    let total: usize = total.parse().unwrap();
    let concurrency: usize = concurrency.parse().unwrap();
    let providers = load_providers(&default_providers_path().unwrap())
        .unwrap()
        .into_iter()
        .filter_map(|e| e.config.ok())
        .collect();
    let core = Arc::new(Latchkey::new(
        Arc::new(ReqwestHttpClient::new().unwrap()),
        Vault::platform(),
        Arc::new(SystemClock),
        Registry::in_dir(&default_data_dir().unwrap()),
        providers,
    ));
    let id = AccountId::new(id.clone());
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let core = Arc::clone(&core);
        let id = id.clone();
        let rounds = total / concurrency + usize::from(worker < total % concurrency);
        tasks.push(tokio::spawn(async move {
            let mut results = Vec::new();
            for _ in 0..rounds {
                results.push(
                    core.refresh_account(&id)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.code()),
                );
            }
            results
        }));
    }
    let mut ok = 0;
    let mut errors: BTreeMap<&str, usize> = BTreeMap::new();
    for task in tasks {
        for result in task.await.unwrap() {
            match result {
                Ok(()) => ok += 1,
                Err(code) => *errors.entry(code).or_default() += 1,
            }
        }
    }
    println!("{}", serde_json::json!({ "ok": ok, "errors": errors }));
    if !errors.is_empty() {
        std::process::exit(1);
    }
}
