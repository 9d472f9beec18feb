//! Cross-site request forgery guard for every state-changing request, server
//! functions included (they carry no token of their own). Browsers tell us
//! where a request comes from: `Sec-Fetch-Site` (all current browsers) and
//! `Origin` (sent on every cross-origin POST). A request that says it comes
//! from another site is refused; one that says nothing is not from a browser
//! page and carries no ambient authority worth forging.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The origin our pages are served from, as configured.
#[derive(Debug, Clone)]
pub struct TrustedOrigin(pub String);

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Forgery {
    CrossSite,
    ForeignOrigin,
}

/// Pure decision, so the rules are testable without a server.
pub fn check(method: &Method, headers: &HeaderMap, trusted: &str) -> Result<(), Forgery> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return Err(Forgery::CrossSite);
    }
    if let Some(origin) = header(header::ORIGIN.as_str()) {
        let host = header(header::HOST.as_str()).unwrap_or("");
        // Besides the configured public origin, a page on this very machine
        // (localhost vs 127.0.0.1 in development) may post to itself. Only
        // loopback names qualify: a DNS-rebinding page also has Origin host ==
        // Host, but under the attacker's name.
        let same_loopback_host = origin
            .split_once("://")
            .is_some_and(|(_, h)| h == host && is_loopback_host(host));
        if !origin.eq_ignore_ascii_case(trusted) && !same_loopback_host {
            return Err(Forgery::ForeignOrigin);
        }
    }
    Ok(())
}

fn is_loopback_host(host_and_port: &str) -> bool {
    let host = match host_and_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_and_port.split(':').next().unwrap_or(""),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub async fn guard(
    State(trusted): State<Arc<TrustedOrigin>>,
    request: Request,
    next: Next,
) -> Response {
    // The REST API acts on the key in the Authorization header only, never on
    // a cookie: a page of another site has no authority there to borrow
    // (which pages may call it at all is the API's CORS allow-list).
    let path = request.uri().path();
    if path.starts_with(&format!("{}/", crate::rest::PREFIX))
        || path.starts_with(&format!("{}/", crate::fhir::PREFIX))
        || path == crate::rest::seed::ROUTE
        // The identity provider's answer arrives as a cross-site form post
        // by design; it proves itself by its signature and the request id
        // it answers (served once), not by where it came from.
        || path == super::saml::ACS_PATH
    {
        return next.run(request).await;
    }
    match check(request.method(), request.headers(), &trusted.0) {
        Ok(()) => next.run(request).await,
        Err(reason) => {
            tracing::warn!(?reason, path = %request.uri().path(), "refused a cross-site request");
            (
                StatusCode::FORBIDDEN,
                "This request came from another website and was refused. Open Visita directly and try again.",
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    const TRUSTED: &str = "https://visio.example.org";

    #[test]
    fn reads_are_never_blocked() {
        let h = headers(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ]);
        assert!(check(&Method::GET, &h, TRUSTED).is_ok());
    }

    #[test]
    fn same_origin_posts_pass() {
        let h = headers(&[("sec-fetch-site", "same-origin"), ("origin", TRUSTED)]);
        assert!(check(&Method::POST, &h, TRUSTED).is_ok());
        let h = headers(&[
            ("origin", "http://127.0.0.1:4000"),
            ("host", "127.0.0.1:4000"),
        ]);
        assert!(check(&Method::POST, &h, TRUSTED).is_ok());
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let h = headers(&[("sec-fetch-site", "cross-site")]);
        assert_eq!(check(&Method::POST, &h, TRUSTED), Err(Forgery::CrossSite));
        let h = headers(&[
            ("sec-fetch-site", "same-site"),
            ("origin", "https://other.example.org"),
        ]);
        assert_eq!(check(&Method::POST, &h, TRUSTED), Err(Forgery::CrossSite));
        let h = headers(&[
            ("origin", "https://evil.example"),
            ("host", "visio.example.org"),
        ]);
        assert_eq!(
            check(&Method::DELETE, &h, TRUSTED),
            Err(Forgery::ForeignOrigin)
        );
        let h = headers(&[("origin", "null")]);
        assert_eq!(
            check(&Method::POST, &h, TRUSTED),
            Err(Forgery::ForeignOrigin)
        );
    }

    #[test]
    fn dns_rebinding_pages_are_refused() {
        // evil.example resolved to the intranet server: Origin host == Host.
        let h = headers(&[
            ("origin", "http://evil.example:3000"),
            ("host", "evil.example:3000"),
        ]);
        assert_eq!(
            check(&Method::POST, &h, TRUSTED),
            Err(Forgery::ForeignOrigin)
        );
        let h = headers(&[
            ("origin", "http://localhost:3000"),
            ("host", "localhost:3000"),
        ]);
        assert!(check(&Method::POST, &h, TRUSTED).is_ok());
        let h = headers(&[("origin", "http://[::1]:3000"), ("host", "[::1]:3000")]);
        assert!(check(&Method::POST, &h, TRUSTED).is_ok());
    }

    #[test]
    fn requests_without_browser_headers_pass() {
        assert!(check(&Method::POST, &HeaderMap::new(), TRUSTED).is_ok());
    }
}
