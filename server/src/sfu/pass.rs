//! Media passes: the short-lived, single-purpose token an admitted
//! participant shows the SFU to join a call (room, participant, may they
//! send), and the TURN credentials that go with it.
//!
//! A pass is a JWT signed with HS256 by the node's media secret (shared by
//! every node through the database), so any SFU node can check it. The
//! algorithm is fixed here, never read from the token.

use app::consultation::{ConsultationId, ParticipantId};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What a pass is for: a token made for anything else is refused.
const AUDIENCE: &str = "visita-media";
/// Long enough to set up a call on a slow line; a reconnect asks again.
/// (`VISITA_MEDIA_PASS_SECONDS` changes it.)
pub const PASS_LIFETIME: Duration = Duration::from_secs(120);
/// TURN credentials outlive the pass: a call keeps its relay for hours.
pub const TURN_LIFETIME: Duration = Duration::from_secs(12 * 3600);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The participant.
    pub sub: String,
    /// The consultation (room).
    pub room: String,
    /// May this participant send audio and video (guests who only watch
    /// could be given `false`).
    pub publish: bool,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
}

/// Why a pass was refused, worded for the person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PassError {
    #[error("No pass to the call was given. Leave the call and join again.")]
    Missing,
    #[error("The pass to the call expired before it was used. Trying again in a moment…")]
    Expired,
    #[error("The pass to the call is not valid. Join again.")]
    Invalid,
}

/// Signs and checks passes and TURN credentials with the node's secret.
#[derive(Clone)]
pub struct PassKeys {
    secret: Vec<u8>,
    lifetime: Duration,
}

impl std::fmt::Debug for PassKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PassKeys(…)")
    }
}

impl PassKeys {
    pub fn new(secret: Vec<u8>) -> Self {
        Self {
            secret,
            lifetime: PASS_LIFETIME,
        }
    }

    /// Passes issued from now on last `lifetime`.
    pub fn with_lifetime(self, lifetime: Duration) -> Self {
        Self { lifetime, ..self }
    }

    pub fn issue(
        &self,
        room: &ConsultationId,
        participant: &ParticipantId,
        publish: bool,
        now_s: u64,
    ) -> String {
        let claims = Claims {
            sub: participant.0.clone(),
            room: room.0.clone(),
            publish,
            aud: AUDIENCE.into(),
            iat: now_s,
            exp: now_s + self.lifetime.as_secs(),
        };
        // HS256 over our own claims cannot fail.
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.secret),
        )
        .unwrap_or_default()
    }

    /// The claims of a valid, unexpired pass (no leeway: it is short).
    pub fn check(&self, token: &str, now_s: u64) -> Result<Claims, PassError> {
        if token.trim().is_empty() {
            return Err(PassError::Missing);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud", "sub"]);
        // Expiry is checked below against our clock (tests move it).
        validation.validate_exp = false;
        validation.leeway = 0;
        let data = jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_secret(&self.secret),
            &validation,
        )
        .map_err(|_| PassError::Invalid)?;
        if data.claims.exp <= now_s {
            return Err(PassError::Expired);
        }
        Ok(data.claims)
    }

    /// TURN REST credentials (as coturn's `use-auth-secret` expects them):
    /// the username carries its expiry, the password is
    /// base64(HMAC-SHA1(secret, username)). `secret` is ours for the
    /// built-in server, or the shared secret of an external one.
    pub fn turn_credentials(secret: &[u8], who: &str, now_s: u64) -> (String, String) {
        let username = format!("{}:{who}", now_s + TURN_LIFETIME.as_secs());
        (username.clone(), turn_password(secret, &username))
    }

    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// The key of the built-in TURN server's credentials: derived from the
    /// media secret, so a TURN password never helps forge a pass.
    pub fn builtin_turn_key(&self) -> Vec<u8> {
        let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(&self.secret) else {
            return Vec::new();
        };
        mac.update(b"visita built-in TURN");
        mac.finalize().into_bytes().to_vec()
    }
}

pub fn turn_password(secret: &[u8], username: &str) -> String {
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(secret) else {
        // HMAC takes keys of any length; this cannot happen.
        return String::new();
    };
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The expiry (seconds since the epoch) written in a TURN REST username.
pub fn turn_username_expiry(username: &str) -> Option<u64> {
    username.split(':').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> PassKeys {
        PassKeys::new(b"a secret of thirty-two bytes....".to_vec())
    }

    #[test]
    fn a_pass_is_valid_for_its_room_and_participant_until_it_expires() {
        let now = 1_800_000_000;
        let token = keys().issue(
            &ConsultationId("c1".into()),
            &ParticipantId("p1".into()),
            true,
            now,
        );
        let claims = keys().check(&token, now + 10).unwrap();
        assert_eq!((claims.room.as_str(), claims.sub.as_str()), ("c1", "p1"));
        assert!(claims.publish);
        assert_eq!(
            keys().check(&token, now + PASS_LIFETIME.as_secs()),
            Err(PassError::Expired)
        );
        let short = keys().with_lifetime(Duration::from_secs(5));
        let token = short.issue(
            &ConsultationId("c1".into()),
            &ParticipantId("p1".into()),
            true,
            now,
        );
        assert!(short.check(&token, now + 4).is_ok());
        assert_eq!(short.check(&token, now + 5), Err(PassError::Expired));
        assert_eq!(keys().check("", now), Err(PassError::Missing));
        assert_eq!(keys().check("not.a.jwt", now), Err(PassError::Invalid));
        // Signed by another key.
        let other = PassKeys::new(b"another secret of 32 bytes......".to_vec());
        assert_eq!(other.check(&token, now), Err(PassError::Invalid));
    }

    #[test]
    fn a_token_with_alg_none_or_another_audience_is_refused() {
        let now = 1_800_000_000;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let body = format!(
            r#"{{"sub":"p1","room":"c1","publish":true,"aud":"visita-media","iat":{now},"exp":{}}}"#,
            now + 60
        );
        let unsigned = format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), b64(&body));
        assert_eq!(keys().check(&unsigned, now), Err(PassError::Invalid));
        let claims = Claims {
            sub: "p1".into(),
            room: "c1".into(),
            publish: true,
            aud: "something-else".into(),
            iat: now,
            exp: now + 60,
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(keys().secret()),
        )
        .unwrap();
        assert_eq!(keys().check(&token, now), Err(PassError::Invalid));
    }

    #[test]
    fn turn_credentials_follow_the_rest_scheme() {
        // HMAC-SHA1 itself, on the well-known test message.
        assert_eq!(
            turn_password(b"key", "The quick brown fox jumps over the lazy dog"),
            "3nybhbi3iqa8ino29wqQcBydtNk="
        );
        let (user, password) = PassKeys::turn_credentials(b"north", "p1", 1000);
        assert_eq!(user, format!("{}:p1", 1000 + TURN_LIFETIME.as_secs()));
        assert_eq!(
            turn_username_expiry(&user),
            Some(1000 + TURN_LIFETIME.as_secs())
        );
        assert_eq!(password, turn_password(b"north", &user));
        assert_eq!(password.len(), 28, "base64 of a 20-byte SHA-1 HMAC");
        assert_ne!(password, turn_password(b"south", &user));
    }
}
