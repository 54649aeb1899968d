//! What an account's keychain item holds: `{"v":1,"refresh_token":…}`.
//!
//! Crate-private: the refresh token never leaves the core except towards the
//! provider (token and revocation requests) and the keychain. The JSON text
//! is built straight into a [`SecretString`], so no plain copy outlives it.

use serde::{Deserialize, Serialize};

use crate::secret::SecretString;
use crate::vault::VaultError;

/// Format version written today.
const VERSION: u32 = 1;

#[derive(Serialize)]
struct Out<'a> {
    v: u32,
    refresh_token: &'a str,
}

#[derive(Deserialize)]
struct In {
    v: u32,
    refresh_token: zeroize::Zeroizing<String>,
}

/// Encodes an account's keychain item.
pub(crate) fn encode(refresh_token: &SecretString) -> Result<SecretString, VaultError> {
    serde_json::to_string(&Out {
        v: VERSION,
        refresh_token: refresh_token.expose(),
    })
    .map(SecretString::new)
    .map_err(|err| VaultError::Platform {
        reason: format!("cannot encode the account secret: {err}"),
    })
}

/// Decodes an account's keychain item (`key` names it in the error).
pub(crate) fn decode(raw: &SecretString, key: &str) -> Result<SecretString, VaultError> {
    let corrupt = || VaultError::Corrupt {
        reason: format!("the keychain item of {key} is not in Latchkey's format"),
    };
    let item: In = serde_json::from_str(raw.expose()).map_err(|_| corrupt())?;
    if item.v != VERSION || item.refresh_token.is_empty() {
        return Err(corrupt());
    }
    Ok(SecretString::new(item.refresh_token.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damaged_items() {
        let item = encode(&SecretString::new("RT-\"1\"")).expect("encode");
        assert_eq!(item.expose(), r#"{"v":1,"refresh_token":"RT-\"1\""}"#);
        assert_eq!(decode(&item, "k").expect("decode").expose(), "RT-\"1\"");
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

    use crate::error::ErrorCode as _;
}
