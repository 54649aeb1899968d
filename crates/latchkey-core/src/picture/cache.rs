//! Profile pictures kept on disk, so a picture is fetched once per change of
//! its URL instead of at every launch (its host learns nothing from the
//! person opening Latchkey).
//!
//! `<cache dir>/dev.latchkey.app/pictures/<sha256(url)>.dataurl` holds the
//! `data:` URL; `<sha256(url)>.failed` (empty) remembers a fetch that failed,
//! tried again after [`RETRY_FAILED_AFTER`]. The folder is 0700, files 0600.
//! A changed URL has another key: it is fetched, and [`PictureCache::retain`]
//! drops the pictures no account uses any more.

use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::fsperm::{create_private_dir_all, open_private};
use crate::provider::APP_IDENTIFIER;

/// How long a failed fetch is remembered before it is tried again.
pub const RETRY_FAILED_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// The image types shown.
pub(crate) fn is_image_type(mime: &str) -> bool {
    matches!(
        mime,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

/// What the cache knows about a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cached {
    /// The picture, as a `data:` URL.
    Picture(String),
    /// The last fetch failed (recently).
    Failed,
}

/// The on-disk picture cache.
#[derive(Debug, Clone)]
pub struct PictureCache {
    dir: PathBuf,
}

impl PictureCache {
    /// A cache in `dir`.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// `<platform cache dir>/dev.latchkey.app/pictures`.
    pub fn default_dir() -> Option<PathBuf> {
        dirs::cache_dir().map(|d| d.join(APP_IDENTIFIER).join("pictures"))
    }

    fn key(url: &str) -> String {
        hex::encode(Sha256::digest(url.as_bytes()))
    }

    fn picture_path(&self, url: &str) -> PathBuf {
        self.dir.join(format!("{}.dataurl", Self::key(url)))
    }

    fn failed_path(&self, url: &str) -> PathBuf {
        self.dir.join(format!("{}.failed", Self::key(url)))
    }

    /// What is kept for `url`, if anything (a failure only while recent).
    pub fn get(&self, url: &str, now: SystemTime) -> Option<Cached> {
        if let Ok(text) = std::fs::read_to_string(self.picture_path(url)) {
            // Only what this module writes is handed to the window.
            if is_data_url(&text) {
                return Some(Cached::Picture(text));
            }
        }
        let failed_at = std::fs::metadata(self.failed_path(url))
            .and_then(|m| m.modified())
            .ok()?;
        let age = now.duration_since(failed_at).unwrap_or_default();
        (age < RETRY_FAILED_AFTER).then_some(Cached::Failed)
    }

    /// Remembers the outcome of fetching `url`.
    pub fn put(&self, url: &str, picture: Option<&str>) -> std::io::Result<()> {
        create_private_dir_all(&self.dir)?;
        match picture {
            Some(data) => {
                write_atomically(&self.picture_path(url), data.as_bytes())?;
                let _ = std::fs::remove_file(self.failed_path(url));
            }
            None => {
                let _ = std::fs::remove_file(self.picture_path(url));
                write_atomically(&self.failed_path(url), b"")?;
            }
        }
        Ok(())
    }

    /// The picture for `url`: the kept one, else `fetch()`'s result, which
    /// is kept for the next launch.
    pub async fn get_or_fetch<F, Fut>(&self, url: &str, fetch: F) -> Option<String>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Option<String>>,
    {
        match self.get(url, SystemTime::now()) {
            Some(Cached::Picture(data)) => return Some(data),
            Some(Cached::Failed) => return None,
            None => {}
        }
        let picture = fetch().await;
        if let Err(err) = self.put(url, picture.as_deref()) {
            tracing::warn!(error = %err, "the profile picture could not be cached");
        }
        picture
    }

    /// Deletes what is kept for any URL not in `urls` (pictures of accounts
    /// that are gone, or whose picture URL changed).
    pub fn retain<'a>(&self, urls: impl IntoIterator<Item = &'a str>) {
        let keep: std::collections::HashSet<String> = urls.into_iter().map(Self::key).collect();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let key = name.split('.').next().unwrap_or_default();
            if !keep.contains(key) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

fn is_data_url(text: &str) -> bool {
    let max = super::MAX_PICTURE_BYTES.div_ceil(3) * 4 + 64;
    text.len() <= max
        && text.strip_prefix("data:").is_some_and(|rest| {
            rest.split_once(";base64,").is_some_and(|(mime, data)| {
                is_image_type(mime)
                    && data
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
            })
        })
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = open_private(
            &tmp,
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true),
        )?;
        file.write_all(bytes)?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const PNG: &str = "data:image/png;base64,iVBORw0KGgo=";

    fn cache(name: &str) -> PictureCache {
        let dir =
            std::env::temp_dir().join(format!("latchkey-pictures-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        PictureCache::in_dir(dir)
    }

    async fn load(
        cache: &PictureCache,
        url: &str,
        fetches: &AtomicUsize,
        answer: Option<&str>,
    ) -> Option<String> {
        cache
            .get_or_fetch(url, || async {
                fetches.fetch_add(1, Ordering::SeqCst);
                answer.map(str::to_owned)
            })
            .await
    }

    #[tokio::test]
    async fn a_picture_is_fetched_once_per_url_across_launches() {
        let first = cache("once");
        let fetches = AtomicUsize::new(0);
        let a = "https://cdn.example/a.png";
        assert_eq!(
            load(&first, a, &fetches, Some(PNG)).await.as_deref(),
            Some(PNG)
        );
        // The next launch: a new cache on the same folder, no fetch.
        let next = PictureCache::in_dir(first.dir.clone());
        assert_eq!(load(&next, a, &fetches, None).await.as_deref(), Some(PNG));
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        // The account's picture URL changed: fetched, and the old one dropped.
        let b = "https://cdn.example/b.png";
        assert_eq!(
            load(&next, b, &fetches, Some(PNG)).await.as_deref(),
            Some(PNG)
        );
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
        next.retain([b]);
        assert_eq!(next.get(a, SystemTime::now()), None);
        assert_eq!(
            next.get(b, SystemTime::now()),
            Some(Cached::Picture(PNG.into()))
        );
        #[cfg(unix)]
        {
            use crate::fsperm::tests::mode;
            assert_eq!(mode(&next.dir), 0o700);
            assert_eq!(mode(&next.picture_path(b)), 0o600);
        }
        std::fs::remove_dir_all(&next.dir).ok();
    }

    #[tokio::test]
    async fn a_failed_fetch_is_retried_a_day_later_not_at_every_launch() {
        let cache = cache("failed");
        let fetches = AtomicUsize::new(0);
        let a = "https://cdn.example/a.png";
        assert_eq!(load(&cache, a, &fetches, None).await, None);
        assert_eq!(load(&cache, a, &fetches, Some(PNG)).await, None);
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        let later = SystemTime::now() + RETRY_FAILED_AFTER + Duration::from_secs(1);
        assert_eq!(cache.get(a, later), None, "tried again after a day");
        std::fs::remove_dir_all(&cache.dir).ok();
    }

    #[test]
    fn only_image_data_urls_are_read_back() {
        let cache = cache("tampered");
        let a = "https://cdn.example/a.png";
        cache.put(a, Some(PNG)).expect("put");
        for bad in [
            "javascript:alert(1)",
            "data:text/html;base64,PHNjcmlwdD4=",
            "data:image/png;base64,<svg>",
        ] {
            std::fs::write(cache.picture_path(a), bad).expect("write");
            assert_eq!(cache.get(a, SystemTime::now()), None, "{bad}");
        }
        std::fs::remove_dir_all(&cache.dir).ok();
    }
}
