//! The staff session cookie: HttpOnly (no script can read it), SameSite=Lax
//! (not sent on cross-site posts), Secure with the `__Host-` prefix when the
//! public URL is https (bound to this exact host, never sent in clear).

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

/// Builds and reads one session cookie for one deployment.
#[derive(Debug, Clone, Copy)]
pub struct SessionCookie {
    pub secure: bool,
    /// `visita_session` for staff; `visita_visit` for people who came in
    /// through an invite link (one browser may hold both).
    pub base: &'static str,
}

impl SessionCookie {
    pub const STAFF: &'static str = "visita_session";
    pub const VISITOR: &'static str = "visita_visit";
    /// A sign-in under way at an identity provider (minutes only).
    pub const SSO: &'static str = "visita_sso";
    /// A password sign-in waiting for its second step (minutes only).
    pub const SECOND_FACTOR: &'static str = "visita_2fa";

    pub fn staff(secure: bool) -> Self {
        Self {
            secure,
            base: Self::STAFF,
        }
    }

    pub fn visitor(secure: bool) -> Self {
        Self {
            secure,
            base: Self::VISITOR,
        }
    }

    pub fn sso(secure: bool) -> Self {
        Self {
            secure,
            base: Self::SSO,
        }
    }

    pub fn second_factor(secure: bool) -> Self {
        Self {
            secure,
            base: Self::SECOND_FACTOR,
        }
    }

    fn name(self) -> String {
        if self.secure {
            format!("__Host-{}", self.base)
        } else {
            self.base.to_string()
        }
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
            .find(|(name, _)| *name == self.name().as_str())
            .map(|(_, value)| value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn plain_http_cookie_has_no_secure_flag() {
        let c = SessionCookie::staff(false);
        assert_eq!(
            c.set("abc"),
            "visita_session=abc; Path=/; HttpOnly; SameSite=Lax"
        );
        assert!(c.clear().contains("Max-Age=0"));
    }

    #[test]
    fn https_cookie_is_host_bound_and_secure() {
        let c = SessionCookie::staff(true);
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
        assert_eq!(SessionCookie::staff(false).read(&h).as_deref(), Some("t0k"));
        assert_eq!(SessionCookie::staff(true).read(&h), None);
    }
}
