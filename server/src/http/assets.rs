//! The built site's files under `/pkg`: their version, and how long
//! browsers may keep them.
//!
//! Pages link the bundles and the style sheet as `/pkg/<file>?v=<version>`,
//! the version being a digest of the files themselves. A request carrying
//! the current version may be cached for a year (a patient's second page
//! loads the WASM from the cache); anything else must be revalidated, so a
//! new build reaches everyone at once.

use app::islands::{AssetVersion, Bundle};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The files whose content makes the version.
fn versioned_files() -> Vec<String> {
    let mut files: Vec<String> = Bundle::ALL
        .iter()
        .flat_map(|b| [format!("{}.js", b.stem()), format!("{}_bg.wasm", b.stem())])
        .collect();
    files.push("visita.css".into());
    files
}

/// A digest of the built site, or no version when it is not built (pages
/// still render; nothing is cached for long).
pub fn site_version(site_dir: &Path) -> AssetVersion {
    let pkg = site_dir.join("pkg");
    let mut digest = Sha256::new();
    for file in versioned_files() {
        match std::fs::read(pkg.join(&file)) {
            Ok(bytes) => {
                digest.update(file.as_bytes());
                digest.update(&bytes);
            }
            Err(_) => return AssetVersion::default(),
        }
    }
    AssetVersion(hex::encode(&digest.finalize()[..6]))
}

const FOREVER: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");

/// Sets `Cache-Control` on `/pkg/` answers.
pub async fn cache_control(
    State(version): State<AssetVersion>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if !path.starts_with("/pkg/") {
        return next.run(request).await;
    }
    let current = !version.0.is_empty()
        && request
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|pair| pair == format!("v={}", version.0)));
    let mut response = next.run(request).await;
    if response.status().is_success() || response.status() == axum::http::StatusCode::NOT_MODIFIED {
        let value = if current { FOREVER } else { REVALIDATE };
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_follows_the_files() {
        let dir = std::env::temp_dir().join(format!("visita-assets-{}", std::process::id()));
        let pkg = dir.join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        assert_eq!(
            site_version(&dir),
            AssetVersion::default(),
            "nothing built, no version"
        );
        for file in versioned_files() {
            std::fs::write(pkg.join(file), b"one").unwrap();
        }
        let first = site_version(&dir);
        assert_eq!(first.0.len(), 12);
        assert_eq!(site_version(&dir), first, "same files, same version");
        std::fs::write(pkg.join("patient_bg.wasm"), b"two").unwrap();
        assert_ne!(
            site_version(&dir),
            first,
            "a rebuilt bundle changes the version"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
