//! What an account's keychain item holds:
//! `{"v":1,"refresh_token":…,"access_token":…,"access_expires_at":…,"access_obtained_at_ms":…}`.
//!
//! The access token and its expiry (unix seconds) are the cache every
//! process shares — the app and any number of `latchkey` CLI processes — so
//! a token refreshed by one is used by the others without a network request.
//! They ride in the same item as the refresh token: one write per refresh.
//! Both are optional, so items written before the cache existed (and readers
//! that predate it, which ignore unknown fields) keep working.
//!
//! Crate-private: the refresh token never leaves the core except towards the
//! provider (token and revocation requests) and the keychain. The JSON text
//! is built straight into a [`SecretString`], so no plain copy outlives it.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::secret::SecretString;
use crate::vault::VaultError;

/// Format version written today.
const VERSION: u32 = 1;

/// An account's secrets as the keychain keeps them.
#[derive(Debug, Clone)]
pub(crate) struct AccountSecret {
    /// The refresh token (the grant); `None` only for a grant whose access
    /// token never expires (a GitHub OAuth App's), which is then the grant.
    pub(crate) refresh_token: Option<SecretString>,
    /// The latest access token and when it expires (`None`: unknown).
    pub(crate) access: Option<(SecretString, Option<SystemTime>)>,
    /// When that access token was obtained (unix milliseconds in the item;
    /// `None`: unknown, e.g. an item written before this field existed).
    pub(crate) obtained_at: Option<SystemTime>,
}

impl AccountSecret {
    /// Only a refresh token (no access token to share).
    pub(crate) fn refresh_only(refresh_token: SecretString) -> Self {
        Self {
            refresh_token: Some(refresh_token),
            access: None,
            obtained_at: None,
        }
    }

    /// The access token of a grant without refresh token: it never expires.
    #[cfg(test)]
    pub(crate) fn non_expiring(access_token: SecretString) -> Self {
        Self {
            refresh_token: None,
            access: Some((access_token, None)),
            obtained_at: None,
        }
    }

    /// The access token that is the grant itself, for a grant without a
    /// refresh token.
    pub(crate) fn never_expiring_access(&self) -> Option<&SecretString> {
        match (&self.refresh_token, &self.access) {
            (None, Some((token, None))) => Some(token),
            _ => None,
        }
    }

    /// The cached access token when no refresh could give a token valid for
    /// `min_validity` either — it asks for at least the whole lifetime of
    /// this provider's tokens (measured on this one) — and this one was
    /// obtained at most `recent` ago: it is as fresh as a refresh would make
    /// it. So twenty processes asking at once for more than the provider
    /// gives share one refresh instead of rotating the refresh token twenty
    /// times.
    pub(crate) fn as_fresh_as_a_refresh(
        &self,
        now: SystemTime,
        min_validity: Duration,
        recent: Duration,
    ) -> Option<(SecretString, SystemTime)> {
        let (token, Some(expires_at)) = self.access.as_ref()? else {
            return None;
        };
        let obtained_at = self.obtained_at?;
        let lifetime = expires_at.duration_since(obtained_at).ok()?;
        let age = now.duration_since(obtained_at).unwrap_or_default();
        (min_validity >= lifetime && age <= recent && *expires_at > now)
            .then(|| (token.clone(), *expires_at))
    }

    /// The cached access token when it stays valid for `min_validity` after
    /// `now` (a token whose expiry is unknown never counts as fresh).
    pub(crate) fn fresh_access(
        &self,
        now: SystemTime,
        min_validity: Duration,
    ) -> Option<(SecretString, SystemTime)> {
        match &self.access {
            Some((token, Some(expires_at))) if *expires_at > now + min_validity => {
                Some((token.clone(), *expires_at))
            }
            _ => None,
        }
    }
}

#[derive(Serialize)]
struct Out<'a> {
    v: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_expires_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_obtained_at_ms: Option<u64>,
}

#[derive(Deserialize)]
struct In {
    v: u32,
    #[serde(default)]
    refresh_token: Option<zeroize::Zeroizing<String>>,
    #[serde(default)]
    access_token: Option<zeroize::Zeroizing<String>>,
    #[serde(default)]
    access_expires_at: Option<u64>,
    #[serde(default)]
    access_obtained_at_ms: Option<u64>,
}

