//! The access-token cache in the account's keychain item, shared by every
//! process (the app and `latchkey` CLI processes): a second core over the
//! same keychain and folder stands for another process.
use std::sync::Arc;
use std::time::Duration;

use super::tests::{Setup, core_over, setup, stored_token, tokens};
use super::*;
use crate::testing::{Canned, FakeServer, eventually};

#[tokio::test]
async fn another_process_uses_the_cached_access_token_without_a_request() {
    let server = Arc::new(FakeServer::new());
    let s = setup("cache-shared", server.clone()).await;
    server.set("/token", tokens(Some("RT-1")));
    let first = s.core.refresh_account(&s.id).await.expect("refreshed");
    assert_eq!(server.count("/token"), 1);
    // Another process: its own memory, the same keychain and folder.
    let other = core_over(
        server.clone(),
        s.store.clone(),
        &s.dir,
        Arc::clone(&s.clock),
    );
    let token = other
        .fresh_access_token(&s.id, Duration::from_secs(60))
        .await
        .expect("cached");
    assert_eq!(token.token.expose(), "AT");
    assert_eq!(token.expires_at, first.expires_at);
    assert_eq!(
        server.count("/token"),
        1,
        "no token request for a cached token"
    );
    // Asked for more than it has left, no longer just refreshed: one
    // refresh, whose token is cached in turn.
    s.clock.advance(JUST_REFRESHED + Duration::from_secs(1));
    server.set(
        "/token",
        Canned::json(
            200,
            serde_json::json!({"access_token": "AT-2", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "RT-2"}),
        ),
    );
    let longer = other
        .fresh_access_token(&s.id, Duration::from_secs(1200))
        .await
        .expect("refreshed");
    assert_eq!(longer.token.expose(), "AT-2");
    assert_eq!(server.count("/token"), 2);
    assert!(
        server.bodies("/token")[1].contains("refresh_token=RT-1"),
        "the rotated token from the first process"
    );
    assert_eq!(stored_token(&s.core, &s.id).await, "RT-2");
    // And the first process takes the newer one from the keychain.
    s.clock.advance(Duration::from_secs(500));
    let back = s
        .core
        .fresh_access_token(&s.id, Duration::from_secs(300))
        .await
        .expect("cached");
    assert_eq!(back.token.expose(), "AT-2");
    assert_eq!(server.count("/token"), 2);
}

#[tokio::test]
async fn a_forced_refresh_ignores_the_cache_and_an_expired_one_is_never_used() {
    let server = Arc::new(FakeServer::new());
    let s = setup("cache-forced", server.clone()).await;
    server.set("/token", tokens(None));
    s.core.refresh_account(&s.id).await.expect("refreshed");
    s.core.refresh_account(&s.id).await.expect("refreshed");
    assert_eq!(
        server.count("/token"),
        2,
        "refresh_account always refreshes"
    );
    // The same refresh token came back: it is kept, with the new cache.
    assert_eq!(stored_token(&s.core, &s.id).await, "RT-0");
    let other = core_over(
        server.clone(),
        s.store.clone(),
        &s.dir,
        Arc::clone(&s.clock),
    );
    s.clock.advance(Duration::from_secs(601));
    other
        .fresh_access_token(&s.id, Duration::ZERO)
        .await
        .expect("refreshed");
    assert_eq!(
        server.count("/token"),
        3,
        "an expired cached token is not used"
    );
}

#[tokio::test]
async fn a_sign_in_caches_its_access_token_for_other_processes() {
    let f = crate::session::fixture::fixture("cache-sign-in");
    let id = crate::session::fixture::signed_in(&f).await;
    let other = Latchkey::builder(crate::config::identity::AppIdentity::latchkey())
        .http(f.server.clone())
        .vault(crate::vault::Vault::new(f.store.clone()))
        .clock(f.clock.clone())
        .data_dir(&f.dir)
        .providers(f.signin.providers().to_vec())
        .build()
        .expect("core");
    let token = other
        .fresh_access_token(&id, Duration::from_secs(60))
        .await
        .expect("cached");
    assert_eq!(token.token.expose(), "AT-1");
    assert_eq!(f.server.count("/token"), 1, "only the code exchange");
}

#[tokio::test]
async fn the_app_does_not_read_back_its_own_sign_in() {
    let f = crate::session::fixture::fixture("follow-own-sign-in");
    let id = crate::session::fixture::signed_in(&f).await;
    // Its lifecycle shows it ready, as the app's does after a sign-in.
    f.signin.set_live(
        &id,
        LiveStatus::Ready {
            expires_at: f.signin.access_token(&id).and_then(|t| t.expires_at),
            next_refresh_at: std::time::SystemTime::now() + Duration::from_secs(480),
        },
    );
    let reads = f.store.reads();
    // The app's own watch of the accounts file sees the sign-in's write.
    assert!(f.signin.follow_refreshes().await.is_empty());
    assert_eq!(
        f.store.reads(),
        reads,
        "no keychain read for our own sign-in"
    );
}

