//! Chat attachments on disk: one file per distinct content, named by its
//! SHA-256 under `DATA_DIR/attachments/ab/abcdef…`. Written to a temporary
//! name, flushed to disk, then renamed, so a crash never leaves half a file
//! under a real name. What a file *is* comes from its first bytes, never
//! from its name or the type the browser claimed.

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The kinds of file the chat accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Png,
    Jpeg,
    Gif,
    Webp,
    Pdf,
}

impl FileKind {
    pub fn content_type(self) -> &'static str {
        match self {
            FileKind::Png => "image/png",
            FileKind::Jpeg => "image/jpeg",
            FileKind::Gif => "image/gif",
            FileKind::Webp => "image/webp",
            FileKind::Pdf => "application/pdf",
        }
    }

    pub fn is_image(self) -> bool {
        !matches!(self, FileKind::Pdf)
    }

    pub fn from_content_type(value: &str) -> Option<Self> {
        [
            FileKind::Png,
            FileKind::Jpeg,
            FileKind::Gif,
            FileKind::Webp,
            FileKind::Pdf,
        ]
        .into_iter()
        .find(|k| k.content_type() == value)
    }
}

/// What the bytes are, by their signature; `None` for anything not allowed.
pub fn sniff(bytes: &[u8]) -> Option<FileKind> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(FileKind::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(FileKind::Jpeg)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(FileKind::Gif)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(FileKind::Webp)
    } else if bytes.starts_with(b"%PDF-") {
        Some(FileKind::Pdf)
    } else {
        None
    }
}

/// A file name fit to show and to send back in `Content-Disposition`:
/// no path, no control characters, at most 120 characters.
pub fn clean_name(raw: &str, kind: FileKind) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '<' | '>'))
        .take(120)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    if cleaned.is_empty() {
        let extension = kind.content_type().rsplit('/').next().unwrap_or("bin");
        format!("file.{extension}")
    } else {
        cleaned
    }
}

pub struct FileStore {
    root: PathBuf,
}

impl FileStore {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.join("attachments"),
        }
    }

    fn path_of(&self, sha256: &str) -> Option<PathBuf> {
        let valid = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
        valid.then(|| self.root.join(&sha256[..2]).join(sha256))
    }

    /// Stores the bytes (once per content) and returns their SHA-256.
    pub async fn put(&self, bytes: Vec<u8>) -> std::io::Result<String> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let sha = hex::encode(Sha256::digest(&bytes));
            let dir = root.join(&sha[..2]);
            let path = dir.join(&sha);
            if path.exists() {
                return Ok(sha);
            }
            std::fs::create_dir_all(&dir)?;
            let temporary = dir.join(format!(".{sha}.{}", std::process::id()));
            let mut file = std::fs::File::create(&temporary)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            std::fs::rename(&temporary, &path)?;
            // The rename itself must survive a crash too.
            std::fs::File::open(&dir)?.sync_all()?;
            Ok(sha)
        })
        .await
        .map_err(std::io::Error::other)?
    }

    pub async fn get(&self, sha256: &str) -> std::io::Result<Vec<u8>> {
        let path = self
            .path_of(sha256)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad file id"))?;
        tokio::fs::read(path).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_known_by_their_bytes_not_their_names() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some(FileKind::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(FileKind::Jpeg));
        assert_eq!(sniff(b"%PDF-1.7"), Some(FileKind::Pdf));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(FileKind::Webp));
        assert_eq!(sniff(b"<html><script>"), None);
        assert_eq!(sniff(b"MZ\x90\0"), None, "no executables");
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(clean_name("../../etc/passwd", FileKind::Pdf), "passwd");
        assert_eq!(clean_name("C:\\x\\scan.pdf", FileKind::Pdf), "scan.pdf");
        assert_eq!(clean_name("a\u{0}b\n.png", FileKind::Png), "ab.png");
        assert_eq!(clean_name("", FileKind::Png), "file.png");
        assert_eq!(clean_name(".hidden", FileKind::Png), "hidden");
        assert_eq!(
            clean_name("Рентген снимок.jpg", FileKind::Jpeg),
            "Рентген снимок.jpg"
        );
    }

    #[tokio::test]
    async fn stored_once_read_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        let sha = store.put(b"hello".to_vec()).await.unwrap();
        assert_eq!(store.put(b"hello".to_vec()).await.unwrap(), sha);
        assert_eq!(store.get(&sha).await.unwrap(), b"hello");
        assert!(store.get("../../etc/passwd").await.is_err());
    }
}
