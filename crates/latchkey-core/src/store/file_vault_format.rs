//! The bytes of `vault.bin`, version 1. No cryptography of our own: the key
//! comes from argon2id (RustCrypto `argon2`), the items are sealed with
//! XChaCha20-Poly1305 (RustCrypto `chacha20poly1305`); this file only lays
//! out the header and the item map.
//!
//! ```text
//! offset  size  field
//!      0     8  magic "LKVAULT\0"
//!      8     1  format version (1)
//!      9     1  KDF (1 = argon2id, version 0x13)
//!     10     4  argon2 memory cost, KiB (u32 LE)
//!     14     4  argon2 iterations (u32 LE)
//!     18     4  argon2 parallelism (u32 LE)
//!     22    16  argon2 salt
//!     38    24  XChaCha20-Poly1305 nonce (fresh for every write)
//!     62     4  ciphertext length n (u32 LE)
//!     66     n  ciphertext of the item map, with its 16-byte tag;
//!               associated data: bytes 0..66 (the whole header)
//!   66+n    32  SHA-256 of bytes 0..66+n
//! ```
//!
//! The trailing SHA-256 is not a security measure (the AEAD tag is): it
//! tells a damaged or truncated file (`keychain_corrupt`) from a wrong
//! passphrase (`vault_wrong_passphrase`), which the tag alone cannot.
//!
//! The item map (plaintext): a u32 LE count, then per item a u32 LE key
//! length, the key (UTF-8), a u32 LE value length, the value (UTF-8).

use std::collections::BTreeMap;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::Digest as _;
use zeroize::Zeroizing;

use crate::secret::SecretString;
use crate::store::secret_store::VaultError;

const MAGIC: &[u8; 8] = b"LKVAULT\0";
/// The format version this build writes and reads.
pub(crate) const VERSION: u8 = 1;
const KDF_ARGON2ID: u8 = 1;
pub(crate) const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = 66;
const CHECKSUM_LEN: usize = 32;
const TAG_LEN: usize = 16;

/// The items of a vault: key → secret.
pub(crate) type Items = BTreeMap<String, SecretString>;

/// Argon2id cost parameters, stored in the file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory, KiB.
    pub m_cost: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Parallelism.
    pub p_cost: u32,
}

impl KdfParams {
    /// OWASP Password Storage Cheat Sheet's first argon2id choice: 19 MiB,
    /// 2 iterations, 1 lane.
    pub const RECOMMENDED: Self = Self {
        m_cost: 19 * 1024,
        t_cost: 2,
        p_cost: 1,
    };

    /// The cheapest parameters argon2 accepts: for tests only, never for a
    /// real vault (a passphrase would be cheap to guess).
    pub const INSECURE_FAST_FOR_TESTS: Self = Self {
        m_cost: 8,
        t_cost: 1,
        p_cost: 1,
    };

    /// Refuses parameters no Latchkey writes (a damaged header must not
    /// make us allocate gigabytes).
    fn check(self) -> Result<Self, VaultError> {
        if self.m_cost > 2 * 1024 * 1024 || self.t_cost > 64 || self.p_cost > 16 {
            return Err(corrupt("its key parameters are out of range"));
        }
        Ok(self)
    }
}

/// A key derived from the passphrase for one salt and parameter set;
/// zeroed when dropped, never printed.
pub(crate) struct DerivedKey {
    pub(crate) salt: [u8; SALT_LEN],
    pub(crate) params: KdfParams,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for DerivedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DerivedKey")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl DerivedKey {
    /// Runs argon2id over the passphrase.
    pub(crate) fn derive(
        passphrase: &SecretString,
        salt: [u8; SALT_LEN],
        params: KdfParams,
    ) -> Result<Self, VaultError> {
        let argon_params =
            argon2::Params::new(params.m_cost, params.t_cost, params.p_cost, None)
                .map_err(|err| corrupt(&format!("its key parameters are not accepted ({err})")))?;
        let argon = argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon_params,
        );
        let mut key = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(passphrase.expose().as_bytes(), &salt, key.as_mut())
            .map_err(|err| VaultError::Platform {
                reason: format!("cannot derive the file vault's key: {err}"),
            })?;
        Ok(Self { salt, params, key })
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        #[allow(clippy::expect_used)]
        XChaCha20Poly1305::new_from_slice(self.key.as_ref()).expect("a 32-byte key")
    }
}

/// The parsed, not yet decrypted, file.
#[derive(Debug)]
pub(crate) struct Sealed<'a> {
    pub(crate) salt: [u8; SALT_LEN],
    pub(crate) params: KdfParams,
    header: &'a [u8],
    nonce: [u8; NONCE_LEN],
    ciphertext: &'a [u8],
}

