//! Long secrets split into items the smallest platform store accepts: the
//! head item `key` holds `lk1:<parts>:<first part>`, `key.part<i>` the rest.

use crate::secret::SecretString;
use crate::store::secret_store::{SecretStore, VaultError};

/// Largest item written to the platform store, in characters. Windows'
/// Credential Manager caps a secret at 2560 bytes of UTF-16 (1280 characters);
/// larger secrets are split into numbered parts, the same on every platform.
pub const CHUNK_CHARS: usize = 1200;
const CHUNK_MAGIC: &str = "lk1";

/// Writes `value` under `key`, split into parts of at most `limit` characters:
/// `key` holds `lk1:<parts>:<first part>`, `key.part<i>` the rest. Parts are
/// written before the head, so the head never points at missing parts.
/// `known_parts` is how many parts the item has now, when the caller knows
/// (it read or wrote the item): then its header is not read again. Returns
/// how many parts it has after the write.
pub(crate) fn write_chunked(
    store: &dyn SecretStore,
    key: &str,
    value: &str,
    limit: usize,
    known_parts: Option<usize>,
) -> Result<usize, VaultError> {
    let chars: Vec<char> = value.chars().collect();
    // The head also carries the header; keep it within the limit.
    let head_room = limit.saturating_sub(16).max(1);
    let first: String = chars.iter().take(head_room).collect();
    let rest: Vec<String> = chars[first.chars().count()..]
        .chunks(limit.max(1))
        .map(|c| c.iter().collect())
        .collect();
    let old_parts = match known_parts {
        Some(n) => n,
        None => read_header(store, key).ok().flatten().map_or(1, |(n, _)| n),
    };
    for (i, part) in rest.iter().enumerate() {
        store.set(&part_key(key, i + 1), &SecretString::new(part.clone()))?;
    }
    let parts = rest.len() + 1;
    store.set(
        key,
        &SecretString::new(format!("{CHUNK_MAGIC}:{parts}:{first}")),
    )?;
    for i in parts..old_parts {
        store.delete(&part_key(key, i))?;
    }
    Ok(parts)
}

pub(crate) fn part_key(key: &str, index: usize) -> String {
    format!("{key}.part{index}")
}

fn read_header(store: &dyn SecretStore, key: &str) -> Result<Option<(usize, String)>, VaultError> {
    let Some(head) = store.get(key)? else {
        return Ok(None);
    };
    let corrupt = || VaultError::Corrupt {
        reason: format!("item {key} has no valid header"),
    };
    let mut fields = head.expose().splitn(3, ':');
    if fields.next() != Some(CHUNK_MAGIC) {
        return Err(corrupt());
    }
    let parts: usize = fields
        .next()
        .and_then(|n| n.parse().ok())
        .filter(|n| (1..=64).contains(n))
        .ok_or_else(corrupt)?;
    let first = fields.next().ok_or_else(corrupt)?.to_owned();
    Ok(Some((parts, first)))
}

/// Reads the item `key` and its parts; also says how many parts it has (1
/// for a missing item: nothing to clean up when it is written).
pub(crate) fn read_chunked(
    store: &dyn SecretStore,
    key: &str,
) -> Result<(Option<SecretString>, usize), VaultError> {
    let Some((parts, mut value)) = read_header(store, key)? else {
        return Ok((None, 1));
    };
    for i in 1..parts {
        let part = store
            .get(&part_key(key, i))?
            .ok_or_else(|| VaultError::Corrupt {
                reason: format!("part {i} of {parts} of item {key} is missing"),
            })?;
        value.push_str(part.expose());
    }
    Ok((Some(SecretString::new(value)), parts))
}

pub(crate) fn delete_chunked(store: &dyn SecretStore, key: &str) -> Result<(), VaultError> {
    let parts = match read_header(store, key) {
        Ok(Some((n, _))) => n,
        _ => 1,
    };
    for i in 1..parts {
        store.delete(&part_key(key, i))?;
    }
    store.delete(key)
}