/// Another process (a `latchkey` CLI) asks for a token valid 20 minutes: its
/// refresh rotates to RT-2 and gets AT-CLI for an hour.
async fn cli_refreshes_for_20_minutes(
    s: &Setup,
    server: &Arc<FakeServer>,
) -> crate::session::latchkey::AccessToken {
    server.set(
        "/token",
        Canned::json(
            200,
            serde_json::json!({"access_token": "AT-CLI", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "RT-2"}),
        ),
    );
    let cli = core_over(
        server.clone(),
        s.store.clone(),
        &s.dir,
        Arc::clone(&s.clock),
    );
    cli.fresh_access_token(&s.id, Duration::from_secs(1200))
        .await
        .expect("refreshed")
}

#[tokio::test(start_paused = true)]
async fn the_lifecycle_takes_a_token_another_process_refreshed_instead_of_refreshing() {
    let server = Arc::new(FakeServer::new());
    let s = Arc::new(setup("cache-lifecycle", server.clone()).await);
    server.set("/token", tokens(Some("RT-1")));
    let runner = {
        let s = Arc::clone(&s);
        tokio::spawn(async move {
            s.core
                .run_account(s.id.clone(), crate::session::schedule::Backoff::default())
                .await
        })
    };
    eventually("the launch refresh", || {
        matches!(s.core.live_status(&s.id), Some(LiveStatus::Ready { .. }))
    })
    .await;
    assert_eq!(server.count("/token"), 1, "the launch refresh");
    // A CLI wants a token for 20 minutes a minute later: it refreshes (ours lasts 10).
    s.clock.advance(Duration::from_secs(60));
    let theirs = cli_refreshes_for_20_minutes(&s, &server).await;
    assert_eq!(server.count("/token"), 2);
    // Our scheduled refresh comes (80 % of 600 s): the CLI's token is taken.
    s.clock.advance(Duration::from_secs(420));
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(server.count("/token"), 2, "no refresh of our own");
    assert_eq!(
        s.core.access_token(&s.id).expect("token").token.expose(),
        "AT-CLI"
    );
    assert!(
        matches!(s.core.live_status(&s.id), Some(LiveStatus::Ready { expires_at, .. }) if expires_at == theirs.expires_at),
        "{:?}",
        s.core.live_status(&s.id)
    );
    runner.abort();
}

#[tokio::test]
async fn the_cached_expiry_is_readable_without_the_token() {
    let server = Arc::new(FakeServer::new());
    let s = setup("cache-expiry", server.clone()).await;
    assert_eq!(
        s.core.cached_access_expiry(&s.id).await.expect("read"),
        None
    );
    server.set("/token", tokens(None));
    let token = s.core.refresh_account(&s.id).await.expect("refreshed");
    let other = core_over(
        server.clone(),
        s.store.clone(),
        &s.dir,
        Arc::clone(&s.clock),
    );
    assert_eq!(
        other.cached_access_expiry(&s.id).await.expect("read"),
        token.expires_at.map(|at| {
            // Stored in whole seconds.
            std::time::UNIX_EPOCH
                + Duration::from_secs(
                    at.duration_since(std::time::UNIX_EPOCH)
                        .expect("after")
                        .as_secs(),
                )
        })
    );
    assert_eq!(server.count("/token"), 1);
}

#[tokio::test(start_paused = true)]
async fn accounts_another_process_signed_in_get_a_lifecycle_once() {
    let server = Arc::new(FakeServer::new());
    let s = setup("adopt", server.clone()).await;
    server.set("/token", tokens(None));
    let core = Arc::new(core_over(
        server.clone(),
        s.store.clone(),
        &s.dir,
        Arc::clone(&s.clock),
    ));
    // The account of `setup` was added "by another process": adopted, refreshed once.
    assert_eq!(core.adopt_new_accounts(), vec![s.id.clone()]);
    eventually("its launch refresh", || {
        matches!(core.live_status(&s.id), Some(LiveStatus::Ready { .. }))
    })
    .await;
    assert!(core.is_running(&s.id));
    assert_eq!(server.count("/token"), 1, "its launch refresh");
    // Adopting again leaves the running lifecycle alone: no second refresh.
    assert!(core.adopt_new_accounts().is_empty());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.count("/token"), 1);
}