/// Encodes an account's keychain item.
pub(crate) fn encode(secret: &AccountSecret) -> Result<SecretString, VaultError> {
    let (access_token, access_expires_at) = match &secret.access {
        Some((token, expires_at)) => (
            Some(token.expose()),
            expires_at.map(crate::clock::unix_seconds),
        ),
        None => (None, None),
    };
    serde_json::to_string(&Out {
        v: VERSION,
        refresh_token: secret.refresh_token.as_ref().map(SecretString::expose),
        access_token,
        access_expires_at,
        access_obtained_at_ms: secret
            .access
            .as_ref()
            .and(secret.obtained_at)
            .map(crate::clock::unix_millis),
    })
    .map(SecretString::new)
    .map_err(|err| VaultError::Platform {
        reason: format!("cannot encode the account secret: {err}"),
    })
}

/// Decodes an account's keychain item (`key` names it in the error). A
/// damaged access-token part is dropped (it is only a cache); a damaged
/// refresh token is an error.
pub(crate) fn decode(raw: &SecretString, key: &str) -> Result<AccountSecret, VaultError> {
    let corrupt = || VaultError::Corrupt {
        reason: format!("the keychain item of {key} is not in Latchkey's format"),
    };
    let item: In = serde_json::from_str(raw.expose()).map_err(|_| corrupt())?;
    if item.v != VERSION {
        return Err(corrupt());
    }
    let refresh_token = match item.refresh_token {
        Some(token) if !token.is_empty() => Some(SecretString::new(token.as_str())),
        // Without a refresh token, a non-expiring access token is the grant.
        None if item.access_expires_at.is_none()
            && item.access_token.as_ref().is_some_and(|t| !t.is_empty()) =>
        {
            None
        }
        _ => return Err(corrupt()),
    };
    let access = item
        .access_token
        .filter(|token| !token.is_empty())
        .map(|token| {
            let expires_at = item
                .access_expires_at
                .map(|secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
            (SecretString::new(token.as_str()), expires_at)
        });
    let obtained_at = access.as_ref().and(
        item.access_obtained_at_ms
            .map(|ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms)),
    );
    Ok(AccountSecret {
        refresh_token,
        access,
        obtained_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode as _;

    #[test]
    fn round_trip_and_damaged_items() {
        let item =
            encode(&AccountSecret::refresh_only(SecretString::new("RT-\"1\""))).expect("encode");
        assert_eq!(item.expose(), r#"{"v":1,"refresh_token":"RT-\"1\""}"#);
        let back = decode(&item, "k").expect("decode");
        assert_eq!(
            back.refresh_token.as_ref().map(SecretString::expose),
            Some("RT-\"1\"")
        );
        assert!(back.access.is_none());
        for bad in [
            r#"{"v":2,"refresh_token":"x"}"#,
            r#"{"v":1}"#,
            "RT",
            r#"{"v":1,"refresh_token":""}"#,
        ] {
            let err = decode(&SecretString::new(bad), "acct-1").expect_err(bad);
            assert_eq!(err.code(), "keychain_corrupt");
            assert!(!err.to_string().contains("RT"), "{err}");
        }
    }

    #[test]
    fn the_access_token_cache_rides_along_and_reads_back() {
        let expires = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_003_600);
        let secret = AccountSecret {
            refresh_token: Some(SecretString::new("RT")),
            access: Some((SecretString::new("AT"), Some(expires))),
            obtained_at: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
        };
        let item = encode(&secret).expect("encode");
        assert_eq!(
            item.expose(),
            r#"{"v":1,"refresh_token":"RT","access_token":"AT","access_expires_at":1800003600,"access_obtained_at_ms":1800000000000}"#
        );
        let back = decode(&item, "k").expect("decode");
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let (token, at) = back
            .fresh_access(now, Duration::from_secs(60))
            .expect("fresh");
        assert_eq!((token.expose(), at), ("AT", expires));
        // Not fresh enough for a longer need, nor once expired.
        assert!(back.fresh_access(now, Duration::from_secs(3600)).is_none());
        assert!(
            back.fresh_access(expires + Duration::from_secs(1), Duration::ZERO)
                .is_none()
        );
        // A token without a known expiry is never taken from the cache.
        let unknown = AccountSecret {
            refresh_token: Some(SecretString::new("RT")),
            access: Some((SecretString::new("AT"), None)),
            obtained_at: None,
        };
        let back = decode(&encode(&unknown).expect("encode"), "k").expect("decode");
        assert!(back.fresh_access(now, Duration::ZERO).is_none());
    }

    #[test]
    fn items_written_before_the_cache_and_readers_before_it_agree() {
        // An item of an older Latchkey: no cache.
        let old = decode(&SecretString::new(r#"{"v":1,"refresh_token":"RT"}"#), "k").expect("old");
        assert!(old.access.is_none());
        // An older reader ignores the new fields: the refresh token is where it was.
        #[derive(Deserialize)]
        struct OldReader {
            v: u32,
            refresh_token: String,
        }
        let item = encode(&AccountSecret {
            refresh_token: Some(SecretString::new("RT")),
            access: Some((SecretString::new("AT"), None)),
            obtained_at: None,
        })
        .expect("encode");
        let old: OldReader = serde_json::from_str(item.expose()).expect("older reader");
        assert_eq!((old.v, old.refresh_token.as_str()), (1, "RT"));
    }

    #[test]
    fn a_non_expiring_access_token_is_a_grant_of_its_own() {
        let item =
            encode(&AccountSecret::non_expiring(SecretString::new("gho_AT"))).expect("encode");
        assert_eq!(item.expose(), r#"{"v":1,"access_token":"gho_AT"}"#);
        let back = decode(&item, "k").expect("decode");
        assert_eq!(
            back.never_expiring_access().map(SecretString::expose),
            Some("gho_AT")
        );
        // No refresh token and an access token that expires: nothing to keep an account with.
        for bad in [
            r#"{"v":1,"access_token":"AT","access_expires_at":1800003600}"#,
            r#"{"v":1}"#,
            r#"{"v":1,"access_token":""}"#,
        ] {
            assert!(decode(&SecretString::new(bad), "k").is_err(), "{bad}");
        }
        // A refresh grant's access token is never taken for a non-expiring one.
        let refresh = decode(
            &SecretString::new(r#"{"v":1,"refresh_token":"RT","access_token":"AT"}"#),
            "k",
        )
        .expect("decode");
        assert!(refresh.never_expiring_access().is_none());
    }

    #[test]
    fn a_token_obtained_just_now_is_as_fresh_as_a_refresh_only_for_a_need_no_refresh_meets() {
        let at = |secs: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        let secret = AccountSecret {
            refresh_token: Some(SecretString::new("RT")),
            access: Some((SecretString::new("AT"), Some(at(1_800_003_600)))),
            obtained_at: Some(at(1_800_000_000)),
        };
        let recent = Duration::from_secs(30);
        let two_hours = Duration::from_secs(7200);
        let now = at(1_800_000_010);
        // 10 s old, 2 h asked of a provider that gives 1 h: nothing better exists.
        let (token, expires) = secret
            .as_fresh_as_a_refresh(now, two_hours, recent)
            .expect("shared");
        assert_eq!((token.expose(), expires), ("AT", at(1_800_003_600)));
        assert!(
            secret
                .as_fresh_as_a_refresh(now, Duration::from_secs(3600), recent)
                .is_some(),
            "exactly the lifetime: no refresh gives more"
        );
        // A need a refresh would meet (59 min 59 s < 1 h): refresh.
        assert!(
            secret
                .as_fresh_as_a_refresh(now, Duration::from_secs(3599), recent)
                .is_none()
        );
        // Older than `recent`: a refresh gives noticeably more.
        assert!(
            secret
                .as_fresh_as_a_refresh(at(1_800_000_031), two_hours, recent)
                .is_none()
        );
        // Unknown obtain time (an older item): never shared this way.
        let old = decode(
            &SecretString::new(
                r#"{"v":1,"refresh_token":"RT","access_token":"AT","access_expires_at":1800003600}"#,
            ),
            "k",
        )
        .expect("old item");
        assert!(old.obtained_at.is_none());
        assert!(old.as_fresh_as_a_refresh(now, two_hours, recent).is_none());
        let round = decode(&encode(&secret).expect("encode"), "k").expect("decode");
        assert_eq!(round.obtained_at, Some(at(1_800_000_000)));
    }
}
