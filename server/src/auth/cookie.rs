//! The staff session cookie: HttpOnly (no script can read it), SameSite=Lax
//! (not sent on cross-site posts), Secure with the `__Host-` prefix when the
//! public URL is https (bound to this exact host, never sent in clear).

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

const PLAIN_NAME: &str = "visita_session";
const HOST_NAME: &str = "__Host-visita_session";

/// Builds and reads the cookie for one deployment.
#[derive(Debug, Clone, Copy)]
pub struct SessionCookie {
    pub secure: bool,
}

impl SessionCookie {
    fn name(self) -> &'static str {
        if self.secure { HOST_NAME } else { PLAIN_NAME }
    }

    fn attributes(self) -> &'static str {
        if self.secure {
            "Path=/; HttpOnly; SameSite=Lax; Secure"
        } else {
            "Path=/; HttpOnly; SameSite=Lax"
        }
    }

    /// `Set-Cookie` value that starts a session.
    pub fn set(self, token: &str) -> String {
        format!("{}={token}; {}", self.name(), self.attributes())
    }

    /// `Set-Cookie` value that ends it in the browser.
    pub fn clear(self) -> String {
        format!("{}=; {}; Max-Age=0", self.name(), self.attributes())
    }

    /// The session secret sent by the browser, if any.
    pub fn read(self, headers: &HeaderMap) -> Option<String> {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == self.name())
            .map(|(_, value)| value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn plain_http_cookie_has_no_secure_flag() {
        let c = SessionCookie { secure: false };
        assert_eq!(
            c.set("abc"),
            "visita_session=abc; Path=/; HttpOnly; SameSite=Lax"
        );
        assert!(c.clear().contains("Max-Age=0"));
    }

    #[test]
    fn https_cookie_is_host_bound_and_secure() {
        let c = SessionCookie { secure: true };
        let set = c.set("abc");
        assert!(set.starts_with("__Host-visita_session=abc;"));
        assert!(set.contains("Secure") && set.contains("HttpOnly") && set.contains("SameSite=Lax"));
    }

    #[test]
    fn reads_its_own_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("theme=dark; visita_session=t0k; x=y"),
        );
        assert_eq!(
            SessionCookie { secure: false }.read(&h).as_deref(),
            Some("t0k")
        );
        assert_eq!(SessionCookie { secure: true }.read(&h), None);
    }
}
