//! Which account an `ACCOUNT` argument means: an account id, a label, an
//! email, or `provider:name` / `provider:email` / `provider:label`; none
//! means the default account. Ids match exactly; the rest ignore case. More
//! than one match is an error that lists the candidates, none is an error
//! that lists the accounts.

use latchkey_core::store::registry::{Account, AccountBook};

use crate::exit::{CliError, Exit};

/// An account's name for people: email, else name, else user name, else subject.
pub fn who(account: &Account) -> &str {
    account
        .email
        .as_deref()
        .or(account.name.as_deref())
        .or(account.username.as_deref())
        .unwrap_or(&account.subject)
}

/// One line per account: id, email or name, provider (and label).
pub fn describe(accounts: &[&Account]) -> String {
    accounts
        .iter()
        .map(|a| {
            let label = a
                .label
                .as_deref()
                .map(|l| format!(", label {l:?}"))
                .unwrap_or_default();
            format!(
                "\n  {}  {}  (provider {}{label})",
                a.id,
                who(a),
                a.provider_id
            )
        })
        .collect()
}

fn same(a: Option<&str>, b: &str) -> bool {
    a.is_some_and(|a| a.eq_ignore_ascii_case(b))
}

fn matches(account: &Account, selector: &str) -> bool {
    if same(account.label.as_deref(), selector) || same(account.email.as_deref(), selector) {
        return true;
    }
    match selector.split_once(':') {
        Some((provider, rest)) if account.provider_id == provider => {
            same(account.name.as_deref(), rest)
                || same(account.username.as_deref(), rest)
                || same(account.email.as_deref(), rest)
                || same(account.label.as_deref(), rest)
                || account.subject == rest
        }
        _ => false,
    }
}

/// The account `selector` names in `book` (the default one for `None`).
pub fn select<'a>(book: &'a AccountBook, selector: Option<&str>) -> Result<&'a Account, CliError> {
    let Some(selector) = selector.map(str::trim).filter(|s| !s.is_empty()) else {
        return book
            .default
            .as_ref()
            .and_then(|id| book.get(id))
            .ok_or_else(|| {
                CliError::new(
                    Exit::NeedsSignIn,
                    "there are no accounts yet: add one in the Latchkey app",
                )
            });
    };
    if let Some(account) = book.accounts.iter().find(|a| a.id.as_str() == selector) {
        return Ok(account);
    }
    let found: Vec<&Account> = book
        .accounts
        .iter()
        .filter(|a| matches(a, selector))
        .collect();
    match found.as_slice() {
        [one] => Ok(one),
        [] if book.accounts.is_empty() => Err(CliError::usage(format!(
            "no account matches {selector:?}: there are no accounts yet; add one in the Latchkey app"
        ))),
        [] => {
            let all: Vec<&Account> = book.accounts.iter().collect();
            Err(CliError::usage(format!(
                "no account matches {selector:?}; the accounts are:{}\nname one by its id, label, \
                 email or provider:name",
                describe(&all)
            )))
        }
        many => Err(CliError::usage(format!(
            "{selector:?} matches {} accounts:{}\nname one by its id (or provider:email)",
            many.len(),
            describe(many)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::store::registry::{AccountId, AccountStatus};

    fn account(id: &str, provider: &str, name: &str, email: &str, label: Option<&str>) -> Account {
        Account {
            id: AccountId::new(id),
            provider_id: provider.into(),
            issuer: format!("https://{provider}.example"),
            subject: format!("sub-{id}"),
            name: Some(name.into()),
            username: None,
            never_expires: false,
            email: Some(email.into()),
            picture: None,
            label: label.map(Into::into),
            scopes: vec!["openid".into()],
            created_at: 1,
            last_refreshed_at: None,
            status: AccountStatus::Active,
        }
    }

    fn book() -> AccountBook {
        AccountBook {
            accounts: vec![
                account("acct-1", "work", "Alice", "alice@example.com", Some("Work")),
                account("acct-2", "home", "Alice", "alice@example.com", None),
                account("acct-3", "home", "Bob", "bob@example.com", Some("Personal")),
            ],
            default: Some(AccountId::new("acct-3")),
        }
    }

    fn pick(selector: Option<&str>) -> Result<String, CliError> {
        let book = book();
        select(&book, selector).map(|a| a.id.to_string())
    }

    #[test]
    fn id_label_email_and_provider_forms_select_one_account() {
        assert_eq!(pick(Some("acct-2")).ok().as_deref(), Some("acct-2"));
        assert_eq!(
            pick(Some("home")).ok().as_deref(),
            None,
            "a provider id alone is no selector"
        );
        assert_eq!(pick(Some("Work")).ok().as_deref(), Some("acct-1"), "label");
        assert_eq!(
            pick(Some("personal")).ok().as_deref(),
            Some("acct-3"),
            "label, any case"
        );
        assert_eq!(
            pick(Some("BOB@example.com")).ok().as_deref(),
            Some("acct-3"),
            "email"
        );
        assert_eq!(
            pick(Some("home:alice")).ok().as_deref(),
            Some("acct-2"),
            "provider:name"
        );
        assert_eq!(
            pick(Some("work:alice@example.com")).ok().as_deref(),
            Some("acct-1")
        );
        assert_eq!(
            pick(Some("home:sub-acct-3")).ok().as_deref(),
            Some("acct-3"),
            "provider:sub"
        );
    }

    #[test]
    fn no_selector_is_the_default_account() {
        assert_eq!(pick(None).ok().as_deref(), Some("acct-3"));
        assert_eq!(pick(Some("  ")).ok().as_deref(), Some("acct-3"));
        let empty = AccountBook::default();
        let err = select(&empty, None).expect_err("no accounts");
        assert_eq!(err.exit, Exit::NeedsSignIn);
        assert!(err.message.contains("Latchkey app"));
    }

    #[test]
    fn an_ambiguous_selector_lists_the_candidates() {
        let err = pick(Some("alice@example.com")).expect_err("two accounts share the email");
        assert_eq!(err.exit, Exit::Usage);
        assert!(
            err.message.contains("matches 2 accounts"),
            "{}",
            err.message
        );
        for part in ["acct-1", "acct-2", "provider work", "provider home"] {
            assert!(err.message.contains(part), "{part}: {}", err.message);
        }
        assert!(!err.message.contains("acct-3"));
    }

    #[test]
    fn an_unknown_selector_lists_every_account() {
        let err = pick(Some("carol")).expect_err("nobody");
        assert_eq!(err.exit, Exit::Usage);
        for id in ["acct-1", "acct-2", "acct-3", "bob@example.com"] {
            assert!(err.message.contains(id), "{id}: {}", err.message);
        }
        let err = pick(Some("other:alice")).expect_err("no such provider");
        assert_eq!(err.exit, Exit::Usage);
    }
}