fn corrupt(what: &str) -> VaultError {
    VaultError::Corrupt {
        reason: format!("the encrypted file vault is damaged: {what}"),
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

/// Checks the framing and checksum of a whole file; nothing is decrypted.
pub(crate) fn parse(bytes: &[u8]) -> Result<Sealed<'_>, VaultError> {
    if bytes.len() < MAGIC.len() + 1 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(corrupt(
            "it is not a Latchkey vault file (or it is truncated)",
        ));
    }
    if bytes[8] > VERSION {
        return Err(VaultError::Platform {
            reason: format!(
                "the vault file is format version {}, newer than this Latchkey reads ({VERSION}): \
                 update Latchkey",
                bytes[8]
            ),
        });
    }
    if bytes[8] != VERSION || bytes.len() < HEADER_LEN + TAG_LEN + CHECKSUM_LEN {
        return Err(corrupt("its header is incomplete"));
    }
    let length = u32_at(bytes, 62) as usize;
    if bytes.len() != HEADER_LEN + length + CHECKSUM_LEN || length < TAG_LEN {
        return Err(corrupt("its length does not match its header (truncated?)"));
    }
    let (body, checksum) = bytes.split_at(HEADER_LEN + length);
    if sha2::Sha256::digest(body).as_slice() != checksum {
        return Err(corrupt("its checksum does not match"));
    }
    if bytes[9] != KDF_ARGON2ID {
        return Err(corrupt("its key derivation is unknown"));
    }
    let params = KdfParams {
        m_cost: u32_at(bytes, 10),
        t_cost: u32_at(bytes, 14),
        p_cost: u32_at(bytes, 18),
    }
    .check()?;
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&bytes[22..38]);
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&bytes[38..62]);
    Ok(Sealed {
        salt,
        params,
        header: &body[..HEADER_LEN],
        nonce,
        ciphertext: &body[HEADER_LEN..],
    })
}

/// Decrypts a parsed file with `key` (derived for its salt and parameters).
pub(crate) fn open(sealed: &Sealed<'_>, key: &DerivedKey) -> Result<Items, VaultError> {
    let plain = Zeroizing::new(
        key.cipher()
            .decrypt(
                &XNonce::from(sealed.nonce),
                Payload {
                    msg: sealed.ciphertext,
                    aad: sealed.header,
                },
            )
            .map_err(|_| VaultError::WrongPassphrase {
                reason: "wrong passphrase (or the file was altered on purpose); \
                         nothing was read or changed"
                    .into(),
            })?,
    );
    decode_items(&plain)
}

/// Encrypts `items` under `key` with a fresh random nonce: a whole file.
pub(crate) fn seal(items: &Items, key: &DerivedKey) -> Result<Vec<u8>, VaultError> {
    let plain = encode_items(items)?;
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|err| VaultError::Platform {
        reason: format!("no randomness for the vault's nonce: {err}"),
    })?;
    let length = u32::try_from(plain.len() + TAG_LEN).map_err(|_| VaultError::Platform {
        reason: "the vault's items exceed 4 GiB".into(),
    })?;
    let mut file = Vec::with_capacity(HEADER_LEN + plain.len() + TAG_LEN + CHECKSUM_LEN);
    file.extend_from_slice(MAGIC);
    file.push(VERSION);
    file.push(KDF_ARGON2ID);
    for word in [key.params.m_cost, key.params.t_cost, key.params.p_cost] {
        file.extend_from_slice(&word.to_le_bytes());
    }
    file.extend_from_slice(&key.salt);
    file.extend_from_slice(&nonce);
    file.extend_from_slice(&length.to_le_bytes());
    let ciphertext = key
        .cipher()
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &plain,
                aad: &file,
            },
        )
        .map_err(|_| VaultError::Platform {
            reason: "cannot encrypt the vault's items".into(),
        })?;
    file.extend_from_slice(&ciphertext);
    let checksum = sha2::Sha256::digest(&file);
    file.extend_from_slice(&checksum);
    Ok(file)
}

fn encode_items(items: &Items) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let size = 4 + items
        .iter()
        .map(|(k, v)| 8 + k.len() + v.expose().len())
        .sum::<usize>();
    // Sized once, so no reallocation leaves a copy of a secret behind.
    let mut out = Zeroizing::new(Vec::with_capacity(size));
    let len = |n: usize| {
        u32::try_from(n).map_err(|_| VaultError::Platform {
            reason: "a vault item exceeds 4 GiB".into(),
        })
    };
    out.extend_from_slice(&len(items.len())?.to_le_bytes());
    for (key, value) in items {
        out.extend_from_slice(&len(key.len())?.to_le_bytes());
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(&len(value.expose().len())?.to_le_bytes());
        out.extend_from_slice(value.expose().as_bytes());
    }
    Ok(out)
}

fn decode_items(plain: &[u8]) -> Result<Items, VaultError> {
    let bad = || corrupt("its item list is malformed");
    let mut rest = plain;
    let mut take = |n: usize| -> Result<&[u8], VaultError> {
        if rest.len() < n {
            return Err(bad());
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let count = u32_at(take(4)?, 0);
    let mut items = Items::new();
    for _ in 0..count {
        let key_len = u32_at(take(4)?, 0) as usize;
        let key = std::str::from_utf8(take(key_len)?)
            .map_err(|_| bad())?
            .to_owned();
        let value_len = u32_at(take(4)?, 0) as usize;
        let value = std::str::from_utf8(take(value_len)?).map_err(|_| bad())?;
        items.insert(key, SecretString::new(value));
    }
    if !rest.is_empty() {
        return Err(bad());
    }
    Ok(items)
}