/// The accounts file's watch fires on this process's own sign-in before the
/// sign-in's caller starts the account's lifecycle (with inotify it nearly
/// always does): the account is not taken for another process's, so the
/// caller's start is a start, not a "Retry now" that refreshes a token
/// minted a moment ago.
#[tokio::test]
async fn the_watch_leaves_this_processs_own_sign_in_to_its_caller() {
    let f = crate::session::fixture::fixture("own-sign-in");
    let id = crate::session::fixture::signed_in(&f).await;
    assert_eq!(f.server.count("/token"), 1, "the code exchange");
    assert!(
        f.signin.adopt_new_accounts().is_empty(),
        "our own sign-in is not adopted"
    );
    f.signin.start_lifecycle(id.clone());
    eventually("the lifecycle runs", || f.signin.is_running(&id)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(f.server.count("/token"), 1, "no refresh after the sign-in");
    assert!(matches!(
        f.signin.live_status(&id),
        Some(LiveStatus::Ready { .. })
    ));
    // Started: from now on the account is like any other for the watch.
    assert!(f.signin.adopt_new_accounts().is_empty());
}

#[tokio::test]
async fn processes_asking_longer_than_tokens_live_share_a_refresh_made_just_before() {
    let server = Arc::new(FakeServer::new());
    let s = setup("cache-longer", server.clone()).await;
    server.set("/token", tokens(Some("RT-1")));
    // Tokens live 600 s here; two processes ask at once for 2 h: no refresh can give that.
    let two_hours = Duration::from_secs(7200);
    let other = core_over(
        server.clone(),
        s.store.clone(),
        &s.dir,
        Arc::clone(&s.clock),
    );
    let (first, shared) = tokio::join!(
        s.core.fresh_access_token(&s.id, two_hours),
        other.fresh_access_token(&s.id, two_hours)
    );
    assert_eq!(server.count("/token"), 1, "one rotation for both");
    assert_eq!(
        first.expect("first").token.expose(),
        shared.expect("shared").token.expose()
    );
    // A few seconds later another still shares it; past JUST_REFRESHED one refreshes.
    s.clock.advance(Duration::from_secs(5));
    let soon = core_over(
        server.clone(),
        s.store.clone(),
        &s.dir,
        Arc::clone(&s.clock),
    );
    soon.fresh_access_token(&s.id, two_hours)
        .await
        .expect("shared");
    assert_eq!(server.count("/token"), 1, "still one rotation");
    s.clock.advance(JUST_REFRESHED);
    let later = core_over(
        server.clone(),
        s.store.clone(),
        &s.dir,
        Arc::clone(&s.clock),
    );
    later
        .fresh_access_token(&s.id, two_hours)
        .await
        .expect("refreshed");
    assert_eq!(server.count("/token"), 2);
}

#[tokio::test(start_paused = true)]
async fn the_app_follows_a_refresh_another_process_made_and_plans_from_it() {
    let server = Arc::new(FakeServer::new());
    let s = Arc::new(setup("follow", server.clone()).await);
    server.set("/token", tokens(Some("RT-1")));
    let runner = {
        let s = Arc::clone(&s);
        tokio::spawn(async move {
            s.core
                .run_account(s.id.clone(), crate::session::schedule::Backoff::default())
                .await
        })
    };
    eventually("the launch refresh", || {
        matches!(s.core.live_status(&s.id), Some(LiveStatus::Ready { .. }))
    })
    .await;
    assert_eq!(server.count("/token"), 1, "the launch refresh");
    let mine = s.core.access_token(&s.id).expect("token").expires_at;
    // Nothing changed elsewhere (our own refresh is in the file): nothing to follow.
    assert!(s.core.follow_refreshes().await.is_empty());
    // A CLI refreshes a minute later (it wants 20 minutes; ours live 10).
    s.clock.advance(Duration::from_secs(60));
    let theirs = cli_refreshes_for_20_minutes(&s, &server).await;
    assert_eq!(server.count("/token"), 2);
    assert_ne!(theirs.expires_at, mine);
    // The accounts file changed: the app takes the CLI's token and shows its expiry.
    assert_eq!(s.core.follow_refreshes().await, vec![s.id.clone()]);
    let whole = |t: Option<std::time::SystemTime>| {
        t.map(|t| {
            t.duration_since(std::time::UNIX_EPOCH)
                .expect("after")
                .as_secs()
        })
    };
    assert!(
        matches!(s.core.live_status(&s.id), Some(LiveStatus::Ready { expires_at, .. }) if whole(expires_at) == whole(theirs.expires_at)),
        "{:?}",
        s.core.live_status(&s.id)
    );
    assert_eq!(
        s.core.access_token(&s.id).expect("token").token.expose(),
        "AT-CLI"
    );
    // Followed once: the next change of the file without a refresh elsewhere reads nothing.
    assert!(s.core.follow_refreshes().await.is_empty());
    // Our old schedule (480 s after launch) passes without a refresh: the next
    // one is planned from the CLI's token (80 % of its hour).
    s.clock.advance(Duration::from_secs(600));
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(server.count("/token"), 2, "no refresh at our old schedule");
    s.clock.advance(Duration::from_secs(3000));
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(
        server.count("/token"),
        3,
        "the next refresh, from the CLI's token"
    );
    runner.abort();
}
