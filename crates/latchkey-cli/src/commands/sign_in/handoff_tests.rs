use std::time::{Duration, SystemTime};

use latchkey_core::flow::id_token::Identity;
use latchkey_core::store::registry::new_account;
use url::Url;

use super::*;

fn at(s: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + s)
}

fn pending(handle: &str, provider: &str) -> PendingSummary {
    PendingSummary {
        handle: PendingHandle::new(handle),
        provider_id: provider.into(),
        provider_name: format!("{provider} IdP"),
        authorization_url: Url::parse("https://id.example.com/authorize").expect("a URL"),
        created_at: at(0),
        expires_at: at(600),
    }
}

fn account(provider: &str, who: &str, signed_in_at: SystemTime) -> Account {
    let identity = Identity {
        issuer: "https://id.example.com".into(),
        subject: who.into(),
        name: None,
        username: None,
        email: Some(format!("{who}@example.test")),
        picture: None,
    };
    new_account(provider, &identity, vec!["openid".into()], signed_in_at)
}

fn book(accounts: Vec<Account>) -> AccountBook {
    AccountBook {
        accounts,
        default: None,
    }
}

#[test]
fn the_apps_request_appears_then_leaves_and_the_new_account_is_the_answer() {
    let old = vec![pending("other", "work")];
    let before = book(vec![account("home", "hal", at(0))]);
    let mut watch = Watch::new("work", &old, &before, at(0));
    // Not started yet; another provider's request is not ours, nor one from before.
    let noise = vec![pending("other", "work"), pending("h2", "home")];
    assert_eq!(watch.step(&noise, &before, at(1)), Step::Waiting);
    let ours = vec![pending("other", "work"), pending("h1", "work")];
    assert_eq!(
        watch.step(&ours, &before, at(2)),
        Step::Started("work IdP".into())
    );
    assert_eq!(
        watch.step(&ours, &before, at(3)),
        Step::Waiting,
        "said once"
    );
    // Taken by the redirect; the account follows a moment later.
    assert_eq!(watch.step(&old, &before, at(4)), Step::Waiting);
    let ann = account("work", "ann", at(5));
    let after = book(vec![before.accounts[0].clone(), ann.clone()]);
    assert_eq!(
        watch.step(&old, &after, at(5)),
        Step::Done(Box::new(ann), false)
    );
}

#[test]
fn signed_in_again_is_told_from_a_refresh_before_the_request_left() {
    let ann = account("work", "ann", at(0));
    let before = book(vec![ann.clone()]);
    let mut watch = Watch::new("work", &[], &before, at(0));
    let ours = vec![pending("h1", "work")];
    assert!(matches!(
        watch.step(&ours, &before, at(1)),
        Step::Started(_)
    ));
    // The app refreshed ann's token while the browser was open: not the answer.
    let mut refreshed = ann.clone();
    refreshed.last_refreshed_at = Some(unix(at(20)));
    let during = book(vec![refreshed]);
    assert_eq!(watch.step(&ours, &during, at(30)), Step::Waiting);
    // The request leaves; ann is stored again after that.
    let again = account("work", "ann", at(31));
    let after = book(vec![again.clone()]);
    assert_eq!(watch.step(&[], &during, at(31)), Step::Waiting);
    assert_eq!(
        watch.step(&[], &after, at(32)),
        Step::Done(Box::new(again), true)
    );
}

#[test]
fn a_request_that_leaves_without_an_account_ends_after_the_grace() {
    let empty = book(vec![]);
    let mut watch = Watch::new("work", &[], &empty, at(0));
    assert!(matches!(
        watch.step(&[pending("h1", "work")], &empty, at(1)),
        Step::Started(_)
    ));
    assert_eq!(watch.step(&[], &empty, at(2)), Step::Waiting);
    assert_eq!(watch.step(&[], &empty, at(2 + 30)), Step::Waiting);
    assert_eq!(watch.step(&[], &empty, at(2 + 31)), Step::Ended);
}

#[test]
fn an_app_that_never_starts_the_sign_in_is_reported() {
    let empty = book(vec![]);
    let mut watch = Watch::new("work", &[], &empty, at(0));
    assert_eq!(watch.step(&[], &empty, at(89)), Step::Waiting);
    assert_eq!(watch.step(&[], &empty, at(91)), Step::NotStarted);
}

#[test]
fn a_sign_in_finished_between_two_looks_is_still_found() {
    let empty = book(vec![]);
    let mut watch = Watch::new("work", &[], &empty, at(0));
    let bo = account("work", "bo", at(1));
    assert_eq!(
        watch.step(&[], &book(vec![bo.clone()]), at(2)),
        Step::Done(Box::new(bo), false)
    );
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}
