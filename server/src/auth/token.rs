//! Opaque bearer secrets (session cookies now, invite links later): 256 random
//! bits shown once to their holder; only their SHA-256 is stored, so a copy of
//! the database opens nothing.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// Whether two secrets (signatures, codes, states) are equal, in a time
/// that does not tell how much of them matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A fresh secret as 64 hex characters.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Invite-link secrets: 26 characters of base 32 (130 bits), short enough
/// for a text message, typed without ambiguity.
const INVITE_LEN: usize = 26;
const INVITE_ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// The key invite links are derived from. A link's secret is
/// `HMAC(key, nonce)` written in the invite alphabet; the participant's row
/// keeps the nonce and the secret's digest. So the server can write the
/// current link into a reminder days later without the database ever
/// holding a usable link, and a new nonce (a re-issued link) kills the old.
#[derive(Clone)]
pub struct LinkKey([u8; 32]);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(…)")
    }
}

impl LinkKey {
    /// The key of this installation, from its shared secret (every node
    /// derives the same one).
    pub fn derive(installation_secret: &[u8]) -> Self {
        Self(mac(installation_secret, b"visita/invite-links/v1"))
    }

    /// A key of its own (tests, and services built without the secret).
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self(key)
    }

    /// A fresh link: its nonce (to store) and its secret (to hand out).
    pub fn issue(&self) -> (String, String) {
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let nonce = hex::encode(bytes);
        let secret = self.secret(&nonce);
        (nonce, secret)
    }

    /// The secret of the link issued with `nonce`.
    /// The secret of a stored link while it still opens: derived from its
    /// nonce, matching the stored digest (not re-issued since) and not
    /// expired at `now`.
    pub fn current_secret(
        &self,
        nonce: Option<&str>,
        stored_digest: Option<&str>,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<String> {
        let secret = self.secret(nonce?);
        let valid = stored_digest == Some(digest(&secret).as_str())
            && expires_at.is_some_and(|at| at > now);
        valid.then_some(secret)
    }

    pub fn secret(&self, nonce: &str) -> String {
        let tag = mac(&self.0, nonce.as_bytes());
        // 26 characters of 5 bits each from the first 130 bits of the tag.
        (0..INVITE_LEN)
            .map(|i| {
                let bit = i * 5;
                let pair = u16::from(tag[bit / 8]) << 8 | u16::from(tag[bit / 8 + 1]);
                let index = (pair >> (11 - bit % 8)) & 0x1f;
                INVITE_ALPHABET[index as usize] as char
            })
            .collect()
    }
}

pub(crate) fn mac(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Shape check for invite secrets, before any lookup.
pub fn looks_like_invite(secret: &str) -> bool {
    secret.len() == INVITE_LEN && secret.bytes().all(|b| INVITE_ALPHABET.contains(&b))
}

/// What the database keeps in place of the secret.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Cheap shape check before any lookup: garbage never reaches the database.
pub fn looks_valid(secret: &str) -> bool {
    secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_digests_stable() {
        let a = generate();
        assert!(looks_valid(&a));
        assert_ne!(a, generate());
        assert_eq!(digest(&a), digest(&a));
        assert_ne!(digest(&a), a);
        assert!(!looks_valid("abc"));
        assert!(!looks_valid(&"z".repeat(64)));
    }

    #[test]
    fn derived_links_are_stable_per_nonce_and_key() {
        let key = LinkKey::derive(b"installation secret");
        let (nonce, secret) = key.issue();
        assert!(looks_like_invite(&secret), "{secret}");
        assert_eq!(key.secret(&nonce), secret);
        assert_eq!(
            LinkKey::derive(b"installation secret").secret(&nonce),
            secret
        );
        assert_ne!(LinkKey::derive(b"another").secret(&nonce), secret);
        let (other_nonce, other) = key.issue();
        assert_ne!(other_nonce, nonce);
        assert_ne!(other, secret);
        // Every character of the alphabet comes up (no stuck bits).
        let seen: std::collections::HashSet<char> = (0..200)
            .flat_map(|_| key.issue().1.chars().collect::<Vec<_>>())
            .collect();
        assert_eq!(seen.len(), 32);
    }

    #[test]
    fn invite_secrets_are_short_random_and_checked() {
        let key = LinkKey::random();
        let a = key.issue().1;
        assert!(looks_like_invite(&a), "{a}");
        assert_ne!(a, key.issue().1);
        assert!(!looks_like_invite(&a.to_uppercase()));
        assert!(!looks_like_invite("short"));
        assert!(
            !looks_like_invite(&"l".repeat(26)),
            "l is not in the alphabet"
        );
    }
}
